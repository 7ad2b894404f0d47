/**
 * The KSeF client against the KSeF emulator over real HTTP on 127.0.0.1: authentication, refresh and
 * re-authentication, interactive and batch sessions (ZIP and tar.gz, several parts), statuses with
 * paging, UPOs (valid against the official UPO XSD), duplicates and rejections, 429 and 5xx handling.
 */
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorExtension, type RunningEmulator } from '../../src/emulator/index.js';
import {
  InMemoryRateLimitStateStore,
  KsefApiError,
  KsefClient,
  KsefRateLimitError,
  KsefStatusError,
  KsefTransientError,
  isValidKsefNumber,
  systemClock,
  parseUpo,
} from '../../src/ksef/index.js';
import { getXsdValidator } from '../../src/schemas/index.js';
import { Secret } from '../../src/log/secret.js';
import { fa3Invoice, sha256b64, SELLER_NIP } from './fixtures.js';

const TOKEN = 'test-ksef-token-5265877635-0123456789abcdef';
const fast = { minTimeoutMs: 20, maxTimeoutMs: 200 };

let emu: RunningEmulator;
/** Interceptor hooks the tests switch on and off. */
const faults: {
  status429: number;
  status503: number;
  rejectKey: Set<string>;
  keyFetches: number;
  seen: Array<{ path: string; at: number; status: number }>;
  sends: number[];
  sendFailures: number;
  status401: number;
} = {
  status401: 0,
  sendFailures: 0,
  sends: [],
  status429: 0,
  status503: 0,
  rejectKey: new Set(),
  keyFetches: 0,
  seen: [],
};
const upoValidator = getXsdValidator('upo');

function client(extra: Partial<ConstructorParameters<typeof KsefClient>[0]> = {}): KsefClient {
  return new KsefClient({
    nip: SELLER_NIP,
    ksefToken: new Secret(TOKEN),
    environment: 'test',
    baseUrl: `${emu.url}/v2`,
    retry: fast,
    ...extra,
  });
}

beforeAll(async () => {
  emu = await startEmulator({
    tokens: [{ nip: SELLER_NIP, token: TOKEN }],
    logger: null,
    extensions: [
      ((api) =>
        api.addInterceptor((req) => {
          if (req.method === 'GET' && req.route === '/v2/security/public-key-certificates') faults.keyFetches++;
          if (req.method === 'POST' && req.route === '/v2/sessions/online/{referenceNumber}/invoices') {
            faults.sends.push(Date.now());
            if (faults.sendFailures > 0) {
              faults.sendFailures--;
              return { status: 503, json: { status: { code: 503, description: 'Service Unavailable' } } };
            }
          }
          if (req.method === 'POST' && faults.rejectKey.delete(req.route)) {
            // as KSeF answers after an emergency key rotation (klucze-publiczne-do-szyfrowania.md 4.3)
            return {
              status: 400,
              json: {
                exception: {
                  exceptionDetailList: [
                    { exceptionCode: 21470, exceptionDescription: 'Przesłany identyfikator klucza jest nieznany lub wskazuje na wycofany klucz.' },
                  ],
                },
              },
            };
          }
          if (req.method === 'GET' && req.route === '/v2/sessions/{referenceNumber}') {
            if (faults.status401 > 0) {
              faults.status401--;
              return { status: 401, json: { title: 'Unauthorized', status: 401, detail: 'Token wygasł.' }, contentType: 'application/problem+json' };
            }
            if (faults.status429 > 0) {
              faults.status429--;
              faults.seen.push({ path: req.path, at: Date.now(), status: 429 });
              return {
                status: 429,
                json: { status: { code: 429, description: 'Too Many Requests', details: ['Przekroczono limit. Spróbuj ponownie po 1 sekundach.'] } },
                headers: { 'Retry-After': '1' },
              };
            }
            if (faults.status503 > 0) {
              faults.status503--;
              faults.seen.push({ path: req.path, at: Date.now(), status: 503 });
              return { status: 503, json: { status: { code: 503, description: 'Service Unavailable' } } };
            }
            faults.seen.push({ path: req.path, at: Date.now(), status: 200 });
          }
          return null;
        })) satisfies EmulatorExtension,
    ],
  });
});

afterAll(async () => {
  await emu?.admin.idle();
  await emu?.close();
});

describe('authentication with a KSeF token', () => {
  it('authenticates (challenge, encrypted token, status polling, redeem) and keeps tokens in memory', async () => {
    const c = client();
    await c.authenticate();
    const st = c.auth.state;
    expect(st.authenticated).toBe(true);
    expect(st.authentications).toBe(1);
    expect(st.referenceNumber).toHaveLength(36);
    expect(st.accessTokenValidUntil).toBeGreaterThan(Date.now());
    expect(st.refreshTokenValidUntil).toBeGreaterThan(st.accessTokenValidUntil!);
    expect(JSON.stringify(st)).not.toContain('eyJ');
  });

  it('never shows a token or a session key when the client, its auth or a session is printed', async () => {
    const c = client();
    const s = await c.openOnlineSession();
    const access = await c.auth.accessToken();
    const secrets = [TOKEN, access, s.key.key.toString('base64'), s.key.key.toString('hex')];
    const printed = [
      inspect(c, { depth: 20, showHidden: true }),
      inspect(c.auth, { depth: 20, showHidden: true }),
      inspect(s, { depth: 20 }),
      JSON.stringify(c),
      JSON.stringify(c.auth),
      JSON.stringify(s),
      String(c.auth),
    ].join('\n');
    for (const x of secrets) expect(printed).not.toContain(x);
    expect(s.key.key).toHaveLength(32); // still usable by the code that needs it
    await c.closeOnlineSession(s.referenceNumber);
  });

  it('fails with the status code when the token is wrong, without revealing it', async () => {
    const c = client({ ksefToken: new Secret('wrong-token-value') });
    const e = await c.authenticate().then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeDefined();
    const err = e as KsefStatusError | KsefApiError;
    expect(err.code).toMatch(/^KSEF_(AUTH_STATUS_4\d\d|\d+|HTTP_4\d\d)$/);
    expect(String(err.message)).not.toContain('wrong-token-value');
    expect(JSON.stringify((err as KsefStatusError).toJSON())).not.toContain('wrong-token-value');
  });

  it('refreshes the access token before it expires and re-authenticates when the refresh is refused', async () => {
    // a clock the test moves forward: tokens age without waiting
    let offset = 0;
    const clock = { now: () => Date.now() + offset, sleep: systemClock.sleep };
    const c = client({ clock, auth: { refreshMarginMs: 60_000 } });
    await c.authenticate();
    const first = await c.auth.accessToken();
    expect(await c.auth.accessToken()).toBe(first); // still fresh: no refresh
    expect(c.auth.state.refreshes).toBe(0);
    offset = c.auth.state.accessTokenValidUntil! - Date.now() - 30_000; // 30 s before expiry
    const refreshed = await c.auth.accessToken();
    expect(c.auth.state.refreshes).toBe(1);
    expect(c.auth.state.authentications).toBe(1);
    expect(refreshed).not.toBe(first);
    offset = 0;
    // the refreshed token works for a protected call
    const sessions = await c.auth.listSessions();
    expect(sessions.some((s) => s.referenceNumber === c.auth.state.referenceNumber)).toBe(true);
    // revoke the current authentication: the refresh token dies, the next renewal authenticates anew
    await c.api.revokeCurrentAuthSession(refreshed);
    c.auth.invalidateAccessToken(); // as after a 401
    await c.auth.accessToken();
    expect(c.auth.state.authentications).toBe(2);
    // clean-up revokes the bridge's own stale sessions only, never the current one
    const revoked = await c.auth.cleanupSessions();
    expect(revoked).not.toContain(c.auth.state.referenceNumber);
    const after = await c.auth.listSessions();
    expect(after.some((s) => s.referenceNumber === c.auth.state.referenceNumber)).toBe(true);
  });
});

describe('interactive session', () => {
  it('sends invoices, gets KSeF numbers and UPOs valid against the UPO XSD, closes and gets the session UPO', async () => {
    const c = client();
    const s = await c.openOnlineSession();
    expect(s.referenceNumber).toHaveLength(36);
    const xmls = [1001, 1002, 1003].map((n) => fa3Invoice(n));
    const sent = [];
    for (const xml of xmls) sent.push(await c.sendInvoice(s, xml));
    expect(sent.map((x) => x.invoiceHash)).toEqual(xmls.map((x) => sha256b64(x)));

    for (const [i, inv] of sent.entries()) {
      const st = await c.waitForInvoice(s.referenceNumber, inv.referenceNumber, { intervalMs: 20, timeoutMs: 30_000 });
      expect(st.status.code).toBe(200);
      expect(isValidKsefNumber(st.ksefNumber!)).toBe(true);
      expect(st.invoiceHash).toBe(sha256b64(xmls[i]!));
      const upo = await c.getInvoiceUpo(s.referenceNumber, inv.referenceNumber);
      expect(upo.ksefNumber).toBe(st.ksefNumber);
      expect(upo.invoiceHash).toBe(inv.invoiceHash);
      expect(upo.sessionReferenceNumber).toBe(s.referenceNumber);
      expect(upoValidator.validate(upo.upoXml).issues).toEqual([]);
      const byNumber = await c.getInvoiceUpoByKsefNumber(s.referenceNumber, st.ksefNumber!);
      expect(byNumber.ksefNumber).toBe(st.ksefNumber);
      if (i === 0) {
        // the link in the invoice status gives the same UPO, without a token and outside the API limits
        expect(st.upoDownloadUrl).toBeTruthy();
        expect(await c.downloadUpo(st.upoDownloadUrl!)).toBe(upo.upoXml);
      }
    }

    expect(await c.closeOnlineSession(s.referenceNumber)).toEqual({ alreadyClosed: false });
    expect(await c.closeOnlineSession(s.referenceNumber)).toEqual({ alreadyClosed: true });
    const done = await c.waitForSession(s.referenceNumber, { untilUpo: true, intervalMs: 20, timeoutMs: 30_000 });
    expect(done.status.code).toBe(200);
    expect(done.successfulInvoiceCount).toBe(3);
    const pages = await c.getSessionUpo(s.referenceNumber, { status: done });
    const records = pages.flatMap((p) => p.entries);
    expect(records.map((r) => r.invoiceHash).sort()).toEqual(sent.map((x) => x.invoiceHash).sort());
    for (const p of pages) expect(upoValidator.validate(p.xml).issues).toEqual([]);
  });

  it('reports a duplicate (440) with the original KSeF number, and a schema-invalid invoice as failed', async () => {
    const c = client();
    const s = await c.openOnlineSession();
    const xml = fa3Invoice(2001);
    const a = await c.sendInvoice(s, xml);
    const sa = await c.waitForInvoice(s.referenceNumber, a.referenceNumber, { intervalMs: 20, timeoutMs: 30_000 });
    expect(sa.status.code).toBe(200);
    const b = await c.sendInvoice(s, xml);
    const sb = await c.waitForInvoice(s.referenceNumber, b.referenceNumber, { intervalMs: 20, timeoutMs: 30_000 });
    expect(sb.status.code).toBe(440);
    expect(sb.status.extensions?.originalKsefNumber).toBe(sa.ksefNumber);

    const bad = await c.sendInvoice(s, fa3Invoice(2002).replace('<P_2>', '<P_2_WRONG>').replace('</P_2>', '</P_2_WRONG>'));
    const sbad = await c.waitForInvoice(s.referenceNumber, bad.referenceNumber, { intervalMs: 20, timeoutMs: 30_000 });
    expect(sbad.status.code).toBeGreaterThanOrEqual(400);
    const failed = await c.listFailedInvoices(s.referenceNumber);
    expect(failed.map((f) => f.referenceNumber).sort()).toEqual([b.referenceNumber, bad.referenceNumber].sort());
    await c.closeOnlineSession(s.referenceNumber);
  });

  it('sends a technical correction and an offline-mode invoice with the documented flags', async () => {
    const c = client();
    const s = await c.openOnlineSession();
    const off = await c.sendInvoice(s, fa3Invoice(2101), { offlineMode: true });
    const st = await c.waitForInvoice(s.referenceNumber, off.referenceNumber, { intervalMs: 20, timeoutMs: 30_000 });
    expect(st.status.code).toBe(200);
    expect(st.invoicingMode).toBe('Offline');

    // an offline invoice rejected for a technical reason, then its technical correction
    const broken = fa3Invoice(2102).replace('<P_2>', '<P_2_WRONG>').replace('</P_2>', '</P_2_WRONG>');
    const rej = await c.sendInvoice(s, broken, { offlineMode: true });
    const srej = await c.waitForInvoice(s.referenceNumber, rej.referenceNumber, { intervalMs: 20, timeoutMs: 30_000 });
    expect(srej.status.code).toBeGreaterThanOrEqual(400);
    const prepared = c.prepareInvoice(s.key, fa3Invoice(2102), { hashOfCorrectedInvoice: rej.invoiceHash });
    expect(prepared.request.offlineMode).toBe(true);
    expect(prepared.request.hashOfCorrectedInvoice).toBe(sha256b64(broken));
    const fix = await c.sendInvoice(s, prepared);
    const sfix = await c.waitForInvoice(s.referenceNumber, fix.referenceNumber, { intervalMs: 20, timeoutMs: 30_000 });
    expect(sfix.status.code).toBe(200);
    expect(isValidKsefNumber(sfix.ksefNumber!)).toBe(true);
    // a second correction of the same invoice is refused (21166), reported as rejected, not retried
    const again = await c.sendInvoice(s, fa3Invoice(2102).replace('FV/TEST/2102', 'FV/TEST/2102 '), { hashOfCorrectedInvoice: rej.invoiceHash }).catch((x: unknown) => x);
    expect(again).toBeInstanceOf(KsefApiError);
    expect((again as KsefApiError).code).toBe('KSEF_21166');
    expect((again as KsefApiError).delivery).toBe('rejected');
    await c.closeOnlineSession(s.referenceNumber);
  });

  it('turns KSeF error answers into typed errors with the code and the request reference', async () => {
    const c = client();
    const e = (await c.getSessionStatus('20250101-SO-0000000000-0000000000-00').catch((x: unknown) => x)) as KsefApiError;
    expect(e).toBeInstanceOf(KsefApiError);
    expect(e.code).toBe('KSEF_21173');
    expect(e.ksefCode).toBe(21173);
    expect(e.referenceNumber).toBe('20250101-SO-0000000000-0000000000-00');
    expect(e.delivery).toBe('rejected');
    // the same through problem-details error bodies
    const p = client({ problemDetails: true });
    const e2 = (await p.getSessionStatus('20250101-SO-0000000000-0000000000-00').catch((x: unknown) => x)) as KsefApiError;
    expect(e2.code).toBe('KSEF_21173');
    expect(e2.description).toBe(e.description);
  });
});

describe('public key rotation (21470)', () => {
  it('re-fetches the keys once and repeats authentication and session opening with the new key', async () => {
    const c = client();
    faults.keyFetches = 0;
    faults.rejectKey.add('/v2/auth/ksef-token');
    await c.authenticate();
    expect(faults.keyFetches).toBe(2);
    faults.rejectKey.add('/v2/sessions/online');
    const s = await c.openOnlineSession();
    expect(faults.keyFetches).toBe(3);
    const sent = await c.sendInvoice(s, fa3Invoice(2201));
    const st = await c.waitForInvoice(s.referenceNumber, sent.referenceNumber, { intervalMs: 20, timeoutMs: 30_000 });
    expect(st.status.code).toBe(200); // the re-wrapped session key decrypts
    faults.rejectKey.add('/v2/sessions/batch');
    const { session } = await c.sendBatch([{ name: 'a.xml', content: Buffer.from(fa3Invoice(2202)) }]);
    const done = await c.waitForSession(session.referenceNumber, { intervalMs: 20, timeoutMs: 30_000 });
    expect(done.status.code).toBe(200);
    await c.closeOnlineSession(s.referenceNumber);
  });
});

describe('batch session', () => {
  for (const format of ['zip', 'tar.gz'] as const) {
    it(`sends ${format} package in several parts uploaded in parallel; every invoice is matched by hash`, async () => {
      const c = client();
      const base = format === 'zip' ? 3000 : 4000;
      const files = Array.from({ length: 60 }, (_, i) => ({ name: `doc-${i + 1}.xml`, content: Buffer.from(fa3Invoice(base + i, { padding: 500 })) }));
      const stages = new Set<string>();
      const { session } = await c.sendBatch(files, { format, level: 0, maxPartSize: 20_000, concurrency: 3, onProgress: (p) => stages.add(p.stage) });
      expect(session.parts.length).toBeGreaterThan(1);
      expect([...stages].sort()).toEqual(['close', 'encrypt', 'open', 'package', 'upload']);
      const done = await c.waitForSession(session.referenceNumber, { untilUpo: true, intervalMs: 20, timeoutMs: 60_000 });
      expect(done.status.code).toBe(200);
      expect(done.successfulInvoiceCount).toBe(60);
      const pages: string[][] = [];
      for await (const page of c.iterateSessionInvoices(session.referenceNumber, { pageSize: 10 })) pages.push(page.map((p) => p.invoiceHash));
      expect(pages.length).toBeGreaterThanOrEqual(6);
      const byHash = new Map((await c.listSessionInvoices(session.referenceNumber)).map((i) => [i.invoiceHash, i]));
      for (const inv of session.package.invoices) {
        const got = byHash.get(inv.invoiceHash);
        expect(got?.status.code).toBe(200);
        expect(isValidKsefNumber(got!.ksefNumber!)).toBe(true);
      }
      const upo = await c.getSessionUpo(session.referenceNumber, { status: done });
      const upoHashes = new Set(upo.flatMap((p) => p.entries.map((r) => r.invoiceHash)));
      expect(session.package.invoices.every((i) => upoHashes.has(i.invoiceHash))).toBe(true);
      for (const p of upo) expect(parseUpo(p.xml).sessionReferenceNumber).toBe(session.referenceNumber);
    });
  }
});

describe('rate limits and transient failures', () => {
  it('obeys 429 Retry-After for the whole group and then completes', async () => {
    const store = new InMemoryRateLimitStateStore();
    const c = await KsefClient.create({
      nip: SELLER_NIP,
      ksefToken: new Secret(TOKEN),
      baseUrl: `${emu.url}/v2`,
      retry: fast,
      rateLimits: { store, environment: 'test' },
    });
    const s = await c.openOnlineSession();
    faults.seen = [];
    faults.status429 = 1;
    const st = await c.getSessionStatus(s.referenceNumber);
    expect(st.status.code).toBe(100);
    const hits = faults.seen.filter((x) => x.path.endsWith(s.referenceNumber));
    expect(hits.map((h) => h.status)).toEqual([429, 200]);
    expect(hits[1]!.at - hits[0]!.at).toBeGreaterThanOrEqual(990); // not before Retry-After
    expect(store.pauses.some((p) => p.group === 'sessionMisc')).toBe(true);
    expect(store.events.some((e) => e.group === 'onlineSession')).toBe(true);
    await c.closeOnlineSession(s.referenceNumber);
  });

  it('gives up with KsefRateLimitError when KSeF keeps answering 429 beyond the allowed waits', async () => {
    const c = client({ retry: { ...fast, maxRateLimitWaits: 1 } });
    const s = await c.openOnlineSession();
    faults.status429 = 2;
    const e = await c.getSessionStatus(s.referenceNumber).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KsefRateLimitError);
    faults.status429 = 0;
    await c.closeOnlineSession(s.referenceNumber);
  });

  it('during maintenance reports a transient 503 with Retry-After, and works again afterwards', async () => {
    const c = client({ retry: { ...fast, retries: 1 } });
    const s = await c.openOnlineSession();
    emu.admin.faults.setMaintenance({ to: new Date(Date.now() + 60_000).toISOString() });
    try {
      const e = (await c.getSessionStatus(s.referenceNumber).catch((x: unknown) => x)) as KsefTransientError;
      expect(e).toBeInstanceOf(KsefTransientError);
      expect(e.code).toBe('KSEF_HTTP_503');
      expect(e.retryAfterSeconds).toBeGreaterThan(0);
      const send = (await c.sendInvoice(s, fa3Invoice(6101)).catch((x: unknown) => x)) as KsefTransientError;
      expect(send.code).toBe('KSEF_HTTP_503');
    } finally {
      emu.admin.faults.setMaintenance(null);
    }
    expect((await c.getSessionStatus(s.referenceNumber)).status.code).toBe(100);
    await c.closeOnlineSession(s.referenceNumber);
  });

  it('refreshes the token after a 401 and repeats the call once', async () => {
    const c = client();
    const s = await c.openOnlineSession();
    const before = c.auth.state.refreshes;
    faults.status401 = 1;
    const st = await c.getSessionStatus(s.referenceNumber);
    expect(st.status.code).toBe(100);
    expect(c.auth.state.refreshes).toBe(before + 1);
    await c.closeOnlineSession(s.referenceNumber);
  });

  it('retries a safe read after a 5xx', async () => {
    const c = client();
    const s = await c.openOnlineSession();
    faults.seen = [];
    faults.status503 = 2;
    const st = await c.getSessionStatus(s.referenceNumber);
    expect(st.status.code).toBe(100);
    expect(faults.seen.filter((x) => x.path.endsWith(s.referenceNumber)).map((h) => h.status)).toEqual([503, 503, 200]);
    await c.closeOnlineSession(s.referenceNumber);
  });

  it('paces calls so that KSeF never sees more than the limit in a sliding window (scaled profile)', async () => {
    // hour -> 1 s: at most 4 invoices per scaled hour, 3 per scaled minute (16.7 ms)
    const c = client({ rateLimits: { scale: 1 / 3600, marginMs: 150, limits: { invoiceSend: { perSecond: 10, perMinute: 3, perHour: 4 } } } });
    const s = await c.openOnlineSession();
    faults.sends = [];
    for (let i = 0; i < 9; i++) await c.sendInvoice(s, fa3Invoice(5000 + i));
    const t = faults.sends;
    expect(t).toHaveLength(9);
    for (const x of t) expect(t.filter((y) => y > x - 1000 && y <= x).length).toBeLessThanOrEqual(4);
    expect(t[8]! - t[0]!).toBeGreaterThanOrEqual(2000); // 9 calls at 4 per second need two full windows
    await c.closeOnlineSession(s.referenceNumber);
  });

  it('never resends an invoice by itself: a 5xx on send is reported with an unknown outcome', async () => {
    const c = client();
    const s = await c.openOnlineSession();
    faults.sends = [];
    faults.sendFailures = 1;
    const e = (await c.sendInvoice(s, fa3Invoice(6001)).catch((x: unknown) => x)) as KsefTransientError;
    expect(e).toBeInstanceOf(KsefTransientError);
    expect(e.code).toBe('KSEF_HTTP_503');
    expect(e.delivery).toBe('unknown');
    expect(e.referenceNumber).toBe(s.referenceNumber);
    expect(faults.sends).toHaveLength(1);
    // the caller reconciles by hash: nothing with that hash is in the session
    const listed = await c.listSessionInvoices(s.referenceNumber);
    expect(listed.some((x) => x.invoiceHash === sha256b64(fa3Invoice(6001)))).toBe(false);
    await c.closeOnlineSession(s.referenceNumber);
  });

  it('reports every request to an observer without tokens, and lists open sessions', async () => {
    const events: unknown[] = [];
    const c = client({ onRequest: (e) => events.push(e) });
    const s = await c.openOnlineSession();
    const open = await c.listSessions({ sessionType: 'Online', statuses: ['InProgress'] });
    expect(open.some((x) => x.referenceNumber === s.referenceNumber)).toBe(true);
    await c.closeOnlineSession(s.referenceNumber);
    const text = JSON.stringify(events);
    expect(text).toContain('"endpoint":"POST /auth/challenge"');
    expect(text).toContain('"endpoint":"POST /sessions/online","group":"onlineSession","status":201');
    expect(text).toContain('"endpoint":"GET /sessions","group":"sessionList","status":200');
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(await c.auth.accessToken());
  });

  it('reads GET /rate-limits and applies it to the limiter', async () => {
    const c = client();
    const limits = await c.refreshRateLimits();
    expect(limits.invoiceSend.perHour).toBeGreaterThan(0);
    expect(c.limiter.limitsOf('invoiceSend').perHour).toBe(limits.invoiceSend.perHour);
  });
});

describe('authentication status polling', () => {
  let slow: RunningEmulator;
  beforeAll(async () => {
    slow = await startEmulator({ tokens: [{ nip: SELLER_NIP, token: TOKEN }], logger: null, authDelayMs: 400 });
  });
  afterAll(async () => {
    await slow?.admin.idle();
    await slow?.close();
  });

  it('polls GET /auth/{ref} while the status is 100 and redeems after 200', async () => {
    const c = new KsefClient({ nip: SELLER_NIP, ksefToken: new Secret(TOKEN), baseUrl: `${slow.url}/v2`, retry: fast, auth: { pollIntervalMs: 50 } });
    await c.authenticate();
    expect(c.auth.state.authenticated).toBe(true);
  });

  it('gives up after authTimeoutMs with KSEF_AUTH_TIMEOUT', async () => {
    const c = new KsefClient({ nip: SELLER_NIP, ksefToken: new Secret(TOKEN), baseUrl: `${slow.url}/v2`, retry: fast, auth: { pollIntervalMs: 20, authTimeoutMs: 60 } });
    await expect(c.authenticate()).rejects.toMatchObject({ code: 'KSEF_AUTH_TIMEOUT' });
    expect(c.auth.state.authenticated).toBe(false);
  });
});
