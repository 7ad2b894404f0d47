import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigLoadError, loadConfig } from '../../src/config/index.js';
import type { LoadConfigOptions } from '../../src/config/index.js';
import type { ConfigError } from '../../src/errors/index.js';

/** Valid NIPs (checksum ok). */
export const NIP_A = '5260181596';
export const NIP_B = '1860913901';
export const NIP_C = '6281948218';
/** Realistic-looking KSeF token (fake). */
export const TOKEN_A = '20251108-EC-2B7F6B3000-6D9E6E0EB8-5E|nip-5260181596|3a9f1c2b7d8e4f60a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718';
export const TOKEN_B = '20251109-EC-1111111111-2222222222-AB|nip-1860913901|ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100';

export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), 'ksef-config-'));

  write(name: string, text: string, mode = 0o600): string {
    const file = join(this.path, name);
    writeFileSync(file, text);
    chmodSync(file, mode);
    return file;
  }

  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

/** Loads `text` as ksef.ini and returns the problems (fails the test if it loads). */
export function problemsOf(dir: TempDir, text: string, options: LoadConfigOptions = { env: {} }): { file: string; error: ConfigLoadError; problems: readonly ConfigError[] } {
  const file = dir.write('ksef.ini', text);
  try {
    loadConfig(file, options);
  } catch (err) {
    if (err instanceof ConfigLoadError) return { file, error: err, problems: err.problems };
    throw err;
  }
  throw new Error('expected the configuration to be rejected, but it loaded');
}

/** A minimal valid [ksef] section with an env token. */
export function ksefSection(extra = ''): string {
  return `[ksef]\nnip = ${NIP_A}\nenvironment = test\ntoken_env = KSEF_TOKEN\n${extra}`;
}
