/**
 * SAP IDoc flat files (file port): control record EDI_DC40 (524 characters) followed by data records
 * (1063 characters: 63 administrative + 1000 segment data), one record per line (LF or CRLF).
 * Records shortened by a transport that trims trailing spaces are padded; a record longer than its
 * length is an error. The hierarchy is rebuilt from PSGNUM (parent segment number), falling back to
 * HLEVEL when PSGNUM is blank. Streams one IDoc at a time.
 */
import { newFields } from '../lines.js';
import { formatError } from '../errors.js';
import { readLines, inputName, type DecodeState } from '../text.js';
import type { FormatInput, FormatWarning, IdocOptions, ParsedDocument, RecordNode, SourcePos } from '../types.js';
import {
  ADMIN_LENGTH,
  CONTROL_FIELDS,
  CONTROL_RECORD_LENGTH,
  DATA_RECORD_LENGTH,
  builtinRegistry,
  segmentRegistry,
  segmentType,
  type SegmentRegistry,
} from './definitions.js';

interface OpenIdoc {
  root: RecordNode;
  docnum: string;
  bySegnum: Map<number, RecordNode>;
  /** hierarchy stack for the HLEVEL fallback: [level, node] */
  stack: Array<[number, RecordNode]>;
  siblingCounts: Map<RecordNode, Map<string, number>>;
  docnumWarned: boolean;
}

/** JavaScript's String.prototype.trim whitespace (WhiteSpace and LineTerminator). */
function isTrimmed(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 160) return false;
  return c === 160 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** `text.substr(start, length).trim()` without the intermediate string (most SDATA fields are blank). */
export function trimmedField(text: string, start: number, length: number): string {
  let end = start + length;
  if (end > text.length) end = text.length;
  while (start < end && isTrimmed(text.charCodeAt(start))) start++;
  while (end > start && isTrimmed(text.charCodeAt(end - 1))) end--;
  return start === end ? '' : text.substring(start, end);
}

/** A run of ASCII digits with optional spaces around it, as a number: -1 when blank, -2 otherwise. */
function digitsField(text: string, start: number, length: number): number {
  const end = start + length;
  let i = start;
  while (i < end && text.charCodeAt(i) === 32) i++;
  if (i === end) return -1;
  let v = 0;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  while (i < end && text.charCodeAt(i) === 32) i++;
  return i === end ? v : -2;
}

export function controlNode(text: string, file: string, line: number | undefined, extraPos: Partial<SourcePos> = {}): RecordNode {
  const docnum = trimmedField(text, 33, 16);
  const pos: SourcePos = { file, ...(line !== undefined ? { line } : {}), segment: 'EDI_DC40', ...(docnum ? { idoc: docnum } : {}), ...extraPos };
  const plain = line !== undefined && Object.keys(extraPos).length === 0;
  const fields: RecordNode['fields'] = newFields();
  for (const f of CONTROL_FIELDS) {
    const value = trimmedField(text, f.offset, f.length);
    if (value === '') continue;
    // the same keys in the same order as { ...pos, column, offset, length }, without the spread
    fields[f.name] = {
      value,
      pos: !plain
        ? { ...pos, column: f.offset + 1, offset: f.offset, length: f.length }
        : docnum
          ? { file, line, segment: 'EDI_DC40', idoc: docnum, column: f.offset + 1, offset: f.offset, length: f.length }
          : { file, line, segment: 'EDI_DC40', column: f.offset + 1, offset: f.offset, length: f.length },
    };
  }
  return { name: 'EDI_DC40', fields, children: [], pos };
}

export function nextSegmentIndex(counts: Map<RecordNode, Map<string, number>>, parent: RecordNode, type: string): number {
  let m = counts.get(parent);
  if (!m) counts.set(parent, (m = new Map()));
  const n = (m.get(type) ?? 0) + 1;
  m.set(type, n);
  return n;
}

class FlatReader {
  private current: OpenIdoc | undefined;
  private readonly warnedUnknown = new Set<string>();

  constructor(
    private readonly file: string,
    private readonly reg: SegmentRegistry,
    private readonly opts: IdocOptions,
    private readonly warn: (w: FormatWarning) => void,
  ) {}

  /** Feed one line; returns a finished IDoc when a new control record starts. */
  line(text: string, line: number): RecordNode | undefined {
    const file = this.file;
    if (text.length === 0 || (isTrimmed(text.charCodeAt(0)) && text.trim() === '')) return undefined;
    if (text.startsWith('EDI_DC')) {
      if (text.length > CONTROL_RECORD_LENGTH) {
        throw formatError('FORMAT_IDOC_RECORD_LENGTH', `control record has ${text.length} characters, expected ${CONTROL_RECORD_LENGTH}`, { file, line, segment: 'EDI_DC40' }, {
          hint: 'the file is not a SAP file-port IDoc of record type EDI_DC40/EDI_DD40, or records are not separated by line breaks (check the encoding: lengths count characters)',
          details: { length: text.length, expected: CONTROL_RECORD_LENGTH },
        });
      }
      if (text.length < CONTROL_RECORD_LENGTH && !this.opts.tolerateShortControlRecord) {
        throw formatError('FORMAT_IDOC_CONTROL_RECORD_LENGTH', `control record has ${text.length} characters, expected ${CONTROL_RECORD_LENGTH} (truncated?)`, { file, line, segment: 'EDI_DC40' }, {
          hint: 'if the transport trims trailing spaces, set tolerateShortControlRecord: true',
          details: { length: text.length, expected: CONTROL_RECORD_LENGTH },
        });
      }
      const done = this.finish();
      const control = controlNode(text, file, line);
      const docnum = control.fields.DOCNUM!.value;
      this.current = {
        root: { name: 'IDOC', fields: newFields(), children: [control], pos: { file, line, ...(docnum ? { idoc: docnum } : {}) } },
        docnum,
        bySegnum: new Map(),
        stack: [],
        siblingCounts: new Map(),
        docnumWarned: false,
      };
      return done;
    }
    const cur = this.current;
    if (!cur) {
      throw formatError('FORMAT_IDOC_MISSING_CONTROL_RECORD', 'data record before any control record (EDI_DC40)', { file, line }, {
        hint: 'an IDoc flat file starts with the control record EDI_DC40; the file may be cut at the start, or not an IDoc',
        value: text.slice(0, 30).trim(),
      });
    }
    if (text.length > DATA_RECORD_LENGTH) {
      throw formatError('FORMAT_IDOC_RECORD_LENGTH', `data record has ${text.length} characters, expected at most ${DATA_RECORD_LENGTH}`, { file, line, segment: text.slice(0, 30).trim(), idoc: cur.docnum }, {
        hint: 'records must be separated by line breaks; check the encoding option (lengths count characters, not bytes)',
        details: { length: text.length, expected: DATA_RECORD_LENGTH },
      });
    }
    const segnam = trimmedField(text, 0, 30);
    if (text.length < ADMIN_LENGTH || segnam === '') {
      throw formatError('FORMAT_IDOC_RECORD_LENGTH', `data record has only ${text.length} characters: too short for the 63-character administrative part`, { file, line, idoc: cur.docnum }, {
        details: { length: text.length, expected: DATA_RECORD_LENGTH },
      });
    }
    // the usual case (digits padded with spaces) without strings; anything else the general way
    let segnum = digitsField(text, 49, 6);
    let psgnum = digitsField(text, 55, 6);
    let hlevel = digitsField(text, 61, 2);
    if (segnum < 0 || psgnum === -2 || hlevel === -2) {
      const segnumText = text.substr(49, 6).trim();
      const psgnumText = text.substr(55, 6).trim();
      const hlevelText = text.substr(61, 2).trim();
      if (!/^\d+$/.test(segnumText) || (psgnumText !== '' && !/^\d+$/.test(psgnumText)) || (hlevelText !== '' && !/^\d+$/.test(hlevelText))) {
        throw formatError('FORMAT_IDOC_RECORD', `data record ${segnam} has an invalid administrative part (SEGNUM "${segnumText}", PSGNUM "${psgnumText}", HLEVEL "${hlevelText}")`, { file, line, segment: segnam, idoc: cur.docnum }, {
          hint: 'SEGNUM, PSGNUM and HLEVEL must be digits at characters 50-63; the file may not be an IDoc flat file',
        });
      }
      segnum = Number(segnumText);
      psgnum = psgnumText === '' ? 0 : Number(psgnumText);
      hlevel = hlevelText === '' ? 0 : Number(hlevelText);
    }
    if (psgnum < 0) psgnum = 0;
    if (hlevel < 0) hlevel = 0;
    if (!cur.docnumWarned) {
      const docnum = trimmedField(text, 33, 16);
      if (docnum !== '' && docnum !== cur.docnum) {
        cur.docnumWarned = true;
        this.warn({ code: 'FORMAT_IDOC_DOCNUM_MISMATCH', message: `data record has DOCNUM ${docnum} but the control record has ${cur.docnum}`, pos: { file, line, segment: segnam, idoc: cur.docnum } });
      }
    }
    let parent: RecordNode;
    if (psgnum > 0) {
      const p = cur.bySegnum.get(psgnum);
      if (!p) {
        throw formatError('FORMAT_IDOC_PARENT_MISSING', `segment ${segnam} (SEGNUM ${text.substr(49, 6).trim()}) names parent segment ${text.substr(55, 6).trim()}, which does not come before it`, { file, line, segment: segnam, idoc: cur.docnum });
      }
      parent = p;
    } else if (hlevel > 0) {
      while (cur.stack.length > 0 && cur.stack[cur.stack.length - 1]![0] >= hlevel) cur.stack.pop();
      parent = cur.stack.length > 0 ? cur.stack[cur.stack.length - 1]![1] : cur.root;
    } else {
      parent = cur.root;
    }
    const { type, known } = segmentType(segnam, this.reg);
    const segmentIndex = nextSegmentIndex(cur.siblingCounts, parent, type);
    const pos: SourcePos = { file, line, segment: type, segmentIndex, segmentNumber: segnum, idoc: cur.docnum };
    const node: RecordNode = { name: type, fields: newFields(), children: [], pos };
    if (segnam !== type) node.rawName = segnam;
    const def = known ? this.reg.get(type) : undefined;
    if (def) {
      // Blank fields are left out, as SAP leaves them out of IDoc-XML: both forms give the same tree.
      const len = text.length;
      for (const f of def.fields) {
        const start = ADMIN_LENGTH + f.offset;
        if (start >= len) continue;
        const value = trimmedField(text, start, f.length);
        if (value === '') continue;
        node.fields[f.name] = {
          value,
          pos: { file, line, column: start + 1, segment: type, segmentIndex, segmentNumber: segnum, idoc: cur.docnum, offset: f.offset, length: f.length },
        };
      }
    } else {
      node.unknown = true;
      node.fields.SDATA = { value: text.slice(ADMIN_LENGTH).trimEnd(), pos: { ...pos, column: ADMIN_LENGTH + 1, offset: 0, length: 1000 } };
      if (!this.warnedUnknown.has(segnam)) {
        this.warnedUnknown.add(segnam);
        this.warn({ code: 'FORMAT_IDOC_UNKNOWN_SEGMENT', message: `segment ${segnam} has no definition; its data is kept as the single field SDATA`, pos });
      }
    }
    parent.children.push(node);
    cur.bySegnum.set(segnum, node);
    if (hlevel > 0) {
      while (cur.stack.length > 0 && cur.stack[cur.stack.length - 1]![0] >= hlevel) cur.stack.pop();
      cur.stack.push([hlevel, node]);
    }
    return undefined;
  }

  finish(): RecordNode | undefined {
    const done = this.current?.root;
    this.current = undefined;
    return done;
  }
}

/** IDocs of a flat file, one at a time (flat memory for files with many IDocs). */
export async function* iterateIdocFlat(input: FormatInput, options: IdocOptions = {}): AsyncGenerator<RecordNode> {
  yield* iterate(input, options, { encoding: 'utf-8' }, (w) => options.onWarning?.(w));
}

async function* iterate(input: FormatInput, options: IdocOptions, state: DecodeState, warn: (w: FormatWarning) => void): AsyncGenerator<RecordNode> {
  const file = inputName(input, options);
  const reg = options.segments && options.segments.length > 0 ? segmentRegistry(options.segments) : builtinRegistry();
  const reader = new FlatReader(file, reg, options, warn);
  let any = false;
  for await (const batch of readLines(input, { ...options, file, maxLineChars: 64 * 1024 }, state)) {
    for (let i = 0; i < batch.lines.length; i++) {
      const done = reader.line(batch.lines[i]!, batch.firstLine + i);
      if (done) {
        any = true;
        yield done;
      }
    }
  }
  const last = reader.finish();
  if (last) {
    any = true;
    yield last;
  }
  if (!any) {
    throw formatError('FORMAT_IDOC_EMPTY', 'file holds no IDoc (no control record EDI_DC40)', { file }, { hint: 'check that the right file was picked up' });
  }
}

/** Whole-file parse of an IDoc flat file: one root "IDOC" per IDoc. */
export async function parseIdocFlat(input: FormatInput, options: IdocOptions = {}): Promise<ParsedDocument> {
  const file = inputName(input, options);
  const warnings: FormatWarning[] = [];
  const state: DecodeState = { encoding: 'utf-8' };
  const roots: RecordNode[] = [];
  for await (const r of iterate(input, options, state, (w) => (warnings.push(w), options.onWarning?.(w)))) roots.push(r);
  return { format: 'idoc-flat', file, encoding: state.encoding, roots, warnings };
}
