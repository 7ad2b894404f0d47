/** Shared setup of the dispatcher tests: FA(3) invoices, a ksef.ini in a temp dir, the emulator. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInvoice, writeFa3, type InvoiceInput } from '../../src/invoice/index.js';
import { nip } from '../invoice/fixtures/invoices.js';

export { nip };

export const SELLER_A = nip('526104082');
export const SELLER_B = nip('951234567');
export const BUYER = nip('774000145');
export const TOKEN_A = 'dispatch-test-token-A-0123456789abcdef0123';
export const TOKEN_B = 'dispatch-test-token-B-0123456789abcdef4567';

export function invoiceInput(number: string, o: { sellerNip?: string; padding?: number } = {}): InvoiceInput {
  const input: InvoiceInput = {
    number,
    issueDate: '2026-01-20',
    createdAt: '2026-01-20T09:30:00Z',
    systemInfo: 'ksef-bridge dispatch tests',
    currency: 'PLN',
    seller: {
      nip: o.sellerNip ?? SELLER_A,
      name: 'Przedsiębiorstwo Testowe Sp. z o.o.',
      address: { countryCode: 'PL', line1: 'ul. Świętokrzyska 12/4', line2: '00-916 Warszawa' },
    },
    buyer: { id: { kind: 'nip', nip: BUYER }, name: 'Nabywca S.A.', address: { countryCode: 'PL', line1: 'ul. Piotrkowska 100', line2: '90-001 Łódź' } },
    saleDate: '2026-01-19',
    lines: [{ name: 'Usługa doradcza', unit: 'h', quantity: '10', unitNetPrice: '150.00', vatRate: '23' }],
  };
  if (o.padding) {
    const notes: { key: string; value: string }[] = [];
    for (let left = o.padding; left > 0; left -= 250) notes.push({ key: 'pad', value: 'x'.repeat(Math.min(250, left)) });
    input.notes = notes;
  }
  return input;
}

/** FA(3) XML of a valid invoice with this number. */
export function fa3(number: string, o: { sellerNip?: string; padding?: number } = {}): string {
  const r = createInvoice(invoiceInput(number, o));
  if (!r.invoice) throw new Error(`fixture invoice ${number} is invalid: ${JSON.stringify(r.issues)}`);
  return writeFa3(r.invoice);
}

/** An invoice over KSeF's 1 MB limit (valid otherwise): bulk in an extra XML comment-free element. */
export function oversizeFa3(number: string, o: { sellerNip?: string } = {}): string {
  const xml = fa3(number, o);
  // StopkaFaktury/Informacje/StopkaFaktury holds up to 3500 characters each; many of them push the size past 1 MB
  const block = `<Informacje><StopkaFaktury>${'y'.repeat(3400)}</StopkaFaktury></Informacje>`;
  const stopka = `<Stopka>${block.repeat(320)}</Stopka>`;
  return xml.replace('</Faktura>', `${stopka}</Faktura>`);
}

/** An invoice KSeF's XSD refuses (an unknown element inside Fa). */
export function xsdInvalidFa3(number: string, o: { sellerNip?: string } = {}): string {
  return fa3(number, o).replace('<KodWaluty>', '<Nieznany>1</Nieznany><KodWaluty>');
}

export interface TempDir {
  dir: string;
  remove(): void;
}

export function tempDir(prefix = 'ksef-dispatch-'): TempDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface IniOptions {
  emulatorUrl: string;
  sessionMode?: 'immediate' | 'batch';
  autoBatchThreshold?: number;
  maxInvoices?: number;
  format?: 'zip' | 'tar.gz';
  companies?: { name: string; nip: string; tokenEnv: string }[];
  logFile?: string;
}

/** Writes ksef.ini (tokens from environment variables) and returns its path. */
export function writeIni(dir: string, o: IniOptions): string {
  const companies = o.companies ?? [{ name: 'a', nip: SELLER_A, tokenEnv: 'KSEF_TOKEN_A' }];
  const lines = [
    '[ksef]',
    'environment = emulator',
    `emulator_url = ${o.emulatorUrl}/v2`,
    `session_mode = ${o.sessionMode ?? 'immediate'}`,
    `auto_batch_threshold = ${o.autoBatchThreshold ?? 5}`,
    'request_timeout = 10s',
    '',
    '[batch]',
    `max_invoices = ${o.maxInvoices ?? 10000}`,
    'max_wait = 1s',
    'max_package_size = 1GB',
    `format = ${o.format ?? 'zip'}`,
    '',
    '[paths]',
    `data_dir = ${dir}`,
    `database = ${join(dir, 'bridge.db')}`,
    '',
    '[log]',
    'level = debug',
    `file = ${o.logFile ?? 'off'}`,
    'console = off',
  ];
  for (const c of companies) lines.push('', `[company:${c.name}]`, `nip = ${c.nip}`, `token_env = ${c.tokenEnv}`, 'environment = emulator');
  const path = join(dir, 'ksef.ini');
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
  return path;
}

export const TOKEN_ENV = { KSEF_TOKEN_A: TOKEN_A, KSEF_TOKEN_B: TOKEN_B };

/** Many distinct valid invoices fast: one template, the number replaced. */
export function manyFa3(count: number, prefix: string, o: { sellerNip?: string } = {}): string[] {
  const marker = `${prefix}/000000000`;
  const template = fa3(marker, o);
  const out: string[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = template.replace(marker, `${prefix}/${String(i + 1).padStart(9, '0')}`);
  return out;
}

export type { DispatchProgress as DispatchProgressLike } from '../../src/dispatch/index.js';
