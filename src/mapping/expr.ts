/**
 * The mapping expression language: jsep parses (a small, well-kept JavaScript-expression parser), this module
 * compiles the syntax tree once into closures over the record tree. Every value read from the source remembers
 * where it came from (ctx.origin), so a transformation that fails can name the source field and position.
 *
 * Grammar (see mappings/README.md for the consultant's version):
 *   path          E1EDK01.BELNR   E1EDKA1[PARVW=RE].NAME1   E1EDP01[2].MENGE   header["Nr faktury"]   root.header.Waluta
 *   config        config.seller.nip                  (values handed in by the caller, e.g. from ksef.ini)
 *   variable      $sign                              (from the mapping's vars section)
 *   literal       "text"  'text'  12.50  true  false  null
 *   pipe          value | trim | pad(10, "0")        (lowest precedence: applies to everything on its left)
 *   call          join(" ", NAME1, NAME2)
 *   operators     &  (text concatenation)   + - * /  (decimal arithmetic)   == != < <= > >=   and or not  ?? (first non-empty)
 *                 cond ? a : b
 */
import jsepModule from 'jsep';
import { Dec } from '../invoice/index.js';
import { parseDecimal, parseSapDate, parseSapNumber, type Field, type NumberFormat, type RecordNode } from '../formats/index.js';

type JsepNode = jsepModule.Expression;
const jsep = jsepModule;

let configured = false;
function configure(): void {
  if (configured) return;
  configured = true;
  jsep.removeBinaryOp('|');
  jsep.addBinaryOp('|', 0.5);
  jsep.addBinaryOp('=', 6);
  jsep.addBinaryOp('and', 2);
  jsep.addBinaryOp('or', 1);
  jsep.addUnaryOp('not');
  jsep.addIdentifierChar('@');
  jsep.addIdentifierChar('#');
}

/* ------------------------------------------------------------------ values ---- */

/** A number computed by the mapping (arithmetic, number(), sapNumber, sum...): exact, and never re-read with the
 *  export's number notation (a computed 4.5 is not "4 thousand 5" in a decimal-comma export). */
export class NumVal {
  constructor(
    readonly dec: Dec,
    /** Text with a fixed scale (round(2) keeps "1234.50"). */
    readonly fixed?: string,
  ) {}
  toString(): string {
    return this.fixed ?? this.dec.toString();
  }
}

export type Scalar = string | boolean | undefined | NumVal;

/** Several values with the source field each came from (a path that matches many fields). */
export class ListVal {
  constructor(
    readonly items: Scalar[],
    readonly origins: Array<Origin | undefined>,
  ) {}
}
export type Val = Scalar | ListVal;

export interface Origin {
  /** The source field name (SAP field, CSV column, XML element/attribute, JSON key). */
  name: string;
  field: Field;
}

export interface EvalCtx {
  node: RecordNode;
  root: RecordNode;
  vars: Record<string, Val>;
  config: unknown;
  numbers: NumberFormat;
  dateFormats: readonly string[] | undefined;
  /** The source field read last (for messages). */
  origin: Origin | undefined;
  /** Every source field read, when explaining. */
  trace: Origin[] | undefined;
}

/** A value that cannot be used: the rule executor adds the invoice, source position and mapping rule. */
export class ValueError extends Error {
  constructor(
    readonly code: string,
    /** What is wrong with the value, e.g. 'is not a number'. */
    readonly reason: string,
    readonly value?: string,
    readonly hint?: string,
  ) {
    super(reason);
  }
}

/** A mistake in an expression found while compiling the mapping. */
export class ExprError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export type Fn = (c: EvalCtx) => Val;
type NodesFn = (c: EvalCtx) => RecordNode[];

export interface CompileEnv {
  lookups: ReadonlyMap<string, LookupTable>;
  vars: ReadonlySet<string>;
}

export interface LookupTable {
  name: string;
  entries: ReadonlyMap<string, string>;
  fallback?: string;
  /** Where the table is defined ("file:line"). */
  where: string;
}

/* ------------------------------------------------------------------ helpers ---- */

const hasOwn = Object.prototype.hasOwnProperty;

function fieldOf(node: RecordNode, name: string): Field | undefined {
  const f = node.fields[name];
  return f !== undefined && hasOwn.call(node.fields, name) ? f : undefined;
}

function setOrigin(c: EvalCtx, name: string, field: Field): void {
  if (c.trace) c.trace.push({ name, field });
  const o = c.origin;
  if (o && o.field === field) return;
  c.origin = { name, field };
}

export function isEmpty(v: Val): boolean {
  return v === undefined || v === '' || (v instanceof ListVal && v.items.length === 0);
}

export function truthy(v: Val): boolean {
  if (v instanceof ListVal) return v.items.some((x) => x !== undefined && x !== '' && x !== false);
  return v !== undefined && v !== '' && v !== false;
}

export function asText(v: Val): string | undefined {
  if (v instanceof ListVal) {
    const first = v.items.find((x) => x !== undefined && x !== '');
    return first === undefined ? undefined : String(first);
  }
  if (v === undefined) return undefined;
  if (v instanceof NumVal) return v.toString();
  return typeof v === 'boolean' ? (v ? 'true' : 'false') : v;
}

/** Text shown to a person for a value. */
export function show(v: Val): string {
  if (v instanceof ListVal) return `[${v.items.map((x) => show(x)).join(', ')}]`;
  if (v === undefined) return '(nothing)';
  return String(v);
}

export function toDecimal(v: string, fmt: NumberFormat): Dec {
  const r = parseDecimal(v, fmt);
  if (!r.ok) throw new ValueError('MAPPING_VALUE_INVALID', `is not a number (${r.reason})`, v);
  return Dec.from(r.value);
}

function numArg(v: Val, c: EvalCtx): Dec | undefined {
  if (v instanceof NumVal) return v.dec;
  const t = asText(v);
  return t === undefined ? undefined : toDecimal(t, c.numbers);
}

const STRICT_NUM = /^[+-]?\d+(\.\d+)?$/;

function compareVals(a: Val, b: Val): number | undefined {
  if (a instanceof NumVal && b instanceof NumVal) return a.dec.cmp(b.dec);
  const x = asText(a);
  const y = asText(b);
  if (x === undefined || y === undefined) return x === y ? 0 : undefined;
  if (STRICT_NUM.test(x) && STRICT_NUM.test(y)) return Dec.from(x.replace(/^\+/, '')).cmp(Dec.from(y.replace(/^\+/, '')));
  return x < y ? -1 : x > y ? 1 : 0;
}

/* ------------------------------------------------------------------ dates ---- */

const DATE_TOKENS: Record<string, string> = { YYYY: '(\\d{4})', YY: '(\\d{2})', MM: '(\\d{1,2})', DD: '(\\d{1,2})' };

interface DateParser {
  format: string;
  parse(s: string): string | undefined | null; // undefined: no match; null: invalid calendar date
}

const dateParsers = new Map<string, DateParser>();

export function dateParser(format: string): DateParser {
  const cached = dateParsers.get(format);
  if (cached) return cached;
  const order: string[] = [];
  let re = '';
  for (let i = 0; i < format.length; ) {
    const tok = ['YYYY', 'YY', 'MM', 'DD'].find((t) => format.startsWith(t, i));
    if (tok) {
      order.push(tok);
      re += format === 'YYYYMMDD' ? `(\\d{${tok.length}})` : DATE_TOKENS[tok];
      i += tok.length;
    } else {
      re += format[i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      i++;
    }
  }
  if (!order.includes('YYYY') && !order.includes('YY')) throw new ExprError(`date format "${format}" has no year (YYYY)`);
  if (!order.includes('MM') || !order.includes('DD')) throw new ExprError(`date format "${format}" needs MM and DD`);
  const rx = new RegExp(`^${re}$`);
  const p: DateParser = {
    format,
    parse(s: string) {
      const m = rx.exec(s);
      if (!m) return undefined;
      let y = 0;
      let mo = 0;
      let d = 0;
      order.forEach((t, i) => {
        const n = Number(m[i + 1]);
        if (t === 'YYYY') y = n;
        else if (t === 'YY') y = 2000 + n;
        else if (t === 'MM') mo = n;
        else d = n;
      });
      if (!validDate(y, mo, d)) return null;
      return `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
    },
  };
  dateParsers.set(format, p);
  return p;
}

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const days = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
  return d <= days;
}

/** Date formats accepted when a mapping names none. */
export const DEFAULT_DATE_FORMATS = ['YYYY-MM-DD', 'YYYYMMDD', 'DD.MM.YYYY', 'DD-MM-YYYY', 'DD/MM/YYYY'];

export function parseDateText(s: string, formats: readonly string[] | undefined): string | undefined {
  const t = s.trim();
  if (t === '' || t === '00000000') return undefined;
  const list = formats ?? DEFAULT_DATE_FORMATS;
  // ISO date-time: the date part
  const dt = /^(\d{4}-\d{2}-\d{2})[T ]\d{2}:\d{2}/.exec(t);
  const text = dt && list.includes('YYYY-MM-DD') ? dt[1]! : t;
  for (const f of list) {
    const r = dateParser(f).parse(text);
    if (r === null) throw new ValueError('MAPPING_VALUE_INVALID', `is not a calendar date (${f})`, s);
    if (r !== undefined) return r;
  }
  throw new ValueError('MAPPING_VALUE_INVALID', `is not a date in the form ${list.join(' or ')}`, s);
}

/* ------------------------------------------------------------------ VAT ids and rates ---- */

const EU_PREFIXES = new Set(['AT', 'BE', 'BG', 'CY', 'CZ', 'DE', 'DK', 'EE', 'EL', 'ES', 'FI', 'FR', 'HR', 'HU', 'IE', 'IT', 'LT', 'LU', 'LV', 'MT', 'NL', 'PT', 'RO', 'SE', 'SI', 'SK', 'XI']);

export type PartyIdValue =
  | { kind: 'nip'; nip: string }
  | { kind: 'eu-vat'; countryCode: string; vatNumber: string }
  | { kind: 'other'; countryCode?: string; id: string }
  | { kind: 'none' };

/** A VAT id as ERPs write it ("PL 526-018-15-96", "DE811907980", "5260181596") to a party identifier. */
export function partyIdFromVatId(raw: string | undefined): PartyIdValue {
  if (raw === undefined) return { kind: 'none' };
  const s = raw.replace(/[\s\-.]/g, '').toUpperCase();
  if (s === '') return { kind: 'none' };
  const pl = /^(?:PL)?(\d{10})$/.exec(s);
  if (pl) return { kind: 'nip', nip: pl[1]! };
  const m = /^([A-Z]{2})([0-9A-Z+*]{2,12})$/.exec(s);
  if (m) {
    const prefix = m[1] === 'GR' ? 'EL' : m[1]!;
    if (EU_PREFIXES.has(prefix)) return { kind: 'eu-vat', countryCode: prefix, vatNumber: m[2]! };
    return { kind: 'other', countryCode: m[1]!, id: m[2]! };
  }
  return { kind: 'other', id: raw.trim() };
}

const RATE_WORDS: Record<string, string> = {
  ZW: 'zw',
  OO: 'oo',
  NP: 'np I',
  NPI: 'np I',
  'NP I': 'np I',
  NPII: 'np II',
  'NP II': 'np II',
  '0KR': '0 KR',
  '0 KR': '0 KR',
  '0WDT': '0 WDT',
  '0 WDT': '0 WDT',
  '0EX': '0 EX',
  '0 EX': '0 EX',
};
const NUMERIC_RATES = new Set(['23', '22', '8', '7', '5', '4', '3']);

/** "23.000", "23%", "23,00", "ZW", "np" -> a KSeF rate code; "0" is ambiguous and rejected. */
export function normalizeVatRate(raw: string): string {
  const s = raw.trim().toUpperCase().replace(/\s+/g, ' ');
  const w = RATE_WORDS[s];
  if (w) return w;
  const n = /^(\d{1,2})(?:[.,]0*)?\s*%?$/.exec(s);
  if (n) {
    const v = String(Number(n[1]));
    if (NUMERIC_RATES.has(v)) return v;
    if (v === '0') throw new ValueError('MAPPING_VALUE_INVALID', 'is a 0% rate, which KSeF splits into "0 KR" (domestic), "0 WDT" (intra-EU supply) and "0 EX" (export)', raw, 'map the code to one of them with a lookup table');
  }
  throw new ValueError('MAPPING_VALUE_INVALID', 'is not a KSeF VAT rate (23, 22, 8, 7, 5, 4, 3, 0 KR, 0 WDT, 0 EX, zw, oo, np I, np II)', raw, 'map the source code with a lookup table');
}

/* ------------------------------------------------------------------ functions ---- */

interface FnSpec {
  min: number;
  max: number;
  /** elementwise: applied to each item of a list; aggregate: receives the list. */
  mode: 'elementwise' | 'aggregate';
  apply(c: EvalCtx, v: Val, args: Val[]): Val;
  doc: string;
}

function txt(v: Val): string | undefined {
  return asText(v);
}
function intArg(v: Val, what: string): number {
  const t = asText(v);
  if (t === undefined || !/^-?\d+$/.test(t)) throw new ValueError('MAPPING_VALUE_INVALID', `${what} must be a whole number`, t);
  return Number(t);
}

function listOf(v: Val): ListVal {
  if (v instanceof ListVal) return v;
  return new ListVal(v === undefined ? [] : [v], [undefined]);
}

function num(d: Dec | undefined): NumVal | undefined {
  return d === undefined ? undefined : new NumVal(d);
}

export const FUNCTIONS: Record<string, FnSpec> = {
  trim: { min: 0, max: 0, mode: 'elementwise', doc: 'removes spaces at both ends', apply: (_c, v) => txt(v)?.trim() },
  upper: { min: 0, max: 0, mode: 'elementwise', doc: 'CAPITAL LETTERS', apply: (_c, v) => txt(v)?.toUpperCase() },
  lower: { min: 0, max: 0, mode: 'elementwise', doc: 'small letters', apply: (_c, v) => txt(v)?.toLowerCase() },
  pad: {
    min: 1,
    max: 2,
    mode: 'elementwise',
    doc: 'pad(n, "0"): pads on the left to n characters (default "0")',
    apply: (_c, v, a) => txt(v)?.padStart(intArg(a[0], 'pad length'), txt(a[1]) ?? '0'),
  },
  padRight: {
    min: 1,
    max: 2,
    mode: 'elementwise',
    doc: 'padRight(n, " "): pads on the right to n characters (default space)',
    apply: (_c, v, a) => txt(v)?.padEnd(intArg(a[0], 'pad length'), txt(a[1]) ?? ' '),
  },
  unpad: { min: 0, max: 0, mode: 'elementwise', doc: 'removes leading zeros ("0000012" -> "12")', apply: (_c, v) => txt(v)?.replace(/^0+(?=.)/, '') },
  substr: {
    min: 1,
    max: 2,
    mode: 'elementwise',
    doc: 'substr(offset, length): part of the text, offset from 0 as in ABAP',
    apply: (_c, v, a) => {
      const s = txt(v);
      if (s === undefined) return undefined;
      const off = intArg(a[0], 'offset');
      return a[1] === undefined ? s.slice(off) : s.substr(off, intArg(a[1], 'length'));
    },
  },
  replace: { min: 2, max: 2, mode: 'elementwise', doc: 'replace("a", "b"): every "a" becomes "b"', apply: (_c, v, a) => txt(v)?.split(txt(a[0]) ?? '').join(txt(a[1]) ?? '') },
  split: {
    min: 1,
    max: 2,
    mode: 'elementwise',
    doc: 'split(";", 2): the 2nd part (1-based, -1 = last); without a number: all parts',
    apply: (_c, v, a) => {
      const s = txt(v);
      if (s === undefined) return undefined;
      const parts = s.split(txt(a[0]) ?? ' ');
      if (a[1] === undefined) return new ListVal(parts, parts.map(() => undefined));
      const i = intArg(a[1], 'part number');
      return i < 0 ? parts[parts.length + i] : parts[i - 1];
    },
  },
  digits: { min: 0, max: 0, mode: 'elementwise', doc: 'keeps only the digits ("526-018-15-96" -> "5260181596")', apply: (_c, v) => txt(v)?.replace(/\D/g, '') },
  stripPrefix: {
    min: 1,
    max: 1,
    mode: 'elementwise',
    doc: 'stripPrefix("PL"): removes the prefix if present (letter case ignored, spaces after it too)',
    apply: (_c, v, a) => {
      const s = txt(v)?.trim();
      const p = txt(a[0]) ?? '';
      if (s === undefined) return undefined;
      return s.toUpperCase().startsWith(p.toUpperCase()) ? s.slice(p.length).trimStart() : s;
    },
  },
  number: {
    min: 0,
    max: 1,
    mode: 'elementwise',
    doc: 'number(","): a number written with the given decimal separator ("1 234,50" -> 1234.50); default: the mapping\'s numbers setting',
    apply: (c, v, a) => {
      const s = txt(v);
      if (s === undefined) return undefined;
      const dec = txt(a[0]);
      if (v instanceof NumVal) return v;
      const fmt: NumberFormat = dec === ',' || dec === '.' ? { ...c.numbers, decimal: dec } : c.numbers;
      return new NumVal(toDecimal(s, fmt));
    },
  },
  sapNumber: {
    min: 0,
    max: 0,
    mode: 'elementwise',
    doc: 'an SAP number: "." decimal, trailing minus ("1234.50-" -> -1234.50)',
    apply: (_c, v) => {
      const s = txt(v);
      if (s === undefined) return undefined;
      if (v instanceof NumVal) return v;
      const r = parseSapNumber(s);
      if (!r.ok) throw new ValueError('MAPPING_VALUE_INVALID', `is not a number (${r.reason})`, s);
      return new NumVal(Dec.from(r.value));
    },
  },
  round: {
    min: 0,
    max: 1,
    mode: 'elementwise',
    doc: 'round(2): rounds half up to 2 (or the given) decimal places',
    apply: (c, v, a) => {
      const d = numArg(v, c);
      if (d === undefined) return undefined;
      const scale = a[0] === undefined ? 2 : intArg(a[0], 'decimal places');
      const r = d.round(scale);
      return new NumVal(r, r.toFixed(scale));
    },
  },
  abs: { min: 0, max: 0, mode: 'elementwise', doc: 'the number without its sign', apply: (c, v) => num(numArg(v, c)?.abs()) },
  negate: { min: 0, max: 0, mode: 'elementwise', doc: 'the number with the opposite sign', apply: (c, v) => num(numArg(v, c)?.neg()) },
  date: {
    min: 0,
    max: 1,
    mode: 'elementwise',
    doc: 'date("DD.MM.YYYY"): a date in the given form to YYYY-MM-DD; default: the mapping\'s dates setting',
    apply: (c, v, a) => {
      const s = txt(v);
      if (s === undefined) return undefined;
      const f = txt(a[0]);
      return parseDateText(s, f ? [f] : c.dateFormats);
    },
  },
  sapDate: {
    min: 0,
    max: 0,
    mode: 'elementwise',
    doc: 'an SAP date YYYYMMDD to YYYY-MM-DD (00000000 = no date)',
    apply: (_c, v) => {
      const s = txt(v);
      if (s === undefined) return undefined;
      const r = parseSapDate(s);
      if (!r.ok) throw new ValueError('MAPPING_VALUE_INVALID', r.reason, s);
      return r.value;
    },
  },
  vatRate: { min: 0, max: 0, mode: 'elementwise', doc: 'a rate as written ("23.000", "23%", "ZW") to the KSeF code', apply: (_c, v) => (txt(v) === undefined ? undefined : normalizeVatRate(txt(v)!)) },
  text: { min: 0, max: 0, mode: 'elementwise', doc: 'the value as text', apply: (_c, v) => txt(v) },
  default: { min: 1, max: 1, mode: 'elementwise', doc: 'default("x"): "x" when the value is empty', apply: (_c, v, a) => (isEmpty(v) ? a[0] : v) },
  matches: {
    min: 1,
    max: 1,
    mode: 'elementwise',
    doc: 'matches("^FV"): true when the text matches the regular expression',
    apply: (_c, v, a) => {
      const s = txt(v);
      return s !== undefined && new RegExp(txt(a[0]) ?? '').test(s);
    },
  },
  contains: { min: 1, max: 1, mode: 'elementwise', doc: 'contains("x")', apply: (_c, v, a) => (txt(v) ?? '').includes(txt(a[0]) ?? '') },
  startsWith: { min: 1, max: 1, mode: 'elementwise', doc: 'startsWith("x")', apply: (_c, v, a) => (txt(v) ?? '').startsWith(txt(a[0]) ?? '') },
  oneOf: { min: 1, max: 50, mode: 'elementwise', doc: 'oneOf("A", "B"): true when the value is one of these', apply: (_c, v, a) => a.some((x) => txt(x) === txt(v)) },
  sum: {
    min: 0,
    max: 0,
    mode: 'aggregate',
    doc: 'sum of numbers (e.g. sum(E1EDP01.NETWR | sapNumber))',
    apply: (c, v) => {
      const l = listOf(v);
      let t = Dec.ZERO;
      l.items.forEach((x, i) => {
        const o = l.origins[i];
        if (o) c.origin = o;
        const d = numArg(x, c);
        if (d !== undefined) t = t.add(d);
      });
      return new NumVal(t);
    },
  },
  count: { min: 0, max: 0, mode: 'aggregate', doc: 'how many values (or records)', apply: (_c, v) => String(listOf(v).items.filter((x) => x !== undefined && x !== '').length) },
  first: { min: 0, max: 0, mode: 'aggregate', doc: 'the first value', apply: (_c, v) => listOf(v).items.find((x) => x !== undefined && x !== '') },
  last: {
    min: 0,
    max: 0,
    mode: 'aggregate',
    doc: 'the last value',
    apply: (_c, v) => {
      const items = listOf(v).items.filter((x) => x !== undefined && x !== '');
      return items[items.length - 1];
    },
  },
  join: {
    min: 0,
    max: 1,
    mode: 'aggregate',
    doc: 'join(", "): the values joined with the separator, empty ones left out',
    apply: (_c, v, a) => {
      const parts = listOf(v).items.map((x) => asText(x)?.trim()).filter((x): x is string => x !== undefined && x !== '');
      return parts.length ? parts.join(txt(a[0]) ?? ' ') : undefined;
    },
  },
};

/** Functions with special argument handling: lookup(table), exists(path), if(c, a, b), concat/join as calls, coalesce. */
const SPECIAL = ['lookup', 'exists', 'if', 'coalesce', 'col'];
export const FUNCTION_NAMES = [...Object.keys(FUNCTIONS), ...SPECIAL].sort();

/* ------------------------------------------------------------------ paths ---- */

interface Step {
  name: string;
  where?: Array<[string, string]>;
  pred?: Fn;
  index?: number;
}

interface PathSpec {
  from: 'node' | 'root';
  steps: Step[];
  text: string;
}

function matchStep(ch: RecordNode, s: Step, c: EvalCtx): boolean {
  if (s.name !== '*' && ch.name !== s.name) return false;
  if (s.where) {
    for (const [k, v] of s.where) {
      const f = fieldOf(ch, k);
      if (!f || f.value !== v) return false;
    }
  }
  if (s.pred) {
    const saved = c.node;
    const savedOrigin = c.origin;
    const savedTrace = c.trace;
    c.node = ch;
    c.trace = undefined;
    try {
      if (!truthy(s.pred(c))) return false;
    } finally {
      c.node = saved;
      c.origin = savedOrigin;
      c.trace = savedTrace;
    }
  }
  return true;
}

/** First field (or node) at the path, depth first. */
function firstAt(node: RecordNode, steps: Step[], i: number, c: EvalCtx): Field | RecordNode | undefined {
  const s = steps[i]!;
  const last = i === steps.length - 1;
  if (last && !s.where && !s.pred && s.index === undefined) {
    const f = fieldOf(node, s.name);
    if (f) return f;
  }
  let n = 0;
  for (const ch of node.children) {
    if (!matchStep(ch, s, c)) continue;
    n++;
    if (s.index !== undefined && n !== s.index) continue;
    if (last) return ch;
    const r = firstAt(ch, steps, i + 1, c);
    if (r !== undefined) return r;
    if (s.index !== undefined) return undefined;
  }
  return undefined;
}

function allAt(node: RecordNode, steps: Step[], i: number, c: EvalCtx, out: Array<Field | RecordNode>): void {
  const s = steps[i]!;
  const last = i === steps.length - 1;
  if (last && !s.where && !s.pred && s.index === undefined) {
    const f = fieldOf(node, s.name);
    if (f) {
      out.push(f);
      return;
    }
  }
  let n = 0;
  for (const ch of node.children) {
    if (!matchStep(ch, s, c)) continue;
    n++;
    if (s.index !== undefined && n !== s.index) continue;
    if (last) out.push(ch);
    else allAt(ch, steps, i + 1, c, out);
  }
}

function isNode(x: Field | RecordNode): x is RecordNode {
  return (x as RecordNode).children !== undefined;
}

function textOf(x: Field | RecordNode, name: string, c: EvalCtx): string | undefined {
  let f: Field | undefined;
  if (isNode(x)) {
    f = fieldOf(x, '#text');
    if (!f) return undefined;
  } else f = x;
  setOrigin(c, name, f);
  return f.value === '' ? undefined : f.value;
}

function compilePath(p: PathSpec, mode: 'scalar' | 'list'): Fn {
  const steps = p.steps;
  const name = steps[steps.length - 1]!.name;
  const fromRoot = p.from === 'root';
  if (mode === 'scalar') {
    // fast path: one plain step (a CSV column, a field of the current record)
    if (steps.length === 1 && !steps[0]!.where && !steps[0]!.pred && steps[0]!.index === undefined) {
      return (c) => {
        const node = fromRoot ? c.root : c.node;
        const f = fieldOf(node, name);
        if (f) {
          setOrigin(c, name, f);
          return f.value === '' ? undefined : f.value;
        }
        const r = firstAt(node, steps, 0, c);
        return r === undefined ? undefined : textOf(r, name, c);
      };
    }
    return (c) => {
      const r = firstAt(fromRoot ? c.root : c.node, steps, 0, c);
      return r === undefined ? undefined : textOf(r, name, c);
    };
  }
  return (c) => {
    const out: Array<Field | RecordNode> = [];
    allAt(fromRoot ? c.root : c.node, steps, 0, c, out);
    const items: Scalar[] = [];
    const origins: Array<Origin | undefined> = [];
    for (const x of out) {
      const f = isNode(x) ? fieldOf(x, '#text') : x;
      if (isNode(x) && !f) {
        // a record without text counts as present (count(E1EDP01))
        items.push('\u0000node');
        origins.push(undefined);
        continue;
      }
      if (!f || f.value === '') continue;
      if (c.trace) c.trace.push({ name, field: f });
      items.push(f.value);
      origins.push({ name, field: f });
    }
    return new ListVal(items, origins);
  };
}

function compileNodesPath(p: PathSpec): NodesFn {
  const steps = p.steps;
  const fromRoot = p.from === 'root';
  return (c) => {
    const out: Array<Field | RecordNode> = [];
    allAt(fromRoot ? c.root : c.node, steps, 0, c, out);
    return out.filter(isNode);
  };
}

/* ------------------------------------------------------------------ compiler ---- */

function literalText(n: JsepNode): string | undefined {
  if (n.type === 'Literal') {
    const v = (n as jsepModule.Literal).value;
    if (typeof v === 'number') return String((n as jsepModule.Literal).raw);
    if (typeof v === 'string') return v;
    return undefined;
  }
  if (n.type === 'Identifier') return (n as jsepModule.Identifier).name;
  return undefined;
}

/** Flattens a member chain into a path; undefined when the node is not a path. */
function toPath(n: JsepNode, env: CompileEnv): PathSpec | { config: string[] } | undefined {
  const steps: Step[] = [];
  let cur: JsepNode = n;
  const pending: Array<{ pred?: JsepNode }> = [];
  // walk from the outside in, collecting steps in reverse
  const rev: Array<Step | { predNode: JsepNode }> = [];
  for (;;) {
    if (cur.type === 'Identifier') {
      rev.push({ name: (cur as jsepModule.Identifier).name });
      break;
    }
    if (cur.type !== 'MemberExpression') return undefined;
    const m = cur as jsepModule.MemberExpression;
    if (m.computed) {
      const prop = m.property;
      if (prop.type === 'Literal' && typeof (prop as jsepModule.Literal).value === 'string') {
        // header["Nr faktury"]: a name with spaces
        rev.push({ name: (prop as jsepModule.Literal).value as string });
      } else rev.push({ predNode: prop });
    } else {
      if (m.property.type !== 'Identifier') return undefined;
      rev.push({ name: (m.property as jsepModule.Identifier).name });
    }
    cur = m.object;
  }
  void pending;
  rev.reverse();
  const head = rev[0] as Step;
  if (head.name === 'config') {
    const keys: string[] = [];
    for (const r of rev.slice(1)) {
      if ('predNode' in r) throw new ExprError('config values are addressed by name only (config.seller.nip)');
      keys.push(r.name);
    }
    if (keys.length === 0) throw new ExprError('config needs a key, e.g. config.seller.nip');
    return { config: keys };
  }
  let from: 'node' | 'root' = 'node';
  let start = 0;
  if (head.name === 'root') {
    from = 'root';
    start = 1;
  }
  for (let i = start; i < rev.length; i++) {
    const r = rev[i]!;
    if ('predNode' in r) {
      const prev = steps[steps.length - 1];
      if (!prev) throw new ExprError('a selection [..] must follow a record name, e.g. E1EDKA1[PARVW=RE]');
      addPredicate(prev, r.predNode, env);
    } else steps.push({ name: r.name });
  }
  if (steps.length === 0) throw new ExprError('"root" must be followed by a path, e.g. root.header.Waluta');
  return { from, steps, text: '' };
}

function addPredicate(step: Step, p: JsepNode, env: CompileEnv): void {
  if (p.type === 'Literal' && typeof (p as jsepModule.Literal).value === 'number') {
    const raw = String((p as jsepModule.Literal).raw);
    if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new ExprError(`[${raw}]: a position is a whole number from 1`);
    step.index = Number(raw);
    return;
  }
  if (p.type === 'BinaryExpression' && (p as jsepModule.BinaryExpression).operator === '=') {
    const b = p as jsepModule.BinaryExpression;
    if (b.left.type !== 'Identifier') throw new ExprError('in [FIELD=value] the left side must be a field name');
    const value = literalText(b.right);
    if (value === undefined) throw new ExprError('in [FIELD=value] the value must be a fixed text or number; use == to compare with another field');
    (step.where ??= []).push([(b.left as jsepModule.Identifier).name, value]);
    return;
  }
  const f = compile(p, env, 'scalar');
  const prev = step.pred;
  step.pred = prev ? (c) => truthy(prev(c)) && truthy(f(c)) : f;
}

function configValue(keys: string[]): Fn {
  return (c) => {
    let cur: unknown = c.config;
    for (const k of keys) {
      if (cur === null || typeof cur !== 'object' || !hasOwn.call(cur, k)) return undefined;
      cur = (cur as Record<string, unknown>)[k];
    }
    if (cur === undefined || cur === null) return undefined;
    if (typeof cur === 'string') return cur === '' ? undefined : cur;
    if (typeof cur === 'number' || typeof cur === 'bigint') return String(cur);
    if (typeof cur === 'boolean') return cur;
    return undefined;
  };
}

function mapElementwise(spec: FnSpec, c: EvalCtx, v: Val, args: Val[]): Val {
  if (!(v instanceof ListVal)) return spec.apply(c, v, args);
  const items: Scalar[] = [];
  const origins: Array<Origin | undefined> = [];
  v.items.forEach((x, i) => {
    const o = v.origins[i];
    if (o) c.origin = o;
    const r = spec.apply(c, x, args);
    if (r instanceof ListVal) {
      items.push(...r.items);
      r.items.forEach(() => origins.push(o));
    } else {
      items.push(r);
      origins.push(o);
    }
  });
  return new ListVal(items, origins);
}

function callFn(name: string, target: JsepNode | undefined, args: JsepNode[], env: CompileEnv, mode: 'scalar' | 'list'): Fn {
  if (name === 'lookup') {
    const all = target ? [target, ...args] : args;
    if (all.length < 2 || all.length > 3) throw new ExprError('lookup needs a value and a table name: value | lookup(taxCodes) or lookup(value, taxCodes, "fallback")');
    const tableNode = all[1]!;
    const tname = tableNode.type === 'Identifier' ? (tableNode as jsepModule.Identifier).name : literalText(tableNode);
    const table = tname === undefined ? undefined : env.lookups.get(tname);
    if (!table) {
      const known = [...env.lookups.keys()];
      throw new ExprError(`unknown lookup table "${tname ?? '?'}"${suggest(tname ?? '', known)}`, known.length ? `tables defined: ${known.join(', ')}` : 'define it under lookups:');
    }
    const valueFn = compile(all[0]!, env, mode);
    const fb = all[2] ? compile(all[2], env, 'scalar') : undefined;
    const one = (c: EvalCtx, v: Scalar): Scalar => {
      const key = asText(v)?.trim();
      if (key === undefined || key === '') return undefined;
      const hit = table.entries.get(key);
      if (hit !== undefined) return hit;
      if (fb) return asText(fb(c));
      if (table.fallback !== undefined) return table.fallback;
      const codes = [...table.entries.keys()];
      throw new ValueError(
        'MAPPING_LOOKUP_MISSING',
        `is not in the lookup table ${table.name} (${table.where}; codes: ${codes.slice(0, 12).join(', ')}${codes.length > 12 ? ', ...' : ''})`,
        key,
        `add "${key}" to lookups.${table.name} in the mapping, or give a fallback: lookup(${table.name}, "...")`,
      );
    };
    return (c) => {
      const v = valueFn(c);
      if (v instanceof ListVal) {
        return new ListVal(
          v.items.map((x, i) => {
            const o = v.origins[i];
            if (o) c.origin = o;
            return one(c, x);
          }),
          v.origins,
        );
      }
      return one(c, v);
    };
  }
  if (name === 'exists') {
    const all = target ? [target, ...args] : args;
    if (all.length !== 1) throw new ExprError('exists needs one path: exists(E1EDK02[QUALF=011])');
    const p = toPath(all[0]!, env);
    if (!p || 'config' in p) {
      const f = compile(all[0]!, env, 'scalar');
      return (c) => !isEmpty(f(c));
    }
    const nodes = compileNodesPath(p);
    const vals = compilePath(p, 'list');
    return (c) => nodes(c).length > 0 || (vals(c) as ListVal).items.length > 0;
  }
  if (name === 'if') {
    const all = target ? [target, ...args] : args;
    if (all.length < 2 || all.length > 3) throw new ExprError('if needs a condition and one or two values: if(cond, then, else)');
    const [t, a, b] = all.map((x) => compile(x, env, mode));
    return (c) => (truthy(t!(c)) ? a!(c) : b ? b(c) : undefined);
  }
  if (name === 'coalesce') {
    const all = (target ? [target, ...args] : args).map((x) => compile(x, env, mode));
    return (c) => {
      for (const f of all) {
        const v = f(c);
        if (!isEmpty(v)) return v;
      }
      return undefined;
    };
  }
  if (name === 'col') {
    const all = target ? [target, ...args] : args;
    const colName = all.length === 1 ? literalText(all[0]!) : undefined;
    if (colName === undefined) throw new ExprError('col needs a column name or number: col("Nr faktury") or col(3)');
    return compilePath({ from: 'node', steps: [{ name: colName }], text: colName }, mode);
  }
  if (name === 'join' && target === undefined && args.length >= 3) {
    // join(" ", NAME1, NAME2, NAME3): the values joined with the separator, empty ones left out
    const sep = compile(args[0]!, env, 'scalar');
    const parts = args.slice(1).map((a) => compile(a, env, 'scalar'));
    return (c) => {
      const s = asText(sep(c)) ?? ' ';
      const out: string[] = [];
      for (const p of parts) {
        const t = asText(p(c))?.trim();
        if (t) out.push(t);
      }
      return out.length ? out.join(s) : undefined;
    };
  }
  const spec = FUNCTIONS[name];
  if (!spec) throw new ExprError(`unknown function "${name}"${suggest(name, FUNCTION_NAMES)}`, `functions: ${FUNCTION_NAMES.join(', ')}`);
  const n = args.length;
  if (target === undefined) {
    // function form: f(value, args...)
    if (n - 1 < spec.min || n - 1 > spec.max) throw new ExprError(`${name} takes ${arity(spec, true)}`);
  } else if (n < spec.min || n > spec.max) throw new ExprError(`${name} takes ${arity(spec, false)}`);
  const valueNode = target ?? args[0]!;
  const argNodes = target === undefined ? args.slice(1) : args;
  const valueFn = compile(valueNode, env, spec.mode === 'aggregate' ? 'list' : mode);
  const argFns = argNodes.map((a) => compile(a, env, 'scalar'));
  if (spec.mode === 'aggregate') {
    return (c) => spec.apply(c, valueFn(c), argFns.map((f) => f(c)));
  }
  if (argFns.length === 0) return (c) => mapElementwise(spec, c, valueFn(c), []);
  return (c) => mapElementwise(spec, c, valueFn(c), argFns.map((f) => f(c)));
}

function arity(s: FnSpec, fnForm: boolean): string {
  const extra = fnForm ? 1 : 0;
  const lo = s.min + extra;
  const hi = s.max + extra;
  return lo === hi ? `${lo} argument${lo === 1 ? '' : 's'}` : `${lo} to ${hi} arguments`;
}

function arith(op: string, a: Fn, b: Fn): Fn {
  return (c) => {
    const x = a(c);
    const xd = numArg(x, c);
    const y = b(c);
    const yd = numArg(y, c);
    if (xd === undefined || yd === undefined) return undefined;
    switch (op) {
      case '+':
        return new NumVal(xd.add(yd));
      case '-':
        return new NumVal(xd.sub(yd));
      case '*':
        return new NumVal(xd.mul(yd));
      default:
        if (yd.isZero()) throw new ValueError('MAPPING_VALUE_INVALID', 'is a division by zero', asText(y));
        return new NumVal(xd.div(yd, 10));
    }
  };
}

export function compile(n: JsepNode, env: CompileEnv, mode: 'scalar' | 'list'): Fn {
  switch (n.type) {
    case 'Literal': {
      const l = n as jsepModule.Literal;
      const v: Scalar = typeof l.value === 'number' ? String(l.raw) : typeof l.value === 'boolean' ? l.value : l.value === null ? undefined : String(l.value);
      return () => v;
    }
    case 'Identifier': {
      const name = (n as jsepModule.Identifier).name;
      if (name.startsWith('$')) {
        const v = name.slice(1);
        if (!env.vars.has(v)) throw new ExprError(`unknown variable ${name}${suggest(v, [...env.vars])}`, env.vars.size ? `variables: ${[...env.vars].map((x) => `$${x}`).join(', ')}` : 'define it under vars:');
        return (c) => c.vars[v];
      }
      if (name === 'config' || name === 'root') throw new ExprError(`"${name}" must be followed by a path, e.g. ${name === 'config' ? 'config.seller.nip' : 'root.header.Waluta'}`);
      // a bare name is always a field, even when a function has the same name (number, date, text)
      return compilePath({ from: 'node', steps: [{ name }], text: name }, mode);
    }
    case 'MemberExpression': {
      const p = toPath(n, env);
      if (!p) throw new ExprError('this is not a path: use names, [FIELD=value] selections and [n] positions');
      if ('config' in p) return configValue(p.config);
      return compilePath(p, mode);
    }
    case 'CallExpression': {
      const call = n as jsepModule.CallExpression;
      if (call.callee.type !== 'Identifier') throw new ExprError('only named functions can be called, e.g. trim(NAME1)');
      return callFn((call.callee as jsepModule.Identifier).name, undefined, call.arguments, env, mode);
    }
    case 'BinaryExpression': {
      const b = n as jsepModule.BinaryExpression;
      const op = b.operator;
      if (op === '|') {
        const r = b.right;
        if (r.type === 'Identifier') return callFn((r as jsepModule.Identifier).name, b.left, [], env, mode);
        if (r.type === 'CallExpression' && (r as jsepModule.CallExpression).callee.type === 'Identifier') {
          const call = r as jsepModule.CallExpression;
          return callFn((call.callee as jsepModule.Identifier).name, b.left, call.arguments, env, mode);
        }
        throw new ExprError('after | comes a function name, e.g. value | trim or value | pad(10, "0")');
      }
      if (op === '=') throw new ExprError('"=" selects records inside [..]; to compare two values use ==');
      const a = compile(b.left, env, op === '??' || op === '&' ? mode : 'scalar');
      const z = compile(b.right, env, op === '??' || op === '&' ? mode : 'scalar');
      switch (op) {
        case '&':
          return (c) => {
            const x = asText(a(c));
            const y = asText(z(c));
            if (x === undefined && y === undefined) return undefined;
            return (x ?? '') + (y ?? '');
          };
        case '??':
          return (c) => {
            const x = a(c);
            return isEmpty(x) ? z(c) : x;
          };
        case '+':
        case '-':
        case '*':
        case '/':
          return arith(op, a, z);
        case '==':
        case '===':
          return (c) => compareVals(a(c), z(c)) === 0;
        case '!=':
        case '!==':
          return (c) => compareVals(a(c), z(c)) !== 0;
        case '<':
          return (c) => (compareVals(a(c), z(c)) ?? 0) < 0;
        case '<=':
          return (c) => {
            const r = compareVals(a(c), z(c));
            return r !== undefined && r <= 0;
          };
        case '>':
          return (c) => (compareVals(a(c), z(c)) ?? 0) > 0;
        case '>=':
          return (c) => {
            const r = compareVals(a(c), z(c));
            return r !== undefined && r >= 0;
          };
        case 'and':
        case '&&':
          return (c) => truthy(a(c)) && truthy(z(c));
        case 'or':
        case '||':
          return (c) => truthy(a(c)) || truthy(z(c));
        default:
          throw new ExprError(`the operator ${op} is not part of the mapping language (use & to join texts, + - * / for numbers, == != < > for comparisons, and/or/not)`);
      }
    }
    case 'UnaryExpression': {
      const u = n as jsepModule.UnaryExpression;
      const a = compile(u.argument, env, 'scalar');
      if (u.operator === '-') return (c) => num(numArg(a(c), c)?.neg());
      if (u.operator === '+') return (c) => num(numArg(a(c), c));
      if (u.operator === '!' || u.operator === 'not') return (c) => !truthy(a(c));
      throw new ExprError(`the operator ${u.operator} is not part of the mapping language`);
    }
    case 'ConditionalExpression': {
      const t = n as jsepModule.ConditionalExpression;
      const test = compile(t.test, env, 'scalar');
      const yes = compile(t.consequent, env, mode);
      const no = compile(t.alternate, env, mode);
      return (c) => (truthy(test(c)) ? yes(c) : no(c));
    }
    case 'Compound':
      throw new ExprError('two expressions side by side; join texts with &, or quote a fixed text: "PLN"');
    case 'ArrayExpression':
      throw new ExprError('lists [..] are not part of the mapping language; use oneOf("A", "B") to test membership');
    case 'ThisExpression':
      throw new ExprError('"this" is not part of the mapping language; name the field');
    default:
      throw new ExprError(`unsupported expression (${n.type})`);
  }
}

/** Parses and compiles an expression. Throws ExprError with a readable message. */
export function compileExpression(text: string, env: CompileEnv, mode: 'scalar' | 'list' = 'scalar'): Fn {
  configure();
  let ast: JsepNode;
  try {
    ast = jsep(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new ExprError(`cannot read the expression: ${msg.replace(/ at character (\d+)/, (_m, i: string) => ` at character ${Number(i) + 1}`)}`);
  }
  return compile(ast, env, mode);
}

/** Compiles a path that selects records (lines: each: E1EDP01). */
export function compileNodes(text: string, env: CompileEnv): NodesFn {
  configure();
  let ast: JsepNode;
  try {
    ast = jsep(text);
  } catch (e) {
    throw new ExprError(`cannot read the path: ${e instanceof Error ? e.message : String(e)}`);
  }
  const p = toPath(ast, env);
  if (!p || 'config' in p) throw new ExprError('each: needs a path of records, e.g. E1EDP01 or line or Invoice/Lines/Line');
  return compileNodesPath(p);
}

/** Parses an expression for inspection (tests, --explain). */
export function parseExpression(text: string): JsepNode {
  configure();
  return jsep(text);
}

/* ------------------------------------------------------------------ suggestions ---- */

function distance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  const d: number[] = Array.from({ length: n + 1 }, (_, j) => j);
  for (let i = 1; i <= m; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= n; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = tmp;
    }
  }
  return d[n]!;
}

/** ' (did you mean "x"?)' for the closest name, or ''. */
export function suggest(name: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(name, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best === undefined) return '';
  const limit = Math.max(2, Math.floor(name.length / 3));
  return bestD <= limit ? ` (did you mean "${best}"?)` : '';
}
