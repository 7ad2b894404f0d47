/**
 * Reading a mapping file: YAML with line numbers (yaml's parseDocument + LineCounter), checked against the mapping
 * schema. Every problem names the line and column of the mapping; unknown keys get a "did you mean".
 */
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode, type Pair, type Scalar as YamlScalar, type YAMLMap } from 'yaml';
import { MappingError } from '../errors/index.js';
import { suggest } from './expr.js';

export type ConstValue = string | boolean | undefined;

export interface Where {
  line: number;
  column: number;
}

export interface RuleSpec extends Where {
  /** Target key as written ("seller.nip", "quantity" inside a block). */
  target: string;
  /** Expression text, or undefined for a constant. */
  expr?: string;
  constValue?: ConstValue;
  defaultValue?: ConstValue;
  when?: { text: string } & Where;
  required?: boolean;
  exprWhere: Where;
}

export interface BlockSpec extends Where {
  /** "lines[]", "payment.dueDates[]", ... */
  target: string;
  each: { text: string } & Where;
  when?: { text: string } & Where;
  rules: RuleSpec[];
}

export interface LookupSpec extends Where {
  name: string;
  entries: Map<string, string>;
  fallback?: string;
}

export interface MappingSpec {
  file: string;
  name?: string;
  description?: string;
  format: Record<string, unknown> & { type: string };
  formatWhere: Where;
  numbers: Record<string, unknown>;
  dates?: string[];
  datesWhere?: Where;
  invoices?: { text: string } & Where;
  key?: { text: string } & Where;
  vars: Array<{ name: string; text: string } & Where>;
  lookups: LookupSpec[];
  rules: RuleSpec[];
  blocks: BlockSpec[];
  checks: Array<{ name: string; text: string } & Where>;
}

export interface SpecProblem extends Where {
  message: string;
  hint?: string;
}

export const FORMAT_TYPES = ['csv', 'fixed', 'xml', 'json', 'idoc', 'idoc-flat', 'idoc-xml'] as const;
const COMMON_OPTS = ['encoding', 'maxBytes'];
const GROUPING = ['groupBy', 'recordType', 'maxGroupRows'];
export const FORMAT_OPTIONS: Record<string, string[]> = {
  csv: [...COMMON_OPTS, ...GROUPING, 'delimiter', 'quote', 'escape', 'header', 'columnsByType', 'skipLines', 'trim', 'relaxColumnCount', 'skipEmptyLines', 'maxRecordChars', 'linesFile', 'headerKey', 'lineKey', 'lines'],
  fixed: [...COMMON_OPTS, 'groupBy', 'maxGroupRows', 'fields', 'recordType', 'layouts', 'trim', 'skipEmptyLines', 'skipLines'],
  xml: [...COMMON_OPTS, 'recordPath', 'maxDepth'],
  json: [...COMMON_OPTS, 'recordPath', 'maxDepth'],
  idoc: [...COMMON_OPTS, 'segments', 'tolerateShortControlRecord'],
  'idoc-flat': [...COMMON_OPTS, 'segments', 'tolerateShortControlRecord'],
  'idoc-xml': [...COMMON_OPTS, 'segments', 'tolerateShortControlRecord'],
};

const TOP_KEYS = ['name', 'description', 'format', 'numbers', 'dates', 'invoices', 'key', 'vars', 'lookups', 'invoice', 'lines', 'checks'];
const RULE_KEYS = ['from', 'const', 'default', 'when', 'required'];
const BLOCK_KEYS = ['each', 'when', 'fields'];
const NUMBER_KEYS = ['decimal', 'thousands', 'trailingSign', 'parentheses'];

class Reader {
  readonly problems: SpecProblem[] = [];
  constructor(
    readonly lc: LineCounter,
    readonly file: string,
  ) {}

  where(n: YamlNode | null | undefined): Where {
    const off = n?.range?.[0] ?? 0;
    const p = this.lc.linePos(off);
    return { line: p.line, column: p.col };
  }

  problem(n: YamlNode | null | undefined, message: string, hint?: string): void {
    this.problems.push({ ...this.where(n), message, ...(hint ? { hint } : {}) });
  }

  map(n: YamlNode | null | undefined, what: string): YAMLMap | undefined {
    if (!isMap(n)) {
      this.problem(n, `${what} must be a map of keys and values`);
      return undefined;
    }
    return n;
  }

  keyOf(p: Pair): string | undefined {
    if (!isScalar(p.key)) {
      this.problem(p.key as YamlNode, 'keys must be plain names');
      return undefined;
    }
    return String((p.key as YamlScalar).value);
  }

  str(n: YamlNode | null | undefined, what: string): string | undefined {
    if (!isScalar(n) || n.value === null || typeof n.value === 'object') {
      this.problem(n, `${what} must be a text`);
      return undefined;
    }
    return String(n.value);
  }

  expr(n: YamlNode | null | undefined, what: string): ({ text: string } & Where) | undefined {
    if (!isScalar(n) || n.value === null || typeof n.value === 'object') {
      this.problem(n, `${what} must be an expression (a text)`);
      return undefined;
    }
    return { text: String(n.value), ...this.where(n) };
  }

  constant(n: YamlNode | null | undefined, what: string): ConstValue {
    if (!isScalar(n)) {
      this.problem(n, `${what} must be a single value (text, number, true or false)`);
      return undefined;
    }
    const v = n.value;
    if (v === null) return undefined;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'number') return (n as YamlScalar).source ?? String(v);
    return String(v);
  }

  unknownKey(p: Pair, key: string, allowed: readonly string[], where: string): void {
    this.problem(p.key as YamlNode, `unknown key "${key}" in ${where}${suggest(key, allowed)}`, `allowed: ${allowed.join(', ')}`);
  }
}

/** Plain JS value of a YAML node (format options). Numbers stay numbers here (they are parser options). */
function plain(n: YamlNode | null | undefined): unknown {
  if (n === null || n === undefined) return undefined;
  return (n as unknown as { toJSON(): unknown }).toJSON();
}

export function readMappingText(text: string, file: string): { spec?: MappingSpec; problems: SpecProblem[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const r = new Reader(lc, file);
  for (const e of doc.errors) {
    const p = lc.linePos(e.pos[0]);
    r.problems.push({ line: p.line, column: p.col, message: `YAML: ${e.message.split('\n')[0]}` });
  }
  if (doc.errors.length) return { problems: r.problems };
  const top = r.map(doc.contents as YamlNode, 'the mapping file');
  if (!top) return { problems: r.problems };

  const spec: MappingSpec = {
    file,
    format: { type: '' },
    formatWhere: { line: 1, column: 1 },
    numbers: {},
    vars: [],
    lookups: [],
    rules: [],
    blocks: [],
    checks: [],
  };
  let sawFormat = false;
  let sawInvoice = false;

  for (const p of top.items) {
    const key = r.keyOf(p);
    if (key === undefined) continue;
    const v = p.value as YamlNode;
    switch (key) {
      case 'name':
      case 'description': {
        const s = r.str(v, key);
        if (s !== undefined) spec[key] = s;
        break;
      }
      case 'format':
        sawFormat = true;
        readFormat(r, v, spec);
        break;
      case 'numbers': {
        const m = r.map(v, 'numbers');
        if (!m) break;
        for (const q of m.items) {
          const k = r.keyOf(q);
          if (k === undefined) continue;
          if (!NUMBER_KEYS.includes(k)) r.unknownKey(q, k, NUMBER_KEYS, 'numbers');
          else if (k === 'decimal' && !['.', ',', 'auto'].includes(String(plain(q.value as YamlNode)))) r.problem(q.value as YamlNode, 'numbers.decimal must be "," or "." or auto');
          else spec.numbers[k] = plain(q.value as YamlNode);
        }
        break;
      }
      case 'dates': {
        spec.datesWhere = r.where(v);
        if (isScalar(v)) spec.dates = [String(v.value)];
        else if (isSeq(v)) spec.dates = v.items.map((x) => r.str(x as YamlNode, 'a date format') ?? '');
        else r.problem(v, 'dates must be a date format ("DD.MM.YYYY") or a list of them');
        break;
      }
      case 'invoices': {
        const e = r.expr(v, 'invoices');
        if (e) spec.invoices = e;
        break;
      }
      case 'key': {
        const e = r.expr(v, 'key');
        if (e) spec.key = e;
        break;
      }
      case 'vars': {
        const m = r.map(v, 'vars');
        if (!m) break;
        for (const q of m.items) {
          const k = r.keyOf(q);
          if (k === undefined) continue;
          if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
            r.problem(q.key as YamlNode, `variable name "${k}" must be letters, digits and _ (used as $${k})`);
            continue;
          }
          const e = r.expr(q.value as YamlNode, `vars.${k}`);
          if (e) spec.vars.push({ name: k, ...e });
        }
        break;
      }
      case 'lookups':
        readLookups(r, v, spec);
        break;
      case 'invoice':
        sawInvoice = true;
        readRules(r, v, spec, '');
        break;
      case 'lines': {
        const b = readBlock(r, v, 'lines[]', p.key as YamlNode);
        if (b) spec.blocks.push(b);
        break;
      }
      case 'checks': {
        const m = r.map(v, 'checks');
        if (!m) break;
        for (const q of m.items) {
          const k = r.keyOf(q);
          if (k === undefined) continue;
          if (!CHECK_NAMES.includes(k)) {
            r.unknownKey(q, k, CHECK_NAMES, 'checks');
            continue;
          }
          const e = r.expr(q.value as YamlNode, `checks.${k}`);
          if (e) spec.checks.push({ name: k, ...e, line: r.where(q.key as YamlNode).line, column: r.where(q.key as YamlNode).column });
        }
        break;
      }
      default:
        r.unknownKey(p, key, TOP_KEYS, 'the mapping');
    }
  }
  if (!sawFormat) r.problem(top, 'the mapping needs a format: section (type: csv, fixed, xml, json or idoc)');
  if (!sawInvoice && spec.blocks.length === 0) r.problem(top, 'the mapping needs an invoice: section with the Invoice fields');
  return { spec, problems: r.problems };
}

export const CHECK_NAMES = [
  'totals.gross',
  'totals.net',
  'totals.vat',
  'lines.count',
  ...['standard', 'reduced1', 'reduced2', 'taxi', 'oss', 'zeroDomestic', 'zeroIntraEu', 'zeroExport', 'exempt', 'outsideCountry', 'euServices', 'reverseCharge', 'margin'].flatMap((g) => [
    `totals.groups.${g}.net`,
    `totals.groups.${g}.vat`,
  ]),
];

function readFormat(r: Reader, v: YamlNode, spec: MappingSpec): void {
  spec.formatWhere = r.where(v);
  if (isScalar(v)) {
    const t = String(v.value);
    if (!(FORMAT_TYPES as readonly string[]).includes(t)) r.problem(v, `unknown format "${t}"${suggest(t, FORMAT_TYPES)}`, `formats: ${FORMAT_TYPES.join(', ')}`);
    spec.format = { type: t };
    return;
  }
  const m = r.map(v, 'format');
  if (!m) return;
  const typeNode = m.items.find((q) => isScalar(q.key) && (q.key as YamlScalar).value === 'type');
  const type = typeNode ? String(plain(typeNode.value as YamlNode)) : '';
  if (!typeNode) {
    r.problem(v, 'format needs a type: csv, fixed, xml, json or idoc');
    return;
  }
  if (!(FORMAT_TYPES as readonly string[]).includes(type)) {
    r.problem(typeNode.value as YamlNode, `unknown format "${type}"${suggest(type, FORMAT_TYPES)}`, `formats: ${FORMAT_TYPES.join(', ')}`);
    return;
  }
  const allowed = FORMAT_OPTIONS[type]!;
  const out: Record<string, unknown> & { type: string } = { type };
  for (const q of m.items) {
    const k = r.keyOf(q);
    if (k === undefined || k === 'type') continue;
    if (!allowed.includes(k)) {
      r.unknownKey(q, k, ['type', ...allowed], `format (${type})`);
      continue;
    }
    out[k] = plain(q.value as YamlNode);
  }
  if (out.linesFile !== undefined && out.headerKey === undefined) r.problem(v, 'a two-file CSV (linesFile) needs headerKey: the column that joins header and line records');
  spec.format = out;
}

function readLookups(r: Reader, v: YamlNode, spec: MappingSpec): void {
  const m = r.map(v, 'lookups');
  if (!m) return;
  for (const q of m.items) {
    const name = r.keyOf(q);
    if (name === undefined) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      r.problem(q.key as YamlNode, `lookup table name "${name}" must be letters, digits and _`);
      continue;
    }
    const t = r.map(q.value as YamlNode, `lookups.${name}`);
    if (!t) continue;
    const entries = new Map<string, string>();
    let fallback: string | undefined;
    for (const e of t.items) {
      const k = isScalar(e.key) ? ((e.key as YamlScalar).source ?? String((e.key as YamlScalar).value)) : undefined;
      if (k === undefined) {
        r.problem(e.key as YamlNode, 'lookup codes must be plain values');
        continue;
      }
      const val = r.constant(e.value as YamlNode, `lookups.${name}.${k}`);
      if (val === undefined) {
        r.problem(e.value as YamlNode, `lookups.${name}: code "${k}" has no value`);
        continue;
      }
      if (k === '*') fallback = String(val);
      else {
        if (entries.has(k)) r.problem(e.key as YamlNode, `lookups.${name}: code "${k}" appears twice`);
        entries.set(k, String(val));
      }
    }
    spec.lookups.push({ name, entries, ...(fallback !== undefined ? { fallback } : {}), ...r.where(q.key as YamlNode) });
  }
}

function readRule(r: Reader, target: string, keyNode: YamlNode, v: YamlNode): RuleSpec | undefined {
  const where = r.where(keyNode);
  if (isScalar(v)) {
    const val = v.value;
    if (val === null) {
      r.problem(v, `${target} has no value; write an expression, or remove the line`);
      return undefined;
    }
    if (typeof val === 'string') return { target, expr: val, ...where, exprWhere: r.where(v) };
    return { target, constValue: typeof val === 'boolean' ? val : ((v as YamlScalar).source ?? String(val)), ...where, exprWhere: r.where(v) };
  }
  const m = r.map(v, target);
  if (!m) return undefined;
  const rule: RuleSpec = { target, ...where, exprWhere: r.where(v) };
  for (const q of m.items) {
    const k = r.keyOf(q);
    if (k === undefined) continue;
    const qv = q.value as YamlNode;
    switch (k) {
      case 'from': {
        const e = r.expr(qv, `${target}.from`);
        if (e) {
          rule.expr = e.text;
          rule.exprWhere = { line: e.line, column: e.column };
        }
        break;
      }
      case 'const':
        rule.constValue = r.constant(qv, `${target}.const`);
        rule.exprWhere = r.where(qv);
        break;
      case 'default':
        rule.defaultValue = r.constant(qv, `${target}.default`);
        break;
      case 'when': {
        const e = r.expr(qv, `${target}.when`);
        if (e) rule.when = e;
        break;
      }
      case 'required': {
        const c = r.constant(qv, `${target}.required`);
        if (typeof c !== 'boolean') r.problem(qv, `${target}.required must be true or false`);
        else rule.required = c;
        break;
      }
      default:
        r.unknownKey(q, k, RULE_KEYS, `the rule for ${target}`);
    }
  }
  if (rule.expr !== undefined && rule.constValue !== undefined) r.problem(v, `${target}: give either from: or const:, not both`);
  if (rule.expr === undefined && rule.constValue === undefined && rule.defaultValue === undefined) r.problem(v, `${target}: the rule needs from: (an expression), const: or default:`);
  return rule;
}

function readBlock(r: Reader, v: YamlNode, target: string, keyNode: YamlNode): BlockSpec | undefined {
  const m = r.map(v, target);
  if (!m) return undefined;
  const block: BlockSpec = { target, each: { text: '', line: 0, column: 0 }, rules: [], ...r.where(keyNode) };
  let sawEach = false;
  for (const q of m.items) {
    const k = r.keyOf(q);
    if (k === undefined) continue;
    const qv = q.value as YamlNode;
    if (k === 'each') {
      const e = r.expr(qv, `${target}.each`);
      if (e) {
        block.each = e;
        sawEach = true;
      }
    } else if (k === 'when') {
      const e = r.expr(qv, `${target}.when`);
      if (e) block.when = e;
    } else if (k === 'fields') {
      const f = r.map(qv, `${target}.fields`);
      if (!f) continue;
      for (const fp of f.items) {
        const fk = r.keyOf(fp);
        if (fk === undefined) continue;
        const rule = readRule(r, fk, fp.key as YamlNode, fp.value as YamlNode);
        if (rule) block.rules.push(rule);
      }
    } else r.unknownKey(q, k, BLOCK_KEYS, target);
  }
  if (!sawEach) r.problem(v, `${target} needs each: the path of the repeated records (e.g. E1EDP01, line)`);
  return block;
}

function readRules(r: Reader, v: YamlNode, spec: MappingSpec, prefix: string): void {
  const m = r.map(v, 'invoice');
  if (!m) return;
  for (const p of m.items) {
    const k = r.keyOf(p);
    if (k === undefined) continue;
    const target = prefix + k;
    if (target.endsWith('[]')) {
      const b = readBlock(r, p.value as YamlNode, target, p.key as YamlNode);
      if (b) spec.blocks.push(b);
      continue;
    }
    const rule = readRule(r, target, p.key as YamlNode, p.value as YamlNode);
    if (rule) spec.rules.push(rule);
  }
}

/** A MAPPING_FILE_INVALID error listing every problem with its line. */
export function specError(file: string, problems: SpecProblem[]): MappingError {
  const base = path.basename(file);
  const sorted = [...problems].sort((a, b) => a.line - b.line || a.column - b.column);
  const lines = sorted.map((p) => `  ${base}:${p.line}:${p.column}: ${p.message}${p.hint ? ` (${p.hint})` : ''}`);
  const first = sorted[0];
  return new MappingError(
    'MAPPING_FILE_INVALID',
    `the mapping ${base} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${lines.join('\n')}`,
    { file, ...(first ? { line: first.line, column: first.column } : {}), details: { problems: sorted } },
    { hint: 'fix the lines named above; see mappings/README.md for the mapping language' },
  );
}
