/**
 * The outbox: takes validated FA(3) invoices from the store and gets each of them a KSeF number and a UPO,
 * once, per company (KSeF context), in immediate-UPO mode (interactive session) or batch-UPO mode (batch
 * session), switching a group to batch above the auto-batch threshold. See worker.ts for the exactly-once rules.
 */
import { createHash } from 'node:crypto';
import { errorMessage } from '../errors/index.js';
import { validateFa3Xml, validateMany } from '../invoice/index.js';
import type { DocumentRecord, DocumentState, Store } from '../store/index.js';
import { envCrashPoint } from './crash.js';
import type { DispatcherOptions, DrainOptions, DrainResult, EnqueueInput, EnqueueIssue, EnqueueOptions, EnqueueResult } from './types.js';
import { CompanyWorker, Unavailable, type WorkerSettings } from './worker.js';

const FINAL: readonly DocumentState[] = ['accepted', 'confirmed', 'rejected', 'invalid'];

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export class Dispatcher {
  readonly store: Store;
  private readonly workers: CompanyWorker[];
  private readonly settings: WorkerSettings;
  private running: Promise<void> | undefined;
  private stopping: AbortController | undefined;
  /** Interrupts the idle wait of the background rounds (new work arrived). */
  private wakeIdle: AbortController = new AbortController();
  private wakeSeq = 0;

  constructor(private readonly opts: DispatcherOptions) {
    this.store = opts.store;
    this.settings = {
      sessionMode: opts.sessionMode,
      autoBatchThreshold: opts.autoBatchThreshold,
      batch: opts.batch,
      idleCloseMs: opts.idleCloseMs ?? 60_000,
      sessionRenewMarginMs: opts.sessionRenewMarginMs ?? 30 * 60_000,
      maxInvoicesPerOnlineSession: opts.maxInvoicesPerOnlineSession ?? 9_000,
      pollIntervalMs: opts.pollIntervalMs ?? 20,
      maxPollIntervalMs: opts.maxPollIntervalMs ?? 2_000,
      waitTimeoutMs: opts.waitTimeoutMs ?? 600_000,
      maxAttempts: opts.maxAttempts ?? 5,
      backoffMs: opts.backoffMs ?? { min: 1_000, max: 60_000 },
      crashPoint: opts.crashPoint ?? envCrashPoint(),
      now: opts.now ?? Date.now,
      logger: opts.logger,
      onProgress: opts.onProgress,
    };
    this.workers = opts.companies.map((c) => new CompanyWorker(c, opts.store, this.settings));
  }

  /** NIPs the dispatcher sends for. */
  get companies(): string[] {
    return this.workers.map((w) => w.nip);
  }

  /**
   * Puts one FA(3) document into the store: validated and queued for its company (the seller's NIP), or
   * `invalid` with the reasons. The same document again (source + content hash) is not stored twice.
   */
  enqueue(input: EnqueueInput, o: EnqueueOptions = {}): EnqueueResult {
    const source = input.source ?? 'cli';
    const contentHash = createHash('sha256').update(input.xml, 'utf8').digest('hex');
    const existing = this.store.documents.findByIdentity(source, contentHash);
    if (existing) return { documentId: existing.id, created: false, state: existing.state, issues: [] };
    const issues: EnqueueIssue[] = [];
    let invoiceNumber: string | null = null;
    let sellerNip: string | null = null;
    if (o.validate !== false) {
      const r = validateFa3Xml(input.xml, { ...(o.today ? { today: o.today } : {}), ...(o.schemaDir ? { schemaDir: o.schemaDir } : {}) });
      for (const i of r.xsd) issues.push({ code: i.code, message: i.message, line: i.line });
      for (const i of r.semantic) if (i.severity === 'error') issues.push({ code: i.code, message: i.message, path: i.path });
      invoiceNumber = r.invoice?.number ?? null;
      sellerNip = r.invoice?.seller.nip ?? null;
    }
    if (!sellerNip) sellerNip = /<Podmiot1>[\s\S]*?<NIP>(\d{10})<\/NIP>/.exec(input.xml)?.[1] ?? null;
    if (!invoiceNumber) invoiceNumber = /<P_2>([^<]*)<\/P_2>/.exec(input.xml)?.[1] ?? null;
    const company = sellerNip ? this.workers.find((w) => w.nip === sellerNip) : undefined;
    if (!company && issues.length === 0) {
      issues.push({
        code: 'DISPATCH_NO_COMPANY_FOR_NIP',
        message: `no company in the configuration has the seller's NIP ${sellerNip ?? '(none found)'} (configured: ${this.companies.join(', ')})`,
      });
    }
    const invalid = issues.length > 0;
    const doc = this.store.documents.insert({
      source,
      contentHash,
      sourceRef: input.sourceRef ?? null,
      companyNip: company?.nip ?? sellerNip,
      invoiceNumber,
      sellerNip,
      xml: input.xml,
      state: invalid ? 'invalid' : 'queued',
      lastError: invalid ? { code: issues[0]!.code, message: issues.map((i) => `${i.line ? `line ${i.line}: ` : ''}${i.code}: ${i.message}`).join('; '), details: { issues } } : null,
      reason: invalid ? 'invalid FA(3)' : 'validated and queued',
    });
    this.opts.logger?.forDocument(doc.id).info(`document ${doc.id} (${invoiceNumber ?? '?'}) ${invalid ? `invalid: ${issues[0]!.message}` : 'queued'}`, { source, sourceRef: input.sourceRef });
    if (!invalid) this.wake();
    return { documentId: doc.id, created: true, state: doc.state, issues };
  }

  /**
   * Many documents at once: validated with one compiled schema, stored in one transaction (the fast path for
   * large exports). Results in input order.
   */
  enqueueMany(inputs: readonly EnqueueInput[], o: EnqueueOptions = {}): EnqueueResult[] {
    const vopts = { ...(o.today ? { today: o.today } : {}), ...(o.schemaDir ? { schemaDir: o.schemaDir } : {}) };
    const validations = o.validate === false ? undefined : validateMany(inputs.map((i) => i.xml), vopts);
    const prepared = inputs.map((input, k) => {
      const issues: EnqueueIssue[] = [];
      const r = validations?.[k];
      if (r) {
        for (const i of r.xsd) issues.push({ code: i.code, message: i.message, line: i.line });
        for (const i of r.semantic) if (i.severity === 'error') issues.push({ code: i.code, message: i.message, path: i.path });
      }
      const sellerNip = r?.invoice?.seller.nip ?? /<Podmiot1>[\s\S]*?<NIP>(\d{10})<\/NIP>/.exec(input.xml)?.[1] ?? null;
      const invoiceNumber = r?.invoice?.number ?? /<P_2>([^<]*)<\/P_2>/.exec(input.xml)?.[1] ?? null;
      const company = sellerNip ? this.workers.find((w) => w.nip === sellerNip) : undefined;
      if (!company && issues.length === 0) {
        issues.push({ code: 'DISPATCH_NO_COMPANY_FOR_NIP', message: `no company in the configuration has the seller's NIP ${sellerNip ?? '(none found)'}` });
      }
      const invalid = issues.length > 0;
      return {
        issues,
        doc: {
          source: input.source ?? 'cli',
          contentHash: createHash('sha256').update(input.xml, 'utf8').digest('hex'),
          sourceRef: input.sourceRef ?? null,
          companyNip: company?.nip ?? sellerNip,
          invoiceNumber,
          sellerNip,
          xml: input.xml,
          state: invalid ? ('invalid' as const) : ('queued' as const),
          lastError: invalid ? { code: issues[0]!.code, message: issues.map((i) => `${i.code}: ${i.message}`).join('; '), details: { issues } } : null,
          reason: invalid ? 'invalid FA(3)' : 'validated and queued',
        },
      };
    });
    const res = this.store.documents.insertMany(prepared.map((p) => p.doc));
    const out: EnqueueResult[] = new Array(inputs.length);
    for (const i of res.inserted) out[i.index] = { documentId: i.id, created: true, state: prepared[i.index]!.doc.state, issues: prepared[i.index]!.issues };
    for (const dd of res.duplicates) out[dd.index] = { documentId: dd.existingId, created: false, state: this.store.documents.require(dd.existingId).state, issues: [] };
    if (res.inserted.length > 0) this.wake();
    this.opts.logger?.info(`${res.inserted.length} document(s) stored (${prepared.filter((p) => p.doc.state === 'invalid').length} invalid), ${res.duplicates.length} already known`);
    return out;
  }

  /**
   * Moves a rejected or invalid document back to the queue after its cause was fixed (optionally with
   * corrected XML, validated again). Returns the new state.
   */
  requeue(id: number, o: { xml?: string; reason?: string; validate?: boolean; today?: string; schemaDir?: string } = {}): EnqueueResult {
    const doc = this.store.documents.require(id);
    if (doc.state !== 'rejected' && doc.state !== 'invalid') {
      return { documentId: id, created: false, state: doc.state, issues: [{ code: 'DISPATCH_NOT_RESENDABLE', message: `document ${id} is ${doc.state}; only rejected or invalid documents can be sent again` }] };
    }
    const xml = o.xml ?? doc.xml ?? '';
    const issues: EnqueueIssue[] = [];
    let invoiceNumber = doc.invoiceNumber;
    if (o.validate !== false) {
      const r = validateFa3Xml(xml, { ...(o.today ? { today: o.today } : {}), ...(o.schemaDir ? { schemaDir: o.schemaDir } : {}) });
      for (const i of r.xsd) issues.push({ code: i.code, message: i.message, line: i.line });
      for (const i of r.semantic) if (i.severity === 'error') issues.push({ code: i.code, message: i.message, path: i.path });
      invoiceNumber = r.invoice?.number ?? invoiceNumber;
    }
    if (issues.length > 0) return { documentId: id, created: false, state: doc.state, issues };
    const reason = o.reason ?? 'sent again after a fix';
    const patch = { ...(o.xml !== undefined ? { xml: o.xml, invoiceNumber } : {}), lastError: null, ksefNumber: null, invoiceRef: null };
    this.store.transaction((tx) => {
      if (doc.state === 'rejected') {
        tx.documents.transition(id, 'queued', { expectedFrom: 'rejected', reason, patch });
      } else {
        tx.documents.transition(id, 'received', { expectedFrom: 'invalid', reason, patch });
        tx.documents.transition(id, 'mapped', { reason });
        tx.documents.transition(id, 'validated', { reason: 'valid FA(3)' });
        tx.documents.transition(id, 'queued', { reason });
      }
    });
    this.wake();
    return { documentId: id, created: false, state: 'queued', issues: [] };
  }

  /** New work arrived: the background rounds (start()) look at once instead of after their interval. */
  wake(): void {
    const w = this.wakeIdle;
    this.wakeSeq++;
    this.wakeIdle = new AbortController();
    w.abort();
  }

  /**
   * Sends everything queued now (batches too, whatever their thresholds), reconciles documents caught mid-send,
   * fetches UPOs, until the awaited documents are final (or the timeout: then they simply keep waiting).
   */
  async drain(o: DrainOptions = {}): Promise<DrainResult> {
    const deadline = this.settings.now() + (o.timeoutMs ?? 600_000);
    const waitForUpo = o.waitForUpo !== false;
    const pendingStates: DocumentState[] = waitForUpo ? ['queued', 'sending', 'accepted'] : ['queued', 'sending'];
    const idsJson = o.documentIds ? JSON.stringify(o.documentIds) : undefined;
    const pendingSql = this.store.db.prepare(
      `SELECT COUNT(*) AS n FROM documents WHERE company_nip = ? AND state IN (${pendingStates.map(() => '?').join(',')})${idsJson ? ' AND id IN (SELECT value FROM json_each(?))' : ''}`,
    );
    /** Documents of this company the drain still waits for (only the given ones when documentIds is set). */
    const pendingOf = (w: CompanyWorker): number => (pendingSql.get(w.nip, ...pendingStates, ...(idsJson ? [idsJson] : [])) as { n: number }).n;
    await Promise.all(
      this.workers.map(async (w) => {
        w.pausedUntil = 0;
        while (!o.signal?.aborted && this.settings.now() < deadline) {
          if (w.paused()) {
            if (pendingOf(w) === 0) break;
            await sleep(Math.min(w.pausedUntil - this.settings.now(), deadline - this.settings.now()), o.signal);
            continue;
          }
          let did: boolean;
          try {
            did = await w.step(true, waitForUpo);
          } catch (e) {
            // a bug or a store problem: logged, the company pauses, others go on
            this.opts.logger?.error(`${w.name}: dispatch round failed: ${errorMessage(e)}`, e instanceof Error ? e : undefined);
            w.noteUnavailable(new Unavailable({ code: 'DISPATCH_ROUND_FAILED', message: errorMessage(e) }, undefined));
            if (pendingOf(w) === 0) break;
            continue;
          }
          if (pendingOf(w) === 0) break;
          if (!did) await sleep(Math.min(200, Math.max(0, deadline - this.settings.now())), o.signal);
        }
        try {
          await w.closeOnline();
        } catch (e) {
          this.opts.logger?.warn(`${w.name}: closing the interactive session failed: ${errorMessage(e)}`);
        }
      }),
    );
    const ids = o.documentIds;
    const states: Record<string, number> = {};
    const docs: DocumentRecord[] = ids ? ids.map((id) => this.store.documents.get(id)).filter((d): d is DocumentRecord => d !== undefined) : [];
    let complete: boolean;
    if (ids) {
      for (const d of docs) states[d.state] = (states[d.state] ?? 0) + 1;
      complete = docs.every((d) => (waitForUpo ? FINAL.filter((s) => s !== 'accepted') : FINAL).includes(d.state));
    } else {
      const counts = this.store.documents.countByState();
      for (const [k, v] of Object.entries(counts)) if (v > 0) states[k] = v;
      complete = this.workers.every((w) => pendingOf(w) === 0);
    }
    const waiting = this.workers
      .filter((w) => w.lastProblem && pendingOf(w) > 0)
      .map((w) => ({ company: w.name, nip: w.nip, reason: w.lastProblem!.message }));
    return { states, complete, waiting };
  }

  /**
   * Background mode: rounds every `intervalMs` (default 1 s); batches go out when their count, size or time
   * limit is reached; the interactive session is closed when idle. Stop with stop().
   */
  start(o: { intervalMs?: number } = {}): void {
    if (this.running) return;
    const ac = new AbortController();
    this.stopping = ac;
    const interval = o.intervalMs ?? 1_000;
    this.running = Promise.all(
      this.workers.map(async (w) => {
        while (!ac.signal.aborted) {
          const seen = this.wakeSeq;
          let did = false;
          if (!w.paused()) {
            try {
              did = await w.step(false);
            } catch (e) {
              this.opts.logger?.error(`${w.name}: dispatch round failed: ${errorMessage(e)}`, e instanceof Error ? e : undefined);
              w.noteUnavailable(new Unavailable({ code: 'DISPATCH_ROUND_FAILED', message: errorMessage(e) }, undefined));
            }
          }
          if (!did && seen === this.wakeSeq) await sleep(interval, AbortSignal.any([ac.signal, this.wakeIdle.signal]));
        }
      }),
    ).then(() => undefined);
  }

  /** Stops the background rounds (after the current one) and closes the interactive sessions. */
  async stop(): Promise<void> {
    this.stopping?.abort();
    await this.running;
    this.running = undefined;
    for (const w of this.workers) {
      try {
        await w.closeOnline();
      } catch (e) {
        this.opts.logger?.warn(`${w.name}: closing the interactive session failed: ${errorMessage(e)}`);
      }
    }
  }
}
