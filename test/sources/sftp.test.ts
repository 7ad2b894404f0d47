import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../src/log/index.js';
import { createSftpSource, type SftpSourceOptions } from '../../src/sources/index.js';
import { startSshd, type SshdServer } from '../helpers/sshd.js';
import { deferred, listFiles, recordingHandler, tempDir, waitFor } from './util.js';

let sshd: SshdServer;
let caseNo = 0;

beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.dispose();
});

/** A fresh remote folder (owned by the sftp user) and local folder per test. */
async function setup(extra: Partial<SftpSourceOptions> = {}) {
  caseNo++;
  const remoteDir = join(sshd.dataDir, `case${caseNo}`);
  const local = await tempDir();
  const base: SftpSourceOptions = {
    name: `sftp${caseNo}`,
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.privateKey,
    hostKeySha256: sshd.hostKeySha256,
    remoteDir: join(remoteDir, 'out'),
    remoteArchiveDir: join(remoteDir, 'done'),
    localDir: local.path,
    pollIntervalMs: 100,
    stableMs: 0,
    backoff: { initialMs: 50, maxMs: 300 },
    ...extra,
  };
  return { options: base, remoteDir, local };
}

/** Puts a file on the server (as the sftp user owns it). */
async function putRemote(dir: string, name: string, content: string): Promise<void> {
  await sshd.put(join(dir, name), content);
}

describe('SFTP source against a real OpenSSH server', () => {
  it('key auth: downloads, hands over, archives locally, then moves the remote file', async () => {
    const { options, remoteDir, local } = await setup();
    await putRemote(options.remoteDir, 'a.csv', 'invoice;1\n');
    await putRemote(options.remoteDir, '.hidden', 'no');
    await putRemote(options.remoteDir, 'b.csv.part', 'no');
    const { handler, calls } = recordingHandler();
    const src = createSftpSource(options);
    await src.start(handler);
    try {
      await waitFor('remote file moved', () => existsSync(join(remoteDir, 'done', 'a.csv')));
      expect(calls).toHaveLength(1);
      expect(calls[0]!.content).toBe('invoice;1\n');
      expect(calls[0]!.file.origin).toMatchObject({ kind: 'sftp', remotePath: join(options.remoteDir, 'a.csv') });
      expect(await readdir(options.remoteDir)).toEqual(expect.arrayContaining(['.hidden', 'b.csv.part']));
      expect(existsSync(join(options.remoteDir, 'a.csv'))).toBe(false);
      const archived = (await listFiles(join(local.path, 'archive'))).filter((f) => f.endsWith('a.csv'));
      expect(archived).toHaveLength(1);
      await waitFor('meta forgotten', async () => (await readdir(join(local.path, 'processing'))).every((n) => n === '.lock'));
    } finally {
      await src.stop();
      await local.dispose();
    }
  });

  it('password auth, and a failed file goes to error/ locally and to the remote error folder', async () => {
    if (!sshd.password) throw new Error('password auth needs the test to run as root (a throwaway user is created); run the suite as root or in CI');
    const { options, remoteDir, local } = await setup({ privateKey: undefined, password: new Secret(sshd.password), remoteErrorDir: undefined });
    options.remoteErrorDir = join(remoteDir, 'rejected');
    await putRemote(options.remoteDir, 'bad.csv', 'broken');
    const { handler } = recordingHandler(() => ({ kind: 'failed', report: 'line 1: field NIP missing' }));
    const src = createSftpSource(options);
    await src.start(handler);
    try {
      await waitFor('remote file moved to rejected', () => existsSync(join(remoteDir, 'rejected', 'bad.csv')));
      expect(await readFile(join(local.path, 'error', 'bad.csv.error.txt'), 'utf8')).toContain('field NIP missing');
    } finally {
      await src.stop();
      await local.dispose();
    }
  });

  it('key with passphrase, and delete instead of move when no remote archive folder is set', async () => {
    const { options, local } = await setup({ privateKey: sshd.encryptedPrivateKey, passphrase: new Secret(sshd.passphrase), remoteArchiveDir: undefined });
    await putRemote(options.remoteDir, 'c.xml', '<a/>');
    const { handler, calls } = recordingHandler();
    const src = createSftpSource(options);
    await src.start(handler);
    try {
      await waitFor('remote file deleted', () => calls.length === 1 && !existsSync(join(options.remoteDir, 'c.xml')));
    } finally {
      await src.stop();
      await local.dispose();
    }
  });

  it('refuses a wrong host key and shows the fingerprint found', async () => {
    const { options, local } = await setup({ hostKeySha256: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    const src = createSftpSource(options);
    try {
      await expect(src.checkConnection()).rejects.toThrow(sshd.hostKeySha256);
      await expect(src.checkConnection()).rejects.toMatchObject({ code: 'SFTP_HOST_KEY_MISMATCH' });
      // running: the source stops polling and says why
      await putRemote(options.remoteDir, 'x.csv', 'x');
      const { handler, calls } = recordingHandler();
      await src.start(handler);
      const st = await waitFor('lastError', () => src.status().lastError);
      expect(st).toContain(sshd.hostKeySha256);
      expect(calls).toHaveLength(0);
    } finally {
      await src.stop();
      await local.dispose();
    }
  });

  it('refuses an unpinned host key unless acceptNewHostKey, printing the fingerprint to pin', async () => {
    const { options, local } = await setup({ hostKeySha256: undefined });
    try {
      const err = await createSftpSource(options).checkConnection().then(() => undefined, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'SFTP_HOST_KEY_NOT_PINNED' });
      expect(String((err as Error).message)).toContain(sshd.hostKeySha256);
      await putRemote(options.remoteDir, 'y.csv', 'y');
      await expect(createSftpSource({ ...options, acceptNewHostKey: true }).checkConnection()).resolves.toEqual({ files: 1 });
    } finally {
      await local.dispose();
    }
  });

  it('wrong password is reported, not logged with the secret', async () => {
    if (!sshd.password) throw new Error('password auth needs the test to run as root');
    const { options, local } = await setup({ privateKey: undefined, password: new Secret('wrong-password-123') });
    try {
      const err = await createSftpSource(options).checkConnection().then(() => undefined, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'SFTP_CONNECT' });
      expect(String((err as Error).message)).not.toContain('wrong-password-123');
    } finally {
      await local.dispose();
    }
  });

  it('resumes after the server is stopped and started mid-run', async () => {
    const { options, remoteDir, local } = await setup();
    await putRemote(options.remoteDir, 'one.csv', '1');
    const { handler, calls } = recordingHandler();
    const src = createSftpSource(options);
    await src.start(handler);
    try {
      await waitFor('first file moved', () => existsSync(join(remoteDir, 'done', 'one.csv')));
      await sshd.stop();
      await putRemote(options.remoteDir, 'two.csv', '2');
      await waitFor('source notices the server is gone', () => src.status().lastError);
      await sshd.start();
      await waitFor('second file moved after restart', () => existsSync(join(remoteDir, 'done', 'two.csv')), 30_000);
      expect(calls.map((c) => c.file.name).sort()).toEqual(['one.csv', 'two.csv']);
      expect(src.status().lastError).toBeUndefined();
    } finally {
      if (!existsSync(join(remoteDir, 'done', 'two.csv'))) await sshd.start().catch(() => undefined);
      await src.stop();
      await local.dispose();
    }
  });

  it('a restart between download and remote move does not download twice', async () => {
    const { options, remoteDir, local } = await setup();
    await putRemote(options.remoteDir, 'r.csv', 'restart me');
    const gate = deferred<void>();
    let entered = 0;
    const first = createSftpSource(options);
    await first.start(async () => {
      entered++;
      await gate.promise;
      return { kind: 'done' };
    });
    try {
      await waitFor('handler entered', () => entered === 1);
      // the server goes away while the handler has the file, then the bridge stops:
      // the file is archived locally but the remote move cannot happen in this run
      await sshd.stop();
      const stopping = first.stop();
      gate.resolve();
      await stopping;
    } finally {
      await sshd.start();
    }
    expect(existsSync(join(options.remoteDir, 'r.csv'))).toBe(true);
    expect((await listFiles(join(local.path, 'archive'))).filter((f) => f.endsWith('r.csv'))).toHaveLength(1);
    expect((await readdir(join(local.path, 'processing'))).filter((n) => n.endsWith('.meta.json'))).toHaveLength(1);
    const { handler, calls } = recordingHandler();
    const second = createSftpSource(options);
    await second.start(handler);
    try {
      await waitFor('remote file moved by the second run', () => existsSync(join(remoteDir, 'done', 'r.csv')));
      expect(calls).toHaveLength(0);
      expect((await listFiles(join(local.path, 'archive'))).filter((f) => f.endsWith('r.csv'))).toHaveLength(1);
      await waitFor('meta forgotten', async () => (await readdir(join(local.path, 'processing'))).every((n) => n === '.lock'));
    } finally {
      await second.stop();
      await local.dispose();
    }
  });

  it('a file changed on the server after download is not moved away (it is taken again as new)', async () => {
    const { options, remoteDir, local } = await setup();
    await putRemote(options.remoteDir, 'v.csv', 'version 1');
    const gate = deferred<void>();
    const seen: string[] = [];
    const src = createSftpSource(options);
    await src.start(async (f) => {
      seen.push((await f.bytes()).toString());
      if (seen.length === 1) await gate.promise;
      return { kind: 'done' };
    });
    try {
      await waitFor('first version handled', () => seen.length === 1);
      await putRemote(options.remoteDir, 'v.csv', 'version 2, corrected');
      gate.resolve();
      await waitFor('corrected version handled and moved', () => seen.length === 2 && existsSync(join(remoteDir, 'done', 'v.csv')));
      expect(seen).toEqual(['version 1', 'version 2, corrected']);
      expect(await readFile(join(remoteDir, 'done', 'v.csv'), 'utf8')).toBe('version 2, corrected');
    } finally {
      await src.stop();
      await local.dispose();
    }
  });

  it('a crash after download (file left in processing/) is handled again without a second download', async () => {
    const { options, remoteDir, local } = await setup();
    await putRemote(options.remoteDir, 'k.csv', 'crash');
    let calls = 0;
    const first = createSftpSource(options);
    await first.start(async () => {
      calls++;
      throw new Error('store is down');
    });
    await waitFor('handler tried', () => calls >= 1);
    await first.stop();
    expect(existsSync(join(options.remoteDir, 'k.csv'))).toBe(true);
    const staged = (await readdir(join(local.path, 'processing'))).filter((n) => !n.startsWith('.'));
    expect(staged).toHaveLength(1);
    const { handler, calls: second } = recordingHandler();
    const again = createSftpSource(options);
    await again.start(handler);
    try {
      await waitFor('remote file moved', () => existsSync(join(remoteDir, 'done', 'k.csv')));
      expect(second).toHaveLength(1);
      expect(second[0]!.file.recovered).toBe(true);
      expect(second[0]!.content).toBe('crash');
    } finally {
      await again.stop();
      await local.dispose();
    }
  });

  it('trigger files and stability on the server: waits for a.csv.ok, then removes it with the file', async () => {
    const { options, remoteDir, local } = await setup({ trigger: { suffix: '.ok' }, stableMs: 200 });
    await putRemote(options.remoteDir, 'a.csv', 'data');
    const { handler, calls } = recordingHandler();
    const src = createSftpSource(options);
    await src.start(handler);
    try {
      // several polls without the trigger: nothing is taken
      const lists = () => src.status();
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 100));
        expect(lists().lastError).toBeUndefined();
        expect(calls).toHaveLength(0);
      }
      await putRemote(options.remoteDir, 'a.csv.ok', '');
      await waitFor('moved', () => existsSync(join(remoteDir, 'done', 'a.csv')));
      expect(calls.map((c) => c.file.name)).toEqual(['a.csv']);
      await waitFor('trigger removed', async () => (await readdir(options.remoteDir)).length === 0);
    } finally {
      await src.stop();
      await local.dispose();
    }
  });

  it('unreachable server: one log line per attempt with backoff, no secret in the log', async () => {
    const { PassThrough } = await import('node:stream');
    const { createLogger } = await import('../../src/log/index.js');
    const { createServer } = await import('node:net');
    // a port nobody listens on
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const stream = new PassThrough();
    let logged = '';
    stream.on('data', (d: Buffer) => (logged += d.toString()));
    const logger = createLogger({ console: 'json', consoleStream: stream, level: 'debug' });
    const { options, local } = await setup({ port, password: new Secret('never-log-this-9'), privateKey: undefined, logger });
    const src = createSftpSource(options);
    await src.start(async () => ({ kind: 'done' }));
    try {
      await waitFor('three attempts logged', () => /attempt 3 failed/.test(logged));
      expect(logged).toMatch(/SFTP attempt 1 failed: cannot connect to SFTP .*ECONNREFUSED.*next attempt in/);
      expect(logged).not.toContain('never-log-this-9');
      expect(src.status().lastError).toContain('ECONNREFUSED');
    } finally {
      await src.stop();
      await logger.close();
      await local.dispose();
    }
  });
});

describe('sshd test helper', () => {
  it('fails with an install hint when sshd is missing', async () => {
    const before = process.env.SSHD_PATH;
    process.env.SSHD_PATH = '/nonexistent/sshd';
    try {
      await expect(startSshd()).rejects.toThrow(/apt-get install openssh-server/);
    } finally {
      if (before === undefined) delete process.env.SSHD_PATH;
      else process.env.SSHD_PATH = before;
    }
  });
});
