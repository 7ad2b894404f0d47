/**
 * FA(3) reader: FA(3) XML (from this bridge or any other system) -> Invoice model.
 *
 * Safety: a DOCTYPE (and with it every internal or external entity) is rejected outright before parsing;
 * fast-xml-parser runs with entity processing off, and only the five predefined XML entities and numeric character
 * references are decoded, by this module. Namespace prefixes (tns:, fa:, none) are accepted; the root must be
 * Faktura in the FA(3) namespace.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { InvoiceError } from '../errors/index.js';
import { createInvoice } from './create.js';
import type {
  AttachmentBlock,
  AuthorizedRole,
  BankAccount,
  BankOwnAccount,
  CorrectionEffect,
  Invoice,
  InvoiceInput,
  InvoiceIssue,
  LineInput,
  MarginProcedure,
  PaymentMethod,
  TaxpayerStatus,
  ThirdPartyRole,
  TotalGroup,
  TransportKind,
} from './model.js';
import { TOTAL_GROUPS } from './model.js';
import { GROUP_ELEMENTS } from './totals.js';
import { AUTH_ROLE_CODE, BANK_OWN_CODE, EFFECT_CODE, FA3_NS, MARGIN_ELEMENT, PAYMENT_CODE, ROLE_CODE, STATUS_CODE, TRANSPORT_CODE, VEHICLE_ID_ELEMENT } from './writer.js';

type Node = Record<string, unknown>;

const ARRAYS = new Set([
  'DaneKontaktowe', 'Podmiot3', 'WZ', 'DaneFaKorygowanej', 'Podmiot2K', 'ZaliczkaCzesciowa', 'DodatkowyOpis', 'FakturaZaliczkowa', 'FaWiersz',
  'Obciazenia', 'Odliczenia', 'ZaplataCzesciowa', 'TerminPlatnosci', 'RachunekBankowy', 'RachunekBankowyFaktora', 'Umowy', 'Zamowienia',
  'NrPartiiTowaru', 'Transport', 'WysylkaPrzez', 'ZamowienieWiersz', 'Informacje', 'Rejestry', 'BlokDanych', 'MetaDane', 'Akapit', 'Tabela',
  'TMetaDane', 'Kol', 'Wiersz', 'WKom', 'SKom', 'NowySrodekTransportu',
]);

const ENTITY = /&(?:(amp|lt|gt|quot|apos)|#(\d+)|#x([0-9a-fA-F]+));/g;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(ENTITY, (m, name: string | undefined, dec: string | undefined, hex: string | undefined) => {
    if (name) return NAMED[name] ?? m;
    const cp = dec !== undefined ? Number(dec) : parseInt(hex ?? '', 16);
    return Number.isInteger(cp) && cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
  });
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  trimValues: true,
  // Callbacks get the matcher instead of a path string built for every tag (measurably faster).
  jPath: false,
  isArray: (name: string) => ARRAYS.has(name),
  tagValueProcessor: (_name: string, value: string) => decode(value),
  attributeValueProcessor: (_name: string, value: string) => decode(value),
});

/** Inverts a code table (domain word -> FA(3) code) into FA(3) code -> domain word. */
function invert<K extends string>(m: Record<K, string>): Record<string, K> {
  const r: Record<string, K> = {};
  for (const k of Object.keys(m) as K[]) r[m[k]] = k;
  return r;
}
const STATUS = invert<TaxpayerStatus>(STATUS_CODE);
const ROLE = invert<Exclude<ThirdPartyRole, 'other'>>(ROLE_CODE);
const AUTH_ROLE = invert<AuthorizedRole>(AUTH_ROLE_CODE);
const PAYMENT = invert<Exclude<PaymentMethod, 'other'>>(PAYMENT_CODE);
const EFFECT = invert<CorrectionEffect>(EFFECT_CODE);
const BANK_OWN = invert<BankOwnAccount>(BANK_OWN_CODE);
const TRANSPORT = invert<Exclude<TransportKind, 'other'>>(TRANSPORT_CODE);

/* ------------------------------------------------------------ access ---- */

function child(n: Node | undefined, name: string): Node | undefined {
  const v = n?.[name];
  if (Array.isArray(v)) return (v[0] as Node | undefined) ?? undefined;
  return v !== null && typeof v === 'object' ? (v as Node) : v === '' ? {} : undefined;
}

function list(n: Node | undefined, name: string): Node[] {
  const v = n?.[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => (x !== null && typeof x === 'object' ? (x as Node) : ({ '#text': x } as Node)));
}

function text(n: Node | undefined, name: string): string | undefined {
  const v = n?.[name];
  return textOf(Array.isArray(v) ? v[0] : v);
}

function textOf(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'object') {
    const t = (v as Node)['#text'];
    return t === undefined ? '' : String(t);
  }
  return undefined;
}

function texts(n: Node | undefined, name: string): string[] | undefined {
  const v = n?.[name];
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v : [v]).map((x) => textOf(x) ?? '');
}

const has = (n: Node | undefined, name: string): boolean => n?.[name] !== undefined;
const yes = (n: Node | undefined, name: string): boolean => text(n, name) === '1';
const flag = (n: Node | undefined, name: string): true | undefined => (text(n, name) === '1' ? true : undefined);
function int(n: Node | undefined, name: string): number | undefined {
  const t = text(n, name);
  return t === undefined || !/^[+-]?\d+$/.test(t.trim()) ? undefined : Number(t.trim());
}

/* ------------------------------------------------------------- parts ---- */

function address(n: Node | undefined): InvoiceInput['seller']['address'] | undefined {
  if (!n) return undefined;
  return { countryCode: text(n, 'KodKraju') ?? '', line1: text(n, 'AdresL1') ?? '', line2: text(n, 'AdresL2'), gln: text(n, 'GLN') };
}

function contacts(n: Node | undefined, email = 'Email', phone = 'Telefon'): { email?: string; phone?: string }[] | undefined {
  const l = list(n, 'DaneKontaktowe').map((c) => ({ email: text(c, email), phone: text(c, phone) }));
  return l.length ? l : undefined;
}

type AnyId =
  | { kind: 'nip'; nip: string }
  | { kind: 'internal'; internalId: string }
  | { kind: 'eu-vat'; countryCode: string; vatNumber: string }
  | { kind: 'other'; countryCode?: string; id: string }
  | { kind: 'none' };

function partyId(d: Node | undefined): AnyId {
  if (has(d, 'NIP')) return { kind: 'nip', nip: text(d, 'NIP') ?? '' };
  if (has(d, 'IDWew')) return { kind: 'internal', internalId: text(d, 'IDWew') ?? '' };
  if (has(d, 'NrVatUE')) return { kind: 'eu-vat', countryCode: text(d, 'KodUE') ?? '', vatNumber: text(d, 'NrVatUE') ?? '' };
  if (has(d, 'NrID')) return { kind: 'other', countryCode: text(d, 'KodKraju'), id: text(d, 'NrID') ?? '' };
  return { kind: 'none' };
}

function buyerId(d: Node | undefined): Exclude<AnyId, { kind: 'internal' }> {
  const id = partyId(d);
  return id.kind === 'internal' ? { kind: 'other', id: id.internalId } : id;
}

function paymentForm(n: Node | undefined): { method: PaymentMethod; description?: string } | undefined {
  if (has(n, 'FormaPlatnosci')) return { method: PAYMENT[text(n, 'FormaPlatnosci') ?? ''] ?? (text(n, 'FormaPlatnosci') as PaymentMethod) };
  if (has(n, 'PlatnoscInna')) return { method: 'other', description: text(n, 'OpisPlatnosci') };
  return undefined;
}

function bankAccounts(n: Node | undefined, name: string): BankAccount[] | undefined {
  const l = list(n, name).map((b) => ({
    number: text(b, 'NrRB') ?? '',
    swift: text(b, 'SWIFT'),
    bankOwnAccount: BANK_OWN[text(b, 'RachunekWlasnyBanku') ?? ''] ?? (text(b, 'RachunekWlasnyBanku') as BankOwnAccount | undefined),
    bankName: text(b, 'NazwaBanku'),
    description: text(b, 'OpisRachunku'),
  }));
  return l.length ? l : undefined;
}

function line(n: Node): LineInput {
  return {
    lineNumber: int(n, 'NrWierszaFa'),
    uuid: text(n, 'UU_ID'),
    deliveryDate: text(n, 'P_6A'),
    name: text(n, 'P_7'),
    index: text(n, 'Indeks'),
    gtin: text(n, 'GTIN'),
    pkwiu: text(n, 'PKWiU'),
    cn: text(n, 'CN'),
    pkob: text(n, 'PKOB'),
    unit: text(n, 'P_8A'),
    quantity: text(n, 'P_8B'),
    unitNetPrice: text(n, 'P_9A'),
    unitGrossPrice: text(n, 'P_9B'),
    discount: text(n, 'P_10'),
    netAmount: text(n, 'P_11'),
    grossAmount: text(n, 'P_11A'),
    vatAmount: text(n, 'P_11Vat'),
    vatRate: text(n, 'P_12') as LineInput['vatRate'],
    ossVatRate: text(n, 'P_12_XII'),
    annex15: flag(n, 'P_12_Zal_15'),
    exciseAmount: text(n, 'KwotaAkcyzy'),
    gtu: text(n, 'GTU') as LineInput['gtu'],
    procedure: text(n, 'Procedura') as LineInput['procedure'],
    exchangeRate: text(n, 'KursWaluty'),
    beforeCorrection: flag(n, 'StanPrzed'),
  };
}

function annotations(a: Node | undefined): InvoiceInput['annotations'] {
  const z = child(a, 'Zwolnienie');
  const nst = child(a, 'NoweSrodkiTransportu');
  const pm = child(a, 'PMarzy');
  let margin: MarginProcedure | undefined;
  if (yes(pm, 'P_PMarzy')) {
    for (const [k, el] of Object.entries(MARGIN_ELEMENT) as [MarginProcedure, string][]) if (yes(pm, el)) margin = k;
  }
  return {
    cashAccounting: yes(a, 'P_16'),
    selfBilling: yes(a, 'P_17'),
    reverseCharge: yes(a, 'P_18'),
    splitPayment: yes(a, 'P_18A'),
    exemption: yes(z, 'P_19')
      ? has(z, 'P_19A')
        ? { basis: 'act', text: text(z, 'P_19A') ?? '' }
        : has(z, 'P_19B')
          ? { basis: 'directive', text: text(z, 'P_19B') ?? '' }
          : { basis: 'other', text: text(z, 'P_19C') ?? '' }
      : undefined,
    newMeansOfTransport: yes(nst, 'P_22')
      ? {
          art42Sec5: yes(nst, 'P_42_5'),
          vehicles: list(nst, 'NowySrodekTransportu').map((v) => {
            let kind: NonNullable<NonNullable<Invoice['annotations']['newMeansOfTransport']>['vehicles'][number]['kind']>;
            if (has(v, 'P_22C')) kind = { type: 'water', hours: text(v, 'P_22C') ?? '', hullNumber: text(v, 'P_22C1') };
            else if (has(v, 'P_22D')) kind = { type: 'air', hours: text(v, 'P_22D') ?? '', serialNumber: text(v, 'P_22D1') };
            else {
              const idEntry = (Object.entries(VEHICLE_ID_ELEMENT) as ['vin' | 'body' | 'chassis' | 'frame', string][]).find(([, el]) => has(v, el));
              kind = {
                type: 'land',
                mileage: text(v, 'P_22B') ?? '',
                identifier: idEntry ? { kind: idEntry[0], value: text(v, idEntry[1]) ?? '' } : undefined,
                vehicleType: text(v, 'P_22BT'),
              };
            }
            return {
              firstUseDate: text(v, 'P_22A') ?? '',
              lineNumber: int(v, 'P_NrWierszaNST') ?? 0,
              make: text(v, 'P_22BMK'),
              model: text(v, 'P_22BMD'),
              colour: text(v, 'P_22BK'),
              registrationNumber: text(v, 'P_22BNR'),
              productionYear: text(v, 'P_22BRP'),
              kind,
            };
          }),
        }
      : undefined,
    simplifiedTriangular: yes(a, 'P_23'),
    margin,
  };
}

function totals(fa: Node): NonNullable<InvoiceInput['totals']> {
  const groups: Partial<Record<TotalGroup, { net?: string; vat?: string; vatPln?: string }>> = {};
  for (const g of TOTAL_GROUPS) {
    const els = GROUP_ELEMENTS[g];
    if (!has(fa, els.net)) continue;
    groups[g] = { net: text(fa, els.net), vat: els.vat ? text(fa, els.vat) : undefined, vatPln: els.vatPln ? text(fa, els.vatPln) : undefined };
  }
  return { groups, gross: text(fa, 'P_15') };
}

function attachmentBlocks(z: Node | undefined): InvoiceInput['attachment'] {
  if (!z) return undefined;
  return {
    blocks: list(z, 'BlokDanych').map(
      (b): AttachmentBlock => ({
        header: text(b, 'ZNaglowek'),
        metadata: list(b, 'MetaDane').map((m) => ({ key: text(m, 'ZKlucz') ?? '', value: text(m, 'ZWartosc') ?? '' })),
        paragraphs: texts(child(b, 'Tekst'), 'Akapit'),
        tables: (() => {
          const t = list(b, 'Tabela').map((tb) => ({
            metadata: (() => {
              const m = list(tb, 'TMetaDane').map((x) => ({ key: text(x, 'TKlucz') ?? '', value: text(x, 'TWartosc') ?? '' }));
              return m.length ? m : undefined;
            })(),
            description: text(tb, 'Opis'),
            columns: list(child(tb, 'TNaglowek'), 'Kol').map((k) => ({ type: (textOf(k['@Typ']) ?? 'txt') as 'txt', name: text(k, 'NKom') ?? '' })),
            rows: list(tb, 'Wiersz').map((w) => texts(w, 'WKom') ?? []),
            sum: texts(child(tb, 'Suma'), 'SKom'),
          }));
          return t.length ? t : undefined;
        })(),
      }),
    ),
  };
}

/* ----------------------------------------------------------- invoice ---- */

export interface ReadResult {
  invoice?: Invoice;
  issues: InvoiceIssue[];
}

export interface ReadOptions {
  /** Skip the well-formedness check (the caller has already parsed the document with libxml2). */
  wellFormed?: boolean;
}

/** Rejects what KSeF and a safe reader must not accept before any parsing happens. */
export function guardXml(xml: string): void {
  if (/<!DOCTYPE/i.test(xml) || /<!ENTITY/i.test(xml)) {
    throw new InvoiceError('FA3_DOCTYPE_FORBIDDEN', 'the document contains a DOCTYPE or ENTITY declaration; FA(3) invoices must not have one (entity expansion and external entities are refused)', {
      rule: 'XML_DOCTYPE',
    });
  }
}

/** The root element's start tag, skipping the XML declaration, comments and processing instructions before it. */
function rootStartTag(xml: string): RegExpExecArray | null {
  let i = 0;
  for (;;) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) return null;
    const end = xml.startsWith('<?', lt) ? xml.indexOf('?>', lt) : xml.startsWith('<!--', lt) ? xml.indexOf('-->', lt) : -2;
    if (end === -1) return null;
    if (end >= 0) {
      i = end + 2;
      continue;
    }
    return /^<([A-Za-z_][\w.:-]*)(\s[^>]*)?\/?>/.exec(xml.slice(lt, lt + 8192));
  }
}

/** Turns the XML into the model input (no validation yet). */
export function fa3ToInput(xml: string, options: ReadOptions = {}): InvoiceInput {
  guardXml(xml);
  if (!options.wellFormed) {
    const ok = XMLValidator.validate(xml);
    if (ok !== true) {
      throw new InvoiceError('FA3_NOT_WELL_FORMED', `the document is not well-formed XML: ${ok.err.msg}`, { line: ok.err.line, column: ok.err.col, rule: 'XML_WELL_FORMED' });
    }
  }
  // The root's namespace is checked on the start tag itself (the parser drops namespace declarations).
  const start = rootStartTag(xml);
  const qname = start?.[1] ?? '';
  const prefix = qname.includes(':') ? qname.slice(0, qname.indexOf(':')) : '';
  const local = qname.slice(prefix ? prefix.length + 1 : 0);
  if (local !== 'Faktura') throw new InvoiceError('FA3_NOT_AN_INVOICE', `the root element is <${qname}>, not <Faktura>`, { rule: 'FA3_ROOT', value: qname });
  const nsAttr = new RegExp(`\\sxmlns${prefix ? `:${prefix}` : ''}\\s*=\\s*(["'])(.*?)\\1`).exec(start?.[2] ?? '');
  const ns = nsAttr?.[2] ?? '';
  if (ns !== FA3_NS) {
    throw new InvoiceError('FA3_WRONG_NAMESPACE', `the invoice is not in the FA(3) namespace ${FA3_NS} (found ${ns || 'none'})`, { rule: 'FA3_NAMESPACE', value: ns }, {
      hint: 'FA (2) and other schemas are not supported; send FA (3) invoices',
    });
  }
  // CDATA sections become ordinary escaped text first, so text around them keeps its spaces and their content is
  // never entity-decoded.
  const plain = xml.includes('<![CDATA[') ? xml.replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, (_m, c: string) => c.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')) : xml;
  const doc = parser.parse(plain) as Node;
  const root = child(doc, 'Faktura') ?? {};
  const h = child(root, 'Naglowek');
  const p1 = child(root, 'Podmiot1');
  const p2 = child(root, 'Podmiot2');
  const fa = child(root, 'Fa') ?? {};
  const pu = child(root, 'PodmiotUpowazniony');
  const okres = child(fa, 'OkresFa');
  const pay = child(fa, 'Platnosc');
  const wt = child(fa, 'WarunkiTransakcji');
  const zam = child(fa, 'Zamowienie');
  const roz = child(fa, 'Rozliczenie');
  const stopka = child(root, 'Stopka');
  const kind = text(fa, 'RodzajFaktury') as InvoiceInput['kind'];
  const korygowane = list(fa, 'DaneFaKorygowanej');

  const input: InvoiceInput = {
    kind,
    number: text(fa, 'P_2') ?? '',
    issueDate: text(fa, 'P_1') ?? '',
    placeOfIssue: text(fa, 'P_1M'),
    createdAt: text(h, 'DataWytworzeniaFa'),
    systemInfo: text(h, 'SystemInfo'),
    seller: {
      euVatPrefix: text(p1, 'PrefiksPodatnika') as 'PL' | undefined,
      eori: text(p1, 'NrEORI'),
      nip: text(child(p1, 'DaneIdentyfikacyjne'), 'NIP') ?? '',
      name: text(child(p1, 'DaneIdentyfikacyjne'), 'Nazwa') ?? '',
      address: address(child(p1, 'Adres')) ?? { countryCode: '', line1: '' },
      correspondenceAddress: address(child(p1, 'AdresKoresp')),
      contacts: contacts(p1),
      status: STATUS[text(p1, 'StatusInfoPodatnika') ?? ''] ?? (text(p1, 'StatusInfoPodatnika') as TaxpayerStatus | undefined),
    },
    buyer: {
      eori: text(p2, 'NrEORI'),
      id: buyerId(child(p2, 'DaneIdentyfikacyjne')),
      name: text(child(p2, 'DaneIdentyfikacyjne'), 'Nazwa'),
      address: address(child(p2, 'Adres')),
      correspondenceAddress: address(child(p2, 'AdresKoresp')),
      contacts: contacts(p2),
      customerNumber: text(p2, 'NrKlienta'),
      buyerKey: text(p2, 'IDNabywcy'),
      localGovernmentUnit: yes(p2, 'JST'),
      vatGroupMember: yes(p2, 'GV'),
    },
    thirdParties: (() => {
      const l = list(root, 'Podmiot3').map((t) => ({
        buyerKey: text(t, 'IDNabywcy'),
        eori: text(t, 'NrEORI'),
        id: partyId(child(t, 'DaneIdentyfikacyjne')),
        name: text(child(t, 'DaneIdentyfikacyjne'), 'Nazwa'),
        address: address(child(t, 'Adres')),
        correspondenceAddress: address(child(t, 'AdresKoresp')),
        contacts: contacts(t),
        role: has(t, 'RolaInna') ? ('other' as const) : (ROLE[text(t, 'Rola') ?? ''] ?? (text(t, 'Rola') as ThirdPartyRole)),
        roleDescription: text(t, 'OpisRoli'),
        share: text(t, 'Udzial'),
        customerNumber: text(t, 'NrKlienta'),
      }));
      return l.length ? l : undefined;
    })(),
    authorizedEntity: pu
      ? {
          eori: text(pu, 'NrEORI'),
          nip: text(child(pu, 'DaneIdentyfikacyjne'), 'NIP') ?? '',
          name: text(child(pu, 'DaneIdentyfikacyjne'), 'Nazwa') ?? '',
          address: address(child(pu, 'Adres')) ?? { countryCode: '', line1: '' },
          correspondenceAddress: address(child(pu, 'AdresKoresp')),
          contacts: contacts(pu, 'EmailPU', 'TelefonPU'),
          role: AUTH_ROLE[text(pu, 'RolaPU') ?? ''] ?? (text(pu, 'RolaPU') as AuthorizedRole),
        }
      : undefined,
    currency: text(fa, 'KodWaluty') ?? '',
    saleDate: text(fa, 'P_6'),
    salePeriod: okres ? { from: text(okres, 'P_6_Od') ?? '', to: text(okres, 'P_6_Do') ?? '' } : undefined,
    deliveryNotes: texts(fa, 'WZ'),
    totals: totals(fa),
    advanceExchangeRate: text(fa, 'KursWalutyZ'),
    annotations: annotations(child(fa, 'Adnotacje')),
    correction: korygowane.length
      ? {
          reason: text(fa, 'PrzyczynaKorekty'),
          effect: EFFECT[text(fa, 'TypKorekty') ?? ''] ?? (text(fa, 'TypKorekty') as CorrectionEffect | undefined),
          corrected: korygowane.map((d) => ({ issueDate: text(d, 'DataWystFaKorygowanej') ?? '', number: text(d, 'NrFaKorygowanej') ?? '', ksefNumber: text(d, 'NrKSeFFaKorygowanej') })),
          period: text(fa, 'OkresFaKorygowanej'),
          correctNumber: text(fa, 'NrFaKorygowany'),
          originalSeller: (() => {
            const k = child(fa, 'Podmiot1K');
            if (!k) return undefined;
            return {
              euVatPrefix: text(k, 'PrefiksPodatnika'),
              nip: text(child(k, 'DaneIdentyfikacyjne'), 'NIP') ?? '',
              name: text(child(k, 'DaneIdentyfikacyjne'), 'Nazwa') ?? '',
              address: address(child(k, 'Adres')) ?? { countryCode: '', line1: '' },
            };
          })(),
          originalBuyers: (() => {
            const l = list(fa, 'Podmiot2K').map((k) => ({
              id: buyerId(child(k, 'DaneIdentyfikacyjne')),
              name: text(child(k, 'DaneIdentyfikacyjne'), 'Nazwa'),
              address: address(child(k, 'Adres')),
              buyerKey: text(k, 'IDNabywcy'),
            }));
            return l.length ? l : undefined;
          })(),
          amountBeforeCorrection: has(fa, 'P_15ZK') ? { amount: text(fa, 'P_15ZK') ?? '', exchangeRate: text(fa, 'KursWalutyZK') } : undefined,
        }
      : undefined,
    partialAdvances: (() => {
      const l = list(fa, 'ZaliczkaCzesciowa').map((z) => ({ paymentDate: text(z, 'P_6Z') ?? '', amount: text(z, 'P_15Z') ?? '', exchangeRate: text(z, 'KursWalutyZW') }));
      return l.length ? l : undefined;
    })(),
    receiptInvoice: flag(fa, 'FP'),
    relatedParties: flag(fa, 'TP'),
    notes: (() => {
      const l = list(fa, 'DodatkowyOpis').map((d) => ({ lineNumber: int(d, 'NrWiersza'), key: text(d, 'Klucz') ?? '', value: text(d, 'Wartosc') ?? '' }));
      return l.length ? l : undefined;
    })(),
    advanceInvoices: (() => {
      const l = list(fa, 'FakturaZaliczkowa').map((z) => (has(z, 'NrKSeFFaZaliczkowej') ? { ksefNumber: text(z, 'NrKSeFFaZaliczkowej') ?? '' } : { number: text(z, 'NrFaZaliczkowej') ?? '' }));
      return l.length ? l : undefined;
    })(),
    exciseRefund: flag(fa, 'ZwrotAkcyzy'),
    lines: list(fa, 'FaWiersz').map(line),
    settlement: roz
      ? {
          charges: (() => {
            const l = list(roz, 'Obciazenia').map((x) => ({ amount: text(x, 'Kwota') ?? '', reason: text(x, 'Powod') ?? '' }));
            return l.length ? l : undefined;
          })(),
          chargesTotal: text(roz, 'SumaObciazen'),
          deductions: (() => {
            const l = list(roz, 'Odliczenia').map((x) => ({ amount: text(x, 'Kwota') ?? '', reason: text(x, 'Powod') ?? '' }));
            return l.length ? l : undefined;
          })(),
          deductionsTotal: text(roz, 'SumaOdliczen'),
          amountDue: text(roz, 'DoZaplaty'),
          amountToSettle: text(roz, 'DoRozliczenia'),
        }
      : undefined,
    payment: pay
      ? {
          paidDate: yes(pay, 'Zaplacono') ? text(pay, 'DataZaplaty') : undefined,
          partial: has(pay, 'ZnacznikZaplatyCzesciowej')
            ? {
                final: text(pay, 'ZnacznikZaplatyCzesciowej') === '2',
                payments: list(pay, 'ZaplataCzesciowa').map((z) => ({ amount: text(z, 'KwotaZaplatyCzesciowej') ?? '', date: text(z, 'DataZaplatyCzesciowej') ?? '', form: paymentForm(z) })),
              }
            : undefined,
          dueDates: (() => {
            const l = list(pay, 'TerminPlatnosci').map((t) => {
              const o = child(t, 'TerminOpis');
              return {
                date: text(t, 'Termin'),
                description: o ? { count: int(o, 'Ilosc') ?? Number.NaN, unit: text(o, 'Jednostka') ?? '', startEvent: text(o, 'ZdarzeniePoczatkowe') ?? '' } : undefined,
              };
            });
            return l.length ? l : undefined;
          })(),
          form: paymentForm(pay),
          bankAccounts: bankAccounts(pay, 'RachunekBankowy'),
          factorBankAccounts: bankAccounts(pay, 'RachunekBankowyFaktora'),
          cashDiscount: has(pay, 'Skonto') ? { conditions: text(child(pay, 'Skonto'), 'WarunkiSkonta') ?? '', amount: text(child(pay, 'Skonto'), 'WysokoscSkonta') ?? '' } : undefined,
          paymentLink: text(pay, 'LinkDoPlatnosci'),
          ksefPaymentId: text(pay, 'IPKSeF'),
        }
      : undefined,
    transactionTerms: wt
      ? {
          contracts: (() => {
            const l = list(wt, 'Umowy').map((u) => ({ date: text(u, 'DataUmowy'), number: text(u, 'NrUmowy') }));
            return l.length ? l : undefined;
          })(),
          orders: (() => {
            const l = list(wt, 'Zamowienia').map((u) => ({ date: text(u, 'DataZamowienia'), number: text(u, 'NrZamowienia') }));
            return l.length ? l : undefined;
          })(),
          batchNumbers: texts(wt, 'NrPartiiTowaru'),
          deliveryTerms: text(wt, 'WarunkiDostawy'),
          contractualRate: has(wt, 'KursUmowny') ? { rate: text(wt, 'KursUmowny') ?? '', currency: text(wt, 'WalutaUmowna') ?? '' } : undefined,
          transports: (() => {
            const l = list(wt, 'Transport').map((t) => {
              const prz = child(t, 'Przewoznik');
              return {
                kind: has(t, 'TransportInny') ? ('other' as const) : (TRANSPORT[text(t, 'RodzajTransportu') ?? ''] ?? (text(t, 'RodzajTransportu') as TransportKind)),
                kindDescription: text(t, 'OpisInnegoTransportu'),
                carrier: prz
                  ? { id: buyerId(child(prz, 'DaneIdentyfikacyjne')), name: text(child(prz, 'DaneIdentyfikacyjne'), 'Nazwa'), address: address(child(prz, 'AdresPrzewoznika')) ?? { countryCode: '', line1: '' } }
                  : undefined,
                orderNumber: text(t, 'NrZleceniaTransportu'),
                cargo: has(t, 'LadunekInny') ? ('other' as const) : (int(t, 'OpisLadunku') ?? 0),
                cargoDescription: text(t, 'OpisInnegoLadunku'),
                packagingUnit: text(t, 'JednostkaOpakowania'),
                start: text(t, 'DataGodzRozpTransportu'),
                end: text(t, 'DataGodzZakTransportu'),
                shipFrom: address(child(t, 'WysylkaZ')),
                shipVia: (() => {
                  const a = list(t, 'WysylkaPrzez').map((x) => address(x) ?? { countryCode: '', line1: '' });
                  return a.length ? a : undefined;
                })(),
                shipTo: address(child(t, 'WysylkaDo')),
              };
            });
            return l.length ? l : undefined;
          })(),
          intermediary: flag(wt, 'PodmiotPosredniczacy'),
        }
      : undefined,
    order: zam
      ? {
          value: text(zam, 'WartoscZamowienia') ?? '',
          lines: list(zam, 'ZamowienieWiersz').map((z) => ({
            lineNumber: int(z, 'NrWierszaZam') ?? 0,
            uuid: text(z, 'UU_IDZ'),
            name: text(z, 'P_7Z'),
            index: text(z, 'IndeksZ'),
            gtin: text(z, 'GTINZ'),
            pkwiu: text(z, 'PKWiUZ'),
            cn: text(z, 'CNZ'),
            pkob: text(z, 'PKOBZ'),
            unit: text(z, 'P_8AZ'),
            quantity: text(z, 'P_8BZ'),
            unitNetPrice: text(z, 'P_9AZ'),
            netAmount: text(z, 'P_11NettoZ'),
            vatAmount: text(z, 'P_11VatZ'),
            vatRate: text(z, 'P_12Z') as LineInput['vatRate'],
            ossVatRate: text(z, 'P_12Z_XII'),
            annex15: flag(z, 'P_12Z_Zal_15'),
            gtu: text(z, 'GTUZ') as LineInput['gtu'],
            procedure: text(z, 'ProceduraZ') as 'IED' | undefined,
            exciseAmount: text(z, 'KwotaAkcyzyZ'),
            beforeCorrection: flag(z, 'StanPrzedZ'),
          })),
        }
      : undefined,
    footer: stopka
      ? {
          info: (() => {
            const l = list(stopka, 'Informacje')
              .map((i) => text(i, 'StopkaFaktury'))
              .filter((x): x is string => x !== undefined);
            return l.length ? l : undefined;
          })(),
          registries: (() => {
            const l = list(stopka, 'Rejestry').map((r) => ({ fullName: text(r, 'PelnaNazwa'), krs: text(r, 'KRS'), regon: text(r, 'REGON'), bdo: text(r, 'BDO') }));
            return l.length ? l : undefined;
          })(),
        }
      : undefined,
    attachment: attachmentBlocks(child(root, 'Zalacznik')),
  };
  return input;
}

/** Reads an FA(3) invoice and returns the model with every structural issue found (no exception for bad content). */
export function parseFa3(xml: string, options: ReadOptions = {}): ReadResult {
  const input = fa3ToInput(xml, options);
  return createInvoice(input);
}

/**
 * Reads an FA(3) invoice into the model. Throws an InvoiceError when the document is not FA(3), has a DOCTYPE,
 * is not well-formed, or its content does not fit the model (details.issues lists every problem).
 */
export function readFa3(xml: string, options: ReadOptions = {}): Invoice {
  const r = parseFa3(xml, options);
  if (!r.invoice) {
    const first = r.issues.find((i) => i.severity === 'error');
    throw new InvoiceError('FA3_INVALID_CONTENT', `the FA(3) invoice does not fit the model: ${first ? `${first.path}: ${first.message}` : 'unknown problem'}`, {
      field: first?.path,
      rule: first?.code,
      details: { issues: r.issues },
    });
  }
  return r.invoice;
}
