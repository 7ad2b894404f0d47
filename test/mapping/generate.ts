/**
 * Random invoices (seeded) written out as the exports the shipped mappings read: the generic CSV layout
 * (Windows-1250, decimal comma, record types) and SAP INVOIC02 IDocs. Used by the property-style tests (map the
 * export back, compare with the Invoice built directly) and by scripts/bench-mapping.ts.
 */
import { Dec, createInvoice, type Invoice, type InvoiceInput, type LineInput } from '../../src/invoice/index.js';
import type { IdocSegmentSpec, IdocSpec } from '../../src/formats/index.js';

export type Rng = () => number;

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

const NIPS = ['5252248481', '7811767696', '6762461659', '1132853869', '8992689516', '5261040828', '5272525995', '5213017228'];
const COMPANY = ['Hurtownia', 'Zakład', 'PPHU', 'Składnica', 'Fabryka', 'Pracownia'];
const TRADE = ['Elektryczna', 'Budowlana', 'Spożywcza', 'Ogrodnicza', 'Meblarska', 'Tekstylna', 'Chemiczna'];
const NAMES = ['„Iskra”', '„Żuraw”', '„Pod Dębem”', '„Łączność”', '„Źródło”', '„Świt”', '„Górnik”'];
const FORMS = ['S.A.', 'Sp. z o.o.', 's.c.', 'Sp.k.'];
const STREETS = ['ul. Żelazna', 'ul. Piłsudskiego', 'al. Pokoju', 'ul. Grunwaldzka', 'ul. Świętokrzyska', 'ul. Łąkowa', 'ul. Źródlana'];
const CITIES: Array<[string, string]> = [
  ['00-871', 'Warszawa'],
  ['60-166', 'Poznań'],
  ['31-564', 'Kraków'],
  ['90-926', 'Łódź'],
  ['80-827', 'Gdańsk'],
  ['50-106', 'Wrocław'],
  ['40-021', 'Katowice'],
];
const GOODS = ['Kabel YDY 3x2,5', 'Gniazdo podtynkowe', 'Wyłącznik różnicowoprądowy', 'Śruby do drewna', 'Zaprawa klejąca', 'Rękawice robocze', 'Łata tynkarska', 'Żarówka LED 9 W', 'Szlifierka kątowa', 'Taśma miernicza'];
const UNITS: Array<[string, string]> = [
  ['szt.', 'ST'],
  ['kg', 'KGM'],
  ['m', 'M'],
  ['opak.', 'PAK'],
  ['godz.', 'H'],
];
const RATES: Array<[string, string]> = [
  ['23', 'A1'],
  ['8', 'A2'],
  ['5', 'A3'],
  ['0 KR', 'A0'],
];

export interface GenLine {
  name: string;
  index: string;
  unit: string;
  sapUnit: string;
  quantity: string;
  price: string;
  net: string;
  rate: string;
  taxCode: string;
}

export interface GenInvoice {
  number: string;
  sapNumber: string;
  kind: 'VAT' | 'KOR';
  issueDate: string;
  saleDate: string;
  currency: 'PLN' | 'EUR';
  exchangeRate?: string;
  buyerNip: string;
  buyerName: string;
  buyerName2?: string;
  street: string;
  house: string;
  postcode: string;
  city: string;
  dueDate?: string;
  corrected?: { number: string; sapNumber: string; issueDate: string };
  lines: GenLine[];
}

function date(r: Rng): string {
  return `2026-${String(int(r, 1, 9)).padStart(2, '0')}-${String(int(r, 1, 28)).padStart(2, '0')}`;
}

export function randomInvoice(r: Rng, i: number, maxLines = 8): GenInvoice {
  const issue = date(r);
  const sale = r() < 0.3 ? issue : `${issue.slice(0, 8)}${String(Math.max(1, Number(issue.slice(8)) - int(r, 0, 3))).padStart(2, '0')}`;
  const kind = r() < 0.15 ? 'KOR' : 'VAT';
  const currency = r() < 0.2 ? 'EUR' : 'PLN';
  const [postcode, city] = pick(r, CITIES);
  const n = int(r, 1, maxLines);
  const lines: GenLine[] = [];
  for (let k = 0; k < n; k++) {
    const [unit, sapUnit] = pick(r, UNITS);
    const q = unit === 'szt.' || unit === 'opak.' ? String(int(r, 1, 200)) : Dec.of(BigInt(int(r, 1, 99999)), 3).toString();
    const p = Dec.of(BigInt(int(r, 1, 500000)), 2).toString(2);
    const [rate, taxCode] = pick(r, RATES);
    const net = Dec.from(q).mul(Dec.from(p)).toFixed(2);
    lines.push({ name: `${pick(r, GOODS)} ${int(r, 1, 999)}`, index: `IDX-${int(r, 1000, 9999)}`, unit, sapUnit, quantity: q, price: p, net, rate, taxCode });
  }
  const seq = String(i + 1).padStart(6, '0');
  const inv: GenInvoice = {
    number: `${kind === 'KOR' ? 'KOR' : 'FV'}/2026/${seq}`,
    sapNumber: `009${seq.padStart(7, '0')}`,
    kind,
    issueDate: issue,
    saleDate: sale,
    currency,
    buyerNip: pick(r, NIPS),
    buyerName: `${pick(r, COMPANY)} ${pick(r, TRADE)} ${pick(r, NAMES)}`,
    ...(r() < 0.5 ? { buyerName2: pick(r, FORMS) } : {}),
    street: pick(r, STREETS),
    house: String(int(r, 1, 250)),
    postcode,
    city,
    lines,
  };
  if (currency === 'EUR') inv.exchangeRate = Dec.of(BigInt(int(r, 40000, 45000)), 4).toString();
  if (r() < 0.7) inv.dueDate = `${issue.slice(0, 5)}${String(Math.min(12, Number(issue.slice(5, 7)) + 1)).padStart(2, '0')}${issue.slice(7)}`;
  if (kind === 'KOR') inv.corrected = { number: `FV/2026/${String(int(r, 1, 999999)).padStart(6, '0')}`, sapNumber: `0090${String(int(r, 1, 999999)).padStart(6, '0')}`, issueDate: `2026-01-${String(int(r, 1, 28)).padStart(2, '0')}` };
  return inv;
}

/* ---------------------------------------------------------------- CSV (generic-csv.yaml) ---- */

function plNum(s: string, r?: Rng): string {
  const neg = s.startsWith('-');
  const [i, f] = (neg ? s.slice(1) : s).split('.');
  let ip = i!;
  if (r && r() < 0.3 && ip.length > 3) ip = ip.replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
  return `${neg ? '-' : ''}${ip}${f !== undefined ? `,${f}` : ''}`;
}
const plDate = (d: string) => `${d.slice(8, 10)}.${d.slice(5, 7)}.${d.slice(0, 4)}`;

export const CSV_SELLER = { name: 'Przedsiębiorstwo Handlowe „Sprzęt-Bud” Sp. z o.o.', line1: 'ul. Marszałkowska 84/92', line2: '00-514 Warszawa' };

/** Lines of the generic CSV layout (N/P records); corrections carry negative quantities and values. */
export function toCsv(invoices: GenInvoice[], r?: Rng): string {
  const out: string[] = [];
  for (const inv of invoices) {
    const sign = inv.kind === 'KOR' ? '-' : '';
    const nipText = r && r() < 0.3 ? `PL ${inv.buyerNip.slice(0, 3)}-${inv.buyerNip.slice(3, 6)}-${inv.buyerNip.slice(6, 8)}-${inv.buyerNip.slice(8)}` : inv.buyerNip;
    out.push(
      [
        'N',
        inv.number,
        plDate(inv.issueDate),
        plDate(inv.saleDate),
        inv.currency,
        inv.exchangeRate ? plNum(inv.exchangeRate) : '',
        nipText,
        [inv.buyerName, inv.buyerName2].filter(Boolean).join(' '),
        `${inv.street} ${inv.house}`,
        inv.postcode,
        inv.city,
        'PL',
        inv.dueDate ? plDate(inv.dueDate) : '',
        'przelew',
        '',
        inv.kind,
        inv.corrected?.number ?? '',
        inv.corrected ? plDate(inv.corrected.issueDate) : '',
        inv.corrected ? 'Zwrot towaru' : '',
      ].join(';'),
    );
    inv.lines.forEach((l, k) => {
      out.push(['P', String(k + 1), l.index, l.name, sign + plNum(l.quantity, r), l.unit, plNum(l.price, r), (sign && l.net !== '0.00' ? sign : '') + plNum(l.net, r), l.rate === '0 KR' ? '0' : l.rate, '', ''].join(';'));
    });
  }
  return `${out.join('\r\n')}\r\n`;
}

/** The Invoice the generic CSV mapping must give for a generated invoice. */
export function expectedFromCsv(inv: GenInvoice, sellerNip: string): Invoice {
  const neg = (s: string) => (inv.kind === 'KOR' ? Dec.from(s).neg().toString() : s);
  const input: InvoiceInput = {
    kind: inv.kind,
    number: inv.number,
    issueDate: inv.issueDate,
    saleDate: inv.saleDate,
    currency: inv.currency,
    systemInfo: 'ERP CSV export',
    seller: { nip: sellerNip, name: CSV_SELLER.name, address: { countryCode: 'PL', line1: CSV_SELLER.line1, line2: CSV_SELLER.line2 } },
    buyer: {
      id: { kind: 'nip', nip: inv.buyerNip },
      name: [inv.buyerName, inv.buyerName2].filter(Boolean).join(' '),
      address: { countryCode: 'PL', line1: `${inv.street} ${inv.house}`, line2: `${inv.postcode} ${inv.city}` },
    },
    ...(inv.corrected ? { correction: { reason: 'Zwrot towaru', corrected: [{ number: inv.corrected.number, issueDate: inv.corrected.issueDate }] } } : {}),
    payment: { form: { method: 'transfer' }, ...(inv.dueDate ? { dueDates: [{ date: inv.dueDate }] } : {}) },
    lines: inv.lines.map(
      (l): LineInput => ({
        index: l.index,
        name: l.name,
        quantity: neg(l.quantity),
        unit: l.unit,
        unitNetPrice: l.price,
        netAmount: neg(l.net),
        vatRate: l.rate as LineInput['vatRate'],
        ...(inv.exchangeRate ? { exchangeRate: inv.exchangeRate } : {}),
      }),
    ),
  };
  const r = createInvoice(input);
  if (!r.invoice) throw new Error(`generator produced an invalid invoice: ${JSON.stringify(r.issues)}`);
  return r.invoice;
}

/* ---------------------------------------------------------------- IDoc (sap-invoic02.yaml) ---- */

export const SAP_SELLER = { nip: '5213017228', name1: 'Zakłady Mięsne „Łukosz”', name2: 'Sp. z o.o.', street: 'ul. Świętokrzyska', house: '12', postcode: '00-916', city: 'Warszawa' };

/** The Invoice the SAP mapping must give (SAP sends credit memo amounts positive; the mapping negates them). */
export function expectedFromIdoc(inv: GenInvoice): Invoice {
  const neg = (s: string) => (inv.kind === 'KOR' ? Dec.from(s).neg().toString() : s);
  const input: InvoiceInput = {
    kind: inv.kind,
    number: inv.sapNumber,
    issueDate: inv.issueDate,
    saleDate: inv.saleDate,
    currency: inv.currency,
    systemInfo: 'SAP PRDCLNT100',
    seller: { nip: SAP_SELLER.nip, name: `${SAP_SELLER.name1} ${SAP_SELLER.name2}`, address: { countryCode: 'PL', line1: `${SAP_SELLER.street} ${SAP_SELLER.house}`, line2: `${SAP_SELLER.postcode} ${SAP_SELLER.city}` } },
    buyer: {
      id: { kind: 'nip', nip: inv.buyerNip },
      name: [inv.buyerName, inv.buyerName2].filter(Boolean).join(' '),
      address: { countryCode: 'PL', line1: `${inv.street} ${inv.house}`, line2: `${inv.postcode} ${inv.city}` },
    },
    ...(inv.corrected ? { correction: { reason: 'Korekta faktury', effect: 'original-date', corrected: [{ number: inv.corrected.sapNumber, issueDate: inv.corrected.issueDate }] } } : {}),
    payment: { form: { method: 'transfer' }, ...(inv.dueDate ? { dueDates: [{ date: inv.dueDate }] } : {}) },
    lines: inv.lines.map(
      (l): LineInput => ({
        index: l.index,
        name: l.name,
        quantity: neg(l.quantity),
        unit: l.unit,
        unitNetPrice: l.price,
        netAmount: neg(l.net),
        vatRate: l.rate as LineInput['vatRate'],
        ...(inv.exchangeRate ? { exchangeRate: inv.exchangeRate } : {}),
      }),
    ),
  };
  const r = createInvoice(input);
  if (!r.invoice) throw new Error(`generator produced an invalid invoice: ${JSON.stringify(r.issues)}`);
  return r.invoice;
}

const sapDate = (d: string) => d.replace(/-/g, '');

/** SAP IDoc segments of a generated invoice (amounts positive, as SAP sends them; totals in E1EDS01). */
export function toIdocSpec(inv: GenInvoice, docnum: number): IdocSpec {
  const model = expectedFromIdoc(inv);
  const abs = (s: string) => Dec.from(s).abs().toFixed(2);
  let net = Dec.ZERO;
  let vat = Dec.ZERO;
  for (const g of Object.values(model.totals.groups)) {
    if (!g) continue;
    net = net.add(Dec.from(g.net));
    if (g.vat) vat = vat.add(Dec.from(g.vat));
  }
  const segs: IdocSegmentSpec[] = [
    {
      name: 'E1EDK01',
      fields: {
        CURCY: inv.currency,
        ...(inv.exchangeRate ? { WKURS: inv.exchangeRate } : {}),
        EIGENUINR: `PL${SAP_SELLER.nip}`,
        KUNDEUINR: `PL${inv.buyerNip}`,
        BSART: inv.kind === 'KOR' ? 'CRME' : 'INVO',
        BELNR: inv.sapNumber,
      },
    },
    { name: 'E1EDKA1', fields: { PARVW: 'RS', NAME1: SAP_SELLER.name1, NAME2: SAP_SELLER.name2, STRAS: SAP_SELLER.street, HAUSN: SAP_SELLER.house, PSTLZ: SAP_SELLER.postcode, ORT01: SAP_SELLER.city, LAND1: 'PL' } },
    { name: 'E1EDKA1', fields: { PARVW: 'RE', NAME1: inv.buyerName, ...(inv.buyerName2 ? { NAME2: inv.buyerName2 } : {}), STRAS: inv.street, HAUSN: inv.house, PSTLZ: inv.postcode, ORT01: inv.city, LAND1: 'PL' } },
    ...(inv.corrected ? [{ name: 'E1EDK02', fields: { QUALF: '011', BELNR: inv.corrected.sapNumber, DATUM: sapDate(inv.corrected.issueDate) } }] : []),
    { name: 'E1EDK03', fields: { IDDAT: '026', DATUM: sapDate(inv.issueDate) } },
    { name: 'E1EDK03', fields: { IDDAT: '001', DATUM: sapDate(inv.saleDate) } },
    ...(inv.dueDate ? [{ name: 'E1EDK03', fields: { IDDAT: '028', DATUM: sapDate(inv.dueDate) } }] : []),
    ...inv.lines.map(
      (l, k): IdocSegmentSpec => ({
        name: 'E1EDP01',
        fields: { POSEX: String((k + 1) * 10).padStart(6, '0'), MENGE: l.quantity, MENEE: l.sapUnit, VPREI: l.price, PEINH: '1' },
        children: [
          { name: 'E1EDP26', fields: { QUALF: '003', BETRG: l.net } },
          { name: 'E1EDP19', fields: { QUALF: '002', IDTNR: l.index, KTEXT: l.name } },
          { name: 'E1EDP04', fields: { MWSKZ: l.taxCode } },
        ],
      }),
    ),
    { name: 'E1EDS01', fields: { SUMID: '001', SUMME: String(inv.lines.length) } },
    { name: 'E1EDS01', fields: { SUMID: '010', SUMME: abs(net.toFixed(2)) } },
    { name: 'E1EDS01', fields: { SUMID: '005', SUMME: abs(vat.toFixed(2)) } },
    { name: 'E1EDS01', fields: { SUMID: '011', SUMME: abs(model.totals.gross) } },
  ];
  return { control: { DOCNUM: String(docnum).padStart(16, '0'), SNDPRN: 'PRDCLNT100' }, segments: segs };
}

/* ---------------------------------------------------------------- XML and JSON (bench) ---- */

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function toXml(invoices: GenInvoice[]): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>', '<Eksport><Faktury>'];
  for (const inv of invoices) {
    out.push(`<Faktura typ="VAT"><Numer>${esc(inv.number)}</Numer><DataWystawienia>${inv.issueDate}</DataWystawienia><DataSprzedazy>${inv.saleDate}</DataSprzedazy><Waluta>${inv.currency}</Waluta>`);
    if (inv.exchangeRate) out.push(`<KursWaluty>${inv.exchangeRate}</KursWaluty>`);
    out.push(`<Nabywca><NIP>${inv.buyerNip}</NIP><Nazwa>${esc(inv.buyerName)}</Nazwa><Adres><Ulica>${esc(inv.street)} ${inv.house}</Ulica><KodPocztowy>${inv.postcode}</KodPocztowy><Miejscowosc>${esc(inv.city)}</Miejscowosc><Kraj>PL</Kraj></Adres></Nabywca><Pozycje>`);
    inv.lines.forEach((l, k) =>
      out.push(`<Pozycja lp="${k + 1}"><Nazwa>${esc(l.name)}</Nazwa><Kod>${l.index}</Kod><Ilosc>${l.quantity}</Ilosc><Jm>${esc(l.unit)}</Jm><CenaNetto>${l.price}</CenaNetto><StawkaVat>${l.rate}</StawkaVat></Pozycja>`),
    );
    out.push(`</Pozycje><Platnosc forma="przelew"${inv.dueDate ? ` termin="${inv.dueDate}"` : ''}/></Faktura>`);
  }
  out.push('</Faktury></Eksport>');
  return out.join('\n');
}

export function toJson(invoices: GenInvoice[]): string {
  return JSON.stringify({
    invoices: invoices.map((inv) => ({
      number: inv.number,
      issueDate: inv.issueDate,
      saleDate: inv.saleDate,
      currency: inv.currency,
      ...(inv.exchangeRate ? { exchangeRate: Number(inv.exchangeRate) } : {}),
      buyer: { name: inv.buyerName, vatId: inv.buyerNip, address: { street: `${inv.street} ${inv.house}`, postalCode: inv.postcode, city: inv.city, country: 'PL' } },
      lines: inv.lines.map((l) => ({ sku: l.index, description: l.name, quantity: Number(l.quantity), unit: l.unit, unitPrice: Number(l.price), vatRate: l.rate })),
      payment: { method: 'transfer', paid: false, ...(inv.dueDate ? { dueDate: inv.dueDate } : {}) },
    })),
  });
}
