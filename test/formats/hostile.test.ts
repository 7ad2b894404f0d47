/**
 * Hostile input: every case must end in a MappingError with a FORMAT_* code that names the file
 * (and the position where there is one) — never a crash, a hang or an unbounded allocation.
 * Big inputs are generated here in a temp dir, never committed.
 */
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MappingError } from '../../src/errors/index.js';
import {
  iterateCsv,
  iterateIdocFlat,
  parseCsv,
  parseDocument,
  parseFixedWidth,
  parseIdocFlat,
  parseIdocXml,
  parseJson,
  parseXml,
  writeIdocFlat,
  type FormatOptions,
} from '../../src/formats/index.js';

const fixtures = new URL('./fixtures/', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'ksef-hostile-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function expectError(p: Promise<unknown>, code: string | RegExp): Promise<MappingError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MappingError);
    const err = e as MappingError;
    if (typeof code === 'string') expect(err.code).toBe(code);
    else expect(err.code).toMatch(code);
    expect(err.context.file).toBeTruthy();
    return err;
  }
  throw new Error(`expected ${String(code)}, but it succeeded`);
}

async function writeBig(path: string, head: string, line: (i: number) => string, bytes: number): Promise<number> {
  const out = createWriteStream(path);
  let written = 0;
  let i = 0;
  const write = (s: string) => new Promise<void>((resolve) => (out.write(s) ? resolve() : out.once('drain', resolve)));
  await write(head);
  written += Buffer.byteLength(head);
  while (written < bytes) {
    const parts: string[] = [];
    for (let k = 0; k < 1000; k++) parts.push(line(i++));
    const s = parts.join('');
    await write(s);
    written += Buffer.byteLength(s);
  }
  await new Promise<void>((resolve) => out.end(resolve));
  return i;
}

function seeded(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    b[i] = (t ^ (t >>> 14)) & 0xff;
  }
  return b;
}

const ALL_FORMATS: FormatOptions[] = [
  { format: 'csv' },
  { format: 'csv', encoding: 'windows-1250' },
  { format: 'fixed', encoding: 'cp852', fields: [{ name: 'a', start: 1, length: 5 }] },
  { format: 'xml' },
  { format: 'json' },
  { format: 'idoc-flat' },
  { format: 'idoc-flat', encoding: 'iso-8859-2' },
  { format: 'idoc-xml' },
  { format: 'idoc' },
];

describe('binary garbage', () => {
  it.each(ALL_FORMATS.map((f, i) => [`${f.format} ${f.encoding ?? ''}`, f, i] as const))('%s: random bytes end in a FORMAT_ error', async (_label, options, i) => {
    const err = await expectError(parseDocument(seeded(200_000, i + 1), { ...options, file: 'garbage.bin' }), /^FORMAT_/);
    expect(err.context.file).toBe('garbage.bin');
  });

  it('random bytes without NUL or line breaks in a single-byte encoding are still refused', async () => {
    const g = Buffer.from(seeded(100_000, 99).filter((b) => b !== 0 && b !== 10 && b !== 13));
    const err = await expectError(parseCsv(g, { encoding: 'windows-1250', file: 'g.csv' }), 'FORMAT_BINARY_CONTENT');
    expect(err.context.line).toBe(1);
    await expectError(parseFixedWidth(g, { encoding: 'windows-1250', fields: [{ name: 'a', start: 1, length: 3 }] }), 'FORMAT_BINARY_CONTENT');
  });

  it('a ZIP/XLSX file given as CSV is refused with a position', async () => {
    const zipLike = Buffer.concat([Buffer.from('PK\x03\x04\x14\x00\x06\x00', 'latin1'), seeded(5000, 7)]);
    const err = await expectError(parseCsv(zipLike, { file: 'eksport.xlsx' }), 'FORMAT_BINARY_CONTENT');
    expect(err.context).toMatchObject({ file: 'eksport.xlsx', line: 1, column: 3 });
  });
});

describe('wrong encoding', () => {
  it('UTF-16 files are recognised by their BOM and can be read with utf-16le', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('nr;nazwa\nA;Łódź\n', 'utf16le')]);
    const err = await expectError(parseCsv(utf16, { file: 'u16.csv' }), 'FORMAT_ENCODING_UTF16');
    expect(err.hint).toContain('utf-16le');
    const doc = await parseCsv(utf16, { encoding: 'utf-16le' });
    expect(doc.roots[0]!.children[0]!.fields.nazwa!.value).toBe('Łódź');
  });

  it('a CP852 file read as UTF-8 names the line and suggests cp852', async () => {
    const err = await expectError(parseFixedWidth({ path: join(fixtures, 'faktury-stale-cp852.txt') }, { fields: [{ name: 'a', start: 1, length: 1 }], file: 'stare.txt' }), 'FORMAT_ENCODING_INVALID_UTF8');
    expect(err.context).toMatchObject({ file: 'stare.txt', line: 1 });
    expect(err.hint).toContain('cp852');
  });

  it('invalid UTF-8 in an IDoc flat file and in XML is reported with line and column', async () => {
    const flat = readFileSync(join(fixtures, 'invoic02-flat.txt'));
    const broken = Buffer.from(flat);
    const at = broken.indexOf(Buffer.from('Toruń'));
    broken[at + 4] = 0xf1; // "ń" as Windows-1250 byte in a UTF-8 file
    broken[at + 5] = 0x20;
    const err = await expectError(parseIdocFlat(broken, { file: 'x.idoc' }), 'FORMAT_ENCODING_INVALID_UTF8');
    expect(err.context.line).toBe(4);
    expect(err.context.column).toBe(flat.toString('utf8').split('\r\n')[3]!.indexOf('Toruń') + 5);
    await expectError(parseXml(Buffer.from([0x3c, 0x61, 0x3e, 0xb3, 0xf3, 0x3c, 0x2f, 0x61, 0x3e]), { file: 'x.xml' }), 'FORMAT_ENCODING_INVALID_UTF8');
  });

  it('unsupported encodings are configuration errors', async () => {
    await expectError(parseCsv('a\n', { encoding: 'ebcdic' as 'utf-8' }), 'FORMAT_ENCODING_UNSUPPORTED');
    await expectError(parseXml(Buffer.from('<?xml version="1.0" encoding="Shift_JIS"?><a/>')), 'FORMAT_ENCODING_UNSUPPORTED');
  });
});

describe('truncated files', () => {
  it('CSV cut inside a quoted value', async () => {
    const err = await expectError(parseCsv('nr;opis\nA;"Śruba M8\nB;x\n', { file: 'cut.csv' }), 'FORMAT_CSV_QUOTE_NOT_CLOSED');
    expect(err.context.line).toBe(2);
  });

  it('UTF-8 file cut inside a multi-byte character', async () => {
    const b = Buffer.from('nr;nazwa\nA;Łódź', 'utf8');
    const err = await expectError(parseCsv(b.subarray(0, b.length - 1), { file: 'cut.csv' }), 'FORMAT_ENCODING_INVALID_UTF8');
    expect(err.context.line).toBe(2);
    expect(err.message).toContain('truncated');
  });

  it('XML and JSON cut in the middle', async () => {
    const xml = readFileSync(join(fixtures, 'erp-export.xml'), 'utf8');
    const err = await expectError(parseXml(xml.slice(0, Math.floor(xml.length / 2)), { file: 'cut.xml' }), 'FORMAT_XML_SYNTAX');
    expect(err.message).toContain('truncated');
    const json = readFileSync(join(fixtures, 'erp-export.json'), 'utf8');
    const j = await expectError(parseJson(json.slice(0, 400), { file: 'cut.json' }), 'FORMAT_JSON_SYNTAX');
    expect(j.context.line).toBeGreaterThan(1);
  });

  it('IDoc flat file cut inside the administrative part of a record, or inside the control record', async () => {
    const flat = readFileSync(join(fixtures, 'invoic02-flat.txt'), 'utf8');
    const lines = flat.split('\r\n');
    const cut = lines.slice(0, 10).join('\r\n') + '\r\n' + lines[10]!.slice(0, 40);
    const err = await expectError(parseIdocFlat(cut, { file: 'cut.idoc' }), 'FORMAT_IDOC_RECORD_LENGTH');
    expect(err.context.line).toBe(11);
    const ctl = await expectError(parseIdocFlat(lines[0]!.slice(0, 300), { file: 'cut.idoc' }), 'FORMAT_IDOC_CONTROL_RECORD_LENGTH');
    expect(ctl.context.line).toBe(1);
    expect(ctl.hint).toContain('tolerateShortControlRecord');
    const ok = await parseIdocFlat(lines[0]!.trimEnd(), { tolerateShortControlRecord: true });
    expect(ok.roots).toHaveLength(1);
  });

  it('IDoc-XML cut in the middle', async () => {
    const xml = readFileSync(join(fixtures, 'invoic02-idoc.xml'), 'utf8');
    await expectError(parseIdocXml(xml.slice(0, 1500), { file: 'cut.xml' }), 'FORMAT_XML_SYNTAX');
  });
});

describe('IDoc record structure', () => {
  const flat = () => readFileSync(join(fixtures, 'invoic02-flat.txt'), 'utf8').split('\r\n');

  it('a data record longer than 1063 characters names the line', async () => {
    const lines = flat();
    lines[6] = lines[6]!.padEnd(1064, 'X');
    const err = await expectError(parseIdocFlat(lines.join('\n'), { file: 'long.idoc' }), 'FORMAT_IDOC_RECORD_LENGTH');
    expect(err.context).toMatchObject({ file: 'long.idoc', line: 7 });
    expect(err.message).toContain('1064');
  });

  it('a control record longer than 524 characters names the line', async () => {
    const lines = flat();
    lines[0] = lines[0]! + 'X';
    const err = await expectError(parseIdocFlat(lines.join('\n'), { file: 'long.idoc' }), 'FORMAT_IDOC_RECORD_LENGTH');
    expect(err.context.line).toBe(1);
  });

  it('records not separated by line breaks (one long line) are refused, not buffered forever', async () => {
    const oneLine = writeIdocFlat([{ control: { DOCNUM: '1' }, segments: Array.from({ length: 200 }, () => ({ name: 'E1EDK01', fields: { CURCY: 'PLN' } })) }]).replace(/\n/g, '');
    await expectError(parseIdocFlat(oneLine, { file: 'noeol.idoc' }), /^FORMAT_(IDOC_RECORD_LENGTH|LINE_TOO_LONG)$/);
  });

  it('a file without control record', async () => {
    const lines = flat();
    const err = await expectError(parseIdocFlat(lines.slice(1).join('\n'), { file: 'nocontrol.idoc' }), 'FORMAT_IDOC_MISSING_CONTROL_RECORD');
    expect(err.context.line).toBe(1);
    await expectError(parseIdocFlat('', { file: 'empty.idoc' }), 'FORMAT_IDOC_EMPTY');
  });

  it('a record with a corrupt administrative part', async () => {
    const lines = flat();
    lines[3] = lines[3]!.slice(0, 49) + 'ABCDEF' + lines[3]!.slice(55);
    const err = await expectError(parseIdocFlat(lines.join('\n'), { file: 'bad.idoc' }), 'FORMAT_IDOC_RECORD');
    expect(err.context.line).toBe(4);
  });

  it('a CSV file given as an IDoc is refused at line 1', async () => {
    const err = await expectError(parseIdocFlat({ path: join(fixtures, 'naglowki.csv') }), /^FORMAT_IDOC_/);
    expect(err.context.line).toBe(1);
  });

  it('unknown segments are kept, never an error', async () => {
    const text = writeIdocFlat([{ control: { DOCNUM: '7' }, segments: [{ name: 'ZE1FOO', sdata: 'abc' }, { name: 'E2EDK99001', sdata: 'x' }] }]);
    const doc = await parseIdocFlat(text);
    expect(doc.roots[0]!.children.map((c) => [c.name, c.rawName, c.unknown, c.fields.SDATA?.value])).toEqual([
      ['EDI_DC40', undefined, undefined, undefined],
      ['ZE1FOO', undefined, true, 'abc'],
      ['E1EDK99', 'E2EDK99001', true, 'x'],
    ]);
  });
});

describe('XML bombs and external entities', () => {
  const laughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol9;</lolz>`;
  const xxe = `<?xml version="1.0"?><!DOCTYPE INVOIC02 [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<INVOIC02><IDOC BEGIN="1"><EDI_DC40 SEGMENT="1"><DOCNUM>&xxe;</DOCNUM></EDI_DC40></IDOC></INVOIC02>`;

  it('billion laughs is refused before parsing, with the DOCTYPE line', async () => {
    const err = await expectError(parseXml(laughs, { file: 'bomb.xml' }), 'FORMAT_XML_DOCTYPE');
    expect(err.context).toMatchObject({ file: 'bomb.xml', line: 2, column: 1 });
  });

  it('external entities are refused in XML and IDoc-XML', async () => {
    await expectError(parseXml(xxe, { file: 'xxe.xml' }), 'FORMAT_XML_DOCTYPE');
    await expectError(parseIdocXml(xxe, { file: 'xxe.xml' }), 'FORMAT_XML_DOCTYPE');
    await expectError(parseDocument(Buffer.from(xxe), { format: 'idoc' }), 'FORMAT_XML_DOCTYPE');
  });

  it('a DOCTYPE after a comment that looks like an element is still refused', async () => {
    const err = await expectError(parseXml('<!-- <a> -->\n<!doctype x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'), 'FORMAT_XML_DOCTYPE');
    expect(err.context.line).toBe(2);
  });

  it('entity references without a DOCTYPE are not expanded', async () => {
    await expectError(parseXml('<a>&lol9;</a>'), 'FORMAT_XML_ENTITY');
  });

  it('deep nesting is refused without exhausting the stack', async () => {
    await expectError(parseXml('<a>'.repeat(100_000) + '</a>'.repeat(100_000)), 'FORMAT_XML_TOO_DEEP');
    await expectError(parseXml('<a>'.repeat(50) + '</a>'.repeat(50), { maxDepth: 10 }), 'FORMAT_XML_TOO_DEEP');
    const unclosed = await expectError(parseXml('<a>'.repeat(100_000)), 'FORMAT_XML_SYNTAX');
    expect(unclosed.message.length).toBeLessThan(300);
    await expectError(parseJson('['.repeat(100_000) + ']'.repeat(100_000)), 'FORMAT_JSON_TOO_DEEP');
  });
});

describe('pathological but well-formed input', () => {
  it('JSON with tens of thousands of distinct and repeated keys finishes', async () => {
    const parts: string[] = [];
    for (let i = 0; i < 30_000; i++) parts.push(`"k${i}": ${i}`);
    for (let i = 0; i < 30_000; i++) parts.push(`"k0": ${i}`);
    const doc = await parseJson(`{${parts.join(',')}}`);
    expect(doc.roots[0]!.fields.k0!.value).toBe('29999');
    expect(Object.keys(doc.roots[0]!.fields)).toHaveLength(30_000);
  });

  it('XML with a hundred thousand siblings finishes', async () => {
    const doc = await parseXml(`<r>${'<i a="1">x</i>'.repeat(100_000)}</r>`);
    expect(doc.roots[0]!.children).toHaveLength(100_000);
  });
});

describe('size limits and missing files', () => {
  it('XML, JSON and IDoc-XML over maxBytes are refused before reading', async () => {
    const p = join(tmp, 'big.xml');
    writeFileSync(p, `<a>${'x'.repeat(2_000_000)}</a>`);
    const err = await expectError(parseXml({ path: p }, { maxBytes: 1_000_000 }), 'FORMAT_FILE_TOO_LARGE');
    expect(err.context.file).toBe(p);
    await expectError(parseJson({ path: p }, { maxBytes: 1_000_000 }), 'FORMAT_FILE_TOO_LARGE');
    await expectError(parseIdocXml(Buffer.alloc(2_000_000, 0x20), { maxBytes: 1_000_000 }), 'FORMAT_FILE_TOO_LARGE');
    async function* stream() {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(300_000, 0x20);
    }
    await expectError(parseJson(stream(), { maxBytes: 1_000_000 }), 'FORMAT_FILE_TOO_LARGE');
  });

  it('missing files and directories', async () => {
    const err = await expectError(parseCsv({ path: join(tmp, 'nope.csv') }), 'FORMAT_READ_FAILED');
    expect(err.context.file).toBe(join(tmp, 'nope.csv'));
    const dir = join(tmp, 'adir');
    mkdirSync(dir);
    await expectError(parseIdocFlat({ path: dir }), 'FORMAT_READ_FAILED');
    await expectError(parseDocument({ path: join(tmp, 'nope.idoc') }, { format: 'idoc' }), 'FORMAT_READ_FAILED');
  });

  it('a runaway quote in a CSV stops at the record size limit', async () => {
    const text = 'nr;opis\nA;"' + 'x'.repeat(3_000_000) + '\nB;y\n';
    await expectError(parseCsv(text, { file: 'q.csv' }), /^FORMAT_CSV_(RECORD_TOO_LARGE|QUOTE_NOT_CLOSED)$/);
  });
});

describe('100 MB files', () => {
  it('a 100 MB CSV is streamed invoice by invoice', async () => {
    const p = join(tmp, 'big.csv');
    const lines = await writeBig(
      p,
      'NrFaktury;Lp;Nazwa;Ilosc;Cena;Vat\n',
      (i) => `FV/${Math.floor(i / 5)};${(i % 5) + 1};Towar ${i} – żółta gęś;${i % 7},5;1 234,56;23\n`,
      100 * 1024 * 1024,
    );
    let groups = 0;
    let rows = 0;
    let lastKey = '';
    for await (const g of iterateCsv({ path: p }, { groupBy: 'NrFaktury' })) {
      groups++;
      rows += g.children.length;
      lastKey = g.fields['#key']!.value;
    }
    expect(rows).toBe(lines);
    expect(groups).toBe(Math.ceil(lines / 5));
    expect(lastKey).toBe(`FV/${Math.floor((lines - 1) / 5)}`);
  });

  it('a 100 MB IDoc flat file is streamed IDoc by IDoc', async () => {
    const one = readFileSync(join(fixtures, 'invoic02-flat.txt'), 'utf8');
    const p = join(tmp, 'big.idoc');
    const copies = await writeBig(p, '', () => one, 100 * 1024 * 1024);
    let idocs = 0;
    let items = 0;
    for await (const idoc of iterateIdocFlat({ path: p })) {
      idocs++;
      items += idoc.children.filter((c) => c.name === 'E1EDP01').length;
    }
    expect(idocs).toBe(copies * 2);
    expect(items).toBe(copies * 4);
  });

  it('a 100 MB XML or JSON file is refused by the default size limit', async () => {
    const p = join(tmp, 'big.json');
    await writeBig(p, '[', (i) => `{"n": ${i}},`, 100 * 1024 * 1024);
    await expectError(parseJson({ path: p }), 'FORMAT_FILE_TOO_LARGE');
    await expectError(parseXml({ path: p }), 'FORMAT_FILE_TOO_LARGE');
  });
});
