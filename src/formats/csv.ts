/** CSV and other delimited text: streaming, one invoice group at a time. */
import { newFields } from './lines.js';
import { Readable } from 'node:stream';
import { parse, CsvError } from 'csv-parse';
import { formatError } from './errors.js';
import { Grouper, type Row, type RowKind } from './group.js';
import { decodeText, inputName, type DecodeState } from './text.js';
import type { CsvOptions, CsvPairOptions, FormatInput, FormatWarning, ParsedDocument, RecordNode } from './types.js';

interface CsvRowsContext {
  file: string;
  state: DecodeState;
}

function countNl(values: string[]): number {
  let n = 0;
  for (const v of values) {
    if (v.length === 0) continue;
    let i = v.indexOf('\n');
    while (i !== -1) {
      n++;
      i = v.indexOf('\n', i + 1);
    }
  }
  return n;
}

function csvErrorToFormat(e: CsvError, file: string, opts: CsvOptions, recordStart: number) {
  // recordStart: line where the unclosed quote opened (quote errors) or where the next record starts
  const line = typeof (e as unknown as { lines?: unknown }).lines === 'number' ? (e as unknown as { lines: number }).lines : undefined;
  const pos = line !== undefined ? { file, line } : { file };
  switch (e.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return formatError('FORMAT_CSV_QUOTE_NOT_CLOSED', `the quoted value opened at line ${recordStart} is never closed (truncated file, or a stray quote character)`, { file, line: recordStart }, {
        hint: 'check that the file is complete; if values contain unpaired quote characters, set quote: false',
        cause: e,
      });
    case 'CSV_MAX_RECORD_SIZE':
      return formatError('FORMAT_CSV_RECORD_TOO_LARGE', `a record is longer than ${opts.maxRecordChars ?? 1 << 20} characters (wrong delimiter, a stray quote, or binary data)`, pos, {
        hint: 'check the delimiter and quote options and that the file is a text export',
        cause: e,
      });
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'INVALID_OPENING_QUOTE':
      return formatError('FORMAT_CSV_QUOTE', `misplaced quote character: ${e.message}`, pos, {
        hint: 'values with quote characters must be quoted and the inner quotes doubled; or set quote: false',
        cause: e,
      });
    default:
      return formatError('FORMAT_CSV_SYNTAX', e.message, pos, { cause: e });
  }
}

/**
 * Follows quote characters in the text fed to the parser, to know where an unclosed quoted value
 * started (csv-parse only reports the end of the file). Doubled quotes toggle twice: no effect.
 */
class QuoteTracker {
  inQuote = false;
  openLine = 0;
  private line = 1;

  constructor(private readonly quote: string | false) {}

  feed(text: string): void {
    if (this.quote === false) return;
    const q = this.quote;
    let i = 0;
    for (;;) {
      const next = text.indexOf(q, i);
      const end = next === -1 ? text.length : next;
      for (let j = text.indexOf('\n', i); j !== -1 && j < end; j = text.indexOf('\n', j + 1)) this.line++;
      if (next === -1) return;
      this.inQuote = !this.inQuote;
      if (this.inQuote) this.openLine = this.line;
      i = next + 1;
    }
  }
}

async function* tracked(texts: AsyncIterable<string>, tracker: QuoteTracker): AsyncGenerator<string> {
  for await (const t of texts) {
    tracker.feed(t);
    yield t;
  }
}

/** Rows of a CSV file as record nodes, in file order. */
async function* csvRows(input: FormatInput, opts: CsvOptions, ctx: CsvRowsContext): AsyncGenerator<Row> {
  const file = ctx.file;
  const quote = opts.quote === false ? false : (opts.quote ?? '"');
  const trim = opts.trim !== false;
  const skipEmpty = opts.skipEmptyLines !== false;
  // Line numbers are counted here (1 + line breaks inside quoted values per record) rather than taken
  // from csv-parse's per-record info objects, which cost more than the parsing itself.
  const parser = parse({
    delimiter: opts.delimiter ?? ';',
    quote,
    escape: opts.escape ?? (quote === false ? '"' : quote),
    relax_column_count: true,
    relax_quotes: false,
    skip_empty_lines: false,
    trim: false,
    max_record_size: opts.maxRecordChars ?? 1 << 20,
    from_line: (opts.skipLines ?? 0) + 1,
    bom: false,
  });
  const quotes = new QuoteTracker(quote);
  const source = Readable.from(tracked(decodeText(input, { ...opts, file }, ctx.state), quotes), { objectMode: false });
  source.on('error', (e) => parser.destroy(e));
  source.pipe(parser);
  let nextLine = (opts.skipLines ?? 0) + 1;

  let names: string[] | undefined = Array.isArray(opts.header) ? opts.header : undefined;
  const wantHeader = opts.header === undefined || opts.header === true;
  const rt = opts.recordType;
  let typeIndex: number | undefined;
  const byType = opts.columnsByType;
  const resolveTypeIndex = (): number => {
    if (!rt) return -1;
    if (/^\d+$/.test(rt.column)) return Number(rt.column) - 1;
    const candidates = [names, ...Object.values(byType ?? {})];
    for (const c of candidates) {
      const i = c?.indexOf(rt.column) ?? -1;
      if (i >= 0) return i;
    }
    throw formatError('FORMAT_CSV_COLUMN_UNKNOWN', `record-type column "${rt.column}" is not among the columns`, { file, line: 1 }, {
      field: rt.column,
      allowed: (names ?? []).join(', '),
      hint: 'give the column by its header name or by its 1-based number',
    });
  };
  const groupIdx = (cols: string[] | undefined): number => {
    if (opts.groupBy === undefined) return -1;
    if (/^\d+$/.test(opts.groupBy)) return Number(opts.groupBy) - 1;
    return cols ? cols.indexOf(opts.groupBy) : -1;
  };
  let groupIndexCache: number | undefined;
  let groupChecked = false;
  try {
    for await (const values of parser as AsyncIterable<string[]>) {
      const line = nextLine;
      nextLine += 1 + countNl(values);
      if (values.length === 1 && (values[0] === '' || (trim && values[0]!.trim() === ''))) {
        if (skipEmpty) continue;
      }
      if (trim) for (let i = 0; i < values.length; i++) values[i] = values[i]!.trim();
      if (wantHeader && names === undefined) {
        const seen = new Map<string, number>();
        names = values.map((v, i) => {
          let n = v === '' ? String(i + 1) : v;
          const count = seen.get(n) ?? 0;
          seen.set(n, count + 1);
          if (count > 0) {
            const renamed = `${n}_${count + 1}`;
            opts.onWarning?.({ code: 'FORMAT_CSV_DUPLICATE_HEADER', message: `column name "${n}" appears more than once; column ${i + 1} is named "${renamed}"`, pos: { file, line, column: i + 1 } });
            n = renamed;
          }
          return n;
        });
        continue;
      }
      if (typeIndex === undefined) typeIndex = resolveTypeIndex();
      let kind: RowKind = 'row';
      let nodeName = 'row';
      let cols = names;
      if (rt) {
        const t = values[typeIndex] ?? '';
        if (rt.header.includes(t)) (kind = 'header'), (nodeName = 'header');
        else if (rt.line.includes(t)) (kind = 'line'), (nodeName = 'line');
        else (kind = 'other'), (nodeName = t === '' ? 'record' : t);
        if (byType && Object.hasOwn(byType, t)) cols = byType[t];
      }
      if (cols && values.length !== cols.length) {
        let extraEmpty = values.length > cols.length;
        for (let i = cols.length; extraEmpty && i < values.length; i++) if (values[i] !== '') extraEmpty = false;
        if (!extraEmpty && !opts.relaxColumnCount) {
          throw formatError('FORMAT_CSV_COLUMN_COUNT', `record has ${values.length} fields, expected ${cols.length}`, { file, line }, {
            hint: 'check the delimiter and quoting; set relaxColumnCount: true if records legitimately vary',
            details: { expected: cols.length, found: values.length },
          });
        }
      }
      const fields: RecordNode['fields'] = newFields();
      const n = cols ? Math.min(values.length, Math.max(cols.length, 0)) : values.length;
      for (let i = 0; i < n; i++) {
        const name = cols?.[i] ?? String(i + 1);
        fields[name] = { value: values[i]!, pos: { file, line, column: i + 1 } };
      }
      if (cols && opts.relaxColumnCount) {
        for (let i = cols.length; i < values.length; i++) {
          if (values[i] !== '') fields[String(i + 1)] = { value: values[i]!, pos: { file, line, column: i + 1 } };
        }
      }
      const node: RecordNode = { name: nodeName, fields, children: [], pos: { file, line } };
      const row: Row = { node, kind };
      if (opts.groupBy !== undefined) {
        const gi = cols === names ? (groupIndexCache ??= groupIdx(names)) : groupIdx(cols);
        if (gi < 0) {
          if (!groupChecked && (kind === 'row' || kind === 'header')) {
            throw formatError('FORMAT_CSV_COLUMN_UNKNOWN', `grouping column "${opts.groupBy}" is not among the columns`, { file, line }, {
              field: opts.groupBy,
              allowed: (cols ?? []).join(', '),
            });
          }
        } else {
          groupChecked = true;
          const v = values[gi];
          if (v !== undefined) row.key = v;
        }
      }
      yield row;
    }
  } catch (e) {
    if (e instanceof CsvError) throw csvErrorToFormat(e, file, opts, quotes.inQuote ? quotes.openLine : nextLine);
    throw e;
  } finally {
    source.destroy();
    parser.destroy();
  }
}

/**
 * Invoice groups of a CSV file, one at a time (flat memory for any file size when groupBy or
 * recordType is set; without them the whole file is one group). Each group is a root node
 * "invoice" whose children are the records ("row", or "header"/"line" with a record-type column).
 */
export async function* iterateCsv(input: FormatInput, options: CsvOptions = {}): AsyncGenerator<RecordNode> {
  const file = inputName(input, options);
  const ctx: CsvRowsContext = { file, state: { encoding: 'utf-8' } };
  const grouper = new Grouper({
    file,
    recordType: options.recordType !== undefined,
    ...(options.groupBy !== undefined ? { groupBy: options.groupBy } : {}),
    ...(options.maxGroupRows !== undefined ? { maxGroupRows: options.maxGroupRows } : {}),
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
  });
  for await (const row of csvRows(input, options, ctx)) {
    const done = grouper.push(row);
    if (done) yield done;
  }
  const last = grouper.finish();
  if (last) yield last;
}

function collectWarnings(options: { onWarning?: (w: FormatWarning) => void }, warnings: FormatWarning[]) {
  const outer = options.onWarning;
  return (w: FormatWarning) => {
    warnings.push(w);
    outer?.(w);
  };
}

/** Whole-file CSV parse (small files, tests). Use iterateCsv for big exports. */
export async function parseCsv(input: FormatInput, options: CsvOptions = {}): Promise<ParsedDocument> {
  const file = inputName(input, options);
  const warnings: FormatWarning[] = [];
  const roots: RecordNode[] = [];
  const state: DecodeState = { encoding: 'utf-8' };
  const opts: CsvOptions = { ...options, file, onWarning: collectWarnings(options, warnings) };
  const grouper = new Grouper({
    file,
    recordType: opts.recordType !== undefined,
    ...(opts.groupBy !== undefined ? { groupBy: opts.groupBy } : {}),
    ...(opts.maxGroupRows !== undefined ? { maxGroupRows: opts.maxGroupRows } : {}),
    onWarning: opts.onWarning!,
  });
  for await (const row of csvRows(input, opts, { file, state })) {
    const done = grouper.push(row);
    if (done) roots.push(done);
  }
  const last = grouper.finish();
  if (last) roots.push(last);
  return { format: 'csv', file, encoding: state.encoding, roots, warnings };
}

/**
 * Two files: invoice headers and invoice lines, joined by key. The header file is read into memory
 * (it is small: one record per invoice); the lines file is streamed and must hold each invoice's lines
 * together. Each yielded root "invoice" has one child "header" followed by its "line" children, in
 * lines-file order; headers without lines come last (with a warning).
 */
export async function* iterateCsvPair(headers: FormatInput, lines: FormatInput, options: CsvPairOptions): AsyncGenerator<RecordNode> {
  const { lines: lineOverrides, headerFile, linesFile, headerKey, lineKey, ...common } = options;
  const hFile = inputName(headers, { ...(headerFile !== undefined ? { file: headerFile } : {}) });
  const lFile = inputName(lines, { ...(linesFile !== undefined ? { file: linesFile } : lineOverrides?.file !== undefined ? { file: lineOverrides.file } : {}) });
  const byKey = new Map<string, { node: RecordNode; used: boolean }>();
  const hOpts: CsvOptions = { ...common, file: hFile, groupBy: headerKey };
  for await (const row of csvRows(headers, hOpts, { file: hFile, state: { encoding: 'utf-8' } })) {
    const key = row.key;
    if (key === undefined || key === '') {
      throw formatError('FORMAT_GROUP_KEY_MISSING', `header record has no value in the key column "${headerKey}"`, row.node.pos, { field: headerKey });
    }
    const prev = byKey.get(key);
    if (prev) {
      throw formatError('FORMAT_CSV_DUPLICATE_KEY', `invoice key "${key}" appears twice in the header file (first at line ${prev.node.pos.line})`, row.node.pos, { field: headerKey, value: key });
    }
    row.node.name = 'header';
    byKey.set(key, { node: row.node, used: false });
  }
  const lKey = lineKey ?? headerKey;
  const lOpts: CsvOptions = { ...common, ...(lineOverrides ?? {}), file: lFile, groupBy: lKey };
  const grouper = new Grouper({ file: lFile, groupBy: lKey, recordType: false, ...(common.maxGroupRows !== undefined ? { maxGroupRows: common.maxGroupRows } : {}) });
  const attach = (group: RecordNode): RecordNode => {
    const key = group.fields['#key']!.value;
    const h = byKey.get(key);
    if (!h) {
      throw formatError('FORMAT_CSV_JOIN_ORPHAN_LINES', `lines for invoice "${key}" have no header record in ${hFile}`, group.pos, { field: lKey, value: key });
    }
    h.used = true;
    for (const c of group.children) c.name = 'line';
    return { name: 'invoice', fields: { '#key': group.fields['#key']! }, children: [h.node, ...group.children], pos: h.node.pos };
  };
  for await (const row of csvRows(lines, lOpts, { file: lFile, state: { encoding: 'utf-8' } })) {
    const done = grouper.push(row);
    if (done) yield attach(done);
  }
  const last = grouper.finish();
  if (last) yield attach(last);
  for (const [key, h] of byKey) {
    if (h.used) continue;
    options.onWarning?.({ code: 'FORMAT_CSV_JOIN_NO_LINES', message: `invoice "${key}" has no lines in ${lFile}`, pos: h.node.pos });
    yield { name: 'invoice', fields: { '#key': h.node.fields[headerKey] ?? { value: key, pos: h.node.pos } }, children: [h.node], pos: h.node.pos };
  }
}

/** Whole-file variant of iterateCsvPair. */
export async function parseCsvPair(headers: FormatInput, lines: FormatInput, options: CsvPairOptions): Promise<ParsedDocument> {
  const warnings: FormatWarning[] = [];
  const roots: RecordNode[] = [];
  const opts: CsvPairOptions = { ...options, onWarning: collectWarnings(options, warnings) };
  for await (const r of iterateCsvPair(headers, lines, opts)) roots.push(r);
  return { format: 'csv', file: inputName(headers, { ...(options.headerFile !== undefined ? { file: options.headerFile } : {}) }), roots, warnings };
}
