import { describe, expect, it } from 'vitest';
import {
  InMemoryRateLimitStateStore,
  PRODUCTION_RATE_LIMITS,
  RATE_LIMIT_PROFILES,
  RateLimiter,
  groupForEndpoint,
} from '../../src/ksef/index.js';
import { ManualClock } from './manual-clock.js';

const NIP = '5265877635';

/** Acquires `n` calls one after another, returns the clock time of each. */
async function times(l: RateLimiter, clock: ManualClock, group: string, n: number): Promise<number[]> {
  const out: number[] = [];
  const run = (async () => {
    for (let i = 0; i < n; i++) {
      await l.acquire(group);
      out.push(clock.now());
    }
  })();
  await clock.runUntilIdle();
  await run;
  return out;
}

describe('rate limiter windows', () => {
  it('maps endpoints to the groups of open-api.json', () => {
    expect(groupForEndpoint('POST /sessions/online/{referenceNumber}/invoices')).toBe('invoiceSend');
    expect(groupForEndpoint('POST /sessions/online')).toBe('onlineSession');
    expect(groupForEndpoint('POST /sessions/online/{referenceNumber}/close')).toBe('onlineSession');
    expect(groupForEndpoint('POST /sessions/batch/{referenceNumber}/close')).toBe('batchSession');
    expect(groupForEndpoint('GET /sessions/{referenceNumber}/invoices/failed')).toBe('sessionInvoiceList');
    expect(groupForEndpoint('GET /sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}')).toBe('invoiceStatus');
    expect(groupForEndpoint('GET /sessions/{referenceNumber}/upo/{upoReferenceNumber}')).toBe('sessionMisc');
    expect(groupForEndpoint('POST /auth/challenge')).toBe('public');
    expect(groupForEndpoint('GET /rate-limits')).toBe('other');
  });

  it('has the documented production values and a test profile ten times higher', () => {
    expect(PRODUCTION_RATE_LIMITS.invoiceSend).toEqual({ perSecond: 10, perMinute: 30, perHour: 180 });
    expect(PRODUCTION_RATE_LIMITS.batchSession).toEqual({ perSecond: 10, perMinute: 20, perHour: 60 });
    expect(RATE_LIMIT_PROFILES.demo.invoiceSend).toEqual(PRODUCTION_RATE_LIMITS.invoiceSend);
    expect(RATE_LIMIT_PROFILES.test.invoiceSend).toEqual({ perSecond: 100, perMinute: 300, perHour: 1800 });
  });

  it('lets a burst up to the per-second limit through, then waits for the window to slide', async () => {
    const clock = new ManualClock();
    const l = RateLimiter.createSync({ context: NIP, clock, marginMs: 0 });
    const start = clock.now();
    const t = await times(l, clock, 'invoiceSend', 11);
    expect(t.slice(0, 10).every((x) => x === start)).toBe(true);
    expect(t[10]! - start).toBeGreaterThanOrEqual(1000);
    expect(t[10]! - start).toBeLessThan(1100);
  });

  it('never lets more calls into any sliding minute or hour than allowed', async () => {
    const clock = new ManualClock();
    const l = RateLimiter.createSync({ context: NIP, clock, marginMs: 0 });
    const t = await times(l, clock, 'invoiceSend', 200);
    for (let i = 0; i < t.length; i++) {
      const inMinute = t.filter((x) => x > t[i]! - 60_000 && x <= t[i]!).length;
      const inHour = t.filter((x) => x > t[i]! - 3_600_000 && x <= t[i]!).length;
      const inSecond = t.filter((x) => x > t[i]! - 1000 && x <= t[i]!).length;
      expect(inSecond).toBeLessThanOrEqual(10);
      expect(inMinute).toBeLessThanOrEqual(30);
      expect(inHour).toBeLessThanOrEqual(180);
    }
    // the 181st call of the hour can only happen an hour after the first
    expect(t[180]! - t[0]!).toBeGreaterThanOrEqual(3_600_000);
    expect(t[179]! - t[0]!).toBeLessThan(3_600_000);
  });

  it('keeps groups independent', async () => {
    const clock = new ManualClock();
    const l = RateLimiter.createSync({ context: NIP, clock });
    await times(l, clock, 'batchSession', 20);
    expect(l.waitTime('batchSession')).toBeGreaterThan(0);
    expect(l.waitTime('invoiceSend')).toBe(0);
    expect(l.available('invoiceSend')).toBe(10);
  });

  it('serves concurrent callers without exceeding a window', async () => {
    const clock = new ManualClock();
    const l = RateLimiter.createSync({ context: NIP, clock, marginMs: 0 });
    const got: number[] = [];
    const all = Promise.all(Array.from({ length: 25 }, () => l.acquire('onlineSession').then(() => got.push(clock.now()))));
    await clock.runUntilIdle();
    await all;
    expect(got).toHaveLength(25);
    for (const x of got) expect(got.filter((y) => y > x - 1000 && y <= x).length).toBeLessThanOrEqual(10);
  });

  it('applies the effective limits from GET /rate-limits', () => {
    const l = RateLimiter.createSync({ context: NIP, clock: new ManualClock() });
    l.applyEffectiveLimits({ invoiceSend: { perSecond: 2, perMinute: 5, perHour: 7 } });
    expect(l.limitsOf('invoiceSend')).toEqual({ perSecond: 2, perMinute: 5, perHour: 7 });
    expect(l.limitsOf('onlineSession')).toEqual(PRODUCTION_RATE_LIMITS.onlineSession);
  });

  it('rejects nonsensical options', () => {
    expect(() => RateLimiter.createSync({ context: NIP, scale: 0 })).toThrow(RangeError);
    expect(() => RateLimiter.createSync({ context: NIP, utilization: 1.5 })).toThrow(RangeError);
  });

  it('uses only the configured fraction of each limit', () => {
    const l = RateLimiter.createSync({ context: NIP, clock: new ManualClock(), utilization: 0.5 });
    expect(l.limitsOf('invoiceSend')).toEqual({ perSecond: 5, perMinute: 15, perHour: 90 });
  });
});

describe('429 Retry-After', () => {
  it('pauses the whole group until Retry-After has passed', async () => {
    const clock = new ManualClock();
    const l = RateLimiter.createSync({ context: NIP, clock });
    const start = clock.now();
    await l.pause('invoiceSend', 30_000);
    expect(l.available('invoiceSend')).toBe(0);
    expect(l.waitTime('sessionMisc')).toBe(0);
    const t = await times(l, clock, 'invoiceSend', 1);
    expect(t[0]! - start).toBeGreaterThanOrEqual(30_000);
  });

  it('tells an observer why a call waits', async () => {
    const clock = new ManualClock();
    const waits: Array<{ group: string; reason: string }> = [];
    const l = RateLimiter.createSync({ context: NIP, clock, onWait: (e) => waits.push({ group: e.group, reason: e.reason }) });
    await l.pause('invoiceSend', 5_000);
    await times(l, clock, 'invoiceSend', 11);
    expect(waits[0]).toEqual({ group: 'invoiceSend', reason: 'retry-after' });
    expect(waits.at(-1)).toEqual({ group: 'invoiceSend', reason: 'window' });
  });

  it('does not shorten a longer pause', async () => {
    const clock = new ManualClock();
    const l = RateLimiter.createSync({ context: NIP, clock });
    await l.pause('other', 60_000);
    await l.pause('other', 5_000);
    expect(l.pausedUntilMs('other')).toBe(clock.now() + 60_000);
  });
});

describe('persistence', () => {
  it('a restarted limiter remembers the calls of the last hour', async () => {
    const store = new InMemoryRateLimitStateStore();
    const clock = new ManualClock();
    const first = await RateLimiter.create({ context: NIP, clock, store, marginMs: 0 });
    await times(first, clock, 'batchSession', 60);
    expect(store.events.filter((e) => e.group === 'batchSession')).toHaveLength(60);

    await clock.advance(10 * 60_000); // "restart" ten minutes later
    const second = await RateLimiter.create({ context: NIP, clock, store, marginMs: 0 });
    expect(second.available('batchSession')).toBe(0);
    const wait = second.waitTime('batchSession');
    expect(wait).toBeGreaterThan(40 * 60_000); // the hourly budget is used up
    const other = await RateLimiter.create({ context: '7010000006', clock, store, marginMs: 0 });
    expect(other.available('batchSession')).toBe(10); // another context is not affected
  });

  it('a restarted limiter honours a stored 429 pause', async () => {
    const store = new InMemoryRateLimitStateStore();
    const clock = new ManualClock();
    const first = await RateLimiter.create({ context: NIP, clock, store });
    await first.pause('invoiceSend', 120_000);
    await clock.advance(1000);
    const second = await RateLimiter.create({ context: NIP, clock, store });
    expect(second.pausedUntilMs('invoiceSend')).toBe(clock.now() + 119_000);
  });

  it('propagates a store failure instead of calling KSeF unrecorded', async () => {
    const clock = new ManualClock();
    const l = await RateLimiter.create({
      context: NIP,
      clock,
      store: {
        record: () => {
          throw new Error('disk full');
        },
        load: () => [],
      },
    });
    await expect(l.acquire('invoiceSend')).rejects.toThrow('disk full');
  });
});

describe('scaled profile', () => {
  it('shrinks one hour to one minute with scale 1/60', async () => {
    const clock = new ManualClock();
    const l = RateLimiter.createSync({ context: NIP, clock, scale: 1 / 60, marginMs: 0 });
    const t = await times(l, clock, 'batchSession', 61);
    const span = t[60]! - t[0]!;
    expect(span).toBeGreaterThanOrEqual(60_000);
    expect(span).toBeLessThan(61_000);
    // per-"minute" window is one second now: at most 20 calls in any second
    for (const x of t) expect(t.filter((y) => y > x - 1000 && y <= x).length).toBeLessThanOrEqual(20);
  });
});

describe('persistence in the bridge store (SQLite on disk)', () => {
  it('survives a restart through rate_limit_events, per context, including 429 pauses', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const { openStore } = await import('../../src/store/index.js');
    const { rateLimitStoreFromEventLog } = await import('../../src/ksef/index.js');
    const dir = mkdtempSync(path.join(tmpdir(), 'ksef-limiter-'));
    try {
      const clock = new ManualClock();
      let db = openStore(path.join(dir, 'bridge.db'));
      const first = await RateLimiter.create({ context: NIP, clock, marginMs: 0, store: rateLimitStoreFromEventLog(db.rateLimitEvents) });
      await times(first, clock, 'invoiceSend', 30);
      await first.pause('batchSession', 90_000);
      db.close();

      await clock.advance(5_000);
      db = openStore(path.join(dir, 'bridge.db'));
      const again = await RateLimiter.create({ context: NIP, clock, marginMs: 0, store: rateLimitStoreFromEventLog(db.rateLimitEvents) });
      expect(again.usage('invoiceSend').perMinute).toBe(30);
      expect(again.available('invoiceSend')).toBe(0);
      expect(again.pausedUntilMs('batchSession')).toBe(clock.now() + 85_000);
      const other = await RateLimiter.create({ context: '7010000006', clock, store: rateLimitStoreFromEventLog(db.rateLimitEvents) });
      expect(other.available('invoiceSend')).toBe(10);
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
