/**
 * One company's (KSeF context's) part of the outbox: its interactive session, its batch sessions, the
 * reconciliation of documents caught mid-send, and the UPO jobs. Each company has its own worker, so one
 * company's trouble (KSeF refusing its token, a paused limiter) never stalls another.
 *
 * Exactly once: a document enters `sending` (with the session reference; its invoice hash is the SHA-256 of
 * its stored XML and is written in the event details) in a committed transaction BEFORE the request that
 * sends it. Whatever happens next (crash, timeout, 5xx), a document in `sending` is only ever moved on by
 * asking KSeF: the session's invoice list, matched by invoice hash. Only when KSeF has no invoice with that
 * hash in that session is the document queued again.
 */
import { createHash } from 'node:crypto';
import { errorMessage, isBridgeError, KsefError } from '../errors/index.js';
import {
  buildBatchPackage,
  classifyInvoiceStatus,
  KsefApiError,
  KsefClientError,
  KsefRateLimitError,
  KsefTransientError,
  sessionPhase,
  type BatchProgress,
  type InvoiceOutcome,
  type KsefClient,
  type OnlineSession,
  type SessionInvoiceStatusResponse,
  type SessionStatusResponse,
  type UpoEntry,
} from '../ksef/index.js';
import { redact, type BridgeLogger } from '../log/index.js';
import type { DocumentError, DocumentRecord, Store } from '../store/index.js';
import { iterateQueuedXml, queuedXml, sendingInSession } from './bulk.js';
import type { CrashPoint } from './crash.js';
import type { BatchSettings, DispatchCompany, DispatchProgress, DispatchStage, SessionMode } from './types.js';

const ALL = 1_000_000;
const DAY = 24 * 3_600_000;

export interface WorkerSettings {
  sessionMode: SessionMode;
  autoBatchThreshold: number;
  batch: BatchSettings;
  idleCloseMs: number;
  sessionRenewMarginMs: number;
  maxInvoicesPerOnlineSession: number;
  pollIntervalMs: number;
  maxPollIntervalMs: number;
  waitTimeoutMs: number;
  maxAttempts: number;
  backoffMs: { min: number; max: number };
  crashPoint: CrashPoint;
  now: () => number;
  logger: BridgeLogger | undefined;
  onProgress: ((p: DispatchProgress) => void) | undefined;
}

/** KSeF could not be used right now; the documents keep waiting. */
export class Unavailable extends Error {
  constructor(
    readonly reason: DocumentError,
    readonly retryAfterMs: number | undefined,
  ) {
    super(reason.message);
  }
}

export function invoiceHashOf(xml: string): string {
  return createHash('sha256').update(xml, 'utf8').digest('base64');
}

function errorOf(e: unknown): DocumentError {
  if (e instanceof KsefApiError) {
    return {
      code: e.code,
      message: errorMessage(e),
      details: { status: e.status, ksefCode: e.ksefCode, description: e.description, details: e.details, endpoint: e.endpoint },
    };
  }
  if (isBridgeError(e)) return { code: e.code, message: errorMessage(e), ...(e.context.ksefCode !== undefined ? { details: { ksefCode: e.context.ksefCode } } : {}) };
  return { code: 'DISPATCH_UNEXPECTED', message: errorMessage(e) };
}

/** Errors that mean "KSeF is not usable now" (as opposed to a verdict on a document). */
export function isUnavailability(e: unknown): boolean {
  return e instanceof KsefTransientError || e instanceof KsefRateLimitError || (e instanceof KsefApiError && e.delivery === 'not-sent');
}

function retryAfterOf(e: unknown): number | undefined {
  if (e instanceof KsefRateLimitError) return e.retryAfterSeconds * 1000;
  if (e instanceof KsefTransientError && e.retryAfterSeconds !== undefined) return e.retryAfterSeconds * 1000;
  return undefined;
}

/** A 4xx answer that says the session (not the invoice) is the problem: session full, closed, expired, unknown. */
function isSessionProblem(e: unknown): boolean {
  return e instanceof KsefApiError && (e.hasCode(21155) || e.hasCode(21180) || e.hasCode(21170) || e.status === 404);
}

interface CurrentOnline {
  session: OnlineSession;
  sent: number;
  lastUsed: number;
}

export class CompanyWorker {
  readonly nip: string;
  readonly name: string;
  private readonly client: KsefClient;
  private online: CurrentOnline | undefined;
  private recovered = false;
  /** Documents whose `sending` state needs a look at KSeF before anything else (after an unknown outcome). */
  private needsReconcile = true;
  pausedUntil = 0;
  private failures = 0;
  lastProblem: DocumentError | undefined;
  private lastBatchAt: number;

  constructor(
    private readonly company: DispatchCompany,
    private readonly store: Store,
    private readonly s: WorkerSettings,
  ) {
    this.nip = company.nip;
    this.name = company.name;
    this.client = company.client;
    this.lastBatchAt = s.now();
  }

  private log(): BridgeLogger | undefined {
    return this.s.logger;
  }

  private progress(stage: DispatchStage, done: number, total: number, extra: { session?: string; message?: string } = {}): void {
    const p: DispatchProgress = { company: this.name, nip: this.nip, stage, done, total, ...extra };
    this.s.onProgress?.(p);
    this.log()?.verbose(`${this.name} ${stage} ${done}/${total}${extra.session ? ` session ${extra.session}` : ''}${extra.message ? `: ${extra.message}` : ''}`, {
      company: this.name,
      stage,
      done,
      total,
      ...(extra.session ? { session: extra.session } : {}),
    });
  }

  // ------------------------------------------------------------------ bookkeeping

  counts(): { queued: number; sending: number; accepted: number } {
    const rows = this.store.db
      .prepare(`SELECT state, COUNT(*) AS n FROM documents WHERE company_nip = ? AND state IN ('queued','sending','accepted') GROUP BY state`)
      .all(this.nip) as { state: string; n: number }[];
    const out = { queued: 0, sending: 0, accepted: 0 };
    for (const r of rows) out[r.state as keyof typeof out] = r.n;
    return out;
  }

  /** True while the company is paused after KSeF was unavailable. */
  paused(): boolean {
    return this.s.now() < this.pausedUntil;
  }

  private unavailable(e: unknown): Unavailable {
    if (e instanceof Unavailable) return e;
    return new Unavailable(errorOf(e), retryAfterOf(e));
  }

  /** Records a period of unavailability: the reason on every queued document, a pause with backoff. */
  noteUnavailable(u: Unavailable): void {
    this.failures++;
    const backoff = Math.min(this.s.backoffMs.max, this.s.backoffMs.min * 2 ** Math.min(10, this.failures - 1));
    const wait = Math.max(u.retryAfterMs ?? 0, backoff);
    this.pausedUntil = this.s.now() + wait;
    const message = `waiting: ${redact(u.reason.message)}`;
    this.lastProblem = u.reason;
    this.online = undefined;
    // the reason is visible on every waiting document (status shows it); one statement, one transaction
    this.store.db
      .prepare(
        `UPDATE documents SET last_error_code = ?, last_error_message = ?, last_error_details = NULL, updated_at = ?
         WHERE company_nip = ? AND state = 'queued' AND (last_error_code IS NULL OR last_error_code <> ? OR last_error_message <> ?)`,
      )
      .run(u.reason.code, message, new Date(this.s.now()).toISOString(), this.nip, u.reason.code, message);
    this.progress('unavailable', 0, 0, { message: `KSeF unavailable, next try in ${Math.round(wait / 100) / 10} s: ${u.reason.message}` });
    this.log()?.warn(`${this.name}: KSeF unavailable (${u.reason.code}); documents wait in the queue, next try in ${Math.round(wait / 1000)} s`, {
      company: this.name,
      error: u.reason.message,
    });
  }

  noteSuccess(): void {
    this.failures = 0;
    this.lastProblem = undefined;
  }

  // ------------------------------------------------------------------ one round

  /**
   * One round of work: reconcile, send what is due, fetch UPOs. `force` sends batches now whatever the
   * batch thresholds say. Returns true when it did something (so the caller loops at once).
   */
  async step(force: boolean, withUpo = true): Promise<boolean> {
    let did = false;
    try {
      if (!this.recovered || this.needsReconcile) {
        did = (await this.reconcile()) || did;
        this.recovered = true;
        this.needsReconcile = false;
      }
      did = (await this.sendDue(force)) || did;
      if (withUpo) did = (await this.fetchUpos()) || did;
      this.noteSuccess();
    } catch (e) {
      // KSeF unavailable, or refusing this company (token, permissions): this company waits, the others go on
      if (isUnavailability(e) || e instanceof Unavailable || e instanceof KsefError) {
        this.needsReconcile = true;
        this.noteUnavailable(this.unavailable(e));
        return false;
      }
      throw e;
    }
    return did;
  }

  // ------------------------------------------------------------------ reconciliation

  /** Every document of this company in `sending`: asked about at KSeF, moved on accordingly. */
  async reconcile(): Promise<boolean> {
    const sending = this.store.documents.listByState('sending', { companyNip: this.nip, limit: ALL });
    const bySession = new Map<string, DocumentRecord[]>();
    for (const d of sending) {
      const key = d.sessionRef ?? '';
      bySession.set(key, [...(bySession.get(key) ?? []), d]);
    }
    if (sending.length > 0) this.progress('reconcile', 0, sending.length, { message: `${sending.length} document(s) caught mid-send` });
    let done = 0;
    for (const [ref, docs] of bySession) {
      if (!ref) {
        // cannot happen (sending is always written with its session); requeue: nothing can have been sent without it
        this.store.transaction((tx) => {
          for (const d of docs) tx.documents.transition(d.id, 'queued', { expectedFrom: 'sending', reason: 'reconciled: no session recorded' });
        });
        continue;
      }
      const rec = this.store.sessions.get(ref);
      if (rec?.kind === 'batch') await this.reconcileBatch(ref, docs);
      else await this.reconcileOnline(ref, docs);
      done += docs.length;
      this.progress('reconcile', done, sending.length, { session: ref });
    }
    // interactive sessions a previous run left open (their key is gone): close them so KSeF finalises them
    for (const rec of this.store.sessions.listByState('open', { companyNip: this.nip })) {
      if (rec.kind !== 'online' || rec.referenceNumber === this.online?.session.referenceNumber) continue;
      await this.client.closeOnlineSession(rec.referenceNumber);
      this.store.sessions.update(rec.referenceNumber, { state: 'closed', closedAt: new Date(this.s.now()).toISOString() });
    }
    // batch sessions whose results were not stored yet
    for (const rec of this.store.sessions.listByState(['uploaded', 'closed'], { companyNip: this.nip })) {
      if (rec.kind !== 'batch') continue;
      await this.finishBatch(rec.referenceNumber);
    }
    return sending.length > 0;
  }

  private async sessionInvoices(ref: string): Promise<SessionInvoiceStatusResponse[] | undefined> {
    try {
      return await this.client.listSessionInvoices(ref);
    } catch (e) {
      // KSeF does not know the session: nothing was ever sent in it
      if (e instanceof KsefApiError && !(e instanceof KsefTransientError) && !(e instanceof KsefRateLimitError) && (e.status === 404 || e.status === 400)) return undefined;
      throw e;
    }
  }

  private async reconcileOnline(ref: string, docs: DocumentRecord[]): Promise<void> {
    const invoices = (await this.sessionInvoices(ref)) ?? [];
    const byHash = new Map<string, SessionInvoiceStatusResponse>();
    for (const inv of invoices) byHash.set(inv.invoiceHash, inv);
    for (const d of docs) {
      const inv = byHash.get(invoiceHashOf(d.xml ?? ''));
      if (!inv) {
        this.store.documents.transition(d.id, 'queued', {
          expectedFrom: 'sending',
          reason: `reconciled: KSeF has no invoice with this hash in session ${ref}; queued again`,
          details: { session: ref },
        });
        this.log()?.forDocument(d.id).info(`document ${d.id}: not received by KSeF in session ${ref}; queued again`);
        continue;
      }
      let status = inv;
      if (classifyInvoiceStatus(status).kind === 'pending') {
        this.store.documents.patch(d.id, { invoiceRef: inv.referenceNumber });
        status = await this.client.waitForInvoice(ref, inv.referenceNumber, this.waitOptions());
      }
      await this.applyOutcome(this.store.documents.require(d.id), ref, status);
    }
  }

  private async reconcileBatch(ref: string, docs: DocumentRecord[]): Promise<void> {
    let st: SessionStatusResponse;
    try {
      st = await this.client.getSessionStatus(ref);
    } catch (e) {
      if (e instanceof KsefApiError && !(e instanceof KsefTransientError) && !(e instanceof KsefRateLimitError) && (e.status === 404 || e.status === 400)) {
        this.requeue(docs, `reconciled: KSeF does not know batch session ${ref}; queued again`);
        this.store.sessions.update(ref, { state: 'abandoned' });
        return;
      }
      throw e;
    }
    if (st.status.code === 100) {
      // never closed: closing it now works when every part arrived; otherwise KSeF will never process it
      try {
        await this.client.closeBatchSession(ref);
        this.store.sessions.update(ref, { state: 'closed', closedAt: new Date(this.s.now()).toISOString() });
        this.log()?.info(`${this.name}: batch session ${ref} closed after a restart`, { session: ref });
      } catch (e) {
        if (isUnavailability(e)) throw e;
        this.requeue(docs, `reconciled: batch session ${ref} could not be closed (${errorMessage(e)}); its invoices are queued again`);
        this.store.sessions.update(ref, { state: 'abandoned' });
        return;
      }
    }
    await this.finishBatch(ref);
  }

  private requeue(docs: DocumentRecord[], reason: string, lastError?: DocumentError): void {
    this.store.transaction((tx) => {
      for (const d of docs) {
        const cur = tx.documents.get(d.id);
        if (cur?.state !== 'sending') continue;
        tx.documents.transition(d.id, 'queued', { expectedFrom: 'sending', reason, ...(lastError ? { patch: { lastError } } : {}) });
      }
    });
  }

  // ------------------------------------------------------------------ outcomes

  private waitOptions(): { intervalMs: number; maxIntervalMs: number; timeoutMs: number } {
    return { intervalMs: this.s.pollIntervalMs, maxIntervalMs: this.s.maxPollIntervalMs, timeoutMs: this.s.waitTimeoutMs };
  }

  /** Applies KSeF's verdict on one invoice to its document (which is in `sending`). Duplicates need a look at KSeF. */
  private async applyOutcome(doc: DocumentRecord, sessionRef: string, inv: SessionInvoiceStatusResponse): Promise<void> {
    const outcome = classifyInvoiceStatus(inv);
    if (outcome.kind === 'duplicate') {
      await this.resolveDuplicate(doc, sessionRef, inv, outcome);
      return;
    }
    this.store.transaction((tx) => this.applySync(tx, doc, sessionRef, inv, outcome));
  }

  /** Synchronous part of applying an outcome (inside a transaction). Returns the new state. */
  private applySync(tx: Store, doc: DocumentRecord, sessionRef: string, inv: SessionInvoiceStatusResponse, outcome: InvoiceOutcome): string {
    const log = this.log()?.forDocument(doc.id);
    switch (outcome.kind) {
      case 'pending':
        tx.documents.patch(doc.id, { invoiceRef: inv.referenceNumber });
        return 'sending';
      case 'accepted':
        tx.documents.transition(doc.id, 'accepted', {
          expectedFrom: 'sending',
          reason: `KSeF number ${outcome.ksefNumber}`,
          patch: { ksefNumber: outcome.ksefNumber, invoiceRef: inv.referenceNumber, sessionRef, lastError: null },
          details: { acquisitionDate: outcome.acquisitionDate },
        });
        log?.debug(`document ${doc.id} accepted: ${outcome.ksefNumber}`, { ksefNumber: outcome.ksefNumber, session: sessionRef });
        return 'accepted';
      case 'rejected': {
        const err = outcome.error;
        tx.documents.transition(doc.id, 'rejected', {
          expectedFrom: 'sending',
          reason: `rejected by KSeF: ${err.statusCode} ${err.description}`,
          patch: {
            invoiceRef: inv.referenceNumber,
            lastError: { code: err.code, message: err.message, details: { ksefCode: err.statusCode, description: err.description, details: err.details, hint: err.hint } },
          },
        });
        log?.warn(`document ${doc.id} rejected by KSeF: ${err.statusCode} ${err.description}`, { ksefCode: err.statusCode });
        return 'rejected';
      }
      case 'retry': {
        const err = outcome.error;
        const lastError = { code: err.code, message: err.message, details: { ksefCode: err.statusCode, description: err.description, details: err.details } };
        if (doc.attempts >= this.s.maxAttempts) {
          tx.documents.transition(doc.id, 'rejected', { expectedFrom: 'sending', reason: `KSeF did not process it ${doc.attempts} times`, patch: { invoiceRef: inv.referenceNumber, lastError } });
          return 'rejected';
        }
        tx.documents.transition(doc.id, 'queued', { expectedFrom: 'sending', reason: `KSeF did not process it (${err.statusCode}); queued again`, patch: { lastError } });
        return 'queued';
      }
      case 'duplicate':
        throw new Error('duplicates are resolved asynchronously');
    }
  }

  /**
   * 440 duplicate: KSeF already holds an invoice with this seller, kind and number. When that invoice has the
   * same hash as this document, it IS this document (sent before, its answer lost): accepted with the original
   * KSeF number. Otherwise it is a different document with the same number: rejected, naming the original.
   */
  private async resolveDuplicate(doc: DocumentRecord, sessionRef: string, inv: SessionInvoiceStatusResponse, outcome: Extract<InvoiceOutcome, { kind: 'duplicate' }>): Promise<void> {
    const original = outcome.originalKsefNumber;
    const originalSession = outcome.originalSessionReferenceNumber;
    const hash = invoiceHashOf(doc.xml ?? '');
    let same: SessionInvoiceStatusResponse | undefined;
    const other = original ? this.store.documents.findByKsefNumber(original).find((d) => d.id !== doc.id) : undefined;
    if (original && originalSession && !other) {
      const list = (await this.sessionInvoices(originalSession)) ?? [];
      same = list.find((i) => i.ksefNumber === original && i.invoiceHash === hash);
    }
    if (original && same) {
      this.store.documents.transition(doc.id, 'accepted', {
        expectedFrom: 'sending',
        reason: `duplicate of its own earlier sending: original KSeF number ${original} (session ${originalSession})`,
        patch: { ksefNumber: original, sessionRef: originalSession ?? sessionRef, invoiceRef: same.referenceNumber, lastError: null },
        details: { duplicateInSession: sessionRef, duplicateInvoiceRef: inv.referenceNumber },
      });
      this.log()?.forDocument(doc.id).info(`document ${doc.id}: 440 duplicate resolved to its original KSeF number ${original}`);
      return;
    }
    const err = outcome.error;
    this.store.documents.transition(doc.id, 'rejected', {
      expectedFrom: 'sending',
      reason: `duplicate of ${original ?? 'an invoice already in KSeF'}${other ? ` (document ${other.id})` : ''}`,
      patch: {
        invoiceRef: inv.referenceNumber,
        lastError: {
          code: err.code,
          message: err.message,
          details: { ksefCode: 440, description: err.description, details: err.details, originalKsefNumber: original, originalSessionReferenceNumber: originalSession, originalDocument: other?.id, hint: err.hint },
        },
      },
    });
    this.log()?.forDocument(doc.id).warn(`document ${doc.id} rejected: duplicate of ${original ?? '?'}`);
  }

  // ------------------------------------------------------------------ sending

  private queued(limit: number): DocumentRecord[] {
    return this.store.documents.listByState('queued', { companyNip: this.nip, limit });
  }

  /** Sends what is due. */
  async sendDue(force: boolean): Promise<boolean> {
    const { queued } = this.counts();
    if (queued === 0) {
      await this.closeIdleSession(force);
      return false;
    }
    const batch = this.s.sessionMode === 'batch' || (this.s.autoBatchThreshold > 0 && queued > this.s.autoBatchThreshold);
    if (batch) {
      if (!force && !this.batchDue(queued)) return false;
      await this.closeOnline();
      await this.sendBatch();
      return true;
    }
    await this.sendOnline(this.queued(100));
    return true;
  }

  private batchDue(queued: number): boolean {
    if (this.s.sessionMode === 'immediate') return true; // auto-switch: the group goes now
    if (queued >= this.s.batch.maxInvoices) return true;
    const now = this.s.now();
    const oldest = this.queued(1)[0];
    if (this.s.batch.maxWaitMs !== undefined && oldest && now - Date.parse(oldest.updatedAt) >= this.s.batch.maxWaitMs) return true;
    for (const t of this.s.batch.sendAt ?? []) {
      const d = new Date(now);
      d.setHours(t.hour, t.minute, 0, 0);
      let at = d.getTime();
      if (at > now) at -= DAY;
      if (at > this.lastBatchAt) return true;
    }
    return false;
  }

  private async ensureOnline(): Promise<CurrentOnline> {
    const cur = this.online;
    const now = this.s.now();
    if (cur && Date.parse(cur.session.validUntil) - now > this.s.sessionRenewMarginMs && cur.sent < this.s.maxInvoicesPerOnlineSession) return cur;
    if (cur) await this.closeOnline();
    this.progress('online-open', 0, 1);
    const session = await this.client.openOnlineSession();
    this.store.sessions.insert({ referenceNumber: session.referenceNumber, kind: 'online', companyNip: this.nip, environment: this.company.environment, state: 'open', validUntil: session.validUntil });
    this.progress('online-open', 1, 1, { session: session.referenceNumber });
    this.online = { session, sent: 0, lastUsed: now };
    return this.online;
  }

  /** Closes the interactive session (if any). */
  async closeOnline(): Promise<void> {
    const cur = this.online;
    if (!cur) return;
    this.online = undefined;
    const ref = cur.session.referenceNumber;
    this.progress('online-close', 0, 1, { session: ref });
    this.s.crashPoint('online:before-close');
    await this.client.closeOnlineSession(ref);
    this.store.sessions.update(ref, { state: 'closed', closedAt: new Date(this.s.now()).toISOString() });
    this.progress('online-close', 1, 1, { session: ref });
  }

  private async closeIdleSession(force: boolean): Promise<void> {
    if (!this.online) return;
    if (force || this.s.now() - this.online.lastUsed >= this.s.idleCloseMs) await this.closeOnline();
  }

  /** Immediate mode: each document in the open interactive session, its KSeF number awaited and stored. */
  private async sendOnline(docs: DocumentRecord[]): Promise<void> {
    let done = 0;
    for (const d of docs) {
      const cur = await this.ensureOnline();
      const ref = cur.session.referenceNumber;
      const xml = Buffer.from(d.xml ?? '', 'utf8');
      let prepared;
      try {
        prepared = this.client.prepareInvoice(cur.session.key, xml);
      } catch (e) {
        if (!(e instanceof KsefClientError)) throw e;
        this.store.documents.transition(d.id, 'invalid', { expectedFrom: 'queued', reason: 'cannot be sent', patch: { lastError: errorOf(e) } });
        continue;
      }
      // the state and the invoice hash are durable before the request goes out
      this.store.documents.transition(d.id, 'sending', {
        expectedFrom: 'queued',
        reason: `sending in interactive session ${ref}`,
        patch: { sessionRef: ref, invoiceRef: null, lastError: null },
        details: { invoiceHash: prepared.invoiceHash, invoiceSize: prepared.invoiceSize, mode: 'online' },
      });
      this.s.crashPoint('online:before-send');
      let invoiceRef: string;
      try {
        const sent = await this.client.sendInvoice(cur.session, prepared);
        invoiceRef = sent.referenceNumber;
      } catch (e) {
        await this.sendFailed(d, ref, e);
        return;
      }
      cur.sent++;
      cur.lastUsed = this.s.now();
      this.s.crashPoint('online:after-send');
      this.store.documents.patch(d.id, { invoiceRef });
      const status = await this.client.waitForInvoice(ref, invoiceRef, this.waitOptions());
      this.s.crashPoint('online:after-status');
      await this.applyOutcome(this.store.documents.require(d.id), ref, status);
      done++;
      this.progress('online-send', done, docs.length, { session: ref });
    }
  }

  /** The request that sent a document failed: what happens depends on what KSeF may know. */
  private async sendFailed(d: DocumentRecord, ref: string, e: unknown): Promise<void> {
    const err = errorOf(e);
    const delivery = e instanceof KsefApiError ? e.delivery : 'not-sent';
    if (delivery === 'unknown') {
      // KSeF may have it: stays `sending`, reconciled by invoice hash before anything is sent again
      this.store.documents.patch(d.id, { lastError: err });
      this.needsReconcile = true;
      this.online = undefined;
      throw this.unavailable(e);
    }
    if (isUnavailability(e)) {
      this.store.documents.transition(d.id, 'queued', { expectedFrom: 'sending', reason: `not sent: ${err.message}`, patch: { lastError: err } });
      throw this.unavailable(e);
    }
    if (isSessionProblem(e)) {
      this.online = undefined;
      this.store.sessions.update(ref, { state: 'closed' });
      this.store.documents.transition(d.id, 'queued', { expectedFrom: 'sending', reason: `session ${ref} refused it (${err.message}); queued for a new session`, patch: { lastError: err } });
      return;
    }
    // KSeF refused the request itself: nothing happened there
    const current = this.store.documents.require(d.id);
    if (current.attempts >= this.s.maxAttempts || e instanceof KsefClientError) {
      this.store.documents.transition(d.id, 'rejected', { expectedFrom: 'sending', reason: `KSeF refused the request: ${err.message}`, patch: { lastError: err } });
    } else {
      this.store.documents.transition(d.id, 'queued', { expectedFrom: 'sending', reason: `KSeF refused the request: ${err.message}; queued again`, patch: { lastError: err } });
    }
  }

  /** Batch: one package of the oldest queued documents, one batch session. */
  private async sendBatch(): Promise<void> {
    let limit = this.s.batch.maxInvoices;
    for (;;) {
      try {
        await this.sendBatchOf(limit);
        return;
      } catch (e) {
        // the package does not fit the part and size limits: fewer invoices per session
        if (!(e instanceof KsefClientError) || (e.code !== 'KSEF_PACKAGE_TOO_MANY_PARTS' && e.code !== 'KSEF_PACKAGE_TOO_LARGE')) throw e;
        if (limit <= 1) {
          const one = queuedXml(this.store, this.nip, 1)[0];
          if (!one) return;
          this.store.documents.transition(one.id, 'invalid', { expectedFrom: 'queued', reason: 'too large for a batch package', patch: { lastError: errorOf(e) } });
          return;
        }
        limit = Math.max(1, Math.floor(limit / 2));
        this.log()?.info(`${this.name}: package too large for the part limits, trying ${limit} invoice(s) per batch session`);
      }
    }
  }

  private async sendBatchOf(limit: number): Promise<void> {
    const ids: number[] = [];
    const files: { name: string; content: Buffer }[] = [];
    let size = 0;
    for (const d of iterateQueuedXml(this.store, this.nip, limit)) {
      const content = Buffer.from(d.xml ?? '', 'utf8');
      if (files.length > 0 && size + content.byteLength > this.s.batch.maxPackageSizeBytes) break;
      ids.push(d.id);
      files.push({ name: `${d.id}.xml`, content });
      size += content.byteLength;
    }
    if (files.length === 0) return;
    this.lastBatchAt = this.s.now();
    const total = files.length;
    const t0 = this.s.now();
    this.progress('batch-package', 0, total, { message: `${this.s.batch.format} package of ${total} invoice(s)` });
    const pkg = await buildBatchPackage(files, {
      format: this.s.batch.format,
      ...(this.s.batch.maxPartSize ? { maxPartSize: this.s.batch.maxPartSize } : {}),
      maxPackageSize: Math.max(this.s.batch.maxPackageSizeBytes, 1),
      ...(this.s.batch.level !== undefined ? { level: this.s.batch.level } : {}),
    });
    files.length = 0;
    this.progress('batch-package', total, total, { message: `${pkg.fileSize} bytes in ${pkg.parts.length} part(s)` });
    const onProgress = (p: BatchProgress): void => {
      if (p.stage === 'encrypt' || p.stage === 'open') this.progress(p.stage === 'encrypt' ? 'batch-encrypt' : 'batch-open', p.done, p.total);
    };
    const session = await this.client.openBatchSession(pkg, { onProgress });
    const ref = session.referenceNumber;
    this.s.crashPoint('batch:after-open');
    const hashes = new Map(pkg.invoices.map((i) => [i.fileName, i.invoiceHash]));
    pkg.parts.length = 0;
    const sendingPatch = { sessionRef: ref, invoiceRef: null, lastError: null } as const;
    this.store.transaction((tx) => {
      tx.sessions.insert({
        referenceNumber: ref,
        kind: 'batch',
        companyNip: this.nip,
        environment: this.company.environment,
        state: 'open',
        details: { invoices: total, format: pkg.format, fileSize: pkg.fileSize, parts: session.parts.length },
      });
      tx.documents.transitionMany(ids, 'sending', {
        expectedFrom: 'queued',
        reason: `sending in batch session ${ref}`,
        detailsEach: (id) => ({ invoiceHash: hashes.get(`${id}.xml`) ?? '', mode: 'batch' }),
        patchEach: () => sendingPatch,
      });
    });
    hashes.clear();
    this.s.crashPoint('batch:after-sending-state');
    const timings = { package: 0, upload: 0, wait: 0 };
    timings.package = this.s.now() - t0;
    const t1 = this.s.now();
    await this.client.uploadBatchParts(session, {
      concurrency: this.s.batch.uploadConcurrency ?? 4,
      onProgress: (p) => {
        this.progress('batch-upload', p.done, p.total, { session: ref });
        if (p.done === 1 && p.total > 1) this.s.crashPoint('batch:mid-upload');
      },
    });
    session.parts.length = 0;
    this.store.sessions.update(ref, { state: 'uploaded' });
    timings.upload = this.s.now() - t1;
    this.s.crashPoint('batch:before-close');
    this.progress('batch-close', 0, 1, { session: ref });
    await this.client.closeBatchSession(ref);
    this.store.sessions.update(ref, { state: 'closed', closedAt: new Date(this.s.now()).toISOString() });
    this.progress('batch-close', 1, 1, { session: ref });
    this.s.crashPoint('batch:after-close');
    const t2 = this.s.now();
    await this.finishBatch(ref);
    timings.wait = this.s.now() - t2;
    this.log()?.info(`${this.name}: batch session ${ref} with ${total} invoice(s) done (package+encrypt+open ${timings.package} ms, upload ${timings.upload} ms, processing ${timings.wait} ms)`, {
      session: ref,
      ...timings,
    });
  }

  /** Waits for a closed batch session and stores every invoice's result, matched by invoice hash. */
  private async finishBatch(ref: string): Promise<void> {
    this.progress('batch-wait', 0, 1, { session: ref });
    const st = await this.client.waitForSession(ref, this.waitOptions());
    this.progress('batch-wait', 1, 1, { session: ref, message: `${st.status.code} ${st.status.description}` });
    const phase = sessionPhase(st);
    const invoices = (await this.sessionInvoices(ref)) ?? [];
    const byName = new Map<string, SessionInvoiceStatusResponse>();
    const byHash = new Map<string, SessionInvoiceStatusResponse>();
    for (const inv of invoices) {
      if (inv.invoiceFileName) byName.set(inv.invoiceFileName, inv);
      if (!byHash.has(inv.invoiceHash)) byHash.set(inv.invoiceHash, inv);
    }
    const docs = sendingInSession(this.store, ref, invoiceHashOf);
    const duplicates: { id: number; inv: SessionInvoiceStatusResponse; outcome: Extract<InvoiceOutcome, { kind: 'duplicate' }> }[] = [];
    const counts: Record<string, number> = {};
    const count = (state: string): void => void (counts[state] = (counts[state] ?? 0) + 1);
    this.store.transaction((tx) => {
      const accepted: { id: number; ksefNumber: string; invoiceRef: string; acquisitionDate: string | undefined }[] = [];
      for (const d of docs) {
        const hash = d.invoiceHash;
        const named = byName.get(`${d.id}.xml`);
        const inv = named && named.invoiceHash === hash ? named : byHash.get(hash);
        if (!inv) {
          tx.documents.transition(d.id, 'queued', {
            expectedFrom: 'sending',
            reason: `batch session ${ref} ended ${st.status.code} without this invoice; queued again`,
            ...(phase.phase === 'failed' && phase.error ? { patch: { lastError: { code: phase.error.code, message: phase.error.message } } } : {}),
          });
          count('queued');
          continue;
        }
        const outcome = classifyInvoiceStatus(inv);
        if (outcome.kind === 'accepted') {
          accepted.push({ id: d.id, ksefNumber: outcome.ksefNumber, invoiceRef: inv.referenceNumber, acquisitionDate: outcome.acquisitionDate });
          count('accepted');
        } else if (outcome.kind === 'duplicate') {
          duplicates.push({ id: d.id, inv, outcome });
          count('duplicate');
        } else if (outcome.kind === 'pending' && phase.phase === 'failed') {
          tx.documents.transition(d.id, 'queued', { expectedFrom: 'sending', reason: `batch session ${ref} failed (${st.status.code}); queued again` });
          count('queued');
        } else {
          count(this.applySync(tx, tx.documents.require(d.id), ref, inv, outcome));
        }
      }
      tx.documents.transitionMany(
        accepted.map((a) => a.id),
        'accepted',
        {
          expectedFrom: 'sending',
          reasonEach: (_id, i) => `KSeF number ${accepted[i]!.ksefNumber}`,
          detailsEach: (_id, i) => ({ acquisitionDate: accepted[i]!.acquisitionDate }),
          patchEach: (_id, i) => ({ ksefNumber: accepted[i]!.ksefNumber, invoiceRef: accepted[i]!.invoiceRef, sessionRef: ref, lastError: null }),
        },
      );
      const prev = tx.sessions.get(ref)?.details;
      const base = prev && typeof prev === 'object' ? (prev as Record<string, unknown>) : {};
      tx.sessions.update(ref, { state: phase.phase === 'failed' ? 'failed' : 'processed', details: { ...base, status: st.status, counts } });
    });
    for (const x of duplicates) await this.resolveDuplicate(this.store.documents.require(x.id), ref, x.inv, x.outcome);
    this.progress('batch-results', docs.length, docs.length, {
      session: ref,
      message: Object.entries(counts)
        .map(([k, v]) => `${v} ${k}`)
        .join(', '),
    });
  }

  // ------------------------------------------------------------------ UPO

  /**
   * The UPO jobs: per invoice (interactive sessions) by KSeF number, per session (batch sessions) when KSeF has
   * produced it. Durable: whatever is not stored yet is simply asked for again in the next round.
   */
  async fetchUpos(): Promise<boolean> {
    let did = false;
    // batch sessions waiting for their UPO
    for (const rec of this.store.sessions.listByState(['processed', 'failed'], { companyNip: this.nip })) {
      if (rec.kind !== 'batch') continue;
      const waiting = this.store.db.prepare(`SELECT COUNT(*) AS n FROM documents WHERE session_ref = ? AND state = 'accepted'`).get(rec.referenceNumber) as { n: number };
      if (waiting.n === 0) {
        this.store.sessions.update(rec.referenceNumber, { state: 'done' });
        continue;
      }
      const st = await this.client.getSessionStatus(rec.referenceNumber);
      if (!st.upo?.pages?.length) continue;
      this.progress('upo', 0, st.upo.pages.length, { session: rec.referenceNumber });
      this.s.crashPoint('upo:fetch');
      const pages = await this.client.getSessionUpo(rec.referenceNumber, { status: st });
      let confirmed = 0;
      this.store.transaction((tx) => {
        // each page stored once, exactly as received; each document linked to its Dokument entry on it
        const byKsef = new Map<string, { upoId: number; upoReferenceNumber: string; position: number; entry: UpoEntry }>();
        for (const p of pages) {
          const row = tx.upos.insert({ sessionRef: rec.referenceNumber, invoiceRef: p.upoReferenceNumber, xml: p.xml });
          p.entries.forEach((e, i) => byKsef.set(e.ksefNumber, { upoId: row.id, upoReferenceNumber: p.upoReferenceNumber, position: i + 1, entry: e }));
        }
        const rows = tx.db.prepare(`SELECT id, ksef_number AS k FROM documents WHERE session_ref = ? AND state = 'accepted'`).all(rec.referenceNumber) as { id: number; k: string | null }[];
        const hits: { id: number; upoId: number; upoReferenceNumber: string; position: number; entry: UpoEntry }[] = [];
        for (const r of rows) {
          const u = r.k ? byKsef.get(r.k) : undefined;
          if (u) hits.push({ id: r.id, ...u });
        }
        tx.upos.linkEntries(
          hits.map((h) => ({
            documentId: h.id,
            upoId: h.upoId,
            position: h.position,
            ksefNumber: h.entry.ksefNumber,
            invoiceNumber: h.entry.invoiceNumber,
            invoiceHash: h.entry.invoiceHash,
            sellerNip: h.entry.sellerNip,
            receivedAt: h.entry.receivedAt,
            acquisitionDate: h.entry.acquisitionDate,
          })),
        );
        confirmed = tx.documents.transitionMany(
          hits.map((h) => h.id),
          'confirmed',
          {
            expectedFrom: 'accepted',
            onUnexpected: 'skip',
            reasonEach: (_id, i) => `session UPO ${hits[i]!.upoReferenceNumber}`,
            detailsEach: (_id, i) => ({ upoId: hits[i]!.upoId, upoReferenceNumber: hits[i]!.upoReferenceNumber }),
          },
        ).moved;
        tx.sessions.update(rec.referenceNumber, { state: 'done' });
      });
      this.progress('upo', pages.length, pages.length, { session: rec.referenceNumber, message: `${confirmed} invoice(s) confirmed` });
      did = true;
    }
    // per-invoice UPOs (interactive sessions, and documents resolved to an earlier sending)
    const accepted = this.store.documents.listByState('accepted', { companyNip: this.nip, limit: 500 });
    for (const d of accepted) {
      if (!d.sessionRef || !d.ksefNumber) continue;
      const rec = this.store.sessions.get(d.sessionRef);
      if (rec?.kind === 'batch' && rec.state !== 'done') continue;
      this.s.crashPoint('upo:fetch');
      let entry;
      try {
        entry = await this.client.getInvoiceUpoByKsefNumber(d.sessionRef, d.ksefNumber);
      } catch (e) {
        if (isUnavailability(e)) throw e;
        // not there yet (or not for this session): asked again in a later round
        this.log()?.forDocument(d.id).debug(`UPO of document ${d.id} not available yet: ${errorMessage(e)}`);
        continue;
      }
      const ksefNumber = d.ksefNumber;
      const sessionRef = d.sessionRef;
      this.store.documents.transition(d.id, 'confirmed', {
        expectedFrom: 'accepted',
        reason: 'UPO stored',
        alsoDo: (tx) => {
          tx.upos.insert({ documentId: d.id, sessionRef, ksefNumber, invoiceRef: d.invoiceRef, xml: entry.upoXml });
        },
      });
      did = true;
    }
    if (accepted.length > 0) this.progress('upo', accepted.length, accepted.length);
    return did;
  }
}
