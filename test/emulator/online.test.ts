import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getXsdValidator } from '../../src/schemas/index.js';
import { KsefTestClient, aesEncrypt, sha256b64, type Tokens } from './helpers/client.js';
import { fa3Invoice } from './helpers/fa3.js';
import { BUYER_NIP, FORM_CODE, OTHER_NIP, SELLER_NIP, checkKsefNumber, polishDate, sellerTokens, startTestEmulator, uniqueNumber, type TestEnv } from './helpers/setup.js';

interface InvoiceStatus {
  ordinalNumber: number;
  referenceNumber: string;
  invoiceNumber?: string;
  ksefNumber?: string;
  invoiceHash: string;
  invoicingDate: string;
  acquisitionDate?: string;
  upoDownloadUrl?: string;
  status: { code: number; description: string; details?: string[]; extensions?: Record<string, string> };
}
interface SessionStatus {
  status: { code: number; description: string; details?: string[] };
  invoiceCount?: number;
  successfulInvoiceCount?: number;
  failedInvoiceCount?: number;
  upo?: { pages: { referenceNumber: string; downloadUrl: string; downloadUrlExpirationDate: string }[] };
}
const code = (r: { json: unknown }): number | undefined =>
  (r.json as { exception?: { exceptionDetailList: { exceptionCode: number }[] } }).exception?.exceptionDetailList[0]?.exceptionCode;

let env: TestEnv;
let client: KsefTestClient;
let tokens: Tokens;
const upoXsd = getXsdValidator('upo');

beforeAll(async () => {
  env = await startTestEmulator();
  client = env.client;
  tokens = await sellerTokens(client);
});
afterAll(async () => env.emu.close());

async function openSession(t = tokens) {
  const enc = client.newEncryption();
  const r = await client.call<{ referenceNumber: string; validUntil: string }>('POST', '/sessions/online', {
    token: t.accessToken,
    body: { formCode: FORM_CODE, encryption: enc.encryption },
  });
  expect(r.status).toBe(201);
  return { ref: r.json.referenceNumber, validUntil: r.json.validUntil, ...enc };
}

const send = (ref: string, body: object, t = tokens) =>
  client.call<{ referenceNumber: string }>('POST', '/sessions/online/{referenceNumber}/invoices', { params: { referenceNumber: ref }, token: t.accessToken, body });

const today = polishDate(0);

describe('interactive session with 50 invoices', () => {
  const expected = new Map<string, { code: number; label: string }>();
  let session: { ref: string; key: Buffer; iv: Buffer };
  let final: SessionStatus;
  const duplicateOf = uniqueNumber('FV/DUP');

  beforeAll(async () => {
    session = await openSession();
    const { ref, key, iv } = session;
    const add = async (label: string, xml: string | Buffer, expectCode: number) => {
      const r = await send(ref, KsefTestClient.invoiceBody(key, iv, xml));
      expect(r.status, label).toBe(202);
      expect(expected.has(r.json.referenceNumber), `${label}: ${r.json.referenceNumber} already seen as ${expected.get(r.json.referenceNumber)?.label}`).toBe(false);
      expected.set(r.json.referenceNumber, { code: expectCode, label });
    };
    const valid = (n: string, extra: Partial<Parameters<typeof fa3Invoice>[0]> = {}) =>
      fa3Invoice({ sellerNip: SELLER_NIP, buyerNip: BUYER_NIP, number: n, issueDate: today, ...extra });

    await add('original', valid(duplicateOf), 200);
    for (let i = 0; i < 40; i++) await add(`valid ${i}`, valid(uniqueNumber('FV/OK'), { lines: 1 + (i % 5) }), 200);
    await add('duplicate (same seller, kind, number)', valid(duplicateOf), 440);
    await add('same number, other kind: not a duplicate', valid(duplicateOf, { kind: 'ZAL' }), 200);
    await add('XSD-invalid (no P_2)', valid('X').replace(/<P_2>X<\/P_2>\n/, ''), 430);
    await add('not well-formed', valid(uniqueNumber('FV/BAD')).replace('</Fa>', ''), 430);
    await add('oversize (over 1 MB)', valid(uniqueNumber('FV/BIG'), { footerText: 'x'.repeat(1_000_100) }), 430);
    await add('BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(valid(uniqueNumber('FV/BOM')))]), 430);
    await add('processing instruction', valid(uniqueNumber('FV/PI')).replace('<Faktura ', '<?xml-stylesheet href="a.xsl"?>\n<Faktura '), 430);
    await add('issue date in the future', valid(uniqueNumber('FV/FUT'), { issueDate: polishDate(3) }), 450);
    await add('attachment in an interactive session', valid(uniqueNumber('FV/ZAL'), { attachment: true }), 415);
    await add('seller other than the context', fa3Invoice({ sellerNip: OTHER_NIP, buyerNip: BUYER_NIP, number: uniqueNumber('FV/OTH'), issueDate: today }), 410);
    expect(expected.size).toBe(51);

    const before = await client.call<SessionStatus>('GET', '/sessions/{referenceNumber}', { params: { referenceNumber: ref }, token: tokens.accessToken });
    expect(before.json.status.code).toBe(100);
    expect(before.json.upo).toBeUndefined();

    const close = await client.call('POST', '/sessions/online/{referenceNumber}/close', { params: { referenceNumber: ref }, token: tokens.accessToken });
    expect(close.status).toBe(204);
    final = (await client.waitSession(ref, tokens.accessToken)) as unknown as SessionStatus;
  });

  it('ends with status 200 and counts that add up', () => {
    const ok = [...expected.values()].filter((e) => e.code === 200).length;
    expect(final.status).toEqual({ code: 200, description: 'Sesja interaktywna przetworzona pomyślnie' });
    expect(final.invoiceCount).toBe(expected.size);
    expect(final.successfulInvoiceCount).toBe(ok);
    expect(final.failedInvoiceCount).toBe(expected.size - ok);
    expect(final.upo?.pages).toHaveLength(1);
  });

  it('gives each invoice its documented status', async () => {
    const all: InvoiceStatus[] = [];
    let continuation: string | undefined;
    let pages = 0;
    do {
      const r = await client.call<{ invoices: InvoiceStatus[]; continuationToken?: string }>('GET', '/sessions/{referenceNumber}/invoices', {
        params: { referenceNumber: session.ref },
        query: { pageSize: 10 },
        token: tokens.accessToken,
        ...(continuation ? { headers: { 'x-continuation-token': continuation } } : {}),
      });
      expect(r.status).toBe(200);
      expect(r.json.invoices.length).toBeLessThanOrEqual(10);
      all.push(...r.json.invoices);
      continuation = r.json.continuationToken ?? undefined;
      pages++;
    } while (continuation);
    expect(pages).toBe(6);
    expect(all.map((i) => i.ordinalNumber)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
    for (const inv of all) {
      const exp = expected.get(inv.referenceNumber);
      expect(inv.status.code, exp?.label).toBe(exp?.code);
      if (inv.status.code === 200) {
        expect(checkKsefNumber(inv.ksefNumber as string, SELLER_NIP), inv.ksefNumber).toBe(true);
        expect(inv.ksefNumber?.slice(11, 19)).toBe(today.replace(/-/g, ''));
        expect(inv.acquisitionDate).toBeTruthy();
        expect(inv.upoDownloadUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
      } else {
        expect(inv.ksefNumber).toBeUndefined();
        expect(inv.status.details?.length, exp?.label).toBeGreaterThan(0);
      }
    }
    const numbers = all.filter((i) => i.ksefNumber).map((i) => i.ksefNumber);
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it('names the original KSeF number in a duplicate (440)', async () => {
    const failed = await client.call<{ invoices: InvoiceStatus[] }>('GET', '/sessions/{referenceNumber}/invoices/failed', {
      params: { referenceNumber: session.ref },
      query: { pageSize: 100 },
      token: tokens.accessToken,
    });
    expect(failed.json.invoices.every((i) => i.status.code >= 400)).toBe(true);
    const dup = failed.json.invoices.find((i) => i.status.code === 440);
    const all = await client.call<{ invoices: InvoiceStatus[] }>('GET', '/sessions/{referenceNumber}/invoices', {
      params: { referenceNumber: session.ref },
      query: { pageSize: 100 },
      token: tokens.accessToken,
    });
    const original = all.json.invoices.find((i) => i.invoiceNumber === duplicateOf && i.status.code === 200 && i.ordinalNumber === 1);
    expect(dup?.status.description).toBe('Duplikat faktury');
    expect(dup?.status.extensions).toEqual({ originalSessionReferenceNumber: session.ref, originalKsefNumber: original?.ksefNumber });
    expect(dup?.status.details?.[0]).toContain(original?.ksefNumber as string);
  });

  it('serves valid UPO per invoice (by reference and by KSeF number) and per session', async () => {
    const list = await client.call<{ invoices: InvoiceStatus[] }>('GET', '/sessions/{referenceNumber}/invoices', {
      params: { referenceNumber: session.ref },
      query: { pageSize: 100 },
      token: tokens.accessToken,
    });
    const inv = list.json.invoices.find((i) => i.status.code === 200) as InvoiceStatus;
    const byRef = await client.call('GET', '/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo', {
      params: { referenceNumber: session.ref, invoiceReferenceNumber: inv.referenceNumber },
      token: tokens.accessToken,
    });
    expect(byRef.status).toBe(200);
    expect(byRef.headers.get('content-type')).toContain('application/xml');
    expect(byRef.headers.get('x-ms-meta-hash')).toBe(sha256b64(byRef.bytes));
    expect(upoXsd.validate(byRef.bytes)).toEqual({ valid: true, issues: [] });
    expect(byRef.text).toContain(`<NumerKSeFDokumentu>${inv.ksefNumber}</NumerKSeFDokumentu>`);
    expect(byRef.text).toContain(`<SkrotDokumentu>${inv.invoiceHash}</SkrotDokumentu>`);
    expect(byRef.text).toContain(`<NumerReferencyjnySesji>${session.ref}</NumerReferencyjnySesji>`);

    const byKsef = await client.call('GET', '/sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo', {
      params: { referenceNumber: session.ref, ksefNumber: inv.ksefNumber as string },
      token: tokens.accessToken,
    });
    expect(byKsef.text).toBe(byRef.text);

    const link = await fetch(inv.upoDownloadUrl as string);
    expect(link.status).toBe(200);
    expect(await link.text()).toBe(byRef.text);
    const tampered = await fetch((inv.upoDownloadUrl as string).replace(/sig=[^&]+/, 'sig=AAAA'));
    expect(tampered.status).toBe(403);

    const failedInv = list.json.invoices.find((i) => i.status.code === 440) as InvoiceStatus;
    const none = await client.call('GET', '/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo', {
      params: { referenceNumber: session.ref, invoiceReferenceNumber: failedInv.referenceNumber },
      token: tokens.accessToken,
    });
    expect(none.status).toBe(400);
    expect(code(none)).toBe(21178);

    const page = final.upo?.pages[0] as { referenceNumber: string; downloadUrl: string };
    const sessionUpo = await client.call('GET', '/sessions/{referenceNumber}/upo/{upoReferenceNumber}', {
      params: { referenceNumber: session.ref, upoReferenceNumber: page.referenceNumber },
      token: tokens.accessToken,
    });
    expect(sessionUpo.status).toBe(200);
    expect(upoXsd.validate(sessionUpo.bytes)).toEqual({ valid: true, issues: [] });
    const docs = sessionUpo.text.match(/<Dokument>/g) ?? [];
    expect(docs.length).toBe(final.successfulInvoiceCount);
    expect(sessionUpo.text).toContain(`<CalkowitaLiczbaDokumentow>${final.successfulInvoiceCount}</CalkowitaLiczbaDokumentow>`);
    const viaLink = await fetch(page.downloadUrl);
    expect(viaLink.status).toBe(200);
    expect(viaLink.headers.get('x-ms-meta-hash')).toBe(sessionUpo.headers.get('x-ms-meta-hash'));

    const wrongPage = await client.call('GET', '/sessions/{referenceNumber}/upo/{upoReferenceNumber}', {
      params: { referenceNumber: session.ref, upoReferenceNumber: '20250101-EU-0000000000-0000000000-00' },
      token: tokens.accessToken,
    });
    expect(code(wrongPage)).toBe(21178);
  });

  it('returns a single invoice status, and refuses invoices after close', async () => {
    const [ref] = [...expected.keys()];
    const one = await client.call<InvoiceStatus>('GET', '/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}', {
      params: { referenceNumber: session.ref, invoiceReferenceNumber: ref as string },
      token: tokens.accessToken,
    });
    expect(one.status).toBe(200);
    expect(one.json.status.code).toBe(200);
    const late = await send(session.ref, KsefTestClient.invoiceBody(session.key, session.iv, 'x'));
    expect(late.status).toBe(400);
    expect(code(late)).toBe(21180);
    const closeAgain = await client.call('POST', '/sessions/online/{referenceNumber}/close', { params: { referenceNumber: session.ref }, token: tokens.accessToken });
    expect(code(closeAgain)).toBe(21180);
  });

  it('lists the session in GET /sessions', async () => {
    const r = await client.call<{ sessions: { referenceNumber: string; status: { code: number }; totalInvoiceCount: number }[] }>('GET', '/sessions', {
      query: { sessionType: 'Online', statuses: ['Succeeded'] },
      token: tokens.accessToken,
    });
    expect(r.status).toBe(200);
    expect(r.json.sessions.find((s) => s.referenceNumber === session.ref)?.totalInvoiceCount).toBe(51);
    const missingType = await client.call('GET', '/sessions', { token: tokens.accessToken });
    expect(code(missingType)).toBe(21405);
  });
});

describe('interactive session: synchronous checks and session-level outcomes', () => {
  it('checks encrypted size (21402) and hash (21403) at once', async () => {
    const s = await openSession();
    const body = KsefTestClient.invoiceBody(s.key, s.iv, fa3Invoice({ sellerNip: SELLER_NIP, number: uniqueNumber('A'), issueDate: today }));
    const size = await send(s.ref, { ...body, encryptedInvoiceSize: body.encryptedInvoiceSize + 16 });
    expect(size.status).toBe(400);
    expect(code(size)).toBe(21402);
    const hash = await send(s.ref, { ...body, encryptedInvoiceHash: sha256b64(Buffer.from('other')) });
    expect(code(hash)).toBe(21403);
  });

  it('reports a file that cannot be decrypted (435) and a plain hash mismatch (430)', async () => {
    const s = await openSession();
    const garbage = crypto.randomBytes(33); // not a whole number of AES blocks
    const r1 = await send(s.ref, {
      invoiceHash: sha256b64(Buffer.from('x')),
      invoiceSize: 1,
      encryptedInvoiceHash: sha256b64(garbage),
      encryptedInvoiceSize: garbage.length,
      encryptedInvoiceContent: garbage.toString('base64'),
    });
    expect(r1.status).toBe(202);
    const xml = fa3Invoice({ sellerNip: SELLER_NIP, number: uniqueNumber('H'), issueDate: today });
    const enc = aesEncrypt(s.key, s.iv, Buffer.from(xml));
    const r2 = await send(s.ref, {
      invoiceHash: sha256b64(Buffer.from(xml + ' ')),
      invoiceSize: Buffer.byteLength(xml),
      encryptedInvoiceHash: sha256b64(enc),
      encryptedInvoiceSize: enc.length,
      encryptedInvoiceContent: enc.toString('base64'),
    });
    await client.call('POST', '/sessions/online/{referenceNumber}/close', { params: { referenceNumber: s.ref }, token: tokens.accessToken });
    const final = (await client.waitSession(s.ref, tokens.accessToken)) as unknown as SessionStatus;
    expect(final.status.code).toBe(445); // no valid invoices
    expect(final.upo).toBeUndefined();
    const get = (ref: string) =>
      client.call<InvoiceStatus>('GET', '/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}', {
        params: { referenceNumber: s.ref, invoiceReferenceNumber: ref },
        token: tokens.accessToken,
      });
    expect((await get(r1.json.referenceNumber)).json.status.code).toBe(435);
    expect((await get(r2.json.referenceNumber)).json.status.code).toBe(430);
  });

  it('cancels a session closed without invoices (440) and flags an undecryptable key (415)', async () => {
    const s = await openSession();
    await client.call('POST', '/sessions/online/{referenceNumber}/close', { params: { referenceNumber: s.ref }, token: tokens.accessToken });
    const empty = (await client.waitSession(s.ref, tokens.accessToken)) as unknown as SessionStatus;
    expect(empty.status).toMatchObject({ code: 440, description: 'Sesja anulowana', details: ['Nie przesłano faktur'] });

    const enc = client.newEncryption();
    const r = await client.call<{ referenceNumber: string }>('POST', '/sessions/online', {
      token: tokens.accessToken,
      body: { formCode: FORM_CODE, encryption: { ...enc.encryption, encryptedSymmetricKey: crypto.randomBytes(256).toString('base64') } },
    });
    expect(r.status).toBe(201);
    const st = await client.call<SessionStatus>('GET', '/sessions/{referenceNumber}', { params: { referenceNumber: r.json.referenceNumber }, token: tokens.accessToken });
    expect(st.json.status.code).toBe(415);
    const refused = await send(r.json.referenceNumber, KsefTestClient.invoiceBody(enc.key, enc.iv, 'x'));
    expect(code(refused)).toBe(21180);
  });

  it('rejects unsupported form codes and unknown sessions', async () => {
    const enc = client.newEncryption();
    const r = await client.call('POST', '/sessions/online', {
      token: tokens.accessToken,
      body: { formCode: { systemCode: 'FA (9)', schemaVersion: '1-0E', value: 'FA' }, encryption: enc.encryption },
    });
    expect(code(r)).toBe(21405);
    const missing = await client.call('GET', '/sessions/{referenceNumber}', { params: { referenceNumber: '20250101-SO-0000000000-0000000000-00' }, token: tokens.accessToken });
    expect(code(missing)).toBe(21173);
    const badRef = await client.call('GET', '/sessions/{referenceNumber}', { params: { referenceNumber: 'too-short' }, token: tokens.accessToken });
    expect(code(badRef)).toBe(21405);
  });

  it("does not show one context's sessions to another", async () => {
    const s = await openSession();
    const other = await client.authenticate(OTHER_NIP, 'other-ksef-token-0002');
    const r = await client.call('GET', '/sessions/{referenceNumber}', { params: { referenceNumber: s.ref }, token: other.accessToken });
    expect(code(r)).toBe(21173);
  });

  it('refuses tokens without InvoiceWrite (403 missing-permissions)', async () => {
    env.emu.admin.provisionToken({ nip: SELLER_NIP, token: 'read-only-token', permissions: ['InvoiceRead'] });
    const ro = await client.authenticate(SELLER_NIP, 'read-only-token');
    const enc = client.newEncryption();
    const r = await client.call<{ reasonCode: string }>('POST', '/sessions/online', { token: ro.accessToken, body: { formCode: FORM_CODE, encryption: enc.encryption } });
    expect(r.status).toBe(403);
    expect(r.json.reasonCode).toBe('missing-permissions');
  });
});

describe('asynchronous processing delay', () => {
  it('keeps invoices at 100 until the delay passes', async () => {
    const slow = await startTestEmulator({ processingDelayMs: 400 });
    try {
      const t = await sellerTokens(slow.client);
      const enc = slow.client.newEncryption();
      const open = await slow.client.call<{ referenceNumber: string }>('POST', '/sessions/online', { token: t.accessToken, body: { formCode: FORM_CODE, encryption: enc.encryption } });
      const ref = open.json.referenceNumber;
      const sent = await slow.client.call<{ referenceNumber: string }>('POST', '/sessions/online/{referenceNumber}/invoices', {
        params: { referenceNumber: ref },
        token: t.accessToken,
        body: KsefTestClient.invoiceBody(enc.key, enc.iv, fa3Invoice({ sellerNip: SELLER_NIP, number: uniqueNumber('D'), issueDate: today })),
      });
      const args = { params: { referenceNumber: ref, invoiceReferenceNumber: sent.json.referenceNumber }, token: t.accessToken };
      const early = await slow.client.call<InvoiceStatus>('GET', '/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}', args);
      expect(early.json.status).toEqual({ code: 100, description: 'Faktura przyjęta do dalszego przetwarzania' });
      await slow.emu.admin.idle();
      const later = await slow.client.call<InvoiceStatus>('GET', '/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}', args);
      expect(later.json.status.code).toBe(200);
    } finally {
      await slow.emu.close();
    }
  });
});
