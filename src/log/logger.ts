import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { format as utilFormat } from 'node:util';
import winston from 'winston';
import { isSensitiveKey, redact, redactPatterns, redactValue } from './redact.js';

export const LOG_LEVELS = ['error', 'warn', 'info', 'verbose', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** How console lines look: readable text, JSON lines, or no console output. */
export type ConsoleFormat = 'pretty' | 'json' | 'off';

/** Structured fields of a log line (documentId, session, counts, an error...). */
export type LogFields = Record<string, unknown>;

export interface LoggerOptions {
  /** Lowest level written; default 'info'. */
  level?: LogLevel;
  /** JSON-lines log file (created with mode 0600, directory created); omit or false for none. */
  file?: string | false;
  /** Console format (written to stderr); default 'pretty'. */
  console?: ConsoleFormat;
  /** Where console lines go instead of process.stderr (tests, embedding). */
  consoleStream?: NodeJS.WritableStream;
  /** Fields on every line (e.g. { company: 'pl01' }). */
  fields?: LogFields;
}

export interface BridgeLogger {
  readonly level: LogLevel;
  /**
   * Logs a line. `message` may hold printf tokens (%s %d %j %o) filled from the
   * following arguments; after them, a plain object adds fields and an Error is
   * logged as the `error` field (message, stack, cause, code). Everything is redacted.
   */
  log(level: LogLevel, message: string | Error, ...args: unknown[]): void;
  error(message: string | Error, ...args: unknown[]): void;
  warn(message: string | Error, ...args: unknown[]): void;
  info(message: string | Error, ...args: unknown[]): void;
  verbose(message: string | Error, ...args: unknown[]): void;
  debug(message: string | Error, ...args: unknown[]): void;
  /** A logger that adds these fields to every line. */
  child(fields: LogFields): BridgeLogger;
  /** A logger for one document: every line carries `documentId`. */
  forDocument(documentId: string | number, fields?: LogFields): BridgeLogger;
  /** True when a line at this level would be written. */
  isLevelEnabled(level: LogLevel): boolean;
  /** Flushes and closes the transports (the root logger's; children share them). */
  close(): Promise<void>;
}

const LEVEL = Symbol.for('level');
const MESSAGE = Symbol.for('message');
const SPLAT = Symbol.for('splat');

type Info = winston.Logform.TransformableInfo & Record<string | symbol, unknown>;

/** Redacts every field of a log record, its splat arguments and its formatted line. */
const redactFormat = winston.format((info: winston.Logform.TransformableInfo) => {
  const rec = info as Info;
  for (const key of Object.keys(rec)) {
    if (key === 'level') continue;
    if (isSensitiveKey(key) && rec[key] !== null && rec[key] !== undefined && typeof rec[key] !== 'boolean') {
      rec[key] = '***';
      continue;
    }
    rec[key] = key === 'message' && typeof rec[key] === 'string' ? redact(rec[key]) : redactValue(rec[key]);
  }
  const splat = rec[SPLAT];
  if (splat !== undefined) rec[SPLAT] = redactValue(splat);
  const line = rec[MESSAGE];
  if (typeof line === 'string') rec[MESSAGE] = redact(line);
  return rec;
});

const RESERVED = new Set(['level', 'message', 'timestamp', 'documentId', 'error']);

function errorLines(err: unknown): string[] {
  if (!err || typeof err !== 'object') return [String(err)];
  const e = err as Record<string, unknown>;
  const code = typeof e.code === 'string' ? ` [${e.code}]` : '';
  const lines =
    typeof e.stack === 'string'
      ? e.stack.split('\n').map((l, i) => (i === 0 ? `${l}${code}` : l))
      : [`${String(e.name ?? 'Error')}: ${String(e.message ?? '')}${code}`];
  if (e.cause !== undefined) lines.push('caused by:', ...errorLines(e.cause).map((l) => `  ${l}`));
  return lines;
}

function errorText(err: unknown, indent: string): string {
  return errorLines(err).map((l) => indent + l).join('\n');
}

const prettyLine = winston.format.printf((info) => {
  const rec = info as Info;
  const doc = rec.documentId !== undefined ? ` [doc ${String(rec.documentId)}]` : '';
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec)) if (!RESERVED.has(k) && k !== 'stack') rest[k] = v;
  const fields = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
  const err = rec.error !== undefined ? `\n${errorText(rec.error, '    ')}` : '';
  const stack = typeof rec.stack === 'string' ? `\n${rec.stack}` : '';
  return `${String(rec.timestamp)} ${rec.level.toUpperCase().padEnd(7)}${doc} ${String(rec.message)}${fields}${err}${stack}`;
});

/** Last pass over the formatted line; JSON lines get the JSON-safe pass (their fields were redacted already). */
const finalRedact = winston.format((info: winston.Logform.TransformableInfo, opts?: unknown) => {
  const rec = info as Info;
  const line = rec[MESSAGE];
  if (typeof line === 'string') rec[MESSAGE] = (opts as { json?: boolean } | undefined)?.json ? redactPatterns(line) : redact(line);
  return rec;
});

function lineFormat(kind: 'pretty' | 'json'): winston.Logform.Format {
  return winston.format.combine(redactFormat(), kind === 'pretty' ? prettyLine : winston.format.json(), finalRedact({ json: kind === 'json' }));
}

/** winston's typings name the transport base class `transport`; at run time it is `Transport`. */
type TransportInstance = Writable & { format?: winston.Logform.Format; log?(info: Info, next: () => void): void; close?(): void };
type TransportCtor = new (opts: { format: winston.Logform.Format }) => TransportInstance;
const TransportBase = (winston as unknown as { Transport: TransportCtor }).Transport;

/** Writes formatted lines to a file descriptor synchronously: a line is on disk when log() returns. */
class FileLineTransport extends TransportBase {
  private fd: number | undefined;

  constructor(readonly filename: string, opts: { format: winston.Logform.Format }) {
    super(opts);
    mkdirSync(dirname(filename), { recursive: true });
    this.fd = openSync(filename, 'a', 0o600);
  }

  override log(info: Info, next: () => void): void {
    const line = info[MESSAGE];
    if (this.fd !== undefined && typeof line === 'string') writeSync(this.fd, `${line}\n`);
    next();
  }

  override close(): void {
    if (this.fd === undefined) return;
    try {
      fsyncSync(this.fd);
    } catch {
      /* not every file system supports fsync; the lines are written already */
    }
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Writes formatted lines to a stream (stderr by default). */
class StreamLineTransport extends TransportBase {
  constructor(private readonly stream: NodeJS.WritableStream, opts: { format: winston.Logform.Format }) {
    super(opts);
  }

  override log(info: Info, next: () => void): void {
    const line = info[MESSAGE];
    if (typeof line === 'string') this.stream.write(`${line}\n`);
    next();
  }
}

const TOKEN = /%[sdifjoOc]/g;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || v instanceof Error || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function forFormatting(arg: unknown): unknown {
  if (arg instanceof Error) return arg.message;
  if (arg !== null && typeof arg === 'object') return redactValue(arg);
  return arg;
}

function buildInfo(level: LogLevel, message: string | Error, args: unknown[], base: LogFields): Info {
  const fields: LogFields = {};
  const errors: Error[] = [];
  let text: string;
  if (message instanceof Error) {
    errors.push(message);
    text = message.message;
  } else {
    text = String(message);
  }
  const tokenCount = (text.match(TOKEN) ?? []).length;
  const formatArgs = args.slice(0, tokenCount);
  const extra: unknown[] = [];
  for (const arg of args.slice(tokenCount)) {
    if (arg instanceof Error) errors.push(arg);
    else if (isPlainObject(arg)) Object.assign(fields, arg);
    else extra.push(arg);
  }
  if (formatArgs.length > 0 || extra.length > 0) text = utilFormat(text, ...formatArgs.map(forFormatting), ...extra.map(forFormatting));
  const info: Info = { ...base, ...fields, level, message: text } as Info;
  const firstError = errors[0];
  if (firstError) {
    const existing = info.error;
    info.error = firstError;
    if (existing !== undefined) info.errorField = existing;
    if (errors.length > 1) info.moreErrors = errors.slice(1);
  }
  info[LEVEL] = level;
  info[SPLAT] = args;
  return info;
}

class WrappedLogger implements BridgeLogger {
  constructor(
    private readonly root: winston.Logger,
    private readonly fields: LogFields,
    private readonly closer: () => Promise<void>,
    private readonly state: { closed: boolean },
  ) {}

  get level(): LogLevel {
    return this.root.level as LogLevel;
  }

  log(level: LogLevel, message: string | Error, ...args: unknown[]): void {
    // After close() lines are dropped (a late callback must not crash the process).
    if (this.state.closed || !this.root.isLevelEnabled(level)) return;
    this.root.log(buildInfo(level, message, args, this.fields) as winston.LogEntry);
  }
  error(message: string | Error, ...args: unknown[]): void {
    this.log('error', message, ...args);
  }
  warn(message: string | Error, ...args: unknown[]): void {
    this.log('warn', message, ...args);
  }
  info(message: string | Error, ...args: unknown[]): void {
    this.log('info', message, ...args);
  }
  verbose(message: string | Error, ...args: unknown[]): void {
    this.log('verbose', message, ...args);
  }
  debug(message: string | Error, ...args: unknown[]): void {
    this.log('debug', message, ...args);
  }
  child(fields: LogFields): BridgeLogger {
    return new WrappedLogger(this.root, { ...this.fields, ...fields }, this.closer, this.state);
  }
  forDocument(documentId: string | number, fields: LogFields = {}): BridgeLogger {
    return this.child({ ...fields, documentId });
  }
  isLevelEnabled(level: LogLevel): boolean {
    return this.root.isLevelEnabled(level);
  }
  close(): Promise<void> {
    return this.closer();
  }
}

/**
 * Creates the bridge logger: readable (or JSON) lines on stderr, JSON lines in `file`.
 * Every transport redacts; see redact.ts for what is removed.
 */
export function createLogger(options: LoggerOptions = {}): BridgeLogger {
  const level = options.level ?? 'info';
  const transports: Array<FileLineTransport | StreamLineTransport> = [];
  const consoleFormat = options.console ?? 'pretty';
  if (consoleFormat !== 'off') {
    transports.push(new StreamLineTransport(options.consoleStream ?? process.stderr, { format: lineFormat(consoleFormat) }));
  }
  if (options.file) transports.push(new FileLineTransport(options.file, { format: lineFormat('json') }));
  const root = winston.createLogger({
    levels: { error: 0, warn: 1, info: 2, verbose: 4, debug: 5 },
    level,
    exitOnError: false,
    format: winston.format.combine(redactFormat(), winston.format.timestamp()),
    transports: transports as unknown as winston.LoggerOptions['transports'],
    // winston complains when a logger has no transport; a silent one keeps 'off' quiet.
    silent: transports.length === 0,
  });
  let closing: Promise<void> | undefined;
  const state = { closed: false };
  const closer = (): Promise<void> => {
    closing ??= (async () => {
      state.closed = true;
      const finished = transports.map((t) => once(t, 'finish'));
      root.end();
      await Promise.all(finished);
      for (const t of transports) t.close?.();
    })();
    return closing;
  };
  return new WrappedLogger(root, { ...(options.fields ?? {}) }, closer, state);
}
