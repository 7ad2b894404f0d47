/** Starting an emulator for a test file, and small shared helpers. */
import crypto from 'node:crypto';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../../src/emulator/index.js';
import { KsefTestClient, type Tokens } from './client.js';

export const SELLER_NIP = '5265877635';
export const BUYER_NIP = '7980332920';
export const OTHER_NIP = '3755747347';
export const SELLER_TOKEN = 'seller-ksef-token-0001';
export const OTHER_TOKEN = 'other-ksef-token-0002';

export const FORM_CODE = { systemCode: 'FA (3)', schemaVersion: '1-0E', value: 'FA' };

export interface TestEnv {
  emu: RunningEmulator;
  client: KsefTestClient;
  /** Moves the emulator's clock (only when started with `fakeClock`). */
  advance(ms: number): void;
}

export async function startTestEmulator(options: EmulatorOptions & { fakeClock?: boolean } = {}): Promise<TestEnv> {
  let offset = 0;
  const { fakeClock, ...rest } = options;
  const emu = await startEmulator({
    logger: null,
    tokens: [
      { nip: SELLER_NIP, token: SELLER_TOKEN },
      { nip: OTHER_NIP, token: OTHER_TOKEN },
    ],
    ...(fakeClock ? { now: () => Date.now() + offset } : {}),
    ...rest,
  });
  const client = new KsefTestClient(emu.url);
  await client.loadCertificates();
  return {
    emu,
    client,
    advance: (ms) => {
      offset += ms;
    },
  };
}

export async function sellerTokens(client: KsefTestClient): Promise<Tokens> {
  return client.authenticate(SELLER_NIP, SELLER_TOKEN);
}

/** Today in Polish time (the emulator's acceptance date) minus `days`. */
export function polishDate(daysFromToday = 0): string {
  const d = new Date(Date.now() + daysFromToday * 86_400_000);
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Warsaw' }).format(d);
}

export const uniqueNumber = (prefix: string): string => `${prefix}/${crypto.randomBytes(4).toString('hex')}`;

/** CRC-8 (poly 0x07, init 0x00) written here independently of the emulator, from faktury/numer-ksef.md. */
export function crc8Hex(s: string): string {
  let crc = 0;
  for (const byte of Buffer.from(s, 'ascii')) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = (crc & 0x80 ? (crc << 1) ^ 0x07 : crc << 1) & 0xff;
  }
  return crc.toString(16).toUpperCase().padStart(2, '0');
}

export function checkKsefNumber(n: string, sellerNip: string): boolean {
  const m = /^(\d{10})-(\d{8})-([0-9A-F]{12})-([0-9A-F]{2})$/.exec(n);
  return !!m && n.length === 35 && m[1] === sellerNip && crc8Hex(n.slice(0, 32)) === m[4];
}
