/**
 * The emulator's state in its own SQLite database (a file, or ':memory:'): keys, tokens, challenges,
 * authentication operations, sessions, batch parts, invoices and UPO pages. Separate from the bridge's store.
 */
import Database from 'better-sqlite3';
import { StoreError } from '../../errors/index.js';

export type Db = Database.Database;

const SCHEMA_VERSION = 1;

const DDL = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subjects (
  nip TEXT PRIMARY KEY, subject_type TEXT NOT NULL, description TEXT, attachments_allowed INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS ksef_tokens (
  reference_number TEXT PRIMARY KEY, token TEXT NOT NULL UNIQUE, nip TEXT NOT NULL, permissions TEXT NOT NULL,
  description TEXT NOT NULL, status TEXT NOT NULL, created_ms INTEGER NOT NULL, last_use_ms INTEGER);
CREATE TABLE IF NOT EXISTS challenges (
  challenge TEXT PRIMARY KEY, timestamp_ms INTEGER NOT NULL, client_ip TEXT NOT NULL, used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS auth_ops (
  reference_number TEXT PRIMARY KEY, context_type TEXT NOT NULL, context_value TEXT NOT NULL, method TEXT NOT NULL,
  start_ms INTEGER NOT NULL, ready_ms INTEGER NOT NULL, status_code INTEGER NOT NULL, status_description TEXT NOT NULL,
  status_details TEXT, token_ref TEXT, permissions TEXT NOT NULL DEFAULT '[]', redeemed INTEGER NOT NULL DEFAULT 0,
  refresh_jti TEXT, refresh_valid_until_ms INTEGER, last_refresh_ms INTEGER, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sessions (
  reference_number TEXT PRIMARY KEY, kind TEXT NOT NULL, nip TEXT NOT NULL, auth_ref TEXT NOT NULL, token_ref TEXT,
  form_code TEXT NOT NULL, aes_key BLOB, iv BLOB NOT NULL, status_code INTEGER NOT NULL, status_description TEXT NOT NULL,
  status_details TEXT, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, valid_until_ms INTEGER,
  closed_ms INTEGER, offline_mode INTEGER NOT NULL DEFAULT 0, batch_meta TEXT, upload_deadline_ms INTEGER,
  due_ms INTEGER, invoice_count INTEGER NOT NULL DEFAULT 0, ok_count INTEGER NOT NULL DEFAULT 0,
  failed_count INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS sessions_nip ON sessions(nip, kind, created_ms);
CREATE TABLE IF NOT EXISTS batch_parts (
  session_ref TEXT NOT NULL, ordinal INTEGER NOT NULL, data BLOB NOT NULL, uploaded_ms INTEGER NOT NULL,
  PRIMARY KEY (session_ref, ordinal));
CREATE TABLE IF NOT EXISTS invoices (
  reference_number TEXT PRIMARY KEY, session_ref TEXT NOT NULL, ordinal INTEGER NOT NULL,
  status_code INTEGER NOT NULL, status_description TEXT NOT NULL, status_details TEXT, status_extensions TEXT,
  invoice_hash TEXT NOT NULL, invoice_size INTEGER NOT NULL, file_name TEXT, encrypted BLOB, xml BLOB,
  ksef_number TEXT UNIQUE, invoice_number TEXT, seller_nip TEXT, buyer_nip TEXT, invoice_kind TEXT, issue_date TEXT,
  offline_mode INTEGER NOT NULL DEFAULT 0, invoicing_ms INTEGER NOT NULL, acquisition_ms INTEGER, storage_ms INTEGER,
  due_ms INTEGER, form_code TEXT);
CREATE INDEX IF NOT EXISTS invoices_session ON invoices(session_ref, ordinal);
CREATE INDEX IF NOT EXISTS invoices_pending ON invoices(due_ms) WHERE due_ms IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS invoices_unique ON invoices(seller_nip, invoice_kind, invoice_number) WHERE ksef_number IS NOT NULL;
CREATE INDEX IF NOT EXISTS invoices_buyer ON invoices(buyer_nip, acquisition_ms) WHERE ksef_number IS NOT NULL;
CREATE INDEX IF NOT EXISTS invoices_storage ON invoices(storage_ms) WHERE ksef_number IS NOT NULL;
CREATE TABLE IF NOT EXISTS context_limits (nip TEXT PRIMARY KEY, limits TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS upo_pages (
  reference_number TEXT PRIMARY KEY, session_ref TEXT NOT NULL, page INTEGER NOT NULL, xml BLOB NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS upo_pages_session ON upo_pages(session_ref, page);
`;

export function openDb(file: string): Db {
  let db: Db;
  try {
    db = new Database(file);
  } catch (e) {
    throw new StoreError('EMULATOR_DB_OPEN', `cannot open the emulator database ${file}: ${(e as Error).message}`, { file });
  }
  if (file !== ':memory:') db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = OFF');
  db.exec(DDL);
  const v = db.prepare<[], { value: string }>(`SELECT value FROM meta WHERE key = 'schema_version'`).get();
  if (!v) db.prepare(`INSERT INTO meta (key, value) VALUES ('schema_version', ?)`).run(String(SCHEMA_VERSION));
  else if (Number(v.value) > SCHEMA_VERSION) {
    db.close();
    throw new StoreError('EMULATOR_DB_VERSION', `the emulator database ${file} was written by a newer version (schema ${v.value})`, { file });
  }
  return db;
}

export function getMeta(db: Db, key: string): string | undefined {
  return db.prepare<[string], { value: string }>(`SELECT value FROM meta WHERE key = ?`).get(key)?.value;
}

export function setMeta(db: Db, key: string, value: string): void {
  db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(key, value);
}

export interface SessionRow {
  reference_number: string;
  kind: 'online' | 'batch';
  nip: string;
  auth_ref: string;
  token_ref: string | null;
  form_code: string;
  aes_key: Buffer | null;
  iv: Buffer;
  status_code: number;
  status_description: string;
  status_details: string | null;
  created_ms: number;
  updated_ms: number;
  valid_until_ms: number | null;
  closed_ms: number | null;
  offline_mode: number;
  batch_meta: string | null;
  upload_deadline_ms: number | null;
  due_ms: number | null;
  invoice_count: number;
  /** Invoices processed with success / with an error (kept by the processor; cheap to read while polling). */
  ok_count: number;
  failed_count: number;
}

export interface InvoiceRow {
  reference_number: string;
  session_ref: string;
  ordinal: number;
  status_code: number;
  status_description: string;
  status_details: string | null;
  status_extensions: string | null;
  invoice_hash: string;
  invoice_size: number;
  file_name: string | null;
  encrypted: Buffer | null;
  xml: Buffer | null;
  ksef_number: string | null;
  invoice_number: string | null;
  seller_nip: string | null;
  buyer_nip: string | null;
  invoice_kind: string | null;
  issue_date: string | null;
  offline_mode: number;
  invoicing_ms: number;
  acquisition_ms: number | null;
  storage_ms: number | null;
  due_ms: number | null;
  form_code: string | null;
}

export interface AuthOpRow {
  reference_number: string;
  context_type: string;
  context_value: string;
  method: string;
  start_ms: number;
  ready_ms: number;
  status_code: number;
  status_description: string;
  status_details: string | null;
  token_ref: string | null;
  permissions: string;
  redeemed: number;
  refresh_jti: string | null;
  refresh_valid_until_ms: number | null;
  last_refresh_ms: number | null;
  revoked: number;
}

export interface TokenRow {
  reference_number: string;
  token: string;
  nip: string;
  permissions: string;
  description: string;
  status: string;
  created_ms: number;
  last_use_ms: number | null;
}
