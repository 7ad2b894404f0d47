/**
 * Typed errors of the KSeF client. All of them are KsefError (src/errors) so the rest of the bridge
 * handles them with one `instanceof`; the subclasses tell the dispatcher what it may do next.
 * Messages never contain tokens: they are built from the endpoint template, the HTTP status and the
 * KSeF exception codes/descriptions only.
 */
import { KsefError } from '../errors/index.js';
import type { ExceptionDetails } from './types.js';

/**
 * What is known about the request reaching KSeF:
 * - `rejected`: KSeF answered and did not accept the operation (4xx, 429): nothing happened on its side;
 * - `not-sent`: the request never left this process or the connection was refused;
 * - `unknown`: the request may or may not have been processed (timeout, reset connection, 5xx):
 *   the caller must reconcile (e.g. by invoice hash) before doing it again.
 */
export type KsefDelivery = 'rejected' | 'not-sent' | 'unknown';

export interface KsefErrorInit {
  /** `METHOD /path/{template}` of the request. */
  endpoint: string;
  /** HTTP status, when KSeF answered. */
  status?: number;
  /** All exception entries of the answer (ExceptionResponse or problem details). */
  exceptions?: ExceptionDetails[];
  /** Reference number of the session/invoice/auth operation the request was about. */
  referenceNumber?: string;
  /** KSeF's trace id / service code of the answer, for support. */
  traceId?: string;
  delivery: KsefDelivery;
  cause?: unknown;
  hint?: string;
}

/** KSeF answered with an error (4xx other than 429). Code `KSEF_<exceptionCode>` or `KSEF_HTTP_<status>`. */
export class KsefApiError extends KsefError {
  readonly endpoint: string;
  readonly status: number | undefined;
  /** First exception code of the answer, when there is one. */
  readonly ksefCode: number | undefined;
  /** First exception description (or problem `detail`). */
  readonly description: string;
  /** Flattened details of every exception entry. */
  readonly details: string[];
  readonly exceptions: ExceptionDetails[];
  readonly referenceNumber: string | undefined;
  readonly traceId: string | undefined;
  readonly delivery: KsefDelivery;

  constructor(code: string, message: string, init: KsefErrorInit) {
    const exceptions = init.exceptions ?? [];
    const first = exceptions[0];
    const details = exceptions.flatMap((e) => e.details ?? []);
    super(
      code,
      message,
      {
        ksefCode: first?.exceptionCode,
        details: {
          endpoint: init.endpoint,
          status: init.status,
          referenceNumber: init.referenceNumber,
          traceId: init.traceId,
          exceptions,
        },
      },
      { cause: init.cause, hint: init.hint },
    );
    this.endpoint = init.endpoint;
    this.status = init.status;
    this.ksefCode = first?.exceptionCode;
    this.description = first?.exceptionDescription ?? '';
    this.details = details;
    this.exceptions = exceptions;
    this.referenceNumber = init.referenceNumber;
    this.traceId = init.traceId;
    this.delivery = init.delivery;
  }

  /** True when any exception entry carries this KSeF code. */
  hasCode(code: number): boolean {
    return this.exceptions.some((e) => e.exceptionCode === code);
  }
}

/** HTTP 429: the limiter group is paused until `retryAfterMs` from now. Code `KSEF_HTTP_429`. */
export class KsefRateLimitError extends KsefApiError {
  readonly retryAfterSeconds: number;
  readonly group: string;
  constructor(message: string, init: KsefErrorInit & { retryAfterSeconds: number; group: string }) {
    super('KSEF_HTTP_429', message, init);
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.group = init.group;
  }
}

export type TransientKind = 'timeout' | 'network' | 'server';

/**
 * KSeF did not answer usefully: timeout, connection error, or 5xx (including maintenance answers).
 * Codes: `KSEF_TIMEOUT`, `KSEF_NETWORK`, `KSEF_HTTP_<5xx>`.
 */
export class KsefTransientError extends KsefApiError {
  readonly kind: TransientKind;
  /** Retry-After of a 5xx answer (e.g. maintenance), when KSeF sent one. */
  readonly retryAfterSeconds: number | undefined;
  constructor(code: string, message: string, init: KsefErrorInit & { kind: TransientKind; retryAfterSeconds?: number }) {
    super(code, message, init);
    this.kind = init.kind;
    this.retryAfterSeconds = init.retryAfterSeconds;
  }
}

/** KSeF answered 2xx with a body that does not match the contract. Code `KSEF_BAD_RESPONSE`. */
export class KsefProtocolError extends KsefApiError {}

/**
 * An asynchronous KSeF operation ended in a failure status (authentication status 4xx/5xx,
 * session status 4xx). Code `KSEF_AUTH_STATUS_<code>` or `KSEF_SESSION_STATUS_<code>`.
 */
export class KsefStatusError extends KsefError {
  readonly statusCode: number;
  readonly description: string;
  readonly details: string[];
  readonly referenceNumber: string;
  constructor(code: string, message: string, init: { statusCode: number; description: string; details?: string[] | null; referenceNumber: string; hint?: string }) {
    super(code, message, { ksefCode: init.statusCode, details: { referenceNumber: init.referenceNumber, details: init.details ?? [] } }, { hint: init.hint });
    this.statusCode = init.statusCode;
    this.description = init.description;
    this.details = init.details ?? [];
    this.referenceNumber = init.referenceNumber;
  }
}

/** A local problem before anything is sent (package too large, no usable public key, ...). */
export class KsefClientError extends KsefError {}

/** True for errors a safe operation may be retried after (transient failures and 429). */
export function isRetryableKsefError(e: unknown): boolean {
  return e instanceof KsefTransientError || e instanceof KsefRateLimitError;
}
