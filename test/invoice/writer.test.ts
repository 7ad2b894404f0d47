import { describe, expect, it } from 'vitest';
import { type Invoice, checkInvoice, createInvoice, readFa3, writeFa3 } from '../../src/invoice/index.js';
import { getXsdValidator } from '../../src/schemas/index.js';
import { FIXTURES } from './fixtures/invoices.js';

interface Xsd {
  validate(xml: string | Uint8Array): { valid: boolean; issues: { message: string; line: number }[] };
}
const xsd = getXsdValidator('fa3') as unknown as Xsd;

function build(name: string): Invoice {
  const r = createInvoice(FIXTURES[name]!);
  if (!r.invoice) throw new Error(`${name}: ${JSON.stringify(r.issues, null, 1)}`);
  return r.invoice;
}

describe('FA(3) writer: varied invoices pass the official XSD and round-trip', () => {
  const names = Object.keys(FIXTURES);
  it('has at least 25 varied invoices', () => {
    expect(names.length).toBeGreaterThanOrEqual(25);
  });

  for (const name of names) {
    it(`${name}: valid XSD, lossless round trip, same output through xmlbuilder2`, () => {
      const inv = build(name);
      const xml = writeFa3(inv);
      const r = xsd.validate(xml);
      expect(r.issues).toEqual([]);
      expect(r.valid).toBe(true);
      const back = readFa3(xml);
      expect(back).toStrictEqual(inv);
      expect(writeFa3(inv, { engine: 'xmlbuilder2' })).toBe(xml);
      // No structural error, and no semantic error for these well-formed business cases.
      expect(checkInvoice(inv, { today: '2026-02-01' }).filter((i) => i.severity === 'error')).toEqual([]);
    });
  }
});

describe('FA(3) writer output form', () => {
  const xml = writeFa3(build('basic'));
  it('is UTF-8 text without BOM, with a UTF-8 declaration and no other processing instruction or DOCTYPE', () => {
    expect(xml.charCodeAt(0)).not.toBe(0xfeff);
    expect(Buffer.from(xml, 'utf8').subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf]))).toBe(false);
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    expect(xml.match(/<\?/g)).toHaveLength(1);
    expect(xml).not.toMatch(/<!DOCTYPE|<!--/);
  });

  it('writes the header the schema fixes', () => {
    expect(xml).toContain('<KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza>');
    expect(xml).toContain('<WariantFormularza>3</WariantFormularza>');
    expect(xml).toContain('<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">');
  });

  it('orders Podmiot1, Podmiot2, Podmiot3, PodmiotUpowazniony, Fa, Stopka, Zalacznik', () => {
    const x = writeFa3(build('third-parties'));
    const pos = ['<Podmiot1>', '<Podmiot2>', '<Podmiot3>', '<PodmiotUpowazniony>', '<Fa>'].map((t) => x.indexOf(t));
    expect(pos.every((p) => p > 0)).toBe(true);
    expect([...pos].sort((a, b) => a - b)).toEqual(pos);
  });

  it('escapes markup characters in text', () => {
    const inv = build('attachment');
    const x = writeFa3(inv);
    expect(x).toContain('&amp; znakami &lt;specjalnymi&gt;');
    expect(readFa3(x).attachment?.blocks[0]?.paragraphs?.[1]).toBe('Akapit drugi z „cudzysłowem” & znakami <specjalnymi>.');
  });

  it('uses the current time for DataWytworzeniaFa when the invoice has none', () => {
    const inv = build('basic');
    delete inv.createdAt;
    const x = writeFa3(inv, { now: new Date('2026-01-21T10:11:12.345Z') });
    expect(x).toContain('<DataWytworzeniaFa>2026-01-21T10:11:12Z</DataWytworzeniaFa>');
    expect(xsd.validate(x).valid).toBe(true);
  });

  it('writes a compact document when asked', () => {
    const x = writeFa3(build('basic'), { pretty: false });
    expect(x.trim().split('\n')).toHaveLength(1);
    expect(xsd.validate(x).valid).toBe(true);
  });
});

describe('characters KSeF rejects', () => {
  it('createInvoice strips control characters (with a warning) and the result is valid', () => {
    const r = createInvoice({ ...FIXTURES.basic!, lines: [{ name: 'Usługa\u0001 z\u0007 kontrolnymi\u0085 i \u0090 znakami', quantity: '1', unitNetPrice: '1', vatRate: '23' }] });
    expect(r.invoice).toBeDefined();
    expect(r.issues.map((i) => [i.code, i.path])).toContainEqual(['INV_CHARS_REMOVED', 'lines[0].name']);
    const x = writeFa3(r.invoice!);
    expect(xsd.validate(x).valid).toBe(true);
    expect(r.invoice!.lines[0]!.name).toBe('Usługa z kontrolnymi\u0085 i znakami');
  });

  it('createInvoice rejects noncharacters with a clear error', () => {
    const r = createInvoice({ ...FIXTURES.basic!, number: 'FV\uFFFE1' });
    expect(r.invoice).toBeUndefined();
    expect(r.issues[0]).toMatchObject({ code: 'INV_CHARS', path: 'number', severity: 'error' });
    expect(r.issues[0]!.message).toContain('U+FFFE');
  });

  it('the writer refuses a model with a forbidden character that bypassed createInvoice', () => {
    const inv = build('basic');
    inv.number = 'FV\u0002';
    expect(() => writeFa3(inv)).toThrowError(/U\+0002/);
  });
});
