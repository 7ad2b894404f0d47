/**
 * The Invoice fields a mapping may set (paths in the InvoiceInput model), with the type each value is converted to
 * and the FA(3) element it ends up in (for --explain and messages). Array elements are written "[]" here; a mapping
 * addresses them as "payment.dueDates[0].date" (one element) or as a repeated block "payment.dueDates[]".
 */
import { GTUS, INVOICE_KINDS, PAYMENT_METHODS, PROCEDURES, THIRD_PARTY_ROLES, TRANSPORT_KINDS } from '../invoice/index.js';

export type TargetType =
  | { kind: 'text' }
  | { kind: 'nip' }
  | { kind: 'date' }
  | { kind: 'datetime' }
  | { kind: 'decimal' }
  | { kind: 'int' }
  | { kind: 'bool' }
  | { kind: 'vatRate' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'textList' }
  | { kind: 'vatId' };

export interface TargetInfo {
  path: string;
  type: TargetType;
  element?: string;
}

const T = (kind: Exclude<TargetType['kind'], 'enum'>): TargetType => ({ kind }) as TargetType;
const E = (values: readonly string[]): TargetType => ({ kind: 'enum', values });

const ADDRESS: Array<[string, TargetType, string]> = [
  ['countryCode', T('text'), 'KodKraju'],
  ['line1', T('text'), 'AdresL1'],
  ['line2', T('text'), 'AdresL2'],
  ['gln', T('text'), 'GLN'],
];
const CONTACT: Array<[string, TargetType, string]> = [
  ['email', T('text'), 'Email'],
  ['phone', T('text'), 'Telefon'],
];
const PARTY_ID: Array<[string, TargetType, string]> = [
  ['kind', E(['nip', 'eu-vat', 'other', 'none', 'internal']), 'DaneIdentyfikacyjne'],
  ['nip', T('nip'), 'DaneIdentyfikacyjne/NIP'],
  ['countryCode', T('text'), 'DaneIdentyfikacyjne/KodUE'],
  ['vatNumber', T('text'), 'DaneIdentyfikacyjne/NrVatUE'],
  ['id', T('text'), 'DaneIdentyfikacyjne/NrID'],
  ['internalId', T('text'), 'DaneIdentyfikacyjne/IDWew'],
];

const LINE: Array<[string, TargetType, string]> = [
  ['lineNumber', T('int'), 'NrWierszaFa'],
  ['uuid', T('text'), 'UU_ID'],
  ['deliveryDate', T('date'), 'P_6A'],
  ['name', T('text'), 'P_7'],
  ['index', T('text'), 'Indeks'],
  ['gtin', T('text'), 'GTIN'],
  ['pkwiu', T('text'), 'PKWiU'],
  ['cn', T('text'), 'CN'],
  ['pkob', T('text'), 'PKOB'],
  ['unit', T('text'), 'P_8A'],
  ['quantity', T('decimal'), 'P_8B'],
  ['unitNetPrice', T('decimal'), 'P_9A'],
  ['unitGrossPrice', T('decimal'), 'P_9B'],
  ['discount', T('decimal'), 'P_10'],
  ['netAmount', T('decimal'), 'P_11'],
  ['grossAmount', T('decimal'), 'P_11A'],
  ['vatAmount', T('decimal'), 'P_11Vat'],
  ['vatRate', T('vatRate'), 'P_12'],
  ['ossVatRate', T('decimal'), 'P_12_XII'],
  ['annex15', T('bool'), 'P_12_Zal_15'],
  ['exciseAmount', T('decimal'), 'KwotaAkcyzy'],
  ['gtu', E(GTUS), 'GTU'],
  ['procedure', E(PROCEDURES), 'Procedura'],
  ['exchangeRate', T('decimal'), 'KursWaluty'],
  ['beforeCorrection', T('bool'), 'StanPrzed'],
];

const TABLE: Array<[string, TargetType, string?]> = [
  ['kind', E(INVOICE_KINDS), 'Fa/RodzajFaktury'],
  ['number', T('text'), 'Fa/P_2'],
  ['issueDate', T('date'), 'Fa/P_1'],
  ['placeOfIssue', T('text'), 'Fa/P_1M'],
  ['createdAt', T('datetime'), 'Naglowek/DataWytworzeniaFa'],
  ['systemInfo', T('text'), 'Naglowek/SystemInfo'],
  ['currency', T('text'), 'Fa/KodWaluty'],
  ['saleDate', T('date'), 'Fa/P_6'],
  ['salePeriod.from', T('date'), 'Fa/OkresFa/P_6_Od'],
  ['salePeriod.to', T('date'), 'Fa/OkresFa/P_6_Do'],
  ['deliveryNotes', T('textList'), 'Fa/WZ'],
  ['advanceExchangeRate', T('decimal'), 'Fa/KursWalutyZ'],
  ['receiptInvoice', T('bool'), 'Fa/FP'],
  ['relatedParties', T('bool'), 'Fa/TP'],
  ['exciseRefund', T('bool'), 'Fa/ZwrotAkcyzy'],
  ['seller.euVatPrefix', E(['PL']), 'Podmiot1/PrefiksPodatnika'],
  ['seller.eori', T('text'), 'Podmiot1/NrEORI'],
  ['seller.nip', T('nip'), 'Podmiot1/DaneIdentyfikacyjne/NIP'],
  ['seller.name', T('text'), 'Podmiot1/DaneIdentyfikacyjne/Nazwa'],
  ['seller.status', E(['liquidation', 'restructuring', 'bankruptcy', 'inheritance']), 'Podmiot1/StatusInfoPodatnika'],
  ['buyer.eori', T('text'), 'Podmiot2/NrEORI'],
  ['buyer.vatId', T('vatId'), 'Podmiot2/DaneIdentyfikacyjne'],
  ['buyer.name', T('text'), 'Podmiot2/DaneIdentyfikacyjne/Nazwa'],
  ['buyer.customerNumber', T('text'), 'Podmiot2/NrKlienta'],
  ['buyer.buyerKey', T('text'), 'Podmiot2/IDNabywcy'],
  ['buyer.localGovernmentUnit', T('bool'), 'Podmiot2/JST'],
  ['buyer.vatGroupMember', T('bool'), 'Podmiot2/GV'],
  ['thirdParties[].role', E(THIRD_PARTY_ROLES), 'Podmiot3/Rola'],
  ['thirdParties[].roleDescription', T('text'), 'Podmiot3/OpisRoli'],
  ['thirdParties[].vatId', T('vatId'), 'Podmiot3/DaneIdentyfikacyjne'],
  ['thirdParties[].name', T('text'), 'Podmiot3/DaneIdentyfikacyjne/Nazwa'],
  ['thirdParties[].share', T('decimal'), 'Podmiot3/Udzial'],
  ['thirdParties[].customerNumber', T('text'), 'Podmiot3/NrKlienta'],
  ['thirdParties[].eori', T('text'), 'Podmiot3/NrEORI'],
  ['thirdParties[].buyerKey', T('text'), 'Podmiot3/IDNabywcy'],
  ['annotations.cashAccounting', T('bool'), 'Adnotacje/P_16'],
  ['annotations.selfBilling', T('bool'), 'Adnotacje/P_17'],
  ['annotations.reverseCharge', T('bool'), 'Adnotacje/P_18'],
  ['annotations.splitPayment', T('bool'), 'Adnotacje/P_18A'],
  ['annotations.simplifiedTriangular', T('bool'), 'Adnotacje/P_23'],
  ['annotations.exemption.basis', E(['act', 'directive', 'other']), 'Adnotacje/Zwolnienie'],
  ['annotations.exemption.text', T('text'), 'Adnotacje/Zwolnienie/P_19A|B|C'],
  ['annotations.margin', E(['travel', 'used-goods', 'works-of-art', 'antiques']), 'Adnotacje/PMarzy'],
  ['correction.reason', T('text'), 'Fa/PrzyczynaKorekty'],
  ['correction.effect', E(['original-date', 'correction-date', 'other-date']), 'Fa/TypKorekty'],
  ['correction.corrected[].issueDate', T('date'), 'Fa/DaneFaKorygowanej/DataWystFaKorygowanej'],
  ['correction.corrected[].number', T('text'), 'Fa/DaneFaKorygowanej/NrFaKorygowanej'],
  ['correction.corrected[].ksefNumber', T('text'), 'Fa/DaneFaKorygowanej/NrKSeFFaKorygowanej'],
  ['correction.period', T('text'), 'Fa/OkresFaKorygowanej'],
  ['correction.correctNumber', T('text'), 'Fa/NrFaKorygowany'],
  ['correction.amountBeforeCorrection.amount', T('decimal'), 'Fa/P_15ZK'],
  ['correction.amountBeforeCorrection.exchangeRate', T('decimal'), 'Fa/KursWalutyZK'],
  ['notes[].lineNumber', T('int'), 'Fa/DodatkowyOpis/NrWiersza'],
  ['notes[].key', T('text'), 'Fa/DodatkowyOpis/Klucz'],
  ['notes[].value', T('text'), 'Fa/DodatkowyOpis/Wartosc'],
  ['advanceInvoices[].ksefNumber', T('text'), 'Fa/FakturaZaliczkowa/NrKSeFFaZaliczkowej'],
  ['advanceInvoices[].number', T('text'), 'Fa/FakturaZaliczkowa/NrFaZaliczkowej'],
  ['payment.paidDate', T('date'), 'Platnosc/DataZaplaty'],
  ['payment.dueDates[].date', T('date'), 'Platnosc/TerminPlatnosci/Termin'],
  ['payment.dueDates[].description.count', T('int'), 'Platnosc/TerminPlatnosci/TerminOpis/Ilosc'],
  ['payment.dueDates[].description.unit', T('text'), 'Platnosc/TerminPlatnosci/TerminOpis/Jednostka'],
  ['payment.dueDates[].description.startEvent', T('text'), 'Platnosc/TerminPlatnosci/TerminOpis/ZdarzeniePoczatkowe'],
  ['payment.form.method', E(PAYMENT_METHODS), 'Platnosc/FormaPlatnosci'],
  ['payment.form.description', T('text'), 'Platnosc/OpisPlatnosci'],
  ['payment.bankAccounts[].number', T('text'), 'Platnosc/RachunekBankowy/NrRB'],
  ['payment.bankAccounts[].swift', T('text'), 'Platnosc/RachunekBankowy/SWIFT'],
  ['payment.bankAccounts[].bankName', T('text'), 'Platnosc/RachunekBankowy/NazwaBanku'],
  ['payment.bankAccounts[].description', T('text'), 'Platnosc/RachunekBankowy/OpisRachunku'],
  ['payment.cashDiscount.conditions', T('text'), 'Platnosc/Skonto/WarunkiSkonta'],
  ['payment.cashDiscount.amount', T('text'), 'Platnosc/Skonto/WysokoscSkonta'],
  ['payment.paymentLink', T('text'), 'Platnosc/LinkDoPlatnosci'],
  ['payment.ksefPaymentId', T('text'), 'Platnosc/IPKSeF'],
  ['transactionTerms.contracts[].date', T('date'), 'WarunkiTransakcji/Umowy/DataUmowy'],
  ['transactionTerms.contracts[].number', T('text'), 'WarunkiTransakcji/Umowy/NrUmowy'],
  ['transactionTerms.orders[].date', T('date'), 'WarunkiTransakcji/Zamowienia/DataZamowienia'],
  ['transactionTerms.orders[].number', T('text'), 'WarunkiTransakcji/Zamowienia/NrZamowienia'],
  ['transactionTerms.batchNumbers', T('textList'), 'WarunkiTransakcji/NrPartiiTowaru'],
  ['transactionTerms.deliveryTerms', T('text'), 'WarunkiTransakcji/WarunkiDostawy'],
  ['transactionTerms.transports[].kind', E(TRANSPORT_KINDS), 'WarunkiTransakcji/Transport/RodzajTransportu'],
  ['transactionTerms.transports[].cargo', T('int'), 'WarunkiTransakcji/Transport/OpisLadunku'],
  ['settlement.charges[].amount', T('decimal'), 'Rozliczenie/Obciazenia/Kwota'],
  ['settlement.charges[].reason', T('text'), 'Rozliczenie/Obciazenia/Powod'],
  ['settlement.deductions[].amount', T('decimal'), 'Rozliczenie/Odliczenia/Kwota'],
  ['settlement.deductions[].reason', T('text'), 'Rozliczenie/Odliczenia/Powod'],
  ['settlement.amountDue', T('decimal'), 'Rozliczenie/DoZaplaty'],
  ['settlement.amountToSettle', T('decimal'), 'Rozliczenie/DoRozliczenia'],
  ['footer.info', T('textList'), 'Stopka/Informacje/StopkaFaktury'],
  ['footer.registries[].fullName', T('text'), 'Stopka/Rejestry/PelnaNazwa'],
  ['footer.registries[].krs', T('text'), 'Stopka/Rejestry/KRS'],
  ['footer.registries[].regon', T('text'), 'Stopka/Rejestry/REGON'],
  ['footer.registries[].bdo', T('text'), 'Stopka/Rejestry/BDO'],
  ['totals.gross', T('decimal'), 'Fa/P_15'],
];

const GROUPS: Array<[string, string, string?, string?]> = [
  ['standard', 'P_13_1', 'P_14_1', 'P_14_1W'],
  ['reduced1', 'P_13_2', 'P_14_2', 'P_14_2W'],
  ['reduced2', 'P_13_3', 'P_14_3', 'P_14_3W'],
  ['taxi', 'P_13_4', 'P_14_4', 'P_14_4W'],
  ['oss', 'P_13_5', 'P_14_5'],
  ['zeroDomestic', 'P_13_6_1'],
  ['zeroIntraEu', 'P_13_6_2'],
  ['zeroExport', 'P_13_6_3'],
  ['exempt', 'P_13_7'],
  ['outsideCountry', 'P_13_8'],
  ['euServices', 'P_13_9'],
  ['reverseCharge', 'P_13_10'],
  ['margin', 'P_13_11'],
];

function build(): Map<string, TargetInfo> {
  const m = new Map<string, TargetInfo>();
  const add = (path: string, type: TargetType, element?: string) => m.set(path, { path, type, ...(element ? { element } : {}) });
  for (const [p, t, e] of TABLE) add(p, t, e);
  for (const [p, t, e] of LINE) add(`lines[].${p}`, t, `Fa/FaWiersz/${e}`);
  for (const who of [
    ['seller', 'Podmiot1'],
    ['buyer', 'Podmiot2'],
    ['thirdParties[]', 'Podmiot3'],
  ] as const) {
    for (const [p, t, e] of ADDRESS) {
      add(`${who[0]}.address.${p}`, t, `${who[1]}/Adres/${e}`);
      add(`${who[0]}.correspondenceAddress.${p}`, t, `${who[1]}/AdresKoresp/${e}`);
    }
    for (const [p, t, e] of CONTACT) add(`${who[0]}.contacts[].${p}`, t, `${who[1]}/DaneKontaktowe/${e}`);
  }
  for (const [p, t, e] of PARTY_ID) {
    add(`buyer.id.${p}`, t, `Podmiot2/${e}`);
    add(`thirdParties[].id.${p}`, t, `Podmiot3/${e}`);
  }
  for (const [g, net, vat, vatPln] of GROUPS) {
    add(`totals.groups.${g}.net`, T('decimal'), `Fa/${net}`);
    if (vat) add(`totals.groups.${g}.vat`, T('decimal'), `Fa/${vat}`);
    if (vatPln) add(`totals.groups.${g}.vatPln`, T('decimal'), `Fa/${vatPln}`);
  }
  return m;
}

export const TARGETS: ReadonlyMap<string, TargetInfo> = build();

/** Array paths that may be repeated blocks ("lines[]", "payment.dueDates[]", ...). */
export const ARRAY_TARGETS: ReadonlySet<string> = new Set(
  [...TARGETS.keys()].flatMap((k) => {
    const out: string[] = [];
    let i = k.indexOf('[]');
    while (i !== -1) {
      out.push(k.slice(0, i + 2));
      i = k.indexOf('[]', i + 2);
    }
    return out;
  }),
);

/** "payment.dueDates[0].date" -> "payment.dueDates[].date" */
export function genericPath(path: string): string {
  return path.replace(/\[\d+\]/g, '[]');
}

export function targetInfo(path: string): TargetInfo | undefined {
  return TARGETS.get(genericPath(path));
}

/** Keys of a concrete path: "payment.dueDates[0].date" -> ["payment", "dueDates", 0, "date"]. */
export function pathKeys(path: string): Array<string | number> {
  const keys: Array<string | number> = [];
  for (const part of path.split('.')) {
    const m = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) throw new Error(`invalid field path ${path}`);
    keys.push(m[1]!);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) keys.push(Number(idx[1]));
  }
  return keys;
}

/** Sets a value at a key path, creating objects and arrays on the way. */
export function setPath(obj: Record<string, unknown>, keys: ReadonlyArray<string | number>, value: unknown): void {
  let cur: Record<string | number, unknown> = obj;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i]!;
    let next = cur[k] as Record<string | number, unknown> | undefined;
    if (next === undefined || next === null || typeof next !== 'object') {
      next = (typeof keys[i + 1] === 'number' ? [] : {}) as Record<string | number, unknown>;
      cur[k] = next;
    }
    cur = next;
  }
  cur[keys[keys.length - 1]!] = value;
}
