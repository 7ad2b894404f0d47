/**
 * Robustness through `ksef-bridge run` (child processes) against the emulator: slow writers, 2,000 files at once,
 * SIGKILL at random moments and restarts (nothing lost, nothing sent twice), the SFTP server going away mid-run.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { startSshd, type SshdServer } from '../helpers/sshd.js';
import { ROOT, SELLER, TOKEN, csvExport, documentStates, sftpRouteYaml, startRun, tempDir, waitFor, writeIni, type TempDir } from './helpers.js';

let emulator: RunningEmulator;
const temps: TempDir[] = [];

function fresh(): string {
  const t = tempDir();
  temps.push(t);
  return t.dir;
}

function folderRoutes(dir: string, stable = '700ms'): void {
  writeFileSync(
    path.join(dir, 'routes.yaml'),
    ['routes:', '  - name: csv', `    source: { kind: folder, inbox: ./in, stable: ${stable} }`, `    mapping: ${ROOT}/mappings/generic-csv.yaml`, '    results: { template: csv, folder: ./results }', ''].join('\n'),
  );
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)).map((f) => `${e.name}/${f}`) : [e.name]));
}

function emulatorCount(prefix: string): { total: number; distinct: number } {
  const inv = emulator.admin.listInvoices(SELLER, 100_000).filter((i) => i.invoiceNumber.startsWith(prefix));
  return { total: inv.length, distinct: new Set(inv.map((i) => i.invoiceNumber)).size };
}

beforeAll(async () => {
  emulator = await startEmulator({ tokens: [{ nip: SELLER, token: TOKEN }], logger: null });
});
afterAll(async () => {
  await emulator?.close();
  for (const t of temps) t.remove();
});

describe('robustness of ksef-bridge run', () => {
  it('a file written slowly in chunks is taken only once complete', async () => {
    const dir = fresh();
    const ini = writeIni(dir, { emulatorUrl: emulator.url });
    folderRoutes(dir);
    mkdirSync(path.join(dir, 'in'));
    const run = startRun(ini);
    try {
      await waitFor('start', () => run.output().includes('running 1 route'), 30_000, run.output);
      const text = csvExport(['SLOW/1', 'SLOW/2', 'SLOW/3'], 3);
      const file = path.join(dir, 'in', 'slow.csv');
      const chunk = Math.ceil(text.length / 5);
      for (let i = 0; i < text.length; i += chunk) {
        appendFileSync(file, text.slice(i, i + chunk));
        await new Promise((r) => setTimeout(r, 300)); // each pause shorter than the 700 ms stability window
      }
      const db = path.join(dir, 'data', 'ksef-bridge.sqlite');
      await waitFor('3 confirmed', () => documentStates(db).confirmed === 3, 30_000, () => JSON.stringify(documentStates(db)));
      const d = new Database(db, { readonly: true });
      const rows = d.prepare('SELECT name, size, invoices, valid, outcome FROM bridge_files').all();
      d.close();
      expect(rows).toEqual([{ name: 'slow.csv', size: Buffer.byteLength(text), invoices: 3, valid: 3, outcome: 'done' }]);
      expect(walk(path.join(dir, 'data', 'error'))).toEqual([]);
    } finally {
      expect(await run.stop()).toBe(0);
    }
  });

  it('2,000 files dropped at once are all processed', async () => {
    const dir = fresh();
    const ini = writeIni(dir, { emulatorUrl: emulator.url, sessionMode: 'batch', maxWait: '1s', level: 'warn' });
    folderRoutes(dir, '300ms');
    mkdirSync(path.join(dir, 'in'));
    const run = startRun(ini);
    try {
      await waitFor('start', () => run.output().includes('running 1 route'), 30_000, run.output);
      for (let i = 1; i <= 2000; i++) writeFileSync(path.join(dir, 'in', `f${i}.csv`), csvExport([`MANY/${i}`]));
      const db = path.join(dir, 'data', 'ksef-bridge.sqlite');
      await waitFor('2,000 confirmed', () => documentStates(db).confirmed === 2000, 180_000, () => JSON.stringify(documentStates(db)));
      expect(emulatorCount('MANY/')).toEqual({ total: 2000, distinct: 2000 });
      expect(walk(path.join(dir, 'data', 'archive')).length).toBe(2000);
      expect(readdirSync(path.join(dir, 'in'))).toEqual([]);
      await waitFor('2,000 result files', () => walk(path.join(dir, 'results')).filter((f) => f.endsWith('.result.csv')).length === 2000, 60_000);
    } finally {
      expect(await run.stop()).toBe(0);
    }
  });

  it('SIGKILL at random moments, then restarts: no file lost, no invoice sent twice', async () => {
    const dir = fresh();
    const ini = writeIni(dir, { emulatorUrl: emulator.url, sessionMode: 'batch', maxWait: '1s', maxInvoices: 120, level: 'warn' });
    folderRoutes(dir, '200ms');
    mkdirSync(path.join(dir, 'in'));
    const FILES = 300;
    for (let i = 1; i <= FILES; i++) writeFileSync(path.join(dir, 'in', `k${i}.csv`), csvExport([`KILL/${i}/a`, `KILL/${i}/b`]));
    const db = path.join(dir, 'data', 'ksef-bridge.sqlite');
    const seen: string[] = [];
    // killed from outside at a moment, or killing itself at a dispatcher crash point (as a power cut would)
    const cycles: ({ delay: number } | { crashAt: string })[] = [
      { delay: 1500 },
      { crashAt: 'batch:after-sending-state' },
      { crashAt: 'batch:after-close' },
      { crashAt: 'upo:fetch' },
      { delay: 2500 },
    ];
    let late = 0;
    for (const c of cycles) {
      const run = startRun(ini, [], 'crashAt' in c ? { KSEF_BRIDGE_CRASH_AT: c.crashAt } : {});
      await waitFor('start', () => run.output().includes('running 1 route') || run.child.exitCode !== null || run.child.signalCode !== null, 30_000, run.output);
      if ('delay' in c) {
        await new Promise((r) => setTimeout(r, c.delay));
        await run.kill9();
      } else {
        const t = setTimeout(() => run.child.kill('SIGKILL'), 20_000);
        await run.exited;
        clearTimeout(t);
      }
      const states = existsSync(db) ? documentStates(db) : {};
      seen.push(`${'crashAt' in c ? c.crashAt : `killed after ${c.delay} ms`}: ${readdirSync(path.join(dir, 'in')).length} in inbox, ${JSON.stringify(states)}`);
      if (process.env.E2E_VERBOSE) console.log(seen[seen.length - 1]);
      if ('crashAt' in c && c.crashAt === 'batch:after-sending-state') expect(states.sending ?? 0).toBeGreaterThan(0);
      // a file dropped while the bridge is down is picked up at the next start
      writeFileSync(path.join(dir, 'in', `late-${++late}.csv`), csvExport([`KILL/late/${late}`]));
    }
    const run = startRun(ini);
    try {
      await waitFor('everything confirmed', () => documentStates(db).confirmed === FILES * 2 + late, 120_000, () => `${JSON.stringify(documentStates(db))}\n${seen.join('\n')}`);
      expect(documentStates(db)).toEqual({ confirmed: FILES * 2 + late });
      expect(emulatorCount('KILL/')).toEqual({ total: FILES * 2 + late, distinct: FILES * 2 + late });
      expect(readdirSync(path.join(dir, 'in'))).toEqual([]);
      expect(walk(path.join(dir, 'data', 'archive')).length).toBe(FILES + late);
      expect(walk(path.join(dir, 'data', 'error'))).toEqual([]);
      expect(walk(path.join(dir, 'data', 'processing')).filter((f) => !f.endsWith('.lock'))).toEqual([]);
    } finally {
      expect(await run.stop()).toBe(0);
    }
  });
});

describe('SFTP server stopped and started mid-run', () => {
  let sshd: SshdServer;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.dispose();
  });

  it('files put while the server is down are taken once it is back; results reach it then', async () => {
    const dir = fresh();
    const ini = writeIni(dir, { emulatorUrl: emulator.url });
    const remote = path.join(sshd.dataDir, 'flaky');
    writeFileSync(
      path.join(dir, 'routes.yaml'),
      [
        'routes:',
        ...sftpRouteYaml(sshd, remote),
        '',
      ].join('\n'),
    );
    const run = startRun(ini);
    const db = path.join(dir, 'data', 'ksef-bridge.sqlite');
    try {
      await waitFor('start', () => run.output().includes('running 1 route'), 30_000, run.output);
      for (let i = 1; i <= 3; i++) await sshd.put(path.join(remote, 'out', `a${i}.csv`), csvExport([`FLAKY/a${i}`]));
      await waitFor('3 confirmed', () => documentStates(db).confirmed === 3, 30_000);
      await sshd.stop();
      for (let i = 1; i <= 3; i++) await sshd.put(path.join(remote, 'out', `b${i}.csv`), csvExport([`FLAKY/b${i}`]));
      await new Promise((r) => setTimeout(r, 1500));
      expect(documentStates(db).confirmed).toBe(3);
      await sshd.start();
      await waitFor('6 confirmed', () => documentStates(db).confirmed === 6, 60_000, () => `${JSON.stringify(documentStates(db))}\n${run.output().slice(-3000)}`);
      await waitFor('6 remote results', () => walk(path.join(remote, 'results')).filter((f) => f.endsWith('.result.json')).length === 6, 60_000, () => run.output().slice(-3000));
      expect(walk(path.join(remote, 'done')).sort()).toEqual(['a1.csv', 'a2.csv', 'a3.csv', 'b1.csv', 'b2.csv', 'b3.csv']);
      expect(emulatorCount('FLAKY/')).toEqual({ total: 6, distinct: 6 });
    } finally {
      expect(await run.stop()).toBe(0);
    }
  });
});

