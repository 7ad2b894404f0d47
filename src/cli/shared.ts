/** Helpers shared by the CLI commands: config location, error printing, exit. */
import path from 'node:path';
import { errorMessage, isBridgeError } from '../errors/index.js';
import { redact } from '../log/index.js';
import { EXIT, type ExitCode } from './exit-codes.js';

/** Environment variable naming ksef.ini when --config is not given. */
export const CONFIG_ENV = 'KSEF_BRIDGE_CONFIG';

/** The ksef.ini to use: --config, else $KSEF_BRIDGE_CONFIG, else ./ksef.ini. */
export function configPath(option: string | undefined): string {
  return path.resolve(option ?? process.env[CONFIG_ENV] ?? 'ksef.ini');
}

/** Output streams, injectable for tests. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

/** Prints an error for a person (never a secret) and returns the exit code that fits it. */
export function reportError(io: Io, e: unknown, fallback: ExitCode = EXIT.INTERNAL): ExitCode {
  io.err(`ksef-bridge: ${redact(errorMessage(e))}`);
  if (!isBridgeError(e) && fallback === EXIT.INTERNAL && e instanceof Error && e.stack) io.err(redact(e.stack));
  return fallback;
}
