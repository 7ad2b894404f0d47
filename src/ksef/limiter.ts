/**
 * One rate limiter for every KSeF call of one context (NIP): the official per-endpoint groups with
 * sliding windows per second, minute and hour (limity/limity-api.md; the groups and values are the
 * `x-rate-limits` / 429 tables of open-api.json and the keys of EffectiveApiRateLimits), strict
 * obedience to `429 Retry-After` (the whole group pauses), and persistence of every call's timestamp
 * through a RateLimitStateStore, so a restart loop cannot break the hourly limits.
 *
 * Windows are sliding, not aligned to the clock (as documented). A call is let through only when,
 * for each window, fewer than `limit` calls happened within the last `window + marginMs`.
 */
import type { EffectiveApiRateLimits, EffectiveApiRateLimitValues } from './types.js';

/** Rate-limit groups of open-api.json plus `public` (unauthenticated endpoints, 60 req/s per IP). */
export type RateLimitGroup = keyof EffectiveApiRateLimits | 'public';

export const RATE_LIMIT_GROUPS: readonly RateLimitGroup[] = [
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
  'public',
];

export interface WindowLimits {
  perSecond?: number;
  perMinute?: number;
  perHour?: number;
}

export type RateLimitTable = Record<RateLimitGroup, WindowLimits>;

export type KsefEnvironment = 'test' | 'demo' | 'production';

/** Production values (limity-api.md, "Szczegółowe limity"; identical to open-api.json x-rate-limits). */
export const PRODUCTION_RATE_LIMITS: Readonly<RateLimitTable> = Object.freeze({
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
  public: { perSecond: 60 },
});

function scaleTable(t: Readonly<RateLimitTable>, factor: number): RateLimitTable {
  const out = {} as RateLimitTable;
  for (const g of RATE_LIMIT_GROUPS) {
    const v = t[g];
    out[g] =
      g === 'public'
        ? { ...v }
        : {
            perSecond: v.perSecond === undefined ? undefined : v.perSecond * factor,
            perMinute: v.perMinute === undefined ? undefined : v.perMinute * factor,
            perHour: v.perHour === undefined ? undefined : v.perHour * factor,
          };
  }
  return out;
}

/**
 * Profiles per environment (limity-api.md, "Limity na środowiskach"): TE has ten times the production
 * defaults; DEMO replicates production; PRD uses the documented defaults.
 */
export const RATE_LIMIT_PROFILES: Readonly<Record<KsefEnvironment, Readonly<RateLimitTable>>> = Object.freeze({
  production: PRODUCTION_RATE_LIMITS,
  demo: PRODUCTION_RATE_LIMITS,
  test: Object.freeze(scaleTable(PRODUCTION_RATE_LIMITS, 10)),
});

const ENDPOINT_GROUPS: Record<string, RateLimitGroup> = {
  'POST /sessions/online': 'onlineSession',
  'POST /sessions/online/{referenceNumber}/close': 'onlineSession',
  'POST /sessions/online/{referenceNumber}/invoices': 'invoiceSend',
  'POST /sessions/batch': 'batchSession',
  'POST /sessions/batch/{referenceNumber}/close': 'batchSession',
  'GET /sessions': 'sessionList',
  'GET /sessions/{referenceNumber}': 'sessionMisc',
  'GET /sessions/{referenceNumber}/invoices': 'sessionInvoiceList',
  'GET /sessions/{referenceNumber}/invoices/failed': 'sessionInvoiceList',
  'GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}': 'invoiceStatus',
  'GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo': 'sessionMisc',
  'GET /sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo': 'sessionMisc',
  'GET /sessions/{referenceNumber}/upo/{upoReferenceNumber}': 'sessionMisc',
  'GET /invoices/ksef/{ksefNumber}': 'invoiceDownload',
  'POST /invoices/query/metadata': 'invoiceMetadata',
  'POST /invoices/exports': 'invoiceExport',
  'GET /invoices/exports/{referenceNumber}': 'invoiceExportStatus',
  'POST /auth/challenge': 'public',
  'POST /auth/ksef-token': 'public',
  'POST /auth/xades-signature': 'public',
  'GET /auth/{referenceNumber}': 'public',
  'POST /auth/token/redeem': 'public',
  'POST /auth/token/refresh': 'public',
  'GET /security/public-key-certificates': 'public',
  'GET /peppol/query': 'public',
  // test-environment data endpoints: open-api.json x-rate-limits gives them only the 60 req/s of public operations
  'POST /testdata/subject': 'public',
  'POST /testdata/subject/remove': 'public',
  'POST /testdata/person': 'public',
  'POST /testdata/person/remove': 'public',
  'POST /testdata/permissions': 'public',
  'POST /testdata/permissions/revoke': 'public',
  'POST /testdata/attachment': 'public',
  'POST /testdata/attachment/revoke': 'public',
};

/**
 * Group of an endpoint given as `METHOD /template` (e.g. `GET /sessions/{referenceNumber}`).
 * The limiter keeps one counter per group: KSeF (and the emulator) may count each operation separately
 * (limity-api.md lists values per endpoint; "Pozostałe": "każdy taki endpoint posiada własny licznik"),
 * and one shared counter per group is stricter, so it never exceeds either reading.
 */
export function groupForEndpoint(endpoint: string): RateLimitGroup {
  return ENDPOINT_GROUPS[endpoint] ?? 'other';
}

/** Time source; injectable so tests never depend on the wall clock. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      const onAbort = (): void => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

export interface RateLimitEvent {
  group: string;
  atMs: number;
}

export interface RateLimitPause {
  group: string;
  untilMs: number;
}

/**
 * Where the limiter keeps its history so it survives a restart. The bridge's store implements it on
 * a `rate_limit_events (context TEXT, grp TEXT, at_ms INTEGER)` table (index on context, at_ms):
 * - `record` inserts one row per call, before the call goes out;
 * - `load` returns the rows of one context with `at_ms >= sinceMs` (any order);
 * - `recordPause`/`loadPauses` (optional) keep 429 pauses (`until_ms`) so a restart also honours them;
 * - `prune` (optional) deletes rows older than `beforeMs` (the limiter calls it now and then).
 * Methods may be synchronous (better-sqlite3) or return promises.
 */
export interface RateLimitStateStore {
  record(context: string, group: string, atMs: number): void | Promise<void>;
  load(context: string, sinceMs: number): RateLimitEvent[] | Promise<RateLimitEvent[]>;
  recordPause?(context: string, group: string, untilMs: number): void | Promise<void>;
  loadPauses?(context: string, nowMs: number): RateLimitPause[] | Promise<RateLimitPause[]>;
  prune?(beforeMs: number): void | Promise<void>;
}

/** RateLimitStateStore in memory (unit tests, or a bridge without a store). */
export class InMemoryRateLimitStateStore implements RateLimitStateStore {
  readonly events: Array<{ context: string; group: string; atMs: number }> = [];
  readonly pauses: Array<{ context: string; group: string; untilMs: number }> = [];
  record(context: string, group: string, atMs: number): void {
    this.events.push({ context, group, atMs });
  }
  load(context: string, sinceMs: number): RateLimitEvent[] {
    return this.events.filter((e) => e.context === context && e.atMs >= sinceMs).map(({ group, atMs }) => ({ group, atMs }));
  }
  recordPause(context: string, group: string, untilMs: number): void {
    this.pauses.push({ context, group, untilMs });
  }
  loadPauses(context: string, nowMs: number): RateLimitPause[] {
    return this.pauses.filter((p) => p.context === context && p.untilMs > nowMs).map(({ group, untilMs }) => ({ group, untilMs }));
  }
  prune(beforeMs: number): void {
    for (let i = this.events.length - 1; i >= 0; i--) if (this.events[i]!.atMs < beforeMs) this.events.splice(i, 1);
  }
}

export interface RateLimiterOptions {
  /** Context the limits count for (the NIP). */
  context: string;
  /** Profile of documented values; default `production` (the strictest). */
  environment?: KsefEnvironment;
  /** Per-group overrides of the profile's values. */
  limits?: Partial<Record<RateLimitGroup, WindowLimits>>;
  /**
   * Multiplies every window length: 1/60 turns one hour into one minute, one minute into one second
   * and one second into 1/60 s (for tests against an emulator running the same scaled profile).
   */
  scale?: number;
  /** Extra time added to every window, to absorb network latency between our clock and KSeF's (default 100 ms). */
  marginMs?: number;
  /** Fraction of each limit the bridge allows itself (0 < u <= 1, default 1). */
  utilization?: number;
  store?: RateLimitStateStore;
  clock?: Clock;
  /** Called before the limiter makes a call wait (for logs and status output). */
  onWait?: (event: { context: string; group: string; waitMs: number; reason: 'window' | 'retry-after' }) => void;
}

interface WindowSpec {
  lengthMs: number;
  limit: number;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export interface GroupUsage {
  /** Calls within each window now (second, minute, hour). */
  perSecond: number;
  perMinute: number;
  perHour: number;
  /** Effective limits (after utilization). */
  limits: WindowLimits;
  /** Time until the next call may go out (0 = now). */
  waitMs: number;
  /** End of a 429 pause, ms since epoch, if any. */
  pausedUntil: number | undefined;
}

export class RateLimiter {
  readonly context: string;
  readonly scale: number;
  private readonly marginMs: number;
  private readonly utilization: number;
  private readonly store: RateLimitStateStore | undefined;
  private readonly clock: Clock;
  private readonly onWait: RateLimiterOptions['onWait'];
  private table: RateLimitTable;
  /** Timestamps per group, ascending. */
  private readonly events = new Map<string, number[]>();
  private readonly pausedUntil = new Map<string, number>();
  private lastPrune = 0;

  private constructor(opts: RateLimiterOptions) {
    this.context = opts.context;
    this.scale = opts.scale ?? 1;
    if (!(this.scale > 0)) throw new RangeError('scale must be > 0');
    this.marginMs = opts.marginMs ?? 100;
    this.utilization = opts.utilization ?? 1;
    if (!(this.utilization > 0 && this.utilization <= 1)) throw new RangeError('utilization must be in (0, 1]');
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.onWait = opts.onWait;
    const base = RATE_LIMIT_PROFILES[opts.environment ?? 'production'];
    this.table = {} as RateLimitTable;
    for (const g of RATE_LIMIT_GROUPS) this.table[g] = { ...base[g], ...(opts.limits?.[g] ?? {}) };
  }

  /** Creates a limiter and loads the recent history of its context from the store. */
  static async create(opts: RateLimiterOptions): Promise<RateLimiter> {
    const l = new RateLimiter(opts);
    await l.reload();
    return l;
  }

  /** Creates a limiter without loading history (no store, or a store loaded later with reload()). */
  static createSync(opts: RateLimiterOptions): RateLimiter {
    return new RateLimiter(opts);
  }

  /** Longest window (hour, scaled) plus margin: how far back history matters. */
  get horizonMs(): number {
    return HOUR * this.scale + this.marginMs;
  }

  /** Re-reads the history of this context from the store (replaces what is in memory). */
  async reload(): Promise<void> {
    if (!this.store) return;
    const now = this.clock.now();
    const rows = await this.store.load(this.context, now - this.horizonMs);
    this.events.clear();
    for (const r of rows) {
      const list = this.events.get(r.group) ?? [];
      list.push(r.atMs);
      this.events.set(r.group, list);
    }
    for (const list of this.events.values()) list.sort((a, b) => a - b);
    if (this.store.loadPauses) {
      for (const p of await this.store.loadPauses(this.context, now)) {
        this.pausedUntil.set(p.group, Math.max(this.pausedUntil.get(p.group) ?? 0, p.untilMs));
      }
    }
  }

  /** Effective limits of a group (profile, overrides, GET /rate-limits values, utilization). */
  limitsOf(group: string): WindowLimits {
    const v = this.table[group as RateLimitGroup] ?? this.table.other;
    const u = (n: number | undefined): number | undefined => (n === undefined ? undefined : Math.max(1, Math.floor(n * this.utilization)));
    return { perSecond: u(v.perSecond), perMinute: u(v.perMinute), perHour: u(v.perHour) };
  }

  private windows(group: string): WindowSpec[] {
    const l = this.limitsOf(group);
    const w: WindowSpec[] = [];
    if (l.perSecond !== undefined) w.push({ lengthMs: SECOND * this.scale + this.marginMs, limit: l.perSecond });
    if (l.perMinute !== undefined) w.push({ lengthMs: MINUTE * this.scale + this.marginMs, limit: l.perMinute });
    if (l.perHour !== undefined) w.push({ lengthMs: HOUR * this.scale + this.marginMs, limit: l.perHour });
    return w;
  }

  /** Milliseconds until a call of this group may go out (0 = now). */
  waitTime(group: string): number {
    const now = this.clock.now();
    let wait = Math.max(0, (this.pausedUntil.get(group) ?? 0) - now);
    const list = this.events.get(group) ?? [];
    for (const w of this.windows(group)) {
      // index of first event inside the window (t > now - length)
      const from = lowerBoundGreater(list, now - w.lengthMs);
      const count = list.length - from;
      if (count >= w.limit) {
        const t = list[from + (count - w.limit)]!;
        wait = Math.max(wait, t + w.lengthMs - now + 1);
      }
    }
    return wait;
  }

  /** Waits until a call of this group is allowed, then records it (memory and store). */
  async acquire(group: string, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const wait = this.waitTime(group);
      if (wait <= 0) break;
      if (this.onWait) {
        const paused = (this.pausedUntil.get(group) ?? 0) > this.clock.now();
        this.onWait({ context: this.context, group, waitMs: wait, reason: paused ? 'retry-after' : 'window' });
      }
      await this.clock.sleep(wait, signal);
    }
    const now = this.clock.now();
    const list = this.events.get(group) ?? [];
    list.push(now);
    this.events.set(group, list);
    this.prune(now);
    if (this.store) await this.store.record(this.context, group, now);
  }

  /** Obeys a 429: no call of the group goes out for `ms` (Retry-After). Pauses only ever extend. */
  async pause(group: string, ms: number): Promise<void> {
    const until = this.clock.now() + Math.max(0, ms);
    if (until <= (this.pausedUntil.get(group) ?? 0)) return;
    this.pausedUntil.set(group, until);
    if (this.store?.recordPause) await this.store.recordPause(this.context, group, until);
  }

  /** End of the current 429 pause of a group, if any. */
  pausedUntilMs(group: string): number | undefined {
    const u = this.pausedUntil.get(group);
    return u !== undefined && u > this.clock.now() ? u : undefined;
  }

  /** Current usage of a group (for the dispatcher's pacing decisions and status output). */
  usage(group: string): GroupUsage {
    const now = this.clock.now();
    const list = this.events.get(group) ?? [];
    const count = (len: number): number => list.length - lowerBoundGreater(list, now - len);
    return {
      perSecond: count(SECOND * this.scale + this.marginMs),
      perMinute: count(MINUTE * this.scale + this.marginMs),
      perHour: count(HOUR * this.scale + this.marginMs),
      limits: this.limitsOf(group),
      waitMs: this.waitTime(group),
      pausedUntil: this.pausedUntilMs(group),
    };
  }

  /**
   * How many calls of the group could go out right now without waiting (the minimum over the windows).
   * The dispatcher uses it to decide between interactive sending and a batch session.
   */
  available(group: string): number {
    if (this.pausedUntilMs(group) !== undefined) return 0;
    const now = this.clock.now();
    const list = this.events.get(group) ?? [];
    let free = Number.POSITIVE_INFINITY;
    for (const w of this.windows(group)) free = Math.min(free, w.limit - (list.length - lowerBoundGreater(list, now - w.lengthMs)));
    return Math.max(0, free);
  }

  /** Applies the values of GET /rate-limits (only ever for the groups it names). */
  applyEffectiveLimits(limits: Partial<EffectiveApiRateLimits>): void {
    for (const [g, v] of Object.entries(limits) as Array<[keyof EffectiveApiRateLimits, EffectiveApiRateLimitValues | undefined]>) {
      if (!v || !(g in this.table)) continue;
      const ok = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0;
      this.table[g] = {
        perSecond: ok(v.perSecond) ? v.perSecond : this.table[g].perSecond,
        perMinute: ok(v.perMinute) ? v.perMinute : this.table[g].perMinute,
        perHour: ok(v.perHour) ? v.perHour : this.table[g].perHour,
      };
    }
  }

  private prune(now: number): void {
    if (now - this.lastPrune < MINUTE * this.scale) return;
    this.lastPrune = now;
    const before = now - this.horizonMs;
    for (const [g, list] of this.events) {
      const i = lowerBoundGreater(list, before);
      if (i > 0) list.splice(0, i);
      if (list.length === 0) this.events.delete(g);
    }
    for (const [g, until] of this.pausedUntil) if (until <= now) this.pausedUntil.delete(g);
    if (this.store?.prune) void Promise.resolve(this.store.prune(before)).catch(() => undefined);
  }
}

/** First index i with list[i] > x (list ascending). */
function lowerBoundGreater(list: number[], x: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The shape of an append-only log of KSeF calls keyed by a string (the store's RateLimitEventRepository
 * has it: `record({ endpoint, at, status, retryAfterMs })`, `since(endpoint, date)`, `prune(date)`).
 */
export interface RateLimitEventLog {
  record(event: { endpoint: string; at?: Date; status?: number | null; retryAfterMs?: number | null }): unknown;
  since(endpoint: string, since: Date): Array<{ at: string; status: number | null; retryAfterMs: number | null }>;
  prune?(before: Date): unknown;
}

/**
 * Adapts such a log to RateLimitStateStore: one key `<context>|<group>` per limiter group; a call is
 * a row without status; a 429 pause is a row with status 429 dated at the pause's end.
 */
export function rateLimitStoreFromEventLog(log: RateLimitEventLog, maxPauseMs = 24 * HOUR): RateLimitStateStore {
  const key = (context: string, group: string): string => `${context}|${group}`;
  return {
    record: (context, group, atMs) => {
      log.record({ endpoint: key(context, group), at: new Date(atMs) });
    },
    load: (context, sinceMs) =>
      RATE_LIMIT_GROUPS.flatMap((group) =>
        log
          .since(key(context, group), new Date(sinceMs))
          .filter((r) => r.status !== 429)
          .map((r) => ({ group, atMs: Date.parse(r.at) })),
      ),
    recordPause: (context, group, untilMs) => {
      log.record({ endpoint: key(context, group), at: new Date(untilMs), status: 429, retryAfterMs: 0 });
    },
    loadPauses: (context, nowMs) =>
      RATE_LIMIT_GROUPS.flatMap((group) =>
        log
          .since(key(context, group), new Date(nowMs - maxPauseMs))
          .filter((r) => r.status === 429)
          .map((r) => ({ group, untilMs: Date.parse(r.at) + (r.retryAfterMs ?? 0) }))
          .filter((p) => p.untilMs > nowMs),
      ),
    prune: (beforeMs) => {
      log.prune?.(new Date(beforeMs));
    },
  };
}
