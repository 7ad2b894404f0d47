import { describe, expect, it } from 'vitest';
import { MappingError } from '../../src/errors/index.js';
import {
  iterateFixedWidth,
  parseDocument,
  parseFixedWidth,
  parseJson,
  parseXml,
  selectFields,
  selectNodes,
  type FixedWidthOptions,
} from '../../src/formats/index.js';

const fx = (name: string) => ({ path: new URL(`./fixtures/${name}`, import.meta.url).pathname });

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

const layout: FixedWidthOptions = {
  file: 'faktury-stale-cp852.txt',
  encoding: 'cp852',
  recordType: { start: 1, length: 1, header: ['H'], line: ['L'] },
  layouts: {
    H: [
      { name: 'numer', start: 2, length: 15 },
      { name: 'data', start: 17, length: 8 },
      { name: 'nabywca', start: 25, length: 40 },
      { name: 'nip', start: 65, length: 10 },
      { name: 'waluta', start: 75, length: 3 },
    ],
    L: [
      { name: 'numer', start: 2, length: 15 },
      { name: 'lp', start: 17, length: 3 },
      { name: 'nazwa', start: 20, length: 30 },
      { name: 'ilosc', start: 50, length: 10 },
      { name: 'jm', start: 60, length: 4 },
      { name: 'cena', start: 64, length: 10 },
      { name: 'vat', start: 74, length: 3 },
    ],
  },
  groupBy: 'numer',
};

describe('fixed-width', () => {
  it('reads a CP852 file with header and line layouts', async () => {
    const doc = await parseFixedWidth(fx('faktury-stale-cp852.txt'), layout);
    expect(doc.format).toBe('fixed');
    expect(doc.roots).toHaveLength(2);
    const [a, b] = doc.roots;
    expect(a!.children.map((c) => c.name)).toEqual(['header', 'line', 'line']);
    expect(a!.children[0]!.fields.nabywca!.value).toBe('Piekarnia "Złoty Kłos" Bożena Wróbel');
    expect(a!.children[1]!.fields.nazwa!.value).toBe('Chleb żytni na zakwasie');
    expect(a!.children[1]!.fields.ilosc!.pos).toEqual({ file: 'faktury-stale-cp852.txt', line: 2, column: 50, offset: 49, length: 10 });
    expect(b!.children[1]!.fields.cena!.value).toBe('185,00');
    expect(b!.children[0]!.fields.nabywca!.value).toBe('Restauracja "Pod Łabędziem"');
  });

  it('streams groups and detects a line whose key differs from its header', async () => {
    const roots = [];
    for await (const r of iterateFixedWidth(fx('faktury-stale-cp852.txt'), layout)) roots.push(r);
    expect(roots.map((r) => r.fields['#key']!.value)).toEqual(['FA/0042/26', 'FA/0043/26']);
    const bad = 'HA1             20260101\nLB1               1x\n';
    const err = await expectError(parseFixedWidth(bad, layout), 'FORMAT_GROUP_KEY_MISMATCH');
    expect(err.context.line).toBe(2);
  });

  it('reads a single layout without record types, short lines give empty values', async () => {
    const doc = await parseFixedWidth('0001Kowalski  \n0002Nowak\n', { fields: [{ name: 'id', start: 1, length: 4 }, { name: 'name', start: 5, length: 10 }, { name: 'extra', start: 20, length: 5 }] });
    expect(doc.roots).toHaveLength(1);
    expect(doc.roots[0]!.children.map((c) => [c.fields.id!.value, c.fields.name!.value, c.fields.extra!.value])).toEqual([
      ['0001', 'Kowalski', ''],
      ['0002', 'Nowak', ''],
    ]);
  });

  it('rejects bad layouts and record types without layout', async () => {
    await expectError(parseFixedWidth('x\n', { fields: [{ name: 'a', start: 0, length: 2 }] }), 'FORMAT_FIXED_LAYOUT');
    await expectError(parseFixedWidth('x\n', {}), 'FORMAT_FIXED_LAYOUT');
    const err = await expectError(parseFixedWidth('H1\nX2\n', { recordType: { start: 1, length: 1, header: ['H'], line: ['L'] }, layouts: { H: [{ name: 'a', start: 2, length: 1 }] } }), 'FORMAT_FIXED_UNKNOWN_RECORD_TYPE');
    expect(err.context).toMatchObject({ line: 2, column: 1, value: 'X' });
  });
});

describe('selection paths', () => {
  it('parses steps with conditions and positions, and rejects malformed paths', async () => {
    const { parseSelectPath } = await import('../../src/formats/index.js');
    expect(parseSelectPath('E1EDKA1[PARVW=RE]/E1EDKA3[QUALP="001"][2]')).toEqual([
      { name: 'E1EDKA1', where: { PARVW: 'RE' } },
      { name: 'E1EDKA3', where: { QUALP: '001' }, index: 2 },
    ]);
    expect(parseSelectPath('*')).toEqual([{ name: '*' }]);
    expect(() => parseSelectPath('A[=x]')).toThrow(/invalid condition/);
  });
});

describe('XML', () => {
  it('reads an ERP export with records, attributes, leaf fields, entities and CDATA', async () => {
    const doc = await parseXml(fx('erp-export.xml'), { recordPath: 'Dokumenty/Faktura', file: 'erp-export.xml' });
    expect(doc.format).toBe('xml');
    expect(doc.roots).toHaveLength(2);
    const [fv, kor] = doc.roots;
    expect(fv!.name).toBe('Faktura');
    expect(fv!.fields['@typ']!.value).toBe('VAT');
    expect(fv!.fields.Numer!.value).toBe('FV 15/03/2026');
    expect(fv!.fields.Numer!.pos).toMatchObject({ file: 'erp-export.xml', line: 5, column: 5, path: '/Dokumenty/Faktura/Numer' });
    expect(selectFields(fv!, 'Nabywca', 'Nazwa')[0]!.value).toBe('Biuro Rachunkowe "Bilans" Zofia Ćwiek & Wspólnicy');
    expect(selectFields(fv!, 'Nabywca', '@nip')[0]!.value).toBe('9512345678');
    const lines = selectNodes(fv!, 'Pozycje/Pozycja');
    expect(lines.map((l) => [l.fields['@lp']!.value, l.fields.Nazwa!.value, l.fields.Vat!.value])).toEqual([
      ['1', 'Abonament serwisowy – marzec', '23'],
      ['2', 'Szkolenie z obsługi KSeF', 'zw'],
    ]);
    expect(lines[1]!.pos.path).toBe('/Dokumenty/Faktura/Pozycje/Pozycja[2]');
    // repeated leaf elements: the first is a field, all are child nodes
    expect(fv!.fields.Uwagi!.value).toBe('Płatne przelewem w ciągu 14 dni');
    expect(selectNodes(fv!, 'Uwagi').map((n) => n.fields['#text']!.value)).toEqual(['Płatne przelewem w ciągu 14 dni', 'Dziękujemy za współpracę ☺']);
    expect(selectFields(kor!, 'Pozycje/Pozycja', 'Nazwa')[0]!.value).toBe('Szkolenie <korekta ilości>');
    expect(kor!.pos.path).toBe('/Dokumenty/Faktura[2]');
  });

  it('gives the document element as the single root without recordPath', async () => {
    const doc = await parseDocument(fx('erp-export.xml'), { format: 'xml' });
    expect(doc.roots.map((r) => r.name)).toEqual(['Dokumenty']);
    expect(doc.roots[0]!.fields['@wersja']!.value).toBe('2.1');
  });

  it('honours a Windows-1250 XML declaration', async () => {
    const iconv = (await import('iconv-lite')).default;
    const bytes = iconv.encode('<?xml version="1.0" encoding="windows-1250"?><a><b>Łódź</b></a>', 'windows-1250');
    const doc = await parseXml(bytes);
    expect(doc.roots[0]!.fields.b!.value).toBe('Łódź');
    expect(doc.encoding).toBe('windows-1250');
  });

  it('reports syntax errors with line and column', async () => {
    const err = await expectError(parseXml('<a>\n  <b x="1" x="2"/>\n</a>', { file: 'bad.xml' }), 'FORMAT_XML_SYNTAX');
    expect(err.context).toMatchObject({ file: 'bad.xml', line: 2 });
    await expectError(parseXml('<a/><b/>'), 'FORMAT_XML_SYNTAX');
    await expectError(parseXml(''), 'FORMAT_XML_SYNTAX');
  });

  it('rejects unknown entities and stray ampersands', async () => {
    const err = await expectError(parseXml('<a>\n<b>&nbsp;</b></a>'), 'FORMAT_XML_ENTITY');
    expect(err.context.line).toBe(2);
    await expectError(parseXml('<a>A & B</a>'), 'FORMAT_XML_SYNTAX');
    await expectError(parseXml('<a>&constructor;</a>'), 'FORMAT_XML_ENTITY');
  });

  it('rejects a recordPath that does not start at the document element', async () => {
    await expectError(parseXml('<a><b/></a>', { recordPath: 'x/b' }), 'FORMAT_XML_RECORD_PATH');
    const empty = await parseXml('<a><b/></a>', { recordPath: 'a/c' });
    expect(empty.roots).toHaveLength(0);
    expect(empty.warnings[0]!.code).toBe('FORMAT_XML_NO_RECORDS');
  });
});

describe('JSON', () => {
  it('reads an export with positions, exact numbers, nested objects and arrays', async () => {
    const doc = await parseJson(fx('erp-export.json'), { recordPath: 'invoices', file: 'erp-export.json' });
    expect(doc.roots).toHaveLength(2);
    const [a, b] = doc.roots;
    expect(a!.name).toBe('invoices');
    expect(a!.fields.number!.value).toBe('S/2026/03/771');
    expect(a!.fields.exchangeRate!.value).toBe('4.2869');
    expect(a!.fields.paid!.value).toBe('false');
    expect(a!.fields.note).toBeUndefined();
    expect(a!.fields.number!.pos).toMatchObject({ file: 'erp-export.json', line: 5, path: '/invoices/0/number' });
    expect(selectFields(a!, 'buyer', 'name')[0]!.value).toBe('Ørsted Polska Sp. z o.o.');
    expect(selectFields(a!, 'buyer/address', 'city')[0]!.value).toBe('Gdańsk');
    expect(selectNodes(a!, 'lines').map((l) => l.fields.quantity!.value)).toEqual(['12.5', '1']);
    expect(selectNodes(a!, 'lines')[1]!.pos.path).toBe('/invoices/0/lines/1');
    expect(b!.fields.buyer).toBeUndefined();
    expect(selectFields(b!, 'buyer', 'vatId')[0]!.value).toBe('');
  });

  it('keeps numbers as written', async () => {
    const doc = await parseJson('[{"amount": 1234.50, "big": 12345678901234567890.12}]');
    expect(doc.roots[0]!.name).toBe('record');
    expect(doc.roots[0]!.fields.amount!.value).toBe('1234.50');
    expect(doc.roots[0]!.fields.big!.value).toBe('12345678901234567890.12');
  });

  it('gives one root for a top-level object, and arrays of scalars as #text children', async () => {
    const doc = await parseJson('{"tags": ["a", "b"], "__proto__": "x"}');
    expect(doc.roots[0]!.name).toBe('document');
    expect(doc.roots[0]!.children.map((c) => c.fields['#text']!.value)).toEqual(['a', 'b']);
    expect(doc.roots[0]!.fields.__proto__!.value).toBe('x');
  });

  it('reports syntax errors with line and column', async () => {
    const err = await expectError(parseJson('{\n  "a": 1,\n  "b": tru\n}', { file: 'x.json' }), 'FORMAT_JSON_SYNTAX');
    expect(err.context).toMatchObject({ file: 'x.json', line: 3, column: 8 });
    const trunc = await expectError(parseJson('{"a": [1, 2'), 'FORMAT_JSON_SYNTAX');
    expect(trunc.message).toContain('truncated');
    await expectError(parseJson('{"a": 1} x'), 'FORMAT_JSON_SYNTAX');
    await expectError(parseJson('{"a": "x\ny"}'), 'FORMAT_JSON_SYNTAX');
    await expectError(parseJson('{a: 1}'), 'FORMAT_JSON_SYNTAX');
    await expectError(parseJson('   '), 'FORMAT_JSON_SYNTAX');
  });

  it('warns about duplicate keys and rejects a missing recordPath', async () => {
    const doc = await parseJson('{"a": 1, "a": 2}');
    expect(doc.roots[0]!.fields.a!.value).toBe('2');
    expect(doc.warnings[0]!.code).toBe('FORMAT_JSON_DUPLICATE_KEY');
    await expectError(parseJson('{"x": []}', { recordPath: 'invoices' }), 'FORMAT_JSON_RECORD_PATH');
  });
});
