/**
 * Background processing, like KSeF's asynchronous pipeline: sent invoices are verified and numbered after the
 * configured delay, closed interactive sessions are finalised (status and session UPO) once their invoices are done,
 * closed batch sessions are checked, decrypted, unpacked and processed, and sessions past their deadlines are
 * cancelled or closed. Work is synchronous and batched (one transaction per chunk) with a yield to the event loop
 * between chunks, so 10,000 invoices take seconds and the API stays responsive meanwhile.
 */
import crypto from 'node:crypto';
import type { EmulatorContext, ProcessingScheduler } from '../context.js';
import type { InvoiceRow, SessionRow } from '../store/db.js';
import { newKsefNumber, newReferenceNumber } from '../ids.js';
import { aesDecrypt, sha256Base64 } from '../crypto/keys.js';
import { attachmentsAllowed } from '../store/tokens.js';
import { sessionLimits } from '../store/limits.js';
import type { EmulatorLimits } from '../options.js';
import { STATUS, verifyInvoice, type InvoiceFields, type InvoiceStatus, type Verdict } from './verify.js';
import { POOL_THRESHOLD, VerifyPool, type PoolVerifyOptions } from './verify-pool.js';
import { sessionUpoPage, UPO_PAGE_SIZE } from './upo.js';
import { unpackTarGz, unpackZip, type PackageEntry } from './unpack.js';

export interface BatchMeta {
  fileSize: number;
  fileHash: string;
  compressionType?: 'Zip' | 'TarGz' | null;
  fileParts: { ordinalNumber: number; fileSize: number; fileHash: string }[];
}

export const SESSION_STATUS = {
  onlineOpen: { code: 100, description: 'Sesja interaktywna otwarta' },
  onlineClosed: { code: 170, description: 'Sesja interaktywna zamknięta' },
  onlineDone: { code: 200, description: 'Sesja interaktywna przetworzona pomyślnie' },
  batchOpen: { code: 100, description: 'Sesja wsadowa rozpoczęta' },
  batchProcessing: { code: 150, description: 'Trwa przetwarzanie' },
  batchDone: { code: 200, description: 'Sesja wsadowa przetworzona pomyślnie' },
  packageError: { code: 405, description: 'Błąd weryfikacji poprawności dostarczonych elementów paczki' },
  keyError: { code: 415, description: 'Błąd odszyfrowania dostarczonego klucza' },
  tooManyInvoices: { code: 420, description: 'Przekroczony limit faktur w sesji' },
  decompression: { code: 430, description: 'Błąd dekompresji pierwotnego archiwum' },
  partDecryption: { code: 435, description: 'Błąd odszyfrowania zaszyfrowanych części archiwum' },
  cancelled: { code: 440, description: 'Sesja anulowana' },
  noValidInvoices: { code: 445, description: 'Błąd weryfikacji, brak poprawnych faktur' },
} as const;

const CHUNK = 250;
const yieldLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Outcome {
  status: InvoiceStatus;
  fields: Partial<InvoiceFields>;
  ksefNumber: string | null;
}

export class Processor implements ProcessingScheduler {
  private timer: NodeJS.Timeout | null = null;
  /** Real time (Date.now) the pending timer fires at; the emulator clock may be shifted in tests. */
  private timerFireAt = Infinity;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private waiters: (() => void)[] = [];
  private pool: VerifyPool | null = null;

  private readonly findDuplicate;

  constructor(private readonly ctx: EmulatorContext) {
    this.findDuplicate = ctx.db.prepare<[string, string, string], { ksef_number: string; session_ref: string }>(
      `SELECT ksef_number, session_ref FROM invoices WHERE seller_nip = ? AND invoice_kind = ? AND invoice_number = ? AND ksef_number IS NOT NULL`,
    );
  }

  kick(atMs?: number): void {
    if (this.stopped) return;
    const at = atMs ?? this.ctx.now();
    if (this.running) {
      if (at <= this.ctx.now()) this.again = true;
      else this.schedule(at);
      return;
    }
    this.schedule(at);
  }

  private schedule(at: number): void {
    const delay = Math.max(0, Math.min(at - this.ctx.now(), 2_000_000_000));
    const fireAt = Date.now() + delay;
    if (this.timer && this.timerFireAt <= fireAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerFireAt = fireAt;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerFireAt = Infinity;
      this.start();
    }, delay);
    this.timer.unref();
  }

  private start(): void {
    if (this.running || this.stopped) return;
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.pump();
        } catch (e) {
          this.ctx.log.error(`processing failed: ${(e as Error).stack ?? String(e)}`);
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = null;
      if (this.stopped) {
        // close() is under way: the database may be closed next, so do not look for more work
        this.flushWaiters();
        return;
      }
      let next: number | null;
      try {
        next = this.nextDue();
      } catch (e) {
        this.ctx.log.error(`processing: cannot read the next due time: ${(e as Error).message}`);
        this.flushWaiters();
        return;
      }
      if (next !== null) this.schedule(next);
      if (next === null || next > this.ctx.now() + 60_000) this.flushWaiters();
    });
  }

  private flushWaiters(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves once nothing is pending within the next minute (used by tests and on close). */
  idle(): Promise<void> {
    if (!this.running && (!this.timer || this.timerFireAt > Date.now() + 60_000)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Stops scheduling and waits for a run in progress to reach its next safe point; ends the verification workers. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const pool = this.pool;
    this.pool = null;
    await pool?.close(); // a batch waiting for verdicts stops at once
    if (this.running) await this.running.catch(() => {});
    this.flushWaiters();
  }

  /** Starts the verification workers, when configured, so that the first big batch does not wait for them. */
  warm(): void {
    this.verifyPool()?.warm();
  }

  /** The verification workers for big batches, or null when off or broken. */
  private verifyPool(): VerifyPool | null {
    if (this.ctx.options.verifyWorkers <= 0 || this.stopped) return null;
    if (this.pool?.failure) return null;
    this.pool ??= new VerifyPool(this.ctx.options.verifyWorkers, this.ctx.options.schemaDir, (reason) =>
      this.ctx.log.warn(`verification workers failed (${reason}): invoices are verified on the main thread`),
    );
    return this.pool;
  }

  private nextDue(): number | null {
    const db = this.ctx.db;
    const row = db
      .prepare<[], { t: number | null }>(
        `SELECT MIN(t) AS t FROM (
          SELECT MIN(due_ms) AS t FROM invoices WHERE due_ms IS NOT NULL
          UNION ALL SELECT MIN(due_ms) FROM sessions WHERE due_ms IS NOT NULL
          UNION ALL SELECT MIN(upload_deadline_ms) FROM sessions WHERE kind = 'batch' AND status_code = 100
          UNION ALL SELECT MIN(valid_until_ms) FROM sessions WHERE kind = 'online' AND status_code = 100)`,
      )
      .get();
    return row?.t ?? null;
  }

  private async pump(): Promise<void> {
    const now = this.ctx.now();
    this.expireSessions(now);
    await this.processOnlineInvoices(now);
    if (this.stopped) return;
    const batches = this.ctx.db
      .prepare<[number], SessionRow>(`SELECT * FROM sessions WHERE kind = 'batch' AND status_code = 150 AND due_ms <= ?`)
      .all(now);
    for (const s of batches) {
      await this.processBatch(s);
      if (this.stopped) return;
    }
    if (this.stopped) return;
    this.finalizeOnline(now);
  }

  private setSessionStatus(ref: string, st: { code: number; description: string }, details: string[] | null, now: number, clearDue = true): void {
    this.ctx.db
      .prepare(
        `UPDATE sessions SET status_code = ?, status_description = ?, status_details = ?, updated_ms = ?${clearDue ? ', due_ms = NULL' : ''} WHERE reference_number = ?`,
      )
      .run(st.code, st.description, details ? JSON.stringify(details) : null, now, ref);
  }

  private expireSessions(now: number): void {
    const db = this.ctx.db;
    for (const s of db.prepare<[number], SessionRow>(`SELECT * FROM sessions WHERE kind = 'batch' AND status_code = 100 AND upload_deadline_ms <= ?`).all(now)) {
      this.setSessionStatus(s.reference_number, SESSION_STATUS.cancelled, ['Przekroczono czas wysyłki'], now);
      db.prepare(`DELETE FROM batch_parts WHERE session_ref = ?`).run(s.reference_number);
    }
    for (const s of db.prepare<[number], SessionRow>(`SELECT * FROM sessions WHERE kind = 'online' AND status_code = 100 AND valid_until_ms <= ?`).all(now)) {
      db.prepare(`UPDATE sessions SET status_code = 170, status_description = ?, closed_ms = ?, updated_ms = ?, due_ms = ? WHERE reference_number = ?`).run(
        SESSION_STATUS.onlineClosed.description,
        now,
        now,
        now,
        s.reference_number,
      );
    }
  }

  /** Duplicate check against accepted invoices (and those accepted earlier in the same run). */
  private duplicateOf(fields: InvoiceFields, seen: Map<string, { ksef: string; session: string }>): { ksef: string; session: string } | null {
    const key = `${fields.sellerNip}\u0000${fields.invoiceKind}\u0000${fields.invoiceNumber}`;
    const mem = seen.get(key);
    if (mem) return mem;
    const row = this.findDuplicate.get(fields.sellerNip, fields.invoiceKind, fields.invoiceNumber);
    return row ? { ksef: row.ksef_number, session: row.session_ref } : null;
  }

  private judge(
    xml: Buffer,
    session: SessionRow,
    now: number,
    seen: Map<string, { ksef: string; session: string }>,
    attachments: boolean,
    limits: EmulatorLimits,
  ): Outcome {
    return this.decide(verifyInvoice(xml, { ...this.verifyOptions(session, now, attachments, limits), fa3: this.ctx.fa3 }), session, now, seen);
  }

  private verifyOptions(session: SessionRow, now: number, attachments: boolean, limits: EmulatorLimits): PoolVerifyOptions {
    return { contextNip: session.nip, mode: session.kind, attachmentsAllowed: attachments, nipChecksum: this.ctx.options.nipChecksum, nowMs: now, limits };
  }

  /** A verdict, then the duplicate check against the store: the outcome and, when accepted, a new KSeF number. */
  private decide(v: Verdict, session: SessionRow, now: number, seen: Map<string, { ksef: string; session: string }>): Outcome {
    if (!v.ok) return { status: v.status, fields: v.fields, ksefNumber: null };
    const dup = this.duplicateOf(v.fields, seen);
    if (dup) {
      return {
        status: {
          ...STATUS.duplicate,
          details: [`Duplikat faktury. Faktura o numerze KSeF: ${dup.ksef} została już prawidłowo przesłana do systemu w sesji: ${dup.session}`],
          extensions: { originalSessionReferenceNumber: dup.session, originalKsefNumber: dup.ksef },
        },
        fields: v.fields,
        ksefNumber: null,
      };
    }
    const ksefNumber = newKsefNumber(v.fields.sellerNip, now);
    seen.set(`${v.fields.sellerNip}\u0000${v.fields.invoiceKind}\u0000${v.fields.invoiceNumber}`, { ksef: ksefNumber, session: session.reference_number });
    return { status: STATUS.success, fields: v.fields, ksefNumber };
  }

  private async processOnlineInvoices(now: number): Promise<void> {
    const db = this.ctx.db;
    const sessions = new Map<string, SessionRow>();
    const update = db.prepare(
      `UPDATE invoices SET status_code = ?, status_description = ?, status_details = ?, status_extensions = ?, encrypted = NULL, xml = ?,
        ksef_number = ?, invoice_number = ?, seller_nip = ?, buyer_nip = ?, invoice_kind = ?, issue_date = ?, acquisition_ms = ?,
        storage_ms = ?, due_ms = NULL WHERE reference_number = ?`,
    );
    for (;;) {
      const rows = db.prepare<[number, number], InvoiceRow>(`SELECT * FROM invoices WHERE due_ms IS NOT NULL AND due_ms <= ? ORDER BY due_ms, ordinal LIMIT ?`).all(now, CHUNK);
      if (rows.length === 0) return;
      const seen = new Map<string, { ksef: string; session: string }>();
      const tally = new Map<string, { ok: number; failed: number }>();
      db.transaction(() => {
        for (const inv of rows) {
          let s = sessions.get(inv.session_ref);
          if (!s) {
            s = db.prepare<[string], SessionRow>(`SELECT * FROM sessions WHERE reference_number = ?`).get(inv.session_ref) as SessionRow;
            sessions.set(inv.session_ref, s);
          }
          let outcome: Outcome;
          let plain: Buffer | null = null;
          try {
            plain = aesDecrypt(s.aes_key as Buffer, s.iv, inv.encrypted as Buffer);
          } catch {
            plain = null;
          }
          if (!plain) outcome = { status: { ...STATUS.decryption, details: ['Nie udało się odszyfrować faktury kluczem sesji.'] }, fields: {}, ksefNumber: null };
          else if (plain.length !== inv.invoice_size) {
            outcome = { status: { ...STATUS.fileError, details: [`Rozmiar przesłanego pliku faktury nie zgadza się z zadeklarowaną wartością: ${inv.invoice_size}.`] }, fields: {}, ksefNumber: null };
          } else if (sha256Base64(plain) !== inv.invoice_hash) {
            outcome = { status: { ...STATUS.fileError, details: [`Skrót przesłanego pliku faktury nie zgadza się z zadeklarowaną wartością: ${inv.invoice_hash}.`] }, fields: {}, ksefNumber: null };
          } else {
            // the invoice was accepted for further processing when it was sent: that date checks P_1 and dates the KSeF number
            outcome = this.judge(plain, s, inv.invoicing_ms, seen, attachmentsAllowed(db, s.nip), sessionLimits(this.ctx, s.nip, 'online'));
          }
          const f = outcome.fields;
          update.run(
            outcome.status.code,
            outcome.status.description,
            outcome.status.details ? JSON.stringify(outcome.status.details) : null,
            outcome.status.extensions ? JSON.stringify(outcome.status.extensions) : null,
            outcome.ksefNumber ? plain : null,
            outcome.ksefNumber,
            f.invoiceNumber ?? null,
            f.sellerNip ?? null,
            f.buyerNip ?? null,
            f.invoiceKind ?? null,
            f.issueDate ?? null,
            outcome.ksefNumber ? now : null,
            outcome.ksefNumber ? now + 1 : null,
            inv.reference_number,
          );
          const t = tally.get(inv.session_ref) ?? { ok: 0, failed: 0 };
          if (outcome.ksefNumber) t.ok++;
          else t.failed++;
          tally.set(inv.session_ref, t);
        }
        for (const [ref, t] of tally) {
          db.prepare(`UPDATE sessions SET ok_count = ok_count + ?, failed_count = failed_count + ?, updated_ms = ? WHERE reference_number = ?`).run(
            t.ok,
            t.failed,
            now,
            ref,
          );
        }
      })();
      await yieldLoop();
      if (this.stopped) return;
    }
  }

  private finalizeOnline(now: number): void {
    const db = this.ctx.db;
    const ready = db
      .prepare<[number], SessionRow>(
        `SELECT * FROM sessions s WHERE kind = 'online' AND status_code = 170 AND due_ms <= ?
         AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.session_ref = s.reference_number AND i.due_ms IS NOT NULL)`,
      )
      .all(now);
    for (const s of ready) this.finish(s, now, SESSION_STATUS.onlineDone);
  }

  /** Final status and session UPO pages of a session whose invoices are all processed. */
  private finish(s: SessionRow, now: number, okStatus: { code: number; description: string }): void {
    const db = this.ctx.db;
    const counts = db
      .prepare<[string], { total: number; ok: number }>(`SELECT COUNT(*) AS total, COUNT(ksef_number) AS ok FROM invoices WHERE session_ref = ?`)
      .get(s.reference_number) as { total: number; ok: number };
    if (counts.total === 0) {
      this.setSessionStatus(s.reference_number, SESSION_STATUS.cancelled, ['Nie przesłano faktur'], now);
      return;
    }
    if (counts.ok === 0) {
      this.setSessionStatus(s.reference_number, SESSION_STATUS.noValidInvoices, null, now);
      return;
    }
    const accepted = db
      .prepare<[string], InvoiceRow>(
        `SELECT reference_number, ordinal, seller_nip, ksef_number, invoice_number, issue_date, invoicing_ms, acquisition_ms, invoice_hash, offline_mode
         FROM invoices WHERE session_ref = ? AND ksef_number IS NOT NULL ORDER BY ordinal`,
      )
      .all(s.reference_number);
    const pages = Math.ceil(accepted.length / UPO_PAGE_SIZE);
    const insert = db.prepare(`INSERT INTO upo_pages (reference_number, session_ref, page, xml, hash) VALUES (?, ?, ?, ?, ?)`);
    db.transaction(() => {
      for (let p = 0; p < pages; p++) {
        const slice = accepted.slice(p * UPO_PAGE_SIZE, (p + 1) * UPO_PAGE_SIZE);
        const xml = Buffer.from(sessionUpoPage(s, slice, p + 1, pages, p * UPO_PAGE_SIZE + 1, accepted.length), 'utf8');
        insert.run(newReferenceNumber('EU', now), s.reference_number, p + 1, xml, sha256Base64(xml));
      }
      this.setSessionStatus(s.reference_number, okStatus, null, now);
    })();
    this.ctx.log.info(`session ${s.reference_number}: ${counts.ok}/${counts.total} invoices accepted, ${pages} UPO page(s)`);
  }

  private failBatch(s: SessionRow, st: { code: number; description: string }, details: string[] | null, now: number): void {
    this.setSessionStatus(s.reference_number, st, details, now);
    this.ctx.db.prepare(`DELETE FROM batch_parts WHERE session_ref = ?`).run(s.reference_number);
    this.ctx.log.info(`batch ${s.reference_number}: ${st.code} ${st.description}${details ? ` (${details.join('; ')})` : ''}`);
  }

  private async processBatch(s: SessionRow): Promise<void> {
    const db = this.ctx.db;
    const now = this.ctx.now();
    const meta = JSON.parse(s.batch_meta as string) as BatchMeta;
    // a run interrupted by a shutdown left some invoices behind: start the package again
    db.prepare(`DELETE FROM invoices WHERE session_ref = ?`).run(s.reference_number);
    db.prepare(`UPDATE sessions SET invoice_count = 0, ok_count = 0, failed_count = 0 WHERE reference_number = ?`).run(s.reference_number);
    if (!s.aes_key) return this.failBatch(s, SESSION_STATUS.keyError, null, now);
    const getPart = db.prepare<[string, number], { data: Buffer }>(`SELECT data FROM batch_parts WHERE session_ref = ? AND ordinal = ?`);
    // parts are decrypted one at a time straight into the package buffer (no list of parts plus a joined copy)
    const pkg = Buffer.allocUnsafe(meta.fileSize);
    let filled = 0;
    let overflow = false;
    const pkgHash = crypto.createHash('sha256');
    for (const declared of [...meta.fileParts].sort((a, b) => a.ordinalNumber - b.ordinalNumber)) {
      const part = getPart.get(s.reference_number, declared.ordinalNumber);
      if (!part) return this.failBatch(s, SESSION_STATUS.packageError, [`Brak części ${declared.ordinalNumber} paczki.`], now);
      if (part.data.length !== declared.fileSize || sha256Base64(part.data) !== declared.fileHash) {
        return this.failBatch(s, SESSION_STATUS.packageError, [`Skrót lub rozmiar części ${declared.ordinalNumber} nie zgadza się z zadeklarowanym.`], now);
      }
      let plain: Buffer;
      try {
        plain = aesDecrypt(s.aes_key, s.iv, part.data);
      } catch {
        return this.failBatch(s, SESSION_STATUS.partDecryption, [`Nie udało się odszyfrować części ${declared.ordinalNumber}.`], now);
      }
      pkgHash.update(plain);
      if (filled + plain.length > pkg.length) overflow = true;
      else plain.copy(pkg, filled);
      filled += plain.length;
    }
    if (overflow || filled !== meta.fileSize || pkgHash.digest('base64') !== meta.fileHash) {
      return this.failBatch(s, SESSION_STATUS.packageError, ['Skrót lub rozmiar paczki nie zgadza się z zadeklarowanym (batchFile.fileHash, batchFile.fileSize).'], now);
    }
    const decompressionError = (e: unknown): void =>
      this.failBatch(s, SESSION_STATUS.decompression, [`Nie udało się rozpakować paczki (${meta.compressionType ?? 'Zip'}): ${(e as Error).message}`], this.ctx.now());
    let entries: PackageEntry[];
    try {
      entries = meta.compressionType === 'TarGz' ? unpackTarGz(pkg) : unpackZip(pkg);
    } catch (e) {
      return decompressionError(e);
    }
    const limits = sessionLimits(this.ctx, s.nip, 'batch');
    const max = limits.maxInvoicesPerSession;
    if (entries.length > max) {
      return this.failBatch(s, SESSION_STATUS.tooManyInvoices, [`Przekroczono dopuszczalną liczbę faktur w paczce: '${max}'. Liczba faktur w paczce: '${entries.length}'.`], now);
    }
    if (entries.length === 0) return this.failBatch(s, SESSION_STATUS.cancelled, ['Nie przesłano faktur'], now);

    const insert = db.prepare(
      `INSERT INTO invoices (reference_number, session_ref, ordinal, status_code, status_description, status_details, status_extensions,
        invoice_hash, invoice_size, file_name, xml, ksef_number, invoice_number, seller_nip, buyer_nip, invoice_kind, issue_date,
        offline_mode, invoicing_ms, acquisition_ms, storage_ms, form_code)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const updateCounts = db.prepare(
      `UPDATE sessions SET invoice_count = ?, ok_count = ok_count + ?, failed_count = failed_count + ?, updated_ms = ? WHERE reference_number = ?`,
    );
    const seen = new Map<string, { ksef: string; session: string }>();
    const attachments = attachmentsAllowed(db, s.nip);
    const total = entries.length;
    const pool = total >= POOL_THRESHOLD ? this.verifyPool() : null;
    interface Chunk {
      start: number;
      docs: Buffer[];
      t: number;
      verdicts: Promise<Verdict[]> | null;
    }
    // chunks are loaded (inflated) and, with the pool, verified ahead of the one being stored: a few at a time
    const ahead = pool ? 2 * this.ctx.options.verifyWorkers : 0;
    const queue: Chunk[] = [];
    let next = 0;
    const load = (): Chunk => {
      const start = next;
      const end = Math.min(total, start + CHUNK);
      next = end;
      const docs: Buffer[] = [];
      for (let i = start; i < end; i++) docs.push((entries[i] as PackageEntry).load());
      const t = this.ctx.now();
      const verdicts = pool ? pool.verify(docs, this.verifyOptions(s, t, attachments, limits)) : null;
      verdicts?.catch(() => {}); // awaited in order below; a failure there falls back to this thread
      return { start, docs, t, verdicts };
    };
    while (next < total || queue.length > 0) {
      let chunk: Chunk;
      try {
        while (next < total && queue.length <= ahead) queue.push(load());
        chunk = queue.shift() as Chunk;
      } catch (e) {
        // a damaged entry damages the package: nothing of it is accepted (invoices of earlier chunks go again)
        db.prepare(`DELETE FROM invoices WHERE session_ref = ?`).run(s.reference_number);
        db.prepare(`UPDATE sessions SET invoice_count = 0, ok_count = 0, failed_count = 0 WHERE reference_number = ?`).run(s.reference_number);
        return decompressionError(e);
      }
      let verdicts: Verdict[] | null = null;
      if (chunk.verdicts) {
        try {
          verdicts = await chunk.verdicts;
        } catch {
          // the pool has reported its failure; this chunk is verified here
        }
        if (this.stopped) return;
      }
      const { start, docs, t } = chunk;
      const end = start + docs.length;
      let ok = 0;
      db.transaction(() => {
        for (let k = 0; k < docs.length; k++) {
          const data = docs[k] as Buffer;
          const name = (entries[start + k] as PackageEntry).name;
          const v = verdicts?.[k];
          const o = v ? this.decide(v, s, t, seen) : this.judge(data, s, t, seen, attachments, limits);
          const f = o.fields;
          insert.run(
            newReferenceNumber('EE', t),
            s.reference_number,
            start + k + 1,
            o.status.code,
            o.status.description,
            o.status.details ? JSON.stringify(o.status.details) : null,
            o.status.extensions ? JSON.stringify(o.status.extensions) : null,
            sha256Base64(data),
            data.length,
            name.slice(-128),
            o.ksefNumber ? data : null,
            o.ksefNumber,
            f.invoiceNumber ?? null,
            f.sellerNip ?? null,
            f.buyerNip ?? null,
            f.invoiceKind ?? null,
            f.issueDate ?? null,
            s.offline_mode,
            t,
            o.ksefNumber ? t : null,
            o.ksefNumber ? t + 1 : null,
            s.form_code,
          );
          if (o.ksefNumber) ok++;
        }
        updateCounts.run(end, ok, end - start - ok, t, s.reference_number);
      })();
      docs.length = 0;
      await yieldLoop();
      if (this.stopped) return; // the session stays at 150 with due_ms set: the next start processes it again
    }
    db.prepare(`DELETE FROM batch_parts WHERE session_ref = ?`).run(s.reference_number);
    const fresh = db.prepare<[string], SessionRow>(`SELECT * FROM sessions WHERE reference_number = ?`).get(s.reference_number) as SessionRow;
    this.finish(fresh, this.ctx.now(), SESSION_STATUS.batchDone);
  }
}
