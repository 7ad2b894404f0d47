/**
 * Mapping throughput: parse + map + build FA(3) + XSD-validate, in invoices per second, per format (CSV, IDoc flat,
 * IDoc-XML, XML, JSON) over N generated invoices (default 10,000), with the process's peak RSS; then a streaming
 * run over a generated CSV export of --stream-mb megabytes (default 200) printing RSS samples to show that memory
 * stays flat. Target: 2,000 invoices/s or more for CSV and IDoc.
 *
 * Each export is written to a temporary file and read back as the bridge reads exports (iterateFile: one invoice at
 * a time, results not kept), in this thread (workers 0) and with the FA(3) build + XSD check in worker threads.
 *
 *   npx tsx scripts/bench-mapping.ts [--n 10000] [--lines 5] [--workers 1] [--stream-mb 200] [--no-stream]
 */
import { createWriteStream, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import iconv from 'iconv-lite';
import { writeIdocFlat, writeIdocXml } from '../src/formats/index.js';
import { iterateFile, loadMapping, type CompiledMapping } from '../src/mapping/index.js';
import { prng, randomInvoice, toCsv, toIdocSpec, toJson, toXml, type GenInvoice } from '../test/mapping/generate.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const N = opt('n', 10_000);
const LINES = opt('lines', 5);
const STREAM_MB = opt('stream-mb', 200);
const WORKERS = opt('workers', Math.max(1, Math.min(2, availableParallelism() - 1)));
const root = path.join(import.meta.dirname, '..');
const mb = (b: number) => `${(b / 1048576).toFixed(0)} MB`;
const peakRss = () => process.resourceUsage().maxRSS * 1024;

async function run(label: string, mapping: CompiledMapping, file: string, workers: number): Promise<void> {
  if (global.gc) global.gc();
  let maxRss = process.memoryUsage().rss;
  const timer = setInterval(() => {
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
  }, 50);
  const t0 = performance.now();
  let n = 0;
  let ok = 0;
  let firstProblem: string | undefined;
  for await (const inv of iterateFile(mapping, { path: file }, { variables: { seller: { nip: '5260181596' } }, today: '2026-11-21', workers })) {
    n++;
    if (inv.ok && inv.fa3Xml) ok++;
    else firstProblem ??= inv.problems[0]?.message;
  }
  const ms = performance.now() - t0;
  clearInterval(timer);
  maxRss = Math.max(maxRss, process.memoryUsage().rss);
  const size = (await stat(file)).size;
  console.log(
    `${label.padEnd(10)} workers ${workers}: ${String(n).padStart(6)} invoices in ${(ms / 1000).toFixed(2).padStart(6)} s = ${((n / ms) * 1000).toFixed(0).padStart(5)} invoices/s` +
      `  (${ok} valid FA(3))  input ${mb(size)}  RSS during the run up to ${mb(maxRss)}`,
  );
  if (firstProblem) console.log(`  first problem: ${firstProblem}`);
}

async function main(): Promise<void> {
  console.log(`bench-mapping: ${N} invoices per format, up to ${LINES} lines each; Node ${process.version}, ${process.platform}/${process.arch}`);
  const rng = prng(20260401);
  let invoices: GenInvoice[] = Array.from({ length: N }, (_, i) => randomInvoice(rng, i, LINES));
  const csvMap = await loadMapping(path.join(root, 'mappings/generic-csv.yaml'));
  const sapMap = await loadMapping(path.join(root, 'mappings/sap-invoic02.yaml'));
  const xmlMap = await loadMapping(path.join(root, 'mappings/generic-xml.yaml'));
  const jsonMap = await loadMapping(path.join(root, 'mappings/generic-json.yaml'));
  let specs = invoices.map((inv, i) => toIdocSpec(inv, 1_000_000 + i));
  const dir0 = await mkdtemp(path.join(tmpdir(), 'bench-mapping-'));
  const files = {
    csv: path.join(dir0, 'export.csv'),
    idocFlat: path.join(dir0, 'export.idoc'),
    idocXml: path.join(dir0, 'export-idoc.xml'),
    xml: path.join(dir0, 'export.xml'),
    json: path.join(dir0, 'export.json'),
  };
  writeFileSync(files.csv, iconv.encode(toCsv(invoices), 'windows-1250'));
  writeFileSync(files.idocFlat, writeIdocFlat(specs));
  writeFileSync(files.idocXml, writeIdocXml(specs));
  writeFileSync(files.xml, toXml(invoices));
  writeFileSync(files.json, toJson(invoices));
  const warm = iconv.encode(toCsv(invoices.slice(0, 300)), 'windows-1250');
  // the generated data is not needed any more: the runs read the files
  invoices = [];
  specs = [];
  void specs;
  console.log(`load average before the runs: ${loadavg().map((x) => x.toFixed(1)).join(' ')} (${availableParallelism()} CPUs); other processes distort the figures`);
  try {
    // warm-up (schema compile, JIT)
    for await (const _ of iterateFile(csvMap, warm, { variables: { seller: { nip: '5260181596' } }, today: '2026-11-21' })) void _;
    for (const workers of [...new Set([0, WORKERS])]) {
      await run('CSV', csvMap, files.csv, workers);
      await run('IDoc flat', sapMap, files.idocFlat, workers);
      await run('IDoc XML', sapMap, files.idocXml, workers);
      await run('XML', xmlMap, files.xml, workers);
      await run('JSON', jsonMap, files.json, workers);
    }
  } finally {
    await rm(dir0, { recursive: true, force: true });
  }

  if (args.includes('--no-stream') || STREAM_MB <= 0) return;
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-mapping-'));
  const file = path.join(dir, 'export.csv');
  try {
    const target = STREAM_MB * 1048576;
    const ws = createWriteStream(file);
    let written = 0;
    let i = 0;
    const r2 = prng(99);
    while (written < target) {
      const batch = Array.from({ length: 500 }, () => randomInvoice(r2, i++, 20));
      const buf = iconv.encode(toCsv(batch), 'windows-1250');
      written += buf.byteLength;
      if (!ws.write(buf)) await new Promise<void>((res) => ws.once('drain', () => res()));
    }
    await new Promise<void>((res, rej) => ws.end((e?: Error | null) => (e ? rej(e) : res())));
    const size = (await stat(file)).size;
    if (global.gc) global.gc();
    console.log(`\nstreaming: ${mb(size)} CSV export with ${i} invoices (up to 20 lines each), parse + map + build + validate one invoice at a time (workers ${WORKERS})`);
    if (global.gc) global.gc();
    const t0 = performance.now();
    let n = 0;
    let okCount = 0;
    const samples: string[] = [];
    const every = Math.max(1, Math.floor(i / 12));
    let maxRss = 0;
    const timer = setInterval(() => {
      maxRss = Math.max(maxRss, process.memoryUsage().rss);
    }, 100);
    for await (const inv of iterateFile(csvMap, { path: file }, { variables: { seller: { nip: '5260181596' } }, today: '2026-11-21', workers: WORKERS })) {
      n++;
      if (inv.ok) okCount++;
      if (n % every === 0) samples.push(`${String(n).padStart(7)} invoices (${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s): RSS ${mb(process.memoryUsage().rss)}, heap used ${mb(process.memoryUsage().heapUsed)}`);
    }
    clearInterval(timer);
    const s = (performance.now() - t0) / 1000;
    for (const x of samples) console.log(`  ${x}`);
    console.log(`streamed ${n} invoices (${okCount} valid) in ${s.toFixed(1)} s = ${(n / s).toFixed(0)} invoices/s; RSS during the stream up to ${mb(maxRss)} (process peak incl. generation ${mb(peakRss())})`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
