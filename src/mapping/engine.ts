/**
 * The mapping engine: a compiled mapping (closures built once) applied to the record tree of each invoice, then the
 * Invoice model (createInvoice derives what the source omits), the semantic rules, the mapping's checks against what
 * the source states, the FA(3) writer and the XSD. Problems speak the consultant's language: invoice, source
 * position and field, mapping rule (file:line) and Invoice field.
 */
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { MappingError, isBridgeError } from '../errors/index.js';
import {
  describePos,
  iterateCsvPair,
  iterateDocument,
  type CsvPairOptions,
  type FormatInput,
  type FormatOptions,
  type FormatWarning,
  type NumberFormat,
  type RecordNode,
  type SourcePos,
} from '../formats/index.js';
import { getXsdValidator, type XsdValidator } from '../schemas/index.js';
import { Dec, checkInvoice, createInvoice, polishDate, writeFa3, type Invoice, type InvoiceInput, type InvoiceIssue } from '../invoice/index.js';
import {
  ExprError,
  ListVal,
  NumVal,
  ValueError,
  asText,
  compileExpression,
  compileNodes,
  dateParser,
  isEmpty,
  normalizeVatRate,
  parseDateText,
  partyIdFromVatId,
  show,
  suggest,
  toDecimal,
  truthy,
  type CompileEnv,
  type EvalCtx,
  type Fn,
  type LookupTable,
  type Origin,
  type Val,
} from './expr.js';
import type { Fa3Job, Fa3JobResult } from './fa3-worker.js';
import { readMappingText, specError, type ConstValue, type MappingSpec, type RuleSpec, type SpecProblem, type Where } from './load.js';
import { ARRAY_TARGETS, TARGETS, genericPath, pathKeys, setPath, targetInfo, type TargetInfo } from './targets.js';

/* ------------------------------------------------------------------ public types ---- */

/** Values a mapping reads as config.* (the seller's NIP from ksef.ini, ...). */
export interface MappingVariables {
  seller?: { nip?: string; name?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface MapOptions {
  /** config.* values. */
  variables?: MappingVariables;
  /** Write FA(3) XML (default true). */
  build?: boolean;
  /** Check the FA(3) XML against the official XSD (default true when building). */
  validate?: boolean;
  /** Record, for every Invoice field, the source value, its position and the rule (for --explain). */
  explain?: boolean;
  /** The day for the "issue date not in the future" rule (YYYY-MM-DD); default today in Poland. */
  today?: string;
  /** DataWytworzeniaFa for invoices without createdAt (default: now). */
  now?: Date;
  schemaDir?: string;
  /** Name of the export in positions and messages (default: the path). */
  file?: string;
  /** The lines file of a two-file CSV export (default: derived from format.linesFile). */
  linesInput?: FormatInput;
  /** Format warnings (encoding guessed, ...). */
  onWarning?: (w: FormatWarning) => void;
  /** iterateFile/mapFile only: build and validate FA(3) in this many worker threads (default 0: in this thread).
   *  Worth it on a machine with 2 or more cores for big exports; results keep the order of the export. */
  workers?: number;
}

/** One step of --explain: an Invoice field, its value, where it came from and the rule. */
export interface ExplainEntry {
  /** Concrete Invoice field path ("lines[2].quantity"). */
  field: string;
  /** FA(3) element it is written to. */
  element?: string;
  value: string;
  /** Source fields read by the rule (name, value, position). */
  sources: Array<{ name: string; value: string; pos: SourcePos; where: string }>;
  /** "sap-invoic02.yaml:57", or "derived" for values the model computed. */
  rule: string;
  expression?: string;
}

export interface MappedInvoice {
  /** 1-based position of the invoice in the export. */
  index: number;
  /** The invoice key (number) for messages and the store. */
  key: string;
  sourcePos: SourcePos;
  /** The Invoice, when there is no error. */
  invoice?: Invoice;
  /** FA(3) XML, when built and valid. */
  fa3Xml?: string;
  /** Errors: the invoice must not proceed. Every one is a MappingError with a stable code. */
  problems: MappingError[];
  warnings: MappingError[];
  ok: boolean;
  explain?: ExplainEntry[];
}

export interface MapFileResult {
  file: string;
  invoices: MappedInvoice[];
  /** Problems of the file itself (cannot be read or parsed past a point). */
  fileProblems: MappingError[];
  warnings: FormatWarning[];
}

export interface CompiledMapping {
  file: string;
  name: string;
  description?: string;
  formatOptions: FormatOptions;
  /** Two-file CSV: how to find the lines file. */
  pair?: { headerKey: string; lineKey?: string; linesFile: string | { replace: [string, string] } };
  /** @internal */ readonly impl: unknown;
}

/* ------------------------------------------------------------------ compile ---- */

interface CRule {
  target: string;
  display: string;
  keys: Array<string | number>;
  info: TargetInfo;
  fn?: Fn;
  constValue?: ConstValue;
  defaultValue?: ConstValue;
  when?: Fn;
  required: boolean;
  ruleRef: string;
  expression?: string;
}

interface CBlock {
  target: string;
  keys: Array<string | number>;
  each: (c: EvalCtx) => RecordNode[];
  when?: Fn;
  rules: CRule[];
  ruleRef: string;
  display: string;
}

interface Impl {
  base: string;
  numbers: NumberFormat;
  dates?: string[];
  invoices?: (c: EvalCtx) => RecordNode[];
  key?: Fn;
  vars: Array<{ name: string; fn: Fn; ruleRef: string }>;
  rules: CRule[];
  blocks: CBlock[];
  checks: Array<{ name: string; fn: Fn; ruleRef: string; expression: string }>;
  numberRule?: CRule;
}

function implOf(m: CompiledMapping): Impl {
  return m.impl as Impl;
}

/** Compile a mapping from its YAML text. Throws MAPPING_FILE_INVALID listing every problem with its line. */
export function compileMapping(text: string, file = 'mapping.yaml'): CompiledMapping {
  const { spec, problems } = readMappingText(text, file);
  if (!spec) throw specError(file, problems);
  // compile even when the file check found problems, so every problem is reported at once
  const out: SpecProblem[] = [...problems];
  const compiled = compileSpec(spec, out);
  if (out.length) throw specError(file, out);
  return compiled;
}

/** Read and compile a mapping file. */
export async function loadMapping(file: string): Promise<CompiledMapping> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new MappingError('MAPPING_FILE_UNREADABLE', `cannot read the mapping ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file }, { cause: e });
  }
  return compileMapping(text, file);
}

function compileSpec(spec: MappingSpec, problems: SpecProblem[]): CompiledMapping {
  const base = path.basename(spec.file);
  const ref = (w: Where) => `${base}:${w.line}`;
  const lookups = new Map<string, LookupTable>();
  for (const l of spec.lookups) lookups.set(l.name, { name: l.name, entries: l.entries, ...(l.fallback !== undefined ? { fallback: l.fallback } : {}), where: ref(l) });
  const env: CompileEnv = { lookups, vars: new Set(spec.vars.map((v) => v.name)) };
  const expr = (text: string, w: Where, mode: 'scalar' | 'list' = 'scalar'): Fn | undefined => {
    try {
      return compileExpression(text, env, mode);
    } catch (e) {
      if (e instanceof ExprError) {
        problems.push({ ...w, message: `${JSON.stringify(text)}: ${e.message}`, ...(e.hint ? { hint: e.hint } : {}) });
        return undefined;
      }
      throw e;
    }
  };
  const nodes = (text: string, w: Where) => {
    try {
      return compileNodes(text, env);
    } catch (e) {
      if (e instanceof ExprError) {
        problems.push({ ...w, message: `${JSON.stringify(text)}: ${e.message}` });
        return undefined;
      }
      throw e;
    }
  };
  if (spec.dates) {
    for (const d of spec.dates) {
      try {
        dateParser(d);
      } catch (e) {
        problems.push({ ...(spec.datesWhere ?? { line: 1, column: 1 }), message: e instanceof Error ? e.message : String(e) });
      }
    }
  }
  const numbers: NumberFormat = { decimal: 'auto', trailingSign: true, ...(spec.numbers as NumberFormat) };

  const compileRule = (r: RuleSpec, prefix: string, display: string): CRule | undefined => {
    const full = prefix + r.target;
    const info = targetInfo(full);
    if (!info) {
      const candidates = [...TARGETS.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
      problems.push({ line: r.line, column: r.column, message: `unknown Invoice field "${r.target}"${prefix ? ` in ${prefix.slice(0, -1)}` : ''}${suggest(r.target, candidates)}`, hint: 'see mappings/README.md for the list of fields' });
      return undefined;
    }
    let keys: Array<string | number>;
    try {
      keys = pathKeys(r.target);
    } catch {
      problems.push({ line: r.line, column: r.column, message: `"${r.target}" is not a field path` });
      return undefined;
    }
    if (info.type.kind === 'vatId') keys = [...keys.slice(0, -1), 'id'];
    const c: CRule = { target: r.target, display: display + r.target, keys, info, required: r.required === true, ruleRef: ref(r) };
    if (r.expr !== undefined) {
      if (info.type.kind === 'enum' && /^[A-Za-z_][\w-]*$/.test(r.expr) && info.type.values.includes(r.expr)) {
        problems.push({ ...r.exprWhere, message: `${r.target}: "${r.expr}" is read as a source field name; for the fixed value write const: ${r.expr}, or quote it: '"${r.expr}"'` });
        return undefined;
      }
      if (full === 'currency' && /^[A-Z]{3}$/.test(r.expr)) {
        problems.push({ ...r.exprWhere, message: `currency: "${r.expr}" is read as a source field name; for the fixed currency write const: ${r.expr}, or quote it: '"${r.expr}"'` });
        return undefined;
      }
      const f = expr(r.expr, r.exprWhere, info.type.kind === 'textList' ? 'list' : 'scalar');
      if (!f) return undefined;
      c.fn = f;
      c.expression = r.expr;
    }
    if (r.constValue !== undefined) c.constValue = r.constValue;
    if (r.defaultValue !== undefined) c.defaultValue = r.defaultValue;
    if (r.when) {
      const w = expr(r.when.text, r.when);
      if (w) c.when = w;
    }
    return c;
  };

  const impl: Impl = { base, numbers, vars: [], rules: [], blocks: [], checks: [], ...(spec.dates ? { dates: spec.dates } : {}) };
  for (const v of spec.vars) {
    const f = expr(v.text, v);
    if (f) impl.vars.push({ name: v.name, fn: f, ruleRef: ref(v) });
  }
  if (spec.invoices) {
    const n = nodes(spec.invoices.text, spec.invoices);
    if (n) impl.invoices = n;
  }
  if (spec.key) {
    const f = expr(spec.key.text, spec.key);
    if (f) impl.key = f;
  }
  const seen = new Map<string, number>();
  for (const r of spec.rules) {
    const prev = seen.get(r.target);
    if (prev !== undefined) problems.push({ line: r.line, column: r.column, message: `${r.target} is already mapped on line ${prev}` });
    seen.set(r.target, r.line);
    const c = compileRule(r, '', '');
    if (c) impl.rules.push(c);
  }
  impl.numberRule = impl.rules.find((r) => r.target === 'number');
  for (const b of spec.blocks) {
    if (!ARRAY_TARGETS.has(b.target)) {
      problems.push({ line: b.line, column: b.column, message: `"${b.target}" is not a repeatable Invoice field${suggest(b.target, ARRAY_TARGETS)}`, hint: `repeatable: ${[...ARRAY_TARGETS].join(', ')}` });
      continue;
    }
    const each = nodes(b.each.text, b.each);
    const display = b.target === 'lines[]' ? 'line.' : `${b.target.slice(0, -2)}[].`;
    const rules = b.rules.map((r) => compileRule(r, `${b.target}.`, display)).filter((x): x is CRule => x !== undefined);
    const when = b.when ? expr(b.when.text, b.when) : undefined;
    if (!each) continue;
    impl.blocks.push({ target: b.target, keys: pathKeys(b.target.slice(0, -2)), each, ...(when ? { when } : {}), rules, ruleRef: ref(b), display: b.target });
  }
  for (const ch of spec.checks) {
    const f = expr(ch.text, ch);
    if (f) impl.checks.push({ name: ch.name, fn: f, ruleRef: ref(ch), expression: ch.text });
  }

  const fmt = { ...spec.format } as Record<string, unknown>;
  const type = String(fmt.type);
  delete fmt.type;
  let pair: CompiledMapping['pair'];
  if (fmt.linesFile !== undefined) {
    const lf = fmt.linesFile;
    let linesFile: string | { replace: [string, string] } | undefined;
    if (typeof lf === 'string') linesFile = lf;
    else if (lf && typeof lf === 'object' && Array.isArray((lf as { replace?: unknown }).replace) && (lf as { replace: unknown[] }).replace.length === 2) {
      const [a, b] = (lf as { replace: unknown[] }).replace;
      linesFile = { replace: [String(a), String(b)] };
    } else problems.push({ ...spec.formatWhere, message: 'format.linesFile must be a file name ("{stem}_pozycje.csv") or { replace: [naglowki, pozycje] }' });
    if (linesFile !== undefined) pair = { headerKey: String(fmt.headerKey), ...(fmt.lineKey !== undefined ? { lineKey: String(fmt.lineKey) } : {}), linesFile };
    delete fmt.linesFile;
  }
  const formatOptions = { format: type, ...fmt } as unknown as FormatOptions;
  return {
    file: spec.file,
    name: spec.name ?? base.replace(/\.ya?ml$/, ''),
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    formatOptions,
    ...(pair ? { pair } : {}),
    impl,
  };
}

/* ------------------------------------------------------------------ run ---- */

interface RunState {
  /** Concrete Invoice fields whose rule failed (the model's follow-up issues about them are not repeated). */
  failed: Set<string>;
  key: string;
  sourceFile: string;
  problems: MappingError[];
  warnings: MappingError[];
  trace?: TraceEntry[];
  base: string;
}

interface TraceEntry {
  field: string;
  display: string;
  value: unknown;
  origins: Origin[];
  ruleRef: string;
  expression?: string;
  element?: string;
}

/** "E1EDP01 #3 (line 41)", "line 12", "/Invoices/Invoice[2]/Lines/Line[3]/Qty (line 40)" */
export function whereText(pos: SourcePos): string {
  if (pos.segment) return `${pos.segment}${pos.segmentIndex ? ` #${pos.segmentIndex}` : ''}${pos.line !== undefined ? ` (line ${pos.line})` : ''}`;
  if (pos.path) return `${pos.path}${pos.line !== undefined ? ` (line ${pos.line})` : ''}`;
  if (pos.line !== undefined) return `line ${pos.line}${pos.column !== undefined ? `, column ${pos.column}` : ''}`;
  return pos.file;
}

function sourceName(o: Origin): string {
  return /^\d+$/.test(o.name) ? `column ${o.name}` : o.name;
}

function mkError(
  st: RunState,
  code: string,
  reason: string,
  o: { origin?: Origin | undefined; value?: string | undefined; ruleRef?: string; field?: string; hint?: string | undefined; pos?: SourcePos; element?: string; sep?: string },
): MappingError {
  const sep = o.sep ?? ' ';
  const parts: string[] = [`invoice ${st.key}`];
  const origin = o.origin;
  if (origin) {
    const v = o.value ?? origin.field.value;
    parts.push(`${whereText(origin.field.pos)}, ${sourceName(origin)} ${JSON.stringify(v)}${sep}${reason}`);
  } else if (o.pos) parts.push(`${whereText(o.pos)}, ${o.value !== undefined ? `${JSON.stringify(o.value)}${sep}` : ''}${reason}`);
  else parts.push(`${o.value !== undefined ? `${JSON.stringify(o.value)}${sep}` : ''}${reason}`);
  let msg = parts.join(', ');
  if (o.ruleRef) msg += ` (mapping ${o.ruleRef}${o.field ? `, ${o.field}` : ''})`;
  else if (o.field) msg += ` (${o.field})`;
  const pos = origin?.field.pos ?? o.pos;
  const details: Record<string, unknown> = {};
  if (origin) details.sourceField = origin.name;
  if (pos?.segment) details.segment = pos.segment;
  if (pos?.segmentIndex !== undefined) details.segmentIndex = pos.segmentIndex;
  if (pos?.path) details.path = pos.path;
  if (o.element) details.element = o.element;
  return new MappingError(
    code,
    msg,
    {
      file: pos?.file ?? st.sourceFile,
      ...(pos?.line !== undefined ? { line: pos.line } : {}),
      ...(pos?.column !== undefined ? { column: pos.column } : {}),
      ...(o.field ? { field: o.field } : {}),
      ...(o.value !== undefined || origin ? { value: o.value ?? origin!.field.value } : {}),
      document: st.key,
      ...(o.ruleRef ? { rule: o.ruleRef } : {}),
      details,
    },
    o.hint ? { hint: o.hint } : {},
  );
}

const TRUE_WORDS = new Set(['1', 'true', 't', 'y', 'yes', 'tak', 'x']);
const FALSE_WORDS = new Set(['0', 'false', 'f', 'n', 'no', 'nie']);
const STRICT_DEC = /^-?\d+(\.\d+)?$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

function coerce(info: TargetInfo, v: Val, c: EvalCtx, numbers: NumberFormat, dates: readonly string[] | undefined): unknown {
  const t = info.type;
  if (t.kind === 'textList') {
    if (v instanceof ListVal) {
      const items = v.items.map((x) => asText(x)).filter((x): x is string => x !== undefined && x !== '');
      return items.length ? items : undefined;
    }
    const s = asText(v);
    return s === undefined ? undefined : [s];
  }
  if (t.kind === 'bool') {
    if (typeof v === 'boolean') return v;
    const s = asText(v)?.trim().toLowerCase();
    if (s === undefined || s === '') return undefined;
    if (TRUE_WORDS.has(s)) return true;
    if (FALSE_WORDS.has(s)) return false;
    throw new ValueError('MAPPING_VALUE_INVALID', 'is not a yes/no value (1/0, true/false, T/N, X)', asText(v));
  }
  const s = asText(v);
  if (s === undefined) return undefined;
  switch (t.kind) {
    case 'text':
      return s;
    case 'nip': {
      const n = s.replace(/[\s-]/g, '');
      return /^PL\d{10}$/i.test(n) ? n.slice(2) : n;
    }
    case 'date':
      if (ISO_DATE.test(s)) {
        if (dateParser('YYYY-MM-DD').parse(s) === null) throw new ValueError('MAPPING_VALUE_INVALID', 'is not a calendar date (YYYY-MM-DD)', s);
        return s;
      }
      return parseDateText(s, dates);
    case 'datetime':
      return /^\d{4}-\d{2}-\d{2}T/.test(s) ? s : `${parseDateText(s, dates)}T00:00:00`;
    case 'decimal':
      if (v instanceof NumVal) return v.dec.toString();
      // a source value: read in the export's notation ("1.234" is 1234 in a decimal-comma export)
      return numbers.decimal !== ',' && STRICT_DEC.test(s) ? s : toDecimal(s, numbers).toString();
    case 'int': {
      const d = v instanceof NumVal ? v.dec : numbers.decimal !== ',' && STRICT_DEC.test(s) ? Dec.from(s) : toDecimal(s, numbers);
      if (d.significantScale() > 0) throw new ValueError('MAPPING_VALUE_INVALID', 'is not a whole number', s);
      return Number(d.toFixed(0));
    }
    case 'vatRate':
      return normalizeVatRate(s);
    case 'enum': {
      if (t.values.includes(s)) return s;
      const ci = t.values.find((x) => x.toLowerCase() === s.trim().toLowerCase());
      if (ci) return ci;
      throw new ValueError('MAPPING_VALUE_INVALID', `is not one of: ${t.values.join(', ')}`, s);
    }
    case 'vatId':
      return partyIdFromVatId(s);
    default:
      return s;
  }
  void c;
}

function runRule(r: CRule, c: EvalCtx, out: Record<string, unknown>, st: RunState, impl: Impl, concretePrefix: string): void {
  c.origin = undefined;
  const origins: Origin[] | undefined = st.trace ? [] : undefined;
  c.trace = origins;
  try {
    if (r.when && !truthy(r.when(c))) return;
    c.origin = undefined;
    let v: Val = r.fn ? r.fn(c) : r.constValue;
    if (isEmpty(v) && r.defaultValue !== undefined) v = r.defaultValue;
    if (isEmpty(v) && r.info.type.kind === 'vatId' && !r.required) {
      // no VAT id: a consumer or a foreign buyer without one (BrakID)
      setPath(out, r.keys, { kind: 'none' });
      if (st.trace) st.trace.push({ field: concretePrefix + r.target, display: r.display, value: { kind: 'none' }, origins: origins ?? [], ruleRef: r.ruleRef, ...(r.expression ? { expression: r.expression } : {}), ...(r.info.element ? { element: r.info.element } : {}) });
      return;
    }
    if (isEmpty(v)) {
      if (st.trace) st.trace.push({ field: concretePrefix + r.target, display: r.display, value: undefined, origins: origins ?? [], ruleRef: r.ruleRef, ...(r.expression ? { expression: r.expression } : {}), ...(r.info.element ? { element: r.info.element } : {}) });
      if (r.required) {
        st.failed.add(concretePrefix + r.target);
        st.problems.push(
          mkError(st, 'MAPPING_FIELD_MISSING', `${r.display} has no value: ${r.expression ? `${r.expression} found nothing` : 'the rule gives nothing'}`, {
            ruleRef: r.ruleRef,
            field: r.display,
            hint: 'check the source record, or give the rule a fallback value (`default: ...` in the rule, see mappings/README.md)',
          }),
        );
      }
      return;
    }
    const x = coerce(r.info, v, c, impl.numbers, impl.dates);
    if (x === undefined) return;
    setPath(out, r.keys, x);
    if (st.trace) {
      st.trace.push({
        field: concretePrefix + r.target,
        display: r.display,
        value: x,
        origins: origins ?? [],
        ruleRef: r.ruleRef,
        ...(r.expression ? { expression: r.expression } : {}),
        ...(r.info.element ? { element: r.info.element } : {}),
      });
    }
  } catch (e) {
    if (e instanceof ValueError) {
      st.problems.push(mkError(st, e.code, e.reason, { origin: c.origin, value: e.value, ruleRef: r.ruleRef, field: r.display, hint: e.hint }));
      st.failed.add(concretePrefix + r.target.replace(/\.vatId$/, '.id'));
      return;
    }
    throw e;
  } finally {
    c.trace = undefined;
  }
}

function evalSimple(fn: Fn, c: EvalCtx): Val {
  c.origin = undefined;
  return fn(c);
}

/** Map one invoice's records into an InvoiceInput (no model checks). */
function mapInput(impl: Impl, node: RecordNode, variables: unknown, st: RunState): Record<string, unknown> {
  const c: EvalCtx = { node, root: node, vars: Object.create(null) as Record<string, Val>, config: variables, numbers: impl.numbers, dateFormats: impl.dates, origin: undefined, trace: undefined };
  for (const v of impl.vars) {
    try {
      c.vars[v.name] = evalSimple(v.fn, c);
    } catch (e) {
      if (!(e instanceof ValueError)) throw e;
      st.problems.push(mkError(st, e.code, e.reason, { origin: c.origin, value: e.value, ruleRef: v.ruleRef, field: `$${v.name}`, hint: e.hint }));
    }
  }
  const out: Record<string, unknown> = {};
  for (const r of impl.rules) runRule(r, c, out, st, impl, '');
  for (const b of impl.blocks) {
    c.node = node;
    c.origin = undefined;
    const records = b.each(c);
    const items: Record<string, unknown>[] = [];
    const base = b.target.slice(0, -2);
    for (const rec of records) {
      c.node = rec;
      if (b.when) {
        try {
          if (!truthy(evalSimple(b.when, c))) continue;
        } catch (e) {
          if (!(e instanceof ValueError)) throw e;
          st.problems.push(mkError(st, e.code, e.reason, { origin: c.origin, value: e.value, ruleRef: b.ruleRef, field: `${b.display} when`, hint: e.hint }));
          continue;
        }
      }
      const item: Record<string, unknown> = {};
      const prefix = `${base}[${items.length}].`;
      for (const r of b.rules) runRule(r, c, item, st, impl, prefix);
      items.push(item);
    }
    c.node = node;
    if (items.length) setPath(out, b.keys, items);
  }
  return out;
}

function computeKey(impl: Impl, node: RecordNode, variables: unknown, index: number): string {
  const fn = impl.key ?? impl.numberRule?.fn;
  if (fn) {
    const c: EvalCtx = { node, root: node, vars: Object.create(null) as Record<string, Val>, config: variables, numbers: impl.numbers, dateFormats: impl.dates, origin: undefined, trace: undefined };
    try {
      const t = asText(fn(c));
      if (t) return t.trim();
    } catch {
      /* the number rule reports its own problem */
    }
  }
  return `#${index}`;
}

function findTrace(trace: TraceEntry[] | undefined, p: string): TraceEntry | undefined {
  if (!trace) return undefined;
  let best: TraceEntry | undefined;
  for (const t of trace) {
    if (t.field === p) return t;
    if ((p.startsWith(`${t.field}.`) || p.startsWith(`${t.field}[`)) && (!best || t.field.length > best.field.length)) best = t;
  }
  if (best) return best;
  // buyer.id.nip comes from buyer.vatId
  for (const t of trace) {
    if (t.field.endsWith('.vatId') && p.startsWith(`${t.field.slice(0, -'.vatId'.length)}.id`)) return t;
  }
  return undefined;
}

function issueError(st: RunState, i: InvoiceIssue): MappingError {
  const t = findTrace(st.trace, i.path);
  const displayPath = i.path.replace(/^lines\[(\d+)\]\./, (_m, n: string) => `line ${Number(n) + 1} `);
  if (!t) {
    const missing = i.code === 'INV_REQUIRED';
    return mkError(st, missing ? 'MAPPING_FIELD_MISSING' : i.code, missing ? `${i.path}${i.element ? ` (${i.element})` : ''} is required, but the mapping gives it no value` : `${displayPath}: ${i.message}`, {
      field: i.path,
      ...(i.value !== undefined ? { value: i.value } : {}),
      ...(i.element ? { element: i.element } : {}),
      hint: missing ? `add a rule for ${i.path.replace(/\[\d+\]/g, '[]')} to the mapping` : undefined,
    });
  }
  const origin = t.origins[t.origins.length - 1];
  if (t.value === undefined && i.code === 'INV_REQUIRED') {
    return mkError(st, 'MAPPING_FIELD_MISSING', `${i.path}${i.element ? ` (${i.element})` : ''} is required, but ${t.expression ? `${t.expression} found nothing` : 'the rule gives nothing'}`, {
      ruleRef: t.ruleRef,
      field: t.display,
      ...(i.element ? { element: i.element } : {}),
    });
  }
  return mkError(st, i.code, i.message, {
    origin,
    sep: ': ',
    ruleRef: t.ruleRef,
    field: t.display === t.field ? t.display : `${t.display} (${i.path})`,
    ...(i.element ? { element: i.element } : {}),
    ...(origin ? {} : i.value !== undefined ? { value: i.value } : {}),
  });
}

function isFollowUp(failed: Set<string>, p: string): boolean {
  if (failed.size === 0) return false;
  for (const f of failed) if (p === f || p.startsWith(`${f}.`) || p.startsWith(`${f}[`) || f.startsWith(`${p}.`) || f.startsWith(`${p}[`)) return true;
  return false;
}

function computedQuantity(inv: Invoice, name: string): string {
  if (name === 'lines.count') return String(inv.lines.length);
  if (name === 'totals.gross') return inv.totals.gross;
  let net = Dec.ZERO;
  let vat = Dec.ZERO;
  for (const g of Object.values(inv.totals.groups)) {
    if (!g) continue;
    net = net.add(Dec.from(g.net));
    if (g.vat) vat = vat.add(Dec.from(g.vat));
  }
  if (name === 'totals.net') return net.toFixed(2);
  if (name === 'totals.vat') return vat.toFixed(2);
  const m = /^totals\.groups\.(\w+)\.(net|vat)$/.exec(name);
  if (m) {
    const g = inv.totals.groups[m[1] as keyof Invoice['totals']['groups']];
    return (m[2] === 'net' ? g?.net : g?.vat) ?? '0.00';
  }
  return '0';
}

const CHECK_LABEL: Record<string, string> = {
  'totals.gross': 'the gross total (P_15) computed from the lines',
  'totals.net': 'the net total computed from the lines',
  'totals.vat': 'the VAT total computed from the lines',
  'lines.count': 'the number of invoice lines mapped',
};

function runChecks(impl: Impl, node: RecordNode, variables: unknown, inv: Invoice, st: RunState): void {
  const c: EvalCtx = { node, root: node, vars: Object.create(null) as Record<string, Val>, config: variables, numbers: impl.numbers, dateFormats: impl.dates, origin: undefined, trace: undefined };
  for (const v of impl.vars) {
    try {
      c.vars[v.name] = evalSimple(v.fn, c);
    } catch {
      /* reported while mapping */
    }
  }
  for (const ch of impl.checks) {
    try {
      const v = evalSimple(ch.fn, c);
      const s = asText(v);
      if (s === undefined || s === '') continue;
      const stated = v instanceof NumVal ? v.dec : impl.numbers.decimal !== ',' && STRICT_DEC.test(s) ? Dec.from(s) : toDecimal(s, impl.numbers);
      const computed = Dec.from(computedQuantity(inv, ch.name));
      if (!stated.eq(computed)) {
        const diff = stated.sub(computed);
        const isCount = ch.name === 'lines.count';
        st.problems.push(
          mkError(
            st,
            'MAPPING_TOTAL_MISMATCH',
            `differs from ${CHECK_LABEL[ch.name] ?? `the computed ${ch.name}`}, ${isCount ? computed.toString() : computed.toFixed(2)}${isCount ? '' : ` (difference ${diff.isNegative() ? '' : '+'}${diff.toFixed(2)})`}`,
            { origin: c.origin, value: c.origin ? undefined : s, ruleRef: ch.ruleRef, field: `check ${ch.name}`, hint: 'the source states a total the lines do not add up to: check the line amounts, tax codes and rounding in the export' },
          ),
        );
      }
    } catch (e) {
      if (!(e instanceof ValueError)) throw e;
      st.problems.push(mkError(st, e.code, e.reason, { origin: c.origin, value: e.value, ruleRef: ch.ruleRef, field: `check ${ch.name}`, hint: e.hint }));
    }
  }
}

function valueAt(obj: unknown, p: string): unknown {
  let cur: unknown = obj;
  try {
    for (const k of pathKeys(p)) {
      if (cur === null || typeof cur !== 'object') return undefined;
      cur = (cur as Record<string | number, unknown>)[k];
    }
  } catch {
    return undefined;
  }
  return cur;
}

function explainOf(st: RunState, inv: Invoice | undefined): ExplainEntry[] {
  const out: ExplainEntry[] = [];
  for (const t of st.trace ?? []) {
    if (t.value === undefined) continue;
    const final = inv ? valueAt(inv, t.field.replace(/\.vatId$/, '.id')) : undefined;
    const v = final ?? t.value;
    out.push({
      field: t.field,
      ...(t.element ? { element: t.element } : {}),
      value: typeof v === 'string' ? v : JSON.stringify(v),
      sources: t.origins.map((o) => ({ name: o.name, value: o.field.value, pos: o.field.pos, where: whereText(o.field.pos) })),
      rule: t.ruleRef,
      ...(t.expression ? { expression: t.expression } : {}),
    });
  }
  if (inv) {
    const given = new Set(out.map((e) => e.field));
    inv.lines.forEach((l, i) => {
      if (l.netAmount !== undefined && !given.has(`lines[${i}].netAmount`)) out.push({ field: `lines[${i}].netAmount`, element: 'Fa/FaWiersz/P_11', value: l.netAmount, sources: [], rule: 'derived (quantity x unit price)' });
      if (l.grossAmount !== undefined && !given.has(`lines[${i}].grossAmount`)) out.push({ field: `lines[${i}].grossAmount`, element: 'Fa/FaWiersz/P_11A', value: l.grossAmount, sources: [], rule: 'derived (quantity x unit gross price)' });
    });
    for (const [g, t] of Object.entries(inv.totals.groups)) {
      if (!t) continue;
      for (const k of ['net', 'vat', 'vatPln'] as const) {
        const f = `totals.groups.${g}.${k}`;
        if (t[k] !== undefined && !given.has(f)) out.push({ field: f, ...(TARGETS.get(f)?.element ? { element: TARGETS.get(f)!.element! } : {}), value: t[k]!, sources: [], rule: 'derived from the lines' });
      }
    }
    if (!given.has('totals.gross')) out.push({ field: 'totals.gross', element: 'Fa/P_15', value: inv.totals.gross, sources: [], rule: 'derived from the lines' });
  }
  return out;
}

/** The mapping's part of an invoice: its key and the InvoiceInput built from the records. */
interface MappedInput {
  impl: Impl;
  node: RecordNode;
  index: number;
  key: string;
  variables: MappingVariables;
  st: RunState;
  input: Record<string, unknown>;
}

/** The Invoice model's part: structure (createInvoice) and semantic rules (checkInvoice). Runs in a worker too. */
export interface ModelOutcome {
  invoice?: Invoice;
  issues: InvoiceIssue[];
  semantic: InvoiceIssue[];
}

function mapStage(mapping: CompiledMapping, node: RecordNode, index: number, options: MapOptions): MappedInput {
  const impl = implOf(mapping);
  const variables = options.variables ?? {};
  const key = computeKey(impl, node, variables, index);
  const st: RunState = { failed: new Set(), key, sourceFile: node.pos.file, problems: [], warnings: [], base: impl.base, ...(options.explain ? { trace: [] } : {}) };
  return { impl, node, index, key, variables, st, input: mapInput(impl, node, variables, st) };
}

export function modelStage(input: Record<string, unknown>, today: string | undefined): ModelOutcome {
  const created = createInvoice(input as unknown as InvoiceInput);
  const semantic = created.invoice ? checkInvoice(created.invoice, today ? { today } : {}) : [];
  return { ...(created.invoice ? { invoice: created.invoice } : {}), issues: created.issues, semantic };
}

/** Problems in the consultant's terms, the mapping's checks, --explain. */
function finishStage(m: MappedInput, model: ModelOutcome, options: MapOptions): MappedInvoice {
  const { impl, node, variables } = m;
  const st = m.st;
  let outcome = model;
  if (!st.trace && (model.issues.length > 0 || model.semantic.length > 0 || st.problems.length > 0)) {
    // re-run with tracing so the model's issues can name the source field and the rule
    const st2: RunState = { ...st, failed: new Set(), problems: [], warnings: [], trace: [] };
    outcome = modelStage(mapInput(impl, node, variables, st2), options.today);
    st.trace = st2.trace;
    st.problems = st2.problems;
    st.failed = st2.failed;
  }
  for (const i of [...outcome.issues, ...outcome.semantic]) {
    if (isFollowUp(st.failed, i.path)) continue;
    (i.severity === 'error' ? st.problems : st.warnings).push(issueError(st, i));
  }
  const invoice = outcome.invoice;
  if (invoice && impl.checks.length) runChecks(impl, node, variables, invoice, st);
  const result: MappedInvoice = { index: m.index, key: m.key, sourcePos: node.pos, problems: st.problems, warnings: st.warnings, ok: st.problems.length === 0 };
  if (invoice && result.ok) result.invoice = invoice;
  if (options.explain) result.explain = explainOf(st, invoice);
  return result;
}

/** Validators resolved once per file run (getXsdValidator looks the schema folder up on every call). */
const validatorCache = new WeakMap<MapOptions, XsdValidator>();

/** Options for a whole file: one clock reading (DataWytworzeniaFa), one "today" and one validator for all its
 *  invoices (formatting a date in the Polish time zone costs more than a rule). */
function fileOptions(options: MapOptions): MapOptions {
  const o: MapOptions = { ...options, now: options.now ?? new Date(), today: options.today ?? polishDate() };
  if (o.build !== false && o.validate !== false && !(o.workers && o.workers > 0)) validatorCache.set(o, getXsdValidator('fa3', o.schemaDir));
  return o;
}

/** Map one invoice (a root of the record tree, or a node selected by the mapping's invoices: path). */
export function mapInvoice(mapping: CompiledMapping, node: RecordNode, index: number, options: MapOptions = {}): MappedInvoice {
  const m = mapStage(mapping, node, index, options);
  const result = finishStage(m, modelStage(m.input, options.today), options);
  if (result.ok && result.invoice && options.build !== false) {
    const xml = writeFa3(result.invoice, options.now ? { now: options.now } : {});
    // Our own writer's output: UTF-8 text without BOM, DOCTYPE or processing instructions, so the KSeF document
    // rules of validateFa3Xml hold by construction; the XSD is what is left to check.
    const issues = options.validate !== false ? (validatorCache.get(options) ?? getXsdValidator('fa3', options.schemaDir)).validate(xml).issues : [];
    applyBuild(result, { xml, issues });
  }
  return result;
}

/** Records the FA(3) XML of an invoice, or the schema problems that stop it. */
function applyBuild(result: MappedInvoice, built: { xml?: string; issues: Array<{ message: string; line: number }>; error?: string }): void {
  const st: RunState = { failed: new Set(), key: result.key, sourceFile: result.sourcePos.file, problems: result.problems, warnings: result.warnings, base: '' };
  if (built.error !== undefined) {
    st.problems.push(mkError(st, 'MAPPING_FA3_WRITE_FAILED', `the FA(3) XML could not be written: ${built.error}`, { hint: 'please report it with the export' }));
  }
  for (const x of built.issues) {
    st.problems.push(mkError(st, 'MAPPING_FA3_INVALID', `the FA(3) XML does not pass the schema at line ${x.line}: ${x.message}`, { hint: 'the Invoice model let through something the XSD refuses; please report it with the export' }));
  }
  if (st.problems.length === 0 && built.xml !== undefined) result.fa3Xml = built.xml;
  else {
    result.ok = false;
    delete result.invoice;
    delete result.fa3Xml;
  }
}

/** Worker threads that run the Invoice model, write FA(3) and check the XSD; batches keep messaging cheap. */
class Fa3Pool {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, { resolve: (r: Fa3JobResult['out']) => void; reject: (e: unknown) => void }>();
  private seq = 0;
  private failed: unknown;

  constructor(n: number, schemaDir: string | undefined) {
    const fromSources = import.meta.url.endsWith('.ts');
    const url = new URL(fromSources ? './fa3-worker.ts' : './fa3-worker.js', import.meta.url);
    // Run from the TypeScript sources (tsx), a worker needs the TypeScript loader registered first.
    const boot = fromSources ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })` : undefined;
    for (let i = 0; i < n; i++) {
      const w = boot ? new Worker(boot, { eval: true, workerData: { schemaDir } }) : new Worker(url, { workerData: { schemaDir } });
      w.on('message', (m: Fa3JobResult) => {
        const p = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        p?.resolve(m.out);
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`FA(3) worker stopped with exit code ${code}`));
      });
      this.workers.push(w);
    }
  }

  private fail(e: unknown): void {
    this.failed ??= e;
    for (const p of this.waiting.values()) p.reject(e);
    this.waiting.clear();
  }

  run(job: Omit<Fa3Job, 'id'>): Promise<Fa3JobResult['out']> {
    if (this.failed) return Promise.reject(this.failed);
    const id = ++this.seq;
    const w = this.workers[id % this.workers.length]!;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      w.postMessage({ id, ...job } satisfies Fa3Job);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

const BATCH = 32;

interface Batch {
  items: MappedInput[];
  results: MappedInvoice[];
  done?: Promise<void>;
  settled: boolean;
}

/** iterateFile with the Invoice model, FA(3) writer and XSD in worker threads, yielding in export order. The main
 *  thread parses and maps; problems are located (and the mapping's checks run) when a batch comes back. */
async function* iterateWithPool(mapping: CompiledMapping, input: FormatInput, options: MapOptions, workers: number): AsyncGenerator<MappedInvoice> {
  const impl = implOf(mapping);
  const pool = new Fa3Pool(workers, options.schemaDir);
  const now = options.now ?? new Date();
  const build = options.build !== false;
  const validate = options.validate !== false;
  const entries: Batch[] = [];
  let current: Batch = { items: [], results: [], settled: false };
  const flush = () => {
    if (current.items.length === 0) return;
    const b = current;
    current = { items: [], results: [], settled: false };
    b.done = pool.run({ items: b.items.map((m) => m.input), today: options.today, now, build, validate }).then((out) => {
      b.results = b.items.map((m, i) => {
        const o = out[i]!;
        const r = finishStage(m, { ...(o.invoice ? { invoice: o.invoice } : {}), issues: o.issues, semantic: o.semantic }, options);
        if (r.ok && r.invoice && build) applyBuild(r, o.error !== undefined ? { issues: [], error: o.error } : { ...(o.xml !== undefined ? { xml: o.xml } : {}), issues: o.xsd ?? [] });
        return r;
      });
      b.items = [];
      b.settled = true;
    });
  };
  try {
    let index = 0;
    for await (const root of roots(mapping, input, options)) {
      const nodes = impl.invoices
        ? impl.invoices({ node: root, root, vars: {}, config: options.variables ?? {}, numbers: impl.numbers, dateFormats: impl.dates, origin: undefined, trace: undefined })
        : [root];
      for (const n of nodes) {
        if (current.items.length === 0) entries.push(current);
        current.items.push(mapStage(mapping, n, ++index, options));
        if (current.items.length >= BATCH) flush();
      }
      // keep a bounded number of batches in flight, and hand out what is done, in order
      while (entries.length > workers * 2 + 1 && entries[0]!.done) {
        const b = entries.shift()!;
        await b.done;
        yield* b.results;
      }
      while (entries.length && entries[0]!.settled) yield* entries.shift()!.results;
    }
    flush();
    while (entries.length) {
      const b = entries.shift()!;
      await b.done;
      yield* b.results;
    }
  } finally {
    await pool.close();
  }
}

/* ------------------------------------------------------------------ files ---- */

function inputPath(input: FormatInput): string | undefined {
  return typeof input === 'object' && input !== null && !(input instanceof Uint8Array) && 'path' in input && typeof input.path === 'string' ? input.path : undefined;
}

/** Where the lines file of a two-file CSV export is, given the header file. */
export function linesFileFor(mapping: CompiledMapping, headerFile: string): string | undefined {
  const p = mapping.pair;
  if (!p) return undefined;
  const dir = path.dirname(headerFile);
  const name = path.basename(headerFile);
  const stem = name.replace(/\.[^.]*$/, '');
  if (typeof p.linesFile === 'string') return path.join(dir, p.linesFile.replace(/\{stem\}/g, stem).replace(/\{name\}/g, name));
  const [from, to] = p.linesFile.replace;
  if (!name.includes(from)) return undefined;
  return path.join(dir, name.split(from).join(to));
}

async function* roots(mapping: CompiledMapping, input: FormatInput, options: MapOptions): AsyncGenerator<RecordNode> {
  const fmt = { ...mapping.formatOptions, ...(options.file ? { file: options.file } : {}), ...(options.onWarning ? { onWarning: options.onWarning } : {}) } as FormatOptions;
  if (mapping.pair) {
    const headerPath = inputPath(input);
    let lines = options.linesInput;
    if (!lines) {
      const lp = headerPath ? linesFileFor(mapping, headerPath) : undefined;
      if (!lp) {
        throw new MappingError('MAPPING_LINES_FILE_MISSING', `the mapping reads header and lines from two files, but the lines file for ${headerPath ?? 'this input'} cannot be named`, { file: headerPath ?? options.file ?? '<input>' }, {
          hint: 'pass the lines file explicitly (--lines), or check format.linesFile in the mapping',
        });
      }
      lines = { path: lp };
    }
    const { format: _f, ...rest } = fmt as { format: string } & Record<string, unknown>;
    void _f;
    const pairOpts = { ...rest, headerKey: mapping.pair.headerKey, ...(mapping.pair.lineKey ? { lineKey: mapping.pair.lineKey } : {}), ...(options.file ? { headerFile: options.file } : {}) } as unknown as CsvPairOptions;
    yield* iterateCsvPair(input, lines, pairOpts);
    return;
  }
  yield* iterateDocument(input, fmt);
}

/** Invoices of an export one at a time (flat memory for CSV, fixed-width and IDoc flat files). Throws on an
 *  unreadable or broken file after yielding the invoices before the break. */
export async function* iterateFile(mapping: CompiledMapping, input: FormatInput, opts: MapOptions = {}): AsyncGenerator<MappedInvoice> {
  const impl = implOf(mapping);
  const options = fileOptions(opts);
  if ((options.workers ?? 0) > 0 && options.build !== false) {
    yield* iterateWithPool(mapping, input, options, options.workers!);
    return;
  }
  let index = 0;
  for await (const root of roots(mapping, input, options)) {
    if (impl.invoices) {
      const c: EvalCtx = { node: root, root, vars: {}, config: options.variables ?? {}, numbers: impl.numbers, dateFormats: impl.dates, origin: undefined, trace: undefined };
      for (const n of impl.invoices(c)) yield mapInvoice(mapping, n, ++index, options);
    } else yield mapInvoice(mapping, root, ++index, options);
  }
}

/** Map every invoice of an export; the valid ones have invoice and fa3Xml, the others their problems. */
export async function mapFile(mapping: CompiledMapping, input: FormatInput, options: MapOptions = {}): Promise<MapFileResult> {
  const warnings: FormatWarning[] = [];
  const file = options.file ?? inputPath(input) ?? '<input>';
  const result: MapFileResult = { file, invoices: [], fileProblems: [], warnings };
  const opts: MapOptions = {
    ...options,
    onWarning: (w) => {
      warnings.push(w);
      options.onWarning?.(w);
    },
  };
  try {
    for await (const inv of iterateFile(mapping, input, opts)) result.invoices.push(inv);
  } catch (e) {
    if (isBridgeError(e) && e instanceof MappingError) result.fileProblems.push(e);
    else throw e;
  }
  return result;
}

export { describePos, show };
