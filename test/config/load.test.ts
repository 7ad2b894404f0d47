import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  companyForNip,
  describeConfig,
  formatDuration,
  isValidNip,
  loadConfig,
  loggerOptions,
  parseDuration,
  parseSize,
  parseTimeOfDay,
  requireCompanyForNip,
  Secret,
} from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';
import { redact } from '../../src/log/index.js';
import { NIP_A, NIP_B, NIP_C, TempDir, TOKEN_A, TOKEN_B } from './helpers.js';

let dir: TempDir;
beforeEach(() => {
  dir = new TempDir();
});
afterEach(() => dir.remove());

describe('a valid single-company ksef.ini', () => {
  it('loads with typed values and defaults', () => {
    const file = dir.write('ksef.ini', `; my bridge\n[ksef]\nnip = 526-018-15-96\nenvironment = prod\ntoken = "${TOKEN_A}"  ; inline\n`);
    const { config, warnings } = loadConfig(file, { env: {} });
    expect(warnings).toEqual([]);
    expect(config.file).toBe(file);
    expect(config.ksef).toEqual({
      environment: 'prod',
      apiBaseUrl: 'https://api.ksef.mf.gov.pl/v2',
      qrBaseUrl: 'https://qr.ksef.mf.gov.pl',
      sessionMode: 'immediate',
      autoBatchThreshold: 5,
      requestTimeoutMs: 30_000,
    });
    expect(config.companies).toHaveLength(1);
    const company = config.companies[0];
    expect(company?.name).toBe('default');
    expect(company?.nip).toBe(NIP_A);
    expect(company?.token.reveal()).toBe(TOKEN_A);
    expect(company?.tokenSource).toEqual({ kind: 'inline' });
    expect(config.batch).toEqual({ maxInvoices: 1000, maxWaitMs: 15 * 60_000, sendAt: [], maxPackageSizeBytes: 100_000_000, format: 'zip' });
    expect(config.paths.dataDir).toBe(join(dir.path, 'data'));
    expect(config.paths.inbox).toBe(join(dir.path, 'data', 'inbox'));
    expect(config.paths.archive).toBe(join(dir.path, 'data', 'archive'));
    expect(config.paths.error).toBe(join(dir.path, 'data', 'error'));
    expect(config.paths.database).toBe(join(dir.path, 'data', 'ksef-bridge.sqlite'));
    expect(config.paths.schemaDir).toBeUndefined();
    expect(config.log).toEqual({ level: 'info', file: join(dir.path, 'data', 'ksef-bridge.log'), console: 'pretty' });
  });

  it('reads every key of every section', () => {
    const file = dir.write(
      'ksef.ini',
      [
        '[KSEF]',
        `NIP = ${NIP_A}`,
        'environment = emulator',
        'emulator_port = 9911',
        'token_env = MY_TOKEN',
        'session_mode = batch',
        'auto_batch_threshold = 0',
        'request_timeout = 1m30s',
        '[batch]',
        'max_invoices = 10000',
        'max_wait = 2h',
        'send_at = end of day, 12:00',
        'max_package_size = 5GB',
        'format = tar.gz',
        '[paths]',
        'data_dir = /srv/ksef',
        'inbox = in # comment',
        'archive = /srv/archive',
        "error = 'err;x'",
        'schema_dir = xsd',
        'database = db/bridge.sqlite',
        '[log]',
        'level = debug',
        'file = off',
        'console = json',
      ].join('\n'),
    );
    const { config } = loadConfig(file, { env: { MY_TOKEN: ` ${TOKEN_B}\n` } });
    expect(config.ksef).toMatchObject({ environment: 'emulator', apiBaseUrl: 'http://127.0.0.1:9911/v2', qrBaseUrl: undefined, sessionMode: 'batch', autoBatchThreshold: 0, requestTimeoutMs: 90_000 });
    expect(config.companies[0]?.token.reveal()).toBe(TOKEN_B);
    expect(config.companies[0]?.tokenSource).toEqual({ kind: 'env', variable: 'MY_TOKEN' });
    expect(config.batch).toEqual({
      maxInvoices: 10000,
      maxWaitMs: 7_200_000,
      sendAt: [
        { hour: 12, minute: 0 },
        { hour: 23, minute: 30 },
      ],
      maxPackageSizeBytes: 5_000_000_000,
      format: 'tar.gz',
    });
    expect(config.paths).toEqual({
      dataDir: '/srv/ksef',
      inbox: join(dir.path, 'in'),
      archive: '/srv/archive',
      error: join(dir.path, 'err;x'),
      schemaDir: join(dir.path, 'xsd'),
      database: join(dir.path, 'db/bridge.sqlite'),
    });
    expect(config.log).toEqual({ level: 'debug', file: undefined, console: 'json' });
    expect(loggerOptions(config)).toEqual({ level: 'debug', file: false, console: 'json' });
  });

  it('send_at alone means no max_wait; emulator_url overrides the port', () => {
    const file = dir.write('ksef.ini', `[ksef]\nnip = ${NIP_A}\nenvironment = emulator\nemulator_url = http://localhost:7000/api/v2/\ntoken_env = T\n[batch]\nsend_at = 18:00\n`);
    const { config } = loadConfig(file, { env: { T: TOKEN_A } });
    expect(config.ksef.apiBaseUrl).toBe('http://localhost:7000/api/v2');
    expect(config.batch.maxWaitMs).toBeUndefined();
    expect(config.batch.sendAt).toEqual([{ hour: 18, minute: 0 }]);
  });

  it('reads the token from token_file relative to ksef.ini', () => {
    dir.write('token.txt', `${TOKEN_A}\n`, 0o600);
    const file = dir.write('ksef.ini', `[ksef]\nnip = ${NIP_A}\nenvironment = demo\ntoken_file = token.txt\n`, 0o644);
    const { config, warnings } = loadConfig(file, { env: {} });
    expect(warnings).toEqual([]);
    expect(config.companies[0]?.token.reveal()).toBe(TOKEN_A);
    expect(config.companies[0]?.tokenSource).toEqual({ kind: 'file', path: join(dir.path, 'token.txt') });
    expect(config.ksef.apiBaseUrl).toBe('https://api-demo.ksef.mf.gov.pl/v2');
  });

  it('uses process.env when no env is given', () => {
    const file = dir.write('ksef.ini', `[ksef]\nnip = ${NIP_A}\nenvironment = test\ntoken_env = KSEF_BRIDGE_TEST_TOKEN_X\n`);
    process.env.KSEF_BRIDGE_TEST_TOKEN_X = TOKEN_B;
    try {
      expect(loadConfig(file).config.companies[0]?.token.reveal()).toBe(TOKEN_B);
    } finally {
      delete process.env.KSEF_BRIDGE_TEST_TOKEN_X;
    }
  });
});

describe('file permissions', () => {
  it('warns when an inline token sits in a file readable by others', () => {
    const file = dir.write('ksef.ini', `[ksef]\nnip = ${NIP_A}\nenvironment = test\ntoken = ${TOKEN_A}\n`, 0o644);
    const { warnings } = loadConfig(file, { env: {} });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/holds a KSeF token inline and is readable by other users \(mode 0644\)/);
    expect(warnings[0]).toContain(`chmod 600 ${file}`);
    expect(warnings[0]).not.toContain(TOKEN_A);
  });

  it('warns for group-readable too, not for 0600', () => {
    const text = `[ksef]\nnip = ${NIP_A}\nenvironment = test\ntoken = ${TOKEN_A}\n`;
    expect(loadConfig(dir.write('ksef.ini', text, 0o640), { env: {} }).warnings).toHaveLength(1);
    expect(loadConfig(dir.write('ksef.ini', text, 0o600), { env: {} }).warnings).toEqual([]);
  });

  it('does not warn about a readable ksef.ini without an inline token', () => {
    const file = dir.write('ksef.ini', `[ksef]\nnip = ${NIP_A}\nenvironment = test\ntoken_env = T\n`, 0o644);
    expect(loadConfig(file, { env: { T: TOKEN_A } }).warnings).toEqual([]);
  });

  it('warns when a token_file is readable by others', () => {
    dir.write('token.txt', TOKEN_A, 0o644);
    const file = dir.write('ksef.ini', `[ksef]\nnip = ${NIP_A}\nenvironment = test\ntoken_file = token.txt\n`);
    const { warnings } = loadConfig(file, { env: {} });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/token\.txt \(token_file of \[ksef\]\) is readable by other users/);
  });
});

describe('several companies', () => {
  const multi = [
    '[ksef]',
    'environment = test',
    'session_mode = batch',
    '',
    '[company:pl01]',
    `nip = ${NIP_B}`,
    'token_file = pl01.token',
    '',
    '[company:pl02]',
    `nip = ${NIP_C}`,
    'token_env = KSEF_TOKEN_PL02',
    'environment = demo',
  ].join('\n');

  it('loads each company with its own token and environment', () => {
    dir.write('pl01.token', TOKEN_B);
    const file = dir.write('ksef.ini', multi);
    const { config } = loadConfig(file, { env: { KSEF_TOKEN_PL02: TOKEN_A } });
    expect(config.companies.map((c) => [c.name, c.nip, c.environment, c.section, c.line])).toEqual([
      ['pl01', NIP_B, 'test', '[company:pl01]', 5],
      ['pl02', NIP_C, 'demo', '[company:pl02]', 9],
    ]);
    expect(config.companies[0]?.token.reveal()).toBe(TOKEN_B);
    expect(config.companies[1]?.token.reveal()).toBe(TOKEN_A);
    expect(config.companies[1]?.apiBaseUrl).toBe('https://api-demo.ksef.mf.gov.pl/v2');
  });

  it("selects the company by the seller's NIP", () => {
    dir.write('pl01.token', TOKEN_B);
    const { config } = loadConfig(dir.write('ksef.ini', multi), { env: { KSEF_TOKEN_PL02: TOKEN_A } });
    expect(companyForNip(config, NIP_C)?.name).toBe('pl02');
    expect(companyForNip(config, 'PL 186-091-39-01')?.name).toBe('pl01');
    expect(companyForNip(config, NIP_A)).toBeUndefined();
    expect(() => requireCompanyForNip(config, NIP_A)).toThrowError(ConfigError);
    try {
      requireCompanyForNip(config, NIP_A);
    } catch (err) {
      expect((err as ConfigError).code).toBe('CONFIG_NO_COMPANY_FOR_NIP');
      expect((err as ConfigError).message).toContain(NIP_B);
    }
  });

  it('the [ksef] company is the default and comes first', () => {
    const file = dir.write('ksef.ini', `[ksef]\nnip = ${NIP_A}\nenvironment = test\ntoken_env = A\n[company:second]\nnip = ${NIP_B}\ntoken_env = B\n`);
    const { config } = loadConfig(file, { env: { A: TOKEN_A, B: TOKEN_B } });
    expect(config.companies.map((c) => c.name)).toEqual(['default', 'second']);
    expect(companyForNip(config, NIP_A)?.token.reveal()).toBe(TOKEN_A);
  });

  it('a company section problem is reported with its own section name', () => {
    const file = dir.write('ksef.ini', `[ksef]\nenvironment = test\n[company:pl01]\nnip = ${NIP_B}\ntoken_env = B\nenviroment = demo\n`);
    try {
      loadConfig(file, { env: { B: TOKEN_B } });
      expect.unreachable('should have failed');
    } catch (err) {
      const problems = (err as { problems: ConfigError[] }).problems;
      expect(problems).toHaveLength(1);
      expect(problems[0]?.message).toBe('[company:pl01] unknown key enviroment; did you mean environment?');
      expect(problems[0]?.context.line).toBe(6);
    }
  });
});

describe('secrets', () => {
  it('Secret prints *** everywhere and reveals only on request', () => {
    const s = new Secret('super-secret-token-value');
    expect(String(s)).toBe('***');
    expect(`${s}`).toBe('***');
    expect(JSON.stringify({ s })).toBe('{"s":"***"}');
    expect(inspect(s)).toBe('Secret(***)');
    expect(inspect({ nested: { s } })).not.toContain('super-secret');
    expect(s.reveal()).toBe('super-secret-token-value');
    expect(s.equals('super-secret-token-value')).toBe(true);
    expect(Object.keys(s)).toEqual([]);
    // Constructing it registered the value with the redaction layer.
    expect(redact('value is super-secret-token-value.')).toBe('value is ***.');
  });

  it('loaded tokens are registered for redaction and describeConfig masks them', () => {
    const custom = 'custom-format-token-0123456789';
    const file = dir.write('ksef.ini', `[ksef]\nnip = ${NIP_A}\nenvironment = test\ntoken = ${custom}\n[company:b]\nnip = ${NIP_B}\ntoken_env = B\n`);
    const { config } = loadConfig(file, { env: { B: TOKEN_B } });
    expect(redact(`failed with ${custom}`)).toBe('failed with ***');
    const text = describeConfig(config);
    expect(text).not.toContain(custom);
    expect(text).not.toContain(TOKEN_B);
    expect(text).toContain('token = ***');
    expect(text).toContain('token_env = B    ; token = ***');
    expect(text).toContain(`nip = ${NIP_A}`);
    expect(text).toContain('[company:b]');
    expect(text).toContain('environment = test    ; https://api-test.ksef.mf.gov.pl/v2');
    expect(JSON.stringify(config)).not.toContain(custom);
    expect(inspect(config, { depth: 10 })).not.toContain(custom);
  });
});

describe('ksef.ini.example', () => {
  it('loads and documents every key', async () => {
    const { CONFIG_KEYS } = await import('../../src/config/index.js');
    const example = resolve('ksef.ini.example');
    const { config } = loadConfig(example, { env: { KSEF_TOKEN: TOKEN_A } });
    expect(config.companies[0]?.nip).toBe(NIP_A);
    const text = readFileSync(example, 'utf8');
    for (const keys of Object.values(CONFIG_KEYS)) {
      for (const key of keys) expect(text, key).toMatch(new RegExp(`^;? ?${key} = `, 'm'));
    }
  });
});

describe('value parsers', () => {
  it('NIP checksum', () => {
    expect(isValidNip(NIP_A)).toBe(true);
    expect(isValidNip('526-104-08-28')).toBe(true);
    expect(isValidNip('5261040829')).toBe(false);
    expect(isValidNip('123')).toBe(false);
  });

  it('durations', () => {
    expect(parseDuration('5m')).toEqual({ ok: true, value: 300_000 });
    expect(parseDuration('1h30m')).toEqual({ ok: true, value: 5_400_000 });
    expect(parseDuration('500ms')).toEqual({ ok: true, value: 500 });
    expect(parseDuration('1.5h')).toEqual({ ok: true, value: 5_400_000 });
    expect(parseDuration('5 min')).toEqual({ ok: true, value: 300_000 });
    expect(parseDuration('5').ok).toBe(false);
    expect(parseDuration('5x').ok).toBe(false);
    expect(parseDuration('').ok).toBe(false);
    expect(formatDuration(5_400_000)).toBe('1h30m');
  });

  it('times and sizes', () => {
    expect(parseTimeOfDay('end of day')).toEqual({ ok: true, value: { hour: 23, minute: 30 } });
    expect(parseTimeOfDay('7:05')).toEqual({ ok: true, value: { hour: 7, minute: 5 } });
    expect(parseTimeOfDay('24:00').ok).toBe(false);
    expect(parseSize('100MB')).toEqual({ ok: true, value: 100_000_000 });
    expect(parseSize('1 MiB')).toEqual({ ok: true, value: 1_048_576 });
    expect(parseSize('12XB').ok).toBe(false);
  });
});
