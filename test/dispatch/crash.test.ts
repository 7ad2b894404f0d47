/**
 * Crash safety: the bridge runs in a child process that SIGKILLs itself at a crash point (KSEF_BRIDGE_CRASH_AT),
 * in both modes: while authenticating, after the `sending` state was written, after an invoice was sent but before
 * its answer was stored, mid part-upload, before and after close, while fetching the UPO. It is started again, and
 * every invoice must end with exactly one KSeF number at the emulator and in the store: none lost, none sent twice.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { isValidKsefNumber } from '../../src/ksef/index.js';
import { openStore } from '../../src/store/index.js';
import { fa3, SELLER_A, TOKEN_A, tempDir, writeIni, type TempDir } from './helpers.js';

const RUNNER = join(import.meta.dirname, 'crash-runner.ts');
let emu: RunningEmulator;
const dirs: TempDir[] = [];

beforeAll(async () => {
  emu = await startEmulator({ tokens: [{ nip: SELLER_A, token: TOKEN_A }], logger: null });
});

afterAll(async () => {
  await emu?.admin.idle();
  await emu?.close();
  for (const d of dirs) d.remove();
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(ini: string, folder: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', RUNNER, ini, folder], {
      env: { ...process.env, KSEF_TOKEN_A: TOKEN_A, KSEF_BRIDGE_CRASH_AT: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

async function scenario(mode: 'immediate' | 'batch', point: string, count: number, tag: string, attempts?: (a: number[]) => void): Promise<void> {
  const tmp = tempDir('ksef-crash-');
  dirs.push(tmp);
  const folder = join(tmp.dir, 'in');
  mkdirSync(folder);
  const prefix = `FV/CR/${tag}`;
  for (let i = 1; i <= count; i++) writeFileSync(join(folder, `${String(i).padStart(3, '0')}.xml`), fa3(`${prefix}/${i}`));
  const ini = writeIni(tmp.dir, { emulatorUrl: emu.url, sessionMode: mode, autoBatchThreshold: 0 });
  const env: Record<string, string> = mode === 'batch' ? { KSEF_BRIDGE_TEST_PART_SIZE: '2000' } : {};

  const crashed = await run(ini, folder, { ...env, KSEF_BRIDGE_CRASH_AT: point });
  expect(crashed.signal, `crash point ${point} was not reached: ${crashed.stdout}${crashed.stderr}`).toBe('SIGKILL');
  const again = await run(ini, folder, env);
  expect(again.code, again.stderr).toBe(0);
  expect(JSON.parse(again.stdout.trim().split('\n').at(-1)!).complete).toBe(true);
  await emu.admin.idle();

  const store = openStore(join(tmp.dir, 'bridge.db'));
  try {
    const docs = store.documents.listByState(['queued', 'sending', 'accepted', 'confirmed', 'rejected', 'invalid'], { limit: 1000 });
    expect(docs).toHaveLength(count);
    const atEmulator = emu.admin.listInvoices(SELLER_A, 100_000).filter((i) => i.invoiceNumber?.startsWith(`${prefix}/`));
    // exactly one KSeF number per invoice at the emulator
    expect(atEmulator).toHaveLength(count);
    expect(new Set(atEmulator.map((i) => i.invoiceNumber)).size).toBe(count);
    const byNumber = new Map(atEmulator.map((i) => [i.invoiceNumber, i.ksefNumber]));
    for (const d of docs) {
      expect(d.state, `document ${d.id} (${d.invoiceNumber}): ${JSON.stringify(d.lastError)}`).toBe('confirmed');
      expect(isValidKsefNumber(d.ksefNumber!)).toBe(true);
      // ... and the same one in the store
      expect(d.ksefNumber).toBe(byNumber.get(d.invoiceNumber!));
      const hasUpo = store.upos.forDocument(d.id).length > 0 || store.upos.forSession(d.sessionRef!).length > 0;
      expect(hasUpo).toBe(true);
    }
    // how often each document entered `sending`: reconciliation by hash, not a blind resend
    attempts?.(docs.map((d) => d.attempts).sort((a, b) => a - b));
  } finally {
    store.close();
  }
}

describe('crash safety (SIGKILL at many points, then restart)', () => {
  const ones = (n: number): number[] => Array.from({ length: n }, () => 1);
  const immediate: [string, string, number[]][] = [
    ['request:POST /auth/ksef-token', 'while authenticating', ones(5)],
    // the third document was in `sending` but never went out: KSeF has no such hash, it is sent once more
    ['online:before-send@3', 'after the sending state was written, before the request', [1, 1, 1, 1, 2]],
    // KSeF has it: found by hash in the session's invoice list, not sent again
    ['online:after-send@3', 'after an invoice was sent, before its answer was stored', ones(5)],
    ['online:after-status@2', 'after the KSeF number was read, before it was stored', ones(5)],
    ['upo:fetch@2', 'while fetching the UPO', ones(5)],
    ['online:before-close', 'before the session was closed', ones(5)],
  ];
  immediate.forEach(([point, what, attempts], k) => {
    it(`immediate mode: killed ${what}`, async () => {
      await scenario('immediate', point, 5, `I${k}`, (a) => expect(a).toEqual(attempts));
    });
  });
  const batch: [string, string, ((a: number[]) => void) | undefined][] = [
    ['request:POST /auth/ksef-token', 'while authenticating', (a) => expect(a).toEqual(ones(25))],
    // opened but not recorded: the documents were still queued, an orphan session is never closed
    ['batch:after-open', 'after the batch session was opened, before the sending state was written', (a) => expect(a).toEqual(ones(25))],
    // nothing uploaded: the session cannot be closed, every invoice is queued again and sent in a new session
    ['batch:after-sending-state', 'after the sending state was written, before any upload', (a) => expect(a).toEqual(Array.from({ length: 25 }, () => 2))],
    // some parts uploaded: closing fails (missing part), queued again
    ['batch:mid-upload', 'mid part-upload', (a) => expect(a).toEqual(Array.from({ length: 25 }, () => 2))],
    // every part uploaded: the restarted bridge closes the session itself, nothing is sent again
    ['batch:before-close', 'before close', (a) => expect(a).toEqual(ones(25))],
    ['batch:after-close', 'after close, before the results were stored', (a) => expect(a).toEqual(ones(25))],
    ['upo:fetch', 'while fetching the session UPO', (a) => expect(a).toEqual(ones(25))],
  ];
  batch.forEach(([point, what, attempts], k) => {
    it(`batch mode: killed ${what}`, async () => {
      await scenario('batch', point, 25, `B${k}`, attempts);
    });
  });
});
