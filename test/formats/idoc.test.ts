import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MappingError } from '../../src/errors/index.js';
import {
  ADMIN_LENGTH,
  CONTROL_FIELDS,
  CONTROL_RECORD_LENGTH,
  DATA_RECORD_LENGTH,
  builtinSegmentDefinitions,
  iterateIdocFlat,
  loadSegmentDefinitions,
  parseDocument,
  parseIdocFlat,
  parseIdocXml,
  parseSapNumber,
  selectFields,
  selectNodes,
  writeIdocFlat,
  writeIdocXml,
  type IdocSegmentSpec,
  type IdocSpec,
  type RecordNode,
} from '../../src/formats/index.js';

const fixtures = new URL('./fixtures/', import.meta.url).pathname;
const fx = (name: string) => ({ path: join(fixtures, name) });
const tmp = mkdtempSync(join(tmpdir(), 'ksef-idoc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function expectError(p: Promise<unknown>, code: string): Promise<MappingError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MappingError);
    expect((e as MappingError).code).toBe(code);
    return e as MappingError;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

const REQUIRED = ['E1EDK01', 'E1EDKA1', 'E1EDK02', 'E1EDK03', 'E1EDK04', 'E1EDK05', 'E1EDK17', 'E1EDK18', 'E1EDK28', 'E1EDKT1', 'E1EDKT2', 'E1EDP01', 'E1EDP02', 'E1EDP03', 'E1EDP19', 'E1EDP26', 'E1EDP04', 'E1EDP05', 'E1EDPT1', 'E1EDPT2', 'E1EDS01'];

describe('segment definitions (data in src/formats/idoc/segments)', () => {
  const defs = builtinSegmentDefinitions();

  it('cover the INVOIC02 segments, one JSON file per segment type', () => {
    expect(defs.map((d) => d.segment).sort()).toEqual([...REQUIRED].sort());
    const files = readdirSync(new URL('../../src/formats/idoc/segments/', import.meta.url).pathname).sort();
    expect(files).toEqual(REQUIRED.map((s) => `${s}.json`).sort());
  });

  it.each(REQUIRED)('%s has contiguous fields inside the 1000 characters of SDATA', (name) => {
    const d = defs.find((x) => x.segment === name)!;
    let offset = 0;
    const names = new Set<string>();
    for (const f of d.fields) {
      expect(f.offset).toBe(offset);
      expect(f.length).toBeGreaterThan(0);
      expect(names.has(f.name)).toBe(false);
      names.add(f.name);
      offset += f.length;
    }
    expect(offset).toBeLessThanOrEqual(1000);
  });

  it('know the key fields and lengths used by mappings', () => {
    const field = (s: string, f: string) => defs.find((d) => d.segment === s)!.fields.find((x) => x.name === f)!;
    expect(field('E1EDKA1', 'PARVW')).toMatchObject({ offset: 0, length: 3 });
    expect(field('E1EDKA1', 'NAME1')).toMatchObject({ offset: 37, length: 35 });
    expect(field('E1EDK01', 'BELNR')).toMatchObject({ offset: 83, length: 35 });
    expect(field('E1EDK02', 'DATUM')).toMatchObject({ offset: 44, length: 8 });
    expect(field('E1EDP01', 'MENGE')).toMatchObject({ offset: 11, length: 15 });
    expect(field('E1EDS01', 'SUMME')).toMatchObject({ offset: 3, length: 18 });
  });

  it('has a 524-character control record layout', () => {
    const last = CONTROL_FIELDS[CONTROL_FIELDS.length - 1]!;
    expect(last.offset + last.length).toBe(CONTROL_RECORD_LENGTH);
    expect(DATA_RECORD_LENGTH - ADMIN_LENGTH).toBe(1000);
  });
});

describe('IDoc flat file', () => {
  it('parses the fixture: two IDocs, hierarchy, fields, positions, unknown segments kept', async () => {
    const doc = await parseIdocFlat(fx('invoic02-flat.txt'), { file: 'invoic02-flat.txt' });
    expect(doc.format).toBe('idoc-flat');
    expect(doc.roots).toHaveLength(2);
    const [inv, crme] = doc.roots;
    expect(inv!.name).toBe('IDOC');
    const ctrl = selectNodes(inv!, 'EDI_DC40')[0]!;
    expect(ctrl.fields.DOCNUM!.value).toBe('0000000004711001');
    expect(ctrl.fields.IDOCTYP!.value).toBe('INVOIC02');
    expect(ctrl.fields.SNDPRN!.value).toBe('PRDCLNT100');
    expect(selectFields(inv!, 'E1EDK01', 'BELNR')[0]!.value).toBe('0090020104');
    expect(selectFields(inv!, 'E1EDK01', 'EIGENUINR')[0]!.value).toBe('PL5213017228');
    const re = selectNodes(inv!, 'E1EDKA1[PARVW=RE]');
    expect(re).toHaveLength(1);
    expect(re[0]!.fields.NAME1!.value).toBe('Gęśla Sp. z o.o. Oddział Płatności');
    expect(re[0]!.fields.ORT01!.value).toBe('Toruń');
    expect(selectFields(inv!, 'E1EDKA1[PARVW=RS]', 'NAME2')[0]!.value).toBe('„Żniwiarz” S.A.');
    expect(selectFields(inv!, 'E1EDK02[QUALF=009]', 'DATUM')[0]!.value).toBe('20260305');
    const items = selectNodes(inv!, 'E1EDP01');
    expect(items.map((i) => i.fields.POSEX!.value)).toEqual(['000010', '000020', '000030']);
    const third = items[2]!;
    expect(third.pos).toMatchObject({ file: 'invoic02-flat.txt', segment: 'E1EDP01', segmentIndex: 3, idoc: '0000000004711001' });
    expect(third.fields.MENGE!.value).toBe('1.000');
    expect(third.fields.MENGE!.pos).toMatchObject({ line: third.pos.line, column: ADMIN_LENGTH + 12, offset: 11, length: 15, segment: 'E1EDP01', segmentIndex: 3 });
    expect(selectFields(third, 'E1EDP19[QUALF=002]', 'KTEXT')[0]!.value).toBe('Usługa serwisowa w gospodarstwie');
    expect(selectFields(third, 'E1EDP04', 'MWSKZ')[0]!.value).toBe('A3');
    expect(selectFields(third, 'E1EDPT1/E1EDPT2', 'TDLINE')[0]!.value).toContain('Usługa serwisowa');
    expect(selectNodes(inv!, 'E1EDKT1/E1EDKT2')[0]!.fields.TDLINE!.value).toBe('Mechanizm podzielonej płatności');
    const z = selectNodes(inv!, 'Z1KSEF_HDR')[0]!;
    expect(z.unknown).toBe(true);
    expect(z.fields.SDATA!.value).toBe('KSEFPROFILE01 FA3     TRYB-ONLINE');
    expect(doc.warnings.map((w) => w.code)).toEqual(['FORMAT_IDOC_UNKNOWN_SEGMENT']);
    expect(selectFields(inv!, 'E1EDS01[SUMID=011]', 'SUMME')[0]!.value).toBe('2314.50');
    expect(selectFields(crme!, 'E1EDK01', 'BSART')[0]!.value).toBe('CRME');
    expect(parseSapNumber(selectFields(crme!, 'E1EDP01', 'NETWR')[0]!.value)).toEqual({ ok: true, value: '-150.00' });
    expect(selectFields(crme!, 'E1EDK02[QUALF=031]', 'BELNR')[0]!.value).toBe('0090020104');
  });

  it('counts lines from 1 across LF and CRLF files', async () => {
    const text = readFileSync(join(fixtures, 'invoic02-flat.txt'), 'utf8');
    const lf = await parseIdocFlat(text.replace(/\r\n/g, '\n'));
    const crlf = await parseIdocFlat(text);
    const line = (d: typeof lf) => selectNodes(d.roots[0]!, 'E1EDP01[POSEX=000030]')[0]!.pos.line;
    expect(line(lf)).toBe(line(crlf));
    const lines = text.split('\r\n');
    expect(lines[line(lf)! - 1]!.startsWith('E1EDP01')).toBe(true);
    expect(lines[line(lf)! - 1]!.slice(ADMIN_LENGTH, ADMIN_LENGTH + 6)).toBe('000030');
  });

  it('rebuilds the hierarchy from HLEVEL when PSGNUM is blank', async () => {
    const flat = writeIdocFlat([{ control: { DOCNUM: '1' }, segments: [{ name: 'E1EDP01', fields: { POSEX: '10' }, children: [{ name: 'E1EDP19', fields: { QUALF: '002' } }] }, { name: 'E1EDP01', fields: { POSEX: '20' } }] }]);
    const blanked = flat
      .split('\n')
      .map((l) => (l.startsWith('E1') ? l.slice(0, 55) + '      ' + l.slice(61) : l))
      .join('\n');
    const doc = await parseIdocFlat(blanked);
    const items = selectNodes(doc.roots[0]!, 'E1EDP01');
    expect(items).toHaveLength(2);
    expect(selectNodes(items[0]!, 'E1EDP19')).toHaveLength(1);
  });

  it('reports a parent segment that does not exist', async () => {
    const flat = writeIdocFlat([{ control: { DOCNUM: '1' }, segments: [{ name: 'E1EDP01', fields: { POSEX: '10' } }] }]);
    const bad = flat.replace(/^(E1EDP01.{48})000000/m, '$1000099');
    const err = await expectError(parseIdocFlat(bad, { file: 'p.idoc' }), 'FORMAT_IDOC_PARENT_MISSING');
    expect(err.context).toMatchObject({ file: 'p.idoc', line: 2 });
  });

  it('decodes customer extension segments with given definitions (YAML files)', async () => {
    const dir = join(tmp, 'segdefs');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    writeFileSync(join(dir, 'Z1KSEF_HDR.yaml'), 'segment: Z1KSEF_HDR\nfields:\n  - { name: PROFILE, offset: 0, length: 14 }\n  - { name: SCHEMA, offset: 14, length: 8 }\n  - { name: MODE, offset: 22, length: 11 }\n');
    const segments = await loadSegmentDefinitions(dir);
    const doc = await parseIdocFlat(fx('invoic02-flat.txt'), { segments });
    const z = selectNodes(doc.roots[0]!, 'Z1KSEF_HDR')[0]!;
    expect(z.unknown).toBeUndefined();
    expect([z.fields.PROFILE!.value, z.fields.SCHEMA!.value, z.fields.MODE!.value]).toEqual(['KSEFPROFILE01', 'FA3', 'TRYB-ONLINE']);
    expect(doc.warnings).toEqual([]);
    writeFileSync(join(dir, 'bad.json'), '{"segment": "Z1BAD", "fields": [{"name": "X", "offset": 999, "length": 5}]}');
    const err = await expectError(loadSegmentDefinitions(dir), 'FORMAT_IDOC_SEGMENT_DEFINITION');
    expect(err.context.file).toBe(join(dir, 'bad.json'));
  });

  it('streams one IDoc at a time', async () => {
    const one = readFileSync(join(fixtures, 'invoic02-flat.txt'));
    let pulled = 0;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield one;
      }
    }
    const it = iterateIdocFlat(chunks())[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value!.name).toBe('IDOC');
    expect(pulled).toBeLessThan(100);
    await it.return?.(undefined);
  });
});

describe('IDoc-XML', () => {
  it('parses an extension root with release-suffixed and customer segment names', async () => {
    const doc = await parseIdocXml(fx('invoic02-idoc.xml'), { file: 'invoic02-idoc.xml' });
    expect(doc.format).toBe('idoc-xml');
    expect(doc.roots).toHaveLength(2);
    const [a, b] = doc.roots;
    expect(a!.fields['@BEGIN']!.value).toBe('1');
    expect(selectFields(a!, 'EDI_DC40', 'CIMTYP')[0]!.value).toBe('ZINVOIC02');
    const k01 = selectNodes(a!, 'E1EDK01')[0]!;
    expect(k01.rawName).toBe('E2EDK01005');
    expect(k01.fields.CURCY!.value).toBe('EUR');
    expect(k01.fields.WKURS!.pos).toMatchObject({ file: 'invoic02-idoc.xml', line: 26, segment: 'E1EDK01', segmentIndex: 1, idoc: '0000000004712001' });
    expect(selectFields(a!, 'E1EDKA1[PARVW=RE]', 'NAME1')[0]!.value).toBe('Bäckerei Müller GmbH');
    expect(selectFields(a!, 'E1EDKA1[PARVW=RS]', 'NAME2')[0]!.value).toBe('„Żniwiarz” S.A.');
    const z = selectNodes(a!, 'Z1KSEF_HDR')[0]!;
    expect(z.unknown).toBe(true);
    expect(z.rawName).toBe('Z2KSEF_HDR000');
    expect(z.fields.PROFILE!.value).toBe('FA3');
    const item = selectNodes(a!, 'E1EDP01')[0]!;
    expect(selectFields(item, 'E1EDP19[QUALF=002]', 'KTEXT')[0]!.value).toBe('Mąka żytnia typ 2000 & otręby');
    expect(selectFields(item, 'E1EDP04', 'MWSKZ')[0]!.value).toBe('E0');
    const bItems = selectNodes(b!, 'E1EDP01');
    expect(bItems.map((i) => i.pos.segmentIndex)).toEqual([1, 2]);
    expect(parseSapNumber(bItems[1]!.fields.NETWR!.value)).toEqual({ ok: true, value: '-10.00' });
    expect(doc.warnings.filter((w) => w.code === 'FORMAT_IDOC_UNKNOWN_SEGMENT')).toHaveLength(1);
  });

  it('reports an IDOC without control record and a document without IDOC', async () => {
    const err = await expectError(parseIdocXml('<INVOIC02>\n<IDOC BEGIN="1"><E1EDK01 SEGMENT="1"><CURCY>PLN</CURCY></E1EDK01></IDOC></INVOIC02>', { file: 'x.xml' }), 'FORMAT_IDOC_MISSING_CONTROL_RECORD');
    expect(err.context).toMatchObject({ file: 'x.xml', line: 2 });
    await expectError(parseIdocXml('<INVOIC02><FOO/></INVOIC02>'), 'FORMAT_IDOC_XML_NO_IDOC');
  });

  it('auto-detects flat or XML from a stream with iterateDocument', async () => {
    const { Readable } = await import('node:stream');
    const { iterateDocument } = await import('../../src/formats/index.js');
    for (const name of ['invoic02-flat.txt', 'invoic02-idoc.xml']) {
      const bytes = readFileSync(join(fixtures, name));
      const chunks = [bytes.subarray(0, 100), bytes.subarray(100, 5000), bytes.subarray(5000)];
      const roots: RecordNode[] = [];
      for await (const r of iterateDocument(Readable.from(chunks), { format: 'idoc', file: name })) roots.push(r);
      expect(roots).toHaveLength(2);
      expect(roots[0]!.pos.file).toBe(name);
    }
  });

  it('auto-detects flat or XML with format "idoc"', async () => {
    const x = await parseDocument(fx('invoic02-idoc.xml'), { format: 'idoc' });
    expect(x.format).toBe('idoc-xml');
    const f = await parseDocument(fx('invoic02-flat.txt'), { format: 'idoc' });
    expect(f.format).toBe('idoc-flat');
    expect(f.file).toBe(join(fixtures, 'invoic02-flat.txt'));
  });
});

/** Seeded generator (mulberry32) so failures are reproducible. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['Łożysko', 'śruba', 'Żółć', 'gęś', 'Kraków', 'Sp. z o.o.', 'usługa', 'ĄĘÓŁŃŚŹŻĆ', 'x', '„cudzysłów”', 'A&B <c>'];

function randomIdoc(r: () => number, n: number): IdocSpec {
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const text = (max: number) => {
    let s = '';
    while (s.length < max * 0.6) s += `${pick(WORDS)} `;
    return s.trim().slice(0, max).trim();
  };
  const amount = () => `${(r() * 10000).toFixed(2)}${r() < 0.2 ? '-' : ''}`;
  const items: IdocSegmentSpec[] = [];
  const count = 1 + Math.floor(r() * 5);
  for (let i = 1; i <= count; i++) {
    items.push({
      name: 'E1EDP01',
      fields: { POSEX: String(i * 10).padStart(6, '0'), MENGE: (r() * 100).toFixed(3), MENEE: pick(['PCE', 'KGM', 'H']), NETWR: amount() },
      children: [
        { name: 'E1EDP19', fields: { QUALF: '002', IDTNR: `M-${i}`, KTEXT: text(40) } },
        { name: 'E1EDP04', fields: { MWSKZ: pick(['A1', 'A2', 'A3', 'E0']), MSATZ: pick(['23.00', '8.00', '5.00', '0.00']), MWSBT: amount() } },
      ],
    });
  }
  return {
    control: { DOCNUM: String(100000 + n).padStart(16, '0'), CREDAT: '20260301' },
    segments: [
      { name: 'E1EDK01', fields: { CURCY: pick(['PLN', 'EUR']), BSART: pick(['INVO', 'CRME']), BELNR: `0090${String(n).padStart(6, '0')}` } },
      { name: 'E1EDKA1', fields: { PARVW: 'RS', NAME1: text(35), ORT01: text(20) } },
      { name: 'E1EDKA1', fields: { PARVW: 'RE', NAME1: text(35), STRAS: text(35) } },
      { name: 'E1EDK02', fields: { QUALF: '009', BELNR: `0090${String(n).padStart(6, '0')}`, DATUM: '20260301' } },
      ...items,
      { name: 'Z1CUSTOM', sdata: `CUSTOM ${n}` },
      { name: 'E1EDS01', fields: { SUMID: '011', SUMME: amount() } },
    ],
  };
}

/** Names, non-empty field values and structure, without positions. */
function shape(n: RecordNode): unknown {
  const fields: Record<string, string> = {};
  for (const [k, f] of Object.entries(n.fields)) if (f.value !== '' && !k.startsWith('@')) fields[k] = f.value;
  return { name: n.name, fields, children: n.children.map(shape) };
}

describe('IDoc writer round trips (property-style, seeded)', () => {
  it.each([1, 2, 3, 4, 5])('seed %i: written flat and XML, parsed back, give the same trees and values', async (seed) => {
    const r = rng(seed);
    const specs = Array.from({ length: 5 }, (_, i) => randomIdoc(r, seed * 100 + i));
    const flatText = writeIdocFlat(specs, { trimTrailingSpaces: seed % 2 === 0, lineEnding: seed % 2 === 0 ? '\r\n' : '\n' });
    const flat = await parseIdocFlat(flatText);
    const xml = await parseIdocXml(writeIdocXml(specs.map((s) => ({ ...s, segments: s.segments.filter((x) => x.sdata === undefined) })), { root: 'ZINVOIC02' }));
    expect(flat.roots).toHaveLength(5);
    specs.forEach((spec, i) => {
      const root = flat.roots[i]!;
      expect(selectFields(root, 'EDI_DC40', 'DOCNUM')[0]!.value).toBe(spec.control.DOCNUM);
      spec.segments.forEach((seg, j) => {
        const node = root.children[j + 1]!;
        expect(node.name).toBe(seg.name);
        for (const [k, v] of Object.entries(seg.fields ?? {})) expect(node.fields[k]!.value).toBe(v);
        if (seg.sdata) expect(node.fields.SDATA!.value).toBe(seg.sdata);
      });
      const withoutCustom = (n: RecordNode): RecordNode => ({ ...n, children: n.children.filter((c) => !c.unknown && c.name !== 'EDI_DC40') });
      expect(shape(withoutCustom(xml.roots[i]!))).toEqual(shape(withoutCustom(root)));
    });
    for (const line of flatText.split(/\r?\n/).filter(Boolean)) {
      expect(line.length).toBeLessThanOrEqual(line.startsWith('EDI_DC40') ? CONTROL_RECORD_LENGTH : DATA_RECORD_LENGTH);
    }
  });

  it('refuses values longer than the field and unknown fields', () => {
    expect(() => writeIdocFlat([{ control: { DOCNUM: '1' }, segments: [{ name: 'E1EDKA1', fields: { PARVW: 'RE', NAME1: 'x'.repeat(36) } }] }])).toThrow(/longer than 35/);
    expect(() => writeIdocFlat([{ control: { DOCNUM: '1' }, segments: [{ name: 'E1EDK01', fields: { NOPE: 'x' } }] }])).toThrow(/has no field NOPE/);
    expect(() => writeIdocFlat([{ control: {}, segments: [] }])).toThrow(/DOCNUM/);
  });
});
