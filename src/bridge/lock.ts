/**
 * One running bridge per data folder: `<data_dir>/ksef-bridge.lock` holds the pid, host and start time. A lock left
 * by a process that no longer runs (same host) is taken over; a live one refuses the start with who holds it.
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../errors/index.js';

export interface DataDirLock {
  file: string;
  release(): void;
}

interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Checks the folder is writable and takes the lock; ConfigError (RUN_DATA_DIR_NOT_WRITABLE / RUN_LOCKED) otherwise. */
export function lockDataDir(dataDir: string): DataDirLock {
  const dir = path.resolve(dataDir);
  try {
    mkdirSync(dir, { recursive: true });
    const probe = path.join(dir, `.write-test-${process.pid}`);
    closeSync(openSync(probe, 'w'));
    unlinkSync(probe);
  } catch (e) {
    throw new ConfigError('RUN_DATA_DIR_NOT_WRITABLE', `the data folder ${dir} is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: dir }, {
      hint: 'give the user running ksef-bridge write access to it, or set [paths] data_dir in ksef.ini',
    });
  }
  const file = path.join(dir, 'ksef-bridge.lock');
  const me: LockInfo = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, `${JSON.stringify(me)}\n`);
      fsyncSync(fd);
      closeSync(fd);
      return {
        file,
        release: () => {
          try {
            const now = JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
            if (now.pid === me.pid && now.host === me.host) unlinkSync(file);
          } catch {
            /* already gone */
          }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ConfigError('RUN_DATA_DIR_NOT_WRITABLE', `cannot create the lock ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file });
      }
    }
    let held: LockInfo | undefined;
    try {
      held = JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
    } catch {
      held = undefined; // being written, or garbage: treated as stale below when it stays so
    }
    if (held && held.host === me.host && (held.pid === process.pid || !alive(held.pid))) {
      try {
        unlinkSync(file); // stale: its process is gone
      } catch {
        /* someone else took it over first */
      }
      continue;
    }
    if (!held) {
      try {
        unlinkSync(file);
      } catch {
        /* ignore */
      }
      continue;
    }
    throw new ConfigError(
      'RUN_LOCKED',
      `another ksef-bridge (pid ${held.pid} on ${held.host}, started ${held.startedAt}) is running on the data folder ${dir}`,
      { file },
      { hint: held.host === me.host ? `stop it first (kill ${held.pid}), or give this one another [paths] data_dir` : `stop it on ${held.host} first; if it is gone, delete ${file}` },
    );
  }
  throw new ConfigError('RUN_LOCKED', `cannot take the lock ${file}; another ksef-bridge is starting on the same data folder`, { file });
}
