/**
 * The sliding-window limiter on its own, with time passed in (no clock): the three windows of limity-api.md
 * (last second, last 60 seconds, last 60 minutes, not aligned to clock minutes), all applying at once, the growing
 * block on repeated violations, and the time scale.
 */
import { describe, expect, it } from 'vitest';
import { SlidingWindowLimiter, limitMessage, type Decision, type WindowLimit } from '../../src/emulator/limits/index.js';

const T0 = Date.parse('2026-03-02T10:00:00.000Z');
const limits = (perSecond: number, perMinute: number, perHour: number): WindowLimit[] => [
  { window: 'second', limit: perSecond },
  { window: 'minute', limit: perMinute },
  { window: 'hour', limit: perHour },
];
const refused = (d: Decision) => {
  if (d.allowed) throw new Error('expected a refusal');
  return d;
};

describe('windows', () => {
  it('per second: the limit-th request passes, the next one in the same second is refused, a second later it passes', () => {
    const l = new SlidingWindowLimiter();
    const w = limits(3, 100, 1000);
    for (let i = 0; i < 3; i++) expect(l.check('k', w, T0 + i).allowed).toBe(true);
    const r = refused(l.check('k', w, T0 + 10));
    expect(r.exceeded).toEqual({ window: 'second', limit: 3 });
    expect(r.retryAfterSec).toBe(1);
    // the block lasts at least the one second Retry-After announces; then the window has slid past the first requests
    expect(r.retryAfterMs).toBe(1000);
    expect(l.check('k', w, T0 + 10 + 1000).allowed).toBe(true);
  });

  it('per minute: sliding, not reset at :00; Retry-After says when the oldest request leaves the window', () => {
    const l = new SlidingWindowLimiter();
    const w = limits(100, 4, 1000);
    const start = T0 + 45_000; // 10:00:45 — a fixed window would reset at 10:01:00
    for (let i = 0; i < 4; i++) expect(l.check('k', w, start + i * 5_000).allowed).toBe(true);
    const at = start + 20_000; // 10:01:05, past the full minute
    const r = refused(l.check('k', w, at));
    expect(r.exceeded.window).toBe('minute');
    expect(r.retryAfterSec).toBe(40); // start + 60 s - at
    expect(limitMessage(r.exceeded, r.retryAfterSec)).toBe('Przekroczono limit 4 żądań na minutę. Spróbuj ponownie po 40 sekundach.');
    expect(l.check('k', w, start + 60_000).allowed).toBe(true);
  });

  it('per hour: counted over the last 60 minutes', () => {
    const l = new SlidingWindowLimiter();
    const w = limits(100, 100, 5);
    for (let i = 0; i < 5; i++) expect(l.check('k', w, T0 + i * 10 * 60_000).allowed).toBe(true); // 0, 10, ..., 40 min
    const r = refused(l.check('k', w, T0 + 50 * 60_000));
    expect(r.exceeded.window).toBe('hour');
    expect(r.retryAfterSec).toBe(10 * 60);
    expect(l.check('k', w, T0 + 60 * 60_000).allowed).toBe(true);
  });

  it('all windows apply at once: the one that keeps the client out longest is reported', () => {
    const l = new SlidingWindowLimiter();
    const w = limits(2, 3, 1000);
    expect(l.check('k', w, T0).allowed).toBe(true);
    expect(l.check('k', w, T0 + 2_000).allowed).toBe(true);
    expect(l.check('k', w, T0 + 2_001).allowed).toBe(true);
    const r = refused(l.check('k', w, T0 + 2_002)); // both the second (2) and the minute (3) are full
    expect(r.exceeded).toEqual({ window: 'minute', limit: 3 });
    expect(r.retryAfterSec).toBe(58);
  });

  it('does not count refused requests, and keeps counters apart by key', () => {
    const l = new SlidingWindowLimiter();
    const w = limits(1, 100, 1000);
    expect(l.check('a', w, T0).allowed).toBe(true);
    expect(l.check('b', w, T0).allowed).toBe(true);
    expect(l.check('a', w, T0 + 1).allowed).toBe(false);
    // after the block (1 s) only the one served request counted: the next one in a fresh second passes
    expect(l.check('a', w, T0 + 1_001).allowed).toBe(true);
  });
});

describe('growing blocks', () => {
  it('doubles the block on every repeated violation, also for requests made during a block, up to an hour', () => {
    const l = new SlidingWindowLimiter();
    const w = limits(1, 1000, 100000);
    expect(l.check('k', w, T0).allowed).toBe(true);
    const seen: number[] = [];
    let t = T0 + 1;
    for (let i = 0; i < 14; i++) {
      const r = refused(l.check('k', w, t));
      seen.push(r.retryAfterSec);
      expect(r.violations).toBe(i + 1);
      t += 1;
    }
    expect(seen.slice(0, 6)).toEqual([1, 2, 4, 8, 16, 32]);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1] as number);
    expect(Math.max(...seen)).toBe(3600); // capped at an hour
  });

  it('a client that waits out the block and violates again is blocked longer; an hour without violations forgives', () => {
    const l = new SlidingWindowLimiter();
    const w = limits(1, 1000, 100000);
    expect(l.check('k', w, T0).allowed).toBe(true);
    const first = refused(l.check('k', w, T0 + 1));
    expect(first.retryAfterSec).toBe(1);
    let t = T0 + 1 + first.retryAfterMs;
    expect(l.check('k', w, t).allowed).toBe(true);
    const second = refused(l.check('k', w, t + 1));
    expect(second.retryAfterSec).toBe(2);
    t = t + 1 + second.retryAfterMs;
    expect(l.check('k', w, t).allowed).toBe(true);
    expect(refused(l.check('k', w, t + 1)).retryAfterSec).toBe(4);

    t += 3_600_000 + 10_000;
    expect(l.check('k', w, t).allowed).toBe(true);
    expect(refused(l.check('k', w, t + 1)).retryAfterSec).toBe(1);
  });

  it('never tells a client to come back before the window admits it', () => {
    const l = new SlidingWindowLimiter();
    const w = limits(1000, 1000, 2);
    expect(l.check('k', w, T0).allowed).toBe(true);
    expect(l.check('k', w, T0 + 1).allowed).toBe(true);
    const r = refused(l.check('k', w, T0 + 2));
    expect(r.retryAfterMs).toBe(3_600_000 - 2);
    expect(l.check('k', w, T0 + 2 + r.retryAfterMs).allowed).toBe(true);
  });
});

describe('time scale', () => {
  it('scales windows, blocks and the forgiveness period alike (1/60: an hour lasts a minute)', () => {
    const l = new SlidingWindowLimiter(1 / 60);
    expect(l.windowMs('hour')).toBe(60_000);
    expect(l.windowMs('minute')).toBe(1_000);
    const w = limits(1000, 1000, 3);
    for (let i = 0; i < 3; i++) expect(l.check('k', w, T0 + i * 10_000).allowed).toBe(true);
    const r = refused(l.check('k', w, T0 + 30_000));
    expect(r.exceeded.window).toBe('hour');
    expect(r.retryAfterMs).toBe(30_000);
    expect(r.retryAfterSec).toBe(30);
    expect(l.check('k', w, T0 + 60_000).allowed).toBe(true);
  });

  it('rounds a scaled block up to whole seconds for Retry-After, and rejects a nonsensical scale', () => {
    const l = new SlidingWindowLimiter(1 / 60);
    const w = limits(1, 1000, 1000);
    expect(l.check('k', w, T0).allowed).toBe(true);
    const r = refused(l.check('k', w, T0 + 1));
    expect(r.retryAfterMs).toBeCloseTo(1000 / 60, 3);
    expect(r.retryAfterSec).toBe(1);
    expect(() => new SlidingWindowLimiter(0)).toThrow(RangeError);
    expect(() => new SlidingWindowLimiter(Number.NaN)).toThrow(RangeError);
    expect(() => {
      l.scale = -1;
    }).toThrow(RangeError);
  });
});
