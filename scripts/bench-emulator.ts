/**
 * Benchmark of the KSeF emulator's batch processing: 10,000 FA(3) invoices of about 3 KB in one batch session
 * (ZIP or tar.gz, 3 encrypted parts), from closing the session to its final status. The emulator runs in its own
 * process (as `ksef-bridge emulator` would), so its peak memory (VmHWM, Linux) is measured apart from the client's.
 *
 *   npx tsx scripts/bench-emulator.ts [--count 10000] [--tar] [--memory] [--workers N] [--tsx-hooks]
 *
 * `--workers N` starts the emulator with `verifyWorkers: N` (invoice verification on N worker threads).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../src/emulator/index.js';
import { KsefTestClient } from '../test/emulator/helpers/client.js';
import { fa3Invoice } from '../test/emulator/helpers/fa3.js';
import { buildTarGz, buildZip, openBatchBody, splitAndEncrypt, uploadPart } from '../test/emulator/helpers/batch.js';

const args = process.argv.slice(2);
const count = Number(args[args.indexOf('--count') + 1] ?? 10_000) || 10_000;
const tarGz = args.includes('--tar');
const NIP = '5265877635';

if (args.includes('--serve')) {
  // child mode: run the emulator (state in a temporary SQLite file, as `ksef-bridge emulator` keeps it) and print its URL
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-emu-bench-'));
  const dbPath = args.includes('--memory') ? ':memory:' : path.join(dir, 'emulator.db');
  const workers = Number(args[args.indexOf('--workers') + 1] ?? 0) || 0;
  const emu = await startEmulator({ tokens: [{ nip: NIP, token: 'bench-token' }], logger: null, dbPath, verifyWorkers: workers });
  process.stdout.write(`URL ${emu.url}\n`);
  process.stdin.resume();
  process.stdin.on('end', () =>
    void emu.close().then(() => {
      fs.rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }),
  );
} else {
  await runBenchmark();
}

/** CPU time (user + system) of a process in ms, from /proc (clock ticks of 10 ms on Linux). */
function cpuMs(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

function peakKb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

async function runBenchmark(): Promise<void> {
  // extra node flags for the emulator process, e.g. KSEF_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"
  const extra = (process.env.KSEF_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const workers = Number(args[args.indexOf('--workers') + 1] ?? 0) || 0;
  const serveArgs = ['--serve', ...(args.includes('--memory') ? ['--memory'] : []), '--workers', String(workers)];
  // libxml2-wasm is loaded before tsx's module hooks are registered: run through those hooks, its 1 MB module (the
  // wasm binary as base64) costs the process about 150 MB of RSS, which the compiled CLI (dist/) never pays.
  // `--tsx-hooks` measures the old way (everything through `--import tsx`, like `npm run emulator`).
  const boot = [
    `await import(${JSON.stringify(import.meta.resolve('libxml2-wasm'))});`,
    `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))});`,
    'register();',
    `await import(${JSON.stringify(import.meta.url)});`,
  ].join(' ');
  const childArgs = args.includes('--tsx-hooks')
    ? [...extra, '--import', 'tsx', fileURLToPath(import.meta.url), ...serveArgs]
    : [...extra, '--input-type=module', '--eval', boot, '--', 'bench-emulator', ...serveArgs];
  const child = spawn(process.execPath, childArgs, { stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /URL (\S+)/.exec(buf);
      if (m) resolve(m[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  const baseRssKb = peakKb(child.pid as number);
  try {
  const client = new KsefTestClient(url);
  const issueDate = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const t0 = performance.now();
  const files = Array.from({ length: count }, (_, i) => ({
    name: `invoice-${String(i + 1).padStart(5, '0')}.xml`,
    content: Buffer.from(fa3Invoice({ sellerNip: NIP, buyerNip: '7980332920', number: `BENCH/${Date.now()}/${i + 1}`, issueDate, lines: 8 }), 'utf8'),
  }));
  const avg = files.reduce((s, f) => s + f.content.length, 0) / files.length;
  const pkg = tarGz ? await buildTarGz(files) : buildZip(files);
  // the first request only now: a keep-alive connection left idle while the (blocking) preparation runs may be
  // closed by the server just as the client reuses it ("other side closed")
  const { accessToken } = await client.authenticate(NIP, 'bench-token');
  const { key, iv, encryption } = client.newEncryption();
  const parts = splitAndEncrypt(pkg, 3, key, iv);
  const tPrep = performance.now();
  const open = await client.call<{ referenceNumber: string; partUploadRequests: { ordinalNumber: number; method: string; url: string; headers: Record<string, string> }[] }>(
    'POST',
    '/sessions/batch',
    { token: accessToken, body: openBatchBody(pkg, parts, encryption, tarGz ? 'TarGz' : 'Zip') },
  );
  for (const p of parts) {
    const req = open.json.partUploadRequests.find((r) => r.ordinalNumber === p.ordinalNumber);
    if (!req) throw new Error('missing upload request');
    const r = await uploadPart(req, p.data);
    if (r.status !== 201) throw new Error(`part upload ${r.status}`);
  }
  const tUp = performance.now();
  const ref = open.json.referenceNumber;
  const cpuBefore = cpuMs(child.pid as number);
  await client.call('POST', '/sessions/batch/{referenceNumber}/close', { params: { referenceNumber: ref }, token: accessToken });
  const tClose = performance.now();
  // polls GET /sessions/{ref} at 10 per second, the documented limit of that endpoint
  const final = await client.waitSession(ref, accessToken, (c) => c >= 200, 100);
  const tDone = performance.now();
  const emulatorPeakKb = peakKb(child.pid as number);
  const emulatorCpu = cpuMs(child.pid as number) - cpuBefore;
  const mb = (n: number): string => (n / 1024 / 1024).toFixed(1);
  process.stdout.write(
    [
      `KSeF emulator batch benchmark (${tarGz ? 'tar.gz' : 'ZIP'}, ${parts.length} parts, state ${args.includes('--memory') ? 'in memory' : 'in a SQLite file'}, ${args.includes('--tsx-hooks') ? 'libxml2-wasm through tsx hooks' : 'libxml2-wasm loaded before tsx'}, Node ${process.version})`,
      `  invoices:              ${count} (avg ${avg.toFixed(0)} B), package ${mb(pkg.length)} MB`,
      `  client preparation:    ${(tPrep - t0).toFixed(0)} ms`,
      `  open + upload parts:   ${(tUp - tPrep).toFixed(0)} ms`,
      `  close -> final status: ${(tDone - tClose).toFixed(0)} ms  (status ${final.status.code}, ${String(final.successfulInvoiceCount)} accepted, ${String(final.failedInvoiceCount)} failed)`,
      `  emulator CPU time:     ${emulatorCpu.toFixed(0)} ms from close to final status, all threads (load average ${os.loadavg()[0]?.toFixed(1)} on ${os.cpus().length} CPUs; ${workers} verification worker(s))`,
      `  emulator peak RSS:     ${(emulatorPeakKb / 1024).toFixed(1)} MB (after start: ${(baseRssKb / 1024).toFixed(1)} MB)`,
      '',
    ].join('\n'),
  );
  } finally {
    child.stdin.end();
  }
}
