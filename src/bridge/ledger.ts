/**
 * What the bridge keeps next to the store's documents, in the same SQLite file (so a source file's record and its
 * documents are written in one transaction): each source file taken (route, mapping, claim, outcome, report),
 * each invoice of it (position, ERP key, source line, the document it became or why it did not), and the result
 * files owed to the ERP. Tables are prefixed bridge_ and created idempotently (the store's own migrations are
 * not touched).
 */
import type Database from 'better-sqlite3';
import type { Store } from '../store/index.js';

const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** A prepared statement, prepared once per connection (preparing costs more than running a small query). */
export function stmt(store: Store, sql: string): Database.Statement {
  let m = statements.get(store.db);
  if (!m) {
    m = new Map();
    statements.set(store.db, m);
  }
  let s = m.get(sql);
  if (!s) {
    s = store.db.prepare(sql);
    m.set(sql, s);
  }
  return s;
}

export const LEDGER_SQL = `
CREATE TABLE IF NOT EXISTS bridge_files (
  id               INTEGER PRIMARY KEY,
  route            TEXT NOT NULL,
  source           TEXT NOT NULL,
  claim_id         TEXT NOT NULL,
  name             TEXT NOT NULL,
  sha256           TEXT NOT NULL,
  size             INTEGER NOT NULL,
  mapping          TEXT NOT NULL,
  origin           TEXT,
  received_at      TEXT NOT NULL,
  processed_at     TEXT NOT NULL,
  outcome          TEXT NOT NULL,
  duplicate_of     INTEGER,
  invoices         INTEGER NOT NULL,
  valid            INTEGER NOT NULL,
  report           TEXT,
  results_version  INTEGER NOT NULL DEFAULT 0,
  results_written  INTEGER NOT NULL DEFAULT 0,
  results_name     TEXT,
  results_error    TEXT,
  results_tries    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS bridge_files_by_hash ON bridge_files (route, sha256);
CREATE INDEX IF NOT EXISTS bridge_files_by_claim ON bridge_files (claim_id);
CREATE INDEX IF NOT EXISTS bridge_files_results ON bridge_files (results_written, results_version);
CREATE INDEX IF NOT EXISTS bridge_files_by_result_name ON bridge_files (route, results_name) WHERE results_name IS NOT NULL;
CREATE TABLE IF NOT EXISTS bridge_invoices (
  file_id        INTEGER NOT NULL REFERENCES bridge_files (id) ON DELETE CASCADE,
  position       INTEGER NOT NULL,
  invoice_key    TEXT NOT NULL,
  line           INTEGER,
  document_id    INTEGER REFERENCES documents (id) ON DELETE SET NULL,
  already_known  INTEGER NOT NULL DEFAULT 0,
  error_code     TEXT,
  error_message  TEXT,
  PRIMARY KEY (file_id, position)
);
CREATE INDEX IF NOT EXISTS bridge_invoices_by_document ON bridge_invoices (document_id) WHERE document_id IS NOT NULL;
`;

export function ensureLedger(store: Store): void {
  store.db.exec(LEDGER_SQL);
}

export interface FileRow {
  id: number;
  route: string;
  source: string;
  claim_id: string;
  name: string;
  sha256: string;
  size: number;
  mapping: string;
  origin: string | null;
  received_at: string;
  processed_at: string;
  outcome: 'done' | 'failed' | 'duplicate';
  duplicate_of: number | null;
  invoices: number;
  valid: number;
  report: string | null;
  results_version: number;
  results_written: number;
  results_name: string | null;
  results_error: string | null;
  results_tries: number;
}

export interface InvoiceRow {
  file_id: number;
  position: number;
  invoice_key: string;
  line: number | null;
  document_id: number | null;
  already_known: number;
  error_code: string | null;
  error_message: string | null;
}

export function fileByClaim(store: Store, claimId: string, sha256: string): FileRow | undefined {
  return stmt(store, 'SELECT * FROM bridge_files WHERE claim_id = ? AND sha256 = ? ORDER BY id DESC LIMIT 1').get(claimId, sha256) as FileRow | undefined;
}

export function firstFileWithHash(store: Store, route: string, sha256: string): FileRow | undefined {
  return stmt(store, `SELECT * FROM bridge_files WHERE route = ? AND sha256 = ? AND outcome != 'duplicate' ORDER BY id LIMIT 1`).get(route, sha256) as FileRow | undefined;
}

export function fileById(store: Store, id: number): FileRow | undefined {
  return stmt(store, 'SELECT * FROM bridge_files WHERE id = ?').get(id) as FileRow | undefined;
}

export function invoicesOfFile(store: Store, fileId: number): InvoiceRow[] {
  return stmt(store, 'SELECT * FROM bridge_invoices WHERE file_id = ? ORDER BY position').all(fileId) as InvoiceRow[];
}

/** Files (and invoice rows) a document belongs to, oldest first. */
export function filesOfDocument(store: Store, documentId: number): { file: FileRow; invoice: InvoiceRow }[] {
  const rows = stmt(store, 'SELECT * FROM bridge_invoices WHERE document_id = ? ORDER BY file_id').all(documentId) as InvoiceRow[];
  return rows.map((invoice) => ({ file: fileById(store, invoice.file_id)!, invoice }));
}
