/**
 * The transport's error mapping, with fetch replaced by a function that returns canned Responses
 * (unit level; the real HTTP path is covered by the emulator integration tests).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RETRY_POLICY,
  HttpTransport,
  KsefApiError,
  KsefRateLimitError,
  KsefTransientError,
  RateLimiter,
  parseRetryAfter,
  retrySafe,
} from '../../src/ksef/index.js';
import { ManualClock } from './manual-clock.js';

const SECRET_TOKEN = 'eyJSECRET.access.token';

function transport(answer: (url: string, init: RequestInit) => Response | Promise<Response>, clock = new ManualClock()) {
  const limiter = RateLimiter.createSync({ context: '5265877635', clock });
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const t = new HttpTransport({
    baseUrl: 'http://ksef.invalid/v2/',
    limiter,
    timeoutMs: 50,
    fetch: (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return answer(url, init);
    }) as typeof fetch,
  });
  return { t, limiter, calls, clock };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('HttpTransport', () => {
  it('builds URLs from the template, sends the bearer token and JSON', async () => {
    const { t, calls } = transport(() => json(200, { ok: true }));
    const r = await t.request<{ ok: boolean }>({
      method: 'POST',
      template: '/sessions/online/{referenceNumber}/invoices',
      params: { referenceNumber: 'A/B' },
      query: { pageSize: 10, statuses: ['InProgress', 'Failed'] },
      bearer: SECRET_TOKEN,
      json: { a: 1 },
    });
    expect(r.body.ok).toBe(true);
    expect(calls[0]!.url).toBe('http://ksef.invalid/v2/sessions/online/A%2FB/invoices?pageSize=10&statuses=InProgress&statuses=Failed');
    const h = calls[0]!.init.headers as Record<string, string>;
    expect(h.Authorization).toBe(`Bearer ${SECRET_TOKEN}`);
    expect(h['Content-Type']).toBe('application/json');
    expect(calls[0]!.init.body).toBe('{"a":1}');
  });

  it('turns an ExceptionResponse into KsefApiError KSEF_<code> with description, details and reference number', async () => {
    const { t } = transport(() =>
      json(400, {
        exception: {
          exceptionDetailList: [{ exceptionCode: 21405, exceptionDescription: 'Błąd walidacji danych wejściowych.', details: ['invoiceHash: bad length'] }],
          serviceCode: 'svc-1',
        },
      }),
    );
    const e = (await caught(
      t.request({ method: 'POST', template: '/sessions/online/{referenceNumber}/invoices', params: { referenceNumber: 'REF-1' }, bearer: SECRET_TOKEN, referenceNumber: 'REF-1' }),
    )) as KsefApiError;
    expect(e).toBeInstanceOf(KsefApiError);
    expect(e.code).toBe('KSEF_21405');
    expect(e.ksefCode).toBe(21405);
    expect(e.context.ksefCode).toBe(21405);
    expect(e.description).toBe('Błąd walidacji danych wejściowych.');
    expect(e.details).toEqual(['invoiceHash: bad length']);
    expect(e.referenceNumber).toBe('REF-1');
    expect(e.traceId).toBe('svc-1');
    expect(e.status).toBe(400);
    expect(e.delivery).toBe('rejected');
    expect(e.message).toContain('21405');
    expect(e.message).not.toContain(SECRET_TOKEN);
    expect(JSON.stringify(e.toJSON())).not.toContain(SECRET_TOKEN);
  });

  it('reads problem-details bodies too', async () => {
    const { t } = transport(() =>
      json(400, { title: 'Bad Request', status: 400, detail: 'x', errors: [{ code: 21157, description: 'Nieprawidłowy rozmiar części pakietu.', details: ['part 1'] }], traceId: 'tr' }),
    );
    const e = (await caught(t.request({ method: 'POST', template: '/sessions/batch' }))) as KsefApiError;
    expect(e.code).toBe('KSEF_21157');
    expect(e.details).toEqual(['part 1']);
    expect(e.traceId).toBe('tr');
  });

  it('falls back to KSEF_HTTP_<status> without a code (401/403 problem details)', async () => {
    const { t } = transport(() => json(403, { title: 'Forbidden', status: 403, detail: 'Brak uprawnień', reasonCode: 'missing-permissions' }));
    const e = (await caught(t.request({ method: 'GET', template: '/sessions/{referenceNumber}', params: { referenceNumber: 'R' } }))) as KsefApiError;
    expect(e.code).toBe('KSEF_HTTP_403');
    expect(e.description).toBe('Brak uprawnień');
    expect(e.details).toEqual(['reasonCode: missing-permissions']);
  });

  it('429 pauses the endpoint group for Retry-After seconds and throws KsefRateLimitError', async () => {
    const { t, limiter, clock } = transport(() =>
      json(429, { status: { code: 429, description: 'Too Many Requests', details: ['Przekroczono limit 30 żądań na minutę.'] } }, { 'retry-after': '30' }),
    );
    const e = (await caught(t.request({ method: 'POST', template: '/sessions/online/{referenceNumber}/invoices', params: { referenceNumber: 'R' } }))) as KsefRateLimitError;
    expect(e).toBeInstanceOf(KsefRateLimitError);
    expect(e.code).toBe('KSEF_HTTP_429');
    expect(e.retryAfterSeconds).toBe(30);
    expect(e.group).toBe('invoiceSend');
    expect(limiter.pausedUntilMs('invoiceSend')).toBe(clock.now() + 30_000);
    expect(limiter.pausedUntilMs('onlineSession')).toBeUndefined();
  });

  it('5xx is a transient error whose outcome is unknown', async () => {
    const { t } = transport(() => new Response('maintenance', { status: 503, headers: { 'retry-after': '120' } }));
    const e = (await caught(t.request({ method: 'GET', template: '/sessions/{referenceNumber}', params: { referenceNumber: 'R' } }))) as KsefTransientError;
    expect(e).toBeInstanceOf(KsefTransientError);
    expect(e.code).toBe('KSEF_HTTP_503');
    expect(e.kind).toBe('server');
    expect(e.delivery).toBe('unknown');
    expect(e.retryAfterSeconds).toBe(120);
    expect(e.description).toBe('maintenance');
  });

  it('a refused connection is transient and known not to have reached KSeF', async () => {
    const { t } = transport(() => {
      throw Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    });
    const e = (await caught(t.request({ method: 'POST', template: '/auth/challenge' }))) as KsefTransientError;
    expect(e.code).toBe('KSEF_NETWORK');
    expect(e.delivery).toBe('not-sent');
  });

  it('a request without an answer within the timeout is KSEF_TIMEOUT with unknown outcome', async () => {
    const { t } = transport(
      (_url, init) =>
        new Promise<Response>((_, reject) => {
          init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
        }),
    );
    const e = (await caught(t.request({ method: 'POST', template: '/sessions/online/{referenceNumber}/invoices', params: { referenceNumber: 'R' }, bearer: SECRET_TOKEN }))) as KsefTransientError;
    expect(e.code).toBe('KSEF_TIMEOUT');
    expect(e.kind).toBe('timeout');
    expect(e.delivery).toBe('unknown');
    expect(e.message).not.toContain(SECRET_TOKEN);
  });

  it('checks a UPO against its x-ms-meta-hash and retries a corrupted download', async () => {
    const xml = '<Potwierdzenie/>';
    const good = createHash('sha256').update(xml).digest('base64');
    let n = 0;
    const { t } = transport(() => new Response(++n === 1 ? '<Potwierdzenie/ >' : xml, { status: 200, headers: { 'content-type': 'application/xml', 'x-ms-meta-hash': good } }));
    const req = { method: 'GET' as const, template: '/sessions/{referenceNumber}/upo/{upoReferenceNumber}', params: { referenceNumber: 'R', upoReferenceNumber: 'U' }, responseType: 'text' as const };
    const e = (await caught(t.request(req))) as KsefTransientError;
    expect(e.code).toBe('KSEF_HASH_MISMATCH');
    const r = await retrySafe(() => t.request<string>(req), { ...DEFAULT_RETRY_POLICY, minTimeoutMs: 1, maxTimeoutMs: 2 });
    expect(r.body).toBe(xml);
  });

  it('reports X-System-Warning entries to the request observer', async () => {
    const events: Array<{ warnings?: unknown; status?: number; errorCode?: string }> = [];
    const limiter = RateLimiter.createSync({ context: '5265877635', clock: new ManualClock() });
    const t = new HttpTransport({
      baseUrl: 'http://ksef.invalid/v2',
      limiter,
      onRequest: (e) => events.push(e),
      fetch: (async () => json(200, {}, { 'x-system-warning': '[MAINT]: Prace serwisowe 16:00-18:00 | [X1]: inne' })) as typeof fetch,
    });
    await t.request({ method: 'POST', template: '/auth/challenge' });
    expect(events[0]).toMatchObject({
      status: 200,
      errorCode: undefined,
      warnings: [
        { code: 'MAINT', message: 'Prace serwisowe 16:00-18:00' },
        { code: 'X1', message: 'inne' },
      ],
    });
  });

  it('parses Retry-After in seconds or as an HTTP date', () => {
    expect(parseRetryAfter('12', 0)).toBe(12);
    expect(parseRetryAfter(new Date(60_000).toUTCString(), 0)).toBe(60);
    expect(parseRetryAfter(null, 0)).toBeUndefined();
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
  });
});

describe('retrySafe', () => {
  const fast = { ...DEFAULT_RETRY_POLICY, minTimeoutMs: 1, maxTimeoutMs: 2 };

  it('retries transient failures and then succeeds', async () => {
    let n = 0;
    const { t } = transport(() => (++n < 3 ? new Response('', { status: 502 }) : json(200, { n })));
    const r = await retrySafe(() => t.request<{ n: number }>({ method: 'GET', template: '/sessions/{referenceNumber}', params: { referenceNumber: 'R' } }), fast);
    expect(r.body.n).toBe(3);
  });

  it('does not retry a 4xx answer', async () => {
    let n = 0;
    const { t } = transport(() => {
      n++;
      return json(400, { exception: { exceptionDetailList: [{ exceptionCode: 21173 }] } });
    });
    await expect(retrySafe(() => t.request({ method: 'GET', template: '/sessions/{referenceNumber}', params: { referenceNumber: 'R' } }), fast)).rejects.toMatchObject({
      code: 'KSEF_21173',
    });
    expect(n).toBe(1);
  });

  it('gives up after the configured number of retries', async () => {
    let n = 0;
    const { t } = transport(() => {
      n++;
      return new Response('', { status: 500 });
    });
    await expect(retrySafe(() => t.request({ method: 'GET', template: '/sessions/{referenceNumber}', params: { referenceNumber: 'R' } }), { ...fast, retries: 2 })).rejects.toBeInstanceOf(
      KsefTransientError,
    );
    expect(n).toBe(3);
  });
});
