/**
 * KSeF's limits respected, not discovered. The emulator enforces its own request limits (src/emulator/limits:
 * per context, IP address and operation, sliding windows, 429 with a growing Retry-After) in the production
 * profile with every window scaled down (one hour -> 10 s, one minute -> 167 ms, one second -> 2.8 ms); the bridge
 * runs its limiter with the production profile and the same scale. What happened is read from the emulator's side:
 * its request log (status of every answer, the 429 decisions with their Retry-After) and an interceptor behind the
 * limiter (arrival time and operation of every request the limiter let through).
 * - more invoices than the hourly interactive limit (250 > 180) through immediate mode, then 5 groups of 40 that the
 *   bridge switches to batch sessions by itself: all complete with zero 429;
 * - the context's limits set below what the bridge assumes (POST /testdata/rate-limits): every 429 is obeyed (no
 *   request of that group before Retry-After has passed) and the run still completes, each invoice exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRODUCTION_RATE_LIMITS, startEmulator, type ApiRateLimits, type EmulatorExtension, type EmulatorLogger, type RunningEmulator } from '../../src/emulator/index.js';
import { limitClassOf } from '../../src/emulator/limits/index.js';
import { groupForEndpoint, KsefClient, PRODUCTION_RATE_LIMITS as CLIENT_LIMITS } from '../../src/ksef/index.js';
import { openBridge, type Bridge } from '../../src/runtime/index.js';
import { manyFa3, SELLER_A, SELLER_B, TOKEN_A, TOKEN_B, TOKEN_ENV, tempDir, writeIni, type TempDir } from './helpers.js';

const SCALE = 1 / 360;
const HOUR_MS = 3_600_000 * SCALE;

interface Arrival {
  at: number;
  endpoint: string; // METHOD /template (without /v2)
  group: string; // the bridge's limiter group of that operation
}
interface Refusal extends Arrival {
  retryAfterSec: number;
}

/** Requests the emulator's limiter let through (interceptor registered after it), by arrival time. */
const arrivals: Arrival[] = [];
/** 429 decisions of the emulator's limiter (its warn line), with the Retry-After it answered. */
const refusals: Refusal[] = [];
/** Status of every answer (its request log line). */
const answered: { method: string; path: string; status: number }[] = [];

let templates: { method: string; re: RegExp; template: string; literal: number }[] = [];

function endpointOf(method: string, path: string): string {
  const t = templates.find((x) => x.method === method && x.re.test(path));
  return `${method} ${t ? t.template : path.slice(3)}`;
}

const recorder: EmulatorLogger = {
  info(message) {
    const m = /^([A-Z]+) (\/\S*) -> (\d{3}) \(/.exec(message);
    if (m) answered.push({ method: m[1]!, path: m[2]!, status: Number(m[3]) });
  },
  warn(message) {
    // "429 POST /v2/sessions/online/.../invoices for <nip> from <ip>: Przekroczono ... po N sekundach. (violation n)"
    const m = /^429 ([A-Z]+) (\/\S+) for .*po (\d+) sekund/.exec(message);
    if (m) {
      const endpoint = endpointOf(m[1]!, m[2]!);
      refusals.push({ at: Date.now(), endpoint, group: groupForEndpoint(endpoint), retryAfterSec: Number(m[3]) });
    }
  },
  error() {},
};

const arrivalsRecorder: EmulatorExtension = (api) =>
  api.addInterceptor((req) => {
    if (req.route.startsWith('/v2/')) {
      const endpoint = `${req.method} ${req.route.slice(3)}`;
      arrivals.push({ at: req.now, endpoint, group: groupForEndpoint(endpoint) });
    }
    return null;
  });

let emu: RunningEmulator;
const dirs: TempDir[] = [];
const bridges: Bridge[] = [];

beforeAll(async () => {
  emu = await startEmulator({
    tokens: [
      { nip: SELLER_A, token: TOKEN_A },
      { nip: SELLER_B, token: TOKEN_B },
    ],
    logger: recorder,
    rateLimits: 'production',
    rateLimitsScale: SCALE,
    extensions: [arrivalsRecorder],
  });
  const routes = (await (await fetch(`${emu.url}/emulator/admin/routes`)).json()) as { routes: { method: string; pattern: string }[] };
  templates = routes.routes
    .filter((r) => r.pattern.startsWith('/v2/'))
    .map((r) => ({
      method: r.method,
      template: r.pattern.slice(3),
      re: new RegExp(`^${r.pattern.replace(/\{[^}]+\}/g, '[^/]+')}$`),
      literal: r.pattern.split('/').filter((s) => s && !s.startsWith('{')).length,
    }))
    .sort((a, b) => b.literal - a.literal); // "/invoices/failed" before "/invoices/{invoiceReferenceNumber}"
});

afterAll(async () => {
  for (const b of bridges) await b.close();
  await emu?.admin.idle();
  await emu?.close();
  for (const d of dirs) d.remove();
});

async function open(nip: string, tokenEnv: string, autoBatchThreshold: number): Promise<Bridge> {
  const tmp = tempDir();
  dirs.push(tmp);
  const b = await openBridge(
    writeIni(tmp.dir, { emulatorUrl: emu.url, sessionMode: 'immediate', autoBatchThreshold, companies: [{ name: 'c', nip, tokenEnv }] }),
    {
      env: TOKEN_ENV,
      rateLimits: { environment: 'production', scale: SCALE },
      retry: { minTimeoutMs: 20, maxTimeoutMs: 200 },
      dispatcher: { backoffMs: { min: 50, max: 2_000 }, pollIntervalMs: 20 },
    },
  );
  bridges.push(b);
  return b;
}

function exactlyOnce(b: Bridge, nip: string, ids: number[], prefix: string): void {
  const atEmu = emu.admin.listInvoices(nip, 100_000).filter((i) => i.invoiceNumber?.startsWith(prefix));
  expect(atEmu).toHaveLength(ids.length);
  const byNumber = new Map(atEmu.map((i) => [i.invoiceNumber, i.ksefNumber]));
  for (const id of ids) {
    const d = b.store.documents.require(id);
    expect(d.state).toBe('confirmed');
    expect(d.ksefNumber).toBe(byNumber.get(d.invoiceNumber!));
  }
}

function reset(): void {
  arrivals.length = 0;
  refusals.length = 0;
  answered.length = 0;
}

describe('rate limits enforced by the emulator (production profile, windows scaled 1 h -> 10 s)', () => {
  it("the bridge's limiter groups and values agree with the emulator's for every operation it serves", () => {
    expect(templates.length).toBeGreaterThan(40);
    for (const t of templates) {
      const endpoint = `${t.method} ${t.template}`;
      const emuClass = limitClassOf(t.method, t.template);
      const clientGroup = groupForEndpoint(endpoint);
      expect(clientGroup, endpoint).toBe(emuClass.kind === 'public' ? 'public' : emuClass.group);
      if (emuClass.kind === 'group') expect(CLIENT_LIMITS[clientGroup], endpoint).toEqual(PRODUCTION_RATE_LIMITS[emuClass.group]);
    }
  });

  it('250 invoices through immediate mode (hourly send limit 180), then 5 groups switched to batch sessions: zero 429', async () => {
    reset();
    const b = await open(SELLER_A, 'KSEF_TOKEN_A', 0); // 0: never switch, every invoice goes through the interactive session
    const ids = b.dispatcher!.enqueueMany(manyFa3(250, 'FV/LIM/I').map((xml) => ({ xml }))).map((r) => r.documentId);
    const r1 = await b.dispatcher!.drain({ timeoutMs: 90_000 });
    expect(r1.complete).toBe(true);
    exactlyOnce(b, SELLER_A, ids, 'FV/LIM/I/');
    const sends = arrivals.filter((a) => a.endpoint === 'POST /sessions/online/{referenceNumber}/invoices');
    expect(sends).toHaveLength(250);
    // the pacing was real: more than the hourly limit cannot go out within one (scaled) hour
    expect(sends.at(-1)!.at - sends[0]!.at).toBeGreaterThan(HOUR_MS);
    await b.close();

    // the same context goes on: immediate mode with the default threshold (5), 40 waiting each time -> batch sessions
    const bb = await open(SELLER_A, 'KSEF_TOKEN_A', 5);
    const batchOpensBefore = arrivals.filter((a) => a.endpoint === 'POST /sessions/batch').length;
    const sendsBefore = arrivals.filter((a) => a.group === 'invoiceSend').length;
    for (let k = 0; k < 5; k++) {
      const batch = bb.dispatcher!.enqueueMany(manyFa3(40, `FV/LIM/B${k}`).map((xml) => ({ xml }))).map((r) => r.documentId);
      const r = await bb.dispatcher!.drain({ timeoutMs: 40_000 });
      expect(r.complete).toBe(true);
      exactlyOnce(bb, SELLER_A, batch, `FV/LIM/B${k}/`);
    }
    expect(arrivals.filter((a) => a.endpoint === 'POST /sessions/batch').length - batchOpensBefore).toBe(5);
    expect(arrivals.filter((a) => a.group === 'invoiceSend').length - sendsBefore).toBe(0);
    // zero 429, counted at the emulator: neither its limiter decided one nor its log shows one
    expect(refusals).toEqual([]);
    expect(answered.filter((a) => a.status === 429)).toEqual([]);
    expect(answered.length).toBeGreaterThan(500);
  }, 150_000);

  it("the context's limits set below what the bridge assumes: every 429 is obeyed and the run completes exactly once", async () => {
    // the context's own values, the official way (test environment endpoint, with the context's access token)
    const admin = new KsefClient({ nip: SELLER_B, ksefToken: { reveal: () => TOKEN_B }, baseUrl: `${emu.url}/v2` });
    const token = await admin.auth.accessToken();
    const lower: ApiRateLimits = {
      ...PRODUCTION_RATE_LIMITS,
      invoiceSend: { perSecond: 5, perMinute: 8, perHour: 40 },
      invoiceStatus: { perSecond: 10, perMinute: 30, perHour: 300 },
    };
    const set = await fetch(`${emu.url}/v2/testdata/rate-limits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ rateLimits: lower }),
    });
    expect(set.status).toBe(200);
    expect(emu.admin.limits.limitsFor(SELLER_B)?.invoiceSend).toEqual({ perSecond: 5, perMinute: 8, perHour: 40 });
    reset();

    const b = await open(SELLER_B, 'KSEF_TOKEN_B', 0);
    const ids = b.dispatcher!.enqueueMany(manyFa3(60, 'FV/LIM/L', { sellerNip: SELLER_B }).map((xml) => ({ xml }))).map((r) => r.documentId);
    const r = await b.dispatcher!.drain({ timeoutMs: 100_000 });
    expect(r.complete).toBe(true);
    exactlyOnce(b, SELLER_B, ids, 'FV/LIM/L/');

    expect(refusals.length).toBeGreaterThan(0);
    expect(answered.filter((a) => a.status === 429)).toHaveLength(refusals.length);
    // obeyed: after a 429, no request of the same group reached the emulator (let through or refused again) before
    // its Retry-After had passed (50 ms for a request already on its way when the 429 was answered)
    for (const x of refusals) {
      const until = x.at + x.retryAfterSec * 1000 - 50;
      const early = [...arrivals, ...refusals].filter((l) => l !== x && l.group === x.group && l.at > x.at && l.at < until);
      expect(early, `requests of ${x.group} within Retry-After of the 429 at ${x.at}`).toEqual([]);
    }
    // nothing was sent twice because of a 429: the emulator's handler saw exactly one send per invoice
    expect(arrivals.filter((a) => a.group === 'invoiceSend')).toHaveLength(60);
  }, 150_000);
});
