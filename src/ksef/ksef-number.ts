/**
 * KSeF number (faktury/numer-ksef.md): `NIP-YYYYMMDD-XXXXXXXXXXXX-CC`, 35 characters, where CC is
 * CRC-8 (polynomial 0x07, initial value 0x00) of the first 32 characters, two upper-case hex digits.
 */
const KSEF_NUMBER = /^(\d{10})-(\d{8})-([0-9A-F]{12})-([0-9A-F]{2})$/;

export function crc8(data: Uint8Array): number {
  let crc = 0;
  for (const b of data) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

export interface KsefNumberParts {
  nip: string;
  /** YYYYMMDD */
  date: string;
  technical: string;
  checksum: string;
}

/** Parses and verifies a KSeF number; undefined when the format or the checksum is wrong. */
export function parseKsefNumber(value: string): KsefNumberParts | undefined {
  const m = KSEF_NUMBER.exec(value);
  if (!m) return undefined;
  const expected = crc8(Buffer.from(value.slice(0, 32), 'ascii')).toString(16).toUpperCase().padStart(2, '0');
  if (expected !== m[4]) return undefined;
  return { nip: m[1]!, date: m[2]!, technical: m[3]!, checksum: m[4]! };
}

export function isValidKsefNumber(value: string): boolean {
  return parseKsefNumber(value) !== undefined;
}
