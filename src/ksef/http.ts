/**
 * The one place that talks HTTP to KSeF: node's fetch (undici) with a timeout per request, every call
 * through the context's RateLimiter, JSON error bodies (ExceptionResponse or problem details) turned
 * into typed errors, 429 turned into a pause of the whole limiter group.
 * Tokens go only into the Authorization header; nothing here puts a header into an error or a log.
 */
import { createHash } from 'node:crypto';
import { groupForEndpoint, type RateLimiter } from './limiter.js';
import {
  KsefApiError,
  KsefProtocolError,
  KsefRateLimitError,
  KsefTransientError,
  type KsefDelivery,
} from './errors.js';
import type { ExceptionDetails, ExceptionResponse, ProblemDetails, TooManyRequestsResponse } from './types.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface KsefRequest {
  method: HttpMethod;
  /** Path template as in open-api.json, e.g. `/sessions/{referenceNumber}`. */
  template: string;
  /** Values of the template's placeholders (URL-encoded here). */
  params?: Record<string, string>;
  query?: Record<string, string | number | readonly string[] | undefined>;
  headers?: Record<string, string | undefined>;
  /** Bearer token (access, refresh or authentication token). */
  bearer?: string;
  /** JSON body. */
  json?: unknown;
  /** Expected answer: JSON (default), text (UPO XML), or nothing. */
  responseType?: 'json' | 'text' | 'none';
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Reference number the request is about (for errors). */
  referenceNumber?: string;
}

export interface KsefResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

export interface HttpTransportOptions {
  /** Base URL including the API version, e.g. https://api-test.ksef.mf.gov.pl/v2 */
  baseUrl: string;
  limiter: RateLimiter;
  /** Default timeout per request (default 30 s). */
  timeoutMs?: number;
  /** Ask for problem-details error bodies (`X-Error-Format: problem-details`); both formats are parsed anyway. */
  problemDetails?: boolean;
  /** Replaceable fetch (defaults to the global undici fetch). */
  fetch?: typeof fetch;
  userAgent?: string;
  /** Called after every API request (no tokens, no bodies): for logs and metrics. */
  onRequest?: (event: KsefRequestEvent) => void;
}

export interface KsefRequestEvent {
  endpoint: string;
  group: string;
  /** HTTP status, or undefined when there was no answer (timeout, connection error). */
  status: number | undefined;
  durationMs: number;
  referenceNumber: string | undefined;
  /** Error code when the request failed. */
  errorCode: string | undefined;
  /** Parsed `X-System-Warning` header (e.g. an announced maintenance), when KSeF sent one. */
  warnings: SystemWarning[] | undefined;
}

/** One entry of the X-System-Warning header: `[code]: message | [code]: message`. */
export interface SystemWarning {
  code: string;
  message: string;
}

export function parseSystemWarning(value: string | null): SystemWarning[] | undefined {
  if (!value) return undefined;
  const out: SystemWarning[] = [];
  for (const m of value.matchAll(/\[([^\]]+)\]: ([^|]+)/g)) out.push({ code: m[1]!, message: m[2]!.trim() });
  if (out.length === 0 && value.trim()) out.push({ code: '', message: value.trim() });
  return out;
}

/** Parses the value of a Retry-After header (seconds or HTTP date); undefined when absent or invalid. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const n = Number(value.trim());
  if (Number.isFinite(n) && n >= 0) return n;
  const d = Date.parse(value);
  if (Number.isFinite(d)) return Math.max(0, (d - nowMs) / 1000);
  return undefined;
}

/** Exception entries of an error body in either format. */
export function exceptionsOf(body: unknown): { exceptions: ExceptionDetails[]; traceId?: string; description?: string } {
  if (!body || typeof body !== 'object') return { exceptions: [] };
  const er = body as ExceptionResponse;
  if (er.exception && typeof er.exception === 'object') {
    const list = Array.isArray(er.exception.exceptionDetailList) ? er.exception.exceptionDetailList : [];
    return { exceptions: list, traceId: er.exception.serviceCode ?? undefined };
  }
  const pd = body as ProblemDetails;
  if (Array.isArray(pd.errors) || typeof pd.detail === 'string' || typeof pd.title === 'string') {
    const list: ExceptionDetails[] = (pd.errors ?? []).map((e) => ({
      exceptionCode: e.code,
      exceptionDescription: e.description,
      details: e.details ?? [],
    }));
    if (list.length === 0 && (pd.detail || pd.title)) {
      list.push({ exceptionDescription: pd.detail ?? pd.title ?? null, details: pd.reasonCode ? [`reasonCode: ${pd.reasonCode}`] : [] });
    }
    return { exceptions: list, traceId: pd.traceId, description: pd.detail };
  }
  const tm = body as TooManyRequestsResponse;
  if (tm.status && typeof tm.status === 'object' && typeof tm.status.code === 'number') {
    return { exceptions: [{ exceptionDescription: tm.status.description, details: tm.status.details ?? [] }] };
  }
  return { exceptions: [] };
}

export class HttpTransport {
  readonly baseUrl: string;
  readonly limiter: RateLimiter;
  private readonly timeoutMs: number;
  private readonly problemDetails: boolean;
  private readonly fetchImpl: typeof fetch;
  private readonly userAgent: string;
  private readonly onRequest: HttpTransportOptions['onRequest'];

  constructor(opts: HttpTransportOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.limiter = opts.limiter;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.problemDetails = opts.problemDetails ?? false;
    this.fetchImpl = opts.fetch ?? fetch;
    this.userAgent = opts.userAgent ?? 'ksef-bridge';
    this.onRequest = opts.onRequest;
  }

  url(template: string, params: Record<string, string> = {}, query?: KsefRequest['query']): string {
    const path = template.replace(/\{(\w+)\}/g, (_, k: string) => {
      const v = params[k];
      if (v === undefined) throw new TypeError(`missing path parameter ${k} for ${template}`);
      return encodeURIComponent(v);
    });
    const u = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const item of v) u.searchParams.append(k, String(item));
      else u.searchParams.set(k, String(v));
    }
    return u.toString();
  }

  /** One rate-limited request to the KSeF API. */
  async request<T>(req: KsefRequest): Promise<KsefResponse<T>> {
    const endpoint = `${req.method} ${req.template}`;
    const group = groupForEndpoint(endpoint);
    const url = this.url(req.template, req.params, req.query);
    await this.limiter.acquire(group, req.signal);

    const headers: Record<string, string> = { 'User-Agent': this.userAgent };
    const responseType = req.responseType ?? 'json';
    headers.Accept = responseType === 'text' ? 'application/xml, application/json' : 'application/json';
    if (this.problemDetails) headers['X-Error-Format'] = 'problem-details';
    if (req.bearer) headers.Authorization = `Bearer ${req.bearer}`;
    let body: string | undefined;
    if (req.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(req.json);
    }
    for (const [k, v] of Object.entries(req.headers ?? {})) if (v !== undefined) headers[k] = v;

    const started = Date.now();
    let status: number | undefined;
    let warnings: SystemWarning[] | undefined;
    try {
      const res = await this.fetchWithTimeout(url, { method: req.method, headers, body }, endpoint, req);
      status = res.status;
      warnings = parseSystemWarning(res.headers.get('x-system-warning'));
      const out = await this.handle<T>(res, endpoint, group, req, responseType);
      this.emit(endpoint, group, status, started, req.referenceNumber, undefined, warnings);
      return out;
    } catch (e) {
      this.emit(endpoint, group, status, started, req.referenceNumber, (e as { code?: unknown }).code, warnings);
      throw e;
    }
  }

  private emit(
    endpoint: string,
    group: string,
    status: number | undefined,
    started: number,
    referenceNumber: string | undefined,
    code: unknown,
    warnings: SystemWarning[] | undefined,
  ): void {
    if (!this.onRequest) return;
    try {
      this.onRequest({ endpoint, group, status, durationMs: Date.now() - started, referenceNumber, errorCode: typeof code === 'string' ? code : undefined, warnings });
    } catch {
      // an observer must not break a KSeF call
    }
  }

  /**
   * A request outside the API's limits: part upload to a pre-signed URL (sesja-wsadowa.md: "nie są
   * objęte limitami API") or a UPO download link. Never sends the access token.
   */
  async raw(
    url: string,
    init: { method: string; headers?: Record<string, string>; body?: Uint8Array; timeoutMs?: number; signal?: AbortSignal },
    endpoint: string,
    referenceNumber?: string,
  ): Promise<Response> {
    const res = await this.fetchWithTimeout(
      url,
      { method: init.method, headers: init.headers, body: init.body },
      endpoint,
      { timeoutMs: init.timeoutMs, signal: init.signal, referenceNumber },
    );
    if (res.status >= 200 && res.status < 300) {
      if (!res.headers.get('x-ms-meta-hash')) return res;
      const bytes = new Uint8Array(await res.arrayBuffer());
      checkMetaHash(res.headers, bytes, endpoint, referenceNumber);
      return new Response(bytes, { status: res.status, headers: res.headers });
    }
    const text = await res.text().catch(() => '');
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const ex = exceptionsOf(parsed);
    if (ex.exceptions.length === 0 && text && !parsed) ex.exceptions.push({ exceptionDescription: text.slice(0, 300) });
    const init2 = { endpoint, status: res.status, exceptions: ex.exceptions, referenceNumber, traceId: ex.traceId };
    if (res.status >= 500 || res.status === 408) {
      throw new KsefTransientError(`KSEF_HTTP_${res.status}`, `${endpoint} answered ${res.status}`, { ...init2, kind: 'server', delivery: 'unknown' });
    }
    if (res.status === 429) {
      const ra = parseRetryAfter(res.headers.get('retry-after'), Date.now()) ?? 1;
      throw new KsefRateLimitError(`${endpoint} answered 429, retry after ${ra} s`, { ...init2, retryAfterSeconds: ra, group: 'upload', delivery: 'rejected' });
    }
    throw new KsefApiError(`KSEF_HTTP_${res.status}`, `${endpoint} answered ${res.status}`, { ...init2, delivery: 'rejected' });
  }

  private async fetchWithTimeout(
    url: string,
    init: { method: string; headers?: Record<string, string>; body?: string | Uint8Array },
    endpoint: string,
    req: { timeoutMs?: number; signal?: AbortSignal; referenceNumber?: string },
  ): Promise<Response> {
    const timeoutMs = req.timeoutMs ?? this.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    try {
      return await this.fetchImpl(url, { ...init, signal });
    } catch (e) {
      if (req.signal?.aborted) throw req.signal.reason ?? e;
      const base = { endpoint, referenceNumber: req.referenceNumber, cause: e };
      if (timeout.aborted) {
        throw new KsefTransientError('KSEF_TIMEOUT', `${endpoint}: no answer within ${timeoutMs} ms`, {
          ...base,
          kind: 'timeout',
          delivery: 'unknown',
        });
      }
      const code = networkCode(e);
      const delivery: KsefDelivery = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'not-sent' : 'unknown';
      throw new KsefTransientError('KSEF_NETWORK', `${endpoint}: connection failed${code ? ` (${code})` : ''}`, {
        ...base,
        kind: 'network',
        delivery,
      });
    }
  }

  private async handle<T>(
    res: Response,
    endpoint: string,
    group: string,
    req: KsefRequest,
    responseType: 'json' | 'text' | 'none',
  ): Promise<KsefResponse<T>> {
    const bytes = new Uint8Array(await res.arrayBuffer().catch(() => new ArrayBuffer(0)));
    const text = new TextDecoder('utf-8').decode(bytes);
    const ct = res.headers.get('content-type') ?? '';
    if (res.status >= 200 && res.status < 300) {
      if (responseType === 'none') return { status: res.status, body: undefined as T, headers: res.headers };
      if (responseType === 'text') {
        checkMetaHash(res.headers, bytes, endpoint, req.referenceNumber);
        return { status: res.status, body: text as T, headers: res.headers };
      }
      try {
        return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
      } catch (e) {
        throw new KsefProtocolError('KSEF_BAD_RESPONSE', `${endpoint} answered ${res.status} with a body that is not JSON`, {
          endpoint,
          status: res.status,
          referenceNumber: req.referenceNumber,
          delivery: 'unknown',
          cause: e,
        });
      }
    }
    let parsed: unknown;
    if (text && (ct.includes('json') || text.trimStart().startsWith('{'))) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    const ex = exceptionsOf(parsed);
    if (ex.exceptions.length === 0 && text && parsed === undefined) ex.exceptions.push({ exceptionDescription: text.slice(0, 300) });
    const init = { endpoint, status: res.status, exceptions: ex.exceptions, referenceNumber: req.referenceNumber, traceId: ex.traceId };
    const what = describe(ex.exceptions);

    if (res.status === 429) {
      const seconds = parseRetryAfter(res.headers.get('retry-after'), Date.now()) ?? 60;
      await this.limiter.pause(group, seconds * 1000);
      throw new KsefRateLimitError(`${endpoint} answered 429 Too Many Requests: group ${group} paused for ${seconds} s${what}`, {
        ...init,
        retryAfterSeconds: seconds,
        group,
        delivery: 'rejected',
        hint: 'the limiter obeys Retry-After; lower the pace or switch to batch sending',
      });
    }
    if (res.status >= 500) {
      throw new KsefTransientError(`KSEF_HTTP_${res.status}`, `${endpoint} answered ${res.status}${what}`, {
        ...init,
        kind: 'server',
        delivery: 'unknown',
        retryAfterSeconds: parseRetryAfter(res.headers.get('retry-after'), Date.now()),
        hint: 'KSeF is unavailable or in maintenance; the operation can be tried again later',
      });
    }
    const first = ex.exceptions.find((e) => typeof e.exceptionCode === 'number');
    const code = first ? `KSEF_${first.exceptionCode}` : `KSEF_HTTP_${res.status}`;
    throw new KsefApiError(code, `${endpoint} answered ${res.status}${what}`, { ...init, delivery: 'rejected' });
  }
}

/**
 * UPO answers carry `x-ms-meta-hash`, the SHA-256 (Base64) of the document: a download that does not
 * match it is treated as a transient failure (retried by the safe-operation retries).
 */
function checkMetaHash(headers: Headers, bytes: Uint8Array, endpoint: string, referenceNumber: string | undefined): void {
  const expected = headers.get('x-ms-meta-hash');
  if (!expected) return;
  const actual = createHash('sha256').update(bytes).digest('base64');
  if (actual !== expected.trim()) {
    throw new KsefTransientError('KSEF_HASH_MISMATCH', `${endpoint}: the document does not match its x-ms-meta-hash`, {
      endpoint,
      referenceNumber,
      kind: 'server',
      delivery: 'unknown',
      exceptions: [{ exceptionDescription: 'x-ms-meta-hash mismatch', details: [`expected ${expected}`, `got ${actual}`] }],
    });
  }
}

function describe(list: ExceptionDetails[]): string {
  if (list.length === 0) return '';
  return (
    ': ' +
    list
      .map((e) => {
        const c = e.exceptionCode !== undefined ? `${e.exceptionCode} ` : '';
        const d = e.details && e.details.length ? ` (${e.details.join('; ')})` : '';
        return `${c}${e.exceptionDescription ?? ''}${d}`.trim();
      })
      .join(' | ')
  );
}

function networkCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur && typeof cur === 'object'; i++) {
    const c = (cur as { code?: unknown }).code;
    if (typeof c === 'string') return c;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}
