/**
 * KsefClient: everything the dispatcher needs from KSeF for one context (NIP), on top of the typed
 * endpoints (api.ts): authentication (auth.ts), public keys (public-keys.ts), the context's rate
 * limiter (limiter.ts), retries of safe operations (retry.ts), interactive and batch sessions, status,
 * and UPOs parsed for the store (upo.ts).
 *
 * Sending an invoice is never retried here: a failure is reported as it is (KsefApiError with
 * `delivery` = rejected / not-sent / unknown) so the dispatcher can reconcile by invoice hash.
 */
import { KsefApi, type CallOptions } from './api.js';
import { KsefAuth, type KsefAuthOptions, type SecretLike } from './auth.js';
import { inspect } from 'node:util';
import { aesEncrypt, createSessionKey, fileMetadata, wrapSessionKey, type SessionKey } from './crypto.js';
import { KsefApiError, KsefClientError, KsefStatusError } from './errors.js';
import { HttpTransport, type HttpTransportOptions } from './http.js';
import { RateLimiter, systemClock, type Clock, type KsefEnvironment, type RateLimiterOptions } from './limiter.js';
import { buildBatchPackage, encryptParts, type BatchPackage, type BatchPackageOptions, type EncryptedPart, type InvoiceFile } from './package.js';
import { PublicKeyStore } from './public-keys.js';
import { DEFAULT_RETRY_POLICY, retrySafe, type RetryPolicy } from './retry.js';
import {
  FORM_CODE_FA3,
  type EffectiveApiRateLimits,
  type FormCode,
  type PartUploadRequest,
  type SendInvoiceRequest,
  type SessionInvoiceStatusResponse,
  type SessionStatusResponse,
  type SessionsQuery,
  type SessionsQueryResponseItem,
} from './types.js';
import { upoEntries, type UpoEntry } from './upo.js';

/** Official API addresses (srodowiska.md; open-api.json servers). */
export const KSEF_BASE_URLS: Readonly<Record<KsefEnvironment, string>> = Object.freeze({
  test: 'https://api-test.ksef.mf.gov.pl/v2',
  demo: 'https://api-demo.ksef.mf.gov.pl/v2',
  production: 'https://api.ksef.mf.gov.pl/v2',
});

export interface KsefClientOptions {
  /** Context NIP. */
  nip: string;
  /** The KSeF token (a Secret: only reveal() gives the value). */
  ksefToken: SecretLike;
  /** Environment: default base URL and rate-limit profile. Default `test`. */
  environment?: KsefEnvironment;
  /** Base URL including /v2 (overrides the environment's), e.g. the emulator's. */
  baseUrl?: string;
  /** A limiter shared with other clients of the same context; created from `rateLimits` otherwise. */
  limiter?: RateLimiter;
  /** Options of the limiter this client creates (store, scale, margin, overrides, profile). */
  rateLimits?: Omit<RateLimiterOptions, 'context' | 'clock'>;
  /** Timeout of one API request (default 30 s). */
  timeoutMs?: number;
  /** Timeout of one part upload (default 10 min). */
  uploadTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  auth?: Omit<KsefAuthOptions, 'nip' | 'ksefToken' | 'clock'>;
  /** Form code of the sessions (default FA (3) / 1-0E / FA). */
  formCode?: FormCode;
  /** Ask KSeF for problem-details error bodies. */
  problemDetails?: boolean;
  fetch?: typeof fetch;
  clock?: Clock;
  /** Observer of every API request (endpoint, status, duration; never tokens or bodies). */
  onRequest?: HttpTransportOptions['onRequest'];
}

export interface OnlineSession {
  referenceNumber: string;
  validUntil: string;
  formCode: FormCode;
  /** AES key and IV of the session (memory only). */
  key: SessionKey;
}

export interface SendInvoiceOptions extends CallOptions {
  /** The invoice was issued in an offline mode (tryby-offline.md). */
  offlineMode?: boolean;
  /** SHA-256 (Base64) of the rejected offline invoice this one technically corrects (implies offlineMode). */
  hashOfCorrectedInvoice?: string;
}

export interface PreparedInvoice {
  request: SendInvoiceRequest;
  invoiceHash: string;
  invoiceSize: number;
}

export interface SentInvoice {
  sessionReferenceNumber: string;
  referenceNumber: string;
  invoiceHash: string;
  invoiceSize: number;
}

export interface BatchSession {
  referenceNumber: string;
  formCode: FormCode;
  key: SessionKey;
  package: BatchPackage;
  parts: EncryptedPart[];
  partUploadRequests: PartUploadRequest[];
}

export type BatchStage = 'package' | 'encrypt' | 'open' | 'upload' | 'close';

export interface BatchProgress {
  stage: BatchStage;
  done: number;
  total: number;
}

export interface UploadOptions {
  /** Parts uploaded at the same time (default 4). */
  concurrency?: number;
  onProgress?: (p: BatchProgress) => void;
  signal?: AbortSignal;
}

export interface SendBatchOptions extends BatchPackageOptions, UploadOptions {
  offlineMode?: boolean;
}

export interface SendBatchResult {
  session: BatchSession;
  /** Per stage, milliseconds (package, encrypt, open, upload, close). */
  timings: Record<BatchStage, number>;
}

export interface CloseResult {
  /** The session was no longer open (closed earlier, e.g. by a previous attempt, or cancelled). */
  alreadyClosed: boolean;
}

export interface WaitOptions {
  intervalMs?: number;
  maxIntervalMs?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface SessionUpoPage {
  upoReferenceNumber: string;
  xml: string;
  entries: UpoEntry[];
}

export class KsefClient {
  readonly nip: string;
  readonly api: KsefApi;
  readonly auth: KsefAuth;
  readonly keys: PublicKeyStore;
  readonly limiter: RateLimiter;
  readonly http: HttpTransport;
  readonly formCode: FormCode;
  private readonly retryPolicy: RetryPolicy;
  private readonly uploadTimeoutMs: number;
  private readonly clock: Clock;

  /** Creates a client and loads the limiter's stored history (use this when rateLimits.store is set). */
  static async create(opts: KsefClientOptions): Promise<KsefClient> {
    const c = new KsefClient(opts);
    if (!opts.limiter) await c.limiter.reload();
    return c;
  }

  constructor(opts: KsefClientOptions) {
    this.nip = opts.nip;
    this.clock = opts.clock ?? systemClock;
    const environment = opts.environment ?? 'test';
    this.limiter =
      opts.limiter ??
      RateLimiter.createSync({ environment, ...(opts.rateLimits ?? {}), context: opts.nip, clock: this.clock });
    this.http = new HttpTransport({
      baseUrl: opts.baseUrl ?? KSEF_BASE_URLS[environment],
      limiter: this.limiter,
      timeoutMs: opts.timeoutMs,
      problemDetails: opts.problemDetails,
      fetch: opts.fetch,
      onRequest: opts.onRequest,
    });
    this.api = new KsefApi(this.http);
    this.retryPolicy = { ...DEFAULT_RETRY_POLICY, ...(opts.retry ?? {}) };
    this.keys = new PublicKeyStore({
      fetchCertificates: (signal) => retrySafe(() => this.api.getPublicKeyCertificates({ signal }), this.retryPolicy, signal),
      clock: this.clock,
    });
    this.auth = new KsefAuth(this.api, this.keys, this.retryPolicy, { ...(opts.auth ?? {}), nip: opts.nip, ksefToken: opts.ksefToken, clock: this.clock });
    this.formCode = opts.formCode ?? FORM_CODE_FA3;
    this.uploadTimeoutMs = opts.uploadTimeoutMs ?? 600_000;
  }

  /** Printing the client never shows a token or key. */
  [inspect.custom](): string {
    return `KsefClient(${this.nip}, ${this.http.baseUrl})`;
  }

  toJSON(): Record<string, unknown> {
    return { nip: this.nip, baseUrl: this.http.baseUrl, auth: this.auth.toJSON() };
  }

  // ---------------------------------------------------------------- plumbing

  /** Runs an authenticated call; a 401 refreshes the token and repeats the call once if `resendOn401`. */
  private async authed<T>(fn: (token: string) => Promise<T>, o: { retry: boolean; resendOn401?: boolean; signal?: AbortSignal }): Promise<T> {
    const once = async (): Promise<T> => {
      const token = await this.auth.accessToken(o.signal);
      try {
        return await fn(token);
      } catch (e) {
        if (e instanceof KsefApiError && e.status === 401 && o.resendOn401 !== false) {
          this.auth.invalidateAccessToken(token);
          return fn(await this.auth.accessToken(o.signal));
        }
        throw e;
      }
    };
    return o.retry ? retrySafe(once, this.retryPolicy, o.signal) : once();
  }

  /** Wraps a fresh session key for KSeF; after a 21470 answer, refreshes the keys and re-wraps once. */
  private async withSymmetricKey<T>(key: SessionKey | undefined, run: (key: SessionKey) => Promise<T>, signal?: AbortSignal): Promise<T> {
    let pub = await this.keys.get('SymmetricKeyEncryption', signal);
    let k = key ? rewrap(key, pub.key, pub.publicKeyId) : createSessionKey(pub.key, pub.publicKeyId);
    try {
      return await run(k);
    } catch (e) {
      if (!(e instanceof KsefApiError && e.hasCode(21470))) throw e;
      await this.keys.refresh(signal);
      pub = await this.keys.get('SymmetricKeyEncryption', signal);
      k = rewrap(k, pub.key, pub.publicKeyId);
      return run(k);
    }
  }

  /** Authenticates now (or reuses valid tokens). */
  async authenticate(signal?: AbortSignal): Promise<void> {
    await this.auth.accessToken(signal);
  }

  /** Reads GET /rate-limits and applies the values to the limiter; returns them. */
  async refreshRateLimits(signal?: AbortSignal): Promise<EffectiveApiRateLimits> {
    const limits = await this.authed((t) => this.api.getRateLimits(t, { signal }), { retry: true, signal });
    this.limiter.applyEffectiveLimits(limits);
    return limits;
  }

  // ---------------------------------------------------------------- interactive session

  async openOnlineSession(o: { formCode?: FormCode; signal?: AbortSignal } = {}): Promise<OnlineSession> {
    const formCode = o.formCode ?? this.formCode;
    return this.withSymmetricKey(
      undefined,
      async (key) => {
        const r = await this.authed((t) => this.api.openOnlineSession({ formCode, encryption: key.encryption }, t, { signal: o.signal }), {
          retry: true,
          signal: o.signal,
        });
        return { referenceNumber: r.referenceNumber, validUntil: r.validUntil, formCode, key };
      },
      o.signal,
    );
  }

  /** Encrypts an invoice for a session and computes both hashes and sizes (no network). */
  prepareInvoice(key: SessionKey, content: Uint8Array | string, o: Omit<SendInvoiceOptions, keyof CallOptions> = {}): PreparedInvoice {
    const plain = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    if (plain.byteLength === 0) throw new KsefClientError('KSEF_INVOICE_EMPTY', 'cannot send an empty invoice');
    const encrypted = aesEncrypt(key.key, key.iv, plain);
    const p = fileMetadata(plain);
    const e = fileMetadata(encrypted);
    const request: SendInvoiceRequest = {
      invoiceHash: p.hash,
      invoiceSize: p.size,
      encryptedInvoiceHash: e.hash,
      encryptedInvoiceSize: e.size,
      encryptedInvoiceContent: encrypted.toString('base64'),
    };
    // A technical correction (offline/korekta-techniczna.md) always travels with offlineMode: true.
    if (o.offlineMode || o.hashOfCorrectedInvoice) request.offlineMode = true;
    if (o.hashOfCorrectedInvoice) request.hashOfCorrectedInvoice = o.hashOfCorrectedInvoice;
    return { request, invoiceHash: p.hash, invoiceSize: p.size };
  }

  /**
   * Sends one invoice in an open interactive session. Never retried: on failure the error says
   * whether KSeF rejected it (`delivery: 'rejected'`), never got it (`'not-sent'`) or may have it (`'unknown'`).
   */
  async sendInvoice(session: OnlineSession, invoice: PreparedInvoice | Uint8Array | string, o: SendInvoiceOptions = {}): Promise<SentInvoice> {
    const prepared = isPrepared(invoice) ? invoice : this.prepareInvoice(session.key, invoice, o);
    const r = await this.authed((t) => this.api.sendInvoice(session.referenceNumber, prepared.request, t, { signal: o.signal, timeoutMs: o.timeoutMs }), {
      retry: false,
      resendOn401: false,
      signal: o.signal,
    });
    return { sessionReferenceNumber: session.referenceNumber, referenceNumber: r.referenceNumber, invoiceHash: prepared.invoiceHash, invoiceSize: prepared.invoiceSize };
  }

  /** Closes an interactive session; idempotent (a session that is no longer open counts as closed). */
  async closeOnlineSession(referenceNumber: string, signal?: AbortSignal): Promise<CloseResult> {
    return this.idempotentClose(referenceNumber, (t) => this.api.closeOnlineSession(referenceNumber, t, { signal }), signal);
  }

  private async idempotentClose(referenceNumber: string, call: (token: string) => Promise<void>, signal?: AbortSignal): Promise<CloseResult> {
    try {
      await this.authed(call, { retry: true, signal });
      return { alreadyClosed: false };
    } catch (e) {
      if (e instanceof KsefApiError && e.hasCode(21180)) {
        const st = await this.getSessionStatus(referenceNumber, signal);
        if (st.status.code !== 100) return { alreadyClosed: true };
      }
      throw e;
    }
  }

  // ---------------------------------------------------------------- batch session

  /** Encrypts the package's parts with a fresh session key and opens the batch session. */
  async openBatchSession(pkg: BatchPackage, o: { formCode?: FormCode; offlineMode?: boolean; key?: SessionKey; signal?: AbortSignal; onProgress?: (p: BatchProgress) => void } = {}): Promise<BatchSession> {
    const formCode = o.formCode ?? this.formCode;
    const pub = await this.keys.get('SymmetricKeyEncryption', o.signal);
    const baseKey = o.key ?? createSessionKey(pub.key, pub.publicKeyId);
    o.onProgress?.({ stage: 'encrypt', done: 0, total: pkg.parts.length });
    const parts = encryptParts(pkg.parts, baseKey.key, baseKey.iv);
    o.onProgress?.({ stage: 'encrypt', done: parts.length, total: parts.length });
    return this.withSymmetricKey(
      baseKey,
      async (key) => {
        o.onProgress?.({ stage: 'open', done: 0, total: 1 });
        const r = await this.authed(
          (t) =>
            this.api.openBatchSession(
              {
                formCode,
                batchFile: {
                  fileSize: pkg.fileSize,
                  fileHash: pkg.fileHash,
                  compressionType: pkg.compressionType,
                  fileParts: parts.map((p) => ({ ordinalNumber: p.ordinalNumber, fileSize: p.fileSize, fileHash: p.fileHash })),
                },
                encryption: key.encryption,
                ...(o.offlineMode ? { offlineMode: true } : {}),
              },
              t,
              { signal: o.signal },
            ),
          { retry: true, signal: o.signal },
        );
        o.onProgress?.({ stage: 'open', done: 1, total: 1 });
        return { referenceNumber: r.referenceNumber, formCode, key, package: pkg, parts, partUploadRequests: r.partUploadRequests ?? [] };
      },
      o.signal,
    );
  }

  /** Uploads every part to the URL, method and headers KSeF returned (no access token), in parallel. */
  async uploadBatchParts(session: BatchSession, o: UploadOptions = {}): Promise<void> {
    const byOrdinal = new Map(session.partUploadRequests.map((r) => [r.ordinalNumber, r]));
    const jobs = session.parts.map((part) => {
      const req = byOrdinal.get(part.ordinalNumber);
      if (!req) {
        throw new KsefClientError('KSEF_BAD_RESPONSE', `KSeF returned no upload request for part ${part.ordinalNumber} of session ${session.referenceNumber}`, {
          document: session.referenceNumber,
        });
      }
      return { part, req };
    });
    let done = 0;
    o.onProgress?.({ stage: 'upload', done, total: jobs.length });
    await runBounded(jobs, o.concurrency ?? 4, async ({ part, req }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers ?? {})) if (v !== null && v !== undefined) headers[k] = v;
      await retrySafe(
        async () => {
          const res = await this.http.raw(
            req.url,
            { method: req.method || 'PUT', headers, body: part.data, timeoutMs: this.uploadTimeoutMs, signal: o.signal },
            `${req.method || 'PUT'} part ${part.ordinalNumber}`,
            session.referenceNumber,
          );
          await res.arrayBuffer().catch(() => undefined);
        },
        this.retryPolicy,
        o.signal,
      );
      o.onProgress?.({ stage: 'upload', done: ++done, total: jobs.length });
    });
  }

  async closeBatchSession(referenceNumber: string, signal?: AbortSignal): Promise<CloseResult> {
    return this.idempotentClose(referenceNumber, (t) => this.api.closeBatchSession(referenceNumber, t, { signal }), signal);
  }

  /** Whole batch flow: package, encrypt, open, upload parts, close. Returns the session and stage timings. */
  async sendBatch(files: InvoiceFile[], o: SendBatchOptions = {}): Promise<SendBatchResult> {
    const timings: Record<BatchStage, number> = { package: 0, encrypt: 0, open: 0, upload: 0, close: 0 };
    let t0 = this.clock.now();
    o.onProgress?.({ stage: 'package', done: 0, total: files.length });
    const pkg = await buildBatchPackage(files, o);
    o.onProgress?.({ stage: 'package', done: files.length, total: files.length });
    timings.package = this.clock.now() - t0;
    t0 = this.clock.now();
    let openStart = 0;
    const session = await this.openBatchSession(pkg, {
      offlineMode: o.offlineMode,
      signal: o.signal,
      onProgress: (p) => {
        if (p.stage === 'open' && p.done === 0) {
          openStart = this.clock.now();
          timings.encrypt = openStart - t0;
        }
        o.onProgress?.(p);
      },
    });
    timings.open = this.clock.now() - openStart;
    t0 = this.clock.now();
    await this.uploadBatchParts(session, o);
    timings.upload = this.clock.now() - t0;
    t0 = this.clock.now();
    o.onProgress?.({ stage: 'close', done: 0, total: 1 });
    await this.closeBatchSession(session.referenceNumber, o.signal);
    o.onProgress?.({ stage: 'close', done: 1, total: 1 });
    timings.close = this.clock.now() - t0;
    return { session, timings };
  }

  // ---------------------------------------------------------------- status

  async getSessionStatus(referenceNumber: string, signal?: AbortSignal): Promise<SessionStatusResponse> {
    return this.authed((t) => this.api.getSessionStatus(referenceNumber, t, { signal }), { retry: true, signal });
  }

  /** Sessions of the context matching a query (GET /sessions, every page), e.g. open ones after a restart. */
  async listSessions(query: SessionsQuery, signal?: AbortSignal): Promise<SessionsQueryResponseItem[]> {
    const out: SessionsQueryResponseItem[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await this.authed((t) => this.api.listSessions(query, t, { pageSize: 1000, continuationToken, signal }), { retry: true, signal });
      out.push(...(page.sessions ?? []));
      continuationToken = page.continuationToken || undefined;
    } while (continuationToken);
    return out;
  }

  /** Pages of the session's invoices (GET /sessions/{ref}/invoices with continuation tokens). */
  async *iterateSessionInvoices(referenceNumber: string, o: { failedOnly?: boolean; pageSize?: number; signal?: AbortSignal } = {}): AsyncGenerator<SessionInvoiceStatusResponse[]> {
    let continuationToken: string | undefined;
    do {
      const page = await this.authed(
        (t) =>
          (o.failedOnly ? this.api.getSessionFailedInvoices : this.api.getSessionInvoices).call(this.api, referenceNumber, t, {
            pageSize: o.pageSize ?? 1000,
            continuationToken,
            signal: o.signal,
          }),
        { retry: true, signal: o.signal },
      );
      yield page.invoices ?? [];
      continuationToken = page.continuationToken || undefined;
    } while (continuationToken);
  }

  async listSessionInvoices(referenceNumber: string, o: { pageSize?: number; signal?: AbortSignal } = {}): Promise<SessionInvoiceStatusResponse[]> {
    const out: SessionInvoiceStatusResponse[] = [];
    for await (const page of this.iterateSessionInvoices(referenceNumber, o)) out.push(...page);
    return out;
  }

  async listFailedInvoices(referenceNumber: string, o: { pageSize?: number; signal?: AbortSignal } = {}): Promise<SessionInvoiceStatusResponse[]> {
    const out: SessionInvoiceStatusResponse[] = [];
    for await (const page of this.iterateSessionInvoices(referenceNumber, { ...o, failedOnly: true })) out.push(...page);
    return out;
  }

  async getSessionInvoice(referenceNumber: string, invoiceReferenceNumber: string, signal?: AbortSignal): Promise<SessionInvoiceStatusResponse> {
    return this.authed((t) => this.api.getSessionInvoice(referenceNumber, invoiceReferenceNumber, t, { signal }), { retry: true, signal });
  }

  /** Polls an invoice until KSeF has finished with it (status code other than 100/150). */
  async waitForInvoice(referenceNumber: string, invoiceReferenceNumber: string, o: WaitOptions = {}): Promise<SessionInvoiceStatusResponse> {
    return this.poll(
      () => this.getSessionInvoice(referenceNumber, invoiceReferenceNumber, o.signal),
      (s) => s.status.code !== 100 && s.status.code !== 150,
      o,
      `invoice ${invoiceReferenceNumber}`,
    );
  }

  /**
   * Polls a session until it is processed (status >= 200), or with `untilUpo` until its UPO pages are
   * listed too. Failure statuses (4xx/5xx) are returned, not thrown: the caller decides.
   */
  async waitForSession(referenceNumber: string, o: WaitOptions & { untilUpo?: boolean } = {}): Promise<SessionStatusResponse> {
    return this.poll(
      () => this.getSessionStatus(referenceNumber, o.signal),
      (s) => s.status.code >= 400 || (s.status.code >= 200 && (!o.untilUpo || (s.upo?.pages?.length ?? 0) > 0)),
      o,
      `session ${referenceNumber}`,
    );
  }

  private async poll<T>(get: () => Promise<T>, done: (v: T) => boolean, o: WaitOptions, what: string): Promise<T> {
    const deadline = this.clock.now() + (o.timeoutMs ?? 600_000);
    let wait = o.intervalMs ?? 250;
    for (;;) {
      const v = await get();
      if (done(v)) return v;
      if (this.clock.now() + wait > deadline) {
        throw new KsefStatusError('KSEF_WAIT_TIMEOUT', `${what} not finished within ${o.timeoutMs ?? 600_000} ms`, {
          statusCode: 0,
          description: 'timeout',
          referenceNumber: what,
        });
      }
      await this.clock.sleep(wait, o.signal);
      wait = Math.min(o.maxIntervalMs ?? 5_000, Math.round(wait * 1.5));
    }
  }

  // ---------------------------------------------------------------- UPO

  /** Per-invoice UPO by the invoice's reference number, parsed for the store. */
  async getInvoiceUpo(referenceNumber: string, invoiceReferenceNumber: string, signal?: AbortSignal): Promise<UpoEntry> {
    const xml = await this.authed((t) => this.api.getInvoiceUpo(referenceNumber, invoiceReferenceNumber, t, { signal }), { retry: true, signal });
    return singleRecord(xml, referenceNumber);
  }

  /** Per-invoice UPO by KSeF number, parsed for the store. */
  async getInvoiceUpoByKsefNumber(referenceNumber: string, ksefNumber: string, signal?: AbortSignal): Promise<UpoEntry> {
    const xml = await this.authed((t) => this.api.getInvoiceUpoByKsefNumber(referenceNumber, ksefNumber, t, { signal }), { retry: true, signal });
    return singleRecord(xml, referenceNumber);
  }

  /**
   * Session UPO: every page listed in the session status (`upo.pages`), fetched through
   * GET /sessions/{ref}/upo/{upoRef}. Empty when KSeF has not produced it yet.
   */
  async getSessionUpo(referenceNumber: string, o: { status?: SessionStatusResponse; signal?: AbortSignal } = {}): Promise<SessionUpoPage[]> {
    const status = o.status ?? (await this.getSessionStatus(referenceNumber, o.signal));
    const pages: SessionUpoPage[] = [];
    for (const p of status.upo?.pages ?? []) {
      const xml = await this.authed((t) => this.api.getSessionUpo(referenceNumber, p.referenceNumber, t, { signal: o.signal }), { retry: true, signal: o.signal });
      pages.push({ upoReferenceNumber: p.referenceNumber, xml, entries: upoEntries(xml, p.referenceNumber) });
    }
    return pages;
  }

  /** Downloads a UPO from a link KSeF gave (upoDownloadUrl / downloadUrl): no token, outside the API limits. */
  async downloadUpo(url: string, signal?: AbortSignal): Promise<string> {
    const res = await retrySafe(() => this.http.raw(url, { method: 'GET', signal }, 'GET upo download'), this.retryPolicy, signal);
    return res.text();
  }
}

function isPrepared(x: PreparedInvoice | Uint8Array | string): x is PreparedInvoice {
  return typeof x === 'object' && x !== null && 'request' in x && 'invoiceHash' in x;
}

function rewrap(k: SessionKey, pub: import('node:crypto').KeyObject, publicKeyId: string): SessionKey {
  return wrapSessionKey(k.key, k.iv, pub, publicKeyId);
}

function singleRecord(xml: string, sessionRef: string): UpoEntry {
  const records = upoEntries(xml);
  const r = records[0];
  if (!r) throw new KsefClientError('KSEF_UPO_INVALID', `UPO of session ${sessionRef} lists no document`, { document: sessionRef });
  return r;
}

async function runBounded<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (failed === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failed ??= e;
      }
    }
  });
  await Promise.all(workers);
  if (failed !== undefined) throw failed;
}
