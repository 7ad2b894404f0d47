/**
 * Benchmark of the dispatcher against the emulator (in its own process, over HTTP on 127.0.0.1):
 *  1. batch mode: 10,000 validated invoices from the store to all accepted with KSeF numbers in one batch
 *     session: invoices/s, time per stage (package, encrypt, open, upload, close, wait for the emulator,
 *     results stored), then the session UPO; peak memory of the bridge process (and of the emulator);
 *  2. immediate mode: time from a document being queued to its KSeF number stored, median over 50 invoices,
 *     emulator processing delay 0 (background rounds, one interactive session).
 *
 *   npx tsx scripts/bench-dispatch.ts [--count 10000] [--tar] [--immediate 50] [--tsx-hooks]
 *
 * The dispatcher process loads libxml2-wasm before tsx's hooks (as bench-emulator.ts does), so its peak memory is
 * close to what the compiled CLI uses; `--tsx-hooks` runs it through tsx entirely (about 150 MB more).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DispatchProgress } from '../src/dispatch/index.js';
import { startEmulator } from '../src/emulator/index.js';
import { createInvoice, writeFa3, type InvoiceInput } from '../src/invoice/index.js';
import { openBridge } from '../src/runtime/index.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) || def : def;
};
const count = opt('--count', 10_000);
const immediateCount = opt('--immediate', 50);
const format = args.includes('--tar') ? 'tar.gz' : 'zip';
const NIP = '5261040828';
const BUYER = '7740001454';
const TOKEN = 'bench-dispatch-token-0123456789abcdef';

if (args.includes('--enqueue')) {
  // child mode: the pipeline before the dispatcher: generate, validate and store the invoices (queued), then exit
  const ini = args[args.indexOf('--enqueue') + 1]!;
  const bridge = await openBridge(ini, { env: { KSEF_BENCH_TOKEN: TOKEN } });
  let t = performance.now();
  const xmls = invoices(count, 'FV/BENCH');
  const tGen = performance.now() - t;
  t = performance.now();
  const res = bridge.dispatcher!.enqueueMany(xmls.map((xml, i) => ({ xml, source: 'bench', sourceRef: String(i + 1) })));
  const tEnqueue = performance.now() - t;
  const notQueued = res.filter((r) => r.state !== 'queued');
  await bridge.close();
  if (notQueued.length) throw new Error(`${notQueued.length} invoice(s) not queued: ${JSON.stringify(notQueued[0])}`);
  process.stdout.write(`${JSON.stringify({ tGen, tEnqueue })}\n`);
  process.exit(0);
} else if (args.includes('--serve')) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-emu-bench-'));
  const emu = await startEmulator({ tokens: [{ nip: NIP, token: TOKEN }], logger: null, dbPath: path.join(dir, 'emulator.db'), processingDelayMs: 0 });
  process.stdout.write(`URL ${emu.url}\n`);
  process.stdin.resume();
  process.stdin.on('end', () =>
    void emu.close().then(() => {
      fs.rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }),
  );
} else if (!args.includes('--booted') && !args.includes('--tsx-hooks')) {
  // The measured process (the dispatcher) runs with libxml2-wasm loaded before tsx's module hooks: through those
  // hooks its 1 MB module costs some 150 MB of RSS that the compiled CLI (dist/) never pays (see bench-emulator.ts).
  // `--tsx-hooks` measures the old way (everything through tsx).
  const boot = [
    `await import(${JSON.stringify(import.meta.resolve('libxml2-wasm'))});`,
    `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))});`,
    'register();',
    `await import(${JSON.stringify(import.meta.url)});`,
  ].join(' ');
  const c = spawn(process.execPath, ['--input-type=module', '--eval', boot, '--', 'bench-dispatch', ...args, '--booted'], { stdio: 'inherit' });
  c.once('exit', (code) => process.exit(code ?? 1));
} else {
  await main();
}

function peakKb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** CPU time (user + system) a process has used so far, in ms (/proc/<pid>/stat, clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) * 10; // utime, stime (fields 14, 15)
  } catch {
    return NaN;
  }
}

function invoices(n: number, prefix: string): string[] {
  const input: InvoiceInput = {
    number: `${prefix}/000000000`,
    issueDate: new Date(Date.now() - 86_400_000).toISOString().slice(0, 10),
    createdAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    systemInfo: 'ksef-bridge bench',
    currency: 'PLN',
    seller: { nip: NIP, name: 'Sprzedawca Sp. z o.o.', address: { countryCode: 'PL', line1: 'ul. Świętokrzyska 12/4', line2: '00-916 Warszawa' } },
    buyer: { id: { kind: 'nip', nip: BUYER }, name: 'Nabywca S.A.', address: { countryCode: 'PL', line1: 'ul. Piotrkowska 100', line2: '90-001 Łódź' } },
    saleDate: new Date(Date.now() - 86_400_000).toISOString().slice(0, 10),
    lines: [
      { name: 'Usługa doradcza', unit: 'h', quantity: '10', unitNetPrice: '150.00', vatRate: '23' },
      { name: 'Materiały biurowe', unit: 'szt.', quantity: '3', unitNetPrice: '12.99', vatRate: '8' },
    ],
  };
  const r = createInvoice(input);
  if (!r.invoice) throw new Error(JSON.stringify(r.issues));
  const template = writeFa3(r.invoice);
  return Array.from({ length: n }, (_, i) => template.replace(`${prefix}/000000000`, `${prefix}/${String(i + 1).padStart(9, '0')}`));
}

function writeIni(dir: string, url: string, mode: 'batch' | 'immediate'): string {
  const file = path.join(dir, `ksef-${mode}.ini`);
  fs.writeFileSync(
    file,
    [
      '[ksef]',
      `nip = ${NIP}`,
      'environment = emulator',
      `emulator_url = ${url}/v2`,
      'token_env = KSEF_BENCH_TOKEN',
      `session_mode = ${mode}`,
      'auto_batch_threshold = 0',
      '[batch]',
      'max_invoices = 10000',
      'max_package_size = 1GB',
      `format = ${format}`,
      '[paths]',
      `data_dir = ${dir}`,
      `database = ${path.join(dir, `${mode}.db`)}`,
      '[log]',
      'level = warn',
      'file = off',
      'console = pretty',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return file;
}

function ms(x: number): string {
  return `${Math.round(x)} ms`;
}

async function main(): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /URL (\S+)/.exec(buf);
      if (m) resolve(m[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-bench-dispatch-'));
  const env = { KSEF_BENCH_TOKEN: TOKEN };
  try {
    // ------------------------------------------------------------ batch
    const stages = new Map<string, { first: number; last: number }>();
    const onProgress = (p: DispatchProgress): void => {
      const now = performance.now();
      const s = stages.get(p.stage) ?? { first: now, last: now };
      s.last = now;
      if (process.env.KSEF_BRIDGE_PROFILE && !stages.has(p.stage)) {
        const m = process.memoryUsage();
        process.stderr.write(`[mem] ${p.stage} begins: rss ${Math.round(m.rss / 1048576)} MB, heap ${Math.round(m.heapUsed / 1048576)} MB, external ${Math.round(m.external / 1048576)} MB, arrayBuffers ${Math.round(m.arrayBuffers / 1048576)} MB\n`);
      }
      stages.set(p.stage, s);
    };
    const batchIni = writeIni(dir, url, 'batch');
    // the invoices are validated and stored by another process (as the pipeline would), so this process is the dispatcher alone
    const filler = await new Promise<string>((resolve, reject) => {
      const c = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--enqueue', batchIni, '--count', String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      c.stdout.on('data', (b: Buffer) => (out += b.toString()));
      c.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`enqueue process exited with ${code}`))));
    });
    const { tGen, tEnqueue } = JSON.parse(filler.trim().split('\n').at(-1)!) as { tGen: number; tEnqueue: number };
    const bridge = await openBridge(batchIni, { env, onProgress });
    const d = bridge.dispatcher!;
    await bridge.clients.get(NIP)!.authenticate(); // authentication is not part of the figure
    await bridge.clients.get(NIP)!.keys.get('SymmetricKeyEncryption');
    const prof = (what: string): void => {
      if (process.env.KSEF_BRIDGE_PROFILE) process.stderr.write(`[mem] ${what}: peak ${Math.round(peakKb(process.pid) / 1024)} MB, rss ${Math.round(process.memoryUsage().rss / 1048576)} MB, heap ${Math.round(process.memoryUsage().heapUsed / 1048576)} MB\n`);
    };
    prof('before dispatch');
    const cpu0 = process.cpuUsage();
    const emuCpu0 = cpuMsOf(child.pid!);
    const load0 = os.loadavg()[0]!;
    const t0 = performance.now();
    const r1 = await d.drain({ timeoutMs: 600_000, waitForUpo: false });
    const tAccepted = performance.now() - t0;
    const cpu1 = process.cpuUsage(cpu0);
    const emuCpu = cpuMsOf(child.pid!) - emuCpu0;
    const accepted = bridge.store.documents.countByState().accepted;
    prof('all accepted');
    const t1 = performance.now();
    const r2 = await d.drain({ timeoutMs: 600_000, waitForUpo: true });
    const tUpo = performance.now() - t1;
    const confirmed = bridge.store.documents.countByState().confirmed;
    await bridge.close();
    const peakBridgeMb = peakKb(process.pid) / 1024;

    const line = (label: string, value: string): void => void process.stdout.write(`${label.padEnd(44)} ${value}\n`);
    process.stdout.write(`\nbatch mode, ${count} invoices, ${format}, emulator in its own process, ${args.includes('--tsx-hooks') ? 'libxml2-wasm through tsx hooks' : 'libxml2-wasm loaded before tsx'}\n`);
    line('generate FA(3) (not timed below)', ms(tGen));
    line('validate (XSD + rules) and store (other process)', `${ms(tEnqueue)} (${Math.round((count / tEnqueue) * 1000)} invoices/s)`);
    line('queued -> all accepted with KSeF numbers', `${ms(tAccepted)} (${Math.round((count / tAccepted) * 1000)} invoices/s) ${accepted === count && r1.complete ? 'OK' : `INCOMPLETE: ${JSON.stringify(r1.states)}`}`);
    for (const [stage, label] of [
      ['batch-package', 'package'],
      ['batch-encrypt', 'encrypt'],
      ['batch-open', 'open session'],
      ['batch-upload', 'upload parts'],
      ['batch-close', 'close session'],
      ['batch-wait', 'wait for the emulator (processing)'],
    ] as const) {
      const s = stages.get(stage);
      line(`  ${label}`, s ? ms(s.last - s.first) : '-');
    }
    const wait = stages.get('batch-wait');
    const results = stages.get('batch-results');
    if (wait && results) line('  list results, match by hash, store', ms(results.last - wait.last));
    line('  CPU time of the bridge (user + system)', `${ms((cpu1.user + cpu1.system) / 1000)} (user ${ms(cpu1.user / 1000)}, system ${ms(cpu1.system / 1000)})`);
    line('  CPU time of the emulator (user + system)', ms(emuCpu));
    line('  machine load (1-min average, before / after)', `${load0.toFixed(2)} / ${os.loadavg()[0]!.toFixed(2)} on ${os.cpus().length} CPUs`);
    line('session UPO fetched and stored (all confirmed)', `${ms(tUpo)} ${confirmed === count && r2.complete ? 'OK' : 'INCOMPLETE'}`);
    line('peak memory of the bridge process (VmHWM)', `${Math.round(peakBridgeMb)} MB`);
    line('peak memory of the emulator process (VmHWM)', `${Math.round(peakKb(child.pid!) / 1024)} MB`);

    // ------------------------------------------------------------ immediate
    const ib = await openBridge(writeIni(dir, url, 'immediate'), { env, dispatcher: { pollIntervalMs: 5, maxPollIntervalMs: 50 } });
    const id = ib.dispatcher!;
    await ib.clients.get(NIP)!.authenticate();
    const docs = invoices(immediateCount + 1, 'FV/IMMB');
    id.start({ intervalMs: 1_000 });
    const latencies: number[] = [];
    for (let i = 0; i <= immediateCount; i++) {
      const { documentId } = id.enqueue({ xml: docs[i]!, source: 'bench-immediate' });
      const tq = performance.now();
      for (;;) {
        const doc = ib.store.documents.get(documentId)!;
        if (doc.state === 'accepted' || doc.state === 'confirmed') break;
        if (doc.state === 'rejected' || doc.state === 'invalid') throw new Error(`document ${documentId}: ${JSON.stringify(doc.lastError)}`);
        await new Promise((r) => setTimeout(r, 1));
      }
      const events = ib.store.documents.events(documentId);
      const queuedAt = Date.parse(events.find((e) => e.to === 'queued')!.at);
      const acceptedAt = Date.parse(events.find((e) => e.to === 'accepted')!.at);
      // the first one opens the interactive session: reported apart
      if (i === 0) line('immediate: first invoice (opens the session)', `${ms(performance.now() - tq)}`);
      else latencies.push(acceptedAt - queuedAt);
    }
    await id.stop();
    await ib.close();
    latencies.sort((a, b) => a - b);
    const median = latencies[Math.floor(latencies.length / 2)]!;
    process.stdout.write(`\nimmediate mode, ${immediateCount} invoices one after another, emulator processing delay 0\n`);
    line('queued -> KSeF number stored, median', `${median} ms (min ${latencies[0]} ms, max ${latencies.at(-1)} ms)`);
    const ok = accepted === count && confirmed === count && median <= 200;
    process.stdout.write(`\ntargets: 10,000 in <= 10 s: ${tAccepted <= 10_000 ? 'met' : 'NOT met'}; peak < 400 MB: ${peakBridgeMb < 400 ? 'met' : 'NOT met'}; immediate median <= 200 ms: ${median <= 200 ? 'met' : 'NOT met'}\n`);
    if (!ok) process.exitCode = 1;
  } finally {
    child.stdin.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
