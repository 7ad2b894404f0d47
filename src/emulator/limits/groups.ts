/**
 * Which limit applies to which operation (limity/limity-api.md, "Szczegółowe limity", and the `x-rate-limits` and
 * 429 "grupa" tables of open-api.json, which agree with it): named groups carry the values of EffectiveApiRateLimits;
 * public operations (no access token) have their own limit of 60 requests per second per IP address.
 */

export const RATE_LIMIT_GROUPS = [
  'onlineSession',
  'batchSession',
  'invoiceSend',
  'invoiceStatus',
  'sessionList',
  'sessionInvoiceList',
  'sessionMisc',
  'invoiceMetadata',
  'invoiceExport',
  'invoiceExportStatus',
  'invoiceDownload',
  'other',
] as const;

export type RateLimitGroup = (typeof RATE_LIMIT_GROUPS)[number];

export interface RateLimitValues {
  perSecond: number;
  perMinute: number;
  perHour: number;
}

/** The shape of EffectiveApiRateLimits / ApiRateLimitsOverride. */
export type ApiRateLimits = Record<RateLimitGroup, RateLimitValues>;

/** Production (PRD) values, limity-api.md; identical to `x-rate-limits` in open-api.json 2.6.0. */
export const PRODUCTION_RATE_LIMITS: Readonly<ApiRateLimits> = Object.freeze({
  onlineSession: { perSecond: 10, perMinute: 30, perHour: 120 },
  batchSession: { perSecond: 10, perMinute: 20, perHour: 60 },
  invoiceSend: { perSecond: 10, perMinute: 30, perHour: 180 },
  invoiceStatus: { perSecond: 30, perMinute: 120, perHour: 1200 },
  sessionList: { perSecond: 5, perMinute: 10, perHour: 60 },
  sessionInvoiceList: { perSecond: 10, perMinute: 20, perHour: 200 },
  sessionMisc: { perSecond: 10, perMinute: 120, perHour: 1200 },
  invoiceMetadata: { perSecond: 8, perMinute: 16, perHour: 20 },
  invoiceExport: { perSecond: 8, perMinute: 16, perHour: 20 },
  invoiceExportStatus: { perSecond: 10, perMinute: 60, perHour: 600 },
  invoiceDownload: { perSecond: 8, perMinute: 16, perHour: 64 },
  other: { perSecond: 10, perMinute: 30, perHour: 120 },
});

/** "Domyślne wartości limitów są dziesięciokrotnie wyższe niż na produkcji" (limity-api.md, Środowisko TE). */
export const TEST_ENVIRONMENT_FACTOR = 10;

/** Public operations: "limit wynosi 60 żądań na sekundę dla jednego adresu IP" (limity-api.md, Pozostałe). */
export const PUBLIC_PER_SECOND = 60;

/** Operations the contract lists with the 60 req/s limit and no group (`grupa` "-"): counted per IP address. */
const PUBLIC_OPERATIONS = new Set([
  'GET /security/public-key-certificates',
  'POST /auth/challenge',
  'POST /auth/xades-signature',
  'POST /auth/ksef-token',
  'GET /auth/{referenceNumber}',
  'POST /auth/token/redeem',
  'POST /auth/token/refresh',
  'GET /peppol/query',
  'POST /testdata/subject',
  'POST /testdata/subject/remove',
  'POST /testdata/person',
  'POST /testdata/person/remove',
  'POST /testdata/permissions',
  'POST /testdata/permissions/revoke',
  'POST /testdata/attachment',
  'POST /testdata/attachment/revoke',
]);

const NAMED: Record<string, RateLimitGroup> = {
  'POST /sessions/online': 'onlineSession',
  'POST /sessions/online/{referenceNumber}/close': 'onlineSession',
  'POST /sessions/online/{referenceNumber}/invoices': 'invoiceSend',
  'POST /sessions/batch': 'batchSession',
  'POST /sessions/batch/{referenceNumber}/close': 'batchSession',
  'GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}': 'invoiceStatus',
  'GET /sessions': 'sessionList',
  'GET /sessions/{referenceNumber}/invoices': 'sessionInvoiceList',
  'GET /sessions/{referenceNumber}/invoices/failed': 'sessionInvoiceList',
  'POST /invoices/query/metadata': 'invoiceMetadata',
  'POST /invoices/exports': 'invoiceExport',
  'GET /invoices/exports/{referenceNumber}': 'invoiceExportStatus',
  'GET /invoices/ksef/{ksefNumber}': 'invoiceDownload',
};

export type LimitClass = { kind: 'group'; group: RateLimitGroup } | { kind: 'public' };

/**
 * The limit class of an operation, by method and contract path (`/sessions/{referenceNumber}`, without `/v2`).
 * "Pozostałe GET /sessions/*" is sessionMisc; every other operation is `other`.
 */
export function limitClassOf(method: string, path: string): LimitClass {
  const key = `${method.toUpperCase()} ${path}`;
  if (PUBLIC_OPERATIONS.has(key)) return { kind: 'public' };
  const named = NAMED[key];
  if (named) return { kind: 'group', group: named };
  if (method.toUpperCase() === 'GET' && path.startsWith('/sessions/')) return { kind: 'group', group: 'sessionMisc' };
  return { kind: 'group', group: 'other' };
}

export function scaledLimits(base: Readonly<ApiRateLimits>, factor: number): ApiRateLimits {
  const out = {} as ApiRateLimits;
  for (const g of RATE_LIMIT_GROUPS) {
    const v = base[g];
    out[g] = { perSecond: v.perSecond * factor, perMinute: v.perMinute * factor, perHour: v.perHour * factor };
  }
  return out;
}

export function copyLimits(l: Readonly<ApiRateLimits>): ApiRateLimits {
  return scaledLimits(l, 1);
}

/** Problems of a rateLimits object (every group, positive integers), as validator messages. */
export function limitsProblems(l: unknown): string[] {
  if (!l || typeof l !== 'object' || Array.isArray(l)) return ["'rateLimits': an object with every limit group"];
  const problems: string[] = [];
  for (const g of RATE_LIMIT_GROUPS) {
    const v = (l as Record<string, unknown>)[g] as Record<string, unknown> | undefined;
    if (!v || typeof v !== 'object') {
      problems.push(`'rateLimits.${g}' is required`);
      continue;
    }
    for (const k of ['perSecond', 'perMinute', 'perHour'] as const) {
      const n = v[k];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 2_147_483_647) problems.push(`'rateLimits.${g}.${k}' must be an integer from 1 to 2147483647`);
    }
  }
  return problems;
}
