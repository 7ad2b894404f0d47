import { describe, expect, it } from 'vitest';
import { Dec, computeTotals, createInvoice } from '../../src/invoice/index.js';
import { FIXTURES } from './fixtures/invoices.js';

const d = (s: string) => Dec.from(s);

describe('Dec: exact decimals with Polish rounding (half up, away from zero)', () => {
  it('parses and prints exactly', () => {
    expect(d('0.1').add(d('0.2')).toString()).toBe('0.3');
    expect(d('1234567890123456.78').add(d('0.01')).toFixed(2)).toBe('1234567890123456.79');
    expect(d('-0.5').toFixed(2)).toBe('-0.50');
    expect(d('+12.340').toString()).toBe('12.34');
    expect(d('5').toString(2)).toBe('5.00');
    expect(Dec.parse('1e5')).toBeUndefined();
    expect(Dec.parse('1,5')).toBeUndefined();
    expect(Dec.parse('')).toBeUndefined();
  });

  it('rounds .5 of the last digit up, and away from zero for negatives', () => {
    expect(d('0.005').toFixed(2)).toBe('0.01');
    expect(d('0.00499999').toFixed(2)).toBe('0.00');
    expect(d('-0.005').toFixed(2)).toBe('-0.01');
    expect(d('2.675').toFixed(2)).toBe('2.68'); // 2.675.toFixed(2) is "2.67" in floating point
    expect(d('1.005').toFixed(2)).toBe('1.01'); // 1.005.toFixed(2) is "1.00" in floating point
    expect(d('-0.004').toFixed(2)).toBe('0.00'); // never "-0.00"
  });

  it('3 x 0.333 is 0.999, rounded to 1.00', () => {
    const v = d('3').mul(d('0.333'));
    expect(v.toString()).toBe('0.999');
    expect(v.toFixed(2)).toBe('1.00');
  });

  it('23% of amounts that land on half a grosz', () => {
    // 0.50 x 23% = 0.115 -> 0.12; 1.50 x 23% = 0.345 -> 0.35; 2.50 x 23% = 0.575 -> 0.58
    expect(d('0.50').mul(d('23')).div(d('100'), 2).toFixed(2)).toBe('0.12');
    expect(d('1.50').mul(d('23')).div(d('100'), 2).toFixed(2)).toBe('0.35');
    expect(d('2.50').mul(d('23')).div(d('100'), 2).toFixed(2)).toBe('0.58');
    expect(d('-2.50').mul(d('23')).div(d('100'), 2).toFixed(2)).toBe('-0.58');
    // gross method: 12.30 gross at 23% contains 2.30 VAT exactly; 10.00 gross at 8% -> 0.7407.. -> 0.74
    expect(d('12.30').mul(d('23')).div(d('123'), 2).toFixed(2)).toBe('2.30');
    expect(d('10.00').mul(d('8')).div(d('108'), 2).toFixed(2)).toBe('0.74');
  });

  it('divides with rounding and refuses division by zero', () => {
    expect(d('10').div(d('3'), 4).toString()).toBe('3.3333');
    expect(d('-10').div(d('3'), 0).toString()).toBe('-3');
    expect(d('2').div(d('-3'), 2).toString()).toBe('-0.67');
    expect(() => d('1').div(d('0'), 2)).toThrow(RangeError);
  });

  it('compares across scales', () => {
    expect(d('1.10').eq(d('1.1'))).toBe(true);
    expect(d('1.1').cmp(d('1.09'))).toBe(1);
    expect(d('-1').cmp(d('0'))).toBe(-1);
  });
});

describe('totals computed from lines', () => {
  it('rounds VAT once per rate on the summed net (half up at .005)', () => {
    const lines = [
      { lineNumber: 1, quantity: '1', unitNetPrice: '0.50', vatRate: '23' as const },
      { lineNumber: 2, quantity: '1', unitNetPrice: '0.50', vatRate: '23' as const },
      { lineNumber: 3, quantity: '1', unitNetPrice: '2.50', vatRate: '23' as const },
    ];
    const t = computeTotals({ lines, currency: 'PLN', annotations: {} });
    // net 3.50 x 23% = 0.805 -> 0.81 (line by line: 0.12 + 0.12 + 0.58 = 0.82)
    expect(t.totals).toEqual({ groups: { standard: { net: '3.50', vat: '0.81' } }, gross: '4.31' });
    expect(t.perLineVat).toEqual({ standard: '0.82' });
  });

  it('line value: quantity x unit price - discount, rounded to the grosz', () => {
    const r = createInvoice({ ...FIXTURES.basic!, lines: [{ name: 'A', quantity: '3', unitNetPrice: '0.333', vatRate: '23' }, { name: 'B', quantity: '1.5', unitNetPrice: '9.99', discount: '0.10', vatRate: '8' }] });
    expect(r.invoice!.lines.map((l) => l.netAmount)).toEqual(['1.00', '14.89']); // 14.985 - 0.10 = 14.885 -> 14.89
    expect(r.invoice!.totals).toEqual({ groups: { standard: { net: '1.00', vat: '0.23' }, reduced1: { net: '14.89', vat: '1.19' } }, gross: '17.31' });
  });

  it('gross method: VAT extracted from the gross sum, net = gross - VAT', () => {
    const inv = createInvoice(FIXTURES['gross-method']!).invoice!;
    // 3 x 12.30 = 36.90 gross at 23% -> VAT 6.90, net 30.00; 10.80 - 0.80 = 10.00 gross at 8% -> VAT 0.74, net 9.26
    expect(inv.totals).toEqual({ groups: { standard: { net: '30.00', vat: '6.90' }, reduced1: { net: '9.26', vat: '0.74' } }, gross: '46.90' });
    expect(inv.lines.map((l) => l.grossAmount)).toEqual(['36.90', '10.00']);
  });

  it('uses the VAT stated on every line (P_11Vat) when all lines of a rate state it', () => {
    const t = computeTotals({
      lines: [
        { lineNumber: 1, netAmount: '0.50', vatAmount: '0.12', vatRate: '23' },
        { lineNumber: 2, netAmount: '0.50', vatAmount: '0.12', vatRate: '23' },
      ],
      currency: 'PLN',
      annotations: {},
    });
    expect(t.totals.groups.standard).toEqual({ net: '1.00', vat: '0.24' });
  });

  it('puts every rate in its FA(3) group, margin lines in P_13_11 and OSS lines in P_13_5', () => {
    const inv = createInvoice(FIXTURES['all-rates']!).invoice!;
    expect(Object.keys(inv.totals.groups)).toEqual(['standard', 'reduced1', 'reduced2', 'taxi', 'zeroDomestic', 'zeroIntraEu', 'zeroExport', 'exempt', 'outsideCountry', 'euServices']);
    // 23%: 3 x 0.333 = 1.00, 22%: 100.00 -> net 101.00; VAT 0.23 + 22.00 = 22.23
    expect(inv.totals.groups.standard).toEqual({ net: '101.00', vat: '22.23' });
    expect(createInvoice(FIXTURES['margin-travel']!).invoice!.totals).toEqual({ groups: { margin: { net: '2400.00' } }, gross: '2400.00' });
    expect(createInvoice(FIXTURES.oss!).invoice!.totals).toEqual({ groups: { oss: { net: '20.00', vat: '4.00' } }, gross: '24.00' });
  });
});
