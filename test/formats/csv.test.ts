import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import { afterAll, describe, expect, it } from 'vitest';
import { MappingError } from '../../src/errors/index.js';
import {
  fieldOf,
  iterateCsv,
  iterateCsvPair,
  normalizeNumber,
  parseCsv,
  parseCsvPair,
  parseDocument,
  selectFields,
  selectNodes,
  type FormatWarning,
  type RecordNode,
} from '../../src/formats/index.js';

const fx = (name: string) => ({ path: new URL(`./fixtures/${name}`, import.meta.url).pathname });
const tmp = mkdtempSync(join(tmpdir(), 'ksef-csv-'));
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

async function collect(it: AsyncIterable<RecordNode>): Promise<RecordNode[]> {
  const out: RecordNode[] = [];
  for await (const r of it) out.push(r);
  return out;
}

describe('CSV: Windows-1250 export grouped by invoice number', () => {
  it('decodes Windows-1250, groups rows by key and keeps positions', async () => {
    const doc = await parseCsv(fx('faktury-cp1250.csv'), { encoding: 'windows-1250', groupBy: 'NrFaktury', file: 'faktury-cp1250.csv' });
    expect(doc.format).toBe('csv');
    expect(doc.encoding).toBe('windows-1250');
    expect(doc.roots.map((r) => r.fields['#key']!.value)).toEqual(['FV/2026/01/0001', 'FV/2026/01/0002', 'FV/2026/01/0003']);
    const first = doc.roots[0]!;
    expect(first.name).toBe('invoice');
    expect(first.children).toHaveLength(3);
    const row3 = first.children[2]!;
    expect(row3.name).toBe('row');
    expect(row3.fields.NabywcaNazwa!.value).toBe('Przedsiębiorstwo Handlowe „Żuraw” Sp. z o.o.');
    expect(row3.fields.NazwaTowaru!.value).toBe('Książka "Źródła prawa" – wydanie 2');
    expect(row3.fields.CenaNetto!.pos).toEqual({ file: 'faktury-cp1250.csv', line: 4, column: 11 });
    expect(normalizeNumber(row3.fields.CenaNetto!.value)).toBe('89.90');
    expect(normalizeNumber(doc.roots[1]!.children[1]!.fields.CenaNetto!.value)).toBe('1250.00');
    expect(doc.roots[2]!.children[0]!.fields.NabywcaAdres!.value).toBe('ul. Źródlana 7/9, 15-950 Białystok');
  });

  it('reports the same file read as UTF-8 as invalid UTF-8 with position and an encoding hint', async () => {
    const err = await expectError(parseCsv(fx('faktury-cp1250.csv'), { file: 'f.csv', groupBy: 'NrFaktury' }), 'FORMAT_ENCODING_INVALID_UTF8');
    expect(err.context.file).toBe('f.csv');
    expect(err.context.line).toBe(2);
    // "Przedsiębiorstwo": the "ę" is the 34th character of line 2
    expect(err.context.column).toBe('FV/2026/01/0001;2026-01-05;Przedsi'.length + 1);
    expect(err.hint).toContain('windows-1250');
  });

  it('auto-detects a non-UTF-8 file as Windows-1250 with a warning', async () => {
    const doc = await parseCsv(fx('faktury-cp1250.csv'), { encoding: 'auto', groupBy: 'NrFaktury' });
    expect(doc.encoding).toBe('windows-1250');
    expect(doc.warnings.map((w) => w.code)).toContain('FORMAT_ENCODING_GUESSED');
    expect(doc.roots[0]!.children[0]!.fields.NazwaTowaru!.value).toBe('Śruba M8 ocynkowana');
  });

  it('reads ISO-8859-2 and CP852 when told', async () => {
    const text = 'nr;nazwa\nA/1;Żółć gęślą jaźń\n';
    for (const enc of ['iso-8859-2', 'cp852'] as const) {
      const doc = await parseCsv(iconv.encode(text, enc), { encoding: enc });
      expect(doc.roots[0]!.children[0]!.fields.nazwa!.value).toBe('Żółć gęślą jaźń');
    }
  });

  it('strips a UTF-8 BOM', async () => {
    const doc = await parseCsv(Buffer.from('\ufeffnr;kwota\nX;1\n', 'utf8'));
    expect(Object.keys(doc.roots[0]!.children[0]!.fields)).toEqual(['nr', 'kwota']);
  });
});

describe('CSV: header and line records in one file', () => {
  const options = {
    recordType: { column: '1', header: ['N'], line: ['P'] },
    header: false,
    columnsByType: {
      N: ['typ', 'numer', 'data', 'dataSprzedazy', 'nabywca', 'nip', 'ulica', 'kod', 'miasto', 'waluta'],
      P: ['typ', 'lp', 'nazwa', 'ilosc', 'jm', 'cena', 'vat'],
      K: ['typ', 'tekst'],
    },
    file: 'faktury-typ-rekordu.csv',
  };

  it('starts an invoice at each header record and attaches lines and other records', async () => {
    const warnings: FormatWarning[] = [];
    const doc = await parseCsv(fx('faktury-typ-rekordu.csv'), { ...options, onWarning: (w) => warnings.push(w) });
    expect(doc.roots).toHaveLength(3);
    const [a, b, kor] = doc.roots;
    expect(a!.children.map((c) => c.name)).toEqual(['header', 'line', 'line', 'line']);
    expect(selectFields(a!, 'header', 'nabywca')[0]!.value).toBe('Hurtownia Elektryczna „Iskra” S.A.');
    expect(selectFields(a!, 'line', 'nazwa').map((f) => f.value)).toEqual(['Kabel YDY 3x2,5 mm²', 'Gniazdo podtynkowe białe', 'Podręcznik „Instalacje elektryczne”']);
    expect(b!.children.map((c) => c.name)).toEqual(['header', 'line', 'K']);
    expect(b!.children[2]!.fields.tekst!.value).toContain('Chorzowska');
    expect(warnings.map((w) => w.code)).toEqual(['FORMAT_UNKNOWN_RECORD_TYPE']);
    expect(kor!.children[1]!.fields.ilosc!.value).toBe('-10');
    expect(kor!.children[1]!.pos.line).toBe(9);
  });

  it('rejects a line record before any header', async () => {
    const err = await expectError(parseCsv(Buffer.from('P;1;x;1;szt;1,00;23\nN;FV/1\n'), { ...options, relaxColumnCount: true }), 'FORMAT_LINE_WITHOUT_HEADER');
    expect(err.context.line).toBe(1);
  });

  it('checks the column count of each record type', async () => {
    const err = await expectError(parseCsv(Buffer.from('N;FV/1;2026-01-01\n'), options), 'FORMAT_CSV_COLUMN_COUNT');
    expect(err.context.line).toBe(1);
    expect(err.context.file).toBe('faktury-typ-rekordu.csv');
  });
});

describe('CSV: two files joined by key', () => {
  it('joins headers and lines, in lines-file order, with both files named in positions', async () => {
    const doc = await parseCsvPair(fx('naglowki.csv'), fx('pozycje.csv'), { delimiter: ',', headerKey: 'invoice_no', headerFile: 'naglowki.csv', linesFile: 'pozycje.csv' });
    expect(doc.roots.map((r) => r.fields['#key']!.value)).toEqual(['FS-1001', 'FS-1002', 'FS-1003']);
    const third = doc.roots[2]!;
    expect(third.children.map((c) => c.name)).toEqual(['header', 'line', 'line']);
    expect(third.children[0]!.fields.buyer_name!.pos.file).toBe('naglowki.csv');
    expect(third.children[2]!.fields.net_price!.value).toBe('1,200.00');
    expect(third.children[2]!.fields.net_price!.pos).toEqual({ file: 'pozycje.csv', line: 6, column: 6 });
    expect(normalizeNumber(third.children[2]!.fields.net_price!.value, { decimal: '.' })).toBe('1200.00');
  });

  it('reports lines without a header', async () => {
    const h = join(tmp, 'h.csv');
    const l = join(tmp, 'l.csv');
    writeFileSync(h, 'nr;kto\nA;x\n');
    writeFileSync(l, 'nr;co\nA;1\nB;2\n');
    const err = await expectError(parseCsvPair({ path: h }, { path: l }, { headerKey: 'nr' }), 'FORMAT_CSV_JOIN_ORPHAN_LINES');
    expect(err.context.file).toBe(l);
    expect(err.context.line).toBe(3);
  });

  it('reports duplicate header keys and yields headers without lines with a warning', async () => {
    await expectError(parseCsvPair(Buffer.from('nr\nA\nA\n'), Buffer.from('nr\n'), { headerKey: 'nr' }), 'FORMAT_CSV_DUPLICATE_KEY');
    const doc = await parseCsvPair(Buffer.from('nr;k\nA;1\nB;2\n'), Buffer.from('nr;q\nB;5\n'), { headerKey: 'nr' });
    expect(doc.roots.map((r) => [r.fields['#key']!.value, r.children.length])).toEqual([['B', 2], ['A', 1]]);
    expect(doc.warnings.map((w) => w.code)).toEqual(['FORMAT_CSV_JOIN_NO_LINES']);
  });

  it('streams the pair', async () => {
    const roots = await collect(iterateCsvPair(Buffer.from('nr;k\nA;1\nB;2\n'), Buffer.from('nr;q\nA;1\nA;2\nB;5\n'), { headerKey: 'nr' }));
    expect(roots.map((r) => r.children.length)).toEqual([3, 2]);
  });
});

describe('CSV: options and errors', () => {
  it('names columns by number without a header, and by given names', async () => {
    const a = await parseCsv('x;y\n', { header: false });
    expect(Object.keys(a.roots[0]!.children[0]!.fields)).toEqual(['1', '2']);
    const b = await parseCsv('x|"y|z"\n', { header: ['a', 'b'], delimiter: '|' });
    expect(b.roots[0]!.children[0]!.fields.b!.value).toBe('y|z');
  });

  it('renames duplicate and empty header names with a warning', async () => {
    const doc = await parseCsv('kwota;kwota;\n1;2;3\n');
    const f = doc.roots[0]!.children[0]!.fields;
    expect([f.kwota!.value, f.kwota_2!.value, f['3']!.value]).toEqual(['1', '2', '3']);
    expect(doc.warnings[0]!.code).toBe('FORMAT_CSV_DUPLICATE_HEADER');
  });

  it('allows extra empty trailing fields but not extra values', async () => {
    const ok = await parseCsv('a;b\n1;2;\n');
    expect(ok.roots[0]!.children[0]!.fields).toMatchObject({ a: { value: '1' }, b: { value: '2' } });
    const err = await expectError(parseCsv('a;b\n1;2\n1;2;3\n', { file: 'x.csv' }), 'FORMAT_CSV_COLUMN_COUNT');
    expect(err.context.line).toBe(3);
    const relaxed = await parseCsv('a;b\n1;2;3\n4\n', { relaxColumnCount: true });
    expect(relaxed.roots[0]!.children[0]!.fields['3']!.value).toBe('3');
    expect(relaxed.roots[0]!.children[1]!.fields.b).toBeUndefined();
  });

  it('treats hostile column names as plain names', async () => {
    const doc = await parseCsv('__proto__;constructor;toString\n1;2;3\n', { recordType: { column: '2', header: ['2'], line: [] }, columnsByType: {} });
    const f = doc.roots[0]!.children[0]!.fields;
    expect(f.__proto__!.value).toBe('1');
    expect(fieldOf(doc.roots[0]!.children[0]!, 'constructor')!.value).toBe('2');
    expect(Object.keys(f).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    const other = await parseCsv('t;x\nconstructor;1\n', { recordType: { column: 't', header: ['H'], line: ['L'] }, columnsByType: { H: ['t', 'x'] }, relaxColumnCount: true }).catch((e: MappingError) => e);
    expect((other as MappingError).code).toBe('FORMAT_LINE_WITHOUT_HEADER');
  });

  it('reports the start line of a record with a quoted line break', async () => {
    const doc = await parseCsv('a;b\n1;"wiersz\ndrugi"\n2;x\n');
    expect(doc.roots[0]!.children.map((c) => c.pos.line)).toEqual([2, 4]);
  });

  it('skips preamble lines', async () => {
    const doc = await parseCsv('Eksport z dnia 2026-01-01\n\nnr;k\nA;1\n', { skipLines: 2 });
    expect(doc.roots[0]!.children[0]!.fields.nr!.value).toBe('A');
  });

  it('rejects an unknown grouping column', async () => {
    const err = await expectError(parseCsv('a;b\n1;2\n', { groupBy: 'NrFaktury' }), 'FORMAT_CSV_COLUMN_UNKNOWN');
    expect(err.context.allowed).toBe('a;b'.replace(';', ', '));
  });

  it('rejects a record without a key', async () => {
    const err = await expectError(parseCsv('nr;k\nA;1\n;2\n', { groupBy: 'nr' }), 'FORMAT_GROUP_KEY_MISSING');
    expect(err.context.line).toBe(3);
  });

  it('detects invoices whose rows are not contiguous', async () => {
    const err = await expectError(parseCsv('nr;k\nA;1\nA;2\nB;1\nA;3\n', { groupBy: 'nr', file: 'x.csv' }), 'FORMAT_GROUP_NOT_CONTIGUOUS');
    expect(err.context).toMatchObject({ file: 'x.csv', line: 5, value: 'A' });
    expect(err.message).toContain('line 2');
  });

  it('goes through parseDocument with format csv', async () => {
    const doc = await parseDocument('nr;k\nA;1\n', { format: 'csv' });
    expect(doc.roots).toHaveLength(1);
    expect(selectNodes(doc.roots[0]!, 'row[k=1]')).toHaveLength(1);
  });
});

describe('CSV streaming', () => {
  it('yields the first invoice before the whole input has been read', async () => {
    let pulled = 0;
    const total = 200;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('nr;opis\n');
      for (let i = 0; i < total; i++) {
        pulled++;
        yield Buffer.from(`F${i};${'x'.repeat(100_000)}\n`);
      }
    }
    const it = iterateCsv(chunks(), { groupBy: 'nr' })[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    expect(first.value!.fields['#key']!.value).toBe('F0');
    expect(pulled).toBeLessThan(total);
    await it.return?.(undefined);
  });

  it('works on a Node Readable', async () => {
    const roots = await collect(iterateCsv(Readable.from([Buffer.from('nr;k\nA;1\n'), Buffer.from('B;2\nB;3\n')]), { groupBy: 'nr' }));
    expect(roots.map((r) => r.children.length)).toEqual([1, 2]);
  });
});
