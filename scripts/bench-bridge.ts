/**
 * Benchmark of the whole bridge: 10,000 invoices as 1,000 CSV files (generic-csv mapping) dropped at once into a
 * route's inbox, to all accepted with KSeF numbers at the emulator in batch mode. The bridge runs in its own
 * process (as `ksef-bridge run` would); the emulator runs in this one. Prints the total time, invoices per second,
 * the time to all UPOs and the bridge's peak memory (max RSS).
 *
 *   npx tsx scripts/bench-bridge.ts [--files 1000] [--per-file 10] [--log info] [--dist]
 *
 * --dist runs the bridge from the compiled JavaScript in dist/ (`npm run build` first), as an installed bridge
 * runs; without it the bridge runs from the TypeScript sources under tsx, whose compiler alone holds ~100 MB.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NIP = '5260181596';
const TOKEN = 'bench-bridge-token-5260181596-0123456789abcdef';

if (args[0] === '--bridge') {
  // child mode: the bridge, until SIGTERM; then its peak memory on stdout
  const { startBridge } = await import('../src/bridge/index.js');
  const bridge = await startBridge({ config: args[1]!, env: { ...process.env, BENCH_KSEF_TOKEN: TOKEN }, dispatchIntervalMs: 200 });
  process.stdout.write('bridge running\n');
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await bridge.stop();
  process.stdout.write(`maxrss ${process.resourceUsage().maxRSS}\n`);
  process.exit(0);
}

const files = Number(opt('--files', '1000'));
const perFile = Number(opt('--per-file', '10'));
const level = opt('--log', 'warn');
const total = files * perFile;

function csv(fileNo: number): string {
  const out: string[] = [];
  for (let k = 1; k <= perFile; k++) {
    out.push(`N;FV/B/${fileNo}/${k};10.02.2026;09.02.2026;PLN;;5252248481;Hurtownia Elektryczna Iskra S.A.;ul. Zelazna 41;00-871;Warszawa;PL;24.02.2026;przelew;;VAT;;;`);
    out.push('P;1;KAB-1;Kabel YDY 3x2,5 mm2;100;m;3,85;385,00;23;;');
    out.push('P;2;GN-1;Gniazdo podtynkowe;40;szt.;12,50;500,00;23;;');
  }
  return `${out.join('\r\n')}\r\n`;
}

const { startEmulator } = await import('../src/emulator/index.js');
const emulator = await startEmulator({ tokens: [{ nip: NIP, token: TOKEN }], logger: null });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-bridge-'));
try {
  const ini = path.join(dir, 'ksef.ini');
  fs.writeFileSync(
    ini,
    [
      '[ksef]', `nip = ${NIP}`, 'environment = emulator', `emulator_url = ${emulator.url}/v2`, 'token_env = BENCH_KSEF_TOKEN', 'session_mode = batch',
      '[batch]', 'max_invoices = 10000', 'max_wait = 1s',
      '[paths]', `data_dir = ${path.join(dir, 'data')}`,
      '[log]', `level = ${level}`, `file = ${path.join(dir, 'data', 'ksef-bridge.log')}`, 'console = off', '',
    ].join('\n'),
    { mode: 0o600 },
  );
  fs.writeFileSync(
    path.join(dir, 'routes.yaml'),
    ['routes:', '  - name: erp', '    source: { kind: folder, inbox: ./inbox, stable: 200ms }', `    mapping: ${ROOT}/mappings/generic-csv.yaml`, '    results: { template: csv, folder: ./results }', ''].join('\n'),
  );
  const staging = path.join(dir, 'staging');
  fs.mkdirSync(staging);
  fs.mkdirSync(path.join(dir, 'inbox'));
  for (let f = 1; f <= files; f++) fs.writeFileSync(path.join(staging, `export-${f}.csv`), csv(f));

  const prof = process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROF] : [];
  const fromDist = args.includes('--dist');
  if (fromDist && !fs.existsSync(path.join(ROOT, 'dist', 'bridge', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const distChild = `
    const { startBridge } = await import(${JSON.stringify(new URL('../dist/bridge/index.js', import.meta.url).href)});
    const bridge = await startBridge({ config: ${JSON.stringify(ini)}, env: { ...process.env, BENCH_KSEF_TOKEN: ${JSON.stringify(TOKEN)} }, dispatchIntervalMs: 200 });
    process.stdout.write('bridge running\\n');
    await new Promise((resolve) => process.once('SIGTERM', resolve));
    await bridge.stop();
    process.stdout.write('maxrss ' + process.resourceUsage().maxRSS + '\\n');
    process.exit(0);`;
  // libxml2-wasm is loaded before tsx's hooks, as bin/ksef-bridge.js does (through the hooks it costs ~150 MB more).
  const childArgs = fromDist ? [...prof, '--input-type=module', '-e', distChild] : [...prof, '--import', 'libxml2-wasm', '--import', 'tsx', fileURLToPath(import.meta.url), '--bridge', ini];
  const child = spawn(process.execPath, childArgs, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  while (!out.includes('bridge running')) {
    if (child.exitCode !== null) throw new Error(`the bridge did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  let peakSampled = 0;
  const sampler = setInterval(() => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakSampled = Math.max(peakSampled, Number(m[1]));
    } catch {
      /* gone */
    }
  }, 100);

  const t0 = performance.now();
  for (let f = 1; f <= files; f++) fs.renameSync(path.join(staging, `export-${f}.csv`), path.join(dir, 'inbox', `export-${f}.csv`));
  const dbFile = path.join(dir, 'data', 'ksef-bridge.sqlite');
  let tAccepted = 0;
  let tUpo = 0;
  let tStored = 0;
  const deadline = Date.now() + 10 * 60_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    if (!fs.existsSync(dbFile)) continue;
    const db = new Database(dbFile, { readonly: true });
    let counts: Record<string, number> = {};
    try {
      db.pragma('busy_timeout = 2000');
      counts = Object.fromEntries((db.prepare('SELECT state, COUNT(*) AS n FROM documents GROUP BY state').all() as { state: string; n: number }[]).map((r) => [r.state, r.n]));
    } finally {
      db.close();
    }
    const stored = Object.values(counts).reduce((a, b) => a + b, 0);
    if (!tStored && stored >= total) tStored = performance.now() - t0;
    const accepted = (counts.accepted ?? 0) + (counts.confirmed ?? 0);
    if (!tAccepted && accepted >= total) tAccepted = performance.now() - t0;
    if ((counts.confirmed ?? 0) >= total) {
      tUpo = performance.now() - t0;
      break;
    }
  }
  clearInterval(sampler);
  const accepted = emulator.admin.listInvoices(NIP, total + 10).length;
  child.kill('SIGTERM');
  await exited;
  const maxRss = Number(/maxrss (\d+)/.exec(out)?.[1] ?? 0);
  const mb = (kb: number): string => `${(kb / 1024).toFixed(0)} MB`;
  const s = (ms: number): string => (ms ? `${(ms / 1000).toFixed(2)} s` : 'not reached');
  console.log(`ksef-bridge end to end: ${files} CSV files x ${perFile} invoices = ${total} invoices, batch mode, log level ${level}, bridge from ${fromDist ? 'dist/ (node)' : 'src/ (tsx)'}`);
  console.log(`  all stored (mapped, validated, queued)  ${s(tStored)}`);
  console.log(`  all accepted with KSeF numbers          ${s(tAccepted)}   (${tAccepted ? Math.round(total / (tAccepted / 1000)) : 0} invoices/s)`);
  console.log(`  all confirmed by UPO                    ${s(tUpo)}`);
  console.log(`  invoices at the emulator                ${accepted}`);
  console.log(`  bridge peak memory (max RSS)            ${mb(maxRss || peakSampled)}   (sampled RSS peak ${mb(peakSampled)})`);
  console.log(`  target: <= 15 s to all accepted, < 400 MB: ${tAccepted && tAccepted <= 15_000 && (maxRss || peakSampled) < 400 * 1024 ? 'met' : 'NOT met'}`);
} finally {
  await emulator.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
