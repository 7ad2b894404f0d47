/** Shared setup of the end-to-end tests: ERP exports, ksef.ini and routes in a temp folder, the bridge as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { SshdServer } from '../helpers/sshd.js';

export const SELLER = '5260181596';
export const TOKEN = 'e2e-ksef-token-5260181596-0123456789abcdef';
export const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** A generic-csv export (mappings/generic-csv.yaml) with one invoice per number, `lines` lines each. */
export function csvExport(numbers: readonly string[], lines = 1): string {
  const out: string[] = [];
  for (const n of numbers) {
    out.push(`N;${n};10.02.2026;09.02.2026;PLN;;5252248481;Hurtownia Elektryczna Iskra S.A.;ul. Zelazna 41;00-871;Warszawa;PL;24.02.2026;przelew;;VAT;;;`);
    for (let i = 1; i <= lines; i++) out.push(`P;${i};KAB-${i};Kabel YDY 3x2,5 mm2;100;m;3,85;385,00;23;;`);
  }
  return `${out.join('\r\n')}\r\n`;
}

/** An export whose second invoice has a broken quantity. */
export function brokenCsvExport(good: string, bad: string): string {
  return csvExport([good]) + `N;${bad};10.02.2026;09.02.2026;PLN;;5252248481;Hurtownia;ul. Zelazna 41;00-871;Warszawa;PL;24.02.2026;przelew;;VAT;;;\r\nP;1;X;Kabel;1,2,3;m;3,85;385,00;23;;\r\n`;
}

export interface TempDir {
  dir: string;
  remove(): void;
}

export function tempDir(prefix = 'ksef-e2e-'): TempDir {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface IniOptions {
  emulatorUrl: string;
  sessionMode?: 'immediate' | 'batch';
  autoBatchThreshold?: number;
  maxWait?: string;
  maxInvoices?: number;
  level?: string;
}

export function writeIni(dir: string, o: IniOptions): string {
  const file = path.join(dir, 'ksef.ini');
  writeFileSync(
    file,
    [
      '[ksef]',
      `nip = ${SELLER}`,
      'environment = emulator',
      `emulator_url = ${o.emulatorUrl}/v2`,
      'token_env = E2E_KSEF_TOKEN',
      `session_mode = ${o.sessionMode ?? 'immediate'}`,
      `auto_batch_threshold = ${o.autoBatchThreshold ?? 5}`,
      'request_timeout = 10s',
      '[batch]',
      `max_invoices = ${o.maxInvoices ?? 10000}`,
      `max_wait = ${o.maxWait ?? '1s'}`,
      '[paths]',
      `data_dir = ${path.join(dir, 'data')}`,
      '[log]',
      `level = ${o.level ?? 'info'}`,
      `file = ${path.join(dir, 'data', 'ksef-bridge.log')}`,
      'console = pretty',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return file;
}

export interface BridgeProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** SIGTERM and wait. */
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
}

/** Starts `ksef-bridge run --config <ini>` as a child process (the real CLI entry when `run` is registered). */
export function startRun(ini: string, extraArgs: string[] = [], env: Record<string, string> = {}): BridgeProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test', 'e2e', 'run-bridge.ts'), 'run', '--config', ini, ...extraArgs], {
    cwd: ROOT,
    env: { ...process.env, E2E_KSEF_TOKEN: TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000, info?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let v: T | undefined | false;
    try {
      v = await fn();
    } catch {
      v = undefined;
    }
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${info ? `\n${info()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Document counts per state in the bridge's store (read-only, while the bridge runs). */
export function documentStates(dbFile: string): Record<string, number> {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 2000');
    const out: Record<string, number> = {};
    for (const r of db.prepare('SELECT state, COUNT(*) AS n FROM documents GROUP BY state').all() as { state: string; n: number }[]) out[r.state] = r.n;
    return out;
  } finally {
    db.close();
  }
}

/** The routes.yaml lines of an SFTP route on the test's OpenSSH server (key auth, host key pinned, results back on it). */
export function sftpRouteYaml(sshd: Pick<SshdServer, 'host' | 'port' | 'username' | 'privateKeyPath' | 'hostKeySha256'>, remote: string, name = 'sftp'): string[] {
  return [
    `  - name: ${name}`,
    '    source:',
    '      kind: sftp',
    `      host: ${sshd.host}`,
    `      port: ${sshd.port}`,
    `      username: ${sshd.username}`,
    `      private_key: ${sshd.privateKeyPath}`,
    `      host_key: "${sshd.hostKeySha256}"`,
    `      remote_dir: ${remote}/out`,
    `      remote_archive: ${remote}/done`,
    '      stable: 0s',
    '      poll: 200ms',
    `    mapping: ${ROOT}/mappings/generic-csv.yaml`,
    `    results: { template: json, remote_dir: ${remote}/results }`,
  ];
}
