/**
 * Authentication with a KSeF token (uwierzytelnianie.md, tokeny-ksef.md, auth/sesje.md):
 * POST /auth/challenge, POST /auth/ksef-token, GET /auth/{referenceNumber}, POST /auth/token/redeem,
 * POST /auth/token/refresh, GET /auth/sessions, DELETE /auth/sessions/current|{referenceNumber},
 * and the token endpoints POST /tokens, GET /tokens/{referenceNumber}, DELETE /tokens/{referenceNumber}.
 * XAdES authentication (POST /auth/xades-signature) is not emulated.
 */
import type { EmulatorApi, EmulatorContext } from '../context.js';
import { bearer, iso, requireAccess } from '../context.js';
import type { RequestContext } from '../http/router.js';
import { badRequest, Errors, unauthorized } from '../http/errors.js';
import { continuationToken, readPage } from '../http/paging.js';
import { newReferenceNumber } from '../ids.js';
import { rsaOaepDecrypt } from '../crypto/keys.js';
import type { AuthOpRow, TokenRow } from '../store/db.js';
import { provisionToken } from '../store/tokens.js';
import type { TokenClaims } from '../crypto/jwt.js';
import type { TokenPermission } from '../options.js';

const IN_PROGRESS = { code: 100, description: 'Uwierzytelnianie w toku' };
const SUCCESS = { code: 200, description: 'Uwierzytelnianie zakończone sukcesem' };
const BAD_TOKEN = 'Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu';
const REVOKED = { code: 425, description: 'Uwierzytelnienie unieważnione', details: ['Uwierzytelnienie i powiązane refresh tokeny zostały unieważnione przez użytkownika'] };

interface KsefTokenBody {
  challenge: string;
  contextIdentifier: { type: string; value: string };
  encryptedToken: string;
  publicKeyId?: string | null;
}

interface Status {
  code: number;
  description: string;
  details?: string[];
}

function currentStatus(op: AuthOpRow, now: number): Status {
  if (op.revoked) return REVOKED;
  if (now < op.ready_ms) return IN_PROGRESS;
  return {
    code: op.status_code,
    description: op.status_description,
    ...(op.status_details ? { details: JSON.parse(op.status_details) as string[] } : {}),
  };
}

const methodInfo = { category: 'Token', code: 'token', displayName: 'Token KSeF' };

function opView(op: AuthOpRow, now: number): Record<string, unknown> {
  return {
    startDate: iso(op.start_ms),
    authenticationMethod: op.method,
    authenticationMethodInfo: methodInfo,
    status: currentStatus(op, now),
    isTokenRedeemed: op.redeemed === 1,
    ...(op.last_refresh_ms ? { lastTokenRefreshDate: iso(op.last_refresh_ms) } : {}),
    ...(op.refresh_valid_until_ms ? { refreshTokenValidUntil: iso(op.refresh_valid_until_ms) } : {}),
  };
}

/** The operation token (authenticationToken or refreshToken) from the Authorization header, or 401. */
function operationClaims(ctx: EmulatorContext, req: RequestContext, typ: TokenClaims['typ']): TokenClaims {
  const token = bearer(req);
  if (!token) throw unauthorized();
  const claims = ctx.jwt.verify(token);
  if (!claims || claims.typ !== typ) throw unauthorized('Nieprawidłowy token.');
  if (claims.exp * 1000 <= req.now) throw unauthorized('Token wygasł.');
  return claims;
}

function getOp(ctx: EmulatorContext, ref: string): AuthOpRow {
  const op = ctx.db.prepare<[string], AuthOpRow>(`SELECT * FROM auth_ops WHERE reference_number = ?`).get(ref);
  if (!op) throw Errors.authNotFound(ref);
  return op;
}

function tokenRevoked(ctx: EmulatorContext, op: AuthOpRow): boolean {
  if (!op.token_ref) return false;
  const t = ctx.db.prepare<[string], TokenRow>(`SELECT * FROM ksef_tokens WHERE reference_number = ?`).get(op.token_ref);
  return !t || t.status !== 'Active';
}

function issueAccessToken(ctx: EmulatorContext, op: AuthOpRow, now: number): { token: string; validUntil: string } {
  const exp = Math.floor(now / 1000) + ctx.options.accessTokenTtlSec;
  const { token } = ctx.jwt.sign({
    typ: 'ContextToken',
    arn: op.reference_number,
    iat: Math.floor(now / 1000),
    exp,
    'context-identifier-type': op.context_type,
    'context-identifier-value': op.context_value,
    per: JSON.parse(op.permissions) as string[],
  });
  return { token, validUntil: iso(exp * 1000) };
}

/** Decides the outcome of a token authentication (documented statuses 200, 415, 450). */
function evaluate(ctx: EmulatorContext, body: KsefTokenBody, challengeMs: number): { status: Status; token: TokenRow | null } {
  const fail = (detail: string): { status: Status; token: null } => ({ status: { code: 450, description: BAD_TOKEN, details: [detail] }, token: null });
  let plain: string;
  try {
    plain = rsaOaepDecrypt(ctx.keys.tokenEncryption, Buffer.from(body.encryptedToken, 'base64')).toString('utf8');
  } catch {
    return fail('Nieprawidłowy token');
  }
  const bar = plain.lastIndexOf('|');
  if (bar <= 0) return fail('Nieprawidłowy token');
  const secret = plain.slice(0, bar);
  const ts = plain.slice(bar + 1);
  if (ts !== String(challengeMs)) return fail('Nieprawidłowy czas tokena');
  const token = ctx.db.prepare<[string], TokenRow>(`SELECT * FROM ksef_tokens WHERE token = ?`).get(secret);
  if (!token) return fail('Nieprawidłowy token');
  if (token.status === 'Revoked' || token.status === 'Revoking') return fail('Token unieważniony');
  if (token.status !== 'Active') return fail('Token nieaktywny');
  if (body.contextIdentifier.type !== 'Nip' || body.contextIdentifier.value !== token.nip) {
    return { status: { code: 415, description: 'Uwierzytelnianie zakończone niepowodzeniem', details: ['Brak przypisanych uprawnień'] }, token: null };
  }
  return { status: SUCCESS, token };
}

export function registerAuth({ router, ctx }: EmulatorApi): void {
  const db = ctx.db;

  router.add('POST', '/v2/auth/challenge', (req) => {
    const challenge = newReferenceNumber('CR', req.now);
    db.prepare(`INSERT INTO challenges (challenge, timestamp_ms, client_ip) VALUES (?, ?, ?)`).run(challenge, req.now, req.clientIp);
    return { status: 200, json: { challenge, timestamp: iso(req.now), timestampMs: req.now, clientIp: req.clientIp } };
  });

  router.add('POST', '/v2/auth/ksef-token', (req) => {
    const body = req.json as KsefTokenBody;
    if (body.publicKeyId && body.publicKeyId !== ctx.keys.tokenEncryption.publicKeyId) throw Errors.unknownKey(body.publicKeyId);
    const ch = db.prepare<[string], { timestamp_ms: number; used: number }>(`SELECT timestamp_ms, used FROM challenges WHERE challenge = ?`).get(body.challenge);
    if (!ch || ch.used || req.now - ch.timestamp_ms > ctx.options.challengeTtlSec * 1000) {
      throw badRequest(21111, 'Nieprawidłowe wyzwanie autoryzacyjne.');
    }
    db.prepare(`UPDATE challenges SET used = 1 WHERE challenge = ?`).run(body.challenge);
    const { status, token } = evaluate(ctx, body, ch.timestamp_ms);
    const ref = newReferenceNumber('AU', req.now);
    db.prepare(
      `INSERT INTO auth_ops (reference_number, context_type, context_value, method, start_ms, ready_ms, status_code, status_description,
        status_details, token_ref, permissions) VALUES (?, ?, ?, 'Token', ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      ref,
      body.contextIdentifier.type,
      body.contextIdentifier.value,
      req.now,
      req.now + ctx.options.authDelayMs,
      status.code,
      status.description,
      status.details ? JSON.stringify(status.details) : null,
      token?.reference_number ?? null,
      token?.permissions ?? '[]',
    );
    if (token) db.prepare(`UPDATE ksef_tokens SET last_use_ms = ? WHERE reference_number = ?`).run(req.now, token.reference_number);
    const exp = Math.floor(req.now / 1000) + ctx.options.authenticationTokenTtlSec;
    const { token: authenticationToken } = ctx.jwt.sign({ typ: 'AuthenticationToken', arn: ref, iat: Math.floor(req.now / 1000), exp });
    ctx.log.info(`auth ${ref} context ${body.contextIdentifier.type}:${body.contextIdentifier.value} -> ${status.code}`);
    return { status: 202, json: { referenceNumber: ref, authenticationToken: { token: authenticationToken, validUntil: iso(exp * 1000) } } };
  });

  router.add('GET', '/v2/auth/{referenceNumber}', (req) => {
    const claims = operationClaims(ctx, req, 'AuthenticationToken');
    const ref = req.params.referenceNumber as string;
    if (claims.arn !== ref) throw Errors.authNotFound(ref);
    return { status: 200, json: opView(getOp(ctx, ref), req.now) };
  });

  router.add('POST', '/v2/auth/token/redeem', (req) => {
    const claims = operationClaims(ctx, req, 'AuthenticationToken');
    const op = getOp(ctx, claims.arn);
    const st = currentStatus(op, req.now);
    if (st.code !== 200) throw Errors.noAuthorization(`Status uwierzytelniania (${st.code}) nie pozwala na pobranie tokenów.`);
    if (op.redeemed) throw Errors.noAuthorization(`Tokeny dla operacji uwierzytelniania ${op.reference_number} zostały już pobrane.`);
    if (tokenRevoked(ctx, op)) throw Errors.noAuthorization('Token KSeF został unieważniony.');
    const accessToken = issueAccessToken(ctx, op, req.now);
    const refreshExp = Math.floor(req.now / 1000) + ctx.options.refreshTokenTtlSec;
    const refresh = ctx.jwt.sign({ typ: 'RefreshToken', arn: op.reference_number, iat: Math.floor(req.now / 1000), exp: refreshExp });
    db.prepare(`UPDATE auth_ops SET redeemed = 1, refresh_jti = ?, refresh_valid_until_ms = ? WHERE reference_number = ?`).run(
      refresh.claims.jti,
      refreshExp * 1000,
      op.reference_number,
    );
    return { status: 200, json: { accessToken, refreshToken: { token: refresh.token, validUntil: iso(refreshExp * 1000) } } };
  });

  router.add('POST', '/v2/auth/token/refresh', (req) => {
    const claims = operationClaims(ctx, req, 'RefreshToken');
    const op = getOp(ctx, claims.arn);
    if (op.refresh_jti !== claims.jti) throw unauthorized('Nieprawidłowy token.');
    const st = currentStatus(op, req.now);
    if (st.code !== 200) throw Errors.noAuthorization(`Status uwierzytelniania (${st.code}) nie pozwala na odświeżenie tokenu dostępowego.`);
    if (tokenRevoked(ctx, op)) throw Errors.noAuthorization('Token KSeF został unieważniony.');
    db.prepare(`UPDATE auth_ops SET last_refresh_ms = ? WHERE reference_number = ?`).run(req.now, op.reference_number);
    return { status: 200, json: { accessToken: issueAccessToken(ctx, op, req.now) } };
  });

  router.add('GET', '/v2/auth/sessions', (req) => {
    const access = requireAccess(ctx, req);
    const { offset, pageSize } = readPage(req);
    const rows = db
      .prepare<[string, number, number, number], AuthOpRow>(
        `SELECT * FROM auth_ops WHERE context_value = ? AND redeemed = 1 AND revoked = 0 AND refresh_valid_until_ms > ?
         ORDER BY start_ms DESC LIMIT ? OFFSET ?`,
      )
      .all(access.nip, req.now, pageSize + 1, offset);
    const items = rows.slice(0, pageSize).map((op) => ({ ...opView(op, req.now), referenceNumber: op.reference_number, isCurrent: op.reference_number === access.authRef }));
    return { status: 200, json: { items, ...(rows.length > pageSize ? { continuationToken: continuationToken(offset + pageSize) } : {}) } };
  });

  const revoke = (req: RequestContext, ref: string) => {
    const access = requireAccess(ctx, req);
    const op = getOp(ctx, ref);
    if (op.context_value !== access.nip) throw Errors.authNotFound(ref);
    db.prepare(`UPDATE auth_ops SET revoked = 1 WHERE reference_number = ?`).run(ref);
    return { status: 204 };
  };
  router.add('DELETE', '/v2/auth/sessions/current', (req) => revoke(req, requireAccess(ctx, req).authRef));
  router.add('DELETE', '/v2/auth/sessions/{referenceNumber}', (req) => revoke(req, req.params.referenceNumber as string));

  router.add('POST', '/v2/tokens', (req) => {
    const access = requireAccess(ctx, req, ['CredentialsManage']);
    const body = req.json as { permissions: TokenPermission[]; description: string };
    const missing = body.permissions.filter((p) => !access.permissions.includes(p));
    if (missing.length) throw badRequest(26001, 'Nie można nadać tokenowi uprawnień których nie posiadasz.', `Brakujące uprawnienia: ${missing.join(', ')}`);
    const created = provisionToken(db, { nip: access.nip, permissions: body.permissions, description: body.description }, req.now);
    return { status: 202, json: { referenceNumber: created.referenceNumber, token: created.token } };
  });

  const tokenView = (t: TokenRow) => ({
    referenceNumber: t.reference_number,
    authorIdentifier: { type: 'Nip', value: t.nip },
    contextIdentifier: { type: 'Nip', value: t.nip },
    description: t.description,
    requestedPermissions: JSON.parse(t.permissions) as string[],
    dateCreated: iso(t.created_ms),
    ...(t.last_use_ms ? { lastUseDate: iso(t.last_use_ms) } : {}),
    status: t.status,
  });

  router.add('GET', '/v2/tokens', (req) => {
    const access = requireAccess(ctx, req, ['CredentialsRead', 'CredentialsManage']);
    const { offset, pageSize } = readPage(req);
    const statuses = req.query.getAll('status').flatMap((v) => v.split(','));
    const rows = db
      .prepare<[string], TokenRow>(`SELECT * FROM ksef_tokens WHERE nip = ? ORDER BY created_ms DESC`)
      .all(access.nip)
      .filter((t) => statuses.length === 0 || statuses.includes(t.status));
    const page = rows.slice(offset, offset + pageSize);
    return { status: 200, json: { tokens: page.map(tokenView), ...(rows.length > offset + pageSize ? { continuationToken: continuationToken(offset + pageSize) } : {}) } };
  });

  router.add('GET', '/v2/tokens/{referenceNumber}', (req) => {
    const access = requireAccess(ctx, req, ['CredentialsRead', 'CredentialsManage']);
    const ref = req.params.referenceNumber as string;
    const t = db.prepare<[string], TokenRow>(`SELECT * FROM ksef_tokens WHERE reference_number = ?`).get(ref);
    if (!t || t.nip !== access.nip) throw badRequest(21405, 'Błąd walidacji danych wejściowych.', `Token ${ref} nie został znaleziony.`);
    return { status: 200, json: tokenView(t) };
  });

  router.add('DELETE', '/v2/tokens/{referenceNumber}', (req) => {
    const access = requireAccess(ctx, req, ['CredentialsManage']);
    const ref = req.params.referenceNumber as string;
    const t = db.prepare<[string], TokenRow>(`SELECT * FROM ksef_tokens WHERE reference_number = ?`).get(ref);
    if (!t || t.nip !== access.nip) throw badRequest(21405, 'Błąd walidacji danych wejściowych.', `Token ${ref} nie został znaleziony.`);
    db.prepare(`UPDATE ksef_tokens SET status = 'Revoked' WHERE reference_number = ?`).run(ref);
    return { status: 204 };
  });
}
