import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigLoadError, loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';
import { ksefSection, NIP_A, NIP_B, problemsOf, TempDir, TOKEN_A } from './helpers.js';

const ENV = { env: { KSEF_TOKEN: TOKEN_A } };

let dir: TempDir;
beforeEach(() => {
  dir = new TempDir();
});
afterEach(() => dir.remove());

/**
 * Each malformed kind: the file, the 1-based line, the key (field), the code and the
 * words of the documented message.
 */
interface Case {
  name: string;
  text: string;
  code: string;
  line: number;
  field: string | undefined;
  message: RegExp;
  value?: string;
  allowed?: RegExp;
}

const cases: Case[] = [
  {
    name: 'misspelled key suggests the closest known key',
    text: ksefSection('sesion_mode = batch\n'),
    code: 'CONFIG_UNKNOWN_KEY',
    line: 5,
    field: 'sesion_mode',
    message: /\[ksef\] unknown key sesion_mode; did you mean session_mode\?/,
    allowed: /session_mode/,
  },
  {
    name: 'key in the wrong section names the right one',
    text: ksefSection('max_invoices = 100\n'),
    code: 'CONFIG_UNKNOWN_KEY',
    line: 5,
    field: 'max_invoices',
    message: /max_invoices belongs in \[batch\]/,
  },
  {
    name: 'wrong value of an enumerated key',
    text: `[ksef]\nnip = ${NIP_A}\nenvironment = prd\ntoken_env = KSEF_TOKEN\n`,
    code: 'CONFIG_INVALID_VALUE',
    line: 3,
    field: 'environment',
    value: '"prd"',
    message: /\[ksef\] environment = "prd": not an allowed value; did you mean prod\?/,
    allowed: /test \| demo \| prod \| emulator/,
  },
  {
    name: 'missing required key (environment)',
    text: `; comment\n[ksef]\nnip = ${NIP_A}\ntoken_env = KSEF_TOKEN\n`,
    code: 'CONFIG_MISSING_KEY',
    line: 2,
    field: 'environment',
    message: /\[ksef\] environment is required/,
  },
  {
    name: 'missing NIP for a single company',
    text: '[ksef]\nenvironment = test\n',
    code: 'CONFIG_MISSING_KEY',
    line: 1,
    field: 'nip',
    message: /\[ksef\] nip is required/,
  },
  {
    name: 'NIP with a wrong checksum',
    text: `[ksef]\nenvironment = test\nnip = 5260181597\ntoken_env = KSEF_TOKEN\n`,
    code: 'CONFIG_NIP_CHECKSUM',
    line: 3,
    field: 'nip',
    value: '"5260181597"',
    message: /NIP checksum does not match \(check digit should be 6\)/,
    allowed: /weights 6,5,7,2,3,4,5,6,7 mod 11/,
  },
  {
    name: 'NIP that is not 10 digits',
    text: `[ksef]\nenvironment = test\nnip = 52601815\ntoken_env = KSEF_TOKEN\n`,
    code: 'CONFIG_INVALID_NIP',
    line: 3,
    field: 'nip',
    message: /a NIP is 10 digits/,
  },
  {
    name: 'duplicate key',
    text: ksefSection('session_mode = batch\nsession_mode = immediate\n'),
    code: 'CONFIG_DUPLICATE_KEY',
    line: 6,
    field: 'session_mode',
    message: /\[ksef\] session_mode is set twice \(first on line 5\)/,
  },
  {
    name: 'unknown section with a suggestion',
    text: `${ksefSection()}[bach]\nmax_invoices = 10\n`,
    code: 'CONFIG_UNKNOWN_SECTION',
    line: 5,
    field: '[bach]',
    message: /unknown section \[bach\]; did you mean \[batch\]\?/,
  },
  {
    name: 'duplicate section',
    text: `${ksefSection()}[log]\nlevel = info\n[log]\nconsole = json\n`,
    code: 'CONFIG_DUPLICATE_SECTION',
    line: 7,
    field: '[log]',
    message: /\[log\] appears twice \(first on line 5\)/,
  },
  {
    name: 'token both inline and from a file',
    text: `[ksef]\nnip = ${NIP_A}\nenvironment = test\ntoken = ${TOKEN_A}\ntoken_file = token.txt\n`,
    code: 'CONFIG_TOKEN_CONFLICT',
    line: 5,
    field: 'token_file',
    message: /the token is given 2 ways \(token on line 4, token_file on line 5\); keep exactly one/,
  },
  {
    name: 'no token at all',
    text: `[ksef]\nnip = ${NIP_A}\nenvironment = test\n`,
    code: 'CONFIG_MISSING_KEY',
    line: 1,
    field: 'token',
    message: /give exactly one of token, token_file or token_env/,
  },
  {
    name: 'token_file that cannot be read',
    text: `[ksef]\nnip = ${NIP_A}\nenvironment = test\ntoken_file = missing/token.txt\n`,
    code: 'CONFIG_TOKEN_FILE_UNREADABLE',
    line: 4,
    field: 'token_file',
    message: /cannot read the token file .*missing\/token\.txt \(ENOENT\)/,
  },
  {
    name: 'token_env naming an unset variable',
    text: `[ksef]\nnip = ${NIP_A}\nenvironment = test\ntoken_env = NOT_SET_ANYWHERE\n`,
    code: 'CONFIG_TOKEN_ENV_MISSING',
    line: 4,
    field: 'token_env',
    message: /environment variable NOT_SET_ANYWHERE is not set or empty/,
  },
  {
    name: 'duration without a unit',
    text: ksefSection('request_timeout = 30\n'),
    code: 'CONFIG_BAD_DURATION',
    line: 5,
    field: 'request_timeout',
    value: '"30"',
    message: /a number without a unit is ambiguous/,
    allowed: /30s, 5m, 2h, 1h30m/,
  },
  {
    name: 'duration that is not one',
    text: `${ksefSection()}[batch]\nmax_wait = soon\n`,
    code: 'CONFIG_BAD_DURATION',
    line: 6,
    field: 'max_wait',
    message: /max_wait = "soon": not a duration/,
  },
  {
    name: 'more invoices per batch than KSeF allows',
    text: `${ksefSection()}[batch]\nmax_invoices = 20000\n`,
    code: 'CONFIG_INVALID_VALUE',
    line: 6,
    field: 'max_invoices',
    message: /out of range/,
    allowed: /from 1 to 10000/,
  },
  {
    name: 'send_at that is not a time of day',
    text: `${ksefSection()}[batch]\nsend_at = 12:00, 25:00\n`,
    code: 'CONFIG_BAD_TIME',
    line: 6,
    field: 'send_at',
    message: /"25:00": hour 0-23 and minute 0-59/,
  },
  {
    name: 'package size above the KSeF limit',
    text: `${ksefSection()}[batch]\nmax_package_size = 6GB\n`,
    code: 'CONFIG_BAD_SIZE',
    line: 6,
    field: 'max_package_size',
    message: /out of range/,
    allowed: /5GB/,
  },
  {
    name: 'line that is neither key = value nor a section',
    text: ksefSection('this line is wrong\n'),
    code: 'CONFIG_SYNTAX',
    line: 5,
    field: undefined,
    message: /expected "key = value", a \[section\] or a comment/,
  },
  {
    name: 'unterminated quoted value',
    text: `${ksefSection()}[paths]\ndata_dir = "/var/ksef\n`,
    code: 'CONFIG_SYNTAX',
    line: 6,
    field: undefined,
    message: /unterminated quoted value/,
  },
  {
    name: 'key before any section',
    text: `nip = ${NIP_A}\n${ksefSection()}`,
    code: 'CONFIG_KEY_OUTSIDE_SECTION',
    line: 1,
    field: 'nip',
    message: /key nip comes before any \[section\]/,
  },
  {
    name: 'empty value',
    text: `${ksefSection()}[log]\nlevel =\n`,
    code: 'CONFIG_EMPTY_VALUE',
    line: 6,
    field: 'level',
    message: /\[log\] level has no value/,
  },
  {
    name: 'two companies with the same NIP',
    text: `${ksefSection()}[company:pl01]\nnip = ${NIP_A}\ntoken_env = KSEF_TOKEN\n`,
    code: 'CONFIG_DUPLICATE_NIP',
    line: 5,
    field: 'nip',
    message: /\[company:pl01\] has NIP 5260181596, already used by \[ksef\]/,
  },
  {
    name: 'company section without a name',
    text: `${ksefSection()}[company]\nnip = ${NIP_B}\n`,
    code: 'CONFIG_BAD_SECTION',
    line: 5,
    field: '[company]',
    message: /a company section is written \[company:<name>\]/,
  },
  {
    name: 'no [ksef] section',
    text: `[company:pl01]\nnip = ${NIP_B}\ntoken_env = KSEF_TOKEN\n`,
    code: 'CONFIG_MISSING_SECTION',
    line: 1,
    field: '[ksef]',
    message: /the \[ksef\] section is missing/,
  },
  {
    name: 'a token in [ksef] without its NIP next to company sections',
    text: `[ksef]\nenvironment = test\ntoken_env = KSEF_TOKEN\n[company:pl01]\nnip = ${NIP_B}\ntoken_env = KSEF_TOKEN\n`,
    code: 'CONFIG_MISSING_KEY',
    line: 1,
    field: 'nip',
    message: /\[ksef\] nip is required when \[ksef\] holds a token/,
  },
  {
    name: 'inbox and archive are the same folder',
    text: `${ksefSection()}[paths]\ninbox = ./x\narchive = ./x\n`,
    code: 'CONFIG_INVALID_VALUE',
    line: 7,
    field: 'archive',
    message: /inbox and archive are the same folder/,
  },
];

describe('malformed ksef.ini: each kind gives its documented message', () => {
  it('has at least 12 kinds', () => {
    expect(new Set(cases.map((c) => c.code)).size).toBeGreaterThanOrEqual(12);
  });

  for (const c of cases) {
    it(c.name, () => {
      const { file, error, problems } = problemsOf(dir, c.text, ENV);
      const problem = problems.find((p) => p.code === c.code);
      expect(problem, `problems: ${error.message}`).toBeDefined();
      if (!problem) return;
      expect(problem).toBeInstanceOf(ConfigError);
      expect(problem.context.file).toBe(file);
      expect(problem.context.line).toBe(c.line);
      expect(problem.context.field).toBe(c.field);
      expect(problem.message).toMatch(c.message);
      if (c.value !== undefined) expect(problem.context.value).toBe(c.value);
      if (c.allowed) expect(problem.context.allowed).toMatch(c.allowed);
      // The aggregate names the location of every problem.
      expect(error.message).toContain(`${file}:${c.line}:`);
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error).toBeInstanceOf(ConfigError);
    });
  }
});

describe('problems are collected and reported together', () => {
  it('lists every problem, in line order', () => {
    const text = [
      '[ksef]',
      'nip = 5260181597',
      'environment = prd',
      'tokne = abc',
      'token_env = KSEF_TOKEN',
      'session_mode = online',
      '[batch]',
      'max_invoices = 0',
      'format = rar',
      '[log]',
      'level = loud',
    ].join('\n');
    const { error, problems } = problemsOf(dir, text, ENV);
    expect(problems.map((p) => [p.context.line, p.code])).toEqual([
      [2, 'CONFIG_NIP_CHECKSUM'],
      [3, 'CONFIG_INVALID_VALUE'],
      [4, 'CONFIG_UNKNOWN_KEY'],
      [6, 'CONFIG_INVALID_VALUE'],
      [8, 'CONFIG_INVALID_VALUE'],
      [9, 'CONFIG_INVALID_VALUE'],
      [11, 'CONFIG_INVALID_VALUE'],
    ]);
    expect(error.message).toMatch(/7 problems in the configuration/);
    expect(error.describe()).toContain('CONFIG_INVALID');
  });

  it('a missing file is reported as unreadable', () => {
    let caught: unknown;
    try {
      loadConfig(`${dir.path}/nope.ini`, ENV);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigLoadError);
    const problems = (caught as ConfigLoadError).problems;
    expect(problems[0]?.code).toBe('CONFIG_FILE_UNREADABLE');
    expect(problems[0]?.message).toMatch(/nope\.ini \(ENOENT\)/);
  });
});

describe('secrets never appear in configuration errors', () => {
  it('masks an inline token in a conflict and never prints it', () => {
    const { error, problems } = problemsOf(dir, `[ksef]\nnip = ${NIP_A}\nenvironment = test\ntoken_env = KSEF_TOKEN\ntoken = ${TOKEN_A}\n`, ENV);
    const conflict = problems.find((p) => p.code === 'CONFIG_TOKEN_CONFLICT');
    expect(conflict?.context.value).toBe('***');
    expect(JSON.stringify(problems.map((p) => p.toJSON()))).not.toContain(TOKEN_A.slice(30));
    expect(error.message).not.toContain(TOKEN_A.slice(30));
  });

  it('does not show the value of a misspelled token key', () => {
    const secret = 'my-very-secret-token-value-123';
    const { error, problems } = problemsOf(dir, `[ksef]\nnip = ${NIP_A}\nenvironment = test\ntokn = ${secret}\n`, ENV);
    const unknown = problems.find((p) => p.code === 'CONFIG_UNKNOWN_KEY');
    expect(unknown?.message).toMatch(/did you mean token\?/);
    expect(unknown?.context.value).toBe('***');
    expect(error.message).not.toContain(secret);
    expect(JSON.stringify(error.toJSON())).not.toContain(secret);
  });

  it('does not echo a malformed line (it may hold a token)', () => {
    const secret = 'abcdefgh-secret-1234|nip|ffff';
    const { error } = problemsOf(dir, ksefSection(`token ${secret}==\n`), ENV);
    expect(error.message).toMatch(/invalid key name/);
    expect(error.message).not.toContain(secret);
  });

  it('a token with spaces is rejected without showing it', () => {
    const { error, problems } = problemsOf(dir, `[ksef]\nnip = ${NIP_A}\nenvironment = test\ntoken = "abc def ghi jkl"\n`, ENV);
    expect(problems[0]?.code).toBe('CONFIG_INVALID_TOKEN');
    expect(problems[0]?.context.value).toBe('***');
    expect(error.message).not.toContain('abc def ghi jkl');
  });
});
