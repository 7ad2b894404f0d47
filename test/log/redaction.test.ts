import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors/index.js';
import { createLogger, redact, redactValue, registerSecret, Secret } from '../../src/log/index.js';
import type { BridgeLogger, LoggerOptions } from '../../src/log/index.js';

/** A registered KSeF token (as the config loader registers every token it loads). */
const KSEF_TOKEN = '20251108-EC-2B7F6B3000-6D9E6E0EB8-5E|nip-5260181596|3a9f1c2b7d8e4f60a1b2c3d4e5f607182';
/** A KSeF token nobody registered: caught by its shape. */
const UNREGISTERED_KSEF_TOKEN = '20260101-EC-AAAAAAAAAA-BBBBBBBBBB-CC|nip-1860913901|00112233445566778899aabbccddeeff';
/** A secret registered through Secret (custom format, no pattern would catch it). */
const SECRET_OBJECT_VALUE = 'plain-words-that-are-secret-42';
const ACCESS_TOKEN =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI1MjYwMTgxNTk2IiwidG9rZW5UeXBlIjoiQWNjZXNzIn0.c2lnbmF0dXJlLW9mLWFjY2Vzcy10b2tlbg';
const REFRESH_TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJ0eXAiOiJyZWZyZXNoIiwianRpIjoiMTIzNDUifQ.cmVmcmVzaC1zaWduYXR1cmUtdmFsdWU';
const BEARER_OPAQUE = 'opaqueBearerValue9876543210';
const PASSWORD = 'Pa55w0rd!sftp';
const PASSPHRASE = 'correct horse battery staple';
const PEM_BODY = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj';
const PRIVATE_KEY = `-----BEGIN PRIVATE KEY-----\n${PEM_BODY}\nMIIEvQIBADANBgkqhkiG9w0BAQEFAAOTHERLINE\n-----END PRIVATE KEY-----`;
const RSA_KEY = `-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAzRSAKEYRSAKEY\n-----END RSA PRIVATE KEY-----`;
const SECRET_IN_CAUSE = 'cause-only-secret-77';

/** Every string that must never appear in any output. */
const FORBIDDEN = [
  KSEF_TOKEN,
  KSEF_TOKEN.split('|')[2] ?? '',
  UNREGISTERED_KSEF_TOKEN.split('|')[2] ?? '',
  SECRET_OBJECT_VALUE,
  ACCESS_TOKEN.split('.')[1] ?? '',
  ACCESS_TOKEN.split('.')[2] ?? '',
  REFRESH_TOKEN.split('.')[1] ?? '',
  BEARER_OPAQUE,
  PASSWORD,
  PASSPHRASE,
  PEM_BODY,
  'OTHERLINE',
  'RSAKEYRSAKEY',
  SECRET_IN_CAUSE,
];

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ksef-log-'));
  registerSecret(KSEF_TOKEN);
  registerSecret(SECRET_IN_CAUSE);
  new Secret(SECRET_OBJECT_VALUE);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function makeLogger(options: Partial<LoggerOptions> = {}): { logger: BridgeLogger; console: Capture; file: string } {
  const console = new Capture();
  const file = join(dir, 'logs', 'ksef-bridge.log');
  const logger = createLogger({ level: 'debug', file, consoleStream: console, ...options });
  return { logger, console, file };
}

/** Feeds every secret through every logger path. */
function feedEverything(logger: BridgeLogger): number {
  let lines = 0;
  const log = (fn: () => void): void => {
    fn();
    lines++;
  };
  // Messages.
  log(() => logger.info(`authenticating with ${KSEF_TOKEN}`));
  log(() => logger.warn(`unregistered token ${UNREGISTERED_KSEF_TOKEN} seen`));
  log(() => logger.error(`HTTP 401 for Authorization: Bearer ${ACCESS_TOKEN}`));
  log(() => logger.debug(`refresh with ${REFRESH_TOKEN} and Bearer ${BEARER_OPAQUE}`));
  log(() => logger.verbose(`key loaded:\n${PRIVATE_KEY}\nand\n${RSA_KEY}`));
  log(() => logger.info(`sftp password=${PASSWORD} passphrase: "${PASSPHRASE}"`));
  // Metadata, nested objects, arrays, Maps, Secret objects.
  log(() =>
    logger.info('request sent', {
      headers: { Authorization: `Bearer ${ACCESS_TOKEN}`, 'Content-Type': 'application/json' },
      body: { challenge: 'abc', encryptedToken: 'ZW5jcnlwdGVk', context: { nip: '5260181596' } },
      sftp: [{ host: 'erp', password: PASSWORD }, { host: 'erp2', key: { passphrase: PASSPHRASE } }],
      note: `token was ${KSEF_TOKEN}`,
      refreshToken: REFRESH_TOKEN,
      secretObject: new Secret(SECRET_OBJECT_VALUE),
      list: [ACCESS_TOKEN, [PRIVATE_KEY]],
      map: new Map<string, unknown>([
        ['token', KSEF_TOKEN],
        ['other', `x ${SECRET_OBJECT_VALUE}`],
      ]),
      buffer: Buffer.from(PASSWORD),
    }),
  );
  // Error objects: secret in message, in cause (nested), in own fields and in the stack.
  const cause = new Error(`socket closed while sending ${SECRET_IN_CAUSE}`);
  const err = new Error(`auth failed for ${KSEF_TOKEN} (Bearer ${BEARER_OPAQUE})`, { cause });
  Object.assign(err, { request: { headers: { authorization: `Bearer ${ACCESS_TOKEN}` } }, password: PASSWORD });
  log(() => logger.error(err));
  log(() => logger.error('sending failed', err));
  log(() => logger.warn('retrying', { attempt: 2 }, err));
  log(() => logger.error('wrapped', { error: new StoreError('STORE_X', `db key passphrase: '${PASSPHRASE}'`, { details: { token: KSEF_TOKEN } }, { cause: err }) }));
  log(() => logger.error('aggregate', new AggregateError([new Error(`one ${REFRESH_TOKEN}`), cause], `many ${SECRET_OBJECT_VALUE}`)));
  // Splat arguments.
  log(() => logger.info('token %s for %s', KSEF_TOKEN, 'company'));
  log(() => logger.info('payload %j', { password: PASSWORD, accessToken: ACCESS_TOKEN }));
  log(() => logger.info('object %o and %s', { passphrase: PASSPHRASE }, new Secret(SECRET_OBJECT_VALUE)));
  log(() => logger.info('extra args', 'plain', SECRET_IN_CAUSE));
  // Child loggers, document loggers, fields on the child.
  const child = logger.child({ component: 'ksef', token: KSEF_TOKEN });
  log(() => child.info(`child line with ${ACCESS_TOKEN}`));
  const doc = logger.forDocument(42, { session: 'S-1' });
  log(() => doc.error(`document failed: sftp password: ${PASSWORD}`, err, { password: PASSWORD }));
  log(() => doc.child({ phase: 'upo' }).warn('nested child', { cred: { secret: SECRET_OBJECT_VALUE } }));
  return lines;
}

function assertClean(output: string, where: string): void {
  for (const secret of FORBIDDEN) {
    expect(output.includes(secret), `${where} leaks ${secret.slice(0, 12)}...`).toBe(false);
  }
}

describe('no secret reaches any log line', () => {
  it('pretty console and JSON file, every logger path', async () => {
    const { logger, console, file } = makeLogger();
    const lines = feedEverything(logger);
    await logger.close();
    const fileText = readFileSync(file, 'utf8');
    assertClean(console.text, 'console');
    assertClean(fileText, 'file');
    // Not vacuous: every call produced a line, and the redaction markers are there.
    const jsonLines = fileText.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(jsonLines).toHaveLength(lines);
    expect(fileText).toContain('***');
    expect(fileText).toContain('[REDACTED PRIVATE KEY]');
    expect(fileText).toContain('[REDACTED JWT]');
    expect(fileText).toContain('[REDACTED KSEF TOKEN]');
    expect(console.text).toContain('auth failed for *** (Bearer ***)');
    expect(console.text).toContain('caused by:');
    // Non-secret content survives.
    expect(fileText).toContain('5260181596');
    expect(fileText).toContain('application/json');
    expect(fileText).toContain('STORE_X');
  });

  it('console json format', async () => {
    const { logger, console } = makeLogger({ console: 'json', file: false });
    feedEverything(logger);
    await logger.close();
    assertClean(console.text, 'json console');
    expect(console.text.trim().split('\n').every((l) => JSON.parse(l) !== null)).toBe(true);
  });

  it('the real stderr console transport in another process', () => {
    const script = join(dir, 'child.mts');
    const logModule = pathToFileURL(resolve('src/log/index.ts')).href;
    writeFileSync(
      script,
      `import { createLogger, registerSecret } from ${JSON.stringify(logModule)};
registerSecret(${JSON.stringify(KSEF_TOKEN)});
const log = createLogger({ level: 'info' });
log.forDocument('doc-9').error('failed ' + ${JSON.stringify(KSEF_TOKEN)}, new Error('Bearer ' + ${JSON.stringify(ACCESS_TOKEN)}), { password: ${JSON.stringify(PASSWORD)} });
await log.close();
`,
    );
    const result = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', cwd: resolve('.') });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('[doc doc-9] failed ***');
    expect(result.stderr).toContain('"password":"***"');
    assertClean(result.stderr, 'stderr');
  });
});

describe('log lines', () => {
  it('carry documentId on every line of a document logger, as JSON in the file', async () => {
    const { logger, file, console } = makeLogger({ level: 'info' });
    const doc = logger.forDocument('D-17');
    doc.info('mapped');
    doc.child({ step: 'send' }).warn('slow');
    logger.info('not about a document');
    logger.debug('below the level');
    await logger.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.message, l.documentId, l.level])).toEqual([
      ['mapped', 'D-17', 'info'],
      ['slow', 'D-17', 'warn'],
      ['not about a document', undefined, 'info'],
    ]);
    expect(lines[1]?.step).toBe('send');
    expect(typeof lines[0]?.timestamp).toBe('string');
    expect(console.text).toMatch(/INFO {4}\[doc D-17\] mapped/);
    expect(console.text).not.toContain('below the level');
    expect(statSync(file).mode & 0o077).toBe(0);
  });

  it('console off and no file is allowed', async () => {
    const logger = createLogger({ console: 'off' });
    logger.error('nowhere');
    expect(logger.isLevelEnabled('debug')).toBe(false);
    await logger.close();
  });

  it('lines after close are dropped, close twice is fine', async () => {
    const { logger, file } = makeLogger();
    logger.info('before');
    await logger.close();
    logger.child({ a: 1 }).error('after');
    await logger.close();
    expect(readFileSync(file, 'utf8')).not.toContain('after');
    expect(readFileSync(file, 'utf8')).toContain('before');
  });
});

describe('redact() for error messages', () => {
  it('removes each kind of secret', () => {
    expect(redact(`x ${KSEF_TOKEN} y`)).toBe('x *** y');
    expect(redact(`x ${UNREGISTERED_KSEF_TOKEN} y`)).toBe('x [REDACTED KSEF TOKEN] y');
    expect(redact(`t=${ACCESS_TOKEN}`)).toBe('t=[REDACTED JWT]');
    expect(redact(`Authorization: Bearer ${BEARER_OPAQUE}`)).not.toContain(BEARER_OPAQUE);
    expect(redact(`a\n${PRIVATE_KEY}\nb`)).toBe('a\n[REDACTED PRIVATE KEY]\nb');
    expect(redact(`-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI truncated`)).toBe('[REDACTED PRIVATE KEY]');
    expect(redact(`{"password":"${PASSWORD}","user":"u"}`)).toBe('{"password":"***","user":"u"}');
    expect(redact(`passphrase = '${PASSPHRASE}'`)).toBe("passphrase = '***'");
    expect(redact(`client_secret=abc123&user=x`)).toBe('client_secret=***&user=x');
  });

  it('keeps ordinary text, reference numbers, NIPs and KSeF numbers', () => {
    const text = 'Session 20250625-SE-2B7F6B3000-6D9E6E0EB8-5E for NIP 5260181596, KSeF number 5260181596-20250625-0100A0B0C0D0-E1; token expired';
    expect(redact(text)).toBe(text);
    expect(redact('token_file = /etc/ksef/token')).toBe('token_file = /etc/ksef/token');
    expect(redact('')).toBe('');
  });

  it('redactValue copies deeply and handles cycles', () => {
    const a: Record<string, unknown> = { name: 'a', apiKey: 'k-123456' };
    a.self = a;
    const out = redactValue({ a, when: new Date(0), tokenCount: 3, ok: true }) as Record<string, unknown>;
    expect(out).toEqual({ a: { name: 'a', apiKey: '***', self: '[Circular]' }, when: '1970-01-01T00:00:00.000Z', tokenCount: 3, ok: true });
    expect(a.apiKey).toBe('k-123456');
  });
});
