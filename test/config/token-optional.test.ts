import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigLoadError, loadConfig } from '../../src/config/index.js';

function ini(text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kb-tokopt-')), 'ksef.ini');
  fs.writeFileSync(file, text, { mode: 0o600 });
  return file;
}

describe('tokens optional (commands that only read the store)', () => {
  const text = '[ksef]\nnip = 5260181596\nenvironment = test\ntoken_env = KB_UNSET_TOKEN_VAR\n';

  it('a token variable that is not set is a problem by default', () => {
    expect(() => loadConfig(ini(text), { env: {} })).toThrow(ConfigLoadError);
  });

  it('is accepted with tokens: optional, leaving the token empty', () => {
    const { config } = loadConfig(ini(text), { env: {}, tokens: 'optional' });
    expect(config.companies[0]!.nip).toBe('5260181596');
    expect(config.companies[0]!.token.reveal()).toBe('');
  });

  it('still reports a malformed token key', () => {
    expect(() => loadConfig(ini(text.replace('token_env = KB_UNSET_TOKEN_VAR', 'token_env = 9-not-a-name')), { env: {}, tokens: 'optional' })).toThrow(/not an environment variable name/);
  });
});
