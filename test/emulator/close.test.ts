/**
 * `close()` while work is due or in flight: nothing may touch the state database after it is closed (better-sqlite3
 * throws "The database connection is not open"), nothing may be left as an unhandled rejection, and due work must
 * survive in a database file for the next start.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorLogger } from '../../src/emulator/index.js';
import { KsefTestClient } from './helpers/client.js';
import { fa3Invoice } from './helpers/fa3.js';
import { FORM_CODE, SELLER_NIP, SELLER_TOKEN, polishDate, uniqueNumber } from './helpers/setup.js';

const dirs: string[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => {
  unhandled.push(e);
};
process.on('unhandledRejection', onUnhandled);
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function recorder(): { logger: EmulatorLogger; errors: string[] } {
  const errors: string[] = [];
  return { logger: { info: () => {}, warn: () => {}, error: (m) => errors.push(m) }, errors };
}

async function start(extra: Parameters<typeof startEmulator>[0] = {}) {
  const rec = recorder();
  const emu = await startEmulator({ logger: rec.logger, tokens: [{ nip: SELLER_NIP, token: SELLER_TOKEN }], ...extra });
  const client = new KsefTestClient(emu.url);
  await client.loadCertificates();
  const tokens = await client.authenticate(SELLER_NIP, SELLER_TOKEN);
  return { emu, client, tokens, errors: rec.errors };
}

async function openSession(client: KsefTestClient, token: string) {
  const enc = client.newEncryption();
  const r = await client.call<{ referenceNumber: string }>('POST', '/sessions/online', { token, body: { formCode: FORM_CODE, encryption: enc.encryption } });
  return { ref: r.json.referenceNumber, ...enc };
}

const invoice = () => fa3Invoice({ sellerNip: SELLER_NIP, number: uniqueNumber('FV/CLOSE'), issueDate: polishDate(0) });
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 200));

describe('close() while work is due', () => {
  it('with invoices waiting for their processing delay: no error, no unhandled rejection; processed after a restart', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-close-'));
    dirs.push(dir);
    const dbPath = path.join(dir, 'emu.db');
    const first = await start({ dbPath, processingDelayMs: 150 });
    const s = await openSession(first.client, first.tokens.accessToken);
    for (let i = 0; i < 20; i++) {
      const r = await first.client.call('POST', '/sessions/online/{referenceNumber}/invoices', {
        params: { referenceNumber: s.ref },
        token: first.tokens.accessToken,
        body: KsefTestClient.invoiceBody(s.key, s.iv, invoice()),
      });
      expect(r.status).toBe(202);
    }
    await first.client.call('POST', '/sessions/online/{referenceNumber}/close', { params: { referenceNumber: s.ref }, token: first.tokens.accessToken });
    const before = unhandled.length;
    await first.emu.close();
    await settle();
    expect(first.errors).toEqual([]);
    expect(unhandled.slice(before)).toEqual([]);

    const second = await start({ dbPath });
    try {
      const final = await second.client.waitSession(s.ref, second.tokens.accessToken);
      expect(final.status.code).toBe(200);
      expect(final.successfulInvoiceCount).toBe(20);
    } finally {
      await second.emu.close();
    }
    expect(second.errors).toEqual([]);
  });

  it.each([
    ['on the main thread', 0],
    ['on a verification worker', 1],
  ])('in the middle of processing a batch of invoices (%s): no error, no unhandled rejection', async (_label, verifyWorkers) => {
    const { buildTarGz, openBatchBody, splitAndEncrypt, uploadPart } = await import('./helpers/batch.js');
    const env = await start({ verifyWorkers });
    const files = Array.from({ length: 1500 }, (_, i) => ({ name: `f${i}.xml`, content: Buffer.from(invoice()) }));
    const pkg = await buildTarGz(files);
    const { key, iv, encryption } = env.client.newEncryption();
    const parts = splitAndEncrypt(pkg, 2, key, iv);
    const open = await env.client.call<{ referenceNumber: string; partUploadRequests: { ordinalNumber: number; method: string; url: string; headers: Record<string, string> }[] }>(
      'POST',
      '/sessions/batch',
      { token: env.tokens.accessToken, body: openBatchBody(pkg, parts, encryption, 'TarGz') },
    );
    for (const p of parts) {
      const req = open.json.partUploadRequests.find((r) => r.ordinalNumber === p.ordinalNumber);
      if (!req) throw new Error('no upload request for a part');
      expect((await uploadPart(req, p.data)).status).toBe(201);
    }
    await env.client.call('POST', '/sessions/batch/{referenceNumber}/close', { params: { referenceNumber: open.json.referenceNumber }, token: env.tokens.accessToken });
    const before = unhandled.length;
    await env.emu.close();
    await settle();
    expect(env.errors).toEqual([]);
    expect(unhandled.slice(before)).toEqual([]);
  });
});

describe('close() while a request is in flight', () => {
  /**
   * A request held before its handler (here by a `delay` fault rule, as any asynchronous interceptor would) must not
   * reach the handler after close() has closed the database. Today close() destroys the connections and closes the
   * database without waiting for requests in progress, so the handler runs later against the closed database.
   */
  it('does not run the handler of a held request against the closed database', async () => {
    const env = await start();
    const rule = env.emu.admin.faults.addRule({ kind: 'delay', method: 'POST', path: '/sessions/online', delayMs: 400 });
    const enc = env.client.newEncryption();
    const pending = env.client
      .call('POST', '/sessions/online', { token: env.tokens.accessToken, body: { formCode: FORM_CODE, encryption: enc.encryption }, noContract: true })
      .then((r) => r.status)
      .catch(() => 'connection closed');
    // wait until the interceptor holds the request (the rule counts its hit before it starts the delay)
    while (!env.emu.admin.faults.rules().some((r) => r.id === rule.id && r.hits === 1)) await new Promise((r) => setTimeout(r, 5));
    const before = unhandled.length;
    await env.emu.close();
    expect(await pending).toBe('connection closed');
    await new Promise((r) => setTimeout(r, 600)); // past the end of the delay: the handler would have run by now
    expect(unhandled.slice(before)).toEqual([]);
    expect(env.errors.filter((e) => e.includes('database connection is not open'))).toEqual([]);
  });
});

describe('close() with a slow-response fault', () => {
  it('does not wait out the delay of a held request (an hour here: the test would time out)', async () => {
    const env = await start();
    const rule = env.emu.admin.faults.addRule({ kind: 'delay', path: '/sessions', delayMs: 3_600_000 });
    const pending = env.client
      .call('GET', '/sessions', { token: env.tokens.accessToken, query: { pageSize: 10 }, noContract: true })
      .then((r) => r.status)
      .catch(() => 'connection closed');
    while (!env.emu.admin.faults.rules().some((r) => r.id === rule.id && r.hits === 1)) await new Promise((r) => setTimeout(r, 5));
    await env.emu.close();
    expect(await pending).toBe('connection closed');
    expect(env.errors).toEqual([]);
  });
});

describe('close() is idempotent', () => {
  it('a second close() waits for the first instead of returning while the database is still in use', async () => {
    const env = await start({ processingDelayMs: 50 });
    const closes: Promise<void>[] = [env.emu.close(), env.emu.close()];
    let firstDone = false;
    void closes[0]?.then(() => {
      firstDone = true;
    });
    await closes[1];
    // the second call must not resolve before the first has finished closing (callers restart on the same file)
    expect(firstDone).toBe(true);
  });
});

