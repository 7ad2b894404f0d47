import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../errors/index.js';
import { isSensitiveKey, LOG_LEVELS, Secret } from '../log/index.js';
import type { ConsoleFormat, LoggerOptions, LogLevel } from '../log/index.js';
import { ConfigLoadError } from './errors.js';
import { parseIni } from './ini.js';
import type { IniEntry, IniSection } from './ini.js';
import {
  closest,
  formatDuration,
  formatSize,
  formatTimeOfDay,
  normalizeNip,
  parseDuration,
  parseNip,
  parseSize,
  parseTimeOfDay,
} from './values.js';
import type { Parsed, TimeOfDay } from './values.js';

export type KsefEnvironment = 'test' | 'demo' | 'prod' | 'emulator';
export type SessionMode = 'immediate' | 'batch';
export type PackageFormat = 'zip' | 'tar.gz';

export const KSEF_ENVIRONMENT_NAMES: readonly KsefEnvironment[] = ['test', 'demo', 'prod', 'emulator'];

/** Official KSeF 2.0 addresses (ksef-docs/srodowiska.md, open-api.json `servers`, kody-qr.md). */
export const KSEF_ENVIRONMENTS: Readonly<Record<Exclude<KsefEnvironment, 'emulator'>, { apiBaseUrl: string; qrBaseUrl: string }>> = {
  test: { apiBaseUrl: 'https://api-test.ksef.mf.gov.pl/v2', qrBaseUrl: 'https://qr-test.ksef.mf.gov.pl' },
  demo: { apiBaseUrl: 'https://api-demo.ksef.mf.gov.pl/v2', qrBaseUrl: 'https://qr-demo.ksef.mf.gov.pl' },
  prod: { apiBaseUrl: 'https://api.ksef.mf.gov.pl/v2', qrBaseUrl: 'https://qr.ksef.mf.gov.pl' },
};

export const DEFAULT_EMULATOR_PORT = 8765;
/** KSeF limit: invoices per interactive or batch session (ksef-docs/limity/limity.md). */
export const KSEF_MAX_INVOICES_PER_SESSION = 10_000;
/** KSeF limit: size of a batch package (BatchFileInfo.fileSize in open-api.json). */
export const KSEF_MAX_PACKAGE_BYTES = 5_000_000_000;

export type TokenSource = { kind: 'inline' } | { kind: 'file'; path: string } | { kind: 'env'; variable: string };

export interface CompanyConfig {
  /** 'default' for the [ksef] company, else the <name> of [company:<name>]. */
  name: string;
  /** 10 digits, checksum verified. */
  nip: string;
  token: Secret;
  tokenSource: TokenSource;
  environment: KsefEnvironment;
  apiBaseUrl: string;
  /** QR verification base URL (undefined for the emulator). */
  qrBaseUrl: string | undefined;
  /** Section it came from, e.g. "[company:pl01]", and its line. */
  section: string;
  line: number;
}

export interface BridgeConfig {
  /** Absolute path of the ksef.ini the configuration came from. */
  file: string;
  ksef: {
    environment: KsefEnvironment;
    apiBaseUrl: string;
    qrBaseUrl: string | undefined;
    sessionMode: SessionMode;
    /** Immediate mode: this many documents waiting at once go through a batch session (0 = never). */
    autoBatchThreshold: number;
    requestTimeoutMs: number;
  };
  /** At least one. The [ksef] company (if any) comes first. */
  companies: readonly CompanyConfig[];
  batch: {
    maxInvoices: number;
    /** Send a batch when its oldest document has waited this long (undefined: only send_at). */
    maxWaitMs: number | undefined;
    /** Local times of day at which pending batches are sent (may be empty). */
    sendAt: readonly TimeOfDay[];
    maxPackageSizeBytes: number;
    format: PackageFormat;
  };
  paths: {
    dataDir: string;
    inbox: string;
    archive: string;
    error: string;
    /**
     * schema_dir when ksef.ini sets it, else undefined: pass it to resolveSchemaDir()
     * (src/schemas), which then looks in $KSEF_BRIDGE_SCHEMA_DIR and <project>/schemas.
     */
    schemaDir: string | undefined;
    database: string;
    /** routes.yaml for `ksef-bridge run` when ksef.ini names it; else undefined (run looks next to ksef.ini). */
    routes: string | undefined;
  };
  log: {
    level: LogLevel;
    /** JSON-lines log file; undefined when file = off. */
    file: string | undefined;
    console: ConsoleFormat;
  };
}

export interface LoadConfigOptions {
  /** Environment for token_env (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * 'required' (default): a token that cannot be read (unset variable, unreadable file) is a problem.
   * 'optional': for commands that only read the store (status, upo): such a token is left empty, no problem reported;
   * the key itself must still be there and well-formed.
   */
  tokens?: 'required' | 'optional';
}

export interface LoadConfigResult {
  config: BridgeConfig;
  /** Things the admin should fix that do not stop the bridge (e.g. file permissions). */
  warnings: string[];
}

/** Known keys per section kind; the order is the order in ksef.ini.example. */
export const CONFIG_KEYS = {
  ksef: ['nip', 'environment', 'token', 'token_file', 'token_env', 'session_mode', 'auto_batch_threshold', 'request_timeout', 'emulator_port', 'emulator_url'],
  batch: ['max_invoices', 'max_wait', 'send_at', 'max_package_size', 'format'],
  paths: ['data_dir', 'inbox', 'archive', 'error', 'schema_dir', 'database', 'routes'],
  log: ['level', 'file', 'console'],
  company: ['nip', 'token', 'token_file', 'token_env', 'environment'],
} as const;

type SectionKind = keyof typeof CONFIG_KEYS;
const FIXED_SECTIONS = ['ksef', 'batch', 'paths', 'log'] as const;
const TOKEN_KEYS = ['token', 'token_file', 'token_env'] as const;
const KSEF_TOKEN_MAX_LENGTH = 160;

class Problems {
  readonly list: ConfigError[] = [];
  constructor(readonly file: string) {}

  add(code: string, message: string, ctx: { line?: number; field?: string; value?: string; allowed?: string; section?: string }, hint?: string): void {
    const { section, ...rest } = ctx;
    this.list.push(new ConfigError(code, message, { file: this.file, ...rest, details: section ? { section } : undefined }, hint ? { hint } : {}));
  }
}

function shown(key: string, value: string): string {
  return isSensitiveKey(key) && !/_(file|env)$/.test(key) ? '***' : JSON.stringify(value);
}

/** Reads one section's entries: unknown and duplicate keys are reported at construction. */
class SectionReader {
  private readonly entries = new Map<string, IniEntry>();
  /** Keys whose problem is already reported (no second "missing" report for them). */
  private readonly reported = new Set<string>();

  constructor(
    readonly label: string,
    readonly section: IniSection | undefined,
    readonly kind: SectionKind,
    private readonly problems: Problems,
  ) {
    const known: readonly string[] = CONFIG_KEYS[kind];
    for (const e of section?.entries ?? []) {
      if (!known.includes(e.key)) {
        this.unknownKey(e, known);
        continue;
      }
      const first = this.entries.get(e.key);
      if (first) {
        problems.add(
          'CONFIG_DUPLICATE_KEY',
          `${label} ${e.key} is set twice (first on line ${first.line}); keep one`,
          { line: e.line, field: e.key, value: shown(e.key, e.value), allowed: 'each key once per section', section: label },
        );
        this.reported.add(e.key);
        continue;
      }
      if (e.value === '' && !e.quoted) {
        problems.add(
          'CONFIG_EMPTY_VALUE',
          `${label} ${e.key} has no value; give one or remove the line to use the default`,
          { line: e.line, field: e.key, value: '""', allowed: 'a value', section: label },
        );
        this.reported.add(e.key);
        continue;
      }
      this.entries.set(e.key, e);
    }
  }

  private unknownKey(e: IniEntry, known: readonly string[]): void {
    const suggestion = closest(e.key, known);
    const elsewhere = (Object.keys(CONFIG_KEYS) as SectionKind[]).filter((k) => k !== this.kind && (CONFIG_KEYS[k] as readonly string[]).includes(e.key));
    let advice = '';
    if (suggestion) advice = `; did you mean ${suggestion}?`;
    else if (elsewhere.length > 0) advice = `; ${e.key} belongs in ${elsewhere.map((s) => (s === 'company' ? '[company:<name>]' : `[${s}]`)).join(' or ')}`;
    this.problems.add(
      'CONFIG_UNKNOWN_KEY',
      `${this.label} unknown key ${e.key}${advice}`,
      // The value of an unknown key is never shown: it may be a token under a misspelled key.
      { line: e.line, field: e.key, value: '***', allowed: known.join(', '), section: this.label },
      suggestion ? `rename ${e.key} to ${suggestion}` : undefined,
    );
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  entry(key: string): IniEntry | undefined {
    return this.entries.get(key);
  }

  wasReported(key: string): boolean {
    return this.reported.has(key);
  }

  /** Reports a bad value for `key` and marks it reported. */
  invalid(e: IniEntry, code: string, reason: string, allowed: string, hint?: string): void {
    this.reported.add(e.key);
    this.problems.add(
      code,
      `${this.label} ${e.key} = ${shown(e.key, e.value)}: ${reason} (allowed: ${allowed})`,
      { line: e.line, field: e.key, value: shown(e.key, e.value), allowed, section: this.label },
      hint,
    );
  }

  missing(key: string, allowed: string, why = 'is required'): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.problems.add(
      'CONFIG_MISSING_KEY',
      `${this.label} ${key} ${why}`,
      { line: this.section?.line, field: key, allowed, section: this.label },
      `add "${key} = ..." to ${this.label}`,
    );
  }

  parse<T>(key: string, parser: (raw: string) => Parsed<T>, code: string, allowed: string): T | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const r = parser(e.value);
    if (r.ok) return r.value;
    this.invalid(e, code, r.reason, allowed);
    return undefined;
  }

  oneOf<T extends string>(key: string, values: readonly T[], fallback: T): T;
  oneOf<T extends string>(key: string, values: readonly T[], fallback?: undefined): T | undefined;
  oneOf<T extends string>(key: string, values: readonly T[], fallback?: T): T | undefined {
    const e = this.entries.get(key);
    if (!e) return fallback;
    const v = e.value.trim().toLowerCase();
    const found = values.find((x) => x === v);
    if (found !== undefined) return found;
    const suggestion = closest(v, values);
    this.invalid(e, 'CONFIG_INVALID_VALUE', `not an allowed value${suggestion ? `; did you mean ${suggestion}?` : ''}`, values.join(' | '));
    return fallback;
  }

  int(key: string, min: number, max: number, fallback: number): number {
    const e = this.entries.get(key);
    if (!e) return fallback;
    const v = e.value.replace(/[_\s]/g, '');
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      this.invalid(e, 'CONFIG_INVALID_VALUE', /^\d+$/.test(v) ? 'out of range' : 'not a whole number', `a whole number from ${min} to ${max}`);
      return fallback;
    }
    return Number(v);
  }

  duration(key: string, minMs: number, maxMs: number): number | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const allowed = `a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)} with units ms, s, m, h, d (e.g. 30s, 5m, 2h, 1h30m)`;
    const r = parseDuration(e.value);
    if (!r.ok) {
      this.invalid(e, 'CONFIG_BAD_DURATION', r.reason, allowed);
      return undefined;
    }
    if (r.value < minMs || r.value > maxMs) {
      this.invalid(e, 'CONFIG_BAD_DURATION', 'out of range', allowed);
      return undefined;
    }
    return r.value;
  }
}

interface TokenResult {
  token: Secret;
  source: TokenSource;
  inline: boolean;
}

function readToken(
  reader: SectionReader,
  baseDir: string,
  env: Readonly<Record<string, string | undefined>>,
  problems: Problems,
  warnings: string[],
  tokensOptional = false,
): TokenResult | undefined {
  const given = TOKEN_KEYS.filter((k) => reader.has(k));
  if (given.length === 0) {
    if (!TOKEN_KEYS.some((k) => reader.wasReported(k))) {
      reader.missing('token', 'exactly one of token, token_file, token_env', 'is missing: give exactly one of token, token_file or token_env');
    }
    return undefined;
  }
  if (given.length > 1) {
    const entries = given.map((k) => reader.entry(k)).filter((e): e is IniEntry => e !== undefined).sort((a, b) => a.line - b.line);
    const last = entries[entries.length - 1];
    if (last) {
      problems.add(
        'CONFIG_TOKEN_CONFLICT',
        `${reader.label} the token is given ${given.length} ways (${entries.map((e) => `${e.key} on line ${e.line}`).join(', ')}); keep exactly one`,
        { line: last.line, field: last.key, value: shown(last.key, last.value), allowed: 'exactly one of token, token_file, token_env', section: reader.label },
        'prefer token_file (chmod 600) or token_env over an inline token',
      );
    }
    return undefined;
  }
  const key = given[0];
  const e = key ? reader.entry(key) : undefined;
  if (!key || !e) return undefined;
  let value: string;
  let source: TokenSource;
  if (key === 'token') {
    value = e.value.trim();
    source = { kind: 'inline' };
  } else if (key === 'token_file') {
    const path = isAbsolute(e.value) ? e.value : resolve(baseDir, e.value);
    try {
      value = readFileSync(path, 'utf8').trim();
      if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
        warnings.push(`${path} (token_file of ${reader.label}) is readable by other users; run: chmod 600 ${path}`);
      }
    } catch (err) {
      if (tokensOptional) return { token: new Secret(''), source: { kind: 'file', path }, inline: false };
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      reader.invalid(e, 'CONFIG_TOKEN_FILE_UNREADABLE', `cannot read the token file ${path} (${code})`, 'a readable file holding the KSeF token');
      return undefined;
    }
    source = { kind: 'file', path };
  } else {
    const variable = e.value.trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) {
      reader.invalid(e, 'CONFIG_INVALID_VALUE', 'not an environment variable name', 'a variable name like KSEF_TOKEN');
      return undefined;
    }
    const fromEnv = env[variable];
    if (fromEnv === undefined || fromEnv.trim() === '') {
      if (tokensOptional) return { token: new Secret(''), source: { kind: 'env', variable }, inline: false };
      reader.invalid(e, 'CONFIG_TOKEN_ENV_MISSING', `environment variable ${variable} is not set or empty`, 'the name of a set environment variable holding the KSeF token');
      return undefined;
    }
    value = fromEnv.trim();
    source = { kind: 'env', variable };
  }
  if (value === '' || /\s/.test(value) || value.length > KSEF_TOKEN_MAX_LENGTH) {
    const why = value === '' ? 'the token is empty' : /\s/.test(value) ? 'the token contains white space' : `the token is longer than ${KSEF_TOKEN_MAX_LENGTH} characters`;
    // The token is registered before the report so it cannot leak through the message.
    new Secret(value);
    reader.invalid(e, 'CONFIG_INVALID_TOKEN', why, `a KSeF token (1-${KSEF_TOKEN_MAX_LENGTH} characters, no spaces)`);
    return undefined;
  }
  return { token: new Secret(value), source, inline: key === 'token' };
}

function readNip(reader: SectionReader): string | undefined {
  const e = reader.entry('nip');
  if (!e) return undefined;
  const r = parseNip(e.value);
  if (r.ok) return r.value;
  const badFormat = !/^\d{10}$/.test(normalizeNip(e.value));
  reader.invalid(e, badFormat ? 'CONFIG_INVALID_NIP' : 'CONFIG_NIP_CHECKSUM', r.reason, 'a 10-digit Polish NIP with a valid checksum (weights 6,5,7,2,3,4,5,6,7 mod 11)');
  return undefined;
}

function environmentUrls(env: KsefEnvironment, emulatorUrl: string): { apiBaseUrl: string; qrBaseUrl: string | undefined } {
  return env === 'emulator' ? { apiBaseUrl: emulatorUrl, qrBaseUrl: undefined } : KSEF_ENVIRONMENTS[env];
}

/**
 * Loads and validates ksef.ini. Every problem in the file is collected; if there is any,
 * a ConfigLoadError lists them all (each a ConfigError with file, line, key, value found
 * with secrets masked, and what is allowed). Tokens are wrapped in Secret (and thereby
 * registered with the log redaction). Relative paths are relative to the file's folder.
 */
export function loadConfig(path: string, options: LoadConfigOptions = {}): LoadConfigResult {
  const file = resolve(path);
  const env = options.env ?? process.env;
  const problems = new Problems(file);
  const warnings: string[] = [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    problems.add('CONFIG_FILE_UNREADABLE', `cannot read ${file} (${code})`, { allowed: 'a readable ksef.ini' }, 'copy ksef.ini.example to ksef.ini and edit it');
    throw new ConfigLoadError(file, problems.list);
  }
  const baseDir = dirname(file);
  const parsed = parseIni(text);
  for (const p of parsed.problems) problems.add('CONFIG_SYNTAX', p.message, { line: p.line, allowed: 'key = value, [section], ; comment' });

  // Sections: known, duplicate, unknown.
  const fixed = new Map<string, IniSection>();
  const companySections: { name: string; section: IniSection }[] = [];
  const seen = new Map<string, IniSection>();
  for (const s of parsed.sections) {
    const name = s.name.toLowerCase();
    if (name === '') {
      const first = s.entries[0];
      problems.add('CONFIG_KEY_OUTSIDE_SECTION', `key ${first?.key ?? ''} comes before any [section]`, {
        line: first?.line ?? s.line,
        field: first?.key,
        value: first ? '***' : undefined,
        allowed: 'keys inside [ksef], [batch], [paths], [log] or [company:<name>]',
      });
      continue;
    }
    const prev = seen.get(name);
    if (prev) {
      problems.add('CONFIG_DUPLICATE_SECTION', `[${s.name}] appears twice (first on line ${prev.line}); merge them`, {
        line: s.line,
        field: `[${s.name}]`,
        allowed: 'each section once',
      });
      continue;
    }
    seen.set(name, s);
    if ((FIXED_SECTIONS as readonly string[]).includes(name)) {
      fixed.set(name, s);
    } else if (name.startsWith('company:') || name === 'company') {
      const companyName = s.name.slice('company:'.length).trim();
      if (name === 'company' || !/^[A-Za-z0-9_.-]+$/.test(companyName)) {
        problems.add('CONFIG_BAD_SECTION', `[${s.name}]: a company section is written [company:<name>] with a name of letters, digits, _ . -`, {
          line: s.line,
          field: `[${s.name}]`,
          allowed: '[company:<name>]',
        });
        continue;
      }
      companySections.push({ name: companyName, section: s });
    } else {
      const suggestion = closest(name, [...FIXED_SECTIONS, 'company']);
      problems.add(
        'CONFIG_UNKNOWN_SECTION',
        `unknown section [${s.name}]${suggestion ? `; did you mean [${suggestion === 'company' ? 'company:<name>' : suggestion}]?` : ''}`,
        { line: s.line, field: `[${s.name}]`, allowed: '[ksef], [batch], [paths], [log], [company:<name>]' },
      );
    }
  }

  // [ksef]
  const ksefSection = fixed.get('ksef');
  const ksef = new SectionReader('[ksef]', ksefSection, 'ksef', problems);
  if (!ksefSection) {
    problems.add('CONFIG_MISSING_SECTION', 'the [ksef] section is missing', { line: 1, field: '[ksef]', allowed: '[ksef] with environment (and nip and a token for a single company)' });
  }
  const environment = ksef.oneOf('environment', KSEF_ENVIRONMENT_NAMES);
  if (ksefSection && !ksef.has('environment')) ksef.missing('environment', KSEF_ENVIRONMENT_NAMES.join(' | '));
  const emulatorPort = ksef.int('emulator_port', 1, 65535, DEFAULT_EMULATOR_PORT);
  let emulatorUrl = `http://127.0.0.1:${emulatorPort}/v2`;
  const emulatorUrlEntry = ksef.entry('emulator_url');
  if (emulatorUrlEntry) {
    const v = emulatorUrlEntry.value.trim().replace(/\/+$/, '');
    if (/^https?:\/\/[^\s/]+(\/\S*)?$/.test(v)) emulatorUrl = v;
    else ksef.invalid(emulatorUrlEntry, 'CONFIG_INVALID_VALUE', 'not an http(s) URL', 'an http:// or https:// URL such as http://127.0.0.1:8765/v2');
  }
  const sessionMode = ksef.oneOf('session_mode', ['immediate', 'batch'] as const, 'immediate');
  const autoBatchThreshold = ksef.int('auto_batch_threshold', 0, KSEF_MAX_INVOICES_PER_SESSION, 5);
  const requestTimeoutMs = ksef.duration('request_timeout', 1000, 600_000) ?? 30_000;

  // Companies.
  const companies: CompanyConfig[] = [];
  const envName: KsefEnvironment = environment ?? 'test';
  const ksefHasCompany = ksef.has('nip') || TOKEN_KEYS.some((k) => ksef.has(k)) || ksef.wasReported('nip');
  if (ksefSection && (ksefHasCompany || companySections.length === 0)) {
    if (!ksef.has('nip')) {
      ksef.missing('nip', 'a 10-digit NIP', companySections.length === 0 ? 'is required (or name companies in [company:<name>] sections)' : 'is required when [ksef] holds a token');
    }
    const nip = readNip(ksef);
    const token = readToken(ksef, baseDir, env, problems, warnings, options.tokens === 'optional');
    if (nip && token) {
      companies.push({
        name: 'default',
        nip,
        token: token.token,
        tokenSource: token.source,
        environment: envName,
        ...environmentUrls(envName, emulatorUrl),
        section: '[ksef]',
        line: ksefSection.line,
      });
    }
  }
  for (const { name, section } of companySections) {
    const label = `[company:${name}]`;
    const reader = new SectionReader(label, section, 'company', problems);
    if (!reader.has('nip')) reader.missing('nip', 'a 10-digit NIP');
    const nip = readNip(reader);
    const token = readToken(reader, baseDir, env, problems, warnings, options.tokens === 'optional');
    const companyEnv = reader.oneOf('environment', KSEF_ENVIRONMENT_NAMES) ?? envName;
    if (nip && token) {
      companies.push({
        name,
        nip,
        token: token.token,
        tokenSource: token.source,
        environment: companyEnv,
        ...environmentUrls(companyEnv, emulatorUrl),
        section: label,
        line: section.line,
      });
    }
  }
  const byNip = new Map<string, CompanyConfig>();
  for (const c of companies) {
    const prev = byNip.get(c.nip);
    if (prev) {
      problems.add('CONFIG_DUPLICATE_NIP', `${c.section} has NIP ${c.nip}, already used by ${prev.section} (line ${prev.line}); each NIP selects one company`, {
        line: c.line,
        field: 'nip',
        value: JSON.stringify(c.nip),
        allowed: 'a different NIP per company',
      });
    } else byNip.set(c.nip, c);
  }

  // [batch]
  const batch = new SectionReader('[batch]', fixed.get('batch'), 'batch', problems);
  const maxInvoices = batch.int('max_invoices', 1, KSEF_MAX_INVOICES_PER_SESSION, 1000);
  let maxWaitMs = batch.duration('max_wait', 1000, 7 * 86_400_000);
  const sendAt: TimeOfDay[] = [];
  const sendAtEntry = batch.entry('send_at');
  if (sendAtEntry) {
    for (const part of sendAtEntry.value.split(',')) {
      const r = parseTimeOfDay(part);
      if (r.ok) sendAt.push(r.value);
      else {
        batch.invalid(sendAtEntry, 'CONFIG_BAD_TIME', `${JSON.stringify(part.trim())}: ${r.reason}`, 'times of day HH:MM separated by commas, or "end of day" (23:30)');
        break;
      }
    }
    sendAt.sort((a, b) => a.hour * 60 + a.minute - (b.hour * 60 + b.minute));
  }
  if (maxWaitMs === undefined && !sendAtEntry && !batch.wasReported('max_wait')) maxWaitMs = 15 * 60_000;
  const maxPackageSizeBytes = (() => {
    const e = batch.entry('max_package_size');
    if (!e) return 100_000_000;
    const allowed = `a size from 1MB to ${formatSize(KSEF_MAX_PACKAGE_BYTES)} (B, KB, MB, GB decimal; KiB, MiB, GiB binary)`;
    const r = parseSize(e.value);
    if (!r.ok) batch.invalid(e, 'CONFIG_BAD_SIZE', r.reason, allowed);
    else if (r.value < 1_000_000 || r.value > KSEF_MAX_PACKAGE_BYTES) batch.invalid(e, 'CONFIG_BAD_SIZE', 'out of range', allowed);
    else return r.value;
    return 100_000_000;
  })();
  const format = batch.oneOf('format', ['zip', 'tar.gz'] as const, 'zip');

  // [paths]
  const paths = new SectionReader('[paths]', fixed.get('paths'), 'paths', problems);
  const pathOf = <T extends string | undefined>(key: string, fallback: T, base: string): string | T => {
    const e = paths.entry(key);
    if (!e) return fallback;
    return isAbsolute(e.value) ? e.value : resolve(base, e.value);
  };
  const dataDir = pathOf('data_dir', resolve(baseDir, 'data'), baseDir);
  const pathConfig = {
    dataDir,
    inbox: pathOf('inbox', join(dataDir, 'inbox'), baseDir),
    archive: pathOf('archive', join(dataDir, 'archive'), baseDir),
    error: pathOf('error', join(dataDir, 'error'), baseDir),
    schemaDir: pathOf('schema_dir', undefined, baseDir),
    database: pathOf('database', join(dataDir, 'ksef-bridge.sqlite'), baseDir),
    routes: pathOf('routes', undefined, baseDir),
  };
  const folders = ['inbox', 'archive', 'error'] as const;
  for (let i = 0; i < folders.length; i++) {
    for (let j = i + 1; j < folders.length; j++) {
      const a = folders[i];
      const b = folders[j];
      if (a && b && pathConfig[a] === pathConfig[b]) {
        const e = paths.entry(b) ?? paths.entry(a);
        if (e) paths.invalid(e, 'CONFIG_INVALID_VALUE', `${a} and ${b} are the same folder`, 'separate inbox, archive and error folders');
      }
    }
  }

  // [log]
  const log = new SectionReader('[log]', fixed.get('log'), 'log', problems);
  const level = log.oneOf('level', LOG_LEVELS, 'info');
  const logFileEntry = log.entry('file');
  const logFile =
    logFileEntry && /^(off|none|false)$/i.test(logFileEntry.value.trim())
      ? undefined
      : logFileEntry
        ? isAbsolute(logFileEntry.value)
          ? logFileEntry.value
          : resolve(baseDir, logFileEntry.value)
        : join(dataDir, 'ksef-bridge.log');
  const consoleFormat = log.oneOf('console', ['pretty', 'json', 'off'] as const, 'pretty');

  if (problems.list.length > 0) {
    problems.list.sort((a, b) => (a.context.line ?? 0) - (b.context.line ?? 0));
    throw new ConfigLoadError(file, problems.list);
  }

  if (process.platform !== 'win32' && companies.some((c) => c.tokenSource.kind === 'inline')) {
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      warnings.push(
        `${file} holds a KSeF token inline and is readable by other users (mode ${mode.toString(8).padStart(4, '0')}); ` +
          `run: chmod 600 ${file}, or move the token to token_file / token_env`,
      );
    }
  }

  const env0 = environment ?? 'test';
  return {
    config: {
      file,
      ksef: { environment: env0, ...environmentUrls(env0, emulatorUrl), sessionMode, autoBatchThreshold, requestTimeoutMs },
      companies,
      batch: { maxInvoices, maxWaitMs, sendAt, maxPackageSizeBytes, format },
      paths: pathConfig,
      log: { level, file: logFile, console: consoleFormat },
    },
    warnings,
  };
}

/**
 * The company whose NIP is `nip` (separators and a PL prefix are ignored), or undefined.
 * A single-company configuration does not match other NIPs: sending for a seller the
 * configuration does not name would use the wrong KSeF context.
 */
export function companyForNip(config: BridgeConfig, nip: string): CompanyConfig | undefined {
  const wanted = normalizeNip(nip);
  return config.companies.find((c) => c.nip === wanted);
}

/** Like companyForNip, but throws CONFIG_NO_COMPANY_FOR_NIP naming the configured NIPs. */
export function requireCompanyForNip(config: BridgeConfig, nip: string): CompanyConfig {
  const found = companyForNip(config, nip);
  if (found) return found;
  throw new ConfigError(
    'CONFIG_NO_COMPANY_FOR_NIP',
    `no company in ${config.file} has NIP ${normalizeNip(nip)} (configured: ${config.companies.map((c) => `${c.nip} ${c.section}`).join(', ')})`,
    { file: config.file, field: 'nip', value: normalizeNip(nip), allowed: config.companies.map((c) => c.nip).join(', ') },
    { hint: 'add a [company:<name>] section with this NIP and its token' },
  );
}

function tokenLine(c: CompanyConfig): string {
  switch (c.tokenSource.kind) {
    case 'inline':
      return 'token = ***';
    case 'file':
      return `token_file = ${c.tokenSource.path}    ; token = ***`;
    case 'env':
      return `token_env = ${c.tokenSource.variable}    ; token = ***`;
  }
}

/** The effective configuration (defaults filled in, paths absolute) as INI text, secrets masked. */
export function describeConfig(config: BridgeConfig): string {
  const lines: string[] = [`; effective configuration from ${config.file}`, '', '[ksef]'];
  const k = config.ksef;
  const single = config.companies.find((c) => c.section === '[ksef]');
  if (single) lines.push(`nip = ${single.nip}`);
  lines.push(`environment = ${k.environment}    ; ${k.apiBaseUrl}`);
  if (single) lines.push(tokenLine(single));
  lines.push(
    `session_mode = ${k.sessionMode}`,
    `auto_batch_threshold = ${k.autoBatchThreshold}`,
    `request_timeout = ${formatDuration(k.requestTimeoutMs)}`,
  );
  for (const c of config.companies) {
    if (c === single) continue;
    lines.push('', c.section, `nip = ${c.nip}`, tokenLine(c), `environment = ${c.environment}    ; ${c.apiBaseUrl}`);
  }
  const b = config.batch;
  lines.push(
    '',
    '[batch]',
    `max_invoices = ${b.maxInvoices}`,
    `max_wait = ${b.maxWaitMs === undefined ? '(none)' : formatDuration(b.maxWaitMs)}`,
    `send_at = ${b.sendAt.length === 0 ? '(none)' : b.sendAt.map(formatTimeOfDay).join(', ')}`,
    `max_package_size = ${formatSize(b.maxPackageSizeBytes)}`,
    `format = ${b.format}`,
  );
  const p = config.paths;
  lines.push('', '[paths]', `data_dir = ${p.dataDir}`, `inbox = ${p.inbox}`, `archive = ${p.archive}`, `error = ${p.error}`, `schema_dir = ${p.schemaDir ?? '(not set: $KSEF_BRIDGE_SCHEMA_DIR, else <installation>/schemas filled by npm run setup)'}`, `database = ${p.database}`, `routes = ${p.routes ?? '(not set: routes.yaml, else config/routes.yaml, next to ksef.ini)'}`);
  const l = config.log;
  lines.push('', '[log]', `level = ${l.level}`, `file = ${l.file ?? 'off'}`, `console = ${l.console}`);
  return `${lines.join('\n')}\n`;
}

/** Options for createLogger() (src/log) from the [log] section. */
export function loggerOptions(config: BridgeConfig): LoggerOptions {
  return { level: config.log.level, file: config.log.file ?? false, console: config.log.console };
}
