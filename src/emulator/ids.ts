/** Identifiers KSeF hands out: reference numbers, KSeF numbers, and the CRC-8 both use. */
import crypto from 'node:crypto';

/** CRC-8 with polynomial 0x07 and initial value 0x00 (faktury/numer-ksef.md). */
export function crc8(data: string | Uint8Array): number {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let crc = 0;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

/** Random bytes from a pooled buffer: one syscall per 64 KiB instead of one per identifier. */
let pool = Buffer.alloc(0);
let poolPos = 0;
function randomHex(bytes: number): string {
  if (poolPos + bytes > pool.length) {
    pool = crypto.randomBytes(65536);
    poolPos = 0;
  }
  const out = pool.toString('hex', poolPos, poolPos + bytes).toUpperCase();
  poolPos += bytes;
  return out;
}

const hex2 = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');

/** YYYYMMDD of a moment in Polish time (KSeF dates its numbers in Europe/Warsaw). */
const WARSAW = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Warsaw', year: 'numeric', month: '2-digit', day: '2-digit' });
let lastDay = { from: 0, to: -1, value: '' };

export function warsawDate(ms: number): string {
  // cached per hour bucket: formatting dates is the slowest part of numbering 10,000 invoices
  if (ms >= lastDay.from && ms <= lastDay.to) return lastDay.value;
  const value = WARSAW.format(new Date(ms)).replace(/-/g, '');
  const from = Math.floor(ms / 3_600_000) * 3_600_000; // Warsaw's offset is whole hours: a date never changes within one
  lastDay = { from, to: from + 3_599_999, value };
  return value;
}

/** YYYY-MM-DD of a moment in Polish time. */
export function warsawIsoDate(ms: number): string {
  const d = warsawDate(ms);
  return `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}`;
}

/**
 * Reference number in the official shape `YYYYMMDD-TT-XXXXXXXXXX-XXXXXXXXXX-CC` (36 characters), e.g.
 * `20250625-SO-2C3E6C8000-B675CF5D68-07`. TT is the kind: CR challenge, AU authentication, SO online session,
 * SB batch session, EE invoice, EU UPO page, TK KSeF token, EX exception.
 */
export function newReferenceNumber(kind: string, nowMs: number): string {
  const body = `${warsawDate(nowMs)}-${kind}-${randomHex(5)}-${randomHex(5)}`;
  return `${body}-${hex2(crc8(body))}`;
}

/**
 * KSeF number `NIP-YYYYMMDD-XXXXXXXXXXXX-CC` (35 characters): seller NIP, date of acceptance, 12 uppercase hex digits,
 * CRC-8 of the first 32 characters.
 */
export function newKsefNumber(sellerNip: string, nowMs: number): string {
  const data = `${sellerNip}-${warsawDate(nowMs)}-${randomHex(6)}`;
  return `${data}-${hex2(crc8(data))}`;
}

/** Validates a KSeF number as faktury/numer-ksef.md describes: 35 characters, CRC-8 of the first 32. */
export function isValidKsefNumber(n: string): boolean {
  if (!/^\d{10}-\d{8}-[0-9A-F]{12}-[0-9A-F]{2}$/.test(n)) return false;
  return hex2(crc8(n.slice(0, 32))) === n.slice(33);
}

/** NIP checksum (weights 6,5,7,2,3,4,5,6,7 mod 11). */
export function isValidNip(nip: string): boolean {
  if (!/^\d{10}$/.test(nip)) return false;
  const w = [6, 5, 7, 2, 3, 4, 5, 6, 7];
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(nip[i]) * (w[i] as number);
  const c = sum % 11;
  return c !== 10 && c === Number(nip[9]);
}

/** W3C-traceparent-like service code, as the real API puts in ExceptionResponse.serviceCode. */
export function newTraceId(): string {
  return crypto.randomBytes(16).toString('hex');
}
