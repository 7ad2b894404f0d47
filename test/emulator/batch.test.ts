import crypto from 'node:crypto';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getXsdValidator } from '../../src/schemas/index.js';
import { aesEncrypt, sha256b64, type KsefTestClient, type Tokens } from './helpers/client.js';
import { fa3Invoice } from './helpers/fa3.js';
import { buildTarGz, buildZip, openBatchBody, splitAndEncrypt, uploadPart, type EncryptedPart, type PackageFile } from './helpers/batch.js';
import { BUYER_NIP, FORM_CODE, OTHER_NIP, SELLER_NIP, checkKsefNumber, polishDate, sellerTokens, startTestEmulator, uniqueNumber, type TestEnv } from './helpers/setup.js';

interface UploadRequest {
  ordinalNumber: number;
  method: string;
  url: string;
  headers: Record<string, string>;
}
interface SessionStatus {
  status: { code: number; description: string; details?: string[] };
  invoiceCount?: number;
  successfulInvoiceCount?: number;
  failedInvoiceCount?: number;
  upo?: { pages: { referenceNumber: string; downloadUrl: string }[] };
}
interface InvoiceStatus {
  ordinalNumber: number;
  invoiceFileName?: string;
  ksefNumber?: string;
  invoiceHash: string;
  status: { code: number; extensions?: Record<string, string> };
}
const code = (r: { json: unknown }): number | undefined =>
  (r.json as { exception?: { exceptionDetailList: { exceptionCode: number }[] } }).exception?.exceptionDetailList[0]?.exceptionCode;

let env: TestEnv;
let client: KsefTestClient;
let tokens: Tokens;
const today = polishDate(0);
const upoXsd = getXsdValidator('upo');

beforeAll(async () => {
  env = await startTestEmulator({ fakeClock: true });
  client = env.client;
  tokens = await sellerTokens(client);
});
afterAll(async () => env.emu.close());

function invoices(n: number, prefix: string): PackageFile[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `faktura-${String(i + 1).padStart(5, '0')}.xml`,
    content: Buffer.from(fa3Invoice({ sellerNip: SELLER_NIP, buyerNip: BUYER_NIP, number: `${prefix}/${i + 1}`, issueDate: today, lines: 8 })),
  }));
}

async function open(pkg: Buffer, parts: EncryptedPart[], encryption: object, compression?: 'Zip' | 'TarGz', t = tokens) {
  const r = await client.call<{ referenceNumber: string; partUploadRequests: UploadRequest[] }>('POST', '/sessions/batch', {
    token: t.accessToken,
    body: openBatchBody(pkg, parts, encryption, compression),
  });
  return r;
}

async function uploadAll(reqs: UploadRequest[], parts: EncryptedPart[]): Promise<void> {
  for (const p of parts) {
    const req = reqs.find((r) => r.ordinalNumber === p.ordinalNumber) as UploadRequest;
    const res = await uploadPart(req, p.data);
    expect(res.status).toBe(201);
  }
}

const close = (ref: string) => client.call('POST', '/sessions/batch/{referenceNumber}/close', { params: { referenceNumber: ref }, token: tokens.accessToken });
const finish = async (ref: string) => (await client.waitSession(ref, tokens.accessToken, (c) => c >= 200)) as unknown as SessionStatus;

async function allInvoices(ref: string): Promise<InvoiceStatus[]> {
  const out: InvoiceStatus[] = [];
  let cont: string | undefined;
  do {
    const r = await client.call<{ invoices: InvoiceStatus[]; continuationToken?: string }>('GET', '/sessions/{referenceNumber}/invoices', {
      params: { referenceNumber: ref },
      query: { pageSize: 1000 },
      token: tokens.accessToken,
      ...(cont ? { headers: { 'x-continuation-token': cont } } : {}),
    });
    out.push(...r.json.invoices);
    cont = r.json.continuationToken ?? undefined;
  } while (cont);
  return out;
}

async function runBatch(files: PackageFile[], compression: 'Zip' | 'TarGz', partCount: number) {
  const pkg = compression === 'TarGz' ? await buildTarGz(files) : buildZip(files);
  const { key, iv, encryption } = client.newEncryption();
  const parts = splitAndEncrypt(pkg, partCount, key, iv);
  const o = await open(pkg, parts, encryption, compression);
  expect(o.status).toBe(201);
  expect(o.json.partUploadRequests).toHaveLength(parts.length);
  for (const r of o.json.partUploadRequests) {
    expect(r.method).toBe('PUT');
    expect(r.headers).toEqual({ 'x-ms-blob-type': 'BlockBlob' });
    expect(r.url.startsWith(env.emu.url)).toBe(true);
  }
  const ref = o.json.referenceNumber;
  const st = await client.call<SessionStatus>('GET', '/sessions/{referenceNumber}', { params: { referenceNumber: ref }, token: tokens.accessToken });
  expect(st.json.status).toEqual({ code: 100, description: 'Sesja wsadowa rozpoczęta' });
  await uploadAll(o.json.partUploadRequests, parts);
  expect((await close(ref)).status).toBe(204);
  return { ref, final: await finish(ref), parts: parts.length };
}

/** One header block (ustar, mode 644) followed by the data padded to 512 bytes. */
function tarBlock(name: string, type: string, data: Buffer): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write(type, 156, 'latin1');
  h.write('ustar\u000000', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return Buffer.concat([h, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

/** A batch session with a package built by the test itself (one part). */
async function runRaw(pkg: Buffer, compression: 'Zip' | 'TarGz') {
  const { key, iv, encryption } = client.newEncryption();
  const parts = splitAndEncrypt(pkg, 1, key, iv);
  const o = await open(pkg, parts, encryption, compression);
  expect(o.status).toBe(201);
  await uploadAll(o.json.partUploadRequests, parts);
  expect((await close(o.json.referenceNumber)).status).toBe(204);
  return { ref: o.json.referenceNumber, final: await finish(o.json.referenceNumber) };
}

describe('batch session with 10,000 invoices', () => {
  for (const compression of ['Zip', 'TarGz'] as const) {
    it(`processes a ${compression} package split into several parts`, async () => {
      const files = invoices(10_000, uniqueNumber(`BATCH-${compression}`));
      // a few invoices that must fail, at known positions
      files[10] = { name: files[10]?.name as string, content: Buffer.from(fa3Invoice({ sellerNip: SELLER_NIP, number: 'X', issueDate: today }).replace(/<P_2>X<\/P_2>\n/, '')) };
      files[20] = { name: files[20]?.name as string, content: files[0]?.content as Buffer }; // duplicate of the first
      const { ref, final, parts } = await runBatch(files, compression, 3);
      expect(parts).toBe(3);
      expect(final.status).toEqual({ code: 200, description: 'Sesja wsadowa przetworzona pomyślnie' });
      expect(final.invoiceCount).toBe(10_000);
      expect(final.successfulInvoiceCount).toBe(9_998);
      expect(final.failedInvoiceCount).toBe(2);
      const list = await allInvoices(ref);
      expect(list).toHaveLength(10_000);
      expect(list[10]?.status.code).toBe(430);
      expect(list[20]?.status.code).toBe(440);
      expect(list[20]?.status.extensions?.originalKsefNumber).toBe(list[0]?.ksefNumber);
      expect(list[0]?.invoiceFileName).toBe('faktura-00001.xml');
      expect(list[0]?.invoiceHash).toBe(sha256b64(files[0]?.content as Buffer));
      expect(list.filter((i) => i.ksefNumber).every((i) => checkKsefNumber(i.ksefNumber as string, SELLER_NIP))).toBe(true);
      const pages = final.upo?.pages ?? [];
      expect(pages).toHaveLength(1);
      const upo = await client.call('GET', '/sessions/{referenceNumber}/upo/{upoReferenceNumber}', {
        params: { referenceNumber: ref, upoReferenceNumber: pages[0]?.referenceNumber as string },
        token: tokens.accessToken,
      });
      expect(upoXsd.validate(upo.bytes)).toEqual({ valid: true, issues: [] });
      expect(upo.text.match(/<Dokument>/g)).toHaveLength(9_998);
    });
  }
});

describe('batch package errors (session status codes)', () => {
  const small = () => invoices(5, uniqueNumber('ERR'));

  it('405 when an uploaded part does not match its declared hash', async () => {
    const pkg = buildZip(small());
    const { key, iv, encryption } = client.newEncryption();
    const parts = splitAndEncrypt(pkg, 2, key, iv);
    const o = await open(pkg, parts, encryption);
    const tampered = parts.map((p) => (p.ordinalNumber === 2 ? { ...p, data: Buffer.from(p.data).fill(1, 0, 16) } : p));
    await uploadAll(o.json.partUploadRequests, tampered);
    expect((await close(o.json.referenceNumber)).status).toBe(204);
    const f = await finish(o.json.referenceNumber);
    expect(f.status.code).toBe(405);
    expect(f.status.description).toBe('Błąd weryfikacji poprawności dostarczonych elementów paczki');
  });

  it('435 when a part cannot be decrypted with the session key', async () => {
    const pkg = buildZip(small());
    const { key, iv, encryption } = client.newEncryption();
    const enc = aesEncrypt(key, iv, pkg);
    const broken = enc.subarray(0, enc.length - 5); // not a whole number of AES blocks, declared as it is
    const parts: EncryptedPart[] = [{ ordinalNumber: 1, data: broken, fileSize: broken.length, fileHash: sha256b64(broken) }];
    const o = await open(pkg, parts, encryption);
    await uploadAll(o.json.partUploadRequests, parts);
    await close(o.json.referenceNumber);
    expect((await finish(o.json.referenceNumber)).status.code).toBe(435);
  });

  it('430 when the package cannot be decompressed', async () => {
    const notZip = crypto.randomBytes(5000);
    const { key, iv, encryption } = client.newEncryption();
    const parts = splitAndEncrypt(notZip, 1, key, iv);
    const o = await open(notZip, parts, encryption);
    await uploadAll(o.json.partUploadRequests, parts);
    await close(o.json.referenceNumber);
    const f = await finish(o.json.referenceNumber);
    expect(f.status).toMatchObject({ code: 430, description: 'Błąd dekompresji pierwotnego archiwum' });

    const zip = buildZip(small());
    const p2 = splitAndEncrypt(zip, 1, key, iv);
    const o2 = await open(zip, p2, encryption, 'TarGz'); // declared tar.gz, sent ZIP
    await uploadAll(o2.json.partUploadRequests, p2);
    await close(o2.json.referenceNumber);
    expect((await finish(o2.json.referenceNumber)).status.code).toBe(430);
  });

  it('tar.gz: long names (ustar prefix, pax path, GNU long name) are read; a damaged header gives 430', async () => {
    const deep = `${'katalog-o-dlugiej-nazwie/'.repeat(5)}faktura-1.xml`; // > 100 characters: ustar prefix
    const deeper = `${'x'.repeat(120)}/${'f'.repeat(110)}.xml`; // too long for a prefix: pax path
    const gnu = `${'g'.repeat(150)}.xml`; // GNU long name header written by hand below
    const [a, b, c] = invoices(3, uniqueNumber('TAR-NAMES'));
    const pack = tar.pack();
    pack.entry({ name: deep, size: (a as PackageFile).content.length }, (a as PackageFile).content);
    pack.entry({ name: deeper, size: (b as PackageFile).content.length }, (b as PackageFile).content);
    pack.entry({ name: 'katalog/', type: 'directory' });
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const ch of pack) chunks.push(ch as Buffer);
    const body = Buffer.concat(chunks);
    const end = body.length - 1024; // before the two zero blocks that close the archive
    const gnuTar = Buffer.concat([body.subarray(0, end), tarBlock('././@LongLink', 'L', Buffer.from(`${gnu}\0`)), tarBlock('short.xml', '0', (c as PackageFile).content), Buffer.alloc(1024)]);
    const r = await runRaw(zlib.gzipSync(gnuTar), 'TarGz');
    expect(r.final.status.code).toBe(200);
    const names = (await allInvoices(r.ref)).map((i) => i.invoiceFileName).sort();
    expect(names).toEqual([deep, deeper, gnu].map((n) => n.slice(-128)).sort());

    const damaged = Buffer.from(gnuTar);
    damaged[10] = (damaged[10] as number) ^ 0x01; // a byte of the first header's name: its checksum no longer matches
    const bad = await runRaw(zlib.gzipSync(damaged), 'TarGz');
    expect(bad.final.status).toMatchObject({ code: 430, description: 'Błąd dekompresji pierwotnego archiwum' });
  });

  it('checks the bytes of each invoice: UTF-8, discouraged characters, prolog encoding; reads Polish and escaped numbers', async () => {
    const base = uniqueNumber('ENC');
    const doc = (number: string, footer?: string) => fa3Invoice({ sellerNip: SELLER_NIP, buyerNip: BUYER_NIP, number, issueDate: today, ...(footer ? { footerText: footer } : {}) });
    const cases: { name: string; content: Buffer; code: number; number?: string }[] = [
      { name: 'polish.xml', content: Buffer.from(doc(`${base}/Zażółć gęślą jaźń`)), code: 200, number: `${base}/Zażółć gęślą jaźń` },
      { name: 'entities.xml', content: Buffer.from(doc(`${base}/A&B<C>`)), code: 200, number: `${base}/A&B<C>` },
      { name: 'astral.xml', content: Buffer.from(doc(`${base}/astral`, 'emoji \u{1F600} ok')), code: 200 },
      { name: 'c1-control.xml', content: Buffer.from(doc(`${base}/c1`, 'bad \u0086 char')), code: 430 },
      { name: 'nel-allowed.xml', content: Buffer.from(doc(`${base}/nel`, 'next line \u0085 allowed')), code: 200 },
      { name: 'noncharacter.xml', content: Buffer.from(doc(`${base}/fdd0`, 'bad \uFDD0 char')), code: 430 },
      { name: 'plane-nonchar.xml', content: Buffer.from(doc(`${base}/1ffff`, 'bad \u{1FFFF} char')), code: 430 },
      { name: 'not-utf8.xml', content: Buffer.from(doc(`${base}/latin2`, 'Kraków').replace('Kraków', 'Krak\u00f3w'), 'latin1'), code: 430 },
      { name: 'prolog.xml', content: Buffer.from(doc(`${base}/prolog`).replace('encoding="UTF-8"', 'encoding="ISO-8859-2"')), code: 430 },
    ];
    const r = await runRaw(buildZip(cases.map((c) => ({ name: c.name, content: c.content }))), 'Zip');
    expect(r.final.status.code).toBe(200);
    const byName = new Map((await allInvoices(r.ref)).map((i) => [i.invoiceFileName, i]));
    for (const c of cases) expect(byName.get(c.name)?.status.code, c.name).toBe(c.code);
    const numbers = env.emu.admin.listInvoices(SELLER_NIP, 100_000).map((i) => i.invoiceNumber);
    for (const c of cases.filter((x) => x.number)) expect(numbers, c.name).toContain(c.number);
  });

  it('verification workers (verifyWorkers: 1) give every invoice of a big batch the same outcome as the main thread', async () => {
    const warnings: string[] = [];
    const pooled = await startTestEmulator({ verifyWorkers: 1, logger: { info: () => {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) } });
    try {
      const t = await sellerTokens(pooled.client);
      const prefix = uniqueNumber('POOL');
      const files = invoices(1200, prefix);
      const expected = new Map<string, number>(files.map((f) => [f.name, 200]));
      const set = (i: number, content: string, code: number): void => {
        const f = files[i] as PackageFile;
        f.content = Buffer.from(content);
        expected.set(f.name, code);
      };
      const doc = (o: Partial<Parameters<typeof fa3Invoice>[0]>) => fa3Invoice({ sellerNip: SELLER_NIP, buyerNip: BUYER_NIP, number: uniqueNumber('POOL-X'), issueDate: today, ...o });
      set(5, doc({ number: 'X' }).replace(/<P_2>X<\/P_2>\n/, ''), 430); // not valid against the XSD
      set(700, doc({ number: `${prefix}/4` }), 440); // the number of invoice 4 (index 3): a duplicate
      set(900, doc({ sellerNip: OTHER_NIP }), 410); // another seller than the context
      set(1100, doc({ issueDate: polishDate(2) }), 450); // issued in the future
      const pkg = buildZip(files);
      const { key, iv, encryption } = pooled.client.newEncryption();
      const parts = splitAndEncrypt(pkg, 2, key, iv);
      const o = await pooled.client.call<{ referenceNumber: string; partUploadRequests: UploadRequest[] }>('POST', '/sessions/batch', {
        token: t.accessToken,
        body: openBatchBody(pkg, parts, encryption),
      });
      expect(o.status).toBe(201);
      for (const p of parts) {
        const req = o.json.partUploadRequests.find((r) => r.ordinalNumber === p.ordinalNumber) as UploadRequest;
        expect((await uploadPart(req, p.data)).status).toBe(201);
      }
      const ref = o.json.referenceNumber;
      await pooled.client.call('POST', '/sessions/batch/{referenceNumber}/close', { params: { referenceNumber: ref }, token: t.accessToken });
      const final = (await pooled.client.waitSession(ref, t.accessToken, (c) => c >= 200)) as unknown as SessionStatus;
      expect(final.status.code).toBe(200);
      expect(final.successfulInvoiceCount).toBe(1196);
      const got: InvoiceStatus[] = [];
      let cont: string | undefined;
      do {
        const r = await pooled.client.call<{ invoices: InvoiceStatus[]; continuationToken?: string }>('GET', '/sessions/{referenceNumber}/invoices', {
          params: { referenceNumber: ref },
          query: { pageSize: 1000 },
          token: t.accessToken,
          ...(cont ? { headers: { 'x-continuation-token': cont } } : {}),
        });
        got.push(...r.json.invoices);
        cont = r.json.continuationToken ?? undefined;
      } while (cont);
      expect(new Map(got.map((i) => [i.invoiceFileName as string, i.status.code]))).toEqual(expected);
      expect(warnings).toEqual([]); // the worker did the verification: no fallback to the main thread
    } finally {
      await pooled.emu.close();
    }
  });

  it('ZIP: an entry that does not inflate, after more than one processing chunk, gives 430 and accepts nothing', async () => {
    const files = invoices(300, uniqueNumber('ZIP-DAMAGED'));
    const zip = Buffer.from(buildZip(files));
    // the central directory: give entry 280 a wrong uncompressed size
    const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    let p = zip.readUInt32LE(eocd + 16);
    for (let i = 0; i < 279; i++) p += 46 + zip.readUInt16LE(p + 28) + zip.readUInt16LE(p + 30) + zip.readUInt16LE(p + 32);
    zip.writeUInt32LE(zip.readUInt32LE(p + 24) + 1, p + 24);
    const r = await runRaw(zip, 'Zip');
    expect(r.final.status.code).toBe(430);
    expect(r.final.successfulInvoiceCount ?? 0).toBe(0);
    expect(await allInvoices(r.ref)).toEqual([]);
  });

  it('405 when the joined package does not match batchFile.fileHash', async () => {
    const pkg = buildZip(small());
    const { key, iv, encryption } = client.newEncryption();
    const parts = splitAndEncrypt(pkg, 1, key, iv);
    const body = openBatchBody(pkg, parts, encryption);
    body.batchFile.fileHash = sha256b64(Buffer.from('something else'));
    const o = await client.call<{ referenceNumber: string; partUploadRequests: UploadRequest[] }>('POST', '/sessions/batch', { token: tokens.accessToken, body });
    await uploadAll(o.json.partUploadRequests, parts);
    await close(o.json.referenceNumber);
    expect((await finish(o.json.referenceNumber)).status.code).toBe(405);
  });

  it('415 when the symmetric key cannot be decrypted', async () => {
    const pkg = buildZip(small());
    const { key, iv, encryption } = client.newEncryption();
    const parts = splitAndEncrypt(pkg, 1, key, iv);
    const o = await open(pkg, parts, { ...encryption, encryptedSymmetricKey: crypto.randomBytes(256).toString('base64') });
    await uploadAll(o.json.partUploadRequests, parts);
    await close(o.json.referenceNumber);
    expect((await finish(o.json.referenceNumber)).status).toMatchObject({ code: 415, description: 'Błąd odszyfrowania dostarczonego klucza' });
  });

  it('420 when the package holds more invoices than the session limit', async () => {
    const limited = await startTestEmulator({ limits: { maxInvoicesPerSession: 4 } });
    try {
      const t = await sellerTokens(limited.client);
      const pkg = buildZip(small());
      const { key, iv, encryption } = limited.client.newEncryption();
      const parts = splitAndEncrypt(pkg, 1, key, iv);
      const o = await limited.client.call<{ referenceNumber: string; partUploadRequests: UploadRequest[] }>('POST', '/sessions/batch', {
        token: t.accessToken,
        body: openBatchBody(pkg, parts, encryption),
      });
      await uploadAll(o.json.partUploadRequests, parts);
      await limited.client.call('POST', '/sessions/batch/{referenceNumber}/close', { params: { referenceNumber: o.json.referenceNumber }, token: t.accessToken });
      const f = (await limited.client.waitSession(o.json.referenceNumber, t.accessToken)) as unknown as SessionStatus;
      expect(f.status).toEqual({
        code: 420,
        description: 'Przekroczony limit faktur w sesji',
        details: ["Przekroczono dopuszczalną liczbę faktur w paczce: '4'. Liczba faktur w paczce: '5'."],
      });
    } finally {
      await limited.emu.close();
    }
  });

  it('445 when no invoice in the package is valid', async () => {
    const bad = small().map((f) => ({ name: f.name, content: Buffer.from('<Faktura/>') }));
    const { final } = await runBatch(bad, 'Zip', 1);
    expect(final.status).toMatchObject({ code: 445, description: 'Błąd weryfikacji, brak poprawnych faktur' });
    expect(final.upo).toBeUndefined();
  });

  it('accepts attachments in batch only when enabled for the NIP (/testdata/attachment)', async () => {
    const withAttachment = [{ name: 'z.xml', content: Buffer.from(fa3Invoice({ sellerNip: SELLER_NIP, number: uniqueNumber('ZAL'), issueDate: today, attachment: true })) }];
    const first = await runBatch(withAttachment, 'Zip', 1);
    expect(first.final.status.code).toBe(445);
    expect((await allInvoices(first.ref))[0]?.status.code).toBe(415);
    expect((await client.call('POST', '/testdata/attachment', { body: { nip: SELLER_NIP } })).status).toBe(200);
    const second = await runBatch(withAttachment, 'Zip', 1);
    expect(second.final.status.code).toBe(200);
    expect((await client.call('POST', '/testdata/attachment/revoke', { body: { nip: SELLER_NIP } })).status).toBe(200);
  });
});

describe('batch: open, upload and close checks', () => {
  it('close refuses missing parts (21205) and parts of another size (21157)', async () => {
    const pkg = buildZip(invoices(3, uniqueNumber('C')));
    const { key, iv, encryption } = client.newEncryption();
    const parts = splitAndEncrypt(pkg, 2, key, iv);
    const o = await open(pkg, parts, encryption);
    await uploadAll(o.json.partUploadRequests, parts.slice(0, 1));
    const missing = await close(o.json.referenceNumber);
    expect(missing.status).toBe(400);
    expect(code(missing)).toBe(21205);
    const req2 = o.json.partUploadRequests[1] as UploadRequest;
    expect((await uploadPart(req2, (parts[1] as EncryptedPart).data.subarray(0, 16))).status).toBe(201);
    expect(code(await close(o.json.referenceNumber))).toBe(21157);
    expect((await uploadPart(req2, (parts[1] as EncryptedPart).data)).status).toBe(201);
    expect((await close(o.json.referenceNumber)).status).toBe(204);
    expect((await finish(o.json.referenceNumber)).status.code).toBe(200);
    expect(code(await close(o.json.referenceNumber))).toBe(21180);
  });

  it('part upload needs the signed URL and x-ms-blob-type, and ends with the upload window', async () => {
    const pkg = buildZip(invoices(2, uniqueNumber('U')));
    const { key, iv, encryption } = client.newEncryption();
    const parts = splitAndEncrypt(pkg, 1, key, iv);
    const o = await open(pkg, parts, encryption);
    const req = o.json.partUploadRequests[0] as UploadRequest;
    const data = (parts[0] as EncryptedPart).data;
    expect((await fetch(req.url, { method: 'PUT', body: data })).status).toBe(400);
    expect((await fetch(req.url.replace(/sig=[^&]+/, 'sig=x'), { method: 'PUT', headers: req.headers, body: data })).status).toBe(403);
    env.advance(20 * 60_000 + 1000); // one part: 20 minutes
    expect((await uploadPart(req, data)).status).toBe(403);
    tokens = await sellerTokens(client); // the 15-minute access token has expired too
    const late = await close(o.json.referenceNumber);
    expect(code(late)).toBe(21208);
    const st = await client.call<SessionStatus>('GET', '/sessions/{referenceNumber}', { params: { referenceNumber: o.json.referenceNumber }, token: tokens.accessToken });
    expect(st.json.status).toMatchObject({ code: 440, details: ['Przekroczono czas wysyłki'] });
  });

  it('open refuses too many parts, oversized parts and malformed metadata', async () => {
    const { encryption } = client.newEncryption();
    const part = (n: number, size = 32) => ({ ordinalNumber: n, fileSize: size, fileHash: sha256b64(Buffer.from(String(n))) });
    const base = { formCode: FORM_CODE, encryption };
    const tooMany = await client.call('POST', '/sessions/batch', {
      token: tokens.accessToken,
      body: { ...base, batchFile: { fileSize: 100, fileHash: sha256b64(Buffer.from('p')), fileParts: Array.from({ length: 51 }, (_, i) => part(i + 1)) } },
    });
    expect(tooMany.status).toBe(400);
    expect([21161, 21405]).toContain(code(tooMany));
    const big = await client.call('POST', '/sessions/batch', {
      token: tokens.accessToken,
      body: { ...base, batchFile: { fileSize: 100, fileHash: sha256b64(Buffer.from('p')), fileParts: [part(1, 100_000_100)] } },
    });
    expect(code(big)).toBe(21157);
    const noHash = await client.call('POST', '/sessions/batch', {
      token: tokens.accessToken,
      body: { ...base, batchFile: { fileSize: 100, fileParts: [part(1)] } },
    });
    expect(code(noHash)).toBe(21405);
    const dupOrdinals = await client.call('POST', '/sessions/batch', {
      token: tokens.accessToken,
      body: { ...base, batchFile: { fileSize: 100, fileHash: sha256b64(Buffer.from('p')), fileParts: [part(1), part(1)] } },
    });
    expect(code(dupOrdinals)).toBe(21405);
  });

  it('lists batch sessions by type and status', async () => {
    const junk = crypto.randomBytes(100);
    const { key, iv, encryption } = client.newEncryption();
    const parts = splitAndEncrypt(junk, 1, key, iv);
    const o = await open(junk, parts, encryption);
    await uploadAll(o.json.partUploadRequests, parts);
    await close(o.json.referenceNumber);
    expect((await finish(o.json.referenceNumber)).status.code).toBe(430);
    const r = await client.call<{ sessions: { referenceNumber: string; status: { code: number } }[] }>('GET', '/sessions', {
      query: { sessionType: 'Batch', statuses: ['Failed'], pageSize: 100 },
      token: tokens.accessToken,
    });
    expect(r.status).toBe(200);
    expect(r.json.sessions.map((x) => x.referenceNumber)).toContain(o.json.referenceNumber);
    expect(r.json.sessions.every((s) => s.status.code >= 400 && s.status.code !== 440)).toBe(true);
  });
});
