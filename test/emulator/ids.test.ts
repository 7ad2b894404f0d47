import { describe, expect, it } from 'vitest';
import { crc8, isValidKsefNumber } from '../../src/emulator/index.js';
import { checkKsefNumber, crc8Hex } from './helpers/setup.js';

describe('KSeF number checksum (faktury/numer-ksef.md)', () => {
  it('matches the official examples', () => {
    // from numer-ksef.md and the official UPO examples
    for (const n of ['5265877635-20250826-0100001AF629-AF', '5265877635-20250916-0200A0D6723E-C2', '5265877635-20250916-010040741B3E-46']) {
      expect(crc8Hex(n.slice(0, 32))).toBe(n.slice(33));
      expect(crc8(n.slice(0, 32)).toString(16).toUpperCase().padStart(2, '0')).toBe(n.slice(33));
      expect(isValidKsefNumber(n)).toBe(true);
      expect(checkKsefNumber(n, '5265877635')).toBe(true);
    }
  });

  it('rejects a wrong checksum, length or lower-case hex', () => {
    expect(isValidKsefNumber('5265877635-20250826-0100001AF629-AE')).toBe(false);
    expect(isValidKsefNumber('5265877635-20250826-0100001af629-AF')).toBe(false);
    expect(isValidKsefNumber('5265877635-20250826-0100001AF62-AF')).toBe(false);
  });
});
