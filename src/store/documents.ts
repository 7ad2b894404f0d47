import type Database from 'better-sqlite3';
import { StoreError } from '../errors/index.js';
import { redact, redactValue } from '../log/index.js';

/** The outbound document's life (DESIGN.md). */
export const DOCUMENT_STATES = [
  'received',
  'mapped',
  'validated',
  'queued',
  'sending',
  'accepted',
  'confirmed',
  'invalid',
  'rejected',
  'offline',
] as const;
export type DocumentState = (typeof DOCUMENT_STATES)[number];

/**
 * Allowed transitions. Besides the design card's arrows: queued -> invalid (found unsendable,
 * e.g. no company for its seller NIP), invalid -> received (reprocess after the mapping or
 * data was fixed) and rejected -> queued (an admin resends after the cause was fixed).
 */
export const DOCUMENT_TRANSITIONS: Readonly<Record<DocumentState, readonly DocumentState[]>> = {
  received: ['mapped', 'invalid'],
  mapped: ['validated', 'invalid'],
  validated: ['queued', 'invalid'],
  queued: ['sending', 'offline', 'invalid'],
  sending: ['accepted', 'rejected', 'queued'],
  accepted: ['confirmed'],
  confirmed: [],
  invalid: ['received'],
  rejected: ['queued'],
  offline: ['queued'],
};

/** States a document may be inserted in. */
export type InitialDocumentState = 'received' | 'mapped' | 'validated' | 'queued' | 'invalid';
const INITIAL_STATES: readonly DocumentState[] = ['received', 'mapped', 'validated', 'queued', 'invalid'];

export type OfflineMode = 'offline24' | 'offline' | 'emergency';

export interface DocumentError {
  code: string;
  message: string;
  details?: unknown;
}

export interface DocumentRecord {
  id: number;
  /** Where it came from (e.g. "folder:inbox", "sftp:erp1"); with contentHash its stable identity. */
  source: string;
  /** Locator inside the source (file name, record number), for people. */
  sourceRef: string | null;
  contentHash: string;
  companyNip: string | null;
  invoiceNumber: string | null;
  sellerNip: string | null;
  state: DocumentState;
  xml: string | null;
  /** Times the document entered `sending`. */
  attempts: number;
  lastError: DocumentError | null;
  ksefNumber: string | null;
  sessionRef: string | null;
  invoiceRef: string | null;
  offlineMode: OfflineMode | null;
  offlineDeadline: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewDocument {
  source: string;
  contentHash: string;
  sourceRef?: string | null;
  companyNip?: string | null;
  invoiceNumber?: string | null;
  sellerNip?: string | null;
  xml?: string | null;
  /** Default 'received'. */
  state?: InitialDocumentState;
  lastError?: DocumentError | null;
  /** Reason recorded on the creation event. */
  reason?: string;
}

/** Fields a transition (or patch) may change; undefined = unchanged, null = cleared. */
export interface DocumentPatch {
  sourceRef?: string | null;
  companyNip?: string | null;
  invoiceNumber?: string | null;
  sellerNip?: string | null;
  xml?: string | null;
  lastError?: DocumentError | null;
  ksefNumber?: string | null;
  sessionRef?: string | null;
  invoiceRef?: string | null;
  offlineMode?: OfflineMode | null;
  offlineDeadline?: string | null;
}

export interface DocumentEvent {
  id: number;
  documentId: number;
  /** null for the creation event. */
  from: DocumentState | null;
  to: DocumentState;
  at: string;
  reason: string | null;
  details: unknown;
}

export interface ListOptions {
  /** Default 100. */
  limit?: number;
  /** Only ids greater than this (paging). */
  afterId?: number;
  companyNip?: string;
  /** Default 'asc' (oldest first: FIFO). */
  order?: 'asc' | 'desc';
}

export interface InsertManyResult {
  /** Index in the input and new id, in input order. */
  inserted: { index: number; id: number }[];
  /** Inputs whose identity (source + content hash) was already stored. */
  duplicates: { index: number; existingId: number }[];
}

export interface TransitionOptions<TStore> {
  reason?: string;
  /** Stored with the event (redacted JSON). */
  details?: unknown;
  patch?: DocumentPatch;
  /** Refuse (STORE_UNEXPECTED_STATE) unless the document is in one of these states now. */
  expectedFrom?: DocumentState | readonly DocumentState[];
  /**
   * Extra writes in the same transaction (synchronous), e.g. store.upos.insert(...).
   * If it throws, the state change is rolled back too.
   */
  alsoDo?: (tx: TStore, document: DocumentRecord) => void;
}

export interface TransitionManyOptions {
  /** Reason of every event (redacted); `reasonEach` gives one per document instead. */
  reason?: string;
  reasonEach?: (id: number, index: number) => string;
  /** Details of every event (redacted JSON); `detailsEach` gives them per document instead. */
  details?: unknown;
  detailsEach?: (id: number, index: number) => unknown;
  /** Fields to change on each document (called once per document, in order). */
  patchEach?: (id: number, index: number) => DocumentPatch | undefined;
  /** Refuse unless each document is in one of these states now (see onUnexpected). */
  expectedFrom?: DocumentState | readonly DocumentState[];
  /**
   * A document not in an expected state (or missing): 'error' (default) throws STORE_UNEXPECTED_STATE (or
   * STORE_DOCUMENT_NOT_FOUND) and nothing of the call is written; 'skip' leaves it as it is and reports it.
   * An illegal transition or a missing KSeF number / offline mode always throws.
   */
  onUnexpected?: 'error' | 'skip';
}

export interface TransitionManyResult {
  /** Number of documents moved. */
  moved: number;
  /** Documents left as they were (onUnexpected 'skip'): their state now, null when missing. */
  skipped: { id: number; state: DocumentState | null }[];
}

interface DocumentRow {
  id: number;
  source: string;
  source_ref: string | null;
  content_hash: string;
  company_nip: string | null;
  invoice_number: string | null;
  seller_nip: string | null;
  state: DocumentState;
  xml: string | null;
  attempts: number;
  last_error_code: string | null;
  last_error_message: string | null;
  last_error_details: string | null;
  ksef_number: string | null;
  session_ref: string | null;
  invoice_ref: string | null;
  offline_mode: OfflineMode | null;
  offline_deadline: string | null;
  created_at: string;
  updated_at: string;
}

interface EventRow {
  id: number;
  document_id: number;
  from_state: DocumentState | null;
  to_state: DocumentState;
  at: string;
  reason: string | null;
  details: string | null;
}

/** JSON for a details column, redacted (the store is no place for secrets). */
export function toJson(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(redactValue(value));
}

export function fromJson(text: string | null): unknown {
  return text === null ? null : (JSON.parse(text) as unknown);
}

function toRecord(r: DocumentRow): DocumentRecord {
  return {
    id: r.id,
    source: r.source,
    sourceRef: r.source_ref,
    contentHash: r.content_hash,
    companyNip: r.company_nip,
    invoiceNumber: r.invoice_number,
    sellerNip: r.seller_nip,
    state: r.state,
    xml: r.xml,
    attempts: r.attempts,
    lastError:
      r.last_error_code === null
        ? null
        : { code: r.last_error_code, message: r.last_error_message ?? '', ...(r.last_error_details === null ? {} : { details: fromJson(r.last_error_details) }) },
    ksefNumber: r.ksef_number,
    sessionRef: r.session_ref,
    invoiceRef: r.invoice_ref,
    offlineMode: r.offline_mode,
    offlineDeadline: r.offline_deadline,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

const PATCH_COLUMNS: Record<Exclude<keyof DocumentPatch, 'lastError'>, string> = {
  sourceRef: 'source_ref',
  companyNip: 'company_nip',
  invoiceNumber: 'invoice_number',
  sellerNip: 'seller_nip',
  xml: 'xml',
  ksefNumber: 'ksef_number',
  sessionRef: 'session_ref',
  invoiceRef: 'invoice_ref',
  offlineMode: 'offline_mode',
  offlineDeadline: 'offline_deadline',
};

function patchAssignments(patch: DocumentPatch | undefined): { sql: string[]; params: Record<string, unknown> } {
  const sql: string[] = [];
  const params: Record<string, unknown> = {};
  if (!patch) return { sql, params };
  for (const [key, column] of Object.entries(PATCH_COLUMNS) as [keyof typeof PATCH_COLUMNS, string][]) {
    const v = patch[key];
    if (v === undefined) continue;
    sql.push(`${column} = @p_${column}`);
    params[`p_${column}`] = v;
  }
  if (patch.lastError !== undefined) {
    sql.push('last_error_code = @p_lec', 'last_error_message = @p_lem', 'last_error_details = @p_led');
    params.p_lec = patch.lastError?.code ?? null;
    params.p_lem = patch.lastError ? redact(patch.lastError.message) : null;
    params.p_led = patch.lastError ? toJson(patch.lastError.details) : null;
  }
  return { sql, params };
}

/**
 * The rules every state change obeys, for `transition` and `transitionMany` alike: the expected starting state, the
 * state machine, a KSeF number to be accepted, an offline mode to go offline. Throws the StoreError that names the
 * document, from and to.
 */
function checkMove(
  id: number,
  from: DocumentState,
  to: DocumentState,
  expected: readonly DocumentState[] | undefined,
  patch: DocumentPatch,
  current: Pick<DocumentRow, 'ksef_number' | 'offline_mode'>,
): void {
  if (expected && !expected.includes(from)) {
    throw new StoreError('STORE_UNEXPECTED_STATE', `document ${id} is ${from}, expected ${expected.join(' or ')} before moving to ${to}`, {
      document: String(id),
      value: from,
      allowed: expected.join(', '),
      details: { from, to },
    });
  }
  const allowed = DOCUMENT_TRANSITIONS[from];
  if (!allowed.includes(to)) {
    throw new StoreError(
      'STORE_ILLEGAL_TRANSITION',
      `document ${id} cannot go from ${from} to ${to} (from ${from} it may go to: ${allowed.length ? allowed.join(', ') : 'nothing, it is final'})`,
      { document: String(id), value: `${from} -> ${to}`, allowed: allowed.join(', '), details: { from, to } },
    );
  }
  if (to === 'accepted' && !(patch.ksefNumber !== undefined ? patch.ksefNumber : current.ksef_number)) {
    throw new StoreError('STORE_MISSING_KSEF_NUMBER', `document ${id} cannot be accepted without a KSeF number`, { document: String(id), field: 'ksefNumber' });
  }
  if (to === 'offline' && !(patch.offlineMode !== undefined ? patch.offlineMode : current.offline_mode)) {
    throw new StoreError('STORE_MISSING_OFFLINE_MODE', `document ${id} cannot go offline without an offline mode`, {
      document: String(id),
      field: 'offlineMode',
      allowed: 'offline24, offline, emergency',
    });
  }
}

function isThenable(v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** Documents and their state history. Obtain it from Store.documents. */
export class DocumentRepository<TStore> {
  private readonly stmts = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly now: () => string,
    private readonly tx: TStore,
  ) {}

  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  private row(id: number): DocumentRow | undefined {
    return this.stmt('SELECT * FROM documents WHERE id = ?').get(id) as DocumentRow | undefined;
  }

  get(id: number): DocumentRecord | undefined {
    const r = this.row(id);
    return r ? toRecord(r) : undefined;
  }

  /** Like get, but a missing document is a StoreError (STORE_DOCUMENT_NOT_FOUND). */
  require(id: number): DocumentRecord {
    const r = this.get(id);
    if (!r) throw new StoreError('STORE_DOCUMENT_NOT_FOUND', `document ${id} is not in the store`, { document: String(id) });
    return r;
  }

  findByIdentity(source: string, contentHash: string): DocumentRecord | undefined {
    const r = this.stmt('SELECT * FROM documents WHERE source = ? AND content_hash = ?').get(source, contentHash) as DocumentRow | undefined;
    return r ? toRecord(r) : undefined;
  }

  /** Every document with this content hash (any source), oldest first. */
  findByHash(contentHash: string): DocumentRecord[] {
    return (this.stmt('SELECT * FROM documents WHERE content_hash = ? ORDER BY id').all(contentHash) as DocumentRow[]).map(toRecord);
  }

  findByKsefNumber(ksefNumber: string): DocumentRecord[] {
    return (this.stmt('SELECT * FROM documents WHERE ksef_number = ? ORDER BY id').all(ksefNumber) as DocumentRow[]).map(toRecord);
  }

  findBySession(sessionRef: string): DocumentRecord[] {
    return (this.stmt('SELECT * FROM documents WHERE session_ref = ? ORDER BY id').all(sessionRef) as DocumentRow[]).map(toRecord);
  }

  /** Documents in a state (or any of several), ordered by id, limited. */
  listByState(state: DocumentState | readonly DocumentState[], options: ListOptions = {}): DocumentRecord[] {
    const states = typeof state === 'string' ? [state] : [...state];
    if (states.length === 0) return [];
    const where = [`state IN (${states.map(() => '?').join(',')})`];
    const params: unknown[] = [...states];
    if (options.companyNip !== undefined) {
      where.push('company_nip = ?');
      params.push(options.companyNip);
    }
    if (options.afterId !== undefined) {
      where.push(options.order === 'desc' ? 'id < ?' : 'id > ?');
      params.push(options.afterId);
    }
    const limit = Math.max(0, Math.floor(options.limit ?? 100));
    const sql = `SELECT * FROM documents WHERE ${where.join(' AND ')} ORDER BY id ${options.order === 'desc' ? 'DESC' : 'ASC'} LIMIT ${limit}`;
    return (this.stmt(sql).all(...params) as DocumentRow[]).map(toRecord);
  }

  /** Number of documents in each state (every state present, 0 when none). */
  countByState(): Record<DocumentState, number> {
    const counts = Object.fromEntries(DOCUMENT_STATES.map((s) => [s, 0])) as Record<DocumentState, number>;
    for (const r of this.stmt('SELECT state, COUNT(*) AS n FROM documents GROUP BY state').all() as { state: DocumentState; n: number }[]) {
      counts[r.state] = r.n;
    }
    return counts;
  }

  /** State history of a document, oldest first (the first event is its creation). */
  events(id: number): DocumentEvent[] {
    return (this.stmt('SELECT * FROM document_events WHERE document_id = ? ORDER BY id').all(id) as EventRow[]).map((e) => ({
      id: e.id,
      documentId: e.document_id,
      from: e.from_state,
      to: e.to_state,
      at: e.at,
      reason: e.reason,
      details: fromJson(e.details),
    }));
  }

  private insertOne(doc: NewDocument, at: string): number | undefined {
    const state = doc.state ?? 'received';
    if (!INITIAL_STATES.includes(state)) {
      throw new StoreError('STORE_BAD_INITIAL_STATE', `a document cannot be created in state ${state}`, {
        field: 'state',
        value: state,
        allowed: INITIAL_STATES.join(', '),
      });
    }
    const info = this.stmt(
      `INSERT INTO documents (source, source_ref, content_hash, company_nip, invoice_number, seller_nip, state, xml,
         last_error_code, last_error_message, last_error_details, created_at, updated_at)
       VALUES (@source, @sourceRef, @contentHash, @companyNip, @invoiceNumber, @sellerNip, @state, @xml, @lec, @lem, @led, @at, @at)
       ON CONFLICT (source, content_hash) DO NOTHING`,
    ).run({
      source: doc.source,
      sourceRef: doc.sourceRef ?? null,
      contentHash: doc.contentHash,
      companyNip: doc.companyNip ?? null,
      invoiceNumber: doc.invoiceNumber ?? null,
      sellerNip: doc.sellerNip ?? null,
      state,
      xml: doc.xml ?? null,
      lec: doc.lastError?.code ?? null,
      lem: doc.lastError ? redact(doc.lastError.message) : null,
      led: doc.lastError ? toJson(doc.lastError.details) : null,
      at,
    });
    if (info.changes === 0) return undefined;
    const id = Number(info.lastInsertRowid);
    this.stmt('INSERT INTO document_events (document_id, from_state, to_state, at, reason) VALUES (?, NULL, ?, ?, ?)').run(id, state, at, doc.reason ?? 'created');
    return id;
  }

  private duplicateError(doc: NewDocument): StoreError {
    const existing = this.findByIdentity(doc.source, doc.contentHash);
    return new StoreError(
      'STORE_DUPLICATE_DOCUMENT',
      `a document from ${doc.source} with content hash ${doc.contentHash} is already stored (document ${existing?.id ?? '?'}, state ${existing?.state ?? '?'})`,
      { document: existing ? String(existing.id) : undefined, details: { source: doc.source, contentHash: doc.contentHash, existingId: existing?.id } },
    );
  }

  /** Inserts one document (and its creation event). Same source + content hash again: STORE_DUPLICATE_DOCUMENT. */
  insert(doc: NewDocument): DocumentRecord {
    const run = this.db.transaction(() => {
      const id = this.insertOne(doc, this.now());
      if (id === undefined) throw this.duplicateError(doc);
      return id;
    });
    return this.require(run.immediate());
  }

  /**
   * Inserts many documents in one transaction. Duplicates (already stored, or repeated in
   * the input) are skipped and reported, or with onDuplicate 'error' abort the whole insert.
   */
  insertMany(docs: readonly NewDocument[], options: { onDuplicate?: 'skip' | 'error' } = {}): InsertManyResult {
    const run = this.db.transaction((): InsertManyResult => {
      const at = this.now();
      const result: InsertManyResult = { inserted: [], duplicates: [] };
      docs.forEach((doc, index) => {
        const id = this.insertOne(doc, at);
        if (id !== undefined) {
          result.inserted.push({ index, id });
          return;
        }
        if (options.onDuplicate === 'error') throw this.duplicateError(doc);
        const existing = this.stmt('SELECT id FROM documents WHERE source = ? AND content_hash = ?').get(doc.source, doc.contentHash) as { id: number };
        result.duplicates.push({ index, existingId: existing.id });
      });
      return result;
    });
    return run.immediate();
  }

  /** Changes fields without a state change (one transaction). */
  patch(id: number, patch: DocumentPatch): DocumentRecord {
    const { sql, params } = patchAssignments(patch);
    const run = this.db.transaction(() => {
      const info = this.stmt(`UPDATE documents SET ${[...sql, 'updated_at = @at'].join(', ')} WHERE id = @id`).run({ ...params, at: this.now(), id });
      if (info.changes === 0) this.require(id);
    });
    run.immediate();
    return this.require(id);
  }

  /**
   * Moves many documents to `to` in one transaction (nested in store.transaction it joins it): for each one the
   * same checks, row update and history event as `transition` (expected state, allowed transition, KSeF number for
   * `accepted`, offline mode for `offline`, attempts + 1 when entering `sending`), with statements prepared once.
   * Any error rolls the whole call back. Built for batch sessions (10,000 documents).
   */
  transitionMany(ids: readonly number[], to: DocumentState, options: TransitionManyOptions = {}): TransitionManyResult {
    const expected = options.expectedFrom === undefined ? undefined : typeof options.expectedFrom === 'string' ? [options.expectedFrom] : options.expectedFrom;
    const skip = options.onUnexpected === 'skip';
    const sharedReason = options.reason === undefined ? null : redact(options.reason);
    const sharedDetails = toJson(options.details);
    const run = this.db.transaction((): TransitionManyResult => {
      const read = this.stmt('SELECT state, ksef_number, offline_mode FROM documents WHERE id = ?');
      const event = this.stmt('INSERT INTO document_events (document_id, from_state, to_state, at, reason, details) VALUES (?, ?, ?, ?, ?, ?)');
      const at = this.now();
      const result: TransitionManyResult = { moved: 0, skipped: [] };
      ids.forEach((id, index) => {
        const current = read.get(id) as Pick<DocumentRow, 'state' | 'ksef_number' | 'offline_mode'> | undefined;
        if (!current) {
          if (skip) return void result.skipped.push({ id, state: null });
          throw new StoreError('STORE_DOCUMENT_NOT_FOUND', `document ${id} is not in the store`, { document: String(id) });
        }
        const from = current.state;
        if (expected && !expected.includes(from) && skip) return void result.skipped.push({ id, state: from });
        const patch = options.patchEach?.(id, index) ?? {};
        checkMove(id, from, to, expected, patch, current);
        const { sql, params } = patchAssignments(patch);
        const sets = ['state = @to', 'updated_at = @at', ...sql];
        if (to === 'sending') sets.push('attempts = attempts + 1');
        const info = this.stmt(`UPDATE documents SET ${sets.join(', ')} WHERE id = @id AND state = @from`).run({ ...params, to, at, id, from });
        if (info.changes !== 1) {
          throw new StoreError('STORE_CONCURRENT_UPDATE', `document ${id} changed while moving from ${from} to ${to}`, { document: String(id) });
        }
        const reason = options.reasonEach ? redact(options.reasonEach(id, index)) : sharedReason;
        const details = options.detailsEach ? toJson(options.detailsEach(id, index)) : sharedDetails;
        event.run(id, from, to, at, reason, details);
        result.moved++;
      });
      return result;
    });
    return run.immediate();
  }

  /**
   * Moves a document to `to` in one transaction: checks the transition is allowed, updates
   * the row (state, patch, attempts + 1 when entering `sending`), writes the history event,
   * runs `alsoDo`. Illegal transition: StoreError STORE_ILLEGAL_TRANSITION naming the
   * document, from and to. `accepted` needs a KSeF number; `offline` an offline mode.
   */
  transition(id: number, to: DocumentState, options: TransitionOptions<TStore> = {}): DocumentRecord {
    const run = this.db.transaction((): DocumentRecord => {
      const current = this.row(id);
      if (!current) throw new StoreError('STORE_DOCUMENT_NOT_FOUND', `document ${id} is not in the store`, { document: String(id) });
      const from = current.state;
      const expected = options.expectedFrom === undefined ? undefined : typeof options.expectedFrom === 'string' ? [options.expectedFrom] : options.expectedFrom;
      const patch = options.patch ?? {};
      checkMove(id, from, to, expected, patch, current);
      const at = this.now();
      const { sql, params } = patchAssignments(patch);
      const sets = ['state = @to', 'updated_at = @at', ...sql];
      if (to === 'sending') sets.push('attempts = attempts + 1');
      const info = this.stmt(`UPDATE documents SET ${sets.join(', ')} WHERE id = @id AND state = @from`).run({ ...params, to, at, id, from });
      if (info.changes !== 1) {
        throw new StoreError('STORE_CONCURRENT_UPDATE', `document ${id} changed while moving from ${from} to ${to}`, { document: String(id) });
      }
      this.stmt('INSERT INTO document_events (document_id, from_state, to_state, at, reason, details) VALUES (?, ?, ?, ?, ?, ?)').run(
        id,
        from,
        to,
        at,
        options.reason === undefined ? null : redact(options.reason),
        toJson(options.details),
      );
      const updated = this.require(id);
      if (options.alsoDo) {
        const result: unknown = options.alsoDo(this.tx, updated);
        if (isThenable(result)) {
          throw new StoreError('STORE_ASYNC_IN_TRANSACTION', `alsoDo for document ${id} returned a promise; it must be synchronous`, { document: String(id) });
        }
        return this.require(id);
      }
      return updated;
    });
    return run.immediate();
  }
}
