import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadEmulatorConfig, parseTokenSpec, startEmulator, type EmulatorLogger } from '../../src/emulator/index.js';
import { KsefTestClient, type PublicKeyCertificate } from './helpers/client.js';
import { fa3Invoice } from './helpers/fa3.js';
import { BUYER_NIP, FORM_CODE, SELLER_NIP, SELLER_TOKEN, polishDate, startTestEmulator, uniqueNumber } from './helpers/setup.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-emu-test-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function sendOne(client: KsefTestClient, accessToken: string): Promise<string> {
  const enc = client.newEncryption();
  const open = await client.call<{ referenceNumber: string }>('POST', '/sessions/online', { token: accessToken, body: { formCode: FORM_CODE, encryption: enc.encryption } });
  const ref = open.json.referenceNumber;
  await client.call('POST', '/sessions/online/{referenceNumber}/invoices', {
    params: { referenceNumber: ref },
    token: accessToken,
    body: KsefTestClient.invoiceBody(enc.key, enc.iv, fa3Invoice({ sellerNip: SELLER_NIP, buyerNip: BUYER_NIP, number: uniqueNumber('P'), issueDate: polishDate(0) })),
  });
  await client.call('POST', '/sessions/online/{referenceNumber}/close', { params: { referenceNumber: ref }, token: accessToken });
  await client.waitSession(ref, accessToken);
  return ref;
}

describe('state in a SQLite file', () => {
  it('keeps keys, tokens, sessions and invoices across a restart', async () => {
    const dbPath = path.join(tmp(), 'emulator.db');
    const first = await startEmulator({ dbPath, logger: null, tokens: [{ nip: SELLER_NIP, token: SELLER_TOKEN }] });
    const c1 = new KsefTestClient(first.url);
    const certs1 = await c1.loadCertificates();
    const t1 = await c1.authenticate(SELLER_NIP, SELLER_TOKEN);
    const ref = await sendOne(c1, t1.accessToken);
    await first.close();

    const second = await startEmulator({ dbPath, logger: null }); // no tokens given this time
    try {
      const c2 = new KsefTestClient(second.url);
      const certs2 = await c2.loadCertificates();
      expect(certs2.map((c: PublicKeyCertificate) => c.certificateId)).toEqual(certs1.map((c) => c.certificateId));
      const t2 = await c2.authenticate(SELLER_NIP, SELLER_TOKEN);
      const st = await c2.call<{ status: { code: number }; successfulInvoiceCount: number }>('GET', '/sessions/{referenceNumber}', {
        params: { referenceNumber: ref },
        token: t2.accessToken,
      });
      expect(st.json.status.code).toBe(200);
      expect(st.json.successfulInvoiceCount).toBe(1);
      expect(second.admin.listInvoices(SELLER_NIP)).toHaveLength(1);
    } finally {
      await second.close();
    }
  });
});

describe('shutdown during processing', () => {
  it('finishes a closed batch after a restart, with every invoice counted once', async () => {
    const { buildZip, openBatchBody, splitAndEncrypt, uploadPart } = await import('./helpers/batch.js');
    const dbPath = path.join(tmp(), 'emulator.db');
    const first = await startEmulator({ dbPath, logger: null, tokens: [{ nip: SELLER_NIP, token: SELLER_TOKEN }] });
    const c1 = new KsefTestClient(first.url);
    await c1.loadCertificates();
    const t1 = await c1.authenticate(SELLER_NIP, SELLER_TOKEN);
    const prefix = uniqueNumber('R');
    const files = Array.from({ length: 3000 }, (_, i) => ({
      name: `f${i}.xml`,
      content: Buffer.from(fa3Invoice({ sellerNip: SELLER_NIP, number: `${prefix}/${i}`, issueDate: polishDate(0) })),
    }));
    const pkg = buildZip(files);
    const { key, iv, encryption } = c1.newEncryption();
    const parts = splitAndEncrypt(pkg, 2, key, iv);
    const open = await c1.call<{ referenceNumber: string; partUploadRequests: { ordinalNumber: number; method: string; url: string; headers: Record<string, string> }[] }>(
      'POST',
      '/sessions/batch',
      { token: t1.accessToken, body: openBatchBody(pkg, parts, encryption) },
    );
    for (const p of parts) await uploadPart(open.json.partUploadRequests.find((r) => r.ordinalNumber === p.ordinalNumber) as { method: string; url: string; headers: Record<string, string> }, p.data);
    await c1.call('POST', '/sessions/batch/{referenceNumber}/close', { params: { referenceNumber: open.json.referenceNumber }, token: t1.accessToken });
    await first.close(); // most likely in the middle of processing

    const second = await startEmulator({ dbPath, logger: null });
    try {
      const c2 = new KsefTestClient(second.url);
      const t2 = await c2.authenticate(SELLER_NIP, SELLER_TOKEN);
      const final = await c2.waitSession(open.json.referenceNumber, t2.accessToken);
      expect(final.status.code).toBe(200);
      expect(final.invoiceCount).toBe(3000);
      expect(final.successfulInvoiceCount).toBe(3000);
      expect(final.failedInvoiceCount).toBe(0);
    } finally {
      await second.close();
    }
  });
});

describe('observability', () => {
  it('logs one readable line per request, without tokens', async () => {
    const lines: string[] = [];
    const logger: EmulatorLogger = { info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m) };
    const env = await startTestEmulator({ logger });
    try {
      const t = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
      await env.client.call('GET', '/auth/sessions', { token: t.accessToken });
      const requestLines = lines.filter((l) => /^(GET|POST|PUT|DELETE) /.test(l));
      expect(requestLines).toContainEqual(expect.stringMatching(/^POST \/v2\/auth\/challenge -> 200 \(\d+\.\d ms\)$/));
      expect(requestLines).toContainEqual(expect.stringMatching(/^GET \/v2\/auth\/sessions -> 200 /));
      const all = lines.join('\n');
      expect(all).not.toContain(SELLER_TOKEN);
      expect(all).not.toContain(t.accessToken);
      expect(all).not.toContain(t.refreshToken);
    } finally {
      await env.emu.close();
    }
  });

  it('lists what it holds through /emulator/admin and provisions tokens there', async () => {
    const env = await startTestEmulator();
    try {
      const created = await fetch(`${env.emu.url}/emulator/admin/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ nip: BUYER_NIP, token: 'buyer-token', permissions: ['InvoiceRead', 'InvoiceWrite'] }),
      });
      expect(created.status).toBe(201);
      const t = await env.client.authenticate(BUYER_NIP, 'buyer-token');
      expect(t.accessToken).toBeTruthy();
      const bad = await fetch(`${env.emu.url}/emulator/admin/tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"nip":"12"}' });
      expect(bad.status).toBe(400);

      const seller = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
      const ref = await sendOne(env.client, seller.accessToken);
      const state = (await (await fetch(`${env.emu.url}/emulator/admin/state`)).json()) as {
        counts: Record<string, number>;
        tokens: { nip: string; status: string }[];
        sessions: { referenceNumber: string }[];
      };
      expect(state.counts.acceptedInvoices).toBe(1);
      expect(state.tokens.map((x) => x.nip)).toContain(BUYER_NIP);
      expect(JSON.stringify(state)).not.toContain('buyer-token');
      expect(state.sessions.map((s) => s.referenceNumber)).toContain(ref);
      const inv = (await (await fetch(`${env.emu.url}/emulator/admin/invoices?nip=${BUYER_NIP}`)).json()) as { invoices: { buyerNip: string; ksefNumber: string }[] };
      expect(inv.invoices).toHaveLength(1);
      expect(inv.invoices[0]?.buyerNip).toBe(BUYER_NIP);
    } finally {
      await env.emu.close();
    }
  });
});

describe('test data endpoints', () => {
  it('registers subjects and persons once (30001 on repeat)', async () => {
    const env = await startTestEmulator();
    try {
      const body = { subjectNip: '4972530874', subjectType: 'VatGroup', description: 'Grupa VAT', subunits: [{ subjectNip: '8225900795', description: 'Członek grupy' }] };
      expect((await env.client.call('POST', '/testdata/subject', { body })).status).toBe(200);
      const again = await env.client.call<{ exception: { exceptionDetailList: { exceptionCode: number }[] } }>('POST', '/testdata/subject', { body });
      expect(again.json.exception.exceptionDetailList[0]?.exceptionCode).toBe(30001);
      expect((await env.client.call('POST', '/testdata/subject/remove', { body: { subjectNip: '4972530874' } })).status).toBe(200);
      expect((await env.client.call('POST', '/testdata/subject', { body })).status).toBe(200);
      const person = { nip: '7980332920', pesel: '30112206276', description: 'JDG testowa', isBailiff: false };
      expect((await env.client.call('POST', '/testdata/person', { body: person })).status).toBe(200);
      const badNip = await env.client.call('POST', '/testdata/person', { body: { ...person, nip: '0000000000' } });
      expect(badNip.status).toBe(400);
    } finally {
      await env.emu.close();
    }
  });
});

describe('interactive session lifetime', () => {
  it('closes a session automatically after 12 hours and processes what it holds', async () => {
    const env = await startTestEmulator({ fakeClock: true, accessTokenTtlSec: 24 * 3600 });
    try {
      const t = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
      const enc = env.client.newEncryption();
      const open = await env.client.call<{ referenceNumber: string; validUntil: string }>('POST', '/sessions/online', {
        token: t.accessToken,
        body: { formCode: FORM_CODE, encryption: enc.encryption },
      });
      expect(new Date(open.json.validUntil).getTime() - Date.now()).toBeGreaterThan(11.9 * 3_600_000);
      const ref = open.json.referenceNumber;
      await env.client.call('POST', '/sessions/online/{referenceNumber}/invoices', {
        params: { referenceNumber: ref },
        token: t.accessToken,
        body: KsefTestClient.invoiceBody(enc.key, enc.iv, fa3Invoice({ sellerNip: SELLER_NIP, number: uniqueNumber('L'), issueDate: polishDate(0) })),
      });
      env.advance(12 * 3_600_000 + 1000);
      await env.emu.admin.provisionToken({ nip: SELLER_NIP, token: 'kick' }); // any activity; processing runs on its own timer
      const final = await env.client.waitSession(ref, t.accessToken, (c) => c === 200);
      expect(final.status.code).toBe(200);
    } finally {
      await env.emu.close();
    }
  });
});

describe('configuration', () => {
  it('reads a JSON config file and names the key of a mistake', () => {
    const dir = tmp();
    const good = path.join(dir, 'ok.json');
    fs.writeFileSync(good, JSON.stringify({ port: 0, processingDelayMs: 100, tokens: [{ nip: SELLER_NIP, token: 't' }] }));
    expect(loadEmulatorConfig(good)).toMatchObject({ processingDelayMs: 100, tokens: [{ nip: SELLER_NIP, token: 't' }] });
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ processingDelayMs: -1 }));
    expect(() => loadEmulatorConfig(bad)).toThrow(/processingDelayMs/);
    fs.writeFileSync(bad, JSON.stringify({ tokens: [{ nip: '12', token: 'x' }] }));
    expect(() => loadEmulatorConfig(bad)).toThrow(/tokens\[0\]/);
    fs.writeFileSync(bad, '{ not json');
    expect(() => loadEmulatorConfig(bad)).toThrow(/cannot read/);
  });

  it('parses NIP:TOKEN', () => {
    expect(parseTokenSpec('5265877635:abc:def')).toEqual({ nip: '5265877635', token: 'abc:def' });
    expect(() => parseTokenSpec('abc')).toThrow(/NIP:TOKEN/);
  });
});
