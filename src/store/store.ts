import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from '../errors/index.js';
import { DocumentRepository } from './documents.js';
import { MIGRATIONS } from './migrations.js';
import type { Migration } from './migrations.js';
import { CheckpointRepository, RateLimitEventRepository, SessionRepository, UpoRepository } from './repositories.js';

export interface OpenStoreOptions {
  /** Clock for timestamps (tests). Default: new Date(). */
  now?: () => Date;
  /** How long to wait for another process's write lock; default 5000 ms. */
  busyTimeoutMs?: number;
  /** Migrations to apply instead of the built-in ones (tests only). */
  migrations?: readonly Migration[];
}

export interface AppliedMigration {
  version: number;
  name: string;
  appliedAt: string;
}

/**
 * The bridge's SQLite store (one file, WAL, synchronous=FULL, foreign keys on).
 * Migrations are applied at open. All writes of one logical step go through one
 * transaction; `transaction(fn)` groups several repository calls into one.
 */
export class Store {
  readonly file: string;
  readonly documents: DocumentRepository<Store>;
  readonly sessions: SessionRepository;
  readonly upos: UpoRepository;
  readonly checkpoints: CheckpointRepository;
  readonly rateLimitEvents: RateLimitEventRepository;
  /** The better-sqlite3 connection, for queries the repositories do not offer. */
  readonly db: Database.Database;

  constructor(file: string, db: Database.Database, now: () => string) {
    this.file = file;
    this.db = db;
    this.documents = new DocumentRepository<Store>(db, now, this);
    this.sessions = new SessionRepository(db, now);
    this.upos = new UpoRepository(db, now);
    this.checkpoints = new CheckpointRepository(db, now);
    this.rateLimitEvents = new RateLimitEventRepository(db, now);
  }

  /**
   * Runs `fn` in one write transaction (BEGIN IMMEDIATE); repository calls inside it join
   * it (nested ones become savepoints). `fn` must be synchronous. A throw rolls back.
   */
  transaction<T>(fn: (tx: Store) => T): T {
    const run = this.db.transaction(() => {
      const result = fn(this);
      if (typeof result === 'object' && result !== null && typeof (result as { then?: unknown }).then === 'function') {
        throw new StoreError('STORE_ASYNC_IN_TRANSACTION', 'a store transaction function returned a promise; it must be synchronous');
      }
      return result;
    });
    return run.immediate();
  }

  /** Highest applied migration version. */
  schemaVersion(): number {
    const r = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    return r.v ?? 0;
  }

  appliedMigrations(): AppliedMigration[] {
    return (this.db.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all() as { version: number; name: string; applied_at: string }[]).map(
      (r) => ({ version: r.version, name: r.name, appliedAt: r.applied_at }),
    );
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function migrate(db: Database.Database, migrations: readonly Migration[], now: () => string): void {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  sorted.forEach((m, i) => {
    if (!Number.isInteger(m.version) || m.version < 1 || (i > 0 && sorted[i - 1]?.version === m.version)) {
      throw new StoreError('STORE_BAD_MIGRATION', `migration versions must be distinct positive integers (found ${m.version})`);
    }
  });
  const apply = db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
    const newest = Math.max(0, ...applied);
    const known = sorted[sorted.length - 1]?.version ?? 0;
    if (newest > known) {
      throw new StoreError(
        'STORE_SCHEMA_TOO_NEW',
        `the database has schema version ${newest}, newer than this ksef-bridge knows (${known}); use a newer ksef-bridge`,
        { value: String(newest), allowed: `<= ${known}` },
      );
    }
    for (const m of sorted) {
      if (applied.has(m.version)) continue;
      try {
        db.exec(m.sql);
      } catch (err) {
        throw new StoreError('STORE_MIGRATION_FAILED', `migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, { rule: `migration ${m.version}` }, { cause: err });
      }
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, now());
    }
  });
  apply.immediate();
}

/**
 * Opens (creating if needed, with its folder) the store at `file` and applies pending
 * migrations in one transaction. The file must be on a local disk (WAL needs shared memory).
 */
export function openStore(file: string, options: OpenStoreOptions = {}): Store {
  const path = resolve(file);
  const clock = options.now ?? (() => new Date());
  const now = (): string => clock().toISOString();
  let db: Database.Database;
  try {
    mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
  } catch (err) {
    throw new StoreError('STORE_OPEN_FAILED', `cannot open the store ${path}: ${(err as Error).message}`, { file: path }, { cause: err });
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') {
      throw new StoreError('STORE_NO_WAL', `the store ${path} could not switch to WAL (journal_mode is ${String(mode)}); use a local disk`, { file: path });
    }
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db, options.migrations ?? MIGRATIONS, now);
  } catch (err) {
    db.close();
    if (err instanceof StoreError) throw err;
    throw new StoreError('STORE_OPEN_FAILED', `cannot open the store ${path}: ${(err as Error).message}`, { file: path }, { cause: err });
  }
  return new Store(path, db, now);
}
