import { describe, expect, it } from 'vitest';
import { normalizeNumber, parseDecimal, parseSapDate, parseSapNumber, parseSapTime } from '../../src/formats/index.js';

describe('parseDecimal / normalizeNumber', () => {
  it.each([
    ['1 234,50', '1234.50'],
    ['1\u00a0234\u00a0567,5', '1234567.5'],
    ['1.234,56', '1234.56'],
    ['1,234.56', '1234.56'],
    ['0,45', '0.45'],
    ['-12,00', '-12.00'],
    ['12,00-', '-12.00'],
    ['+7', '7'],
    ['007', '7'],
    [',5', '0.5'],
    ['-0,00', '0.00'],
    ["1'000'000.25", '1000000.25'],
  ])('normalizes %j to %s', (raw, expected) => {
    expect(normalizeNumber(raw)).toBe(expected);
  });

  it('honours an explicit decimal separator', () => {
    expect(normalizeNumber('1.234', { decimal: ',' })).toBe('1234');
    expect(normalizeNumber('1,234', { decimal: '.' })).toBe('1234');
    expect(normalizeNumber('1,234', { decimal: ',' })).toBe('1.234');
  });

  it.each([
    ['1.2.3', 'more than one decimal separator'],
    ['12a', 'not part of a number'],
    ['', 'empty'],
    ['-', 'no digits'],
    ['1 23,00', 'misplaced thousands separator'],
    ['12 345.678,9', 'mixes different thousands separators'],
    ['1e5', 'not part of a number'],
  ])('rejects %j with a reason', (raw, reason) => {
    const r = parseDecimal(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });

  it('accepts parentheses as negative only when asked', () => {
    expect(normalizeNumber('(15,00)', { parentheses: true })).toBe('-15.00');
    expect(normalizeNumber('(15,00)')).toBeUndefined();
  });

  it('disallows thousands separators when thousands is empty', () => {
    expect(normalizeNumber('1 000', { thousands: '' })).toBeUndefined();
  });
});

describe('SAP conventions', () => {
  it('reads trailing minus numbers', () => {
    expect(parseSapNumber('123.45-')).toEqual({ ok: true, value: '-123.45' });
    expect(parseSapNumber('  1500.00 ')).toEqual({ ok: true, value: '1500.00' });
    expect(parseSapNumber('1,500.00').ok).toBe(false);
  });

  it('reads dates YYYYMMDD', () => {
    expect(parseSapDate('20260305')).toEqual({ ok: true, value: '2026-03-05' });
    expect(parseSapDate('20240229')).toEqual({ ok: true, value: '2024-02-29' });
    expect(parseSapDate('00000000')).toEqual({ ok: true, value: undefined });
    expect(parseSapDate('        ')).toEqual({ ok: true, value: undefined });
    expect(parseSapDate('20250229').ok).toBe(false);
    expect(parseSapDate('2026-03-05').ok).toBe(false);
    expect(parseSapDate('20261301').ok).toBe(false);
  });

  it('reads times HHMMSS', () => {
    expect(parseSapTime('101502')).toEqual({ ok: true, value: '10:15:02' });
    expect(parseSapTime('246000').ok).toBe(false);
  });
});
