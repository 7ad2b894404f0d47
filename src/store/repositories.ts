import type Database from 'better-sqlite3';
import { StoreError } from '../errors/index.js';
import { fromJson, toJson } from './documents.js';

export type SessionKind = 'online' | 'batch';

export interface SessionRecord {
  id: number;
  referenceNumber: string;
  kind: SessionKind;
  companyNip: string;
  environment: string;
  /** Free text chosen by the dispatcher (e.g. open, closing, closed, failed). */
  state: string;
  validUntil: string | null;
  details: unknown;
  openedAt: string;
  closedAt: string | null;
  updatedAt: string;
}

export interface NewSession {
  referenceNumber: string;
  kind: SessionKind;
  companyNip: string;
  environment: string;
  /** Default 'open'. */
  state?: string;
  validUntil?: string | null;
  details?: unknown;
}

export interface SessionUpdate {
  state?: string;
  validUntil?: string | null;
  details?: unknown;
  closedAt?: string | null;
}

interface SessionRow {
  id: number;
  reference_number: string;
  kind: SessionKind;
  company_nip: string;
  environment: string;
  state: string;
  valid_until: string | null;
  details: string | null;
  opened_at: string;
  closed_at: string | null;
  updated_at: string;
}

function sessionRecord(r: SessionRow): SessionRecord {
  return {
    id: r.id,
    referenceNumber: r.reference_number,
    kind: r.kind,
    companyNip: r.company_nip,
    environment: r.environment,
    state: r.state,
    validUntil: r.valid_until,
    details: fromJson(r.details),
    openedAt: r.opened_at,
    closedAt: r.closed_at,
    updatedAt: r.updated_at,
  };
}

/** KSeF sessions (interactive and batch) the bridge opened. */
export class SessionRepository {
  constructor(
    private readonly db: Database.Database,
    private readonly now: () => string,
  ) {}

  insert(session: NewSession): SessionRecord {
    const at = this.now();
    try {
      this.db
        .prepare(
          `INSERT INTO ksef_sessions (reference_number, kind, company_nip, environment, state, valid_until, details, opened_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(session.referenceNumber, session.kind, session.companyNip, session.environment, session.state ?? 'open', session.validUntil ?? null, toJson(session.details), at, at);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new StoreError('STORE_DUPLICATE_SESSION', `session ${session.referenceNumber} is already stored`, { details: { referenceNumber: session.referenceNumber } }, { cause: err });
      }
      throw err;
    }
    return this.require(session.referenceNumber);
  }

  get(referenceNumber: string): SessionRecord | undefined {
    const r = this.db.prepare('SELECT * FROM ksef_sessions WHERE reference_number = ?').get(referenceNumber) as SessionRow | undefined;
    return r ? sessionRecord(r) : undefined;
  }

  require(referenceNumber: string): SessionRecord {
    const r = this.get(referenceNumber);
    if (!r) throw new StoreError('STORE_SESSION_NOT_FOUND', `session ${referenceNumber} is not in the store`, { details: { referenceNumber } });
    return r;
  }

  update(referenceNumber: string, update: SessionUpdate): SessionRecord {
    const sets = ['updated_at = @at'];
    const params: Record<string, unknown> = { at: this.now(), ref: referenceNumber };
    if (update.state !== undefined) {
      sets.push('state = @state');
      params.state = update.state;
    }
    if (update.validUntil !== undefined) {
      sets.push('valid_until = @validUntil');
      params.validUntil = update.validUntil;
    }
    if (update.details !== undefined) {
      sets.push('details = @details');
      params.details = toJson(update.details);
    }
    if (update.closedAt !== undefined) {
      sets.push('closed_at = @closedAt');
      params.closedAt = update.closedAt;
    }
    const info = this.db.prepare(`UPDATE ksef_sessions SET ${sets.join(', ')} WHERE reference_number = @ref`).run(params);
    if (info.changes === 0) this.require(referenceNumber);
    return this.require(referenceNumber);
  }

  listByState(state: string | readonly string[], options: { companyNip?: string; limit?: number } = {}): SessionRecord[] {
    const states = typeof state === 'string' ? [state] : [...state];
    if (states.length === 0) return [];
    const params: unknown[] = [...states];
    let sql = `SELECT * FROM ksef_sessions WHERE state IN (${states.map(() => '?').join(',')})`;
    if (options.companyNip !== undefined) {
      sql += ' AND company_nip = ?';
      params.push(options.companyNip);
    }
    sql += ` ORDER BY id LIMIT ${Math.max(0, Math.floor(options.limit ?? 1000))}`;
    return (this.db.prepare(sql).all(...params) as SessionRow[]).map(sessionRecord);
  }
}

export interface UpoRecord {
  id: number;
  documentId: number | null;
  sessionRef: string | null;
  ksefNumber: string | null;
  invoiceRef: string | null;
  xml: string;
  receivedAt: string;
}

export interface NewUpo {
  documentId?: number | null;
  sessionRef?: string | null;
  ksefNumber?: string | null;
  invoiceRef?: string | null;
  xml: string;
}

interface UpoRow {
  id: number;
  document_id: number | null;
  session_ref: string | null;
  ksef_number: string | null;
  invoice_ref: string | null;
  xml: string;
  received_at: string;
}

function upoRecord(r: UpoRow): UpoRecord {
  return {
    id: r.id,
    documentId: r.document_id,
    sessionRef: r.session_ref,
    ksefNumber: r.ksef_number,
    invoiceRef: r.invoice_ref,
    xml: r.xml,
    receivedAt: r.received_at,
  };
}

/**
 * A document's `Dokument` entry on a session UPO page (UPO v4-3): which page (upoId) and which entry on it.
 * The page itself is stored once, exactly as received (a UPO is a legal document: never rewritten).
 */
export interface UpoEntryLink {
  documentId: number;
  upoId: number;
  /** 1-based position of the entry among the page's Dokument elements. */
  position: number;
  /** NumerKSeFDokumentu. */
  ksefNumber: string;
  /** NumerFaktury. */
  invoiceNumber?: string | null;
  /** SkrotDokumentu (SHA-256, Base64). */
  invoiceHash?: string | null;
  /** NipSprzedawcy. */
  sellerNip?: string | null;
  /** DataPrzeslaniaDokumentu. */
  receivedAt?: string | null;
  /** DataNadaniaNumeruKSeF. */
  acquisitionDate?: string | null;
}

/** The UPO of a document: its own (interactive session) or the session UPO page naming it (batch session). */
export interface DocumentUpo {
  upo: UpoRecord;
  /** For a session UPO page: this document's entry on it; null for a UPO of this document alone. */
  entry: UpoEntryLink | null;
}

interface UpoEntryRow {
  document_id: number;
  upo_id: number;
  position: number;
  ksef_number: string;
  invoice_number: string | null;
  invoice_hash: string | null;
  seller_nip: string | null;
  received_at: string | null;
  acquisition_date: string | null;
}

function entryRecord(r: UpoEntryRow): UpoEntryLink {
  return {
    documentId: r.document_id,
    upoId: r.upo_id,
    position: r.position,
    ksefNumber: r.ksef_number,
    invoiceNumber: r.invoice_number,
    invoiceHash: r.invoice_hash,
    sellerNip: r.seller_nip,
    receivedAt: r.received_at,
    acquisitionDate: r.acquisition_date,
  };
}

/** UPOs (official acknowledgements), per invoice or per session. */
export class UpoRepository {
  constructor(
    private readonly db: Database.Database,
    private readonly now: () => string,
  ) {}

  get(id: number): UpoRecord | undefined {
    const r = this.db.prepare('SELECT * FROM upos WHERE id = ?').get(id) as UpoRow | undefined;
    return r ? upoRecord(r) : undefined;
  }

  /**
   * Links documents to their entries on session UPO pages (one statement prepared once; call it inside the
   * transaction that stores the pages). A document linked again gets the new link.
   */
  linkEntries(links: readonly UpoEntryLink[]): void {
    const ins = this.db.prepare(
      `INSERT INTO upo_entries (document_id, upo_id, position, ksef_number, invoice_number, invoice_hash, seller_nip, received_at, acquisition_date)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (document_id) DO UPDATE SET upo_id = excluded.upo_id, position = excluded.position, ksef_number = excluded.ksef_number,
         invoice_number = excluded.invoice_number, invoice_hash = excluded.invoice_hash, seller_nip = excluded.seller_nip,
         received_at = excluded.received_at, acquisition_date = excluded.acquisition_date`,
    );
    for (const l of links) {
      if (!Number.isInteger(l.position) || l.position < 1) {
        throw new StoreError('STORE_BAD_UPO_ENTRY', `UPO entry position of document ${l.documentId} must be a positive integer`, { document: String(l.documentId), field: 'position', value: String(l.position) });
      }
      ins.run(l.documentId, l.upoId, l.position, l.ksefNumber, l.invoiceNumber ?? null, l.invoiceHash ?? null, l.sellerNip ?? null, l.receivedAt ?? null, l.acquisitionDate ?? null);
    }
  }

  /** The document's entry on a session UPO page, if it has one. */
  entryForDocument(documentId: number): UpoEntryLink | undefined {
    const r = this.db.prepare('SELECT * FROM upo_entries WHERE document_id = ?').get(documentId) as UpoEntryRow | undefined;
    return r ? entryRecord(r) : undefined;
  }

  /**
   * The UPO to hand out for a document: its own UPO (the newest), else the session UPO page its entry is on.
   * Undefined when neither is stored.
   */
  forDocumentOrPage(documentId: number): DocumentUpo | undefined {
    const own = this.forDocument(documentId).at(-1);
    if (own) return { upo: own, entry: null };
    const entry = this.entryForDocument(documentId);
    const page = entry ? this.get(entry.upoId) : undefined;
    return entry && page ? { upo: page, entry } : undefined;
  }

  insert(upo: NewUpo): UpoRecord {
    const info = this.db
      .prepare('INSERT INTO upos (document_id, session_ref, ksef_number, invoice_ref, xml, received_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(upo.documentId ?? null, upo.sessionRef ?? null, upo.ksefNumber ?? null, upo.invoiceRef ?? null, upo.xml, this.now());
    return upoRecord(this.db.prepare('SELECT * FROM upos WHERE id = ?').get(Number(info.lastInsertRowid)) as UpoRow);
  }

  forDocument(documentId: number): UpoRecord[] {
    return (this.db.prepare('SELECT * FROM upos WHERE document_id = ? ORDER BY id').all(documentId) as UpoRow[]).map(upoRecord);
  }

  forSession(sessionRef: string): UpoRecord[] {
    return (this.db.prepare('SELECT * FROM upos WHERE session_ref = ? ORDER BY id').all(sessionRef) as UpoRow[]).map(upoRecord);
  }
}

export interface CheckpointRecord {
  name: string;
  value: string;
  details: unknown;
  updatedAt: string;
}

/** Named high-water marks for incremental synchronisation (e.g. "5260181596:subject2"). */
export class CheckpointRepository {
  constructor(
    private readonly db: Database.Database,
    private readonly now: () => string,
  ) {}

  get(name: string): CheckpointRecord | undefined {
    const r = this.db.prepare('SELECT * FROM sync_checkpoints WHERE name = ?').get(name) as
      | { name: string; value: string; details: string | null; updated_at: string }
      | undefined;
    return r ? { name: r.name, value: r.value, details: fromJson(r.details), updatedAt: r.updated_at } : undefined;
  }

  set(name: string, value: string, details?: unknown): CheckpointRecord {
    this.db
      .prepare(
        `INSERT INTO sync_checkpoints (name, value, details, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, details = excluded.details, updated_at = excluded.updated_at`,
      )
      .run(name, value, toJson(details), this.now());
    const r = this.get(name);
    if (!r) throw new StoreError('STORE_CHECKPOINT_LOST', `checkpoint ${name} was not stored`);
    return r;
  }

  list(): CheckpointRecord[] {
    return (this.db.prepare('SELECT name FROM sync_checkpoints ORDER BY name').all() as { name: string }[])
      .map((r) => this.get(r.name))
      .filter((r): r is CheckpointRecord => r !== undefined);
  }
}

export interface RateLimitEventRecord {
  id: number;
  endpoint: string;
  at: string;
  status: number | null;
  retryAfterMs: number | null;
  details: unknown;
}

export interface NewRateLimitEvent {
  endpoint: string;
  /** Default now. */
  at?: Date;
  status?: number | null;
  retryAfterMs?: number | null;
  details?: unknown;
}

interface RateRow {
  id: number;
  endpoint: string;
  at: string;
  status: number | null;
  retry_after_ms: number | null;
  details: string | null;
}

/** KSeF calls and 429 answers, so the rate limiter's windows survive a restart. */
export class RateLimitEventRepository {
  constructor(
    private readonly db: Database.Database,
    private readonly now: () => string,
  ) {}

  record(event: NewRateLimitEvent): RateLimitEventRecord {
    const info = this.db
      .prepare('INSERT INTO rate_limit_events (endpoint, at, status, retry_after_ms, details) VALUES (?, ?, ?, ?, ?)')
      .run(event.endpoint, event.at ? event.at.toISOString() : this.now(), event.status ?? null, event.retryAfterMs ?? null, toJson(event.details));
    const r = this.db.prepare('SELECT * FROM rate_limit_events WHERE id = ?').get(Number(info.lastInsertRowid)) as RateRow;
    return { id: r.id, endpoint: r.endpoint, at: r.at, status: r.status, retryAfterMs: r.retry_after_ms, details: fromJson(r.details) };
  }

  /** Events for an endpoint at or after `since`, oldest first. */
  since(endpoint: string, since: Date): RateLimitEventRecord[] {
    return (this.db.prepare('SELECT * FROM rate_limit_events WHERE endpoint = ? AND at >= ? ORDER BY at, id').all(endpoint, since.toISOString()) as RateRow[]).map((r) => ({
      id: r.id,
      endpoint: r.endpoint,
      at: r.at,
      status: r.status,
      retryAfterMs: r.retry_after_ms,
      details: fromJson(r.details),
    }));
  }

  /** Deletes events older than `before`; returns how many. */
  prune(before: Date): number {
    return this.db.prepare('DELETE FROM rate_limit_events WHERE at < ?').run(before.toISOString()).changes;
  }
}
