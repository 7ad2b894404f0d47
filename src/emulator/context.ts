/**
 * What route modules share: the state database, keys, token signer, clock, logger, options, and the registration
 * API extensions use (`EmulatorApi`). A route module is a function `(api: EmulatorApi) => void` that adds routes
 * and, if it needs to see every request first (rate limits, fault injection), an interceptor.
 */
import crypto from 'node:crypto';
import type { Db } from './store/db.js';
import type { EmulatorKey } from './crypto/keys.js';
import type { JwtSigner, TokenClaims } from './crypto/jwt.js';
import type { EmulatorLimits, EmulatorLogger, TokenPermission } from './options.js';
import type { HandlerResult, RequestContext, Router } from './http/router.js';
import type { XsdValidator } from '../schemas/index.js';
import { forbidden, unauthorized } from './http/errors.js';

export interface ResolvedOptions {
  host: string;
  port: number;
  dbPath: string;
  publicUrl: string | undefined;
  authDelayMs: number;
  processingDelayMs: number;
  accessTokenTtlSec: number;
  refreshTokenTtlSec: number;
  authenticationTokenTtlSec: number;
  challengeTtlSec: number;
  nipChecksum: boolean;
  limits: EmulatorLimits;
  /** Schema directory given in the options (verification workers compile the FA(3) schema from it). */
  schemaDir: string | undefined;
  verifyWorkers: number;
}

/** Background work (invoice and batch processing); implemented in processing/processor.ts. */
export interface ProcessingScheduler {
  /** Makes sure due work runs (now, or at `atMs`). */
  kick(atMs?: number): void;
  /** Resolves when no work is due or pending (tests, shutdown). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export interface EmulatorContext {
  db: Db;
  options: ResolvedOptions;
  now(): number;
  log: EmulatorLogger;
  keys: { tokenEncryption: EmulatorKey; symmetricKey: EmulatorKey; all: EmulatorKey[] };
  jwt: JwtSigner;
  /** Base URL clients reach the emulator at (no trailing slash); known once the server listens. */
  baseUrl(): string;
  processor: ProcessingScheduler;
  fa3: XsdValidator;
  /** HMAC signature for pre-signed URLs (batch part upload, UPO download). */
  signUrl(resource: string, expiresMs: number): string;
  verifyUrl(resource: string, expiresMs: number, sig: string): boolean;
}

/** Returns a response to answer the request without routing it (faults, 429), or null to let it through. */
export type RequestInterceptor = (req: RequestContext) => HandlerResult | null | Promise<HandlerResult | null>;

export interface EmulatorApi {
  router: Router;
  ctx: EmulatorContext;
  /** Runs before routing, in registration order. */
  addInterceptor(interceptor: RequestInterceptor): void;
  /**
   * Runs when the emulator closes, after the server stopped accepting and every request in progress finished, before
   * the state database closes.
   */
  onClose(fn: () => void | Promise<void>): void;
  /** Aborted as soon as close() begins: waits inside interceptors (fault delays) end early with it. */
  closing: AbortSignal;
}

/** A route module: built-in ones live in routes/, extra ones come through `EmulatorOptions.extensions`. */
export type EmulatorExtension = (api: EmulatorApi) => void;

export interface AccessContext {
  nip: string;
  authRef: string;
  permissions: TokenPermission[];
  claims: TokenClaims;
}

export function bearer(req: RequestContext): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  return m ? (m[1] as string) : null;
}

/**
 * Checks the access token (`Authorization: Bearer <accessToken>`): well signed, an access token, not expired, its
 * authentication not revoked; 401 otherwise. With `anyOf`, the token must hold one of those permissions (403).
 */
export function requireAccess(ctx: EmulatorContext, req: RequestContext, anyOf: TokenPermission[] = []): AccessContext {
  const token = bearer(req);
  if (!token) throw unauthorized();
  const claims = ctx.jwt.verify(token);
  if (!claims || claims.typ !== 'ContextToken') throw unauthorized('Nieprawidłowy token dostępu.');
  if (claims.exp * 1000 <= req.now) throw unauthorized('Token dostępu wygasł.');
  const permissions = (claims.per ?? []) as TokenPermission[];
  if (anyOf.length > 0 && !anyOf.some((p) => permissions.includes(p))) {
    throw forbidden('missing-permissions', 'Brak wymaganych uprawnień do wykonania operacji w bieżącym kontekście.', {
      requiredAnyOfPermissions: anyOf,
      presentPermissions: permissions,
    });
  }
  return { nip: claims['context-identifier-value'] ?? '', authRef: claims.arn, permissions, claims };
}

export function hmac(secret: Buffer, data: string): string {
  return crypto.createHmac('sha256', secret).update(data).digest('base64url');
}

export const iso = (ms: number): string => new Date(ms).toISOString();
