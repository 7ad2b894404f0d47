import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KsefTestClient, rsaOaepEncrypt } from './helpers/client.js';
import { OTHER_NIP, SELLER_NIP, SELLER_TOKEN, startTestEmulator, type TestEnv } from './helpers/setup.js';

interface Exc {
  exception: { exceptionDetailList: { exceptionCode: number; exceptionDescription: string; details?: string[] }[] };
}
const code = (r: { json: unknown }): number | undefined => (r.json as Exc).exception?.exceptionDetailList[0]?.exceptionCode;

let env: TestEnv;
let client: KsefTestClient;
beforeAll(async () => {
  env = await startTestEmulator({ fakeClock: true, accessTokenTtlSec: 60 });
  client = env.client;
});
afterAll(async () => env.emu.close());

describe('authentication with a KSeF token', () => {
  it('happy path: challenge, ksef-token, status 200, redeem, use, refresh', async () => {
    const ch = await client.call<{ challenge: string; timestamp: string; timestampMs: number; clientIp: string }>('POST', '/auth/challenge');
    expect(ch.status).toBe(200);
    expect(ch.json.challenge).toMatch(/^\d{8}-CR-[0-9A-F]{10}-[0-9A-F]{10}-[0-9A-F]{2}$/);
    expect(new Date(ch.json.timestamp).getTime()).toBe(ch.json.timestampMs);

    const { response } = await client.startTokenAuth(SELLER_NIP, SELLER_TOKEN);
    expect(response.status).toBe(202);
    expect(response.json.referenceNumber).toMatch(/^\d{8}-AU-/);
    expect(response.json.authenticationToken.token.split('.')).toHaveLength(3);
    const status = await client.waitAuth(response.json.referenceNumber, response.json.authenticationToken.token);
    expect(status).toEqual({ code: 200, description: 'Uwierzytelnianie zakończone sukcesem' });

    const redeem = await client.call<{ accessToken: { token: string; validUntil: string }; refreshToken: { token: string } }>('POST', '/auth/token/redeem', {
      token: response.json.authenticationToken.token,
    });
    expect(redeem.status).toBe(200);
    const access = redeem.json.accessToken.token;
    const sessions = await client.call<{ items: { referenceNumber: string; isCurrent: boolean }[] }>('GET', '/auth/sessions', { token: access });
    expect(sessions.status).toBe(200);
    expect(sessions.json.items.find((i) => i.referenceNumber === response.json.referenceNumber)?.isCurrent).toBe(true);

    const again = await client.call('POST', '/auth/token/redeem', { token: response.json.authenticationToken.token });
    expect(again.status).toBe(400);
    expect(code(again)).toBe(21301);

    const refreshed = await client.call<{ accessToken: { token: string } }>('POST', '/auth/token/refresh', { token: redeem.json.refreshToken.token });
    expect(refreshed.status).toBe(200);
    expect(refreshed.json.accessToken.token).not.toBe(access);
    const withNew = await client.call('GET', '/auth/sessions', { token: refreshed.json.accessToken.token });
    expect(withNew.status).toBe(200);

    // the access token is not a refresh token and vice versa
    expect((await client.call('POST', '/auth/token/refresh', { token: access })).status).toBe(401);
    expect((await client.call('GET', '/auth/sessions', { token: redeem.json.refreshToken.token })).status).toBe(401);
  });

  it('wrong token: status 450 "Nieprawidłowy token", redeem refused', async () => {
    const { response } = await client.startTokenAuth(SELLER_NIP, 'not-a-token');
    expect(response.status).toBe(202);
    const st = await client.waitAuth(response.json.referenceNumber, response.json.authenticationToken.token);
    expect(st.code).toBe(450);
    expect(st.details).toEqual(['Nieprawidłowy token']);
    const redeem = await client.call('POST', '/auth/token/redeem', { token: response.json.authenticationToken.token });
    expect(redeem.status).toBe(400);
    expect(code(redeem)).toBe(21301);
  });

  it('timestamp other than the challenge: status 450 "Nieprawidłowy czas tokena"', async () => {
    const { response } = await client.startTokenAuth(SELLER_NIP, SELLER_TOKEN, { timestampMs: 1_700_000_000_000 });
    const st = await client.waitAuth(response.json.referenceNumber, response.json.authenticationToken.token);
    expect(st).toMatchObject({ code: 450, details: ['Nieprawidłowy czas tokena'] });
  });

  it('replayed challenge: 400 with exception 21111', async () => {
    const first = await client.startTokenAuth(SELLER_NIP, SELLER_TOKEN);
    expect(first.response.status).toBe(202);
    const replay = await client.call('POST', '/auth/ksef-token', { body: first.requestBody });
    expect(replay.status).toBe(400);
    expect(code(replay)).toBe(21111);
  });

  it('unknown and expired challenges: 400 with exception 21111', async () => {
    const unknown = await client.startTokenAuth(SELLER_NIP, SELLER_TOKEN, { challenge: '20250101-CR-0000000000-0000000000-00' });
    expect(unknown.response.status).toBe(400);
    expect(code(unknown.response)).toBe(21111);

    const ch = await client.call<{ challenge: string; timestampMs: number }>('POST', '/auth/challenge');
    env.advance(10 * 60_000 + 1000); // challenges live 10 minutes
    const cert = client.cert('KsefTokenEncryption');
    const expired = await client.call('POST', '/auth/ksef-token', {
      body: {
        challenge: ch.json.challenge,
        contextIdentifier: { type: 'Nip', value: SELLER_NIP },
        encryptedToken: rsaOaepEncrypt(cert.certificate, Buffer.from(`${SELLER_TOKEN}|${ch.json.timestampMs}`)).toString('base64'),
      },
    });
    expect(expired.status).toBe(400);
    expect(code(expired)).toBe(21111);
  });

  it('token used in another context: status 415 (no permissions there)', async () => {
    const { response } = await client.startTokenAuth(SELLER_NIP, SELLER_TOKEN, { contextNip: OTHER_NIP });
    const st = await client.waitAuth(response.json.referenceNumber, response.json.authenticationToken.token);
    expect(st).toMatchObject({ code: 415, details: ['Brak przypisanych uprawnień'] });
  });

  it('unknown publicKeyId: 400 with exception 21470', async () => {
    const ch = await client.call<{ challenge: string; timestampMs: number }>('POST', '/auth/challenge');
    const r = await client.call('POST', '/auth/ksef-token', {
      body: {
        challenge: ch.json.challenge,
        contextIdentifier: { type: 'Nip', value: SELLER_NIP },
        encryptedToken: Buffer.from('x').toString('base64'),
        publicKeyId: Buffer.alloc(32, 7).toString('base64'),
      },
    });
    expect(r.status).toBe(400);
    expect(code(r)).toBe(21470);
  });

  it('expired access token: 401 problem details', async () => {
    const t = await client.authenticate(SELLER_NIP, SELLER_TOKEN);
    expect((await client.call('GET', '/auth/sessions', { token: t.accessToken })).status).toBe(200);
    env.advance(61_000);
    const r = await client.call<{ title: string; status: number; detail: string }>('GET', '/auth/sessions', { token: t.accessToken });
    expect(r.status).toBe(401);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.json).toMatchObject({ title: 'Unauthorized', status: 401 });
    // the refresh token still works and gives a fresh access token
    const refreshed = await client.call<{ accessToken: { token: string } }>('POST', '/auth/token/refresh', { token: t.refreshToken });
    expect(refreshed.status).toBe(200);
    expect((await client.call('GET', '/auth/sessions', { token: refreshed.json.accessToken.token })).status).toBe(200);
  });

  it('missing or forged bearer: 401', async () => {
    expect((await client.call('GET', '/auth/sessions')).status).toBe(401);
    expect((await client.call('GET', '/auth/sessions', { token: 'eyJ.forged.token' })).status).toBe(401);
    const { response } = await client.startTokenAuth(SELLER_NIP, SELLER_TOKEN);
    const other = await client.startTokenAuth(SELLER_NIP, SELLER_TOKEN);
    // an authentication token only reads its own operation
    const cross = await client.call('GET', '/auth/{referenceNumber}', {
      params: { referenceNumber: other.response.json.referenceNumber },
      token: response.json.authenticationToken.token,
    });
    expect(cross.status).toBe(400);
    expect(code(cross)).toBe(21304);
  });

  it('revoked KSeF token: status 450 "Token unieważniony"', async () => {
    const admin = env.emu.admin.provisionToken({ nip: SELLER_NIP, token: 'to-be-revoked' });
    const t = await client.authenticate(SELLER_NIP, 'to-be-revoked');
    const del = await client.call('DELETE', '/tokens/{referenceNumber}', { params: { referenceNumber: admin.referenceNumber }, token: t.accessToken });
    expect(del.status).toBe(204);
    const { response } = await client.startTokenAuth(SELLER_NIP, 'to-be-revoked');
    const st = await client.waitAuth(response.json.referenceNumber, response.json.authenticationToken.token);
    expect(st).toMatchObject({ code: 450, details: ['Token unieważniony'] });
    // refreshing an authentication made with the revoked token is refused
    const refresh = await client.call('POST', '/auth/token/refresh', { token: t.refreshToken });
    expect(refresh.status).toBe(400);
    expect(code(refresh)).toBe(21301);
  });

  it('POST /tokens creates a token that authenticates', async () => {
    const t = await client.authenticate(SELLER_NIP, SELLER_TOKEN);
    const created = await client.call<{ referenceNumber: string; token: string }>('POST', '/tokens', {
      token: t.accessToken,
      body: { permissions: ['InvoiceWrite', 'InvoiceRead'], description: 'Token z testu' },
    });
    expect(created.status).toBe(202);
    const t2 = await client.authenticate(SELLER_NIP, created.json.token);
    expect(t2.accessToken).toBeTruthy();
  });

  it('revoking the current session invalidates its refresh token (status 425)', async () => {
    const t = await client.authenticate(SELLER_NIP, SELLER_TOKEN);
    expect((await client.call('DELETE', '/auth/sessions/current', { token: t.accessToken })).status).toBe(204);
    const refresh = await client.call('POST', '/auth/token/refresh', { token: t.refreshToken });
    expect(refresh.status).toBe(400);
    expect(code(refresh)).toBe(21301);
  });
});

describe('authentication delay', () => {
  it('reports 100 "Uwierzytelnianie w toku" until the configured delay passes', async () => {
    const slow = await startTestEmulator({ fakeClock: true, authDelayMs: 5_000 });
    try {
      const { response } = await slow.client.startTokenAuth(SELLER_NIP, SELLER_TOKEN);
      const args = { params: { referenceNumber: response.json.referenceNumber }, token: response.json.authenticationToken.token };
      const first = await slow.client.call<{ status: { code: number; description: string } }>('GET', '/auth/{referenceNumber}', args);
      expect(first.json.status).toEqual({ code: 100, description: 'Uwierzytelnianie w toku' });
      const early = await slow.client.call('POST', '/auth/token/redeem', { token: response.json.authenticationToken.token });
      expect(early.status).toBe(400);
      expect(code(early)).toBe(21301);
      slow.advance(5_001);
      const later = await slow.client.call<{ status: { code: number } }>('GET', '/auth/{referenceNumber}', args);
      expect(later.json.status.code).toBe(200);
    } finally {
      await slow.emu.close();
    }
  });
});

describe('request validation against the contract', () => {
  it('rejects a body missing required fields with 400/21405, in both error formats', async () => {
    const r = await client.call('POST', '/auth/ksef-token', { body: { challenge: 'short' } });
    expect(r.status).toBe(400);
    expect(code(r)).toBe(21405);
    const p = await client.call<{ status: number; errors: { code: number; details: string[] }[] }>('POST', '/auth/ksef-token', {
      body: { challenge: 'short' },
      headers: { 'x-error-format': 'problem-details' },
    });
    expect(p.status).toBe(400);
    expect(p.headers.get('content-type')).toContain('application/problem+json');
    expect(p.json.errors[0]?.code).toBe(21405);
    expect(p.json.errors[0]?.details.join(' ')).toContain('contextIdentifier');
  });

  it('rejects malformed JSON and wrong enum values with 21405', async () => {
    const bad = await client.call('POST', '/auth/ksef-token', { body: '{not json' });
    expect(code(bad)).toBe(21405);
    const ch = await client.call<{ challenge: string }>('POST', '/auth/challenge');
    const wrongType = await client.call('POST', '/auth/ksef-token', {
      body: { challenge: ch.json.challenge, contextIdentifier: { type: 'Pesel', value: '1' }, encryptedToken: 'AAAA' },
    });
    expect(code(wrongType)).toBe(21405);
  });

  it('unknown paths get 404 and wrong methods 405 (outside the contract)', async () => {
    expect((await client.call('GET', '/no/such/path', { noContract: true })).status).toBe(404);
    expect((await client.call('DELETE', '/auth/challenge', { noContract: true })).status).toBe(405);
  });
});

describe('operations the emulator does not implement', () => {
  it('answers 501 for contract operations it does not emulate (XAdES, permissions)', async () => {
    const x = await client.call<{ detail: string }>('POST', '/auth/xades-signature', { body: '<x/>', noContract: true });
    expect(x.status).toBe(501);
    expect(x.json.detail).toContain('/auth/xades-signature');
    expect((await client.call('POST', '/permissions/persons/grants', { body: {}, noContract: true })).status).toBe(501);
  });
});

describe('token and limit queries', () => {
  it('lists and reads KSeF tokens of the context, without their secrets', async () => {
    const t = await client.authenticate(SELLER_NIP, SELLER_TOKEN);
    const list = await client.call<{ tokens: { referenceNumber: string; status: string; contextIdentifier: { value: string } }[] }>('GET', '/tokens', {
      token: t.accessToken,
      query: { status: 'Active' },
    });
    expect(list.status).toBe(200);
    expect(list.json.tokens.length).toBeGreaterThan(0);
    expect(list.json.tokens.every((x) => x.status === 'Active' && x.contextIdentifier.value === SELLER_NIP)).toBe(true);
    expect(list.text).not.toContain(SELLER_TOKEN);
    const one = await client.call<{ referenceNumber: string }>('GET', '/tokens/{referenceNumber}', {
      token: t.accessToken,
      params: { referenceNumber: list.json.tokens[0]?.referenceNumber as string },
    });
    expect(one.status).toBe(200);
  });

  it('reports and changes the session limits of the context', async () => {
    const t = await client.authenticate(SELLER_NIP, SELLER_TOKEN);
    const before = await client.call<{ onlineSession: { maxInvoices: number; maxInvoiceSizeInMB: number } }>('GET', '/limits/context', { token: t.accessToken });
    expect(before.json.onlineSession).toEqual({ maxInvoices: 10_000, maxInvoiceSizeInMB: 1, maxInvoiceWithAttachmentSizeInMB: 3 });
    const limits = { maxInvoices: 2, maxInvoiceSizeInMB: 1, maxInvoiceWithAttachmentSizeInMB: 3 };
    expect((await client.call('POST', '/testdata/limits/context/session', { token: t.accessToken, body: { onlineSession: limits, batchSession: limits } })).status).toBe(200);
    const after = await client.call<{ onlineSession: { maxInvoices: number } }>('GET', '/limits/context', { token: t.accessToken });
    expect(after.json.onlineSession.maxInvoices).toBe(2);

    const enc = client.newEncryption();
    const open = await client.call<{ referenceNumber: string }>('POST', '/sessions/online', {
      token: t.accessToken,
      body: { formCode: { systemCode: 'FA (3)', schemaVersion: '1-0E', value: 'FA' }, encryption: enc.encryption },
    });
    const sendOne = () =>
      client.call('POST', '/sessions/online/{referenceNumber}/invoices', {
        params: { referenceNumber: open.json.referenceNumber },
        token: t.accessToken,
        body: KsefTestClient.invoiceBody(enc.key, enc.iv, `<x>${Math.random()}</x>`),
      });
    expect((await sendOne()).status).toBe(202);
    expect((await sendOne()).status).toBe(202);
    const third = await sendOne();
    expect(third.status).toBe(400);
    expect(code(third)).toBe(21155);
    expect((await client.call('DELETE', '/testdata/limits/context/session', { token: t.accessToken })).status).toBe(200);
    expect((await sendOne()).status).toBe(202);
  });
});

describe('authentication sessions', () => {
  it('revokes another session of the context by reference number, and pages the list', async () => {
    const a = await client.authenticate(SELLER_NIP, SELLER_TOKEN);
    const b = await client.authenticate(SELLER_NIP, SELLER_TOKEN);
    const del = await client.call('DELETE', '/auth/sessions/{referenceNumber}', { params: { referenceNumber: b.authReferenceNumber }, token: a.accessToken });
    expect(del.status).toBe(204);
    expect((await client.call('POST', '/auth/token/refresh', { token: b.refreshToken })).status).toBe(400);
    expect((await client.call('POST', '/auth/token/refresh', { token: a.refreshToken })).status).toBe(200);
    for (let i = 0; i < 11; i++) await client.authenticate(SELLER_NIP, SELLER_TOKEN);
    const page1 = await client.call<{ items: unknown[]; continuationToken?: string }>('GET', '/auth/sessions', { token: a.accessToken, query: { pageSize: 10 } });
    expect(page1.json.items).toHaveLength(10);
    expect(page1.json.continuationToken).toBeTruthy();
    const page2 = await client.call<{ items: unknown[] }>('GET', '/auth/sessions', {
      token: a.accessToken,
      query: { pageSize: 10 },
      headers: { 'x-continuation-token': page1.json.continuationToken as string },
    });
    expect(page2.json.items.length).toBeGreaterThan(0);
    const bad = await client.call('GET', '/auth/sessions', { token: a.accessToken, headers: { 'x-continuation-token': 'not-a-token' } });
    expect(code(bad)).toBe(21418);
    const small = await client.call('GET', '/auth/sessions', { token: a.accessToken, query: { pageSize: 5 } });
    expect(code(small)).toBe(21405);
  });
});
