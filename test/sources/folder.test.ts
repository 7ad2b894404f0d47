import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFolderSource, type FolderSourceOptions, type Source } from '../../src/sources/index.js';
import { listFiles, recordingHandler, tempDir, waitFor } from './util.js';

async function setup(extra: Partial<FolderSourceOptions> = {}) {
  const dir = await tempDir();
  const inbox = join(dir.path, 'inbox');
  await mkdir(inbox);
  const options: FolderSourceOptions = { name: 'erp', inbox, stableMs: 150, checkIntervalMs: 25, backoff: { initialMs: 20, maxMs: 100 }, ...extra };
  return { dir, inbox, options, archive: join(dir.path, 'archive'), error: join(dir.path, 'error'), processing: join(dir.path, 'processing') };
}

async function withSource<T>(src: Source, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    await src.stop();
  }
}

describe('folder source', () => {
  it('takes a file, hands over its hash and content, archives it in a dated folder', async () => {
    const { dir, inbox, options, archive, processing } = await setup();
    const { handler, calls } = recordingHandler();
    const src = createFolderSource(options);
    await src.start(handler);
    await withSource(src, async () => {
      await writeFile(join(inbox, 'inv.csv'), 'a;b\n');
      await waitFor('archived', async () => (await listFiles(archive)).length === 1);
      const [day] = await readdir(archive);
      expect(day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(await readFile(join(archive, day!, 'inv.csv'), 'utf8')).toBe('a;b\n');
      expect(calls).toHaveLength(1);
      const f = calls[0]!.file;
      expect(f).toMatchObject({ name: 'inv.csv', source: 'erp', route: 'erp', size: 4, recovered: false, origin: { kind: 'folder' } });
      expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
      const { createHash } = await import('node:crypto');
      expect(f.sha256).toBe(createHash('sha256').update('a;b\n').digest('hex'));
      expect(await readdir(inbox)).toEqual([]);
      expect((await readdir(processing)).filter((n) => n !== '.lock')).toEqual([]);
    });
    await dir.dispose();
  });

  it('does not pick up a file while it is written slowly in chunks', async () => {
    const { dir, inbox, options } = await setup({ stableMs: 300 });
    const { handler, calls } = recordingHandler();
    const src = createFolderSource(options);
    await src.start(handler);
    await withSource(src, async () => {
      const fh = await open(join(inbox, 'slow.csv'), 'w');
      for (let i = 0; i < 10; i++) {
        await fh.write(`line ${i}\n`);
        await new Promise((r) => setTimeout(r, 100));
        expect(calls).toHaveLength(0);
        expect(existsSync(join(inbox, 'slow.csv'))).toBe(true);
      }
      await fh.close();
      await waitFor('handled', () => calls.length === 1);
      expect(calls[0]!.content.split('\n').filter(Boolean)).toHaveLength(10);
    });
    await dir.dispose();
  });

  it('trigger mode: waits for invoice.csv.ok, then removes the trigger', async () => {
    const { dir, inbox, options, archive } = await setup({ trigger: { suffix: '.ok' }, stableMs: 0 });
    const { handler, calls } = recordingHandler();
    const src = createFolderSource(options);
    await src.start(handler);
    await withSource(src, async () => {
      await writeFile(join(inbox, 'invoice.csv'), 'data');
      await writeFile(join(inbox, 'other.csv'), 'no trigger yet');
      // give the source several checks; without trigger nothing may move
      await waitFor('checks ran', async () => {
        await new Promise((r) => setTimeout(r, 100));
        return true;
      });
      expect(calls).toHaveLength(0);
      await writeFile(join(inbox, 'invoice.csv.ok'), '');
      await waitFor('handled', () => calls.length === 1);
      expect(calls[0]!.file.name).toBe('invoice.csv');
      await waitFor('trigger removed', () => !existsSync(join(inbox, 'invoice.csv.ok')));
      expect(await readdir(inbox)).toEqual(['other.csv']);
      expect((await listFiles(archive)).some((f) => f.endsWith('invoice.csv.ok'))).toBe(false);
    });
    await dir.dispose();
  });

  it('trigger mode "replace": invoice.csv waits for invoice.ok', async () => {
    const { dir, inbox, options } = await setup({ trigger: { suffix: '.ok', mode: 'replace' }, stableMs: 0 });
    const { handler, calls } = recordingHandler();
    const src = createFolderSource(options);
    await src.start(handler);
    await withSource(src, async () => {
      await writeFile(join(inbox, 'invoice.csv'), 'data');
      await new Promise((r) => setTimeout(r, 200));
      expect(calls).toHaveLength(0);
      await writeFile(join(inbox, 'invoice.ok'), '');
      await waitFor('handled', () => calls.length === 1);
      await waitFor('trigger removed', async () => (await readdir(inbox)).length === 0);
    });
    await dir.dispose();
  });

  it('ignores hidden and temporary files and names outside the include patterns', async () => {
    const { dir, inbox, options } = await setup({ include: ['*.csv', '*.xml'], exclude: ['draft-*'] });
    const ignored = ['.hidden.csv', 'x.tmp', 'y.csv.part', '~lock.csv', 'notes.txt', 'draft-1.csv'];
    for (const n of ignored) await writeFile(join(inbox, n), 'x');
    const { handler, calls } = recordingHandler();
    const src = createFolderSource(options);
    await src.start(handler);
    await withSource(src, async () => {
      await writeFile(join(inbox, 'take.CSV'), 'x');
      await waitFor('handled', () => calls.length === 1);
      await new Promise((r) => setTimeout(r, 300));
      expect(calls.map((c) => c.file.name)).toEqual(['take.CSV']);
      expect((await readdir(inbox)).sort()).toEqual([...ignored].sort());
    });
    await dir.dispose();
  });

  it('scans at start: files dropped while the bridge was down are taken', async () => {
    const { dir, inbox, options } = await setup();
    await writeFile(join(inbox, 'early1.csv'), '1');
    await writeFile(join(inbox, 'early2.csv'), '2');
    const { handler, calls } = recordingHandler();
    const src = createFolderSource(options);
    await src.start(handler);
    await withSource(src, async () => {
      await waitFor('both handled', () => calls.length === 2);
      expect(calls.map((c) => c.file.name).sort()).toEqual(['early1.csv', 'early2.csv']);
    });
    await dir.dispose();
  });

  it('failed outcome: file to error/ with a sidecar report; partial results say so', async () => {
    const { dir, inbox, options, error } = await setup();
    const { handler } = recordingHandler((f) =>
      f.name === 'part.csv'
        ? { kind: 'failed', partial: true, report: 'record 3: NIP 123 is not valid\ninvoices sent on: FV/1, FV/2' }
        : { kind: 'failed', report: 'line 1: column "kwota" missing' },
    );
    const src = createFolderSource(options);
    await src.start(handler);
    await withSource(src, async () => {
      await writeFile(join(inbox, 'bad.csv'), 'x');
      await writeFile(join(inbox, 'part.csv'), 'y');
      const expected = ['bad.csv', 'bad.csv.error.txt', 'part.csv', 'part.csv.error.txt'];
      await waitFor('both in error/ with their reports', async () => JSON.stringify(await listFiles(error)) === JSON.stringify(expected));
      const bad = await readFile(join(error, 'bad.csv.error.txt'), 'utf8');
      expect(bad).toContain('column "kwota" missing');
      expect(bad).toContain('not processed');
      const part = await readFile(join(error, 'part.csv.error.txt'), 'utf8');
      expect(part).toContain('partly processed');
      expect(part).toContain('FV/1, FV/2');
    });
    await dir.dispose();
  });

  it('same name twice: the corrected file is processed too, archive names do not collide', async () => {
    const { dir, inbox, options, archive } = await setup();
    const { handler, calls } = recordingHandler();
    const src = createFolderSource(options);
    await src.start(handler);
    await withSource(src, async () => {
      await writeFile(join(inbox, 'same.csv'), 'version 1');
      await waitFor('first', () => calls.length === 1);
      await waitFor('inbox empty', async () => (await readdir(inbox)).length === 0);
      await writeFile(join(inbox, 'same.csv'), 'version 2');
      await waitFor('second', () => calls.length === 2);
      await waitFor('two archived', async () => (await listFiles(archive)).length === 2);
      const files = (await listFiles(archive)).map((f) => f.split('/')[1]);
      expect(files.sort()).toEqual(['same.csv', 'same~2.csv']);
      expect(calls[0]!.file.sha256).not.toBe(calls[1]!.file.sha256);
      expect(calls.map((c) => c.content)).toEqual(['version 1', 'version 2']);
    });
    await dir.dispose();
  });

  it('a handler error keeps the file in processing/ and retries it', async () => {
    const { dir, inbox, options, archive } = await setup();
    let attempts = 0;
    const src = createFolderSource(options);
    await src.start(async () => {
      attempts++;
      if (attempts < 3) throw new Error('database is locked');
      return { kind: 'done' };
    });
    await withSource(src, async () => {
      await writeFile(join(inbox, 'retry.csv'), 'r');
      await waitFor('archived after retries', async () => (await listFiles(archive)).length === 1);
      expect(attempts).toBe(3);
    });
    await dir.dispose();
  });

  it('a file left in processing/ by a crash (SIGKILL) is handed over again at start', async () => {
    const { dir, inbox, options, archive, processing } = await setup();
    await writeFile(join(inbox, 'crash.csv'), 'c');
    // first run in a child process whose handler never finishes; then it is killed
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'hang-folder.ts'), inbox], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor('child handler entered', () => out.includes('ENTERED crash.csv'), 30_000);
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    const left = (await readdir(processing)).filter((n) => !n.startsWith('.'));
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/__crash\.csv$/);
    expect(existsSync(join(processing, '.lock'))).toBe(true);
    const { handler, calls } = recordingHandler();
    const second = createFolderSource(options);
    await second.start(handler);
    await withSource(second, async () => {
      await waitFor('re-handled', () => calls.length === 1);
      expect(calls[0]!.file).toMatchObject({ name: 'crash.csv', recovered: true });
      expect(calls[0]!.content).toBe('c');
      await waitFor('archived', async () => (await listFiles(archive)).length === 1);
    });
    await dir.dispose();
  });

  it('a run killed between placing a file in archive/ and removing its claim leaves one archived copy, not two', async () => {
    const { dir, inbox, options, archive, processing } = await setup();
    const { handler, calls } = recordingHandler();
    // The state such a kill leaves: the claim still in processing/, the same file (hard link) already in archive/<day>/.
    const now = new Date();
    const day = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
    await mkdir(processing, { recursive: true });
    await mkdir(join(archive, day), { recursive: true });
    const claim = join(processing, 'lq0abc-1-a1b2c3__half.csv');
    await writeFile(claim, 'h');
    await link(claim, join(archive, day, 'half.csv'));
    const src = createFolderSource(options);
    await src.start(handler);
    await withSource(src, async () => {
      await waitFor('re-handled', () => calls.length === 1);
      expect(calls[0]!.file).toMatchObject({ name: 'half.csv', recovered: true });
      await waitFor('claim released', async () => (await readdir(processing)).filter((n) => !n.startsWith('.')).length === 0);
      expect(await listFiles(archive)).toHaveLength(1);
      expect(await readdir(inbox)).toEqual([]);
    });
    await dir.dispose();
  });

  it('chokidar watch mode works too', async () => {
    const { dir, inbox, options, archive } = await setup({ watch: 'chokidar', rescanIntervalMs: 0 });
    const { handler, calls } = recordingHandler();
    const src = createFolderSource(options);
    await src.start(handler);
    await withSource(src, async () => {
      await writeFile(join(inbox, 'c.csv'), 'via chokidar');
      await waitFor('archived', async () => (await listFiles(archive)).length === 1);
      expect(calls.map((c) => c.content)).toEqual(['via chokidar']);
    });
    await dir.dispose();
  });

  it('poll mode (rescans only) works for shares without change notifications', async () => {
    const { dir, inbox, options } = await setup({ watch: 'poll', rescanIntervalMs: 50 });
    const { handler, calls } = recordingHandler();
    const src = createFolderSource(options);
    await src.start(handler);
    await withSource(src, async () => {
      await writeFile(join(inbox, 'p.csv'), 'polled');
      await waitFor('handled', () => calls.length === 1);
    });
    await dir.dispose();
  });

  it('refuses a processing folder another live instance holds', async () => {
    const { dir, options } = await setup();
    const a = createFolderSource(options);
    await a.start(async () => ({ kind: 'done' }));
    try {
      await expect(createFolderSource({ ...options, name: 'erp2' }).start(async () => ({ kind: 'done' }))).rejects.toMatchObject({
        code: 'SOURCE_PROCESSING_LOCKED',
      });
    } finally {
      await a.stop();
    }
    await dir.dispose();
  });

  it('a missing inbox is a clear error', async () => {
    const { dir, options } = await setup();
    await expect(createFolderSource({ ...options, inbox: join(dir.path, 'nope') }).start(async () => ({ kind: 'done' }))).rejects.toMatchObject({
      code: 'SOURCE_INBOX_MISSING',
    });
    await dir.dispose();
  });

  it('two instances on one inbox: each file is handled exactly once', async () => {
    const { dir, inbox, options } = await setup({ stableMs: 50, concurrency: 8 });
    const handled = new Map<string, string[]>();
    const make = (n: string) =>
      createFolderSource({ ...options, name: n, dirs: { processing: join(dir.path, `processing-${n}`) } });
    const a = make('a');
    const b = make('b');
    const handler = (who: string) => async (f: { name: string }) => {
      handled.set(f.name, [...(handled.get(f.name) ?? []), who]);
      return { kind: 'done' as const };
    };
    // drop files first so both instances see all of them at start and race for every one
    const N = 300;
    for (let i = 0; i < N; i++) await writeFile(join(inbox, `f${i}.csv`), `content ${i}`);
    await Promise.all([a.start(handler('a')), b.start(handler('b'))]);
    try {
      await waitFor('all handled', () => handled.size === N, 60_000);
      await waitFor('inbox empty', async () => (await readdir(inbox)).length === 0);
      await new Promise((r) => setTimeout(r, 200));
      const twice = [...handled].filter(([, who]) => who.length !== 1);
      expect(twice).toEqual([]);
      const byA = [...handled.values()].filter((w) => w[0] === 'a').length;
      expect(byA).toBeGreaterThan(0);
      expect(byA).toBeLessThan(N);
    } finally {
      await a.stop();
      await b.stop();
    }
    await dir.dispose();
  });

  it('2,000 files dropped at once are all handled and archived', async () => {
    const { dir, inbox, options, archive } = await setup({ stableMs: 100, concurrency: 16 });
    const { handler, calls } = recordingHandler();
    const src = createFolderSource(options);
    await src.start(handler);
    await withSource(src, async () => {
      const N = 2000;
      // write to a temporary name and rename, as well-behaved ERPs do, but all at once
      await Promise.all(
        Array.from({ length: N }, async (_, i) => {
          const tmp = join(inbox, `.f${i}.csv.tmp`);
          await writeFile(tmp, `invoice ${i}\n`);
          await rename(tmp, join(inbox, `f${i}.csv`));
        }),
      );
      await waitFor('all handled', () => calls.length === N, 120_000, 100);
      await waitFor('all archived', async () => (await listFiles(archive)).length === N, 60_000, 100);
      expect(new Set(calls.map((c) => c.file.name)).size).toBe(N);
      expect(await readdir(inbox)).toEqual([]);
    });
    await dir.dispose();
  });
});

describe('createSource', () => {
  it('creates each kind from one spec shape', async () => {
    const { createSource } = await import('../../src/sources/index.js');
    const { Secret } = await import('../../src/log/index.js');
    const dir = await tempDir();
    try {
      expect((await createSource({ kind: 'folder', name: 'f', inbox: join(dir.path, 'in') })).kind).toBe('folder');
      expect((await createSource({ kind: 'sftp', name: 's', host: 'h', username: 'u', password: new Secret('p-123456'), remoteDir: '/out', localDir: dir.path })).kind).toBe('sftp');
      expect((await createSource({ kind: 'http', name: 'h', port: 0, users: [{ username: 'u', password: new Secret('p-123456') }], localDir: dir.path })).kind).toBe('http');
      await expect(createSource({ kind: 'rfc', name: 'r', connection: { dest: 'PRD' }, localDir: dir.path })).rejects.toMatchObject({ code: 'RFC_NODE_RFC_MISSING' });
      expect(() => createFolderSource({ name: 'f', inbox: dir.path, trigger: { suffix: '' } })).toThrow(/trigger.suffix/);
    } finally {
      await dir.dispose();
    }
  });
});
