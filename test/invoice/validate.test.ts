import { afterAll, describe, expect, it } from 'vitest';
import { type Invoice, closeValidationPool, createInvoice, validateFa3Xml, validateMany, validateManyParallel, writeFa3 } from '../../src/invoice/index.js';
import { FIXTURES } from './fixtures/invoices.js';

const TODAY = { today: '2026-02-01' };

function xmlOf(name: string, over: Partial<Invoice> = {}): string {
  const inv = createInvoice(FIXTURES[name]!).invoice!;
  return writeFa3({ ...inv, ...over });
}

function lineOf(xml: string, needle: string): number {
  return xml.slice(0, xml.indexOf(needle)).split('\n').length;
}

describe('validateFa3Xml', () => {
  it('accepts a valid invoice and returns the model', () => {
    const v = validateFa3Xml(xmlOf('basic'), TODAY);
    expect(v).toMatchObject({ valid: true, xsd: [], semantic: [] });
    expect(v.invoice?.number).toBe('FV/2026/01/001');
  });

  it('accepts bytes as well as text', () => {
    expect(validateFa3Xml(Buffer.from(xmlOf('basic'), 'utf8'), TODAY).valid).toBe(true);
  });

  it('reports an XSD issue with the line of the broken element: unknown rate', () => {
    const xml = xmlOf('basic').replace('<P_12>23</P_12>', '<P_12>24</P_12>');
    const v = validateFa3Xml(xml, TODAY);
    expect(v.valid).toBe(false);
    expect(v.xsd[0]).toMatchObject({ code: 'XSD', line: lineOf(xml, '<P_12>24') });
    expect(v.xsd[0]!.message).toMatch(/P_12/);
    // The reader then reports the same problem on the model field.
    expect(v.semantic).toContainEqual(expect.objectContaining({ code: 'INV_ENUM', path: 'lines[0].vatRate' }));
  });

  it('reports an XSD issue for elements out of order', () => {
    const good = xmlOf('basic');
    const xml = good.replace(/(\s*<P_2>[^<]*<\/P_2>)(\s*<P_1M>[^<]*<\/P_1M>)?/, '').replace('<KodWaluty>PLN</KodWaluty>', '<P_2>FV/2026/01/001</P_2>\n    <KodWaluty>PLN</KodWaluty>');
    const v = validateFa3Xml(xml, TODAY);
    expect(v.valid).toBe(false);
    expect(v.xsd[0]!.code).toBe('XSD');
    expect(v.xsd[0]!.line).toBe(lineOf(xml, '<P_2>'));
  });

  it('reports a missing required element (P_15)', () => {
    const xml = xmlOf('basic').replace(/\s*<P_15>[^<]*<\/P_15>/, '');
    const v = validateFa3Xml(xml, TODAY);
    expect(v.xsd.some((i) => i.code === 'XSD' && /P_15|Adnotacje/.test(i.message))).toBe(true);
  });

  it('reports text longer than the schema allows', () => {
    const xml = xmlOf('basic').replace('<P_7>Usługa doradcza</P_7>', `<P_7>${'x'.repeat(513)}</P_7>`);
    const v = validateFa3Xml(xml, TODAY);
    expect(v.xsd[0]).toMatchObject({ code: 'XSD', line: lineOf(xml, '<P_7>') });
    expect(v.semantic).toContainEqual(expect.objectContaining({ code: 'INV_LENGTH', path: 'lines[0].name' }));
  });

  it('reports a document that is not well-formed with its line', () => {
    const xml = xmlOf('basic').replace('</P_7>', '</P_77>');
    const v = validateFa3Xml(xml, TODAY);
    expect(v.valid).toBe(false);
    expect(v.xsd[0]!.line).toBe(lineOf(xml, '</P_77>'));
    expect(v.invoice).toBeUndefined();
  });

  it('passes the XSD but fails a semantic rule with its code', () => {
    const xml = xmlOf('basic').replace('<P_15>1845.00</P_15>', '<P_15>1845.01</P_15>');
    const v = validateFa3Xml(xml, TODAY);
    expect(v.xsd).toEqual([]);
    expect(v.valid).toBe(false);
    expect(v.semantic.map((i) => i.code)).toEqual(['SEM_GROSS_TOTAL_MISMATCH']);
    expect(validateFa3Xml(xmlOf('basic'), { today: '2026-01-19' }).semantic.map((i) => i.code)).toEqual(['SEM_ISSUE_DATE_FUTURE']);
  });

  it('gives semantic and structural issues the line of their element', () => {
    const inv = createInvoice(FIXTURES['all-rates']!).invoice!;
    const xml = writeFa3(inv).replace('<P_11>1.00</P_11>', '<P_11>1.01</P_11>').replace('<P_8B>2</P_8B>', '<P_8B>2.00000001</P_8B>');
    const v = validateFa3Xml(xml, TODAY);
    expect(v.semantic).toContainEqual(expect.objectContaining({ code: 'INV_PRECISION', path: 'lines[2].quantity', line: lineOf(xml, '<P_8B>2.00000001') }));
    const fixed = writeFa3(inv).replace('<P_11>1.00</P_11>', '<P_11>1.01</P_11>');
    const w = validateFa3Xml(fixed, TODAY);
    expect(w.semantic).toContainEqual(expect.objectContaining({ code: 'SEM_LINE_AMOUNT_MISMATCH', path: 'lines[0].netAmount', line: lineOf(fixed, '<P_11>1.01') }));
    expect(w.semantic).toContainEqual(expect.objectContaining({ code: 'SEM_TOTAL_RATE_MISMATCH', path: 'totals.groups.standard.net', line: lineOf(fixed, '<P_13_1>') }));
    // A line without the element points at the line itself, not at the next line's element.
    const noRate = createInvoice({
      ...FIXTURES.basic!,
      lines: [{ name: 'A', netAmount: '10.00', vatRate: '23' }, { name: 'B', netAmount: '5.00' }, { name: 'C', netAmount: '1.00', vatRate: '23' }],
      totals: { groups: { standard: { net: '11.00', vat: '2.53' } }, gross: '13.53' },
    }).invoice!;
    const x = writeFa3(noRate);
    const missing = validateFa3Xml(x, TODAY).semantic.find((i) => i.code === 'SEM_LINE_RATE_MISSING');
    expect(missing).toMatchObject({ path: 'lines[1].vatRate' });
    expect(missing!.line).toBe(lineOf(x, '<NrWierszaFa>2<') - 1);
  });

  it('KSeF document rules: BOM, foreign encoding, processing instructions, forbidden characters, size', () => {
    const xml = xmlOf('basic');
    const bom = validateFa3Xml(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(xml)]), TODAY);
    expect(bom.xsd.map((i) => i.code)).toEqual(['XML_BOM']);
    expect(validateFa3Xml(`\uFEFF${xml}`, TODAY).xsd.map((i) => i.code)).toEqual(['XML_BOM']);

    const enc = validateFa3Xml(xml.replace('encoding="UTF-8"', 'encoding="windows-1250"'), TODAY);
    expect(enc.xsd.map((i) => i.code)).toContain('XML_ENCODING');

    const latin2 = Buffer.from(xml.replace('Usługa', 'Us\u0142uga'), 'utf8');
    latin2[latin2.indexOf(0xc5)] = 0xb3; // a Windows-1250 "ł" byte in a UTF-8 file
    expect(validateFa3Xml(latin2, TODAY).xsd.map((i) => i.code)).toEqual(['XML_ENCODING']);

    const pi = xml.replace('<Naglowek>', '<?xml-stylesheet type="text/xsl" href="faktura.xsl"?>\n  <Naglowek>');
    const piResult = validateFa3Xml(pi, TODAY);
    expect(piResult.xsd.map((i) => i.code)).toEqual(['XML_PROCESSING_INSTRUCTION']);
    expect(piResult.xsd[0]!.line).toBe(3);

    const c1 = xml.replace('Usługa doradcza', 'Usługa\u0086doradcza');
    const c1Result = validateFa3Xml(c1, TODAY);
    expect(c1Result.xsd[0]).toMatchObject({ code: 'XML_FORBIDDEN_CHAR', line: lineOf(c1, '\u0086') });
    expect(c1Result.xsd[0]!.message).toContain('U+0086');

    const ref = xml.replace('Usługa doradcza', 'Usługa&#x86;doradcza');
    expect(validateFa3Xml(ref, TODAY).xsd[0]).toMatchObject({ code: 'XML_FORBIDDEN_CHAR', line: lineOf(ref, '&#x86;') });
    expect(validateFa3Xml(xml.replace('Usługa doradcza', 'Usługa&#134;doradcza'), TODAY).xsd[0]!.message).toContain('U+0086');
    expect(validateFa3Xml(xml.replace('Usługa doradcza', 'Usługa&#x85;doradcza'), TODAY).xsd).toEqual([]);

    const big = xml.replace('<SystemInfo>', `<!--${'x'.repeat(1_000_001)}-->\n    <SystemInfo>`);
    expect(validateFa3Xml(big, TODAY).xsd.map((i) => i.code)).toEqual(['XML_SIZE']);
  });
});

describe('validateMany', () => {
  it('validates a batch with one compiled schema and keeps results in order', () => {
    const good = xmlOf('basic');
    const bad = good.replace('<P_12>23</P_12>', '<P_12>99</P_12>');
    const results = validateMany([good, bad, xmlOf('all-rates'), xmlOf('foreign-eur')], TODAY);
    expect(results.map((r) => r.valid)).toEqual([true, false, true, true]);
    expect(results[1]!.xsd[0]!.code).toBe('XSD');
  });

  it('can skip the reader and semantic rules for raw XSD throughput', () => {
    const results = validateMany([xmlOf('basic').replace('<P_15>1845.00</P_15>', '<P_15>1.00</P_15>')], { ...TODAY, semantic: false });
    expect(results[0]).toEqual({ valid: true, xsd: [], semantic: [] });
  });
});

describe('validateManyParallel', () => {
  afterAll(async () => {
    await closeValidationPool();
  });

  it('gives the same results as validateMany, in input order, across worker threads', async () => {
    const good = xmlOf('basic');
    const xmls = Array.from({ length: 23 }, (_, i) => (i % 5 === 3 ? good.replace('<P_15>1845.00</P_15>', '<P_15>1845.01</P_15>') : i % 7 === 2 ? good.replace('<P_12>23</P_12>', '<P_12>9</P_12>') : good));
    const parallel = await validateManyParallel(xmls, { today: '2026-02-01', workers: 2, chunkSize: 4 });
    const serial = validateMany(xmls, { today: '2026-02-01' });
    expect(parallel).toEqual(serial);
    expect(parallel.map((r) => r.valid)).toEqual(xmls.map((x) => x === good));
  }, 60_000);

  it('validates in this thread for one worker or a small batch', async () => {
    const r = await validateManyParallel([xmlOf('basic')], { today: new Date('2026-02-01T12:00:00Z') });
    expect(r[0]!.valid).toBe(true);
  });
});
