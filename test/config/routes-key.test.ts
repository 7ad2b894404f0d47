import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig } from '../../src/config/index.js';

describe('[paths] routes', () => {
  const base = '[ksef]\nnip = 5260181596\nenvironment = emulator\ntoken_env = KB_T\n';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kb-routes-key-'));

  it('names the routes file, relative to ksef.ini', () => {
    const file = path.join(dir, 'ksef.ini');
    fs.writeFileSync(file, `${base}[paths]\nroutes = conf/my-routes.yaml\n`, { mode: 0o600 });
    const { config } = loadConfig(file, { env: { KB_T: 'tok-1234567890' } });
    expect(config.paths.routes).toBe(path.join(dir, 'conf', 'my-routes.yaml'));
    expect(describeConfig(config)).toContain(`routes = ${path.join(dir, 'conf', 'my-routes.yaml')}`);
  });

  it('is unset by default, so run looks next to ksef.ini', () => {
    const file = path.join(dir, 'plain.ini');
    fs.writeFileSync(file, base, { mode: 0o600 });
    expect(loadConfig(file, { env: { KB_T: 'tok-1234567890' } }).config.paths.routes).toBeUndefined();
  });
});
