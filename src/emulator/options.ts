/**
 * Options of the KSeF emulator: what the CLI (`ksef-bridge emulator`), a JSON config file and tests can set.
 * Everything has a default, so `startEmulator()` with no options gives a working in-memory emulator on a free port.
 */
import fs from 'node:fs';
import { ConfigError } from '../errors/index.js';
import type { FaultsConfig } from './faults.js';
import type { EmulatorExtension } from './context.js';

/** A KSeF token provisioned for a NIP context (the emulator's stand-in for `POST /tokens` after XAdES login). */
export interface ProvisionedToken {
  /** Context NIP the token authenticates in. */
  nip: string;
  /** The secret token string a client encrypts as `token|timestampMs`. */
  token: string;
  /** Permissions of the token; default: every token permission. */
  permissions?: TokenPermission[];
  description?: string;
}

export type TokenPermission =
  | 'InvoiceRead'
  | 'InvoiceWrite'
  | 'CredentialsRead'
  | 'CredentialsManage'
  | 'SubunitManage'
  | 'EnforcementOperations'
  | 'Introspection';

export const ALL_TOKEN_PERMISSIONS: readonly TokenPermission[] = [
  'InvoiceRead',
  'InvoiceWrite',
  'CredentialsRead',
  'CredentialsManage',
  'SubunitManage',
  'EnforcementOperations',
  'Introspection',
];

/** One readable line per request, or an event of the emulator. */
export interface EmulatorLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface EmulatorOptions {
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Port; 0 (default) picks a free one. */
  port?: number;
  /** SQLite file for the state, or ':memory:' (default). */
  dbPath?: string;
  /**
   * Base URL clients see (used in part upload and UPO download URLs). Default: http://{host}:{port}.
   * Set it when the emulator runs behind a proxy.
   */
  publicUrl?: string;
  /** KSeF tokens to provision at start. */
  tokens?: ProvisionedToken[];
  /** Directory with the official XSD schemas (FA(3), UPO); default: resolveSchemaDir(). */
  schemaDir?: string;
  /** Path of the official open-api.json; default: $KSEF_BRIDGE_OPENAPI, then ../shared/ksef/open-api.json. */
  openApiPath?: string;
  /** Validate request bodies, query and path parameters against open-api.json (default true). */
  validateRequests?: boolean;
  /** Delay before an authentication operation leaves status 100, in ms (default 0). */
  authDelayMs?: number;
  /** Delay before a sent invoice or a closed batch is processed, in ms (default 0). */
  processingDelayMs?: number;
  /** Lifetime of access tokens in seconds (default 900 = 15 min). */
  accessTokenTtlSec?: number;
  /** Lifetime of refresh tokens in seconds (default 7 days). */
  refreshTokenTtlSec?: number;
  /** Lifetime of the authentication operation token in seconds (default 2700 = 45 min). */
  authenticationTokenTtlSec?: number;
  /** Lifetime of a challenge in seconds (default 600, as documented). */
  challengeTtlSec?: number;
  /**
   * Check NIP checksums of Podmiot1/2/3 (documented for production only). Default false, like the test environment.
   */
  nipChecksum?: boolean;
  /**
   * Worker threads verifying the invoices of big batches (1,000 invoices or more, mostly FA(3) XSD validation) while
   * the main thread unpacks and stores. Default 0: everything on the main thread. Each worker costs some 30-60 MB
   * and starts with the emulator (seconds when running from the TypeScript sources through tsx).
   */
  verifyWorkers?: number;
  /** Receives one line per request and emulator events; default: console; null: silent. */
  logger?: EmulatorLogger | null;
  /** Clock, for tests that need time to move (ms since epoch). Default Date.now. */
  now?: () => number;
  /** Extra route modules (buyer queries, exports, limits, faults) registered after the built-in ones. */
  extensions?: EmulatorExtension[];
  /** Limits per session; defaults as documented (limity.md, weryfikacja-faktury.md). */
  limits?: Partial<EmulatorLimits>;
  /** Faults active from the start (maintenance window, error/delay/drop rules); see faults.ts. */
  faults?: FaultsConfig;
  /** Per-endpoint API request limits (429): 'production', 'test' (10x production) or 'off' (default); see limits/. */
  rateLimits?: 'production' | 'test' | 'off';
  /** Time scale of the rate-limit windows and blocks (default 1; 1/60 makes an hour last a minute). */
  rateLimitsScale?: number;
}

/** Documented limits (weryfikacja-faktury.md, limity.md, sesja-wsadowa.md). */
export interface EmulatorLimits {
  maxInvoicesPerSession: number;
  maxInvoiceSize: number;
  maxInvoiceWithAttachmentSize: number;
  maxBatchParts: number;
  maxPartSize: number;
  maxPackageSize: number;
  /** Time to upload each part of a batch, per declared part, in ms (20 min per part). */
  partUploadWindowPerPartMs: number;
  /** Lifetime of an interactive session (12 h). */
  onlineSessionTtlMs: number;
}

export const DEFAULT_LIMITS: EmulatorLimits = {
  maxInvoicesPerSession: 10_000,
  maxInvoiceSize: 1_000_000,
  maxInvoiceWithAttachmentSize: 3_000_000,
  maxBatchParts: 50,
  maxPartSize: 100_000_000,
  maxPackageSize: 5_000_000_000,
  partUploadWindowPerPartMs: 20 * 60_000,
  onlineSessionTtlMs: 12 * 3_600_000,
};


/** Shape of the JSON config file (`ksef-bridge emulator --config emulator.json`). */
export interface EmulatorConfigFile extends Omit<EmulatorOptions, 'logger' | 'now' | 'extensions'> {}

const NUMBER_KEYS = [
  'port',
  'authDelayMs',
  'processingDelayMs',
  'accessTokenTtlSec',
  'refreshTokenTtlSec',
  'authenticationTokenTtlSec',
  'challengeTtlSec',
  'verifyWorkers',
] as const;

/** Reads and checks an emulator JSON config file; errors name the file and the key. */
export function loadEmulatorConfig(file: string): EmulatorConfigFile {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError('EMULATOR_CONFIG_UNREADABLE', `cannot read emulator config ${file}: ${(e as Error).message}`, { file });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('EMULATOR_CONFIG_INVALID', `emulator config ${file} must hold a JSON object`, { file });
  }
  const cfg = raw as Record<string, unknown>;
  for (const key of NUMBER_KEYS) {
    if (cfg[key] !== undefined && (typeof cfg[key] !== 'number' || !Number.isFinite(cfg[key]) || (cfg[key] as number) < 0)) {
      throw new ConfigError('EMULATOR_CONFIG_INVALID', `${key} must be a non-negative number`, { file, field: key, value: String(cfg[key]) });
    }
  }
  if (cfg.rateLimits !== undefined && !['production', 'test', 'off'].includes(cfg.rateLimits as string)) {
    throw new ConfigError('EMULATOR_CONFIG_INVALID', 'rateLimits must be "production", "test" or "off"', { file, field: 'rateLimits', value: String(cfg.rateLimits), allowed: 'production, test, off' });
  }
  if (cfg.rateLimitsScale !== undefined && (typeof cfg.rateLimitsScale !== 'number' || !(cfg.rateLimitsScale > 0) || cfg.rateLimitsScale > 1000)) {
    throw new ConfigError('EMULATOR_CONFIG_INVALID', 'rateLimitsScale must be a number > 0 and <= 1000', { file, field: 'rateLimitsScale', value: String(cfg.rateLimitsScale) });
  }
  for (const key of ['host', 'dbPath', 'publicUrl', 'schemaDir', 'openApiPath'] as const) {
    if (cfg[key] !== undefined && typeof cfg[key] !== 'string') {
      throw new ConfigError('EMULATOR_CONFIG_INVALID', `${key} must be a string`, { file, field: key });
    }
  }
  if (cfg.tokens !== undefined) {
    if (!Array.isArray(cfg.tokens)) throw new ConfigError('EMULATOR_CONFIG_INVALID', 'tokens must be an array', { file, field: 'tokens' });
    cfg.tokens.forEach((t: unknown, i: number) => {
      const o = t as Record<string, unknown> | null;
      if (!o || typeof o.nip !== 'string' || !/^\d{10}$/.test(o.nip) || typeof o.token !== 'string' || o.token.length === 0) {
        throw new ConfigError('EMULATOR_CONFIG_INVALID', `tokens[${i}] needs a 10-digit "nip" and a non-empty "token"`, {
          file,
          field: `tokens[${i}]`,
        });
      }
    });
  }
  return cfg as EmulatorConfigFile;
}

/** Parses "NIP:TOKEN" (the CLI's --token option). */
export function parseTokenSpec(spec: string): ProvisionedToken {
  const i = spec.indexOf(':');
  const nip = i > 0 ? spec.slice(0, i) : '';
  const token = i > 0 ? spec.slice(i + 1) : '';
  if (!/^\d{10}$/.test(nip) || token.length === 0) {
    throw new ConfigError('EMULATOR_TOKEN_INVALID', `token must be given as NIP:TOKEN (10-digit NIP)`, { field: '--token', allowed: 'NIP:TOKEN' });
  }
  return { nip, token };
}
