/** IDoc record layouts: the control record EDI_DC40, the data record frame, and segment definitions. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { formatError } from '../errors.js';
import type { SegmentDefinition, SegmentFieldDefinition } from '../types.js';
import { BUILTIN_SEGMENTS } from './builtin.js';

export const CONTROL_RECORD_LENGTH = 524;
export const DATA_RECORD_LENGTH = 1063;
export const ADMIN_LENGTH = 63;
export const SDATA_LENGTH = 1000;

/** EDI_DC40, the control record of IDoc record types 4.x (524 characters). */
export const CONTROL_FIELDS: readonly SegmentFieldDefinition[] = (() => {
  const spec: Array<[string, number]> = [
    ['TABNAM', 10], ['MANDT', 3], ['DOCNUM', 16], ['DOCREL', 4], ['STATUS', 2], ['DIRECT', 1], ['OUTMOD', 1], ['EXPRSS', 1],
    ['TEST', 1], ['IDOCTYP', 30], ['CIMTYP', 30], ['MESTYP', 30], ['MESCOD', 3], ['MESFCT', 3], ['STD', 1], ['STDVRS', 6],
    ['STDMES', 6], ['SNDPOR', 10], ['SNDPRT', 2], ['SNDPFC', 2], ['SNDPRN', 10], ['SNDSAD', 21], ['SNDLAD', 70], ['RCVPOR', 10],
    ['RCVPRT', 2], ['RCVPFC', 2], ['RCVPRN', 10], ['RCVSAD', 21], ['RCVLAD', 70], ['CREDAT', 8], ['CRETIM', 6], ['REFINT', 14],
    ['REFGRP', 14], ['REFMES', 14], ['ARCKEY', 70], ['SERIAL', 20],
  ];
  let offset = 0;
  return spec.map(([name, length]) => {
    const f = { name, offset, length };
    offset += length;
    return f;
  });
})();

/** The administrative part of a data record (EDI_DD40). */
export const ADMIN_FIELDS = {
  SEGNAM: [0, 30],
  MANDT: [30, 3],
  DOCNUM: [33, 16],
  SEGNUM: [49, 6],
  PSGNUM: [55, 6],
  HLEVEL: [61, 2],
} as const;

export type SegmentRegistry = ReadonlyMap<string, SegmentDefinition>;

function checkDefinition(def: SegmentDefinition, where: string): SegmentDefinition {
  if (!def || typeof def.segment !== 'string' || !/^[A-Z0-9_/]{1,30}$/.test(def.segment) || !Array.isArray(def.fields)) {
    throw formatError('FORMAT_IDOC_SEGMENT_DEFINITION', 'a segment definition needs "segment" (the segment type, up to 30 characters) and "fields"', { file: where });
  }
  const names = new Set<string>();
  for (const f of def.fields) {
    if (!f || typeof f.name !== 'string' || !Number.isInteger(f.offset) || !Number.isInteger(f.length) || f.offset < 0 || f.length < 1 || f.offset + f.length > SDATA_LENGTH) {
      throw formatError('FORMAT_IDOC_SEGMENT_DEFINITION', `field ${JSON.stringify(f?.name)} of segment ${def.segment} needs a name, an offset >= 0 and a length >= 1 inside the 1000 characters of segment data`, { file: where }, {
        field: String(f?.name),
      });
    }
    if (names.has(f.name)) throw formatError('FORMAT_IDOC_SEGMENT_DEFINITION', `field ${f.name} appears twice in segment ${def.segment}`, { file: where }, { field: f.name });
    names.add(f.name);
  }
  return def;
}

/** Built-in definitions plus the given ones (later ones override earlier ones of the same type). */
export function segmentRegistry(extra: readonly SegmentDefinition[] = []): SegmentRegistry {
  const m = new Map<string, SegmentDefinition>();
  for (const d of BUILTIN_SEGMENTS) m.set(d.segment, d);
  for (const d of extra) m.set(d.segment, checkDefinition(d, `segment definition ${d?.segment ?? '?'}`));
  return m;
}

let defaultRegistry: SegmentRegistry | undefined;
export function builtinRegistry(): SegmentRegistry {
  return (defaultRegistry ??= segmentRegistry());
}

/** The built-in segment definitions (a copy). */
export function builtinSegmentDefinitions(): SegmentDefinition[] {
  return BUILTIN_SEGMENTS.map((d) => ({ ...d, fields: d.fields.map((f) => ({ ...f })) }));
}

/** Load segment definitions (customer extensions) from .json/.yaml/.yml files, one segment per file. */
export async function loadSegmentDefinitions(dir: string): Promise<SegmentDefinition[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.(json|ya?ml)$/i.test(n)).sort();
  } catch (e) {
    throw formatError('FORMAT_READ_FAILED', `cannot read segment definitions: ${e instanceof Error ? e.message : String(e)}`, { file: dir }, { cause: e });
  }
  const out: SegmentDefinition[] = [];
  for (const n of names) {
    const path = join(dir, n);
    const text = await readFile(path, 'utf8');
    let data: unknown;
    try {
      data = /\.json$/i.test(n) ? JSON.parse(text) : parseYaml(text);
    } catch (e) {
      throw formatError('FORMAT_IDOC_SEGMENT_DEFINITION', `segment definition is not valid ${/\.json$/i.test(n) ? 'JSON' : 'YAML'}: ${e instanceof Error ? e.message : String(e)}`, { file: path }, { cause: e });
    }
    out.push(checkDefinition(data as SegmentDefinition, path));
  }
  return out;
}

/**
 * The segment type of a segment name: E1EDK01 stays; the release-specific definition name E2EDK01005
 * (E2 + type stem + 3-digit version) becomes E1EDK01; customer Z2... definitions become Z1...
 */
export function segmentType(raw: string, reg: SegmentRegistry): { type: string; known: boolean } {
  if (reg.has(raw)) return { type: raw, known: true };
  const m = /^([EZ])2(.+)$/.exec(raw);
  if (m) {
    const stem = m[2]!;
    const plain = `${m[1]}1${stem}`;
    if (reg.has(plain)) return { type: plain, known: true };
    if (/\d{3}$/.test(stem) && stem.length > 3) {
      const base = `${m[1]}1${stem.slice(0, -3)}`;
      return { type: base, known: reg.has(base) };
    }
    return { type: plain, known: false };
  }
  return { type: raw, known: false };
}
