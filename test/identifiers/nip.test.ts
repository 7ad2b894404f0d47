import { describe, expect, it } from 'vitest';
import { isValidNip, nipCheckDigit, normalizeNip } from '../../src/identifiers/index.js';

describe('NIP', () => {
  it('accepts NIPs with a correct check digit', () => {
    for (const nip of ['5260181596', '5261040828', '7740001454']) expect(isValidNip(nip), nip).toBe(true);
  });
  it('rejects a wrong check digit, wrong lengths and non-digits', () => {
    for (const nip of ['5260181597', '526018159', '52601815966', '526018159A', '']) expect(isValidNip(nip), nip).toBe(false);
  });
  it('computes the check digit, and none where the weighted sum gives 10', () => {
    expect(nipCheckDigit('526018159')).toBe(6);
    // some nine-digit prefixes give a weighted sum of 10 mod 11: no check digit can complete them
    const prefix = Array.from({ length: 1000 }, (_, i) => String(100000000 + i)).find((p) => nipCheckDigit(p) === undefined);
    expect(prefix).toBeDefined();
    for (let d = 0; d <= 9; d++) expect(isValidNip(`${prefix}${d}`)).toBe(false);
  });
  it('normalises separators and the PL prefix', () => {
    expect(normalizeNip('PL 526-018-15-96')).toBe('5260181596');
  });
});
