/**
 * Mapping test cases, kept next to each mapping like configuration unit tests: mappings/tests/<mapping>/<case>.<ext>
 * is an export, <case>.expected.yaml the expected invoices (a subset of the Invoice model, plus the problems
 * expected by code and message) or <case>.expected.xml the expected FA(3) XML of a one-invoice export.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Dec } from '../invoice/index.js';
import { isBridgeError } from '../errors/index.js';
import { loadMapping, mapFile, type CompiledMapping, type MapFileResult, type MappingVariables } from './engine.js';

export interface MappingTestCase {
  mapping: string;
  name: string;
  input: string;
  expected: string;
}

export interface MappingTestResult {
  mapping: string;
  case: string;
  passed: boolean;
  /** Readable differences ("invoices[0].invoice.lines[2].quantity: expected "10", got "-10""). */
  failures: string[];
}

export interface MappingTestOptions {
  /** Default config.* values for every case (a case's variables: override). */
  variables?: MappingVariables;
  schemaDir?: string;
}

/** Fixed DataWytworzeniaFa for test runs, so expected FA(3) XML is stable. */
export const TEST_NOW = new Date('2026-01-02T03:04:05Z');

/** Mapping files named by the arguments: files as they are, folders searched for *.yaml (not their tests/). */
export async function findMappings(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const s = await stat(p);
    if (s.isDirectory()) {
      for (const f of (await readdir(p)).sort()) if (/\.ya?ml$/.test(f)) out.push(path.join(p, f));
    } else out.push(p);
  }
  return out;
}

/** Test cases of a mapping: tests/<stem>/*.expected.{yaml,xml} beside the mapping. */
export async function findCases(mappingFile: string): Promise<MappingTestCase[]> {
  const stem = path.basename(mappingFile).replace(/\.ya?ml$/, '');
  const dir = path.join(path.dirname(mappingFile), 'tests', stem);
  if (!existsSync(dir)) return [];
  const files = (await readdir(dir)).sort();
  const cases: MappingTestCase[] = [];
  for (const f of files) {
    const m = /^(.*)\.expected\.(ya?ml|xml)$/.exec(f);
    if (!m) continue;
    const name = m[1]!;
    let input: string | undefined;
    if (m[2] !== 'xml') {
      try {
        const doc = parseYaml(await readFile(path.join(dir, f), 'utf8')) as { input?: unknown } | null;
        if (doc && typeof doc.input === 'string') input = path.join(dir, doc.input);
      } catch {
        /* runCase reports the broken expected file */
      }
    }
    if (!input) {
      const candidates = files.filter((x) => x.startsWith(`${name}.`) && !x.includes('.expected.'));
      input = candidates.length === 1 ? path.join(dir, candidates[0]!) : undefined;
    }
    cases.push({ mapping: mappingFile, name: m[2] === 'xml' ? `${name} (FA(3) XML)` : name, input: input ?? path.join(dir, `${name}.<missing>`), expected: path.join(dir, f) });
  }
  return cases;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function scalarEq(exp: unknown, act: unknown): boolean {
  if (exp === null) return act === undefined || act === null;
  const e = String(exp);
  const a = act === undefined ? undefined : typeof act === 'object' ? JSON.stringify(act) : String(act);
  if (a === e) return true;
  if (a !== undefined && /^-?\d+(\.\d+)?$/.test(e) && /^-?\d+(\.\d+)?$/.test(a)) return Dec.from(e).eq(Dec.from(a));
  return false;
}

/** Subset comparison: every key of expected must match; arrays must have the same length. */
export function subsetDiff(expected: unknown, actual: unknown, at: string, out: string[]): void {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) {
      out.push(`${at}: expected a list of ${expected.length}, got ${actual === undefined ? 'nothing' : JSON.stringify(actual)}`);
      return;
    }
    if (expected.length !== actual.length) out.push(`${at}: expected ${expected.length} item(s), got ${actual.length}`);
    expected.forEach((e, i) => subsetDiff(e, actual[i], `${at}[${i}]`, out));
    return;
  }
  if (isObj(expected)) {
    if (!isObj(actual)) {
      out.push(`${at}: expected an object, got ${actual === undefined ? 'nothing' : JSON.stringify(actual)}`);
      return;
    }
    for (const [k, v] of Object.entries(expected)) subsetDiff(v, actual[k], at ? `${at}.${k}` : k, out);
    return;
  }
  if (!scalarEq(expected, actual)) out.push(`${at}: expected ${JSON.stringify(expected)}, got ${actual === undefined ? 'nothing' : JSON.stringify(actual)}`);
}

interface ExpectedProblem {
  code?: string;
  message?: string;
}

function problemDiff(expected: unknown, actual: { code: string; message: string }[], at: string, out: string[]): void {
  if (!Array.isArray(expected)) {
    out.push(`${at}: must be a list of { code, message }`);
    return;
  }
  if (expected.length !== actual.length) {
    out.push(`${at}: expected ${expected.length} problem(s), got ${actual.length}${actual.length ? `:\n${actual.map((p) => `      ${p.code}: ${p.message}`).join('\n')}` : ''}`);
  }
  (expected as ExpectedProblem[]).forEach((e, i) => {
    const a = actual[i];
    if (!a) return;
    if (e.code !== undefined && e.code !== a.code) out.push(`${at}[${i}].code: expected ${e.code}, got ${a.code} (${a.message})`);
    if (e.message !== undefined && !a.message.includes(e.message)) out.push(`${at}[${i}].message: expected it to contain ${JSON.stringify(e.message)}, got ${JSON.stringify(a.message)}`);
  });
}

function xmlDiff(expected: string, actual: string, out: string[]): void {
  const e = expected.replace(/\r\n/g, '\n').trimEnd().split('\n');
  const a = actual.replace(/\r\n/g, '\n').trimEnd().split('\n');
  const n = Math.max(e.length, a.length);
  let shown = 0;
  for (let i = 0; i < n && shown < 10; i++) {
    if (e[i] !== a[i]) {
      out.push(`FA(3) line ${i + 1}:\n      - ${e[i] ?? '(no line)'}\n      + ${a[i] ?? '(no line)'}`);
      shown++;
    }
  }
}

async function runCase(mapping: CompiledMapping, c: MappingTestCase, options: MappingTestOptions): Promise<MappingTestResult> {
  const failures: string[] = [];
  const result = (): MappingTestResult => ({ mapping: c.mapping, case: c.name, passed: failures.length === 0, failures });
  if (!existsSync(c.input)) {
    failures.push(`no input export for case ${c.name} (put ${c.name}.<ext> next to the expected file, or name it with input:)`);
    return result();
  }
  const expText = await readFile(c.expected, 'utf8');
  let exp: Record<string, unknown> = {};
  if (!c.expected.endsWith('.xml')) {
    let parsed: unknown;
    try {
      parsed = parseYaml(expText) as unknown;
    } catch (e) {
      failures.push(`${path.basename(c.expected)} is not valid YAML: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
      return result();
    }
    if (!isObj(parsed)) {
      failures.push(`${path.basename(c.expected)} must be a YAML map (invoices: [...])`);
      return result();
    }
    exp = parsed;
  }
  const variables = { ...(options.variables ?? {}), ...(isObj(exp.variables) ? (exp.variables as MappingVariables) : {}) };
  let r: MapFileResult;
  try {
    r = await mapFile(mapping, { path: c.input }, {
      variables,
      now: typeof exp.now === 'string' ? new Date(exp.now) : TEST_NOW,
      ...(typeof exp.today === 'string' ? { today: exp.today } : {}),
      ...(options.schemaDir ? { schemaDir: options.schemaDir } : {}),
      file: path.basename(c.input),
    });
  } catch (e) {
    failures.push(`mapping failed: ${isBridgeError(e) ? e.describe() : e instanceof Error ? e.message : String(e)}`);
    return result();
  }
  const simple = (list: { code: string; message: string }[]) => list.map((p) => ({ code: p.code, message: p.message }));
  if (c.expected.endsWith('.xml')) {
    const inv = r.invoices[0];
    if (r.invoices.length !== 1) failures.push(`an expected FA(3) XML needs an export with exactly one invoice; got ${r.invoices.length}`);
    for (const p of r.fileProblems) failures.push(`file problem: ${p.message}`);
    if (inv && !inv.fa3Xml) failures.push(`invoice ${inv.key} was not produced:\n${inv.problems.map((p) => `      ${p.code}: ${p.message}`).join('\n')}`);
    if (inv?.fa3Xml) xmlDiff(expText, inv.fa3Xml, failures);
    return result();
  }
  if (exp.fileProblems !== undefined) problemDiff(exp.fileProblems, simple(r.fileProblems), 'fileProblems', failures);
  else for (const p of r.fileProblems) failures.push(`unexpected file problem ${p.code}: ${p.message}`);
  const invs = Array.isArray(exp.invoices) ? (exp.invoices as unknown[]) : [];
  if (invs.length !== r.invoices.length) failures.push(`invoices: expected ${invs.length}, got ${r.invoices.length} (${r.invoices.map((i) => i.key).join(', ')})`);
  invs.forEach((e, i) => {
    const a = r.invoices[i];
    const at = `invoices[${i}]`;
    if (!a || !isObj(e)) return;
    if (e.key !== undefined && String(e.key) !== a.key) failures.push(`${at}.key: expected ${JSON.stringify(String(e.key))}, got ${JSON.stringify(a.key)}`);
    const expectOk = e.ok !== undefined ? e.ok === true : e.problems === undefined || (Array.isArray(e.problems) && e.problems.length === 0);
    if (expectOk !== a.ok) {
      failures.push(`${at}: expected ${expectOk ? 'a valid invoice' : 'problems'}, got ${a.ok ? 'a valid invoice' : `problems:\n${a.problems.map((p) => `      ${p.code}: ${p.message}`).join('\n')}`}`);
    }
    if (e.problems !== undefined) problemDiff(e.problems, simple(a.problems), `${at}.problems`, failures);
    if (e.warnings !== undefined) problemDiff(e.warnings, simple(a.warnings), `${at}.warnings`, failures);
    if (e.invoice !== undefined) subsetDiff(e.invoice, a.invoice, `${at}.invoice`, failures);
  });
  return result();
}

/** Runs the test cases of the given mappings (files or folders). */
export async function runMappingTests(paths: string[], options: MappingTestOptions = {}): Promise<MappingTestResult[]> {
  const results: MappingTestResult[] = [];
  for (const file of await findMappings(paths)) {
    let mapping: CompiledMapping;
    try {
      mapping = await loadMapping(file);
    } catch (e) {
      results.push({ mapping: file, case: '(mapping)', passed: false, failures: [isBridgeError(e) ? e.describe() : String(e)] });
      continue;
    }
    const cases = await findCases(file);
    if (cases.length === 0) {
      results.push({ mapping: file, case: '(none)', passed: false, failures: [`no test cases in ${path.join(path.dirname(file), 'tests', path.basename(file).replace(/\.ya?ml$/, ''))}`] });
      continue;
    }
    for (const c of cases) results.push(await runCase(mapping, c, options));
  }
  return results;
}
