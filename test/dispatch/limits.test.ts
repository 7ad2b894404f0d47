/**
 * KSeF's limits respected, not discovered. The emulator enforces the production limits per endpoint group (here,
 * in the test, as an interceptor answering 429 with Retry-After: the emulator itself does not emulate per-endpoint
 * limits yet), with every window scaled down (one hour -> 10 s, one minute -> 167 ms, one second -> 2.8 ms); the
 * bridge runs its limiter with the production profile and the same scale.
 * - more invoices than the hourly interactive limit (250 > 180) through immediate mode, then 5 batches in a row:
 *   all complete with zero 429;
 * - the emulator's limits set below what the bridge assumes: every 429 is obeyed (no request of that group before
 *   Retry-After has passed) and the run still completes, each invoice exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorExtension, type RunningEmulator } from '../../src/emulator/index.js';
import { groupForEndpoint, PRODUCTION_RATE_LIMITS, type RateLimitGroup, type WindowLimits } from '../../src/ksef/index.js';
import { openBridge, type Bridge } from '../../src/runtime/index.js';
import { manyFa3, SELLER_A, TOKEN_A, TOKEN_ENV, tempDir, writeIni, type TempDir } from './helpers.js';

const SCALE = 1 / 360;
const WINDOWS = { perSecond: 1000 * SCALE, perMinute: 60_000 * SCALE, perHour: 3_600_000 * SCALE } as const;

/** What the emulator enforces now (changed by the tests). */
const enforced: { table: Partial<Record<RateLimitGroup, WindowLimits>> } = { table: PRODUCTION_RATE_LIMITS };
const calls = new Map<string, number[]>();
const log: { group: string; at: number; status: number; retryAfterUntil?: number }[] = [];

const limitsExtension: EmulatorExtension = (api) =>
  api.addInterceptor((req) => {
    if (!req.route.startsWith('/v2/')) return null; // admin, part uploads and UPO downloads are outside the API limits
    const group = groupForEndpoint(`${req.method} ${req.route.slice(3)}`);
    if (group === 'public') return null;
    const limits = enforced.table[group];
    if (!limits) return null;
    const now = Date.now();
    const list = calls.get(group) ?? [];
    let retryAt = 0;
    for (const key of ['perSecond', 'perMinute', 'perHour'] as const) {
      const limit = limits[key];
      if (limit === undefined) continue;
      const inWindow = list.filter((t) => t > now - WINDOWS[key]);
      if (inWindow.length >= limit) retryAt = Math.max(retryAt, inWindow[inWindow.length - limit]! + WINDOWS[key]);
    }
    if (retryAt > 0) {
      const seconds = Math.max(1, Math.ceil((retryAt - now) / 1000));
      log.push({ group, at: now, status: 429, retryAfterUntil: now + seconds * 1000 });
      return {
        status: 429,
        json: { status: { code: 429, description: 'Too Many Requests', details: [`Przekroczono limit ${group}. Spróbuj ponownie po ${seconds} sekundach.`] } },
        headers: { 'Retry-After': String(seconds) },
      };
    }
    list.push(now);
    calls.set(group, list.filter((t) => t > now - WINDOWS.perHour));
    log.push({ group, at: now, status: 0 });
    return null;
  });

let emu: RunningEmulator;
const dirs: TempDir[] = [];
const bridges: Bridge[] = [];

beforeAll(async () => {
  emu = await startEmulator({ tokens: [{ nip: SELLER_A, token: TOKEN_A }], logger: null, extensions: [limitsExtension] });
});

afterAll(async () => {
  for (const b of bridges) await b.close();
  await emu?.admin.idle();
  await emu?.close();
  for (const d of dirs) d.remove();
});

async function open(mode: 'immediate' | 'batch', threshold: number): Promise<Bridge> {
  const tmp = tempDir();
  dirs.push(tmp);
  const b = await openBridge(writeIni(tmp.dir, { emulatorUrl: emu.url, sessionMode: mode, autoBatchThreshold: threshold }), {
    env: TOKEN_ENV,
    rateLimits: { environment: 'production', scale: SCALE },
    retry: { minTimeoutMs: 20, maxTimeoutMs: 200 },
    dispatcher: { backoffMs: { min: 50, max: 2_000 }, pollIntervalMs: 20 },
  });
  bridges.push(b);
  return b;
}

function exactlyOnce(b: Bridge, ids: number[], prefix: string): void {
  const atEmu = emu.admin.listInvoices(SELLER_A, 100_000).filter((i) => i.invoiceNumber?.startsWith(prefix));
  expect(atEmu).toHaveLength(ids.length);
  const byNumber = new Map(atEmu.map((i) => [i.invoiceNumber, i.ksefNumber]));
  for (const id of ids) {
    const d = b.store.documents.require(id);
    expect(d.state).toBe('confirmed');
    expect(d.ksefNumber).toBe(byNumber.get(d.invoiceNumber!));
  }
}

describe('rate limits (production profile, windows scaled 1 h -> 10 s)', () => {
  it('250 invoices through immediate mode (hourly send limit 180) then 5 batches in a row: zero 429', async () => {
    enforced.table = PRODUCTION_RATE_LIMITS;
    log.length = 0;
    const b = await open('immediate', 0);
    const ids = b.dispatcher!.enqueueMany(manyFa3(250, 'FV/LIM/I').map((xml) => ({ xml }))).map((r) => r.documentId);
    const r1 = await b.dispatcher!.drain({ timeoutMs: 120_000 });
    expect(r1.complete).toBe(true);
    exactlyOnce(b, ids, 'FV/LIM/I/');
    const sends = log.filter((l) => l.group === 'invoiceSend' && l.status === 0);
    expect(sends.length).toBeGreaterThanOrEqual(250);
    // the pacing was real: the sends spread over more than one (scaled) hour
    expect(sends.at(-1)!.at - sends[0]!.at).toBeGreaterThan(WINDOWS.perHour);

    const bb = await open('batch', 5);
    for (let k = 0; k < 5; k++) {
      const batch = bb.dispatcher!.enqueueMany(manyFa3(40, `FV/LIM/B${k}`).map((xml) => ({ xml }))).map((r) => r.documentId);
      const r = await bb.dispatcher!.drain({ timeoutMs: 60_000 });
      expect(r.complete).toBe(true);
      exactlyOnce(bb, batch, `FV/LIM/B${k}/`);
    }
    expect(log.filter((l) => l.status === 429)).toEqual([]);
  });

  it("the emulator's limits below what the bridge assumes: every 429 is obeyed and the run completes", async () => {
    enforced.table = { ...PRODUCTION_RATE_LIMITS, invoiceSend: { perSecond: 5, perMinute: 8, perHour: 40 }, invoiceStatus: { perSecond: 10, perMinute: 30, perHour: 300 } };
    calls.clear();
    log.length = 0;
    const b = await open('immediate', 0);
    const ids = b.dispatcher!.enqueueMany(manyFa3(60, 'FV/LIM/L').map((xml) => ({ xml }))).map((r) => r.documentId);
    const r = await b.dispatcher!.drain({ timeoutMs: 120_000 });
    expect(r.complete).toBe(true);
    exactlyOnce(b, ids, 'FV/LIM/L/');
    const refused = log.filter((l) => l.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    // obeyed: after a 429, no request of the same group reached the emulator before Retry-After had passed
    for (const x of refused) {
      const early = log.filter((l) => l.group === x.group && l.at > x.at && l.at < x.retryAfterUntil! - 50);
      expect(early, `requests of ${x.group} within Retry-After`).toEqual([]);
    }
    // nothing was sent twice because of a 429: one KSeF number each (checked above), at most one accepted send per invoice
    expect(log.filter((l) => l.group === 'invoiceSend' && l.status === 0).length).toBe(60);
  });
});
