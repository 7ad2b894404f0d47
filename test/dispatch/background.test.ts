/**
 * Background rounds (start/stop): batch mode waits for its count limit; immediate mode sends at once, keeps one
 * interactive session for consecutive documents and closes it when idle.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { openBridge, type Bridge } from '../../src/runtime/index.js';
import { fa3, SELLER_A, TOKEN_A, TOKEN_ENV, tempDir, writeIni, type TempDir } from './helpers.js';

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

async function until(what: string, ok: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('background rounds', () => {
  it('batch mode: documents wait until the count limit is reached, then go out in one batch session', async () => {
    const tmp = tempDir();
    dirs.push(tmp);
    const b = await openBridge(writeIni(tmp.dir, { emulatorUrl: emu.url, sessionMode: 'batch', maxInvoices: 5 }), {
      env: TOKEN_ENV,
      dispatcher: { batch: { maxWaitMs: 3_600_000, sendAt: [] } },
    });
    bridges.push(b);
    const d = b.dispatcher!;
    d.start({ intervalMs: 50 });
    const first = [1, 2, 3].map((i) => d.enqueue({ xml: fa3(`FV/BG/B${i}`) }).documentId);
    await new Promise((r) => setTimeout(r, 500));
    // below the count limit and far from max_wait: still waiting
    expect(first.map((id) => b.store.documents.require(id).state)).toEqual(['queued', 'queued', 'queued']);
    const rest = [4, 5].map((i) => d.enqueue({ xml: fa3(`FV/BG/B${i}`) }).documentId);
    const all = [...first, ...rest];
    await until('all confirmed', () => all.every((id) => b.store.documents.require(id).state === 'confirmed'));
    await d.stop();
    const sessions = new Set(all.map((id) => b.store.documents.require(id).sessionRef));
    expect(sessions.size).toBe(1);
    expect(b.store.sessions.require([...sessions][0]!).kind).toBe('batch');
  });

  it('immediate mode: each document goes out at once in the same interactive session, closed when idle', async () => {
    const tmp = tempDir();
    dirs.push(tmp);
    const b = await openBridge(writeIni(tmp.dir, { emulatorUrl: emu.url, sessionMode: 'immediate', autoBatchThreshold: 0 }), {
      env: TOKEN_ENV,
      dispatcher: { idleCloseMs: 300 },
    });
    bridges.push(b);
    const d = b.dispatcher!;
    d.start({ intervalMs: 50 });
    const ids: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const id = d.enqueue({ xml: fa3(`FV/BG/I${i}`) }).documentId;
      ids.push(id);
      await until(`document ${id} accepted`, () => ['accepted', 'confirmed'].includes(b.store.documents.require(id).state));
    }
    const refs = new Set(ids.map((id) => b.store.documents.require(id).sessionRef!));
    expect(refs.size).toBe(1);
    const ref = [...refs][0]!;
    await until('the idle session closed', () => b.store.sessions.require(ref).state === 'closed');
    await until('all confirmed', () => ids.every((id) => b.store.documents.require(id).state === 'confirmed'));
    await d.stop();
  });
});
