import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/index.js';
import { KsefTestClient } from './helpers/client.js';
import { fa3Invoice } from './helpers/fa3.js';
import { FORM_CODE, SELLER_NIP, SELLER_TOKEN, polishDate, startTestEmulator, uniqueNumber, type TestEnv } from './helpers/setup.js';

let env: TestEnv;
beforeAll(async () => {
  env = await startTestEmulator({ fakeClock: true, accessTokenTtlSec: 24 * 3600 });
});
afterAll(async () => env.emu.close());

const admin = (method: string, path: string, body?: unknown) =>
  fetch(`${env.emu.url}/emulator/admin${path}`, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });

describe('fault injection', () => {
  it('answers a chosen endpoint with a 5xx, a given number of times', async () => {
    const r = await admin('POST', '/faults', { kind: 'error', method: 'POST', path: '/auth/challenge', status: 503, times: 2 });
    expect(r.status).toBe(201);
    const first = await env.client.call('POST', '/auth/challenge', { noContract: true });
    expect(first.status).toBe(503);
    expect(first.headers.get('content-type')).toContain('application/problem+json');
    expect((await env.client.call('POST', '/auth/challenge', { noContract: true })).status).toBe(503);
    expect((await env.client.call('POST', '/auth/challenge')).status).toBe(200);
    // other endpoints were never affected
    expect((await env.client.call('GET', '/security/public-key-certificates')).status).toBe(200);
  });

  it('matches route patterns with parameters and can be removed', async () => {
    const t = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
    const rule = (await (await admin('POST', '/faults', { kind: 'error', path: '/sessions/{referenceNumber}' })).json()) as { id: string };
    const r = await env.client.call('GET', '/sessions/{referenceNumber}', { params: { referenceNumber: '20250101-SO-0000000000-0000000000-00' }, token: t.accessToken, noContract: true });
    expect(r.status).toBe(500);
    const list = (await (await admin('GET', '/faults')).json()) as { rules: { id: string; hits: number }[] };
    expect(list.rules.find((x) => x.id === rule.id)?.hits).toBe(1);
    expect((await admin('DELETE', `/faults/${rule.id}`)).status).toBe(204);
    const after = await env.client.call('GET', '/sessions/{referenceNumber}', { params: { referenceNumber: '20250101-SO-0000000000-0000000000-00' }, token: t.accessToken });
    expect(after.status).toBe(400);
  });

  it('drops the connection without an answer', async () => {
    await admin('POST', '/faults', { kind: 'drop', path: '/v2/security/*', times: 1 });
    await expect(fetch(`${env.emu.url}/v2/security/public-key-certificates`)).rejects.toThrow();
    expect((await env.client.call('GET', '/security/public-key-certificates')).status).toBe(200);
  });

  it('slows responses down', async () => {
    const rule = env.emu.admin.faults.addRule({ kind: 'delay', path: '/security/public-key-certificates', delayMs: 1500, times: 1 });
    const order: string[] = [];
    const slow = env.client.call('GET', '/security/public-key-certificates').then((r) => order.push(`slow ${r.status}`));
    // the slow call is held once its rule has fired (a rule with `times: 1` is then removed)
    while (env.emu.admin.faults.rules().some((r) => r.id === rule.id)) await new Promise((r) => setTimeout(r, 5));
    const fast = env.client.call('POST', '/auth/challenge').then((r) => order.push(`fast ${r.status}`));
    await Promise.all([slow, fast]);
    // the delayed call was sent first and answered last, and still answered normally
    expect(order).toEqual(['fast 200', 'slow 200']);
  });

  it('answers with a chosen KSeF exception, e.g. 21184 "Sesja tymczasowo niedostępna."', async () => {
    env.emu.admin.faults.addRule({
      kind: 'error',
      status: 400,
      path: '/sessions/online/{referenceNumber}/invoices',
      exceptionCode: 21184,
      exceptionDescription: 'Sesja tymczasowo niedostępna.',
      times: 1,
    });
    const t = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
    const enc = env.client.newEncryption();
    const open = await env.client.call<{ referenceNumber: string }>('POST', '/sessions/online', { token: t.accessToken, body: { formCode: FORM_CODE, encryption: enc.encryption } });
    const r = await env.client.call<{ exception: { exceptionDetailList: { exceptionCode: number }[] } }>('POST', '/sessions/online/{referenceNumber}/invoices', {
      params: { referenceNumber: open.json.referenceNumber },
      token: t.accessToken,
      body: KsefTestClient.invoiceBody(enc.key, enc.iv, fa3Invoice({ sellerNip: SELLER_NIP, number: uniqueNumber('S'), issueDate: polishDate(0) })),
    });
    expect(r.status).toBe(400);
    expect(r.json.exception.exceptionDetailList[0]?.exceptionCode).toBe(21184);
  });

  it('rejects malformed rules', async () => {
    expect((await admin('POST', '/faults', { kind: 'explode' })).status).toBe(400);
    expect((await admin('POST', '/faults', { kind: 'error', status: 200 })).status).toBe(400);
  });

  it('announces maintenance in X-System-Warning, then answers 503 with Retry-After, then recovers', async () => {
    const now = Date.now();
    const put = await admin('PUT', '/maintenance', {
      announceFrom: new Date(now - 60_000).toISOString(),
      from: new Date(now + 3_600_000).toISOString(),
      to: new Date(now + 7_200_000).toISOString(),
    });
    expect(put.status).toBe(200);
    const before = await env.client.call('POST', '/auth/challenge');
    expect(before.status).toBe(200);
    expect(before.headers.get('x-system-warning')).toMatch(/^\[maintenance\]: /);

    env.advance(3_600_000 + 1000);
    const during = await env.client.call('POST', '/auth/challenge', { noContract: true });
    expect(during.status).toBe(503);
    const retryAfter = Number(during.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(3000);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    // the emulator's own admin endpoints keep working
    expect((await admin('GET', '/faults')).status).toBe(200);

    env.advance(3_600_000);
    expect((await env.client.call('POST', '/auth/challenge')).status).toBe(200);
    expect((await admin('DELETE', '/maintenance')).status).toBe(204);
  });

  it('changes the processing delay at run time', async () => {
    const put = await admin('PUT', '/processing', { delayMs: 60_000 });
    expect(put.status).toBe(200);
    const t = await env.client.authenticate(SELLER_NIP, SELLER_TOKEN);
    const enc = env.client.newEncryption();
    const open = await env.client.call<{ referenceNumber: string }>('POST', '/sessions/online', { token: t.accessToken, body: { formCode: FORM_CODE, encryption: enc.encryption } });
    const sent = await env.client.call<{ referenceNumber: string }>('POST', '/sessions/online/{referenceNumber}/invoices', {
      params: { referenceNumber: open.json.referenceNumber },
      token: t.accessToken,
      body: KsefTestClient.invoiceBody(enc.key, enc.iv, fa3Invoice({ sellerNip: SELLER_NIP, number: uniqueNumber('F'), issueDate: polishDate(0) })),
    });
    const args = { params: { referenceNumber: open.json.referenceNumber, invoiceReferenceNumber: sent.json.referenceNumber }, token: t.accessToken };
    const st = await env.client.call<{ status: { code: number } }>('GET', '/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}', args);
    expect(st.json.status.code).toBe(100);
    await admin('PUT', '/processing', { delayMs: 0 });
    env.advance(60_001);
    env.emu.admin.faults.setProcessingDelay(0);
    await env.client.call('POST', '/sessions/online/{referenceNumber}/close', { params: { referenceNumber: open.json.referenceNumber }, token: t.accessToken });
    const final = await env.client.waitSession(open.json.referenceNumber, t.accessToken);
    expect(final.status.code).toBe(200);
  });

  it('echoes X-Test-System-Warning as X-System-Warning', async () => {
    const r = await env.client.call('POST', '/auth/challenge', { headers: { 'x-test-system-warning': '[W001]: test warning' } });
    expect(r.headers.get('x-system-warning')).toBe('[W001]: test warning');
  });
});

describe('faults from options', () => {
  it('starts with a maintenance window and refuses invalid configuration', async () => {
    const emu = await startEmulator({ logger: null, faults: { maintenance: { to: new Date(Date.now() + 60_000).toISOString() } } });
    try {
      const r = await fetch(`${emu.url}/v2/auth/challenge`, { method: 'POST' });
      expect(r.status).toBe(503);
      emu.admin.faults.setMaintenance(null);
      expect((await fetch(`${emu.url}/v2/auth/challenge`, { method: 'POST' })).status).toBe(200);
    } finally {
      await emu.close();
    }
    await expect(startEmulator({ logger: null, faults: { rules: [{ kind: 'error', status: 99 }] } })).rejects.toThrow(/faults/);
  });
});

describe('extension points', () => {
  it('lets an extension answer 429 in the contract shape (for the rate-limit module)', async () => {
    const { tooManyRequests, renderError } = await import('../../src/emulator/http/errors.js');
    const emu = await startEmulator({
      logger: null,
      extensions: [
        (api) =>
          api.addInterceptor((req) => {
            if (req.path !== '/v2/auth/challenge') return null;
            const r = renderError(tooManyRequests(30, 'Przekroczono limit 60 żądań na sekundę.'), req.path, req.problemFormat, req.now);
            return { status: r.status, json: r.body, contentType: r.contentType, headers: r.headers };
          }),
      ],
    });
    try {
      const c = new KsefTestClient(emu.url);
      const r = await c.call<{ status: { code: number } }>('POST', '/auth/challenge');
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe('30');
      expect(r.json.status.code).toBe(429);
      const p = await c.call('POST', '/auth/challenge', { headers: { 'x-error-format': 'problem-details' } });
      expect(p.status).toBe(429);
      expect(p.headers.get('content-type')).toContain('application/problem+json');
    } finally {
      await emu.close();
    }
  });
});
