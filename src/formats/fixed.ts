/** Fixed-width text records (older ERPs): field positions from the options, streaming by invoice group. */
import { newFields } from './lines.js';
import { formatError } from './errors.js';
import { Grouper, type Row, type RowKind } from './group.js';
import { readLines, inputName, type DecodeState } from './text.js';
import type { FixedField, FixedWidthOptions, FormatInput, FormatWarning, ParsedDocument, RecordNode } from './types.js';

function checkLayout(fields: FixedField[], file: string, label: string): void {
  for (const f of fields) {
    if (!Number.isInteger(f.start) || f.start < 1 || !Number.isInteger(f.length) || f.length < 1) {
      throw formatError('FORMAT_FIXED_LAYOUT', `field "${f.name}" of ${label} needs a start >= 1 and a length >= 1 (got start ${f.start}, length ${f.length})`, { file }, { field: f.name });
    }
  }
}

async function* fixedRows(input: FormatInput, opts: FixedWidthOptions, file: string, state: DecodeState): AsyncGenerator<Row> {
  const rt = opts.recordType;
  if (!opts.fields && !opts.layouts) {
    throw formatError('FORMAT_FIXED_LAYOUT', 'fixed-width format needs `fields` or `layouts`', { file });
  }
  if (opts.fields) checkLayout(opts.fields, file, 'the record layout');
  for (const [t, l] of Object.entries(opts.layouts ?? {})) checkLayout(l, file, `record type "${t}"`);
  const trim = opts.trim !== false;
  const skip = opts.skipLines ?? 0;
  const skipEmpty = opts.skipEmptyLines !== false;
  for await (const batch of readLines(input, { ...opts, file }, state)) {
    for (let i = 0; i < batch.lines.length; i++) {
      const line = batch.firstLine + i;
      if (line <= skip) continue;
      const text = batch.lines[i]!;
      if (skipEmpty && text.trim() === '') continue;
      let kind: RowKind = 'row';
      let name = 'row';
      let layout = opts.fields;
      if (rt) {
        const t = text.substr(rt.start - 1, rt.length).trim();
        if (rt.header.includes(t)) (kind = 'header'), (name = 'header');
        else if (rt.line.includes(t)) (kind = 'line'), (name = 'line');
        else (kind = 'other'), (name = t === '' ? 'record' : t);
        layout = (opts.layouts && Object.hasOwn(opts.layouts, t) ? opts.layouts[t] : undefined) ?? opts.fields;
        if (!layout) {
          throw formatError('FORMAT_FIXED_UNKNOWN_RECORD_TYPE', `record type "${t}" has no layout`, { file, line, column: rt.start }, {
            value: t,
            allowed: Object.keys(opts.layouts ?? {}).join(', '),
            hint: 'add a layout for this record type, or a default `fields` layout',
          });
        }
      }
      const fields: RecordNode['fields'] = newFields();
      for (const f of layout!) {
        const raw = text.substr(f.start - 1, f.length);
        fields[f.name] = { value: trim ? raw.trim() : raw, pos: { file, line, column: f.start, offset: f.start - 1, length: f.length } };
      }
      const node: RecordNode = { name, fields, children: [], pos: { file, line } };
      const row: Row = { node, kind };
      if (opts.groupBy !== undefined) {
        const k = fields[opts.groupBy];
        if (!k && (kind === 'row' || kind === 'header')) {
          throw formatError('FORMAT_FIXED_LAYOUT', `grouping field "${opts.groupBy}" is not in the layout`, { file, line }, { field: opts.groupBy });
        }
        if (k) row.key = k.value;
      }
      yield row;
    }
  }
}

export async function* iterateFixedWidth(input: FormatInput, options: FixedWidthOptions): AsyncGenerator<RecordNode> {
  const file = inputName(input, options);
  const grouper = new Grouper({
    file,
    recordType: options.recordType !== undefined,
    ...(options.groupBy !== undefined ? { groupBy: options.groupBy } : {}),
    ...(options.maxGroupRows !== undefined ? { maxGroupRows: options.maxGroupRows } : {}),
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
  });
  for await (const row of fixedRows(input, options, file, { encoding: 'utf-8' })) {
    const done = grouper.push(row);
    if (done) yield done;
  }
  const last = grouper.finish();
  if (last) yield last;
}

export async function parseFixedWidth(input: FormatInput, options: FixedWidthOptions): Promise<ParsedDocument> {
  const file = inputName(input, options);
  const warnings: FormatWarning[] = [];
  const state: DecodeState = { encoding: 'utf-8' };
  const onWarning = (w: FormatWarning) => {
    warnings.push(w);
    options.onWarning?.(w);
  };
  const grouper = new Grouper({
    file,
    recordType: options.recordType !== undefined,
    ...(options.groupBy !== undefined ? { groupBy: options.groupBy } : {}),
    ...(options.maxGroupRows !== undefined ? { maxGroupRows: options.maxGroupRows } : {}),
    onWarning,
  });
  const roots: RecordNode[] = [];
  for await (const row of fixedRows(input, { ...options, onWarning }, file, state)) {
    const done = grouper.push(row);
    if (done) roots.push(done);
  }
  const last = grouper.finish();
  if (last) roots.push(last);
  return { format: 'fixed', file, encoding: state.encoding, roots, warnings };
}
