/**
 * Errors the emulator answers with, shaped as the contract says:
 * - 400: `ExceptionResponse` (`{ exception: { exceptionDetailList: [...], serviceCode, timestamp, ... } }`), or
 *   `BadRequestProblemDetails` (application/problem+json) when the request carries `X-Error-Format: problem-details`;
 * - 401, 403, 410: problem details (application/problem+json) only;
 * - 429: `TooManyRequestsResponse` / `TooManyRequestsProblemDetails` (used by the rate-limit extension).
 */
import { newTraceId } from '../ids.js';

export interface ExceptionDetail {
  exceptionCode: number;
  exceptionDescription: string;
  details?: string[];
}

export type ForbiddenReason =
  | 'missing-permissions'
  | 'ip-not-allowed'
  | 'insufficient-resource-access'
  | 'auth-method-not-allowed'
  | 'security-service-blocked'
  | 'context-type-not-allowed';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detailsList: ExceptionDetail[],
    readonly problem: { title: string; detail: string; reasonCode?: ForbiddenReason; security?: Record<string, unknown> } | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(detailsList[0]?.exceptionDescription ?? problem?.detail ?? `HTTP ${status}`);
  }
}

/** 400 with one exception code (descriptions are the official ones from the open-api.json tables). */
export function badRequest(code: number, description: string, ...details: string[]): ApiError {
  return new ApiError(400, [{ exceptionCode: code, exceptionDescription: description, ...(details.length ? { details } : {}) }]);
}

export function validationError(details: string[]): ApiError {
  return badRequest(21405, 'Błąd walidacji danych wejściowych.', ...details);
}

export function unauthorized(detail = 'Wymagane jest uwierzytelnienie.'): ApiError {
  return new ApiError(401, [], { title: 'Unauthorized', detail });
}

export function forbidden(reasonCode: ForbiddenReason, detail: string, security?: Record<string, unknown>): ApiError {
  return new ApiError(403, [], { title: 'Forbidden', detail, reasonCode, ...(security ? { security } : {}) });
}

/**
 * 429 for the rate-limit extension: rendered as `TooManyRequestsResponse` (or `TooManyRequestsProblemDetails` with
 * `X-Error-Format: problem-details`) with the `Retry-After` header in seconds (limity/limity-api.md).
 */
export function tooManyRequests(retryAfterSec: number, detail: string): ApiError {
  return new ApiError(429, [], { title: 'Too Many Requests', detail }, { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSec))) });
}

export function notFound(path: string): ApiError {
  return new ApiError(404, [], { title: 'Not Found', detail: `Zasób ${path} nie istnieje.` });
}

/** Official 400 errors used in several places. */
export const Errors = {
  sessionNotFound: (ref: string) =>
    badRequest(21173, 'Brak sesji o wskazanym numerze referencyjnym.', `Sesja o numerze referencyjnym ${ref} nie została znaleziona.`),
  sessionStatus: (code: number, what: string) =>
    badRequest(21180, 'Status sesji nie pozwala na wykonanie operacji.', `Status sesji ${code} ${what}`),
  badContinuationToken: () => badRequest(21418, 'Przekazany token kontynuacji ma nieprawidłowy format.'),
  unknownKey: (keyId: string) =>
    badRequest(21470, 'Przesłany identyfikator klucza jest nieznany lub wskazuje na wycofany klucz.', `Klucz o identyfikatorze ${keyId} nie jest wspierany.`),
  authNotFound: (ref: string) =>
    badRequest(21304, 'Brak uwierzytelnienia.', `Operacja uwierzytelniania o numerze referencyjnym ${ref} nie została znaleziona.`),
  noAuthorization: (detail: string) => badRequest(21301, 'Brak autoryzacji.', detail),
};

export interface RenderedError {
  status: number;
  contentType: string;
  body: unknown;
  headers: Record<string, string>;
}

/** Renders an ApiError the way the contract shapes it for that status and the request's X-Error-Format. */
export function renderError(err: ApiError, instance: string, problemFormat: boolean, nowMs: number): RenderedError {
  const timestamp = new Date(nowMs).toISOString();
  const traceId = newTraceId();
  if (err.status === 400 || (err.detailsList.length > 0 && !err.problem)) {
    if (problemFormat) {
      return {
        status: err.status,
        contentType: 'application/problem+json',
        headers: err.headers,
        body: {
          title: 'Bad Request',
          status: err.status,
          instance,
          detail: 'Żądanie jest nieprawidłowe.',
          errors: err.detailsList.map((d) => ({ code: d.exceptionCode, description: d.exceptionDescription, details: d.details ?? [] })),
          timestamp,
          traceId,
        },
      };
    }
    return {
      status: err.status,
      contentType: 'application/json',
      headers: err.headers,
      body: {
        exception: {
          exceptionDetailList: err.detailsList,
          serviceCode: `00-${traceId}-${traceId.slice(0, 16)}-00`,
          serviceCtx: 'srvEMUL',
          serviceName: 'ksef-bridge-emulator',
          timestamp,
        },
      },
    };
  }
  const p = err.problem ?? { title: 'Error', detail: err.message };
  if (err.status === 429) {
    return problemFormat
      ? {
          status: 429,
          contentType: 'application/problem+json',
          headers: err.headers,
          body: { title: 'Too Many Requests', status: 429, instance, detail: p.detail, timestamp, traceId },
        }
      : { status: 429, contentType: 'application/json', headers: err.headers, body: { status: { code: 429, description: 'Too Many Requests', details: [p.detail] } } };
  }
  return {
    status: err.status,
    contentType: 'application/problem+json',
    headers: err.headers,
    body: {
      title: p.title,
      status: err.status,
      detail: p.detail,
      instance,
      ...(p.reasonCode ? { reasonCode: p.reasonCode } : {}),
      ...(p.security ? { security: p.security } : {}),
      traceId,
      timestamp,
    },
  };
}
