/**
 * Per-endpoint API request limits (limity/limity-api.md), as a built-in extension: an interceptor that counts every
 * KSeF request (/v2/...) per context (the NIP of the access token) and client IP address, separately for each
 * operation, in sliding windows of a second, a minute and an hour, and answers `429 Too Many Requests` with the
 * documented body (TooManyRequestsResponse, or TooManyRequestsProblemDetails with `X-Error-Format: problem-details`)
 * and a `Retry-After` that grows on repeated violations (see limiter.ts).
 *
 * Profiles (the defaults of a context without its own values):
 * - `production`: the documented PRD values (identical to open-api.json `x-rate-limits`);
 * - `test`: ten times the PRD values, as limity-api.md describes the TE environment (note: the API 2.5.0 changelog
 *   says TE defaults were later aligned with PRD; choose `production` to mimic that);
 * - `off` (default): nothing is limited, except contexts that set their own values through the test endpoints.
 * Public operations (no access token: /auth/challenge, /auth/ksef-token, ...) are limited to 60 req/s per IP
 * address whenever the profile is not `off`.
 *
 * Per context at run time (test environment endpoints, routes/rate-limits.ts): `POST /testdata/rate-limits` (own
 * values), `POST /testdata/rate-limits/production`, `DELETE /testdata/rate-limits` (back to the profile);
 * `GET /rate-limits` returns the effective values. Emulator control (no authentication, like the other admin
 * endpoints): `GET|PUT /emulator/admin/limits` {profile?, scale?}, `DELETE /emulator/admin/limits/counters`,
 * `DELETE /emulator/admin/limits/overrides[/{nip}]`, and `RunningEmulator.admin.limits`.
 */
import type { EmulatorApi } from '../context.js';
import { bearer } from '../context.js';
import type { HandlerResult, RequestContext } from '../http/router.js';
import { renderError, tooManyRequests, validationError } from '../http/errors.js';
import { ConfigError } from '../../errors/index.js';
import { registerRateLimitRoutes } from '../routes/rate-limits.js';
import {
  copyLimits,
  limitClassOf,
  limitsProblems,
  PRODUCTION_RATE_LIMITS,
  PUBLIC_PER_SECOND,
  RATE_LIMIT_GROUPS,
  scaledLimits,
  TEST_ENVIRONMENT_FACTOR,
  type ApiRateLimits,
} from './groups.js';
import { SlidingWindowLimiter, type WindowLimit, type WindowName } from './limiter.js';

export { PRODUCTION_RATE_LIMITS, RATE_LIMIT_GROUPS, TEST_ENVIRONMENT_FACTOR, PUBLIC_PER_SECOND, limitClassOf, limitsProblems } from './groups.js';
export type { ApiRateLimits, RateLimitGroup, RateLimitValues, LimitClass } from './groups.js';
export { SlidingWindowLimiter } from './limiter.js';
export type { Decision, Refusal, WindowLimit, WindowName } from './limiter.js';

export type RateLimitProfile = 'production' | 'test' | 'off';
export const RATE_LIMIT_PROFILES: readonly RateLimitProfile[] = ['production', 'test', 'off'];

/** `GET /rate-limits` values when nothing is limited (the schema needs int32 numbers). */
export const UNLIMITED = 2_147_483_647;

export interface RateLimitOptions {
  /** Default 'off'. */
  profile?: RateLimitProfile;
  /** Time scale of windows and blocks (1 = real time; 1/60 = an hour lasts a minute). Default 1. */
  scale?: number;
}

export interface RateLimitState {
  profile: RateLimitProfile;
  scale: number;
  /** Values of a context without its own (null with profile 'off'). */
  defaults: ApiRateLimits | null;
  publicPerSecond: number | null;
  /** Contexts (NIP) with their own values, set through /testdata/rate-limits. */
  overrides: Record<string, ApiRateLimits>;
  /** Counters blocked now (key = context|ip|METHOD path). */
  blocked: { key: string; remainingMs: number; violations: number }[];
}

export interface RateLimitController {
  profile(): RateLimitProfile;
  setProfile(profile: RateLimitProfile): void;
  scale(): number;
  setScale(scale: number): void;
  /** Values in force for a context (its own, else the profile's; null when nothing limits it). */
  limitsFor(nip: string): ApiRateLimits | null;
  /** Sets (or with null removes) a context's own values, as POST/DELETE /testdata/rate-limits do. */
  setOverride(nip: string, limits: ApiRateLimits | null): void;
  clearOverrides(): void;
  /** Forgets request counts, violations and blocks. */
  resetCounters(): void;
  state(): RateLimitState;
}

const DDL = `CREATE TABLE IF NOT EXISTS rate_limit_overrides (nip TEXT PRIMARY KEY, limits TEXT NOT NULL);`;

const WINDOW_WORD: Record<WindowName, string> = { second: 'sekundę', minute: 'minutę', hour: 'godzinę' };

/** "Przekroczono limit 20 żądań na minutę. Spróbuj ponownie po 30 sekundach." (limity-api.md) */
export function limitMessage(exceeded: WindowLimit, retryAfterSec: number): string {
  return `Przekroczono limit ${exceeded.limit} żądań na ${WINDOW_WORD[exceeded.window]}. Spróbuj ponownie po ${retryAfterSec} ${retryAfterSec === 1 ? 'sekundzie' : 'sekundach'}.`;
}

function checkProfile(p: unknown): RateLimitProfile {
  if (typeof p !== 'string' || !(RATE_LIMIT_PROFILES as readonly string[]).includes(p)) throw validationError([`'profile': one of ${RATE_LIMIT_PROFILES.join(', ')}`]);
  return p as RateLimitProfile;
}

function checkScale(s: unknown): number {
  if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0 || s > 1000) throw validationError(["'scale': a number greater than 0 and at most 1000"]);
  return s;
}

/** The context a request is counted in: the NIP of a well-signed token, else '' (anonymous, counted per IP). */
function contextOf(api: EmulatorApi, req: RequestContext): string {
  const token = bearer(req);
  if (!token) return '';
  const claims = api.ctx.jwt.verify(token);
  return claims?.['context-identifier-value'] ?? '';
}

/** Registers the limiter (interceptor), the official routes and the admin routes; returns the controller. */
export function registerRateLimits(api: EmulatorApi, options: RateLimitOptions = {}): RateLimitController {
  const { ctx, router } = api;
  let profile: RateLimitProfile;
  let limiter: SlidingWindowLimiter;
  try {
    profile = options.profile === undefined ? 'off' : checkProfile(options.profile);
    limiter = new SlidingWindowLimiter(options.scale === undefined ? 1 : checkScale(options.scale));
  } catch {
    throw new ConfigError(
      'EMULATOR_RATE_LIMITS_INVALID',
      `invalid rate limit options: profile must be one of ${RATE_LIMIT_PROFILES.join(', ')}, scale a number > 0 and <= 1000`,
      { field: options.profile !== undefined && !(RATE_LIMIT_PROFILES as readonly unknown[]).includes(options.profile) ? 'rateLimits' : 'rateLimitsScale', value: String(options.profile ?? options.scale), allowed: RATE_LIMIT_PROFILES.join(', ') },
    );
  }
  ctx.db.exec(DDL);
  const overrides = new Map<string, ApiRateLimits>();
  for (const row of ctx.db.prepare<[], { nip: string; limits: string }>(`SELECT nip, limits FROM rate_limit_overrides`).all()) {
    overrides.set(row.nip, JSON.parse(row.limits) as ApiRateLimits);
  }
  const defaults = (): ApiRateLimits | null =>
    profile === 'production' ? copyLimits(PRODUCTION_RATE_LIMITS) : profile === 'test' ? scaledLimits(PRODUCTION_RATE_LIMITS, TEST_ENVIRONMENT_FACTOR) : null;

  const controller: RateLimitController = {
    profile: () => profile,
    setProfile(p) {
      profile = checkProfile(p);
      ctx.log.warn(`rate limits: profile ${profile}`);
    },
    scale: () => limiter.scale,
    setScale(s) {
      limiter.scale = checkScale(s);
      ctx.log.warn(`rate limits: time scale ${s}`);
    },
    limitsFor: (nip) => {
      const own = overrides.get(nip);
      return own ? copyLimits(own) : defaults();
    },
    setOverride(nip, limits) {
      if (limits === null) {
        overrides.delete(nip);
        ctx.db.prepare(`DELETE FROM rate_limit_overrides WHERE nip = ?`).run(nip);
        return;
      }
      const problems = limitsProblems(limits);
      if (problems.length) throw validationError(problems);
      const clean = {} as ApiRateLimits;
      for (const g of RATE_LIMIT_GROUPS) clean[g] = { perSecond: limits[g].perSecond, perMinute: limits[g].perMinute, perHour: limits[g].perHour };
      overrides.set(nip, clean);
      ctx.db
        .prepare(`INSERT INTO rate_limit_overrides (nip, limits) VALUES (?, ?) ON CONFLICT(nip) DO UPDATE SET limits = excluded.limits`)
        .run(nip, JSON.stringify(clean));
    },
    clearOverrides() {
      overrides.clear();
      ctx.db.prepare(`DELETE FROM rate_limit_overrides`).run();
    },
    resetCounters: () => limiter.reset(),
    state: () => ({
      profile,
      scale: limiter.scale,
      defaults: defaults(),
      publicPerSecond: profile === 'off' ? null : PUBLIC_PER_SECOND,
      overrides: Object.fromEntries([...overrides].map(([k, v]) => [k, copyLimits(v)])),
      blocked: limiter.blocked(ctx.now()),
    }),
  };

  api.addInterceptor((req): HandlerResult | null => {
    if (!req.route.startsWith('/v2/')) return null; // admin, storage (part upload, downloads) and unknown paths
    if (profile === 'off' && overrides.size === 0) return null; // nothing can be limited: skip the token check
    const op = req.route.slice(3);
    const cls = limitClassOf(req.method, op);
    let key: string;
    let windows: WindowLimit[];
    if (cls.kind === 'public') {
      if (profile === 'off') return null;
      key = `-|${req.clientIp}|${req.method} ${op}`;
      windows = [{ window: 'second', limit: PUBLIC_PER_SECOND }];
    } else {
      const nip = contextOf(api, req);
      const limits = nip ? controller.limitsFor(nip) : defaults();
      if (!limits) return null;
      const v = limits[cls.group];
      key = `${nip || '-'}|${req.clientIp}|${req.method} ${op}`;
      windows = [
        { window: 'second', limit: v.perSecond },
        { window: 'minute', limit: v.perMinute },
        { window: 'hour', limit: v.perHour },
      ];
    }
    const d = limiter.check(key, windows, req.now);
    if (d.allowed) return null;
    const detail = limitMessage(d.exceeded, d.retryAfterSec);
    ctx.log.warn(`429 ${req.method} ${req.path} for ${key.split('|')[0] || '-'} from ${req.clientIp}: ${detail} (violation ${d.violations})`);
    const r = renderError(tooManyRequests(d.retryAfterSec, detail), req.path, req.problemFormat, req.now);
    return { status: r.status, json: r.body, contentType: `${r.contentType}; charset=utf-8`, headers: r.headers };
  });

  registerRateLimitRoutes(api, controller);

  const opts = { operation: null };
  router.add('GET', '/emulator/admin/limits', () => ({ status: 200, json: controller.state() }), opts);
  router.add(
    'PUT',
    '/emulator/admin/limits',
    (req) => {
      const b = (req.json ?? {}) as { profile?: unknown; scale?: unknown };
      if (b === null || typeof b !== 'object' || Array.isArray(b)) throw validationError(['the body must be an object {profile?, scale?}']);
      const p = b.profile === undefined ? undefined : checkProfile(b.profile);
      const s = b.scale === undefined ? undefined : checkScale(b.scale);
      if (p !== undefined) controller.setProfile(p);
      if (s !== undefined) controller.setScale(s);
      return { status: 200, json: controller.state() };
    },
    opts,
  );
  router.add('DELETE', '/emulator/admin/limits/counters', () => {
    controller.resetCounters();
    return { status: 204 };
  }, opts);
  router.add('DELETE', '/emulator/admin/limits/overrides', () => {
    controller.clearOverrides();
    return { status: 204 };
  }, opts);
  router.add('DELETE', '/emulator/admin/limits/overrides/{nip}', (req) => {
    controller.setOverride(req.params.nip as string, null);
    return { status: 204 };
  }, opts);
  return controller;
}
