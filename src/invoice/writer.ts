/**
 * FA(3) writer: Invoice model -> FA(3) XML (schema FA (3), version 1-0E, namespace
 * http://crd.gov.pl/wzor/2025/06/25/13775/), elements in exactly the order the schema's sequences demand.
 *
 * Output: UTF-8 text without BOM, an XML declaration naming UTF-8 (allowed by KSeF), no processing instructions,
 * no DOCTYPE, no comments. Text that holds a character KSeF rejects makes the writer throw an InvoiceError
 * (createInvoice already strips control characters and reports what cannot be represented).
 */
import { InvoiceError } from '../errors/index.js';
import { type Emitter, StringEmitter, XmlBuilderEmitter } from './emit.js';
import type {
  Address,
  AuthorizedRole,
  BankAccount,
  BankOwnAccount,
  Contact,
  CorrectionEffect,
  Invoice,
  InvoiceLine,
  MarginProcedure,
  PartyId,
  PaymentForm,
  PaymentMethod,
  TaxpayerStatus,
  ThirdPartyId,
  ThirdPartyRole,
  TransportKind,
} from './model.js';
import { TOTAL_GROUPS } from './model.js';
import { firstForbiddenChar } from './text.js';
import { GROUP_ELEMENTS } from './totals.js';

export const FA3_NS = 'http://crd.gov.pl/wzor/2025/06/25/13775/';

export const STATUS_CODE: Record<TaxpayerStatus, string> = { liquidation: '1', restructuring: '2', bankruptcy: '3', inheritance: '4' };
export const ROLE_CODE: Record<Exclude<ThirdPartyRole, 'other'>, string> = {
  factor: '1',
  recipient: '2',
  'original-entity': '3',
  'additional-buyer': '4',
  issuer: '5',
  payer: '6',
  'local-government-issuer': '7',
  'local-government-recipient': '8',
  'vat-group-issuer': '9',
  'vat-group-recipient': '10',
  employee: '11',
};
export const AUTH_ROLE_CODE: Record<AuthorizedRole, string> = { 'enforcement-authority': '1', bailiff: '2', 'tax-representative': '3' };
export const PAYMENT_CODE: Record<Exclude<PaymentMethod, 'other'>, string> = { cash: '1', card: '2', voucher: '3', cheque: '4', credit: '5', transfer: '6', mobile: '7' };
export const EFFECT_CODE: Record<CorrectionEffect, string> = { 'original-date': '1', 'correction-date': '2', 'other-date': '3' };
export const BANK_OWN_CODE: Record<BankOwnAccount, string> = { settlement: '1', collection: '2', cooperative: '3' };
export const TRANSPORT_CODE: Record<Exclude<TransportKind, 'other'>, string> = { sea: '1', rail: '2', road: '3', air: '4', post: '5', 'fixed-installation': '7', 'inland-water': '8' };
export const MARGIN_ELEMENT: Record<MarginProcedure, string> = { travel: 'P_PMarzy_2', 'used-goods': 'P_PMarzy_3_1', 'works-of-art': 'P_PMarzy_3_2', antiques: 'P_PMarzy_3_3' };
export const VEHICLE_ID_ELEMENT = { vin: 'P_22B1', body: 'P_22B2', chassis: 'P_22B3', frame: 'P_22B4' } as const;

export interface WriteOptions {
  /** DataWytworzeniaFa when the invoice has no createdAt (default: now). */
  now?: Date;
  /** Indent with newlines (default true: XSD issues then point at a useful line). */
  pretty?: boolean;
  /** 'string' (default, fast) or 'xmlbuilder2' (object API; same output, much slower). */
  engine?: 'string' | 'xmlbuilder2';
}

class W {
  constructor(private readonly e: Emitter) {}
  open(n: string, attrs?: Record<string, string>): void {
    this.e.open(n, attrs);
  }
  close(n: string): void {
    this.e.close(n);
  }
  /** Writes a leaf when the value is present. */
  v(n: string, value: string | number | undefined): void {
    if (value === undefined) return;
    const s = typeof value === 'number' ? String(value) : value;
    const bad = firstForbiddenChar(s);
    if (bad) {
      throw new InvoiceError('INVOICE_UNREPRESENTABLE_CHAR', `${n} contains ${bad}, a character KSeF rejects`, { field: n, value: s.slice(0, 80), rule: 'KSEF_XML_CHARS' }, { hint: 'build the invoice with createInvoice, which removes control characters and reports the rest' });
    }
    this.e.leaf(n, s);
  }
  flag(n: string, value: true | undefined | boolean): void {
    if (value === true) this.e.leaf(n, '1');
  }
  /** TWybor1_2: 1 = yes, 2 = no. */
  yn(n: string, value: boolean): void {
    this.e.leaf(n, value ? '1' : '2');
  }
  finish(): string {
    return this.e.finish();
  }
}

function address(w: W, n: string, a: Address | undefined): void {
  if (!a) return;
  w.open(n);
  w.v('KodKraju', a.countryCode);
  w.v('AdresL1', a.line1);
  w.v('AdresL2', a.line2);
  w.v('GLN', a.gln);
  w.close(n);
}

function contacts(w: W, list: Contact[] | undefined, email = 'Email', phone = 'Telefon'): void {
  for (const c of list ?? []) {
    w.open('DaneKontaktowe');
    w.v(email, c.email);
    w.v(phone, c.phone);
    w.close('DaneKontaktowe');
  }
}

function partyId(w: W, id: ThirdPartyId): void {
  switch (id.kind) {
    case 'nip':
      w.v('NIP', id.nip);
      break;
    case 'internal':
      w.v('IDWew', id.internalId);
      break;
    case 'eu-vat':
      w.v('KodUE', id.countryCode);
      w.v('NrVatUE', id.vatNumber);
      break;
    case 'other':
      w.v('KodKraju', id.countryCode);
      w.v('NrID', id.id);
      break;
    case 'none':
      w.v('BrakID', '1');
      break;
  }
}

function identification(w: W, id: PartyId | ThirdPartyId, name: string | undefined): void {
  w.open('DaneIdentyfikacyjne');
  partyId(w, id);
  w.v('Nazwa', name);
  w.close('DaneIdentyfikacyjne');
}

function paymentForm(w: W, f: PaymentForm | undefined): void {
  if (!f) return;
  if (f.method === 'other') {
    w.v('PlatnoscInna', '1');
    w.v('OpisPlatnosci', f.description ?? '');
  } else w.v('FormaPlatnosci', PAYMENT_CODE[f.method]);
}

function bankAccount(w: W, n: string, b: BankAccount): void {
  w.open(n);
  w.v('NrRB', b.number);
  w.v('SWIFT', b.swift);
  w.v('RachunekWlasnyBanku', b.bankOwnAccount ? BANK_OWN_CODE[b.bankOwnAccount] : undefined);
  w.v('NazwaBanku', b.bankName);
  w.v('OpisRachunku', b.description);
  w.close(n);
}

function line(w: W, l: InvoiceLine): void {
  w.open('FaWiersz');
  w.v('NrWierszaFa', l.lineNumber);
  w.v('UU_ID', l.uuid);
  w.v('P_6A', l.deliveryDate);
  w.v('P_7', l.name);
  w.v('Indeks', l.index);
  w.v('GTIN', l.gtin);
  w.v('PKWiU', l.pkwiu);
  w.v('CN', l.cn);
  w.v('PKOB', l.pkob);
  w.v('P_8A', l.unit);
  w.v('P_8B', l.quantity);
  w.v('P_9A', l.unitNetPrice);
  w.v('P_9B', l.unitGrossPrice);
  w.v('P_10', l.discount);
  w.v('P_11', l.netAmount);
  w.v('P_11A', l.grossAmount);
  w.v('P_11Vat', l.vatAmount);
  w.v('P_12', l.vatRate);
  w.v('P_12_XII', l.ossVatRate);
  w.flag('P_12_Zal_15', l.annex15);
  w.v('KwotaAkcyzy', l.exciseAmount);
  w.v('GTU', l.gtu);
  w.v('Procedura', l.procedure);
  w.v('KursWaluty', l.exchangeRate);
  w.flag('StanPrzed', l.beforeCorrection);
  w.close('FaWiersz');
}

function annotations(w: W, inv: Invoice): void {
  const a = inv.annotations;
  w.open('Adnotacje');
  w.yn('P_16', a.cashAccounting);
  w.yn('P_17', a.selfBilling);
  w.yn('P_18', a.reverseCharge);
  w.yn('P_18A', a.splitPayment);
  w.open('Zwolnienie');
  if (a.exemption) {
    w.v('P_19', '1');
    w.v(a.exemption.basis === 'act' ? 'P_19A' : a.exemption.basis === 'directive' ? 'P_19B' : 'P_19C', a.exemption.text);
  } else w.v('P_19N', '1');
  w.close('Zwolnienie');
  w.open('NoweSrodkiTransportu');
  if (a.newMeansOfTransport) {
    w.v('P_22', '1');
    w.yn('P_42_5', a.newMeansOfTransport.art42Sec5);
    for (const v of a.newMeansOfTransport.vehicles) {
      w.open('NowySrodekTransportu');
      w.v('P_22A', v.firstUseDate);
      w.v('P_NrWierszaNST', v.lineNumber);
      w.v('P_22BMK', v.make);
      w.v('P_22BMD', v.model);
      w.v('P_22BK', v.colour);
      w.v('P_22BNR', v.registrationNumber);
      w.v('P_22BRP', v.productionYear);
      const k = v.kind;
      if (k.type === 'land') {
        w.v('P_22B', k.mileage);
        if (k.identifier) w.v(VEHICLE_ID_ELEMENT[k.identifier.kind], k.identifier.value);
        w.v('P_22BT', k.vehicleType);
      } else if (k.type === 'water') {
        w.v('P_22C', k.hours);
        w.v('P_22C1', k.hullNumber);
      } else {
        w.v('P_22D', k.hours);
        w.v('P_22D1', k.serialNumber);
      }
      w.close('NowySrodekTransportu');
    }
  } else w.v('P_22N', '1');
  w.close('NoweSrodkiTransportu');
  w.yn('P_23', a.simplifiedTriangular);
  w.open('PMarzy');
  if (a.margin) {
    w.v('P_PMarzy', '1');
    w.v(MARGIN_ELEMENT[a.margin], '1');
  } else w.v('P_PMarzyN', '1');
  w.close('PMarzy');
  w.close('Adnotacje');
}

function fa(w: W, inv: Invoice): void {
  w.open('Fa');
  w.v('KodWaluty', inv.currency);
  w.v('P_1', inv.issueDate);
  w.v('P_1M', inv.placeOfIssue);
  w.v('P_2', inv.number);
  for (const wz of inv.deliveryNotes ?? []) w.v('WZ', wz);
  if (inv.saleDate !== undefined) w.v('P_6', inv.saleDate);
  else if (inv.salePeriod) {
    w.open('OkresFa');
    w.v('P_6_Od', inv.salePeriod.from);
    w.v('P_6_Do', inv.salePeriod.to);
    w.close('OkresFa');
  }
  for (const g of TOTAL_GROUPS) {
    const t = inv.totals.groups[g];
    if (!t) continue;
    const els = GROUP_ELEMENTS[g];
    w.v(els.net, t.net);
    if (els.vat) w.v(els.vat, t.vat);
    if (els.vatPln) w.v(els.vatPln, t.vatPln);
  }
  w.v('P_15', inv.totals.gross);
  w.v('KursWalutyZ', inv.advanceExchangeRate);
  annotations(w, inv);
  w.v('RodzajFaktury', inv.kind);
  const c = inv.correction;
  if (c) {
    w.v('PrzyczynaKorekty', c.reason);
    w.v('TypKorekty', c.effect ? EFFECT_CODE[c.effect] : undefined);
    for (const d of c.corrected) {
      w.open('DaneFaKorygowanej');
      w.v('DataWystFaKorygowanej', d.issueDate);
      w.v('NrFaKorygowanej', d.number);
      if (d.ksefNumber) {
        w.v('NrKSeF', '1');
        w.v('NrKSeFFaKorygowanej', d.ksefNumber);
      } else w.v('NrKSeFN', '1');
      w.close('DaneFaKorygowanej');
    }
    w.v('OkresFaKorygowanej', c.period);
    w.v('NrFaKorygowany', c.correctNumber);
    if (c.originalSeller) {
      w.open('Podmiot1K');
      w.v('PrefiksPodatnika', c.originalSeller.euVatPrefix);
      w.open('DaneIdentyfikacyjne');
      w.v('NIP', c.originalSeller.nip);
      w.v('Nazwa', c.originalSeller.name);
      w.close('DaneIdentyfikacyjne');
      address(w, 'Adres', c.originalSeller.address);
      w.close('Podmiot1K');
    }
    for (const b of c.originalBuyers ?? []) {
      w.open('Podmiot2K');
      identification(w, b.id, b.name);
      address(w, 'Adres', b.address);
      w.v('IDNabywcy', b.buyerKey);
      w.close('Podmiot2K');
    }
    if (c.amountBeforeCorrection) {
      w.v('P_15ZK', c.amountBeforeCorrection.amount);
      w.v('KursWalutyZK', c.amountBeforeCorrection.exchangeRate);
    }
  }
  for (const z of inv.partialAdvances ?? []) {
    w.open('ZaliczkaCzesciowa');
    w.v('P_6Z', z.paymentDate);
    w.v('P_15Z', z.amount);
    w.v('KursWalutyZW', z.exchangeRate);
    w.close('ZaliczkaCzesciowa');
  }
  w.flag('FP', inv.receiptInvoice);
  w.flag('TP', inv.relatedParties);
  for (const n of inv.notes ?? []) {
    w.open('DodatkowyOpis');
    w.v('NrWiersza', n.lineNumber);
    w.v('Klucz', n.key);
    w.v('Wartosc', n.value);
    w.close('DodatkowyOpis');
  }
  for (const a of inv.advanceInvoices ?? []) {
    w.open('FakturaZaliczkowa');
    if ('ksefNumber' in a) w.v('NrKSeFFaZaliczkowej', a.ksefNumber);
    else {
      w.v('NrKSeFZN', '1');
      w.v('NrFaZaliczkowej', a.number);
    }
    w.close('FakturaZaliczkowa');
  }
  w.flag('ZwrotAkcyzy', inv.exciseRefund);
  for (const l of inv.lines) line(w, l);
  settlement(w, inv);
  payment(w, inv);
  terms(w, inv);
  order(w, inv);
  w.close('Fa');
}

function settlement(w: W, inv: Invoice): void {
  const s = inv.settlement;
  if (!s) return;
  w.open('Rozliczenie');
  for (const x of s.charges ?? []) {
    w.open('Obciazenia');
    w.v('Kwota', x.amount);
    w.v('Powod', x.reason);
    w.close('Obciazenia');
  }
  w.v('SumaObciazen', s.chargesTotal);
  for (const x of s.deductions ?? []) {
    w.open('Odliczenia');
    w.v('Kwota', x.amount);
    w.v('Powod', x.reason);
    w.close('Odliczenia');
  }
  w.v('SumaOdliczen', s.deductionsTotal);
  w.v('DoZaplaty', s.amountDue);
  w.v('DoRozliczenia', s.amountDue === undefined ? s.amountToSettle : undefined);
  w.close('Rozliczenie');
}

function payment(w: W, inv: Invoice): void {
  const p = inv.payment;
  if (!p) return;
  w.open('Platnosc');
  if (p.paidDate !== undefined) {
    w.v('Zaplacono', '1');
    w.v('DataZaplaty', p.paidDate);
  } else if (p.partial) {
    w.yn('ZnacznikZaplatyCzesciowej', !p.partial.final);
    for (const x of p.partial.payments) {
      w.open('ZaplataCzesciowa');
      w.v('KwotaZaplatyCzesciowej', x.amount);
      w.v('DataZaplatyCzesciowej', x.date);
      paymentForm(w, x.form);
      w.close('ZaplataCzesciowa');
    }
  }
  for (const d of p.dueDates ?? []) {
    w.open('TerminPlatnosci');
    w.v('Termin', d.date);
    if (d.description) {
      w.open('TerminOpis');
      w.v('Ilosc', d.description.count);
      w.v('Jednostka', d.description.unit);
      w.v('ZdarzeniePoczatkowe', d.description.startEvent);
      w.close('TerminOpis');
    }
    w.close('TerminPlatnosci');
  }
  paymentForm(w, p.form);
  for (const b of p.bankAccounts ?? []) bankAccount(w, 'RachunekBankowy', b);
  for (const b of p.factorBankAccounts ?? []) bankAccount(w, 'RachunekBankowyFaktora', b);
  if (p.cashDiscount) {
    w.open('Skonto');
    w.v('WarunkiSkonta', p.cashDiscount.conditions);
    w.v('WysokoscSkonta', p.cashDiscount.amount);
    w.close('Skonto');
  }
  w.v('LinkDoPlatnosci', p.paymentLink);
  w.v('IPKSeF', p.ksefPaymentId);
  w.close('Platnosc');
}

function terms(w: W, inv: Invoice): void {
  const t = inv.transactionTerms;
  if (!t) return;
  w.open('WarunkiTransakcji');
  for (const u of t.contracts ?? []) {
    w.open('Umowy');
    w.v('DataUmowy', u.date);
    w.v('NrUmowy', u.number);
    w.close('Umowy');
  }
  for (const u of t.orders ?? []) {
    w.open('Zamowienia');
    w.v('DataZamowienia', u.date);
    w.v('NrZamowienia', u.number);
    w.close('Zamowienia');
  }
  for (const b of t.batchNumbers ?? []) w.v('NrPartiiTowaru', b);
  w.v('WarunkiDostawy', t.deliveryTerms);
  if (t.contractualRate) {
    w.v('KursUmowny', t.contractualRate.rate);
    w.v('WalutaUmowna', t.contractualRate.currency);
  }
  for (const x of t.transports ?? []) {
    w.open('Transport');
    if (x.kind === 'other') {
      w.v('TransportInny', '1');
      w.v('OpisInnegoTransportu', x.kindDescription ?? '');
    } else w.v('RodzajTransportu', TRANSPORT_CODE[x.kind]);
    if (x.carrier) {
      w.open('Przewoznik');
      identification(w, x.carrier.id, x.carrier.name);
      address(w, 'AdresPrzewoznika', x.carrier.address);
      w.close('Przewoznik');
    }
    w.v('NrZleceniaTransportu', x.orderNumber);
    if (x.cargo === 'other') {
      w.v('LadunekInny', '1');
      w.v('OpisInnegoLadunku', x.cargoDescription ?? '');
    } else w.v('OpisLadunku', x.cargo);
    w.v('JednostkaOpakowania', x.packagingUnit);
    w.v('DataGodzRozpTransportu', x.start);
    w.v('DataGodzZakTransportu', x.end);
    address(w, 'WysylkaZ', x.shipFrom);
    for (const a of x.shipVia ?? []) address(w, 'WysylkaPrzez', a);
    address(w, 'WysylkaDo', x.shipTo);
    w.close('Transport');
  }
  w.flag('PodmiotPosredniczacy', t.intermediary);
  w.close('WarunkiTransakcji');
}

function order(w: W, inv: Invoice): void {
  const o = inv.order;
  if (!o) return;
  w.open('Zamowienie');
  w.v('WartoscZamowienia', o.value);
  for (const l of o.lines) {
    w.open('ZamowienieWiersz');
    w.v('NrWierszaZam', l.lineNumber);
    w.v('UU_IDZ', l.uuid);
    w.v('P_7Z', l.name);
    w.v('IndeksZ', l.index);
    w.v('GTINZ', l.gtin);
    w.v('PKWiUZ', l.pkwiu);
    w.v('CNZ', l.cn);
    w.v('PKOBZ', l.pkob);
    w.v('P_8AZ', l.unit);
    w.v('P_8BZ', l.quantity);
    w.v('P_9AZ', l.unitNetPrice);
    w.v('P_11NettoZ', l.netAmount);
    w.v('P_11VatZ', l.vatAmount);
    w.v('P_12Z', l.vatRate);
    w.v('P_12Z_XII', l.ossVatRate);
    w.flag('P_12Z_Zal_15', l.annex15);
    w.v('GTUZ', l.gtu);
    w.v('ProceduraZ', l.procedure);
    w.v('KwotaAkcyzyZ', l.exciseAmount);
    w.flag('StanPrzedZ', l.beforeCorrection);
    w.close('ZamowienieWiersz');
  }
  w.close('Zamowienie');
}

function footer(w: W, inv: Invoice): void {
  const f = inv.footer;
  if (!f) return;
  w.open('Stopka');
  for (const i of f.info ?? []) {
    w.open('Informacje');
    w.v('StopkaFaktury', i);
    w.close('Informacje');
  }
  for (const r of f.registries ?? []) {
    w.open('Rejestry');
    w.v('PelnaNazwa', r.fullName);
    w.v('KRS', r.krs);
    w.v('REGON', r.regon);
    w.v('BDO', r.bdo);
    w.close('Rejestry');
  }
  w.close('Stopka');
}

function attachment(w: W, inv: Invoice): void {
  const z = inv.attachment;
  if (!z) return;
  w.open('Zalacznik');
  for (const b of z.blocks) {
    w.open('BlokDanych');
    w.v('ZNaglowek', b.header);
    for (const m of b.metadata) {
      w.open('MetaDane');
      w.v('ZKlucz', m.key);
      w.v('ZWartosc', m.value);
      w.close('MetaDane');
    }
    if (b.paragraphs?.length) {
      w.open('Tekst');
      for (const p of b.paragraphs) w.v('Akapit', p);
      w.close('Tekst');
    }
    for (const t of b.tables ?? []) {
      w.open('Tabela');
      for (const m of t.metadata ?? []) {
        w.open('TMetaDane');
        w.v('TKlucz', m.key);
        w.v('TWartosc', m.value);
        w.close('TMetaDane');
      }
      w.v('Opis', t.description);
      w.open('TNaglowek');
      for (const col of t.columns) {
        w.open('Kol', { Typ: col.type });
        w.v('NKom', col.name);
        w.close('Kol');
      }
      w.close('TNaglowek');
      for (const row of t.rows) {
        w.open('Wiersz');
        for (const cell of row) w.v('WKom', cell);
        w.close('Wiersz');
      }
      if (t.sum) {
        w.open('Suma');
        for (const cell of t.sum) w.v('SKom', cell);
        w.close('Suma');
      }
      w.close('Tabela');
    }
    w.close('BlokDanych');
  }
  w.close('Zalacznik');
}

function createdAt(inv: Invoice, now: Date | undefined): string {
  if (inv.createdAt) return inv.createdAt;
  return (now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Writes an invoice (as returned by createInvoice or readFa3) as FA(3) XML. */
export function writeFa3(inv: Invoice, options: WriteOptions = {}): string {
  const pretty = options.pretty !== false;
  const e = options.engine === 'xmlbuilder2' ? new XmlBuilderEmitter(pretty) : new StringEmitter(pretty);
  const w = new W(e);
  w.open('Faktura', { xmlns: FA3_NS });
  w.open('Naglowek');
  e.leaf('KodFormularza', 'FA', { kodSystemowy: 'FA (3)', wersjaSchemy: '1-0E' });
  w.v('WariantFormularza', '3');
  w.v('DataWytworzeniaFa', createdAt(inv, options.now));
  w.v('SystemInfo', inv.systemInfo);
  w.close('Naglowek');

  const s = inv.seller;
  w.open('Podmiot1');
  w.v('PrefiksPodatnika', s.euVatPrefix);
  w.v('NrEORI', s.eori);
  w.open('DaneIdentyfikacyjne');
  w.v('NIP', s.nip);
  w.v('Nazwa', s.name);
  w.close('DaneIdentyfikacyjne');
  address(w, 'Adres', s.address);
  address(w, 'AdresKoresp', s.correspondenceAddress);
  contacts(w, s.contacts);
  w.v('StatusInfoPodatnika', s.status ? STATUS_CODE[s.status] : undefined);
  w.close('Podmiot1');

  const b = inv.buyer;
  w.open('Podmiot2');
  w.v('NrEORI', b.eori);
  identification(w, b.id, b.name);
  address(w, 'Adres', b.address);
  address(w, 'AdresKoresp', b.correspondenceAddress);
  contacts(w, b.contacts);
  w.v('NrKlienta', b.customerNumber);
  w.v('IDNabywcy', b.buyerKey);
  w.yn('JST', b.localGovernmentUnit);
  w.yn('GV', b.vatGroupMember);
  w.close('Podmiot2');

  for (const t of inv.thirdParties ?? []) {
    w.open('Podmiot3');
    w.v('IDNabywcy', t.buyerKey);
    w.v('NrEORI', t.eori);
    identification(w, t.id, t.name);
    address(w, 'Adres', t.address);
    address(w, 'AdresKoresp', t.correspondenceAddress);
    contacts(w, t.contacts);
    if (t.role === 'other') {
      w.v('RolaInna', '1');
      w.v('OpisRoli', t.roleDescription ?? '');
    } else w.v('Rola', ROLE_CODE[t.role]);
    w.v('Udzial', t.share);
    w.v('NrKlienta', t.customerNumber);
    w.close('Podmiot3');
  }

  const a = inv.authorizedEntity;
  if (a) {
    w.open('PodmiotUpowazniony');
    w.v('NrEORI', a.eori);
    w.open('DaneIdentyfikacyjne');
    w.v('NIP', a.nip);
    w.v('Nazwa', a.name);
    w.close('DaneIdentyfikacyjne');
    address(w, 'Adres', a.address);
    address(w, 'AdresKoresp', a.correspondenceAddress);
    contacts(w, a.contacts, 'EmailPU', 'TelefonPU');
    w.v('RolaPU', AUTH_ROLE_CODE[a.role]);
    w.close('PodmiotUpowazniony');
  }

  fa(w, inv);
  footer(w, inv);
  attachment(w, inv);
  w.close('Faktura');
  return w.finish();
}
