/**
 * The consultant's tools: every shipped mapping passes its own test cases (and their FA(3) passes the XSD), the
 * test runner reports readable differences, `map`, `mapping test` and `mapping new` behave as documented, and the
 * FA(3) worker pool gives the same result as mapping in one thread.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runMap } from '../../src/cli/commands/map.js';
import { runMappingNew, runMappingTest } from '../../src/cli/commands/mapping.js';
import iconv from 'iconv-lite';
import { prng, randomInvoice, toCsv } from './generate.js';
import { compileMapping, runMappingTests, subsetDiffForTests } from './tools-helpers.js';

const ROOT = path.join(import.meta.dirname, '../..');
const MAPPINGS = path.join(ROOT, 'mappings');
const SAP = path.join(MAPPINGS, 'sap-invoic02.yaml');
const SAMPLES = path.join(MAPPINGS, 'tests');
const tmp = mkdtempSync(path.join(tmpdir(), 'mapping-tools-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) }, out, err, all: () => [...out, ...err].join('\n') };
}

describe('shipped mappings', () => {
  it('every shipped mapping passes all its test cases', async () => {
    const results = await runMappingTests([MAPPINGS]);
    const failed = results.filter((r) => !r.passed).map((r) => `${r.mapping} ${r.case}:\n${r.failures.join('\n')}`);
    expect(failed).toEqual([]);
    const mappings = new Set(results.map((r) => path.basename(r.mapping)));
    expect([...mappings].sort()).toEqual(['fixed-width-dos.yaml', 'generic-csv-2files.yaml', 'generic-csv.yaml', 'generic-json.yaml', 'generic-xml.yaml', 'sap-invoic02.yaml']);
    expect(results.length).toBeGreaterThanOrEqual(11);
  });
});

describe('the test runner', () => {
  const dir = path.join(tmp, 'runner');
  mkdirSync(path.join(dir, 'tests', 'sap'), { recursive: true });
  writeFileSync(path.join(dir, 'sap.yaml'), readFileSync(SAP));
  const idoc = readFileSync(path.join(SAMPLES, 'sap-invoic02', 'credit-memo.idoc'));
  writeFileSync(path.join(dir, 'tests', 'sap', 'memo.idoc'), idoc);
  writeFileSync(
    path.join(dir, 'tests', 'sap', 'memo.expected.yaml'),
    ['invoices:', '  - key: "0090012400"', '    invoice:', '      kind: VAT', '      lines:', '        - { quantity: "2" }', '        - { quantity: "1" }'].join('\n'),
  );
  writeFileSync(path.join(dir, 'tests', 'sap', 'broken.idoc'), idoc);
  writeFileSync(path.join(dir, 'tests', 'sap', 'broken.expected.yaml'), 'invoices: [\n');
  writeFileSync(path.join(dir, 'tests', 'sap', 'lonely.expected.yaml'), 'invoices: []\n');
  writeFileSync(path.join(dir, 'tests', 'sap', 'memo2.idoc'), idoc);
  writeFileSync(path.join(dir, 'tests', 'sap', 'memo2.expected.yaml'), ['invoices:', '  - key: "0090012400"', '    problems:', '      - code: MAPPING_TOTAL_MISMATCH'].join('\n'));

  it('shows each difference, broken expectations and missing inputs', async () => {
    const r = await runMappingTests([path.join(dir, 'sap.yaml')]);
    const byCase = Object.fromEntries(r.map((x) => [x.case, x]));
    expect(byCase.memo!.passed).toBe(false);
    expect(byCase.memo!.failures).toEqual([
      'invoices[0].invoice.kind: expected "VAT", got "KOR"',
      'invoices[0].invoice.lines: expected 2 item(s), got 1',
      'invoices[0].invoice.lines[0].quantity: expected "2", got "-2"',
      'invoices[0].invoice.lines[1]: expected an object, got nothing',
    ]);
    expect(byCase.broken!.failures[0]).toMatch(/^broken\.expected\.yaml is not valid YAML/);
    expect(byCase.lonely!.failures[0]).toMatch(/^no input export for case lonely/);
    expect(byCase.memo2!.failures).toEqual([
      'invoices[0]: expected problems, got a valid invoice',
      'invoices[0].problems: expected 1 problem(s), got 0',
    ]);
  });

  it('compares subsets: numbers by value, lists by length', () => {
    expect(subsetDiffForTests({ a: '10.50', b: [1] }, { a: '10.5', b: [1], c: 'ignored' })).toEqual([]);
    expect(subsetDiffForTests({ a: { b: 'x' } }, { a: 'y' })).toEqual(['a: expected an object, got "y"']);
  });

  it('mapping test: exit 1 and the differences on failure, 0 when all pass, 2 for a missing path', async () => {
    const bad = io();
    expect(await runMappingTest([path.join(dir, 'sap.yaml')], {}, bad.io)).toBe(1);
    expect(bad.err.join('\n')).toContain('FAIL');
    expect(bad.err.join('\n')).toContain('invoices[0].invoice.kind: expected "VAT", got "KOR"');
    const good = io();
    expect(await runMappingTest([SAP], {}, good.io)).toBe(0);
    expect(good.out.at(-1)).toMatch(/^\d+ cases: \d+ passed, 0 failed$/);
    const none = io();
    expect(await runMappingTest([path.join(dir, 'nope.yaml')], {}, none.io)).toBe(2);
  });
});

describe('ksef-bridge map', () => {
  it('prints FA(3) and problems, and exits 1 when some invoice has problems', async () => {
    const t = io();
    const code = await runMap(path.join(SAMPLES, 'sap-invoic02', 'problems.idoc'), { mapping: SAP, sellerNip: '526-018-15-96' }, t.io);
    expect(code).toBe(1);
    expect(t.out.join('\n')).toContain('<P_2>0090012500</P_2>');
    expect(t.err.join('\n')).toContain('error MAPPING_VALUE_INVALID: invoice 0090012501, E1EDP01 #2 (line 27), MENGE "1.2.3" is not a number');
    expect(t.err.at(-1)).toBe('4 invoices: 1 valid, 3 with problems');
  });

  it('writes one file per valid invoice with --out, explains with --explain, and prints JSON with --json', async () => {
    const out = path.join(tmp, 'out');
    const t = io();
    expect(await runMap(path.join(SAMPLES, 'sap-invoic02', 'invoice-pln.idoc'), { mapping: SAP, out, explain: true }, t.io)).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['0090012345.xml', '0090012346.xml']);
    expect(readFileSync(path.join(out, '0090012345.xml'), 'utf8')).toContain('<P_15>2611.83</P_15>');
    expect(t.out.join('\n')).toMatch(/lines\[0\]\.quantity \[Fa\/FaWiersz\/P_8B\] = "12\.5"\n\s+from MENGE "12\.500" at E1EDP01 #1 \(line \d+\); rule sap-invoic02\.yaml:\d+: MENGE \* \$sign/);
    const j = io();
    expect(await runMap(path.join(SAMPLES, 'generic-json', 'zamowienia-sklep.json'), { mapping: path.join(MAPPINGS, 'generic-json.yaml'), sellerNip: '5260181596', json: true }, j.io)).toBe(0);
    const parsed = JSON.parse(j.out.join('')) as { invoices: Array<{ key: string; ok: boolean; fa3Xml: string }> };
    expect(parsed.invoices.map((i) => [i.key, i.ok])).toEqual([
      ['S/2026/05/0091', true],
      ['S/2026/05/0092', true],
      ['S/2026/05/0093', true],
    ]);
  });

  it('exit codes: 3 for a broken mapping, 5 for an unreadable export, 2 for a wrong NIP, 3 for a broken ksef.ini', async () => {
    const badMap = path.join(tmp, 'bad.yaml');
    writeFileSync(badMap, 'format: csv\ninvoice:\n  numbr: Nr\n');
    const a = io();
    expect(await runMap(path.join(SAMPLES, 'generic-csv', 'bledy.csv'), { mapping: badMap }, a.io)).toBe(3);
    expect(a.err.join('\n')).toContain('bad.yaml:3:3: unknown Invoice field "numbr" (did you mean "number"?)');
    const b = io();
    expect(await runMap(path.join(tmp, 'missing.csv'), { mapping: path.join(MAPPINGS, 'generic-csv.yaml'), sellerNip: '5260181596' }, b.io)).toBe(5);
    expect(b.err.join('\n')).toContain('FORMAT_READ_FAILED');
    const c = io();
    expect(await runMap(path.join(SAMPLES, 'generic-csv', 'bledy.csv'), { mapping: path.join(MAPPINGS, 'generic-csv.yaml'), sellerNip: '1234567890' }, c.io)).toBe(2);
    const ini = path.join(tmp, 'ksef.ini');
    writeFileSync(ini, '[ksef]\nnip = 123\n');
    const d = io();
    expect(await runMap(path.join(SAMPLES, 'generic-csv', 'bledy.csv'), { mapping: path.join(MAPPINGS, 'generic-csv.yaml'), config: ini }, d.io)).toBe(3);
    expect(d.err.join('\n')).toContain('--seller-nip');
  });

  it('reads the seller NIP from ksef.ini', async () => {
    const ini = path.join(tmp, 'good.ini');
    writeFileSync(ini, '[ksef]\nnip = 5260181596\nenvironment = test\ntoken_env = KSEF_TEST_TOKEN_FOR_MAPPING\n');
    process.env.KSEF_TEST_TOKEN_FOR_MAPPING = '20251108-EC-0000000000-0000000000-00|nip-5260181596|0123456789abcdef';
    const t = io();
    const code = await runMap(path.join(SAMPLES, 'generic-xml', 'eksport-2026-04.xml'), { mapping: path.join(MAPPINGS, 'generic-xml.yaml'), config: ini }, t.io);
    expect(t.all()).toContain('<NIP>5260181596</NIP>');
    expect(code).toBe(0);
  });
});

describe('ksef-bridge mapping new', () => {
  const samples: Array<[string, string]> = [
    ['csv', path.join(SAMPLES, 'generic-csv-2files', 'faktury-03-naglowki.csv')],
    ['idoc', path.join(SAMPLES, 'sap-invoic02', 'invoice-pln.idoc')],
    ['xml', path.join(SAMPLES, 'generic-xml', 'eksport-2026-04.xml')],
    ['json', path.join(SAMPLES, 'generic-json', 'zamowienia-sklep.json')],
    ['fixed', path.join(SAMPLES, 'fixed-width-dos', 'faktury-0602.txt')],
  ];
  for (const [format, sample] of samples) {
    it(`${format}: a starting mapping with TODOs that compiles`, async () => {
      const t = io();
      expect(await runMappingNew({ format, sample }, t.io)).toBe(0);
      const text = t.out.join('\n');
      expect(text).toContain('TODO');
      expect(() => compileMapping(text, `new-${format}.yaml`)).not.toThrow();
    });
  }

  it('lists what the sample holds and guesses obvious fields', async () => {
    const t = io();
    await runMappingNew({ format: 'idoc', sample: samples[1]![1] }, t.io);
    expect(t.out.join('\n')).toContain('#   E1EDKA1 (x3) [PARVW=RS, PARVW=AG, PARVW=RE]');
    const c = io();
    await runMappingNew({ format: 'csv', sample: samples[0]![1] }, c.io);
    expect(c.out.join('\n')).toContain('number: row.NrFaktury # e.g. "FS 14/03/2026"');
  });

  it('writes --out, refuses to overwrite without --force, and refuses unknown formats and missing samples', async () => {
    const out = path.join(tmp, 'new.yaml');
    expect(await runMappingNew({ format: 'csv', sample: samples[0]![1], out }, io().io)).toBe(0);
    expect(await runMappingNew({ format: 'csv', sample: samples[0]![1], out }, io().io)).toBe(5);
    expect(await runMappingNew({ format: 'csv', sample: samples[0]![1], out, force: true }, io().io)).toBe(0);
    expect(await runMappingNew({ format: 'edifact', sample: samples[0]![1] }, io().io)).toBe(2);
    expect(await runMappingNew({ format: 'csv', sample: path.join(tmp, 'none.csv') }, io().io)).toBe(5);
  });
});

describe('the FA(3) worker pool', () => {
  it('gives the same results over many batches, with model errors and warnings located as in one thread', () => {
    const r = prng(77);
    const invoices = Array.from({ length: 300 }, (_, i) => randomInvoice(r, i)); // 10 batches, more than a worker keeps in flight
    let csv = toCsv(invoices);
    csv = csv
      .split('\r\n')
      .map((l) => (l.startsWith(`N;${invoices[40]!.number};`) ? l.replace(/^((?:[^;]*;){6})[^;]*/, '$15252248482') : l))
      .join('\r\n'); // wrong check digit in invoice 41: SEM_NIP_CHECKSUM
    csv = csv.replace(/\n(P;1;[^;]*;[^;]*;)[^;]*;/, (_m, a: string) => `\n${a}1,2,3;`); // the first line's quantity
    const file = path.join(tmp, 'pool.csv');
    writeFileSync(file, iconv.encode(csv, 'windows-1250'));
    const script = path.join(tmp, 'pool-csv.mts');
    writeFileSync(
      script,
      [
        `import { loadMapping, mapFile } from ${JSON.stringify(path.join(ROOT, 'src/mapping/index.ts'))};`,
        `const m = await loadMapping(${JSON.stringify(path.join(MAPPINGS, 'generic-csv.yaml'))});`,
        `const o = { now: new Date('2026-02-02T00:00:00Z'), today: '2026-11-21', variables: { seller: { nip: '5260181596' } } };`,
        `const a = await mapFile(m, { path: ${JSON.stringify(file)} }, o);`,
        `const b = await mapFile(m, { path: ${JSON.stringify(file)} }, { ...o, workers: 1 });`,
        `const sum = (r) => r.invoices.map((i) => ({ key: i.key, ok: i.ok, xml: i.fa3Xml, invoice: i.invoice, problems: i.problems.map((p) => p.code + ' ' + p.message), warnings: i.warnings.map((p) => p.message) }));`,
        `console.log(JSON.stringify({ a: sum(a), b: sum(b) }));`,
      ].join('\n'),
    );
    const out = execFileSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
    const { a, b } = JSON.parse(out) as { a: Array<{ key: string; ok: boolean; problems: string[] }>; b: unknown };
    expect(b).toEqual(a);
    expect(a).toHaveLength(300);
    expect(a[0]!.problems).toEqual([expect.stringContaining(`MAPPING_VALUE_INVALID invoice ${invoices[0]!.number}, line 2, column 5, Ilosc "1,2,3" is not a number`)]);
    expect(a.find((x) => x.problems.some((p) => p.startsWith('SEM_NIP_CHECKSUM')))?.key).toBe(invoices[40]!.number);
    expect(a.filter((x) => x.ok)).toHaveLength(298);
  });

  it('gives the same invoices and XML, in the same order, as mapping in one thread', () => {
    const script = path.join(tmp, 'pool.mts');
    writeFileSync(
      script,
      [
        `import { loadMapping, mapFile } from ${JSON.stringify(path.join(ROOT, 'src/mapping/index.ts'))};`,
        `const m = await loadMapping(${JSON.stringify(SAP)});`,
        `const input = { path: ${JSON.stringify(path.join(SAMPLES, 'sap-invoic02', 'problems.idoc'))} };`,
        `const now = new Date('2026-02-02T00:00:00Z');`,
        `const a = await mapFile(m, input, { now, today: '2026-11-21' });`,
        `const b = await mapFile(m, input, { now, today: '2026-11-21', workers: 2 });`,
        `const sum = (r) => r.invoices.map((i) => ({ key: i.key, ok: i.ok, xml: i.fa3Xml, problems: i.problems.map((p) => p.message) }));`,
        `console.log(JSON.stringify({ a: sum(a), b: sum(b) }));`,
      ].join('\n'),
    );
    const out = execFileSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    const { a, b } = JSON.parse(out) as { a: Array<{ key: string; ok: boolean; xml?: string }>; b: unknown };
    expect(b).toEqual(a);
    expect(a.map((x) => [x.key, x.ok])).toEqual([
      ['0090012500', true],
      ['0090012501', false],
      ['0090012502', false],
      ['0090012503', false],
    ]);
    expect(a[0]!.xml).toContain('<P_2>0090012500</P_2>');
  });
});
