/**
 * Per-endpoint request limits over HTTP, written from limity/limity-api.md and open-api.json ("Limity i
 * ograniczenia", `x-rate-limits`, the 429 tables): the emulator clock is frozen and moved by hand, so no assertion
 * depends on wall-clock time. Every response is checked against the contract by the test client (the 429 bodies
 * included: TooManyRequestsResponse and TooManyRequestsProblemDetails).
 */
import fs from 'node:fs';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { loadEmulatorConfig, startEmulator, PRODUCTION_RATE_LIMITS, type ApiRateLimits, type EmulatorOptions } from '../../src/emulator/index.js';
import { limitClassOf } from '../../src/emulator/limits/index.js';
import { KsefTestClient } from './helpers/client.js';
import { checkResponse, SPEC_PATH } from './helpers/contract.js';
import { OTHER_NIP, OTHER_TOKEN, SELLER_NIP, SELLER_TOKEN, startTestEmulator, type TestEnv } from './helpers/setup.js';

type Limits = ApiRateLimits;
interface TooMany {
  status: { code: number; description: string; details: string[] };
}

const spec = JSON.parse(fs.readFileSync(SPEC_PATH, 'utf8')) as {
  paths: Record<string, Record<string, { 'x-rate-limits'?: { perSecond?: number; perMinute?: number; perHour?: number }; responses: Record<string, { description?: string }> }>>;
};

let clock = Date.parse('2026-03-02T10:00:00.000Z');
const running: TestEnv[] = [];
afterEach(async () => {
  for (const e of running.splice(0)) await e.emu.close();
});

async function start(options: EmulatorOptions = {}): Promise<TestEnv> {
  clock = Date.parse('2026-03-02T10:00:00.000Z');
  const env = await startTestEmulator({ now: () => clock, accessTokenTtlSec: 7 * 24 * 3600, ...options });
  running.push(env);
  return env;
}
const advance = (ms: number): void => {
  clock += ms;
};

/** GET /sessions (group sessionList: 5/s, 10/min, 60/h in production). */
const listSessions = (c: KsefTestClient, token: string, headers: Record<string, string> = {}) =>
  c.call<TooMany>('GET', '/sessions', { token, query: { sessionType: 'Online' }, headers });

/** A request from another loopback address (127.0.0.2), to show limits are counted per IP address. */
function requestFrom(localAddress: string, url: string, token: string): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'GET', localAddress, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the limit table agrees with the contract', () => {
  it('every operation of open-api.json gets the group and production values its x-rate-limits and 429 table name', () => {
    let checked = 0;
    for (const [path, ops] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const declared = op['x-rate-limits'];
        if (!declared) continue;
        const row = (op.responses['429']?.description ?? '').trim().split('\n').pop() ?? '';
        const group = row.split('|').map((s) => s.trim()).filter(Boolean).pop();
        const cls = limitClassOf(method, path);
        if (group === '-') {
          expect(cls, `${method} ${path}`).toEqual({ kind: 'public' });
          expect(declared, `${method} ${path}`).toEqual({ perSecond: 60 });
        } else {
          expect(cls, `${method} ${path}`).toEqual({ kind: 'group', group });
          expect(PRODUCTION_RATE_LIMITS[group as keyof typeof PRODUCTION_RATE_LIMITS], `${method} ${path}`).toEqual(declared);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(70);
  });
});

describe('GET /rate-limits', () => {
  it('returns the production values in the contract shape (EffectiveApiRateLimits) with the production profile', async () => {
    const env = await start({ rateLimits: 'production' });
    const t = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
    const r = await env.client.call<Limits>('GET', '/rate-limits', { token: t.accessToken });
    expect(r.status).toBe(200);
    expect(r.json).toEqual(PRODUCTION_RATE_LIMITS);
    expect(r.json.sessionList).toEqual({ perSecond: 5, perMinute: 10, perHour: 60 }); // limity-api.md, "Pobranie listy sesji"
    expect((await env.client.call('GET', '/rate-limits')).status).toBe(401);
  });

  it('returns ten times the production values with the test-environment profile, and int32 maximum when off', async () => {
    const env = await start({ rateLimits: 'test' });
    const t = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
    const r = await env.client.call<Limits>('GET', '/rate-limits', { token: t.accessToken });
    expect(r.json.invoiceSend).toEqual({ perSecond: 100, perMinute: 300, perHour: 1800 });
    env.emu.admin.limits.setProfile('off');
    const off = await env.client.call<Limits>('GET', '/rate-limits', { token: t.accessToken });
    expect(off.json.invoiceSend).toEqual({ perSecond: 2147483647, perMinute: 2147483647, perHour: 2147483647 });
  });
});

describe('windows over HTTP (production profile)', () => {
  it('per second: the 6th GET /sessions in one second gets 429 with the documented body and Retry-After', async () => {
    const env = await start({ rateLimits: 'production' });
    const t = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
    for (let i = 0; i < 5; i++) expect((await listSessions(env.client, t.accessToken)).status).toBe(200);
    const r = await listSessions(env.client, t.accessToken);
    expect(r.status).toBe(429);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(r.json.status.code).toBe(429);
    expect(r.json.status.description).toBe('Too Many Requests');
    expect(r.json.status.details).toEqual(['Przekroczono limit 5 żądań na sekundę. Spróbuj ponownie po 1 sekundzie.']);
    advance(1000);
    expect((await listSessions(env.client, t.accessToken)).status).toBe(200);
  });

  it('per minute: sliding window; Retry-After counts down to when the oldest request leaves it', async () => {
    const env = await start({ rateLimits: 'production' });
    const t = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
    for (let i = 0; i < 10; i++) {
      expect((await listSessions(env.client, t.accessToken)).status).toBe(200);
      advance(500); // 2/s: under 5/s; ten of them in 5 s
    }
    const r = await listSessions(env.client, t.accessToken);
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('55');
    expect(r.json.status.details[0]).toBe('Przekroczono limit 10 żądań na minutę. Spróbuj ponownie po 55 sekundach.');
    advance(55_000);
    expect((await listSessions(env.client, t.accessToken)).status).toBe(200);
  });

  it('per hour, with time scaled 1/60 (the hour window lasts a minute, Retry-After in real seconds)', async () => {
    const env = await start({ rateLimits: 'production', rateLimitsScale: 1 / 60 });
    const t = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
    for (let i = 0; i < 60; i++) {
      expect((await listSessions(env.client, t.accessToken)).status).toBe(200);
      advance(150); // ~6.7 per scaled minute (1 s): under 10/min
    }
    const r = await listSessions(env.client, t.accessToken); // 9 s after the first of 60
    expect(r.status).toBe(429);
    expect(r.json.status.details[0]).toMatch(/^Przekroczono limit 60 żądań na godzinę\./);
    expect(r.headers.get('retry-after')).toBe('51');
    advance(51_000);
    expect((await listSessions(env.client, t.accessToken)).status).toBe(200);
  });

  it('Retry-After grows on repeated violations (doubling), for a client that keeps trying and for one that comes back', async () => {
    const env = await start({ rateLimits: 'production' });
    const t = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
    for (let i = 0; i < 5; i++) await listSessions(env.client, t.accessToken);
    const retries: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await listSessions(env.client, t.accessToken);
      expect(r.status).toBe(429);
      retries.push(Number(r.headers.get('retry-after')));
    }
    expect(retries).toEqual([1, 2, 4, 8]);
    advance(8_000); // waits as told
    for (let i = 0; i < 5; i++) expect((await listSessions(env.client, t.accessToken)).status).toBe(200);
    // the 11th request within the minute: the minute window admits one again in 52 s; 5th violation: 52 s x 2^4
    const again = await listSessions(env.client, t.accessToken);
    expect(again.status).toBe(429);
    expect(again.json.status.details[0]).toMatch(/^Przekroczono limit 10 żądań na minutę\. Spróbuj ponownie po 832 sekundach\.$/);
    expect(Number(again.headers.get('retry-after'))).toBe(832);
  });

  it('answers TooManyRequestsProblemDetails with X-Error-Format: problem-details', async () => {
    const env = await start({ rateLimits: 'production' });
    const t = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
    for (let i = 0; i < 5; i++) await listSessions(env.client, t.accessToken);
    const r = await env.client.call<{ title: string; status: number; detail: string; instance: string }>('GET', '/sessions', {
      token: t.accessToken,
      query: { sessionType: 'Online' },
      headers: { 'x-error-format': 'problem-details' },
    });
    expect(r.status).toBe(429);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(r.json).toMatchObject({ title: 'Too Many Requests', status: 429, instance: '/v2/sessions' });
    expect(r.json.detail).toContain('5 żądań na sekundę');
  });

  it('limits public operations to 60 requests per second per IP address (POST /auth/challenge)', async () => {
    const env = await start({ rateLimits: 'production' });
    for (let i = 0; i < 60; i++) expect((await env.client.call('POST', '/auth/challenge')).status).toBe(200);
    const r = await env.client.call<TooMany>('POST', '/auth/challenge');
    expect(r.status).toBe(429);
    expect(r.json.status.details[0]).toContain('60 żądań na sekundę');
    advance(1000);
    expect((await env.client.call('POST', '/auth/challenge')).status).toBe(200);
  });
});

describe('what is counted together', () => {
  it('counts each context separately, each operation separately, and each client IP address separately', async () => {
    const env = await start({ rateLimits: 'production' });
    const seller = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
    const other = await env.client.authenticate(OTHER_NIP, OTHER_TOKEN);
    for (let i = 0; i < 5; i++) await listSessions(env.client, seller.accessToken);
    expect((await listSessions(env.client, seller.accessToken)).status).toBe(429);
    // another context from the same address
    expect((await listSessions(env.client, other.accessToken)).status).toBe(200);
    // another operation in the same context ("każdy taki endpoint posiada własny licznik limitów")
    expect((await env.client.call('GET', '/rate-limits', { token: seller.accessToken })).status).toBe(200);
    // the same context from another IP address (limity-api.md: biuro A from IP1, firma B from IP2)
    const url = `${env.emu.url}/v2/sessions?sessionType=Online`;
    const fromOtherIp = await requestFrom('127.0.0.2', url, seller.accessToken);
    expect(fromOtherIp.status).toBe(200);
    const fromSameIp = await requestFrom('127.0.0.1', url, seller.accessToken);
    expect(fromSameIp.status).toBe(429);
    expect(Number(fromSameIp.retryAfter)).toBeGreaterThanOrEqual(1);
  });
});

describe('profiles and switching at run time', () => {
  it('off (the default) limits nothing', async () => {
    const env = await start();
    const t = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
    for (let i = 0; i < 30; i++) expect((await listSessions(env.client, t.accessToken)).status).toBe(200);
    for (let i = 0; i < 70; i++) expect((await env.client.call('POST', '/auth/challenge')).status).toBe(200);
  });

  it('POST /testdata/rate-limits sets the context’s own values (even when off), DELETE restores the defaults', async () => {
    const env = await start();
    const t = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
    const other = await env.client.authenticate(OTHER_NIP, OTHER_TOKEN);
    const own: Limits = { ...PRODUCTION_RATE_LIMITS, sessionList: { perSecond: 2, perMinute: 3, perHour: 4 } };
    expect((await env.client.call('POST', '/testdata/rate-limits', { token: t.accessToken, body: { rateLimits: own } })).status).toBe(200);
    expect((await env.client.call<Limits>('GET', '/rate-limits', { token: t.accessToken })).json).toEqual(own);
    expect((await listSessions(env.client, t.accessToken)).status).toBe(200);
    expect((await listSessions(env.client, t.accessToken)).status).toBe(200);
    const r = await listSessions(env.client, t.accessToken);
    expect(r.status).toBe(429);
    expect(r.json.status.details[0]).toContain('2 żądań na sekundę');
    // the other context keeps the profile (off)
    for (let i = 0; i < 10; i++) expect((await listSessions(env.client, other.accessToken)).status).toBe(200);

    expect((await env.client.call('DELETE', '/testdata/rate-limits', { token: t.accessToken })).status).toBe(200);
    advance(60 * 60_000);
    for (let i = 0; i < 10; i++) expect((await listSessions(env.client, t.accessToken)).status).toBe(200);
    expect((await env.client.call<Limits>('GET', '/rate-limits', { token: t.accessToken })).json.sessionList.perSecond).toBe(2147483647);
  });

  it('POST /testdata/rate-limits/production switches the context to production values; they survive a restart', async () => {
    const dir = fs.mkdtempSync('/tmp/ksef-limits-');
    const dbPath = `${dir}/emu.db`;
    try {
      const env = await start({ dbPath, rateLimits: 'test' });
      const t = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
      expect((await env.client.call<Limits>('GET', '/rate-limits', { token: t.accessToken })).json.sessionList.perSecond).toBe(50);
      expect((await env.client.call('POST', '/testdata/rate-limits/production', { token: t.accessToken })).status).toBe(200);
      expect((await env.client.call<Limits>('GET', '/rate-limits', { token: t.accessToken })).json).toEqual(PRODUCTION_RATE_LIMITS);
      for (let i = 0; i < 5; i++) expect((await listSessions(env.client, t.accessToken)).status).toBe(200);
      expect((await listSessions(env.client, t.accessToken)).status).toBe(429);
      await running.splice(0)[0]?.emu.close();

      const again = await start({ dbPath, rateLimits: 'test' });
      const t2 = await again.client.authenticate(SELLER_NIP, SELLER_TOKEN);
      expect((await again.client.call<Limits>('GET', '/rate-limits', { token: t2.accessToken })).json).toEqual(PRODUCTION_RATE_LIMITS);
    } finally {
      for (const e of running.splice(0)) await e.emu.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects values that do not fit the contract (21405) or are not positive', async () => {
    const env = await start();
    const t = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
    const missing = await env.client.call<{ exception: { exceptionDetailList: { exceptionCode: number }[] } }>('POST', '/testdata/rate-limits', {
      token: t.accessToken,
      body: { rateLimits: { other: { perSecond: 1, perMinute: 1, perHour: 1 } } },
    });
    expect(missing.status).toBe(400);
    expect(missing.json.exception.exceptionDetailList[0]?.exceptionCode).toBe(21405);
    const zero = await env.client.call<{ exception: { exceptionDetailList: { exceptionCode: number; details?: string[] }[] } }>('POST', '/testdata/rate-limits', {
      token: t.accessToken,
      body: { rateLimits: { ...PRODUCTION_RATE_LIMITS, invoiceSend: { perSecond: 0, perMinute: 1, perHour: 1 } } },
    });
    expect(zero.status).toBe(400);
    expect(zero.json.exception.exceptionDetailList[0]?.exceptionCode).toBe(21405);
    expect(zero.json.exception.exceptionDetailList[0]?.details?.join(' ')).toContain('invoiceSend.perSecond');
    expect((await env.client.call('POST', '/testdata/rate-limits', { body: { rateLimits: PRODUCTION_RATE_LIMITS } })).status).toBe(401);
  });

  it('switches profile and scale through /emulator/admin/limits, and forgets counters on request', async () => {
    const env = await start();
    const t = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
    const admin = (method: string, path: string, body?: unknown) =>
      fetch(`${env.emu.url}/emulator/admin/limits${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const put = await admin('PUT', '', { profile: 'production' });
    expect(put.status).toBe(200);
    expect(((await put.json()) as { profile: string }).profile).toBe('production');
    for (let i = 0; i < 5; i++) await listSessions(env.client, t.accessToken);
    expect((await listSessions(env.client, t.accessToken)).status).toBe(429);
    const state = (await (await admin('GET', '')).json()) as { blocked: { key: string }[]; scale: number };
    expect(state.blocked.map((b) => b.key)).toEqual([`${SELLER_NIP}|127.0.0.1|GET /sessions`]);
    expect(state.scale).toBe(1);
    expect((await admin('DELETE', '/counters')).status).toBe(204);
    expect((await listSessions(env.client, t.accessToken)).status).toBe(200);

    expect((await admin('PUT', '', { profile: 'fast' })).status).toBe(400);
    expect((await admin('PUT', '', { scale: 0 })).status).toBe(400);
    expect(((await (await admin('PUT', '', { scale: 0.5 })).json()) as { scale: number }).scale).toBe(0.5);
    expect((await admin('PUT', '', { profile: 'off' })).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await listSessions(env.client, t.accessToken)).status).toBe(200);
    // admin endpoints themselves are never limited
    for (let i = 0; i < 100; i++) expect((await admin('GET', '')).status).toBe(200);
  });

  it('refuses bad rate-limit options at start and in the config file', async () => {
    await expect(startEmulator({ logger: null, rateLimits: 'fast' as 'off' })).rejects.toMatchObject({ code: 'EMULATOR_RATE_LIMITS_INVALID' });
    await expect(startEmulator({ logger: null, rateLimitsScale: 0 })).rejects.toMatchObject({ code: 'EMULATOR_RATE_LIMITS_INVALID' });
    const dir = fs.mkdtempSync('/tmp/ksef-limits-cfg-');
    try {
      fs.writeFileSync(`${dir}/a.json`, JSON.stringify({ rateLimits: 'prod' }));
      expect(() => loadEmulatorConfig(`${dir}/a.json`)).toThrow(/rateLimits/);
      fs.writeFileSync(`${dir}/b.json`, JSON.stringify({ rateLimitsScale: 'fast' }));
      expect(() => loadEmulatorConfig(`${dir}/b.json`)).toThrow(/rateLimitsScale/);
      fs.writeFileSync(`${dir}/c.json`, JSON.stringify({ rateLimits: 'test', rateLimitsScale: 0.1 }));
      expect(loadEmulatorConfig(`${dir}/c.json`)).toMatchObject({ rateLimits: 'test', rateLimitsScale: 0.1 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('contract checker sanity', () => {
  it('would catch a 429 body in the wrong shape', () => {
    expect(checkResponse('GET', '/sessions', 429, 'application/json', { status: { code: 429 } }).ok).toBe(false);
    expect(checkResponse('GET', '/sessions', 429, 'application/json', { status: { code: 429, description: 'Too Many Requests', details: ['x'] } }).ok).toBe(true);
  });
});
