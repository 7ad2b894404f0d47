/**
 * KSeF 2.0 API emulator: a real HTTP server speaking the official open-api.json contract under /v2, with its own
 * keys and certificates, KSeF-token authentication, interactive and batch sessions, invoice verification, KSeF
 * numbers, statuses and UPO, state in SQLite. Public entry of src/emulator.
 *
 *   const emu = await startEmulator({ tokens: [{ nip: '5265877635', token: 'secret' }] });
 *   // emu.url === 'http://127.0.0.1:PORT' — clients use `${emu.url}/v2`
 *   await emu.close();
 *
 * Extension points (route modules with the same shape as the built-in ones in routes/): pass
 * `extensions: [(api) => { api.router.add(...); api.addInterceptor(...) }]` — used for buyer-side queries, exports,
 * per-endpoint rate limits (interceptor answering 429 with Retry-After) and fault injection.
 */
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { getXsdValidator } from '../schemas/index.js';
import { ContractValidator, resolveOpenApiPath } from './http/contract.js';
import { Router } from './http/router.js';
import { createHttpServer } from './http/server.js';
import { openDb, getMeta, setMeta } from './store/db.js';
import { generateKey, keyFromStored, type StoredKey } from './crypto/keys.js';
import { JwtSigner } from './crypto/jwt.js';
import { provisionToken } from './store/tokens.js';
import { Processor } from './processing/processor.js';
import { hmac, type EmulatorApi, type EmulatorContext, type EmulatorExtension, type RequestInterceptor, type ResolvedOptions } from './context.js';
import { DEFAULT_LIMITS, type EmulatorLogger, type EmulatorOptions, type ProvisionedToken } from './options.js';
import { registerSecurity } from './routes/security.js';
import { registerAuth } from './routes/auth.js';
import { registerTestdata } from './routes/testdata.js';
import { registerOnline } from './routes/online.js';
import { registerBatch } from './routes/batch.js';
import { registerStatus } from './routes/status.js';
import { registerAdmin, listInvoices, listSessions, type AdminInvoice, type AdminSession } from './routes/admin.js';
import { registerFaults, type FaultController } from './faults.js';
import { registerRateLimits, type RateLimitController } from './limits/index.js';
import { registerLimits } from './routes/limits.js';
import { invoiceDownloadRoutes } from './routes/invoices-query.js';

export type { EmulatorOptions, EmulatorLogger, EmulatorLimits, ProvisionedToken, TokenPermission, EmulatorConfigFile } from './options.js';
export { loadEmulatorConfig, parseTokenSpec, DEFAULT_LIMITS, ALL_TOKEN_PERMISSIONS } from './options.js';
export type { EmulatorApi, EmulatorContext, EmulatorExtension, RequestInterceptor, AccessContext } from './context.js';
export { requireAccess } from './context.js';
export type { HandlerResult, RequestContext, RouteOptions } from './http/router.js';
export { ApiError, badRequest, validationError, unauthorized, forbidden, tooManyRequests } from './http/errors.js';
export type { AdminInvoice, AdminSession } from './routes/admin.js';
export { isValidKsefNumber, crc8 } from './ids.js';
export type { FaultController, FaultRule, FaultRuleInput, FaultKind, FaultsConfig, MaintenanceWindow } from './faults.js';
export type { RateLimitController, RateLimitProfile, RateLimitState, ApiRateLimits, RateLimitGroup, RateLimitValues } from './limits/index.js';
export { PRODUCTION_RATE_LIMITS } from './limits/index.js';

/** Programmatic handle on the emulator's state (the same data as /emulator/admin). */
export interface EmulatorAdmin {
  provisionToken(token: ProvisionedToken): { referenceNumber: string; token: string };
  listSessions(limit?: number): AdminSession[];
  listInvoices(nip?: string, limit?: number): AdminInvoice[];
  /** Resolves when no processing is due (invoices, batches, session finalisation). */
  idle(): Promise<void>;
  /** Maintenance windows, error/delay/drop rules, processing delay — at run time. */
  faults: FaultController;
  /** Per-endpoint request limits (profile, time scale, per-context values, counters) — at run time. */
  limits: RateLimitController;
}

export interface RunningEmulator {
  /** Base URL, e.g. http://127.0.0.1:40123 (the API is under `${url}/v2`). */
  url: string;
  host: string;
  port: number;
  admin: EmulatorAdmin;
  close(): Promise<void>;
}

const consoleLogger: EmulatorLogger = {
  info: (m) => process.stdout.write(`[ksef-emulator] ${m}\n`),
  warn: (m) => process.stderr.write(`[ksef-emulator] WARN ${m}\n`),
  error: (m) => process.stderr.write(`[ksef-emulator] ERROR ${m}\n`),
};
const silent: EmulatorLogger = { info: () => {}, warn: () => {}, error: () => {} };

function resolveOptions(o: EmulatorOptions): ResolvedOptions {
  return {
    host: o.host ?? '127.0.0.1',
    port: o.port ?? 0,
    dbPath: o.dbPath ?? ':memory:',
    publicUrl: o.publicUrl?.replace(/\/+$/, ''),
    authDelayMs: o.authDelayMs ?? 0,
    processingDelayMs: o.processingDelayMs ?? 0,
    accessTokenTtlSec: o.accessTokenTtlSec ?? 900,
    refreshTokenTtlSec: o.refreshTokenTtlSec ?? 7 * 24 * 3600,
    authenticationTokenTtlSec: o.authenticationTokenTtlSec ?? 2700,
    challengeTtlSec: o.challengeTtlSec ?? 600,
    nipChecksum: o.nipChecksum ?? false,
    limits: { ...DEFAULT_LIMITS, ...(o.limits ?? {}) },
    schemaDir: o.schemaDir,
    verifyWorkers: Math.max(0, Math.min(8, Math.floor(o.verifyWorkers ?? 0))),
  };
}

async function loadKeys(db: ReturnType<typeof openDb>, now: number): Promise<StoredKey[]> {
  const stored = getMeta(db, 'keys');
  if (stored) return JSON.parse(stored) as StoredKey[];
  const keys = await Promise.all([generateKey('KsefTokenEncryption', now), generateKey('SymmetricKeyEncryption', now)]);
  setMeta(db, 'keys', JSON.stringify(keys));
  return keys;
}

function secret(db: ReturnType<typeof openDb>, name: string): Buffer {
  let v = getMeta(db, name);
  if (!v) {
    v = crypto.randomBytes(32).toString('base64');
    setMeta(db, name, v);
  }
  return Buffer.from(v, 'base64');
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const opts = resolveOptions(options);
  const now = options.now ?? Date.now;
  const log = options.logger === null ? silent : (options.logger ?? consoleLogger);
  const fa3 = getXsdValidator('fa3', options.schemaDir);
  const contract = options.validateRequests === false ? null : new ContractValidator(resolveOpenApiPath(options.openApiPath));
  const db = openDb(opts.dbPath);
  const closers: (() => void | Promise<void>)[] = [];
  try {
    const keys = (await loadKeys(db, now())).map(keyFromStored);
    const tokenKey = keys.find((k) => k.usage === 'KsefTokenEncryption');
    const symKey = keys.find((k) => k.usage === 'SymmetricKeyEncryption');
    if (!tokenKey || !symKey) throw new Error('emulator database holds incomplete keys');
    const urlSecret = secret(db, 'url_secret');
    let baseUrl = '';
    const ctx: EmulatorContext = {
      db,
      options: opts,
      now,
      log,
      keys: { tokenEncryption: tokenKey, symmetricKey: symKey, all: [tokenKey, symKey] },
      jwt: new JwtSigner(secret(db, 'jwt_secret')),
      baseUrl: () => baseUrl,
      processor: { kick: () => {}, idle: async () => {}, stop: async () => {} },
      fa3,
      signUrl: (resource, exp) => hmac(urlSecret, `${resource}|${exp}`),
      verifyUrl: (resource, exp, sig) => {
        const expected = Buffer.from(hmac(urlSecret, `${resource}|${exp}`));
        const given = Buffer.from(sig);
        return expected.length === given.length && crypto.timingSafeEqual(expected, given);
      },
    };
    const processor = new Processor(ctx);
    ctx.processor = processor;
    processor.warm();
    closers.push(() => processor.stop());

    const router = new Router();
    const interceptors: RequestInterceptor[] = [];
    const closingSignal = new AbortController();
    const api: EmulatorApi = { router, ctx, addInterceptor: (i) => interceptors.push(i), onClose: (fn) => closers.push(fn), closing: closingSignal.signal };
    const faults = registerFaults(api, options.faults ?? {}); // first: faults answer before anything else
    const limits = registerRateLimits(api, { profile: options.rateLimits, scale: options.rateLimitsScale }); // then 429
    const builtIn: EmulatorExtension[] = [registerSecurity, registerAuth, registerTestdata, registerOnline, registerBatch, registerStatus, registerLimits, registerAdmin, invoiceDownloadRoutes(options.invoiceDownload)];
    for (const register of [...builtIn, ...(options.extensions ?? [])]) register(api);
    // every other operation of the contract answers 501, saying plainly that the emulator does not implement it
    if (contract) {
      const served = new Set(router.list().map((r) => `${r.method} ${r.pattern}`));
      for (const op of contract.operations()) {
        if (served.has(`${op.method} /v2${op.path}`)) continue;
        router.add(
          op.method,
          `/v2${op.path}`,
          (req) => ({
            status: 501,
            json: { title: 'Not Implemented', status: 501, detail: `Emulator KSeF nie obsługuje operacji ${op.method} ${op.path}.`, instance: req.path, timestamp: new Date(req.now).toISOString() },
            contentType: 'application/problem+json',
          }),
          { operation: null, raw: true },
        );
      }
    }

    for (const t of options.tokens ?? []) provisionToken(db, t, now());

    const httpLayer = createHttpServer({ router, contract, interceptors, log, now, baseUrl: () => baseUrl });
    const server = httpLayer.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => resolve());
    });
    const addr = server.address() as AddressInfo;
    const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
    baseUrl = opts.publicUrl ?? `http://${hostForUrl}:${addr.port}`;
    processor.kick();
    log.info(`KSeF emulator listening on ${baseUrl} (API ${baseUrl}/v2, state ${opts.dbPath})`);

    let closing: Promise<void> | null = null;
    const shutdown = async (): Promise<void> => {
      httpLayer.beginClose(); // a request past its interceptors from now on is refused, never handled
      closingSignal.abort(); // fault delays end now instead of being waited out
      const stopped = new Promise<void>((resolve) => server.close(() => resolve())); // stop accepting
      server.closeAllConnections();
      await httpLayer.drain(); // requests in progress finish (or are refused) before the state goes away
      await stopped;
      for (const c of closers.reverse()) await c();
      db.close();
    };
    return {
      url: baseUrl,
      host: opts.host,
      port: addr.port,
      admin: {
        provisionToken: (t) => provisionToken(db, t, now()),
        listSessions: (limit) => listSessions(ctx, limit),
        listInvoices: (nip, limit) => listInvoices(ctx, nip, limit),
        idle: () => processor.idle(),
        faults,
        limits,
      },
      // one shutdown, whoever asks: a second close() gets the same promise and resolves only when the first is done
      close: () => (closing ??= shutdown()),
    };
  } catch (e) {
    for (const c of closers.reverse()) await c();
    db.close();
    throw e;
  }
}
