/**
 * Buyer-side queries, written from pobieranie-faktur.md and the contract (POST /invoices/query/metadata,
 * GET /invoices/ksef/{ksefNumber}): other NIPs send invoices naming our NIP as buyer (Podmiot2), then our NIP, with
 * its own token, searches them. Every response is checked against open-api.json by the test client. Expected results
 * are computed from the invoices the test sent, never written down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KsefTestClient, sha256b64, type Tokens } from './helpers/client.js';
import { buildZip, openBatchBody, splitAndEncrypt, uploadPart } from './helpers/batch.js';
import { BUYER_NIP, OTHER_NIP, OTHER_TOKEN, SELLER_NIP, SELLER_TOKEN, polishDate, startTestEmulator, uniqueNumber, type TestEnv } from './helpers/setup.js';
import {
  exceptionCode,
  isoToMicros,
  queryMetadata,
  richInvoice,
  sendOnline,
  tokensFor,
  type InvoiceMetadata,
  type RichInvoice,
} from './helpers/buyer.js';

const BUYER_TOKEN = 'buyer-ksef-token-0003';
const THIRD_NIP = '9512345678';
const THIRD_TOKEN = 'third-ksef-token-0004';
const AUTH_NIP = '6112345670';
const AUTH_TOKEN = 'authorized-ksef-token-0005';
const STRANGER_NIP = '8431234567';
const STRANGER_TOKEN = 'stranger-ksef-token-0006';
const ALL_TOKENS = [
  { nip: SELLER_NIP, token: SELLER_TOKEN },
  { nip: OTHER_NIP, token: OTHER_TOKEN },
  { nip: BUYER_NIP, token: BUYER_TOKEN },
  { nip: THIRD_NIP, token: THIRD_TOKEN },
  { nip: AUTH_NIP, token: AUTH_TOKEN },
  { nip: STRANGER_NIP, token: STRANGER_TOKEN },
];

/** What the test knows about an invoice it sent. */
interface Sent {
  ksefNumber: string;
  number: string;
  xml: string;
  spec: RichInvoice;
  offline: boolean;
  net: number;
  vatPln: number;
  gross: number;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;
const setOf = (list: { ksefNumber: string }[]): string[] => list.map((i) => i.ksefNumber).sort();
const buyerOf = (s: Sent): string | undefined => ('nip' in s.spec.buyer ? s.spec.buyer.nip : undefined);

let env: TestEnv;
let client: KsefTestClient;
let buyer: Tokens;
const sent: Sent[] = [];
let otherPhase: { fromMs: number; toMs: number };
const hourAgo = () => new Date(Date.now() - 3_600_000).toISOString();

function record(spec: RichInvoice, result: { ksefNumber: string; xml: string; number: string; offline: boolean }): void {
  const net = spec.net ?? 100;
  const vat = round2((net * 23) / 100);
  sent.push({ ...result, spec, net, vatPln: spec.vatPln ?? vat, gross: round2(net + vat) });
}

async function send(nip: string, token: string, specs: RichInvoice[], offline: boolean[] = []): Promise<void> {
  const t = await tokensFor(client, nip, token);
  const out = await sendOnline(
    client,
    t,
    specs.map((s, i) => ({ xml: richInvoice(s), offline: offline[i] ?? false })),
  );
  out.forEach((o, i) => record(specs[i] as RichInvoice, o));
}

/** Every page of a search (Asc unless told), checking page shape on the way. */
async function allPages(token: string, filters: object, sortOrder: 'Asc' | 'Desc' = 'Asc', pageSize = 10): Promise<InvoiceMetadata[]> {
  const out: InvoiceMetadata[] = [];
  for (let page = 0; page < 100; page++) {
    const r = await queryMetadata(client, token, filters, { pageOffset: page, pageSize, sortOrder });
    expect(r.status, r.text).toBe(200);
    expect(r.json.isTruncated).toBe(false);
    out.push(...r.json.invoices);
    if (!r.json.hasMore) return out;
    expect(r.json.invoices).toHaveLength(pageSize);
  }
  throw new Error('too many pages');
}

const storage = (filters: Record<string, unknown> = {}, subjectType = 'Subject2') => ({
  subjectType,
  dateRange: { dateType: 'PermanentStorage', from: hourAgo() },
  ...filters,
});

beforeAll(async () => {
  env = await startTestEmulator({ tokens: ALL_TOKENS });
  client = env.client;
  const today = polishDate(0);
  const specs: RichInvoice[] = [];
  for (let i = 1; i <= 12; i++) {
    specs.push({
      sellerNip: SELLER_NIP,
      sellerName: 'Sprzedawca Główny S.A.',
      buyer: { nip: BUYER_NIP },
      buyerName: 'Nabywca Testowy Sp. z o.o.',
      number: uniqueNumber(`FV/${i}`),
      issueDate: polishDate(i % 3 === 0 ? -10 : i % 3 === 1 ? -3 : 0),
      net: i * 100,
    });
  }
  specs.push({ sellerNip: SELLER_NIP, buyer: { nip: BUYER_NIP }, number: uniqueNumber('FV/EUR'), issueDate: today, currency: 'EUR', net: 1000, vatPln: 980.45 });
  specs.push({ sellerNip: SELLER_NIP, buyer: { nip: BUYER_NIP }, number: uniqueNumber('FV/SELF'), issueDate: today, selfInvoicing: true, net: 250 });
  specs.push({ sellerNip: SELLER_NIP, buyer: { nip: BUYER_NIP }, number: uniqueNumber('FV/ZAL'), issueDate: today, kind: 'ZAL', net: 333 });
  specs.push({
    sellerNip: SELLER_NIP,
    buyer: { nip: BUYER_NIP },
    number: uniqueNumber('FV/P3'),
    issueDate: today,
    thirdSubjects: [{ nip: THIRD_NIP, name: 'Odbiorca Oddział', role: 2 }],
    authorized: { nip: AUTH_NIP, name: 'Przedstawiciel Podatkowy', role: 3 },
  });
  specs.push({ sellerNip: SELLER_NIP, buyer: { nip: BUYER_NIP }, number: uniqueNumber('FV/OFF'), issueDate: today, net: 77 });
  specs.push({ sellerNip: SELLER_NIP, buyer: { vatUe: ['DE', '123456789'] }, buyerName: 'Käufer GmbH', number: uniqueNumber('FV/UE'), issueDate: today });
  specs.push({ sellerNip: SELLER_NIP, buyer: { none: true }, number: uniqueNumber('FV/KONS'), issueDate: today });
  specs.push({ sellerNip: SELLER_NIP, buyer: { other: 'US-99-1234567' }, number: uniqueNumber('FV/US'), issueDate: today });
  await send(SELLER_NIP, SELLER_TOKEN, specs, specs.map((s) => s.number.startsWith('FV/OFF')));

  // a second seller, in a phase of its own (for the Invoicing date window)
  const before = Date.now();
  await new Promise((r) => setTimeout(r, 5));
  await send(
    OTHER_NIP,
    OTHER_TOKEN,
    [1, 2, 3].map((i) => ({ sellerNip: OTHER_NIP, sellerName: 'Drugi Sprzedawca', buyer: { nip: BUYER_NIP }, number: uniqueNumber(`INNY/${i}`), issueDate: today, net: 50 * i })),
  );
  await new Promise((r) => setTimeout(r, 5));
  otherPhase = { fromMs: before, toMs: Date.now() };

  // an invoice with an attachment (batch only, once enabled for the seller)
  expect((await client.call('POST', '/testdata/attachment', { body: { nip: SELLER_NIP } })).status).toBe(200);
  const spec: RichInvoice = { sellerNip: SELLER_NIP, buyer: { nip: BUYER_NIP }, number: uniqueNumber('FV/ZAL-ATT'), issueDate: today, attachment: true, net: 10 };
  const xml = richInvoice(spec);
  const pkg = buildZip([{ name: 'a.xml', content: Buffer.from(xml) }]);
  const seller = await tokensFor(client, SELLER_NIP, SELLER_TOKEN);
  const { key, iv, encryption } = client.newEncryption();
  const parts = splitAndEncrypt(pkg, 1, key, iv);
  const open = await client.call<{ referenceNumber: string; partUploadRequests: { ordinalNumber: number; method: string; url: string; headers: Record<string, string> }[] }>(
    'POST',
    '/sessions/batch',
    { token: seller.accessToken, body: openBatchBody(pkg, parts, encryption) },
  );
  expect(open.status).toBe(201);
  expect((await uploadPart(open.json.partUploadRequests[0] as { method: string; url: string; headers: Record<string, string> }, (parts[0] as { data: Buffer }).data)).status).toBe(201);
  const ref = open.json.referenceNumber;
  expect((await client.call('POST', '/sessions/batch/{referenceNumber}/close', { params: { referenceNumber: ref }, token: seller.accessToken })).status).toBe(204);
  expect((await client.waitSession(ref, seller.accessToken, (c) => c >= 200, 10)).status.code).toBe(200);
  const inv = await client.call<{ invoices: { ksefNumber: string }[] }>('GET', '/sessions/{referenceNumber}/invoices', { params: { referenceNumber: ref }, token: seller.accessToken });
  record(spec, { ksefNumber: (inv.json.invoices[0] as { ksefNumber: string }).ksefNumber, xml, number: spec.number, offline: false });

  buyer = await tokensFor(client, BUYER_NIP, BUYER_TOKEN);
}, 60_000);
afterAll(async () => env.emu.close());

/** A moment as Europe/Warsaw wall-clock time with milliseconds and no offset, e.g. 2026-11-21T16:05:01.123. */
function warsawLocal(ms: number): string {
  const parts: Record<string, string> = {};
  const fmt = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Warsaw', hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  for (const p of fmt.formatToParts(new Date(ms))) parts[p.type] = p.value;
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}.${String(ms % 1000).padStart(3, '0')}`;
}

const forBuyer = (): Sent[] => sent.filter((s) => buyerOf(s) === BUYER_NIP);

describe('POST /invoices/query/metadata: subject types', () => {
  it('Subject2: the buyer sees every invoice naming it in Podmiot2, from every seller, and nothing else', async () => {
    const list = await allPages(buyer.accessToken, storage());
    expect(setOf(list)).toEqual(setOf(forBuyer()));
    expect(new Set(list.map((i) => i.seller.nip))).toEqual(new Set([SELLER_NIP, OTHER_NIP]));
  });

  it('Subject1: each seller sees what it issued; the buyer as Subject1 sees nothing', async () => {
    const seller = await tokensFor(client, SELLER_NIP, SELLER_TOKEN);
    const other = await tokensFor(client, OTHER_NIP, OTHER_TOKEN);
    expect(setOf(await allPages(seller.accessToken, storage({}, 'Subject1')))).toEqual(setOf(sent.filter((s) => s.spec.sellerNip === SELLER_NIP)));
    expect(setOf(await allPages(other.accessToken, storage({}, 'Subject1')))).toEqual(setOf(sent.filter((s) => s.spec.sellerNip === OTHER_NIP)));
    expect(await allPages(buyer.accessToken, storage({}, 'Subject1'))).toEqual([]);
  });

  it('Subject3 and SubjectAuthorized: the third subject and the authorised subject find their invoice', async () => {
    const expected = sent.filter((s) => s.spec.thirdSubjects?.length);
    const third = await tokensFor(client, THIRD_NIP, THIRD_TOKEN);
    const auth = await tokensFor(client, AUTH_NIP, AUTH_TOKEN);
    const t = await allPages(third.accessToken, storage({}, 'Subject3'));
    expect(setOf(t)).toEqual(setOf(expected));
    expect(t[0]?.thirdSubjects).toEqual([{ identifier: { type: 'Nip', value: THIRD_NIP }, name: 'Odbiorca Oddział', role: 2 }]);
    const a = await allPages(auth.accessToken, storage({}, 'SubjectAuthorized'));
    expect(setOf(a)).toEqual(setOf(expected));
    expect(a[0]?.authorizedSubject).toEqual({ nip: AUTH_NIP, name: 'Przedstawiciel Podatkowy', role: 3 });
    expect(await allPages(third.accessToken, storage({}, 'Subject2'))).toEqual([]);
    expect(await allPages(buyer.accessToken, storage({}, 'Subject3'))).toEqual([]);
  });
});

describe('POST /invoices/query/metadata: the metadata of an invoice', () => {
  it('reads seller, buyer, amounts (VAT in PLN), currency, kind, flags, form code and hash from the invoice', async () => {
    const list = await allPages(buyer.accessToken, storage());
    const byKsef = new Map(list.map((i) => [i.ksefNumber, i]));
    for (const s of forBuyer()) {
      const m = byKsef.get(s.ksefNumber) as InvoiceMetadata;
      expect(m.invoiceNumber).toBe(s.number);
      expect(m.issueDate).toBe(s.spec.issueDate);
      expect(m.seller.nip).toBe(s.spec.sellerNip);
      expect(m.seller.name).toBe(s.spec.sellerName ?? 'Sprzedawca S.A.');
      expect(m.buyer.identifier).toEqual({ type: 'Nip', value: BUYER_NIP });
      expect(m.buyer.name).toBe(s.spec.buyerName);
      expect(m.netAmount).toBe(s.net);
      expect(m.vatAmount).toBe(s.vatPln);
      expect(m.grossAmount).toBe(s.gross);
      expect(m.currency).toBe(s.spec.currency ?? 'PLN');
      expect(m.invoiceType).toBe(s.spec.kind === 'ZAL' ? 'Zal' : 'Vat');
      expect(m.invoicingMode).toBe(s.offline ? 'Offline' : 'Online');
      expect(m.isSelfInvoicing).toBe(s.spec.selfInvoicing === true);
      expect(m.hasAttachment).toBe(s.spec.attachment === true);
      expect(m.formCode).toEqual({ systemCode: 'FA (3)', schemaVersion: '1-0E', value: 'FA' });
      expect(m.invoiceHash).toBe(sha256b64(Buffer.from(s.xml, 'utf8')));
      expect(Date.parse(m.invoicingDate)).toBeLessThanOrEqual(Date.parse(m.acquisitionDate));
      expect(isoToMicros(m.acquisitionDate)).toBeLessThanOrEqual(isoToMicros(m.permanentStorageDate));
    }
  });

  it('shows buyers identified by EU VAT number, another identifier, or none, to the seller', async () => {
    const seller = await tokensFor(client, SELLER_NIP, SELLER_TOKEN);
    const list = await allPages(seller.accessToken, storage({}, 'Subject1'));
    const find = (prefix: string) => list.find((i) => i.invoiceNumber.startsWith(prefix)) as InvoiceMetadata;
    expect(find('FV/UE').buyer).toEqual({ identifier: { type: 'VatUe', value: 'DE123456789' }, name: 'Käufer GmbH' });
    expect(find('FV/KONS').buyer.identifier).toEqual({ type: 'None' });
    expect(find('FV/US').buyer.identifier).toEqual({ type: 'Other', value: 'US-99-1234567' });
  });
});

describe('POST /invoices/query/metadata: filters', () => {
  const cases: [string, Record<string, unknown>, (s: Sent) => boolean][] = [
    ['amount Netto 300..500', { amount: { type: 'Netto', from: 300, to: 500 } }, (s) => s.net >= 300 && s.net <= 500],
    ['amount Brutto from 1000', { amount: { type: 'Brutto', from: 1000 } }, (s) => s.gross >= 1000],
    ['amount Vat up to 50', { amount: { type: 'Vat', to: 50 } }, (s) => s.vatPln <= 50],
    ['sellerNip', { sellerNip: OTHER_NIP }, (s) => s.spec.sellerNip === OTHER_NIP],
    ['buyerIdentifier Nip', { buyerIdentifier: { type: 'Nip', value: BUYER_NIP } }, () => true],
    ['currencyCodes EUR', { currencyCodes: ['EUR'] }, (s) => s.spec.currency === 'EUR'],
    ['currencyCodes PLN, EUR', { currencyCodes: ['PLN', 'EUR'] }, () => true],
    ['invoicingMode Offline', { invoicingMode: 'Offline' }, (s) => s.offline],
    ['invoicingMode Online', { invoicingMode: 'Online' }, (s) => !s.offline],
    ['isSelfInvoicing', { isSelfInvoicing: true }, (s) => s.spec.selfInvoicing === true],
    ['formType FA', { formType: 'FA' }, () => true],
    ['formType PEF', { formType: 'PEF' }, () => false],
    ['invoiceTypes Zal', { invoiceTypes: ['Zal'] }, (s) => s.spec.kind === 'ZAL'],
    ['invoiceTypes Vat, Kor', { invoiceTypes: ['Vat', 'Kor'] }, (s) => s.spec.kind !== 'ZAL'],
    ['hasAttachment true', { hasAttachment: true }, (s) => s.spec.attachment === true],
    ['hasAttachment false', { hasAttachment: false }, (s) => s.spec.attachment !== true],
    ['several filters together', { sellerNip: SELLER_NIP, amount: { type: 'Netto', from: 200 }, currencyCodes: ['PLN'] }, (s) => s.spec.sellerNip === SELLER_NIP && s.net >= 200 && (s.spec.currency ?? 'PLN') === 'PLN'],
  ];
  for (const [name, filter, pick] of cases) {
    it(name, async () => {
      const expected = forBuyer().filter(pick);
      const list = await allPages(buyer.accessToken, storage(filter));
      expect(setOf(list)).toEqual(setOf(expected));
    });
  }

  it('ksefNumber and invoiceNumber match exactly one invoice', async () => {
    const target = forBuyer()[4] as Sent;
    expect(setOf(await allPages(buyer.accessToken, storage({ ksefNumber: target.ksefNumber })))).toEqual([target.ksefNumber]);
    expect(setOf(await allPages(buyer.accessToken, storage({ invoiceNumber: target.number })))).toEqual([target.ksefNumber]);
    expect(await allPages(buyer.accessToken, storage({ invoiceNumber: `${target.number}-X` }))).toEqual([]);
  });

  it('buyerIdentifier of other kinds, as the seller sees them', async () => {
    const seller = await tokensFor(client, SELLER_NIP, SELLER_TOKEN);
    const pick = (p: string) => setOf(sent.filter((s) => s.number.startsWith(p)));
    expect(setOf(await allPages(seller.accessToken, storage({ buyerIdentifier: { type: 'VatUe', value: 'DE123456789' } }, 'Subject1')))).toEqual(pick('FV/UE'));
    expect(setOf(await allPages(seller.accessToken, storage({ buyerIdentifier: { type: 'None' } }, 'Subject1')))).toEqual(pick('FV/KONS'));
    expect(setOf(await allPages(seller.accessToken, storage({ buyerIdentifier: { type: 'Other', value: 'US-99-1234567' } }, 'Subject1')))).toEqual(pick('FV/US'));
  });
});

describe('POST /invoices/query/metadata: paging and sorting', () => {
  it('pages with pageOffset (page index) and pageSize, hasMore until the last page, in ascending permanent storage order', async () => {
    const total = forBuyer().length;
    const p0 = await queryMetadata(client, buyer.accessToken, storage(), { pageSize: 10 });
    const p1 = await queryMetadata(client, buyer.accessToken, storage(), { pageSize: 10, pageOffset: 1 });
    const p2 = await queryMetadata(client, buyer.accessToken, storage(), { pageSize: 10, pageOffset: 2 });
    const p3 = await queryMetadata(client, buyer.accessToken, storage(), { pageSize: 10, pageOffset: 3 });
    expect([p0.json.hasMore, p1.json.hasMore, p2.json.hasMore, p3.json.hasMore]).toEqual([true, true, false, false]);
    expect(p0.json.invoices).toHaveLength(10);
    expect(p1.json.invoices).toHaveLength(10);
    expect(p2.json.invoices).toHaveLength(total - 20);
    expect(p3.json.invoices).toEqual([]);
    const all = [...p0.json.invoices, ...p1.json.invoices, ...p2.json.invoices];
    expect(new Set(all.map((i) => i.ksefNumber)).size).toBe(total);
    const times = all.map((i) => isoToMicros(i.permanentStorageDate));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // permanent storage dates are distinct even for invoices processed together (microseconds)
    expect(new Set(times).size).toBe(times.length);
    // the default page size is 10
    expect((await queryMetadata(client, buyer.accessToken, storage())).json.invoices).toHaveLength(10);
  });

  it('sortOrder Desc gives the reverse order', async () => {
    const asc = await allPages(buyer.accessToken, storage(), 'Asc', 250);
    const desc = await allPages(buyer.accessToken, storage(), 'Desc', 250);
    expect(desc.map((i) => i.ksefNumber)).toEqual(asc.map((i) => i.ksefNumber).reverse());
  });

  it('refuses page sizes outside 10..250, negative offsets and unknown sort orders (21405)', async () => {
    for (const q of [{ pageSize: 9 }, { pageSize: 251 }, { pageOffset: -1 }]) {
      const r = await queryMetadata(client, buyer.accessToken, storage(), q);
      expect(r.status).toBe(400);
      expect(exceptionCode(r)).toBe(21405);
    }
    const r = await client.call('POST', '/invoices/query/metadata', { token: buyer.accessToken, body: storage(), query: { sortOrder: 'Sideways' } });
    expect(exceptionCode(r)).toBe(21405);
  });
});

describe('POST /invoices/query/metadata: date types and ranges', () => {
  it('Issue compares issue dates (Warsaw days), sorts by them, and gives no high-water mark', async () => {
    const from = `${polishDate(-4)}T00:00:00+01:00`;
    const r = await allPages(buyer.accessToken, { subjectType: 'Subject2', dateRange: { dateType: 'Issue', from } });
    expect(setOf(r)).toEqual(setOf(forBuyer().filter((s) => s.spec.issueDate >= polishDate(-4))));
    const dates = r.map((i) => i.issueDate);
    expect(dates).toEqual([...dates].sort());
    const page = await queryMetadata(client, buyer.accessToken, { subjectType: 'Subject2', dateRange: { dateType: 'Issue', from } });
    expect(page.json.permanentStorageHwmDate ?? null).toBeNull();
    const older = await allPages(buyer.accessToken, {
      subjectType: 'Subject2',
      dateRange: { dateType: 'Issue', from: `${polishDate(-11)}T00:00:00Z`, to: `${polishDate(-9)}T12:00:00Z` },
    });
    expect(setOf(older)).toEqual(setOf(forBuyer().filter((s) => s.spec.issueDate === polishDate(-10))));
  });

  it('Invoicing selects by the date KSeF accepted the invoice', async () => {
    const r = await allPages(buyer.accessToken, {
      subjectType: 'Subject2',
      dateRange: { dateType: 'Invoicing', from: new Date(otherPhase.fromMs).toISOString(), to: new Date(otherPhase.toMs).toISOString() },
    });
    expect(setOf(r)).toEqual(setOf(sent.filter((s) => s.spec.sellerNip === OTHER_NIP)));
    const times = r.map((i) => Date.parse(i.invoicingDate));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const page = await queryMetadata(client, buyer.accessToken, { subjectType: 'Subject2', dateRange: { dateType: 'Invoicing', from: hourAgo() } });
    expect(page.json.permanentStorageHwmDate ?? null).toBeNull();
  });

  it('PermanentStorage: both ends of the range are inclusive; the high-water mark is reported and not after now', async () => {
    const all = await allPages(buyer.accessToken, storage(), 'Asc', 250);
    const pivot = (all[7] as InvoiceMetadata).permanentStorageDate;
    const upTo = await allPages(buyer.accessToken, { subjectType: 'Subject2', dateRange: { dateType: 'PermanentStorage', from: hourAgo(), to: pivot } });
    expect(upTo.map((i) => i.ksefNumber)).toEqual(all.slice(0, 8).map((i) => i.ksefNumber));
    const fromPivot = await allPages(buyer.accessToken, { subjectType: 'Subject2', dateRange: { dateType: 'PermanentStorage', from: pivot } });
    expect(fromPivot.map((i) => i.ksefNumber)).toEqual(all.slice(7).map((i) => i.ksefNumber));
    const before = Date.now();
    const page = await queryMetadata(client, buyer.accessToken, storage());
    const hwm = page.json.permanentStorageHwmDate as string;
    expect(typeof hwm).toBe('string');
    expect(Date.parse(hwm)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(hwm)).toBeGreaterThanOrEqual(before - 1000);
    // an older window: the mark is the window's end
    const old = await queryMetadata(client, buyer.accessToken, { subjectType: 'Subject2', dateRange: { dateType: 'PermanentStorage', from: hourAgo(), to: pivot } });
    expect(isoToMicros(old.json.permanentStorageHwmDate as string)).toBe(isoToMicros(pivot));
  });

  it('accepts dates with an offset; refuses a range over 3 months and from after to (21405)', async () => {
    const withOffset = await allPages(buyer.accessToken, {
      subjectType: 'Subject2',
      dateRange: { dateType: 'PermanentStorage', from: new Date(Date.now() - 3_600_000 + 2 * 3_600_000).toISOString().replace('Z', '+02:00') },
    });
    expect(setOf(withOffset)).toEqual(setOf(forBuyer()));
    const tooLong = await queryMetadata(client, buyer.accessToken, {
      subjectType: 'Subject2',
      dateRange: { dateType: 'PermanentStorage', from: new Date(Date.now() - 100 * 86_400_000).toISOString() },
    });
    expect(tooLong.status).toBe(400);
    expect(exceptionCode(tooLong)).toBe(21405);
    const reversed = await queryMetadata(client, buyer.accessToken, {
      subjectType: 'Subject2',
      dateRange: { dateType: 'Invoicing', from: new Date().toISOString(), to: hourAgo() },
    });
    expect(exceptionCode(reversed)).toBe(21405);
    const missing = await client.call('POST', '/invoices/query/metadata', { token: buyer.accessToken, body: { subjectType: 'Subject2' } });
    expect(exceptionCode(missing)).toBe(21405);
  });

  it('accepts dates without an offset (as the contract allows) and reads them as Europe/Warsaw local time', async () => {
    // a whole January in Warsaw time, written without an offset: valid (the contract's own example form), nothing issued then
    const january = await queryMetadata(client, buyer.accessToken, {
      subjectType: 'Subject2',
      dateRange: { dateType: 'Issue', from: '2026-01-01T00:00:00', to: '2026-01-31T23:59:59' },
    });
    expect(january.status, january.text).toBe(200);
    expect(january.json.invoices).toEqual([]);
    // one invoice's invoicing moment written as Warsaw wall-clock time: both ends inclusive, so exactly that moment matches
    const all = await allPages(buyer.accessToken, { subjectType: 'Subject2', dateRange: { dateType: 'Invoicing', from: hourAgo() } });
    const target = all[all.length - 1] as InvoiceMetadata;
    const t = Date.parse(target.invoicingDate);
    const local = warsawLocal(t);
    expect(local).not.toMatch(/(Z|[+-]\d\d:\d\d)$/);
    const exact = await allPages(buyer.accessToken, { subjectType: 'Subject2', dateRange: { dateType: 'Invoicing', from: local, to: local } });
    expect(exact.map((i) => i.ksefNumber)).toContain(target.ksefNumber);
    for (const i of exact) expect(Date.parse(i.invoicingDate)).toBe(t);
    // the same wall-clock text read as UTC would be an hour or two away: nothing of ours lies there
    const asUtc = await allPages(buyer.accessToken, { subjectType: 'Subject2', dateRange: { dateType: 'Invoicing', from: `${local}Z`, to: `${local}Z` } });
    expect(asUtc).toEqual([]);
    // the export request takes the same filters
    const exp = client.newEncryption();
    const created = await client.call('POST', '/invoices/exports', {
      token: buyer.accessToken,
      body: { encryption: exp.encryption, filters: { subjectType: 'Subject2', dateRange: { dateType: 'Invoicing', from: local, to: local } } },
    });
    expect(created.status, created.text).toBe(201);
  });

  it('keeps requiring an offset where the contract says nothing about local time (GET /sessions date filters: 21405)', async () => {
    const r = await client.call('GET', '/sessions', { token: buyer.accessToken, query: { sessionType: 'Online', pageSize: 10, dateCreatedFrom: '2026-01-01T00:00:00' } });
    expect(r.status).toBe(400);
    expect(exceptionCode(r)).toBe(21405);
    const ok = await client.call('GET', '/sessions', { token: buyer.accessToken, query: { sessionType: 'Online', pageSize: 10, dateCreatedFrom: '2026-01-01T00:00:00+01:00' } });
    expect(ok.status, ok.text).toBe(200);
  });

  it('restrictToPermanentStorageHwmDate: results end at the mark; from after the mark gives 21183', async () => {
    const r = await queryMetadata(
      client,
      buyer.accessToken,
      { subjectType: 'Subject2', dateRange: { dateType: 'PermanentStorage', from: hourAgo(), to: new Date(Date.now() + 3_600_000).toISOString(), restrictToPermanentStorageHwmDate: true } },
      { pageSize: 250 },
    );
    expect(r.status).toBe(200);
    const hwm = isoToMicros(r.json.permanentStorageHwmDate as string);
    expect(hwm).toBeLessThanOrEqual(Date.now() * 1000);
    for (const i of r.json.invoices) expect(isoToMicros(i.permanentStorageDate)).toBeLessThanOrEqual(hwm);
    expect(setOf(r.json.invoices)).toEqual(setOf(forBuyer()));
    const future = await queryMetadata(client, buyer.accessToken, {
      subjectType: 'Subject2',
      dateRange: {
        dateType: 'PermanentStorage',
        from: new Date(Date.now() + 60_000).toISOString(),
        to: new Date(Date.now() + 3_600_000).toISOString(),
        restrictToPermanentStorageHwmDate: true,
      },
    });
    expect(future.status).toBe(400);
    expect(exceptionCode(future)).toBe(21183);
    // without the restriction the same range is simply empty
    const unrestricted = await queryMetadata(client, buyer.accessToken, {
      subjectType: 'Subject2',
      dateRange: { dateType: 'PermanentStorage', from: new Date(Date.now() + 60_000).toISOString(), to: new Date(Date.now() + 3_600_000).toISOString() },
    });
    expect(unrestricted.status).toBe(200);
    expect(unrestricted.json.invoices).toEqual([]);
  });
});

describe('GET /invoices/ksef/{ksefNumber}', () => {
  it('gives the invoice XML with its hash to the buyer, the seller and a third subject', async () => {
    const target = sent.find((s) => s.spec.thirdSubjects?.length) as Sent;
    for (const [nip, token] of [
      [BUYER_NIP, BUYER_TOKEN],
      [SELLER_NIP, SELLER_TOKEN],
      [THIRD_NIP, THIRD_TOKEN],
      [AUTH_NIP, AUTH_TOKEN],
    ] as const) {
      const t = await tokensFor(client, nip, token);
      const r = await client.call('GET', '/invoices/ksef/{ksefNumber}', { params: { ksefNumber: target.ksefNumber }, token: t.accessToken, headers: { accept: 'application/xml' } });
      expect(r.status, nip).toBe(200);
      expect(r.headers.get('content-type')).toContain('application/xml');
      expect(r.text).toBe(target.xml);
      expect(r.headers.get('x-ms-meta-hash')).toBe(sha256b64(r.bytes));
    }
  });

  it('a NIP that is not on the invoice cannot read it: 21164, as for a number that does not exist', async () => {
    const target = forBuyer()[0] as Sent;
    const stranger = await tokensFor(client, STRANGER_NIP, STRANGER_TOKEN);
    const r = await client.call('GET', '/invoices/ksef/{ksefNumber}', { params: { ksefNumber: target.ksefNumber }, token: stranger.accessToken });
    expect(r.status).toBe(400);
    expect(exceptionCode(r)).toBe(21164);
    // the other seller is on other invoices of the same buyer, not on this one
    const other = await tokensFor(client, OTHER_NIP, OTHER_TOKEN);
    expect(exceptionCode(await client.call('GET', '/invoices/ksef/{ksefNumber}', { params: { ksefNumber: target.ksefNumber }, token: other.accessToken }))).toBe(21164);
    const n = target.ksefNumber;
    const unknown = `${n.slice(0, 20)}${n.slice(20, 32) === '000000000000' ? '111111111111' : '000000000000'}-00`;
    const u = await client.call('GET', '/invoices/ksef/{ksefNumber}', { params: { ksefNumber: unknown }, token: buyer.accessToken });
    expect(exceptionCode(u)).toBe(21164);
    const malformed = await client.call('GET', '/invoices/ksef/{ksefNumber}', { params: { ksefNumber: 'not-a-ksef-number' }, token: buyer.accessToken });
    expect(exceptionCode(malformed)).toBe(21405);
    const problem = await client.call<{ errors: { code: number }[] }>('GET', '/invoices/ksef/{ksefNumber}', {
      params: { ksefNumber: target.ksefNumber },
      token: stranger.accessToken,
      headers: { 'x-error-format': 'problem-details' },
    });
    expect(problem.status).toBe(400);
    expect(problem.json.errors[0]?.code).toBe(21164);
  });

  it('the buyer-side endpoints need an access token (401) with InvoiceRead (403)', async () => {
    const target = forBuyer()[0] as Sent;
    const noToken = await client.call('GET', '/invoices/ksef/{ksefNumber}', { params: { ksefNumber: target.ksefNumber } });
    expect(noToken.status).toBe(401);
    expect((await client.call('POST', '/invoices/query/metadata', { body: storage() })).status).toBe(401);
    env.emu.admin.provisionToken({ nip: BUYER_NIP, token: 'buyer-write-only-token', permissions: ['InvoiceWrite'] });
    const writeOnly = await client.authenticate(BUYER_NIP, 'buyer-write-only-token');
    const get = await client.call<{ reasonCode?: string }>('GET', '/invoices/ksef/{ksefNumber}', { params: { ksefNumber: target.ksefNumber }, token: writeOnly.accessToken });
    expect(get.status).toBe(403);
    expect(get.json.reasonCode).toBe('missing-permissions');
    expect((await queryMetadata(client, writeOnly.accessToken, storage())).status).toBe(403);
  });
});

describe('technical correction of an offline invoice (offline/korekta-techniczna.md)', () => {
  it('the corrected invoice\'s metadata carries hashOfCorrectedInvoice', async () => {
    const seller = await tokensFor(client, SELLER_NIP, SELLER_TOKEN);
    const spec: RichInvoice = { sellerNip: SELLER_NIP, buyer: { nip: BUYER_NIP }, number: uniqueNumber('FV/KT'), issueDate: polishDate(0), net: 42 };
    const good = richInvoice(spec);
    const bad = good.replace(/ *<P_15>[^<]*<\/P_15>\n/, ''); // not valid against the XSD: rejected
    expect(bad).not.toBe(good);
    const { key, iv, encryption } = client.newEncryption();
    const open = await client.call<{ referenceNumber: string }>('POST', '/sessions/online', { token: seller.accessToken, body: { formCode: { systemCode: 'FA (3)', schemaVersion: '1-0E', value: 'FA' }, encryption } });
    const ref = open.json.referenceNumber;
    const first = await client.call<{ referenceNumber: string }>('POST', '/sessions/online/{referenceNumber}/invoices', {
      params: { referenceNumber: ref },
      token: seller.accessToken,
      body: KsefTestClient.invoiceBody(key, iv, bad, true),
    });
    expect(first.status).toBe(202);
    let code = 100;
    for (let i = 0; i < 500 && code === 100; i++) {
      const st = await client.call<{ status: { code: number } }>('GET', '/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}', {
        params: { referenceNumber: ref, invoiceReferenceNumber: first.json.referenceNumber },
        token: seller.accessToken,
      });
      code = st.json.status.code;
      if (code === 100) await new Promise((r) => setTimeout(r, 10));
    }
    expect(code).toBe(430);
    const correction = await client.call('POST', '/sessions/online/{referenceNumber}/invoices', {
      params: { referenceNumber: ref },
      token: seller.accessToken,
      body: { ...KsefTestClient.invoiceBody(key, iv, good, true), hashOfCorrectedInvoice: sha256b64(Buffer.from(bad, 'utf8')) },
    });
    expect(correction.status, correction.text).toBe(202);
    expect((await client.call('POST', '/sessions/online/{referenceNumber}/close', { params: { referenceNumber: ref }, token: seller.accessToken })).status).toBe(204);
    await client.waitSession(ref, seller.accessToken, (c) => c >= 200, 10);
    const list = await allPages(buyer.accessToken, storage({ invoiceNumber: spec.number }));
    expect(list).toHaveLength(1);
    expect(list[0]?.hashOfCorrectedInvoice).toBe(sha256b64(Buffer.from(bad, 'utf8')));
    expect(list[0]?.invoicingMode).toBe('Offline');
    record(spec, { ksefNumber: list[0]?.ksefNumber as string, xml: good, number: spec.number, offline: true });
    // invoices that are no technical correction do not say it
    const others = await allPages(buyer.accessToken, storage());
    expect(others.filter((i) => i.hashOfCorrectedInvoice !== undefined).map((i) => i.ksefNumber)).toEqual([list[0]?.ksefNumber]);
  });
});

describe('isTruncated: the result cap of one set of filters (queryResultCap lowered to 15)', () => {
  let small: TestEnv;
  let expected: string[];
  let token: string;

  beforeAll(async () => {
    small = await startTestEmulator({ tokens: ALL_TOKENS, invoiceDownload: { queryResultCap: 15 } });
    const seller = await small.client.authenticate(SELLER_NIP, SELLER_TOKEN);
    const out = await sendOnline(
      small.client,
      seller,
      Array.from({ length: 23 }, (_, i) => ({ xml: richInvoice({ sellerNip: SELLER_NIP, buyer: { nip: BUYER_NIP }, number: uniqueNumber(`T/${i}`), issueDate: polishDate(0) }) })),
    );
    expected = out.map((o) => o.ksefNumber).sort();
    token = (await small.client.authenticate(BUYER_NIP, BUYER_TOKEN)).accessToken;
  }, 60_000);
  afterAll(async () => small.emu.close());

  const q = (filters: object, o: { pageOffset?: number; pageSize?: number; sortOrder?: 'Asc' | 'Desc' }) => queryMetadata(small.client, token, filters, o);

  it('says isTruncated on the page that reaches the cap, and on pages past it', async () => {
    const f = { subjectType: 'Subject2', dateRange: { dateType: 'PermanentStorage', from: hourAgo() } };
    const p0 = await q(f, { pageSize: 10 });
    expect([p0.json.hasMore, p0.json.isTruncated, p0.json.invoices.length]).toEqual([true, false, 10]);
    const p1 = await q(f, { pageSize: 10, pageOffset: 1 });
    expect([p1.json.hasMore, p1.json.isTruncated, p1.json.invoices.length]).toEqual([true, true, 5]);
    const p2 = await q(f, { pageSize: 10, pageOffset: 2 });
    expect([p2.json.hasMore, p2.json.isTruncated, p2.json.invoices.length]).toEqual([true, true, 0]);
    // a set of filters within the cap is not truncated
    const few = await q({ ...f, invoiceTypes: ['Vat'], currencyCodes: ['EUR'] }, { pageSize: 10 });
    expect([few.json.hasMore, few.json.isTruncated]).toEqual([false, false]);
  });

  for (const sortOrder of ['Asc', 'Desc'] as const) {
    it(`the documented loop (${sortOrder}): narrow dateRange from the last record's date, reset pageOffset, until hasMore = false`, async () => {
      const seen = new Map<string, number>();
      let from = hourAgo();
      let to: string | undefined = new Date(Date.now() + 60_000).toISOString();
      let pageOffset = 0;
      let requests = 0;
      for (;;) {
        const r = await q({ subjectType: 'Subject2', dateRange: { dateType: 'PermanentStorage', from, ...(to ? { to } : {}) } }, { pageOffset, pageSize: 10, sortOrder });
        expect(r.status).toBe(200);
        requests++;
        expect(requests).toBeLessThan(20);
        for (const i of r.json.invoices) seen.set(i.ksefNumber, (seen.get(i.ksefNumber) ?? 0) + 1);
        if (!r.json.hasMore) break;
        if (!r.json.isTruncated) {
          pageOffset++;
          continue;
        }
        const last = r.json.invoices[r.json.invoices.length - 1] as InvoiceMetadata;
        if (sortOrder === 'Asc') from = last.permanentStorageDate;
        else to = last.permanentStorageDate;
        pageOffset = 0;
      }
      expect([...seen.keys()].sort()).toEqual(expected);
      // the inclusive seam repeats exactly the record the window restarted from
      expect([...seen.values()].filter((n) => n > 1)).toEqual([2]);
    });
  }
});
