/**
 * Schema migrations, numbered and applied in order at open, each recorded in
 * schema_migrations. Never edit a published migration: add a new one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const DOCUMENT_STATES_SQL = "'received','mapped','validated','queued','sending','accepted','confirmed','invalid','rejected','offline'";

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'documents and their state history',
    sql: `
CREATE TABLE documents (
  id                  INTEGER PRIMARY KEY,
  source              TEXT NOT NULL,
  source_ref          TEXT,
  content_hash        TEXT NOT NULL,
  company_nip         TEXT,
  invoice_number      TEXT,
  seller_nip          TEXT,
  state               TEXT NOT NULL CHECK (state IN (${DOCUMENT_STATES_SQL})),
  xml                 TEXT,
  attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error_code     TEXT,
  last_error_message  TEXT,
  last_error_details  TEXT,
  ksef_number         TEXT,
  session_ref         TEXT,
  invoice_ref         TEXT,
  offline_mode        TEXT CHECK (offline_mode IS NULL OR offline_mode IN ('offline24','offline','emergency')),
  offline_deadline    TEXT,
  created_at          TEXT NOT NULL,
  updated_at          TEXT NOT NULL,
  UNIQUE (source, content_hash)
);
CREATE INDEX documents_by_state ON documents (state, id);
CREATE INDEX documents_by_hash ON documents (content_hash);
CREATE INDEX documents_by_ksef_number ON documents (ksef_number) WHERE ksef_number IS NOT NULL;
CREATE INDEX documents_by_session ON documents (session_ref) WHERE session_ref IS NOT NULL;

CREATE TABLE document_events (
  id           INTEGER PRIMARY KEY,
  document_id  INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
  from_state   TEXT CHECK (from_state IS NULL OR from_state IN (${DOCUMENT_STATES_SQL})),
  to_state     TEXT NOT NULL CHECK (to_state IN (${DOCUMENT_STATES_SQL})),
  at           TEXT NOT NULL,
  reason       TEXT,
  details      TEXT
);
CREATE INDEX document_events_by_document ON document_events (document_id, id);
`,
  },
  {
    version: 2,
    name: 'KSeF sessions, UPOs, sync checkpoints, rate limit events',
    sql: `
CREATE TABLE ksef_sessions (
  id                INTEGER PRIMARY KEY,
  reference_number  TEXT NOT NULL UNIQUE,
  kind              TEXT NOT NULL CHECK (kind IN ('online','batch')),
  company_nip       TEXT NOT NULL,
  environment       TEXT NOT NULL,
  state             TEXT NOT NULL,
  valid_until       TEXT,
  details           TEXT,
  opened_at         TEXT NOT NULL,
  closed_at         TEXT,
  updated_at        TEXT NOT NULL
);
CREATE INDEX ksef_sessions_by_state ON ksef_sessions (state, id);

CREATE TABLE upos (
  id            INTEGER PRIMARY KEY,
  document_id   INTEGER REFERENCES documents (id) ON DELETE SET NULL,
  session_ref   TEXT,
  ksef_number   TEXT,
  invoice_ref   TEXT,
  xml           TEXT NOT NULL,
  received_at   TEXT NOT NULL
);
CREATE INDEX upos_by_document ON upos (document_id) WHERE document_id IS NOT NULL;
CREATE INDEX upos_by_session ON upos (session_ref) WHERE session_ref IS NOT NULL;

CREATE TABLE sync_checkpoints (
  name        TEXT PRIMARY KEY,
  value       TEXT NOT NULL,
  details     TEXT,
  updated_at  TEXT NOT NULL
);

CREATE TABLE rate_limit_events (
  id              INTEGER PRIMARY KEY,
  endpoint        TEXT NOT NULL,
  at              TEXT NOT NULL,
  status          INTEGER,
  retry_after_ms  INTEGER,
  details         TEXT
);
CREATE INDEX rate_limit_events_by_endpoint ON rate_limit_events (endpoint, at);
`,
  },
  {
    version: 3,
    name: 'UPO entries: each document of a batch session linked to its Dokument entry on a session UPO page',
    sql: `
CREATE TABLE upo_entries (
  document_id       INTEGER PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
  upo_id            INTEGER NOT NULL REFERENCES upos (id) ON DELETE CASCADE,
  position          INTEGER NOT NULL CHECK (position >= 1),
  ksef_number       TEXT NOT NULL,
  invoice_number    TEXT,
  invoice_hash      TEXT,
  seller_nip        TEXT,
  received_at       TEXT,
  acquisition_date  TEXT
);
CREATE INDEX upo_entries_by_upo ON upo_entries (upo_id, position);
`,
  },
];
