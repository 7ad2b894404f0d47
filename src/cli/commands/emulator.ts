/**
 * `ksef-bridge emulator`: runs the bundled KSeF 2.0 emulator until Ctrl-C, for tests, demos and consultants' laptops.
 * Tokens come from --token NIP:TOKEN (repeatable), a JSON config file, or the /testdata endpoints at run time.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  type EmulatorConfigFile,
  type EmulatorOptions,
  type FaultRuleInput,
  loadEmulatorConfig,
  parseTokenSpec,
  startEmulator,
} from '../../emulator/index.js';
import { ConfigError } from '../../errors/index.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { type Io, reportError } from '../shared.js';

export interface EmulatorCommandOptions {
  port?: string;
  host?: string;
  db?: string;
  memory?: boolean;
  config?: string;
  token?: string[];
  processingDelay?: string;
  nipChecksum?: boolean;
  /** "HH:MM-HH:MM" today, or minutes from now ("30m"): maintenance window. */
  maintenance?: string;
  /** "METHOD /path STATUS" or "/path STATUS": answer this endpoint with an error. */
  fail?: string[];
  /** Request limits: production, test (10x production) or off. */
  limits?: string;
  /** Time scale of the limit windows, e.g. 0.0166 (an hour lasts a minute). */
  limitsScale?: string;
  quiet?: boolean;
}

function integer(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError('EMULATOR_OPTION_INVALID', `--${name} must be an integer from ${min} to ${max}`, { field: `--${name}`, value, allowed: `${min}..${max}` });
  }
  return n;
}

function maintenanceWindow(spec: string, now = new Date()): { from: string; to: string } {
  const minutes = /^(\d+)m$/.exec(spec);
  if (minutes) return { from: now.toISOString(), to: new Date(now.getTime() + Number(minutes[1]) * 60_000).toISOString() };
  const range = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(spec);
  if (range) {
    const at = (h: string, m: string) => {
      const d = new Date(now);
      d.setHours(Number(h), Number(m), 0, 0);
      return d.toISOString();
    };
    return { from: at(range[1]!, range[2]!), to: at(range[3]!, range[4]!) };
  }
  throw new ConfigError('EMULATOR_OPTION_INVALID', `--maintenance must be minutes from now ("30m") or a time range today ("16:00-18:00")`, { field: '--maintenance', value: spec });
}

function failRule(spec: string): FaultRuleInput {
  const m = /^(?:(GET|POST|PUT|DELETE|PATCH)\s+)?(\S+)\s+(\d{3})$/i.exec(spec.trim());
  if (!m) throw new ConfigError('EMULATOR_OPTION_INVALID', `--fail must look like "POST /sessions/online 503" or "/auth/challenge 500"`, { field: '--fail', value: spec });
  return { kind: 'error', ...(m[1] ? { method: m[1].toUpperCase() } : {}), path: m[2]!, status: Number(m[3]) };
}

/** Builds the emulator options from the command line (and an optional JSON config file). */
export function emulatorOptionsFrom(opts: EmulatorCommandOptions): EmulatorOptions {
  const file: EmulatorConfigFile = opts.config ? loadEmulatorConfig(opts.config) : {};
  const tokens = [...(file.tokens ?? []), ...(opts.token ?? []).map(parseTokenSpec)];
  const port = integer('port', opts.port, 0, 65535);
  const delay = integer('processing-delay', opts.processingDelay, 0, 3_600_000);
  const dbPath = opts.memory ? ':memory:' : (opts.db ?? file.dbPath ?? path.resolve('data', 'emulator.sqlite'));
  if (dbPath !== ':memory:') fs.mkdirSync(path.dirname(dbPath), { recursive: true });
  if (opts.limits !== undefined && !['production', 'test', 'off'].includes(opts.limits)) {
    throw new ConfigError('EMULATOR_OPTION_INVALID', '--limits must be production, test or off', { field: '--limits', value: opts.limits, allowed: 'production, test, off' });
  }
  const scale = opts.limitsScale === undefined ? undefined : Number(opts.limitsScale);
  if (scale !== undefined && !(scale > 0 && scale <= 1000)) {
    throw new ConfigError('EMULATOR_OPTION_INVALID', '--limits-scale must be a number above 0 and at most 1000 (1/60 makes an hour last a minute)', { field: '--limits-scale', value: opts.limitsScale });
  }
  const rules = [...(file.faults?.rules ?? []), ...(opts.fail ?? []).map(failRule)];
  return {
    ...file,
    host: opts.host ?? file.host ?? '127.0.0.1',
    port: port ?? file.port ?? 8765,
    dbPath,
    tokens,
    ...(delay !== undefined ? { processingDelayMs: delay } : {}),
    ...(opts.nipChecksum ? { nipChecksum: true } : {}),
    ...(opts.limits ? { rateLimits: opts.limits as 'production' | 'test' | 'off' } : {}),
    ...(scale !== undefined ? { rateLimitsScale: scale } : {}),
    faults: { ...(file.faults ?? {}), rules, ...(opts.maintenance ? { maintenance: maintenanceWindow(opts.maintenance) } : {}) },
  };
}

export async function runEmulator(opts: EmulatorCommandOptions, io: Io, until: Promise<void> = signal()): Promise<ExitCode> {
  let options: EmulatorOptions;
  try {
    options = emulatorOptionsFrom(opts);
  } catch (e) {
    return reportError(io, e, EXIT.CONFIG);
  }
  if (opts.quiet) options.logger = null;
  let emu;
  try {
    emu = await startEmulator(options);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      io.err(`ksef-bridge: port ${options.port} on ${options.host} is already in use; pick another with --port`);
      return EXIT.IO;
    }
    return reportError(io, e, e instanceof ConfigError ? EXIT.CONFIG : EXIT.INTERNAL);
  }
  io.out(
    [
      `KSeF emulator listening on ${emu.url}/v2  (state: ${options.dbPath})`,
      `  tokens provisioned for: ${options.tokens?.length ? [...new Set(options.tokens.map((t) => t.nip))].join(', ') : 'none (add with --token NIP:TOKEN or POST /v2/testdata/...)'}`,
      `  request limits: ${options.rateLimits ?? 'off'}${options.rateLimitsScale ? ` (time scale ${options.rateLimitsScale})` : ''}`,
      `  admin: ${emu.url}/emulator/admin  (sessions, invoices, faults, limits)`,
      '  in ksef.ini: environment = emulator, emulator_url = ' + `${emu.url}/v2`,
      '  Ctrl-C to stop',
    ].join('\n'),
  );
  await until;
  io.out('stopping the emulator (finishing work in progress)...');
  await emu.close();
  return EXIT.OK;
}

function signal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}
