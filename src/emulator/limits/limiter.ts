/**
 * Sliding-window request limiter with growing blocks (limity-api.md):
 *
 * - every counter (one per key: context, IP address and operation) keeps the times of the requests it let through;
 *   a request is over the limit when the last second, 60 seconds or 60 minutes (not aligned to clock minutes or
 *   hours) already hold `limit` requests; all windows apply at once and the first exceeded one triggers the block;
 * - a refused request is not counted in the windows (it was not served);
 * - "kolejne żądania są tymczasowo blokowane": after a violation the counter is blocked; requests during the block
 *   are refused too and count as further violations;
 * - "Wielokrotne przekroczenia mogą skutkować znacznym wydłużeniem blokady": the n-th violation (violations are
 *   remembered until an hour passes without one) blocks for `max(wait, 1 s) × 2^(n-1)`, where `wait` is the time
 *   until the exceeded window admits a request again, capped at one hour (but never shorter than `wait`). The docs
 *   give no formula; this one is the emulator's documented choice.
 *
 * Time is passed in by the caller (the emulator clock), and every duration (windows, 1-second unit, cap, memory) is
 * multiplied by `scale`, so `scale = 1/60` makes an hour last a minute for tests.
 */

export type WindowName = 'second' | 'minute' | 'hour';

export interface WindowLimit {
  window: WindowName;
  limit: number;
}

export interface Refusal {
  allowed: false;
  /** How long the counter stays blocked, in (scaled) milliseconds. */
  retryAfterMs: number;
  /** `Retry-After` in whole seconds (at least 1). */
  retryAfterSec: number;
  /** The window whose limit was exceeded (for the message). */
  exceeded: WindowLimit;
  /** Number of violations remembered for this counter, this one included. */
  violations: number;
}

export type Decision = { allowed: true } | Refusal;

const BASE_MS: Record<WindowName, number> = { second: 1_000, minute: 60_000, hour: 3_600_000 };
const SWEEP_EVERY = 1024;

interface Counter {
  /** Times of let-through requests, ascending; only the newest `max(limit)` and those inside the hour window. */
  times: number[];
  violations: number;
  lastViolation: number;
  blockedUntil: number;
  exceeded: WindowLimit | null;
}

export class SlidingWindowLimiter {
  private readonly counters = new Map<string, Counter>();
  private checks = 0;
  private scaleFactor: number;

  constructor(scale = 1) {
    this.scaleFactor = checkScale(scale);
  }

  get scale(): number {
    return this.scaleFactor;
  }

  set scale(s: number) {
    this.scaleFactor = checkScale(s);
  }

  windowMs(w: WindowName): number {
    return BASE_MS[w] * this.scaleFactor;
  }

  /** Decides on one request at time `now` for `key` under `limits`, and records it when allowed. */
  check(key: string, limits: WindowLimit[], now: number): Decision {
    if (++this.checks % SWEEP_EVERY === 0) this.sweep(now);
    let c = this.counters.get(key);
    if (!c) {
      c = { times: [], violations: 0, lastViolation: -Infinity, blockedUntil: -Infinity, exceeded: null };
      this.counters.set(key, c);
    }
    const hour = this.windowMs('hour');
    if (c.violations > 0 && now - c.lastViolation >= hour) c.violations = 0;
    const maxLimit = limits.reduce((m, l) => Math.max(m, l.limit), 0);
    let drop = 0;
    while (drop < c.times.length && ((c.times[drop] as number) <= now - hour || c.times.length - drop > maxLimit)) drop++;
    if (drop) c.times.splice(0, drop);

    let exceeded: WindowLimit | null = null;
    let wait = 0;
    for (const l of limits) {
      const n = c.times.length;
      if (n < l.limit) continue;
      // the oldest of the last `limit` requests: while it is inside the window, the window is full
      const oldest = c.times[n - l.limit] as number;
      const until = oldest + this.windowMs(l.window);
      if (until > now && until - now >= wait) {
        wait = until - now;
        exceeded = l;
      }
    }
    const blocked = now < c.blockedUntil;
    if (!exceeded && !blocked) {
      c.times.push(now);
      return { allowed: true };
    }
    c.violations++;
    c.lastViolation = now;
    if (exceeded) c.exceeded = exceeded;
    const unit = this.windowMs('second');
    const penalty = Math.max(wait, unit) * 2 ** Math.min(c.violations - 1, 40);
    const block = Math.min(penalty, Math.max(hour, wait));
    c.blockedUntil = Math.max(c.blockedUntil, now + block);
    const retryAfterMs = c.blockedUntil - now;
    return {
      allowed: false,
      retryAfterMs,
      retryAfterSec: Math.max(1, Math.ceil(retryAfterMs / 1000)),
      exceeded: c.exceeded ?? (limits[0] as WindowLimit),
      violations: c.violations,
    };
  }

  /** Forgets every counter, violation and block. */
  reset(): void {
    this.counters.clear();
  }

  /** Number of live counters (for the admin view). */
  size(): number {
    return this.counters.size;
  }

  /** Counters blocked at `now`: key and remaining milliseconds. */
  blocked(now: number): { key: string; remainingMs: number; violations: number }[] {
    const out: { key: string; remainingMs: number; violations: number }[] = [];
    for (const [key, c] of this.counters) if (c.blockedUntil > now) out.push({ key, remainingMs: c.blockedUntil - now, violations: c.violations });
    return out;
  }

  private sweep(now: number): void {
    const hour = this.windowMs('hour');
    for (const [key, c] of this.counters) {
      const last = c.times.length ? (c.times[c.times.length - 1] as number) : -Infinity;
      if (last <= now - hour && c.blockedUntil <= now && now - c.lastViolation >= hour) this.counters.delete(key);
    }
  }
}

function checkScale(s: number): number {
  if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0 || s > 1_000) throw new RangeError('rate limit scale must be a number > 0 and <= 1000');
  return s;
}
