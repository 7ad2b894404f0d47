/**
 * Benchmark of the invoice core: builds N invoices (default 10,000; --n 5000), writes them as FA(3) and validates them.
 * Prints invoices per second for the writer alone (string emitter and, on a sample, xmlbuilder2), writer + XSD batch
 * path (one thread, and validateManyParallel on worker threads), writer + full validation (XSD + reader + semantic
 * rules), single-invoice latency (cold: the first call,
 * including schema compilation; warm), and peak memory.
 *
 *   npx tsx scripts/bench-invoice.ts [--n 10000] [--lines 8] [--workers 2]
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { type Invoice, type InvoiceInput, closeValidationPool, createInvoice, validateFa3Xml, validateMany, validateManyParallel, writeFa3 } from '../src/invoice/index.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

const N = arg('n', 10000);
const LINES = arg('lines', 8);
const RATES = ['23', '8', '5', '0 KR', '23', '23', '8', '23'] as const;

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);
sampler.unref();
const sample = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};

function input(i: number): InvoiceInput {
  return {
    number: `FV/${i}/2026`,
    issueDate: '2026-03-02',
    createdAt: '2026-03-02T08:00:00Z',
    systemInfo: 'ksef-bridge bench',
    currency: 'PLN',
    placeOfIssue: 'Kraków',
    seller: { nip: '5261040828', name: 'Zakład Usług Różnych Sp. z o.o.', address: { countryCode: 'PL', line1: 'ul. Żółkiewskiego 12/4', line2: '31-539 Kraków' }, contacts: [{ email: 'faktury@example.pl' }] },
    buyer: { id: { kind: 'nip', nip: '7740001454' }, name: `Odbiorca ${i} S.A.`, address: { countryCode: 'PL', line1: 'ul. Długa 5', line2: '00-238 Warszawa' }, customerNumber: `K${i}` },
    saleDate: '2026-03-01',
    lines: Array.from({ length: LINES }, (_, k) => ({
      name: `Pozycja ${k + 1} — towar/usługa nr ${i}`,
      index: `IDX-${k}`,
      unit: 'szt.',
      quantity: String(1 + ((i + k) % 7)),
      unitNetPrice: `${10 + ((i * 7 + k * 13) % 990)}.${String((i + k) % 100).padStart(2, '0')}`,
      vatRate: RATES[k % RATES.length],
    })),
    payment: { dueDates: [{ date: '2026-03-16' }], form: { method: 'transfer' }, bankAccounts: [{ number: '61109010140000071219812874', bankName: 'Bank' }] },
    footer: { registries: [{ krs: '0000123456', regon: '123456785' }] },
  };
}

/** Runs fn and returns wall-clock and CPU milliseconds (CPU time is what the figures would be on an idle machine). */
function timed(fn: () => void): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

function rate(n: number, ms: { wall: number; cpu: number }): string {
  return `${fmt((n / ms.wall) * 1000).padStart(7)} inv/s wall, ${fmt((n / ms.cpu) * 1000).padStart(7)} inv/s per CPU-second`;
}

function fmt(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: 0 });
}

// 1. Single-invoice latency, cold (first call compiles the schema) and warm.
const one = createInvoice(input(0)).invoice as Invoice;
let t = performance.now();
const coldResult = validateFa3Xml(writeFa3(one), { today: '2026-03-02' });
const cold = performance.now() - t;
if (!coldResult.valid) {
  console.error('the benchmark invoice is not valid:', JSON.stringify(coldResult.xsd.concat([]), null, 1), coldResult.semantic);
  process.exit(1);
}
const warmTimes: number[] = [];
for (let k = 0; k < 200; k++) {
  t = performance.now();
  validateFa3Xml(writeFa3(one), { today: '2026-03-02' });
  warmTimes.push(performance.now() - t);
}
warmTimes.sort((a, b) => a - b);

// 2. Build the models (not timed in the throughput figures).
t = performance.now();
const invoices: Invoice[] = [];
for (let i = 0; i < N; i++) {
  const r = createInvoice(input(i));
  if (!r.invoice) throw new Error(`invoice ${i}: ${JSON.stringify(r.issues)}`);
  invoices.push(r.invoice);
}
const buildMs = performance.now() - t;
sample();

// 3. Writer alone (string emitter).
let xmls: string[] = [];
const write = timed(() => {
  xmls = invoices.map((inv) => writeFa3(inv));
});
sample();

// 3b. xmlbuilder2 object API on a sample, for comparison.
const SAMPLE = Math.min(500, N);
const xb = timed(() => {
  for (let i = 0; i < SAMPLE; i++) writeFa3(invoices[i] as Invoice, { engine: 'xmlbuilder2' });
});

// 4. Writer + XSD, batch path.
let xsdInvalid = 0;
const writeXsd = timed(() => {
  xmls = invoices.map((inv) => writeFa3(inv));
  xsdInvalid = validateMany(xmls, { today: '2026-03-02', semantic: false }).filter((r) => !r.valid).length;
});
sample();

// 5. Writer + XSD + reader + semantic rules, batch path.
let fullInvalid = 0;
const full = timed(() => {
  xmls = invoices.map((inv) => writeFa3(inv));
  fullInvalid = validateMany(xmls, { today: '2026-03-02' }).filter((r) => !r.valid).length;
});
sample();
const bytes = xmls.reduce((s, x) => s + x.length, 0) / xmls.length;

// 6. Writer + XSD on worker threads (one compiled schema per worker); the pool is started (and warmed) first.
const WORKERS = arg('workers', os.availableParallelism());
await validateManyParallel(xmls.slice(0, 2 * WORKERS * 200), { today: '2026-03-02', semantic: false, workers: WORKERS });
let parInvalid = 0;
const c0 = process.cpuUsage();
const t0 = performance.now();
xmls = invoices.map((inv) => writeFa3(inv));
parInvalid = (await validateManyParallel(xmls, { today: '2026-03-02', semantic: false, workers: WORKERS })).filter((r) => !r.valid).length;
const parWall = performance.now() - t0;
const parCpu = process.cpuUsage(c0);
const par = { wall: parWall, cpu: (parCpu.user + parCpu.system) / 1000 };
const c1 = process.cpuUsage();
const t1 = performance.now();
xmls = invoices.map((inv) => writeFa3(inv));
const parFullInvalid = (await validateManyParallel(xmls, { today: '2026-03-02', workers: WORKERS })).filter((r) => !r.valid).length;
const parFullWall = performance.now() - t1;
const parFullCpu = process.cpuUsage(c1);
const parFull = { wall: parFullWall, cpu: (parFullCpu.user + parFullCpu.system) / 1000 };
await closeValidationPool();
sample();

const ru = process.resourceUsage();
console.log(`invoices: ${fmt(N)} x ${LINES} lines, ~${fmt(bytes)} bytes of XML each (node ${process.version}, ${process.platform}, load average ${os.loadavg()[0]?.toFixed(1)} on ${os.availableParallelism()} CPUs)`);
console.log(`build models (createInvoice):        ${fmt((N / buildMs) * 1000)} inv/s`);
console.log(`writer alone (string emitter):     ${rate(N, write)}`);
console.log(`writer alone (xmlbuilder2 object): ${rate(SAMPLE, xb)} (sample of ${SAMPLE})`);
console.log(`writer + XSD (validateMany):       ${rate(N, writeXsd)}  invalid: ${xsdInvalid}`);
console.log(`writer + XSD + read + semantic:    ${rate(N, full)}  invalid: ${fullInvalid}`);
console.log(`writer + XSD, ${WORKERS} worker threads:     ${fmt((N / par.wall) * 1000).padStart(7)} inv/s wall (CPU ${fmt(par.cpu)} ms in all threads)  invalid: ${parInvalid}`);
console.log(`full validation, ${WORKERS} worker threads:  ${fmt((N / parFull.wall) * 1000).padStart(7)} inv/s wall (CPU ${fmt(parFull.cpu)} ms in all threads)  invalid: ${parFullInvalid}`);
console.log(`single invoice validation, cold:     ${cold.toFixed(1)} ms (first call, includes schema compilation)`);
console.log(`single invoice validation, warm:     median ${warmTimes[100]?.toFixed(2)} ms, p99 ${warmTimes[198]?.toFixed(2)} ms`);
console.log(`peak memory: rss sampled ${(peakRss / 1048576).toFixed(0)} MiB, maxRSS ${(ru.maxRSS / 1024).toFixed(0)} MiB`);
clearInterval(sampler);
