import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors/index.js';
import { registerSecret } from '../../src/log/index.js';
import { DOCUMENT_STATES, DOCUMENT_TRANSITIONS, MIGRATIONS, openStore } from '../../src/store/index.js';
import type { DocumentState, NewDocument, Store } from '../../src/store/index.js';

let dir: string;
let file: string;
let store: Store;
let clock: number;
const now = (): Date => new Date(Date.UTC(2026, 0, 2, 10, 0, 0) + clock++ * 1000);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ksef-store-'));
  file = join(dir, 'nested', 'bridge.sqlite');
  clock = 0;
  store = openStore(file, { now });
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function doc(n: number, extra: Partial<NewDocument> = {}): NewDocument {
  return { source: 'folder:inbox', sourceRef: `export-${n}.csv#1`, contentHash: `sha256-${n}`, invoiceNumber: `FV/${n}/2026`, sellerNip: '5260181596', companyNip: '5260181596', ...extra };
}

function caught(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (err) {
    if (err instanceof StoreError) return err;
    throw err;
  }
  throw new Error('expected a StoreError');
}

/** Path from received to each state through allowed transitions. */
const PATHS: Record<DocumentState, DocumentState[]> = {
  received: [],
  mapped: ['mapped'],
  validated: ['mapped', 'validated'],
  queued: ['mapped', 'validated', 'queued'],
  sending: ['mapped', 'validated', 'queued', 'sending'],
  accepted: ['mapped', 'validated', 'queued', 'sending', 'accepted'],
  confirmed: ['mapped', 'validated', 'queued', 'sending', 'accepted', 'confirmed'],
  invalid: ['invalid'],
  rejected: ['mapped', 'validated', 'queued', 'sending', 'rejected'],
  offline: ['mapped', 'validated', 'queued', 'offline'],
};

function bringTo(id: number, state: DocumentState): void {
  for (const step of PATHS[state]) {
    store.documents.transition(id, step, { patch: step === 'accepted' ? { ksefNumber: `KSEF-${id}` } : step === 'offline' ? { offlineMode: 'offline' } : undefined });
  }
}

describe('opening the store', () => {
  it('creates the file and its folder, with WAL, busy timeout and foreign keys', () => {
    expect(existsSync(file)).toBe(true);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
    expect(store.schemaVersion()).toBe(MIGRATIONS.length);
    const tables = (store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining(['documents', 'document_events', 'ksef_sessions', 'upos', 'sync_checkpoints', 'rate_limit_events', 'schema_migrations']));
  });

  it('applies migrations once: reopening changes nothing', () => {
    const before = store.appliedMigrations();
    expect(before.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
    store.close();
    store = openStore(file, { now });
    store.close();
    store = openStore(file, { now });
    expect(store.appliedMigrations()).toEqual(before);
  });

  it('applies only the pending migrations to an older database', () => {
    store.close();
    rmSync(file);
    const first = MIGRATIONS.slice(0, 1);
    store = openStore(file, { now, migrations: first });
    expect(store.schemaVersion()).toBe(1);
    store.documents.insert(doc(1));
    store.close();
    store = openStore(file, { now });
    expect(store.schemaVersion()).toBe(MIGRATIONS.length);
    expect(store.documents.get(1)?.invoiceNumber).toBe('FV/1/2026');
  });

  it('rolls back every pending migration when one fails', () => {
    const other = join(dir, 'other.sqlite');
    const broken = [
      { version: 1, name: 'ok', sql: 'CREATE TABLE a (x INTEGER);' },
      { version: 2, name: 'broken', sql: 'CREATE TABLE b (x INTEGER); THIS IS NOT SQL;' },
    ];
    const err = caught(() => openStore(other, { migrations: broken }));
    expect(err.code).toBe('STORE_MIGRATION_FAILED');
    expect(err.message).toMatch(/migration 2 \(broken\) failed/);
    const db = new Database(other);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
    db.close();
    expect(tables).not.toContain('a');
    expect(tables).not.toContain('b');
  });

  it('refuses a database from a newer ksef-bridge', () => {
    store.db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')").run();
    store.close();
    const err = caught(() => openStore(file));
    expect(err.code).toBe('STORE_SCHEMA_TOO_NEW');
    store = openStore(file, { migrations: [...MIGRATIONS, { version: 999, name: 'future', sql: '' }] });
  });

  it('reports a store it cannot open', () => {
    const err = caught(() => openStore(join(file, 'not-a-dir', 'x.sqlite')));
    expect(err.code).toBe('STORE_OPEN_FAILED');
  });
});

describe('documents', () => {
  it('insert stores the fields and a creation event', () => {
    clock = 100;
    const d = store.documents.insert(doc(1, { xml: '<Faktura/>' }));
    expect(d).toMatchObject({
      id: 1,
      source: 'folder:inbox',
      sourceRef: 'export-1.csv#1',
      contentHash: 'sha256-1',
      state: 'received',
      xml: '<Faktura/>',
      attempts: 0,
      lastError: null,
      ksefNumber: null,
      offlineMode: null,
      createdAt: '2026-01-02T10:01:40.000Z',
      updatedAt: '2026-01-02T10:01:40.000Z',
    });
    expect(store.documents.events(1)).toEqual([{ id: 1, documentId: 1, from: null, to: 'received', at: '2026-01-02T10:01:40.000Z', reason: 'created', details: null }]);
  });

  it('the identity source + content hash is unique', () => {
    const first = store.documents.insert(doc(1));
    const err = caught(() => store.documents.insert(doc(1, { sourceRef: 'again.csv' })));
    expect(err.code).toBe('STORE_DUPLICATE_DOCUMENT');
    expect(err.context.document).toBe(String(first.id));
    expect(err.message).toContain('already stored (document 1, state received)');
    // Same content from another source is another document.
    const other = store.documents.insert(doc(1, { source: 'sftp:erp' }));
    expect(other.id).toBe(2);
    expect(store.documents.findByHash('sha256-1').map((d) => d.id)).toEqual([1, 2]);
    expect(store.documents.findByIdentity('sftp:erp', 'sha256-1')?.id).toBe(2);
    expect(store.documents.countByState().received).toBe(2);
  });

  it('insertMany writes 10,000 documents in one transaction and reports duplicates', () => {
    store.documents.insert(doc(5));
    const docs = Array.from({ length: 10_000 }, (_, i) => doc(i, { xml: `<Faktura n="${i}"/>` }));
    docs.push(doc(7)); // repeated inside the batch
    const result = store.documents.insertMany(docs);
    expect(result.inserted).toHaveLength(9_999);
    expect(result.duplicates).toEqual([
      { index: 5, existingId: 1 },
      { index: 10_000, existingId: result.inserted.find((r) => r.index === 7)?.id },
    ]);
    expect(store.documents.countByState().received).toBe(10_000);
    expect((store.db.prepare('SELECT COUNT(*) AS n FROM document_events').get() as { n: number }).n).toBe(10_000);
  });

  it('insertMany with onDuplicate=error inserts nothing', () => {
    store.documents.insert(doc(3));
    const err = caught(() => store.documents.insertMany([doc(1), doc(2), doc(3), doc(4)], { onDuplicate: 'error' }));
    expect(err.code).toBe('STORE_DUPLICATE_DOCUMENT');
    expect(store.documents.countByState().received).toBe(1);
  });

  it('refuses to create a document in a state that needs history', () => {
    const err = caught(() => store.documents.insert({ ...doc(1), state: 'accepted' as 'queued' }));
    expect(err.code).toBe('STORE_BAD_INITIAL_STATE');
  });

  it('walks the whole life with history, attempts and fields', () => {
    const { id } = store.documents.insert(doc(1));
    store.documents.transition(id, 'mapped', { reason: 'mapping generic-csv' });
    store.documents.transition(id, 'validated', { patch: { xml: '<Faktura/>' } });
    store.documents.transition(id, 'queued');
    store.documents.transition(id, 'sending', { patch: { sessionRef: 'S-1' } });
    store.documents.transition(id, 'queued', { reason: 'HTTP 503', patch: { lastError: { code: 'KSEF_503', message: 'unavailable', details: { retryAfter: 5 } } } });
    store.documents.transition(id, 'sending', { patch: { sessionRef: 'S-2', lastError: null } });
    store.documents.transition(id, 'accepted', { patch: { ksefNumber: '5260181596-20260102-ABCDEF123456-01', invoiceRef: 'I-1' }, details: { status: 200 } });
    const done = store.documents.transition(id, 'confirmed', { reason: 'UPO stored' });
    expect(done).toMatchObject({ state: 'confirmed', attempts: 2, sessionRef: 'S-2', invoiceRef: 'I-1', ksefNumber: '5260181596-20260102-ABCDEF123456-01', lastError: null, xml: '<Faktura/>' });
    const events = store.documents.events(id);
    expect(events.map((e) => [e.from, e.to])).toEqual([
      [null, 'received'],
      ['received', 'mapped'],
      ['mapped', 'validated'],
      ['validated', 'queued'],
      ['queued', 'sending'],
      ['sending', 'queued'],
      ['queued', 'sending'],
      ['sending', 'accepted'],
      ['accepted', 'confirmed'],
    ]);
    expect(events[5]?.reason).toBe('HTTP 503');
    expect(events[7]?.details).toEqual({ status: 200 });
    expect(store.documents.findByKsefNumber('5260181596-20260102-ABCDEF123456-01').map((d) => d.id)).toEqual([id]);
    expect(store.documents.findBySession('S-2').map((d) => d.id)).toEqual([id]);
  });

  it('an illegal transition is a StoreError naming document, from and to, and changes nothing', () => {
    const { id } = store.documents.insert(doc(1));
    const err = caught(() => store.documents.transition(id, 'accepted', { patch: { ksefNumber: 'X' } }));
    expect(err.code).toBe('STORE_ILLEGAL_TRANSITION');
    expect(err.context.document).toBe(String(id));
    expect(err.context.details).toEqual({ from: 'received', to: 'accepted' });
    expect(err.message).toBe(`document ${id} cannot go from received to accepted (from received it may go to: mapped, invalid)`);
    expect(store.documents.get(id)).toMatchObject({ state: 'received', ksefNumber: null });
    expect(store.documents.events(id)).toHaveLength(1);
  });

  it('enforces exactly the transition table, for every pair of states', () => {
    let n = 0;
    for (const from of DOCUMENT_STATES) {
      for (const to of DOCUMENT_STATES) {
        const { id } = store.documents.insert(doc(1000 + n++));
        bringTo(id, from);
        const attempt = (): unknown =>
          store.documents.transition(id, to, { patch: { ksefNumber: 'KSEF-X', offlineMode: 'offline24' } });
        if (DOCUMENT_TRANSITIONS[from].includes(to)) {
          expect(() => attempt(), `${from} -> ${to}`).not.toThrow();
          expect(store.documents.get(id)?.state).toBe(to);
        } else {
          expect(caught(attempt).code, `${from} -> ${to}`).toBe('STORE_ILLEGAL_TRANSITION');
          expect(store.documents.get(id)?.state).toBe(from);
        }
      }
    }
    expect(DOCUMENT_TRANSITIONS.confirmed).toEqual([]);
  });

  it('accepted needs a KSeF number, offline an offline mode, expectedFrom the right state', () => {
    const { id } = store.documents.insert(doc(1, { state: 'queued' }));
    expect(caught(() => store.documents.transition(id, 'offline')).code).toBe('STORE_MISSING_OFFLINE_MODE');
    expect(caught(() => store.documents.transition(id, 'sending', { expectedFrom: 'validated' })).code).toBe('STORE_UNEXPECTED_STATE');
    store.documents.transition(id, 'sending', { expectedFrom: ['queued', 'offline'] });
    expect(caught(() => store.documents.transition(id, 'accepted')).code).toBe('STORE_MISSING_KSEF_NUMBER');
    expect(store.documents.get(id)?.state).toBe('sending');
    const off = store.documents.insert(doc(2, { state: 'queued' }));
    const d = store.documents.transition(off.id, 'offline', { patch: { offlineMode: 'emergency', offlineDeadline: '2026-01-10' } });
    expect(d).toMatchObject({ offlineMode: 'emergency', offlineDeadline: '2026-01-10' });
    expect(caught(() => store.documents.transition(999, 'mapped')).code).toBe('STORE_DOCUMENT_NOT_FOUND');
  });

  it('alsoDo writes in the same transaction; a throw rolls back the state change too', () => {
    const { id } = store.documents.insert(doc(1));
    bringTo(id, 'accepted');
    const err = (() => {
      try {
        store.documents.transition(id, 'confirmed', {
          alsoDo: (tx) => {
            tx.upos.insert({ documentId: id, xml: '<UPO/>' });
            throw new Error('disk full');
          },
        });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err?.message).toBe('disk full');
    expect(store.documents.get(id)?.state).toBe('accepted');
    expect(store.upos.forDocument(id)).toEqual([]);
    expect(store.documents.events(id).at(-1)?.to).toBe('accepted');

    const confirmed = store.documents.transition(id, 'confirmed', {
      alsoDo: (tx, current) => {
        expect(current.state).toBe('confirmed');
        tx.upos.insert({ documentId: id, sessionRef: 'S-1', ksefNumber: current.ksefNumber, xml: '<UPO/>' });
      },
    });
    expect(confirmed.state).toBe('confirmed');
    expect(store.upos.forDocument(id)).toHaveLength(1);
  });

  it('an asynchronous alsoDo is refused and rolled back', () => {
    const { id } = store.documents.insert(doc(1));
    const err = caught(() => store.documents.transition(id, 'mapped', { alsoDo: async () => {} }));
    expect(err.code).toBe('STORE_ASYNC_IN_TRANSACTION');
    expect(store.documents.get(id)?.state).toBe('received');
  });

  it('store.transaction groups several changes atomically', () => {
    const a = store.documents.insert(doc(1, { state: 'queued' }));
    const b = store.documents.insert(doc(2, { state: 'queued' }));
    expect(() =>
      store.transaction((tx) => {
        tx.documents.transition(a.id, 'sending');
        tx.documents.transition(b.id, 'accepted'); // illegal: aborts both
      }),
    ).toThrow(StoreError);
    expect(store.documents.get(a.id)?.state).toBe('queued');
    store.transaction((tx) => {
      tx.sessions.insert({ referenceNumber: 'S-9', kind: 'batch', companyNip: '5260181596', environment: 'test' });
      for (const id of [a.id, b.id]) tx.documents.transition(id, 'sending', { patch: { sessionRef: 'S-9' } });
    });
    expect(store.documents.findBySession('S-9')).toHaveLength(2);
  });

  it('queries: by state (ordered, limited, paged, by company) and counts', () => {
    for (let i = 1; i <= 6; i++) store.documents.insert(doc(i, { companyNip: i % 2 ? '5260181596' : '1860913901' }));
    store.documents.transition(2, 'mapped');
    store.documents.transition(4, 'invalid', { patch: { lastError: { code: 'MAPPING_FIELD_MISSING', message: 'no P_2' } } });
    expect(store.documents.listByState('received').map((d) => d.id)).toEqual([1, 3, 5, 6]);
    expect(store.documents.listByState('received', { limit: 2 }).map((d) => d.id)).toEqual([1, 3]);
    expect(store.documents.listByState('received', { afterId: 3, limit: 10 }).map((d) => d.id)).toEqual([5, 6]);
    expect(store.documents.listByState('received', { order: 'desc', limit: 2 }).map((d) => d.id)).toEqual([6, 5]);
    expect(store.documents.listByState(['mapped', 'invalid']).map((d) => d.id)).toEqual([2, 4]);
    expect(store.documents.listByState('received', { companyNip: '1860913901' }).map((d) => d.id)).toEqual([6]);
    expect(store.documents.listByState([])).toEqual([]);
    expect(store.documents.countByState()).toEqual({ received: 4, mapped: 1, validated: 0, queued: 0, sending: 0, accepted: 0, confirmed: 0, invalid: 1, rejected: 0, offline: 0 });
    expect(store.documents.get(4)?.lastError).toEqual({ code: 'MAPPING_FIELD_MISSING', message: 'no P_2' });
  });

  it('patch changes fields without a state change', () => {
    const { id } = store.documents.insert(doc(1));
    const d = store.documents.patch(id, { invoiceNumber: 'FV/NEW', sellerNip: null });
    expect(d).toMatchObject({ invoiceNumber: 'FV/NEW', sellerNip: null, state: 'received' });
    expect(store.documents.events(id)).toHaveLength(1);
    expect(caught(() => store.documents.patch(77, { xml: 'x' })).code).toBe('STORE_DOCUMENT_NOT_FOUND');
  });

  it('secrets do not reach the store through errors or event details', () => {
    registerSecret('store-secret-token-123456');
    const { id } = store.documents.insert(doc(1));
    store.documents.transition(id, 'invalid', {
      reason: 'auth with store-secret-token-123456 failed',
      details: { password: 'hunter2', note: 'ok' },
      patch: { lastError: { code: 'X', message: 'token store-secret-token-123456', details: { authorization: 'Bearer abcdefgh12345' } } },
    });
    const d = store.documents.get(id);
    expect(d?.lastError).toEqual({ code: 'X', message: 'token ***', details: { authorization: '***' } });
    const ev = store.documents.events(id).at(-1);
    expect(ev?.reason).toBe('auth with *** failed');
    expect(ev?.details).toEqual({ password: '***', note: 'ok' });
  });
});

describe('durability', () => {
  it('everything is there after close and reopen', () => {
    const { inserted } = store.documents.insertMany([doc(1), doc(2), doc(3)]);
    const id = inserted[0]?.id ?? 0;
    bringTo(id, 'accepted');
    store.upos.insert({ documentId: id, xml: '<UPO/>' });
    store.sessions.insert({ referenceNumber: 'S-1', kind: 'online', companyNip: '5260181596', environment: 'test', details: { n: 1 } });
    store.checkpoints.set('5260181596:subject2', '2026-01-02T09:00:00Z');
    store.close();
    expect(store.isOpen).toBe(false);

    store = openStore(file, { now });
    expect(store.documents.get(id)).toMatchObject({ state: 'accepted', ksefNumber: `KSEF-${id}`, attempts: 1 });
    expect(store.documents.events(id)).toHaveLength(PATHS.accepted.length + 1);
    expect(store.documents.countByState().received).toBe(2);
    expect(store.upos.forDocument(id)[0]?.xml).toBe('<UPO/>');
    expect(store.sessions.get('S-1')?.details).toEqual({ n: 1 });
    expect(store.checkpoints.get('5260181596:subject2')?.value).toBe('2026-01-02T09:00:00Z');
  });

  it('a second connection sees committed changes (WAL, two processes share the file)', () => {
    const other = openStore(file, { now });
    try {
      const { id } = store.documents.insert(doc(1));
      expect(other.documents.get(id)?.state).toBe('received');
      other.documents.transition(id, 'mapped');
      expect(store.documents.get(id)?.state).toBe('mapped');
    } finally {
      other.close();
    }
  });
});

describe('sessions, UPOs, checkpoints, rate-limit events', () => {
  it('sessions', () => {
    const s = store.sessions.insert({ referenceNumber: 'S-1', kind: 'batch', companyNip: '5260181596', environment: 'test', validUntil: '2026-01-03T00:00:00Z' });
    expect(s).toMatchObject({ state: 'open', kind: 'batch', closedAt: null });
    expect(caught(() => store.sessions.insert({ referenceNumber: 'S-1', kind: 'batch', companyNip: '5260181596', environment: 'test' })).code).toBe('STORE_DUPLICATE_SESSION');
    const closed = store.sessions.update('S-1', { state: 'closed', closedAt: '2026-01-02T11:00:00Z', details: { upo: true } });
    expect(closed).toMatchObject({ state: 'closed', closedAt: '2026-01-02T11:00:00Z', details: { upo: true } });
    store.sessions.insert({ referenceNumber: 'S-2', kind: 'online', companyNip: '1860913901', environment: 'demo' });
    expect(store.sessions.listByState('open').map((x) => x.referenceNumber)).toEqual(['S-2']);
    expect(store.sessions.listByState(['open', 'closed'], { companyNip: '5260181596' }).map((x) => x.referenceNumber)).toEqual(['S-1']);
    expect(caught(() => store.sessions.update('nope', { state: 'x' })).code).toBe('STORE_SESSION_NOT_FOUND');
  });

  it('UPOs per session', () => {
    store.upos.insert({ sessionRef: 'S-1', xml: '<UPO a="1"/>' });
    store.upos.insert({ sessionRef: 'S-1', invoiceRef: 'I-2', xml: '<UPO a="2"/>' });
    expect(store.upos.forSession('S-1').map((u) => u.xml)).toEqual(['<UPO a="1"/>', '<UPO a="2"/>']);
    expect(() => store.upos.insert({ documentId: 12345, xml: '<UPO/>' })).toThrow(/FOREIGN KEY/);
  });

  it('checkpoints upsert', () => {
    expect(store.checkpoints.get('hwm')).toBeUndefined();
    store.checkpoints.set('hwm', 'a');
    const second = store.checkpoints.set('hwm', 'b', { truncated: false });
    expect(second).toMatchObject({ name: 'hwm', value: 'b', details: { truncated: false } });
    expect(store.checkpoints.list().map((c) => c.name)).toEqual(['hwm']);
  });

  it('rate-limit events by endpoint and time, pruned', () => {
    const t0 = new Date('2026-01-02T10:00:00Z');
    for (let i = 0; i < 5; i++) store.rateLimitEvents.record({ endpoint: 'POST /sessions/online', at: new Date(t0.getTime() + i * 1000) });
    store.rateLimitEvents.record({ endpoint: 'POST /sessions/online', at: new Date(t0.getTime() + 5000), status: 429, retryAfterMs: 30_000 });
    store.rateLimitEvents.record({ endpoint: 'GET /auth', at: t0 });
    const recent = store.rateLimitEvents.since('POST /sessions/online', new Date(t0.getTime() + 3000));
    expect(recent.map((e) => e.status)).toEqual([null, null, 429]);
    expect(recent[2]?.retryAfterMs).toBe(30_000);
    expect(store.rateLimitEvents.prune(new Date(t0.getTime() + 2000))).toBe(3);
    expect(store.rateLimitEvents.since('POST /sessions/online', t0)).toHaveLength(4);
  });
});
