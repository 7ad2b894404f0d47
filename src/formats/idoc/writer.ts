/**
 * IDoc writers: flat file (SAP file port layout) and IDoc-XML, from a segment list. Used by tests
 * (property-style round trips) and by tools that produce sample IDocs.
 */
import { formatError } from '../errors.js';
import type { SegmentDefinition } from '../types.js';
import { ADMIN_LENGTH, CONTROL_FIELDS, CONTROL_RECORD_LENGTH, DATA_RECORD_LENGTH, builtinRegistry, segmentRegistry, segmentType } from './definitions.js';

export interface IdocSegmentSpec {
  /** Segment name as written (E1EDK01, or a definition name E2EDK01005, or a customer Z1...). */
  name: string;
  /** Field values by SAP field name (must be defined for the segment type). */
  fields?: Record<string, string>;
  /** Raw segment data for segments without a definition (up to 1000 characters). */
  sdata?: string;
  children?: IdocSegmentSpec[];
}

export interface IdocSpec {
  /** Control record fields (EDI_DC40); DOCNUM is required. Defaults: TABNAM EDI_DC40, DIRECT 1,
   *  IDOCTYP INVOIC02, MESTYP INVOIC. */
  control: Record<string, string>;
  segments: IdocSegmentSpec[];
}

export interface IdocWriteOptions {
  segments?: SegmentDefinition[];
  /** Line separator, default "\n". */
  lineEnding?: '\n' | '\r\n';
  /** Trim trailing spaces of data records, as some transports do (default false). */
  trimTrailingSpaces?: boolean;
  /** Client (MANDT) for data records when the control record has none (default "100"). */
  mandt?: string;
}

function put(buf: string[], offset: number, length: number, value: string, what: string): void {
  if (value.length > length) {
    throw formatError('FORMAT_IDOC_WRITE', `${what}: value "${value}" is longer than ${length} characters`, { file: '<writer>' }, { value, field: what });
  }
  for (let i = 0; i < value.length; i++) buf[offset + i] = value[i]!;
}

function controlRecord(control: Record<string, string>, mandt: string): string {
  const buf = new Array<string>(CONTROL_RECORD_LENGTH).fill(' ');
  const values: Record<string, string> = { TABNAM: 'EDI_DC40', MANDT: mandt, DIRECT: '1', IDOCTYP: 'INVOIC02', MESTYP: 'INVOIC', ...control };
  for (const [k, v] of Object.entries(values)) {
    const f = CONTROL_FIELDS.find((x) => x.name === k);
    if (!f) throw formatError('FORMAT_IDOC_WRITE', `EDI_DC40 has no field ${k}`, { file: '<writer>' }, { field: k });
    put(buf, f.offset, f.length, v, `EDI_DC40-${k}`);
  }
  return buf.join('');
}

/** Write IDocs as a flat file (control record 524 characters, data records 1063 characters). */
export function writeIdocFlat(idocs: IdocSpec[], options: IdocWriteOptions = {}): string {
  const reg = options.segments ? segmentRegistry(options.segments) : builtinRegistry();
  const eol = options.lineEnding ?? '\n';
  const out: string[] = [];
  for (const idoc of idocs) {
    const docnum = idoc.control.DOCNUM;
    if (!docnum) throw formatError('FORMAT_IDOC_WRITE', 'control record needs DOCNUM', { file: '<writer>' }, { field: 'DOCNUM' });
    const mandt = idoc.control.MANDT ?? options.mandt ?? '100';
    out.push(controlRecord(idoc.control, mandt));
    let segnum = 0;
    const walk = (segs: IdocSegmentSpec[], parent: number, level: number) => {
      for (const s of segs) {
        segnum++;
        const mine = segnum;
        const buf = new Array<string>(DATA_RECORD_LENGTH).fill(' ');
        put(buf, 0, 30, s.name, 'SEGNAM');
        put(buf, 30, 3, mandt, 'MANDT');
        put(buf, 33, 16, docnum.padStart(16, '0'), 'DOCNUM');
        put(buf, 49, 6, String(mine).padStart(6, '0'), 'SEGNUM');
        put(buf, 55, 6, String(parent).padStart(6, '0'), 'PSGNUM');
        put(buf, 61, 2, String(level).padStart(2, '0'), 'HLEVEL');
        const def = reg.get(segmentType(s.name, reg).type);
        if (s.sdata !== undefined) put(buf, ADMIN_LENGTH, 1000, s.sdata, `${s.name} SDATA`);
        for (const [k, v] of Object.entries(s.fields ?? {})) {
          const f = def?.fields.find((x) => x.name === k);
          if (!f) throw formatError('FORMAT_IDOC_WRITE', `segment ${s.name} has no field ${k}${def ? '' : ' (no definition for this segment; use sdata)'}`, { file: '<writer>' }, { field: k });
          put(buf, ADMIN_LENGTH + f.offset, f.length, v, `${s.name}-${k}`);
        }
        let rec = buf.join('');
        if (options.trimTrailingSpaces) rec = rec.trimEnd();
        out.push(rec);
        if (s.children) walk(s.children, mine, level + 1);
      }
    };
    walk(idoc.segments, 0, 2);
  }
  return out.join(eol) + eol;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Write IDocs as IDoc-XML with the given document element name (default INVOIC02). */
export function writeIdocXml(idocs: IdocSpec[], options: { root?: string } = {}): string {
  const root = options.root ?? 'INVOIC02';
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>', `<${root}>`];
  for (const idoc of idocs) {
    out.push('  <IDOC BEGIN="1">');
    out.push('    <EDI_DC40 SEGMENT="1">');
    const control: Record<string, string> = { TABNAM: 'EDI_DC40', DIRECT: '1', IDOCTYP: 'INVOIC02', MESTYP: 'INVOIC', ...idoc.control };
    for (const f of CONTROL_FIELDS) {
      const v = control[f.name];
      if (v !== undefined && v !== '') out.push(`      <${f.name}>${esc(v)}</${f.name}>`);
    }
    out.push('    </EDI_DC40>');
    const walk = (segs: IdocSegmentSpec[], indent: string) => {
      for (const s of segs) {
        out.push(`${indent}<${s.name} SEGMENT="1">`);
        for (const [k, v] of Object.entries(s.fields ?? {})) if (v !== '') out.push(`${indent}  <${k}>${esc(v)}</${k}>`);
        if (s.children) walk(s.children, `${indent}  `);
        out.push(`${indent}</${s.name}>`);
      }
    };
    walk(idoc.segments, '    ');
    out.push('  </IDOC>');
  }
  out.push(`</${root}>`);
  return out.join('\n') + '\n';
}
