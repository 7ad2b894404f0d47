/**
 * KSeF unavailable (maintenance mid-run, a dropped connection on send), several companies (one company's trouble
 * does not stall the other), and secrets (all log output of a full run holds no token).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DispatchProgress } from '../../src/dispatch/index.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { isValidKsefNumber } from '../../src/ksef/index.js';
import { openBridge, type Bridge, type OpenBridgeOptions } from '../../src/runtime/index.js';
import { fa3, SELLER_A, SELLER_B, TOKEN_A, TOKEN_B, TOKEN_ENV, tempDir, writeIni, type IniOptions, type TempDir } from './helpers.js';

let emu: RunningEmulator;
const dirs: TempDir[] = [];
const bridges: Bridge[] = [];

beforeAll(async () => {
  emu = await startEmulator({ tokens: [{ nip: SELLER_A, token: TOKEN_A }], logger: null });
});

afterAll(async () => {
  for (const b of bridges) await b.close();
  await emu?.admin.idle();
  await emu?.close();
  for (const d of dirs) d.remove();
});

const fast: OpenBridgeOptions = { retry: { retries: 2, minTimeoutMs: 20, maxTimeoutMs: 100 }, dispatcher: { backoffMs: { min: 100, max: 500 } } };

async function open(ini: Partial<IniOptions>, o: OpenBridgeOptions = {}): Promise<{ bridge: Bridge; dir: string }> {
  const tmp = tempDir();
  dirs.push(tmp);
  const path = writeIni(tmp.dir, { emulatorUrl: emu.url, ...ini });
  const bridge = await openBridge(path, { env: TOKEN_ENV, ...fast, ...o, dispatcher: { ...fast.dispatcher, ...(o.dispatcher ?? {}) } });
  bridges.push(bridge);
  return { bridge, dir: tmp.dir };
}

function assertExactlyOnce(b: Bridge, ids: number[], nip: string): void {
  const docs = ids.map((id) => b.store.documents.require(id));
  const atEmu = new Map(emu.admin.listInvoices(nip, 100_000).map((i) => [i.ksefNumber, i]));
  for (const d of docs) {
    expect(d.state, JSON.stringify(d.lastError)).toBe('confirmed');
    expect(isValidKsefNumber(d.ksefNumber!)).toBe(true);
    expect(atEmu.get(d.ksefNumber!)?.invoiceNumber).toBe(d.invoiceNumber);
  }
  for (const d of docs) expect([...atEmu.values()].filter((i) => i.invoiceNumber === d.invoiceNumber)).toHaveLength(1);
}

describe('KSeF unavailable', () => {
  it('maintenance mid-run: documents wait in the queue with the reason visible, nothing is lost, all go out afterwards', async () => {
    const seen: string[] = [];
    let started = false;
    let b!: Bridge;
    const onProgress = (p: DispatchProgress): void => {
      if (p.stage === 'online-send' && p.done === 3 && !started) {
        started = true;
        emu.admin.faults.setMaintenance({ to: new Date(Date.now() + 2_500).toISOString() });
      }
      if (p.stage === 'unavailable') {
        for (const d of b.store.documents.listByState('queued', { limit: 5 })) if (d.lastError) seen.push(`${d.lastError.code} ${d.lastError.message}`);
      }
    };
    ({ bridge: b } = await open({ sessionMode: 'immediate', autoBatchThreshold: 0 }, { onProgress }));
    const ids = Array.from({ length: 10 }, (_, i) => b.dispatcher!.enqueue({ xml: fa3(`FV/OUT/${i}`) }).documentId);
    const r = await b.dispatcher!.drain({ documentIds: ids, timeoutMs: 60_000 });
    emu.admin.faults.setMaintenance(null);
    expect(started).toBe(true);
    expect(r.complete).toBe(true);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.some((s) => /KSEF_HTTP_503|503/.test(s))).toBe(true);
    assertExactlyOnce(b, ids, SELLER_A);
  });

  it('a send whose connection drops (outcome unknown) is reconciled by hash, not sent twice', async () => {
    const { bridge: b } = await open({ sessionMode: 'immediate', autoBatchThreshold: 0 });
    const rule = emu.admin.faults.addRule({ kind: 'drop', method: 'POST', path: '/sessions/online/{referenceNumber}/invoices', times: 1 });
    const ids = Array.from({ length: 4 }, (_, i) => b.dispatcher!.enqueue({ xml: fa3(`FV/DROP/${i}`) }).documentId);
    const r = await b.dispatcher!.drain({ documentIds: ids, timeoutMs: 60_000 });
    emu.admin.faults.removeRule(rule.id); // (a rule with times: 1 is gone after it fired)
    expect(r.complete).toBe(true);
    assertExactlyOnce(b, ids, SELLER_A);
    // the emulator dropped the request before taking it: the invoice list has no such hash, so it was sent once more
    expect(ids.map((id) => b.store.documents.require(id).attempts)).toEqual([2, 1, 1, 1]);
    expect(b.store.documents.events(ids[0]!).some((e) => /reconciled: KSeF has no invoice with this hash/.test(e.reason ?? ''))).toBe(true);
  });

  it('batch mode: maintenance during the batch flow; the invoices wait and go out afterwards', async () => {
    let done = false;
    const onProgress = (p: DispatchProgress): void => {
      if (p.stage === 'batch-package' && p.done > 0 && !done) {
        done = true;
        emu.admin.faults.setMaintenance({ to: new Date(Date.now() + 2_000).toISOString() });
      }
    };
    const { bridge: b } = await open({ sessionMode: 'batch' }, { onProgress });
    const ids = Array.from({ length: 30 }, (_, i) => b.dispatcher!.enqueue({ xml: fa3(`FV/BOUT/${i}`) }).documentId);
    const r = await b.dispatcher!.drain({ documentIds: ids, timeoutMs: 60_000 });
    emu.admin.faults.setMaintenance(null);
    expect(done).toBe(true);
    expect(r.complete).toBe(true);
    assertExactlyOnce(b, ids, SELLER_A);
  });
});

describe('session-level failures', () => {
  it('batch: part uploads keep failing; the session is given up and only its unfinished invoices go out again in a new one', async () => {
    const { bridge: b } = await open({ sessionMode: 'batch' });
    const done = b.dispatcher!.enqueueMany(Array.from({ length: 3 }, (_, i) => ({ xml: fa3(`FV/SESS/OK${i}`) }))).map((r) => r.documentId);
    await b.dispatcher!.drain({ timeoutMs: 60_000 });
    const rule = emu.admin.faults.addRule({ kind: 'error', status: 500, method: 'PUT', path: '/emulator/storage/*', times: 3 }); // = the 3 tries of one part (retries: 2)
    const ids = b.dispatcher!.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ xml: fa3(`FV/SESS/B${i}`) }))).map((r) => r.documentId);
    const r = await b.dispatcher!.drain({ timeoutMs: 60_000 });
    emu.admin.faults.removeRule(rule.id);
    expect(r.complete).toBe(true);
    assertExactlyOnce(b, [...done, ...ids], SELLER_A);
    // the earlier, finished invoices were not touched; the 10 went through two batch sessions (the first abandoned)
    for (const id of done) expect(b.store.documents.require(id).attempts).toBe(1);
    for (const id of ids) expect(b.store.documents.require(id).attempts).toBe(2);
    const sessions = b.store.sessions.listByState(['abandoned', 'done'], { companyNip: SELLER_A });
    expect(sessions.filter((x) => x.state === 'abandoned')).toHaveLength(1);
  });

  it('interactive: KSeF no longer accepts invoices in the open session; the invoice is queued for a new session, not rejected', async () => {
    const { bridge: b } = await open({ sessionMode: 'immediate', autoBatchThreshold: 0 }, { dispatcher: { idleCloseMs: 600_000 } });
    const d = b.dispatcher!;
    d.start({ intervalMs: 50 });
    const until = async (ok: () => boolean): Promise<void> => {
      const end = Date.now() + 30_000;
      while (!ok()) {
        if (Date.now() > end) throw new Error('timed out');
        await new Promise((res) => setTimeout(res, 20));
      }
    };
    const first = d.enqueue({ xml: fa3('FV/SESS/I1') }).documentId;
    await until(() => b.store.documents.require(first).state === 'confirmed');
    const ref = b.store.documents.require(first).sessionRef!;
    // the session is closed behind the bridge's back (as when KSeF ends it)
    await b.clients.get(SELLER_A)!.closeOnlineSession(ref);
    const second = d.enqueue({ xml: fa3('FV/SESS/I2') }).documentId;
    await until(() => b.store.documents.require(second).state === 'confirmed');
    await d.stop();
    const doc = b.store.documents.require(second);
    expect(doc.sessionRef).not.toBe(ref);
    expect(doc.attempts).toBe(2);
    expect(b.store.documents.events(second).some((e) => /refused it/.test(e.reason ?? ''))).toBe(true);
    assertExactlyOnce(b, [first, second], SELLER_A);
  });
});

describe('several companies', () => {
  it("one company's refused token does not stall the other; its documents wait and go out once the token works", async () => {
    const { bridge: b } = await open({
      sessionMode: 'immediate',
      autoBatchThreshold: 0,
      companies: [
        { name: 'a', nip: SELLER_A, tokenEnv: 'KSEF_TOKEN_A' },
        { name: 'b', nip: SELLER_B, tokenEnv: 'KSEF_TOKEN_B' },
      ],
    });
    const d = b.dispatcher!;
    const a = Array.from({ length: 5 }, (_, i) => d.enqueue({ xml: fa3(`FV/CA/${i}`) }).documentId);
    const bb = Array.from({ length: 3 }, (_, i) => d.enqueue({ xml: fa3(`FV/CB/${i}`, { sellerNip: SELLER_B }) }).documentId);
    // sending company A's documents does not wait for company B
    const onlyA = await d.drain({ documentIds: a, timeoutMs: 60_000 });
    expect(onlyA.complete).toBe(true);
    const first = await d.drain({ timeoutMs: 4_000 });
    expect(first.complete).toBe(false);
    assertExactlyOnce(b, a, SELLER_A);
    for (const id of bb) {
      const doc = b.store.documents.require(id);
      expect(doc.state).toBe('queued');
      expect(doc.lastError?.message).toMatch(/waiting/);
    }
    expect(first.waiting.map((w) => w.nip)).toEqual([SELLER_B]);
    // the admin fixes the token at KSeF: the waiting documents go out
    emu.admin.provisionToken({ nip: SELLER_B, token: TOKEN_B });
    const second = await d.drain({ timeoutMs: 30_000 });
    expect(second.complete).toBe(true);
    assertExactlyOnce(b, bb, SELLER_B);
  });
});

describe('secrets', () => {
  it('all log output of a full run (file and console, debug level) holds no token', async () => {
    const tmp = tempDir();
    dirs.push(tmp);
    const logFile = join(tmp.dir, 'bridge.log');
    let consoleText = '';
    const consoleStream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        consoleText += chunk.toString();
        cb();
      },
    });
    const ini = writeIni(tmp.dir, { emulatorUrl: emu.url, sessionMode: 'immediate', autoBatchThreshold: 3, logFile });
    const b = await openBridge(ini, { env: TOKEN_ENV, log: { console: 'json', consoleStream, level: 'debug' } });
    const d = b.dispatcher!;
    const ids = [...Array.from({ length: 2 }, (_, i) => d.enqueue({ xml: fa3(`FV/SEC/${i}`) }).documentId)];
    await d.drain({ timeoutMs: 30_000 });
    ids.push(...Array.from({ length: 6 }, (_, i) => d.enqueue({ xml: fa3(`FV/SECB/${i}`) }).documentId));
    const r = await d.drain({ timeoutMs: 30_000 });
    expect(r.complete).toBe(true);
    await b.close();
    const fileText = readFileSync(logFile, 'utf8');
    for (const text of [fileText, consoleText]) {
      expect(text.length).toBeGreaterThan(1000);
      expect(text).toContain('POST /sessions/online'); // the run is really logged at debug level
      expect(text).not.toContain(TOKEN_A);
      expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/); // no JWT (access, refresh or authentication token)
      expect(text).not.toMatch(/Bearer\s+\S{20,}/);
    }
  });
});
