/**
 * Invoice exports, written from pobieranie-faktur.md, przyrostowe-pobieranie-faktur.md, hwm.md and the contract
 * (POST /invoices/exports, GET /invoices/exports/{referenceNumber}): the package is downloaded from the part URLs
 * without a token, each part decrypted with the AES key we sent, the parts joined and unpacked; `_metadata.json` is
 * checked against the contract's InvoiceMetadata and against the invoice files. Limits are lowered through the
 * emulator's `invoiceDownload` options to see truncation without thousands of invoices.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkResponse } from './helpers/contract.js';
import { sha256b64, type KsefTestClient, type Tokens } from './helpers/client.js';
import { BUYER_NIP, OTHER_NIP, OTHER_TOKEN, SELLER_NIP, SELLER_TOKEN, polishDate, startTestEmulator, uniqueNumber, type TestEnv } from './helpers/setup.js';
import {
  downloadPackage,
  exceptionCode,
  isoToMicros,
  queryMetadata,
  richInvoice,
  sendOnline,
  startExport,
  unpack,
  waitExport,
  type ExportStatus,
  type InvoiceMetadata,
  type SentInvoice,
  type UnpackedPackage,
} from './helpers/buyer.js';
import type { InvoiceDownloadOptions } from '../../src/emulator/routes/invoices-query.js';

const BUYER_TOKEN = 'buyer-ksef-token-0003';
const TOKENS = [
  { nip: SELLER_NIP, token: SELLER_TOKEN },
  { nip: OTHER_NIP, token: OTHER_TOKEN },
  { nip: BUYER_NIP, token: BUYER_TOKEN },
];
const hourAgo = () => new Date(Date.now() - 3_600_000).toISOString();
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

interface World {
  env: TestEnv;
  client: KsefTestClient;
  buyer: Tokens;
  seller: Tokens;
  other: Tokens;
  /** Invoices naming the buyer, in the order sent. */
  toBuyer: SentInvoice[];
}

async function world(n: number, invoiceDownload: InvoiceDownloadOptions = {}, fakeClock = false): Promise<World> {
  const env = await startTestEmulator({ tokens: TOKENS, invoiceDownload, fakeClock });
  const client = env.client;
  const seller = await client.authenticate(SELLER_NIP, SELLER_TOKEN);
  const other = await client.authenticate(OTHER_NIP, OTHER_TOKEN);
  const buyer = await client.authenticate(BUYER_NIP, BUYER_TOKEN);
  const w: World = { env, client, buyer, seller, other, toBuyer: [] };
  if (n > 0) await sendMore(w, n);
  return w;
}

/** The seller sends `n` invoices to the buyer (and one to somebody else, which the buyer must never get). */
async function sendMore(w: World, n: number, sender: 'seller' | 'other' = 'seller'): Promise<SentInvoice[]> {
  const nip = sender === 'seller' ? SELLER_NIP : OTHER_NIP;
  const docs = Array.from({ length: n }, (_, i) => ({
    xml: richInvoice({ sellerNip: nip, buyer: { nip: BUYER_NIP }, number: uniqueNumber(`EX/${i}`), issueDate: polishDate(-(i % 4)), net: 10 + i }),
  }));
  docs.push({ xml: richInvoice({ sellerNip: nip, buyer: { nip: '1234563218' }, number: uniqueNumber('EX/NOT-BUYER'), issueDate: polishDate(0) }) });
  const out = await sendOnline(w.client, sender === 'seller' ? w.seller : w.other, docs);
  const mine = out.slice(0, n);
  w.toBuyer.push(...mine);
  return mine;
}

/** Checks a downloaded package against itself and the contract; returns the metadata in package order. */
function checkPackage(u: UnpackedPackage, status: ExportStatus, sent: SentInvoice[], onlyMetadata = false): InvoiceMetadata[] {
  const list = u.metadata.invoices;
  const contract = checkResponse('POST', '/invoices/query/metadata', 200, 'application/json', { hasMore: false, isTruncated: false, invoices: list });
  expect(contract.errors).toEqual([]);
  expect(list).toHaveLength(status.package?.invoiceCount ?? -1);
  const times = list.map((i) => isoToMicros(i.permanentStorageDate));
  expect(times).toEqual([...times].sort((a, b) => a - b));
  const byKsef = new Map(sent.map((s) => [s.ksefNumber, s]));
  if (onlyMetadata) expect(u.files.size).toBe(0);
  else {
    expect([...u.files.keys()].sort()).toEqual(list.map((i) => `${i.ksefNumber}.xml`).sort());
    for (const m of list) {
      const xml = u.files.get(`${m.ksefNumber}.xml`) as Buffer;
      expect(sha256b64(xml)).toBe(m.invoiceHash);
      const s = byKsef.get(m.ksefNumber);
      if (s) expect(xml.toString('utf8')).toBe(s.xml);
    }
  }
  return list;
}

async function exportAndRead(w: World, body: { filters: object; onlyMetadata?: boolean; compressionType?: 'Zip' | 'TarGz' }, token = w.buyer.accessToken) {
  const started = await startExport(w.client, token, body);
  const status = await waitExport(w.client, token, started.referenceNumber);
  expect(status.status.code, JSON.stringify(status.status)).toBe(200);
  const pkg = status.package as NonNullable<ExportStatus['package']>;
  const archive = await downloadPackage(pkg, started.key, started.iv);
  const u = await unpack(archive, body.compressionType ?? 'Zip');
  return { started, status, pkg, u };
}

const byStorage = (from: string, extra: Record<string, unknown> = {}, subjectType = 'Subject2') => ({
  subjectType,
  dateRange: { dateType: 'PermanentStorage', from, ...extra },
});

describe('export of the buyer\'s invoices (parts of 4 KB)', () => {
  let w: World;
  beforeAll(async () => {
    w = await world(12, { exportPartSize: 4096 }, true);
    await sendMore(w, 2, 'other');
  }, 60_000);
  afterAll(async () => w.env.emu.close());

  it('builds an encrypted ZIP in parts with _metadata.json and {ksefNumber}.xml files, as the metadata query sees them', async () => {
    const filters = byStorage(hourAgo(), { to: inAnHour(), restrictToPermanentStorageHwmDate: true });
    const { status, pkg, u } = await exportAndRead(w, { filters });
    expect(status.status).toEqual({ code: 200, description: 'Eksport faktur zakończony sukcesem' });
    expect(typeof status.completedDate).toBe('string');
    expect(Date.parse(status.packageExpirationDate as string)).toBeGreaterThan(Date.parse(status.completedDate as string));
    expect(pkg.parts.length).toBeGreaterThan(1);
    for (const p of pkg.parts) {
      expect(p.method).toBe('GET');
      expect(p.url.startsWith(`${w.env.emu.url}/`)).toBe(true);
      expect(p.partSize).toBeLessThanOrEqual(4096);
      expect(p.partName).toMatch(/\.zip\.aes$/);
      expect(Date.parse(p.expirationDate)).toBeGreaterThan(Date.now() - 1000);
    }
    expect(pkg.isTruncated).toBe(false);
    expect(pkg.lastPermanentStorageDate ?? null).toBeNull();
    expect(typeof pkg.permanentStorageHwmDate).toBe('string');
    const list = checkPackage(u, status, w.toBuyer);
    expect(list.map((i) => i.ksefNumber).sort()).toEqual(w.toBuyer.map((s) => s.ksefNumber).sort());
    // _metadata.json holds the same InvoiceMetadata objects as POST /invoices/query/metadata
    const q = await queryMetadata(w.client, w.buyer.accessToken, filters, { pageSize: 250 });
    expect(list).toEqual(q.json.invoices);
    for (const m of list) expect(isoToMicros(m.permanentStorageDate)).toBeLessThanOrEqual(isoToMicros(pkg.permanentStorageHwmDate as string));
  });

  it('a part URL works without a token but not with a changed signature', async () => {
    const started = await startExport(w.client, w.buyer.accessToken, { filters: byStorage(hourAgo()) });
    const status = await waitExport(w.client, w.buyer.accessToken, started.referenceNumber);
    const part = status.package?.parts[0] as { url: string };
    expect((await fetch(part.url)).status).toBe(200);
    const tampered = part.url.replace(/sig=([^&]+)/, (_, s: string) => `sig=${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`);
    expect((await fetch(tampered)).status).toBe(403);
  });

  it('TarGz packages hold the same files', async () => {
    const { status, pkg, u } = await exportAndRead(w, { filters: byStorage(hourAgo()), compressionType: 'TarGz' });
    expect(pkg.parts.every((p) => p.partName.endsWith('.tar.gz.aes'))).toBe(true);
    const list = checkPackage(u, status, w.toBuyer);
    expect(list.map((i) => i.ksefNumber).sort()).toEqual(w.toBuyer.map((s) => s.ksefNumber).sort());
  });

  it('onlyMetadata gives _metadata.json alone', async () => {
    const { status, u } = await exportAndRead(w, { filters: byStorage(hourAgo()), onlyMetadata: true });
    const list = checkPackage(u, status, w.toBuyer, true);
    expect(list).toHaveLength(w.toBuyer.length);
    expect(u.names).toEqual(['_metadata.json']);
  });

  it('filters apply as in the metadata query; Invoicing exports have no high-water mark', async () => {
    const { status, u } = await exportAndRead(w, {
      filters: { subjectType: 'Subject2', dateRange: { dateType: 'Invoicing', from: hourAgo() }, sellerNip: OTHER_NIP },
    });
    expect(status.package?.permanentStorageHwmDate ?? null).toBeNull();
    const list = checkPackage(u, status, w.toBuyer);
    expect(list.map((i) => i.seller.nip)).toEqual([OTHER_NIP, OTHER_NIP]);
    const seller = await exportAndRead(w, { filters: byStorage(hourAgo(), {}, 'Subject1') }, w.seller.accessToken);
    // as Subject1 the seller also gets the invoice sendMore addressed to somebody else
    expect(seller.pkg.invoiceCount).toBe(w.toBuyer.filter((x) => x.xml.includes(`<NIP>${SELLER_NIP}</NIP>`)).length + 1);
  });

  it('an empty result is a package with an empty _metadata.json', async () => {
    const { status, pkg, u } = await exportAndRead(w, { filters: byStorage(hourAgo(), {}, 'Subject3') });
    expect(pkg.invoiceCount).toBe(0);
    expect(checkPackage(u, status, [])).toEqual([]);
  });

  it('errors: unknown key id (21470), bad IV (21405), bad range (21405), undecryptable key (status 415), from after the mark (status 420), unknown or foreign reference (21175), no token (401)', async () => {
    const c = w.client;
    const t = w.buyer.accessToken;
    const { encryption } = c.newEncryption();
    const filters = byStorage(hourAgo());
    const post = (body: object) => c.call<{ referenceNumber: string }>('POST', '/invoices/exports', { token: t, body });
    expect(exceptionCode(await post({ encryption: { ...encryption, publicKeyId: sha256b64(Buffer.from('x')) }, filters }))).toBe(21470);
    expect(exceptionCode(await post({ encryption: { ...encryption, initializationVector: Buffer.alloc(8).toString('base64') }, filters }))).toBe(21405);
    expect(exceptionCode(await post({ encryption, filters: byStorage(new Date(Date.now() - 120 * 86_400_000).toISOString()) }))).toBe(21405);
    expect(exceptionCode(await post({ encryption }))).toBe(21405);
    const badKey = await post({ encryption: { ...encryption, encryptedSymmetricKey: Buffer.alloc(256, 7).toString('base64') }, filters });
    expect(badKey.status).toBe(201);
    const st415 = await waitExport(c, t, badKey.json.referenceNumber);
    expect(st415.status.code).toBe(415);
    expect(st415.package ?? null).toBeNull();
    const ahead = await post({
      encryption,
      filters: byStorage(new Date(Date.now() + 60_000).toISOString(), { to: new Date(Date.now() + 3_600_000).toISOString(), restrictToPermanentStorageHwmDate: true }),
    });
    const st420 = await waitExport(c, t, ahead.json.referenceNumber);
    expect(st420.status.code).toBe(420);
    expect(st420.status.details?.[0]).toContain('restrictToPermanentStorageHwmDate');
    const ok = await startExport(c, t, { filters });
    const foreign = await c.call('GET', '/invoices/exports/{referenceNumber}', { params: { referenceNumber: ok.referenceNumber }, token: w.seller.accessToken });
    expect(exceptionCode(foreign)).toBe(21175);
    const unknown = await c.call('GET', '/invoices/exports/{referenceNumber}', { params: { referenceNumber: ok.referenceNumber.replace(/.{2}$/, '00') }, token: t });
    expect(exceptionCode(unknown)).toBe(21175);
    expect((await c.call('GET', '/invoices/exports/{referenceNumber}', { params: { referenceNumber: ok.referenceNumber } })).status).toBe(401);
    expect((await c.call('POST', '/invoices/exports', { body: { encryption, filters } })).status).toBe(401);
  });

  it('the package expires (status 210, links dead), and the status itself after 7 days (410)', async () => {
    const started = await startExport(w.client, w.buyer.accessToken, { filters: byStorage(hourAgo()) });
    const done = await waitExport(w.client, w.buyer.accessToken, started.referenceNumber);
    const url = (done.package?.parts[0] as { url: string }).url;
    w.env.advance(Date.parse(done.packageExpirationDate as string) - Date.now() + 60_000);
    const buyer = await w.client.authenticate(BUYER_NIP, BUYER_TOKEN); // the old access token has expired meanwhile
    const expired = await w.client.call<ExportStatus>('GET', '/invoices/exports/{referenceNumber}', { params: { referenceNumber: started.referenceNumber }, token: buyer.accessToken });
    expect(expired.json.status).toEqual({ code: 210, description: 'Eksport faktur wygasł i nie jest już dostępny do pobrania' });
    expect(expired.json.package ?? null).toBeNull();
    expect((await fetch(url)).status).toBe(403);
    w.env.advance(7 * 86_400_000);
    const later = await w.client.authenticate(BUYER_NIP, BUYER_TOKEN);
    const gone = await w.client.call<{ status: number; detail: string }>('GET', '/invoices/exports/{referenceNumber}', {
      params: { referenceNumber: started.referenceNumber },
      token: later.accessToken,
    });
    expect(gone.status).toBe(410);
    expect(gone.json.status).toBe(410);
  });
});

describe('truncation at the invoice-count limit (lowered to 5) and incremental synchronisation with the high-water mark', () => {
  let w: World;
  beforeAll(async () => {
    w = await world(12, { exportMaxInvoices: 5 });
  }, 60_000);
  afterAll(async () => w.env.emu.close());

  it('a truncated package holds the first invoices in ascending order and says lastPermanentStorageDate', async () => {
    const { status, pkg, u } = await exportAndRead(w, { filters: byStorage(hourAgo()) });
    expect(pkg.isTruncated).toBe(true);
    expect(pkg.invoiceCount).toBe(5);
    const list = checkPackage(u, status, w.toBuyer);
    const q = await queryMetadata(w.client, w.buyer.accessToken, byStorage(hourAgo()), { pageSize: 250 });
    expect(list.map((i) => i.ksefNumber)).toEqual(q.json.invoices.slice(0, 5).map((i) => i.ksefNumber));
    expect(pkg.lastPermanentStorageDate).toBe((list[4] as InvoiceMetadata).permanentStorageDate);
    expect(typeof pkg.permanentStorageHwmDate).toBe('string');
    expect(pkg.lastIssueDate ?? null).toBeNull();
  });

  it('Issue and Invoicing exports say lastIssueDate / lastInvoicingDate when truncated', async () => {
    const issue = await exportAndRead(w, { filters: { subjectType: 'Subject2', dateRange: { dateType: 'Issue', from: `${polishDate(-5)}T00:00:00Z` } } });
    expect(issue.pkg.isTruncated).toBe(true);
    const issueList = issue.u.metadata.invoices;
    expect(issue.pkg.lastIssueDate).toBe((issueList[4] as InvoiceMetadata).issueDate);
    expect(issueList.map((i) => i.issueDate)).toEqual([...issueList.map((i) => i.issueDate)].sort());
    expect(issue.pkg.permanentStorageHwmDate ?? null).toBeNull();
    const inv = await exportAndRead(w, { filters: { subjectType: 'Subject2', dateRange: { dateType: 'Invoicing', from: hourAgo() } } });
    expect(inv.pkg.isTruncated).toBe(true);
    expect(Date.parse(inv.pkg.lastInvoicingDate as string)).toBe(Date.parse((inv.u.metadata.invoices[4] as InvoiceMetadata).invoicingDate));
  });

  it('incremental loop: continue from lastPermanentStorageDate when truncated, else from permanentStorageHwmDate; no gaps, duplicates only at the seam', async () => {
    const start = hourAgo();
    let from = start;
    const local = new Map<string, InvoiceMetadata>();
    const plan = [0, 4, 0, 3, 0, 0, 0, 0, 0]; // invoices the seller sends before each round
    let rounds = 0;
    let duplicates = 0;
    let lastWasComplete = false;
    for (const more of plan) {
      if (more) await sendMore(w, more);
      const { status, pkg, u } = await exportAndRead(w, { filters: byStorage(from, { restrictToPermanentStorageHwmDate: true }) });
      rounds++;
      const list = checkPackage(u, status, w.toBuyer);
      const hwm = isoToMicros(pkg.permanentStorageHwmDate as string);
      for (const m of list) {
        const t = isoToMicros(m.permanentStorageDate);
        expect(t).toBeGreaterThanOrEqual(isoToMicros(from));
        expect(t).toBeLessThanOrEqual(hwm);
        if (local.has(m.ksefNumber)) {
          duplicates++;
          // the only repeat is the record the window restarted from
          expect(t).toBe(isoToMicros(from));
        }
        local.set(m.ksefNumber, m);
      }
      if (pkg.isTruncated) from = pkg.lastPermanentStorageDate as string;
      else from = pkg.permanentStorageHwmDate as string;
      lastWasComplete = !pkg.isTruncated;
    }
    expect(lastWasComplete).toBe(true);
    expect(rounds).toBe(plan.length);
    // everything sent to the buyer arrived exactly once after de-duplication by KSeF number
    expect([...local.keys()].sort()).toEqual(w.toBuyer.map((s) => s.ksefNumber).sort());
    expect(duplicates).toBeLessThan(rounds);
    // a last window from the final mark finds nothing new
    const tail = await exportAndRead(w, { filters: byStorage(from, { restrictToPermanentStorageHwmDate: true }) });
    expect(tail.u.metadata.invoices.filter((m) => !local.has(m.ksefNumber))).toEqual([]);
  });
});

describe('truncation at the compressed-size limit', () => {
  let w: World;
  beforeAll(async () => {
    w = await world(8, { exportMaxCompressedBytes: 2000 });
  }, 60_000);
  afterAll(async () => w.env.emu.close());

  it('stops before the invoice that would cross the limit; _metadata.json is not counted; continuing gets the rest', async () => {
    const first = await exportAndRead(w, { filters: byStorage(hourAgo()) });
    expect(first.pkg.isTruncated).toBe(true);
    expect(first.pkg.invoiceCount).toBeGreaterThan(0);
    expect(first.pkg.invoiceCount).toBeLessThan(8);
    const got = new Set(checkPackage(first.u, first.status, w.toBuyer).map((m) => m.ksefNumber));
    let from = first.pkg.lastPermanentStorageDate as string;
    for (let i = 0; i < 10; i++) {
      const next = await exportAndRead(w, { filters: byStorage(from) });
      for (const m of checkPackage(next.u, next.status, w.toBuyer)) got.add(m.ksefNumber);
      if (!next.pkg.isTruncated) break;
      from = next.pkg.lastPermanentStorageDate as string;
    }
    expect([...got].sort()).toEqual(w.toBuyer.map((s) => s.ksefNumber).sort());
    // with onlyMetadata nothing but the invoice-count limit applies
    const meta = await exportAndRead(w, { filters: byStorage(hourAgo()), onlyMetadata: true });
    expect(meta.pkg.isTruncated).toBe(false);
    expect(meta.pkg.invoiceCount).toBe(8);
  });
});

describe('exports in progress per context (limit lowered to 2, slow exports)', () => {
  let w: World;
  beforeAll(async () => {
    w = await world(1, { maxConcurrentExports: 2, exportDelayMs: 60_000 });
  }, 60_000);
  afterAll(async () => w.env.emu.close());

  it('a third concurrent export is refused with 21182; another context is not affected', async () => {
    const a = await startExport(w.client, w.buyer.accessToken, { filters: byStorage(hourAgo()) });
    await startExport(w.client, w.buyer.accessToken, { filters: byStorage(hourAgo()) });
    const st = await w.client.call<ExportStatus>('GET', '/invoices/exports/{referenceNumber}', { params: { referenceNumber: a.referenceNumber }, token: w.buyer.accessToken });
    expect(st.json.status).toEqual({ code: 100, description: 'Eksport faktur w toku' });
    const { encryption } = w.client.newEncryption();
    const third = await w.client.call('POST', '/invoices/exports', { token: w.buyer.accessToken, body: { encryption, filters: byStorage(hourAgo()) } });
    expect(third.status).toBe(400);
    expect(exceptionCode(third)).toBe(21182);
    await startExport(w.client, w.seller.accessToken, { filters: byStorage(hourAgo(), {}, 'Subject1') });
  });
});
