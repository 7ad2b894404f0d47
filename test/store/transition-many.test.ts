/**
 * documents.transitionMany: many documents in one transaction, with the same rows, history events and state machine
 * as documents.transition (the batch-session path of the dispatcher).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors/index.js';
import { registerSecret } from '../../src/log/index.js';
import { DOCUMENT_STATES, DOCUMENT_TRANSITIONS, openStore } from '../../src/store/index.js';
import type { DocumentRecord, NewDocument, Store } from '../../src/store/index.js';

let dir: string;
let store: Store;
let clock: number;
const now = (): Date => new Date(Date.UTC(2026, 0, 2, 10, 0, 0) + clock++ * 1000);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ksef-store-many-'));
  clock = 0;
  store = openStore(join(dir, 'bridge.sqlite'), { now });
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function doc(n: number, state: NewDocument['state'] = 'queued'): NewDocument {
  return { source: 'folder:inbox', contentHash: `sha256-${n}`, invoiceNumber: `FV/${n}/2026`, sellerNip: '5260181596', companyNip: '5260181596', xml: `<x>${n}</x>`, state };
}

function insert(count: number, state: NewDocument['state'] = 'queued', from = 0): number[] {
  return store.documents.insertMany(Array.from({ length: count }, (_, i) => doc(from + i, state))).inserted.map((r) => r.id);
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

/** A document's row and history without ids and times (to compare the two ways of moving it). */
function shape(d: DocumentRecord): unknown {
  const { id: _id, contentHash: _h, invoiceNumber: _n, xml: _x, createdAt: _c, updatedAt: _u, ...rest } = d;
  return { ...rest, events: store.documents.events(d.id).map(({ id: _e, documentId: _d, at: _a, ...e }) => e) };
}

describe('documents.transitionMany', () => {
  it('writes the same rows and history events as transition, for a batch session life', () => {
    const [a, b] = insert(2);
    const ref = '20260102-SB-0000000000-0000000000-01';
    // one by one
    store.documents.transition(a!, 'sending', {
      expectedFrom: 'queued',
      reason: `sending in batch session ${ref}`,
      details: { invoiceHash: 'hash-a', mode: 'batch' },
      patch: { sessionRef: ref, invoiceRef: null, lastError: null },
    });
    store.documents.transition(a!, 'accepted', {
      expectedFrom: 'sending',
      reason: 'KSeF number K-1',
      details: { acquisitionDate: '2026-01-02T10:00:00Z' },
      patch: { ksefNumber: 'K-1', invoiceRef: 'INV-1', sessionRef: ref, lastError: null },
    });
    store.documents.transition(a!, 'confirmed', { expectedFrom: 'accepted', reason: 'session UPO U-1', details: { upoId: 1, upoReferenceNumber: 'U-1' } });
    // in bulk (of one)
    store.documents.transitionMany([b!], 'sending', {
      expectedFrom: 'queued',
      reason: `sending in batch session ${ref}`,
      detailsEach: () => ({ invoiceHash: 'hash-a', mode: 'batch' }),
      patchEach: () => ({ sessionRef: ref, invoiceRef: null, lastError: null }),
    });
    store.documents.transitionMany([b!], 'accepted', {
      expectedFrom: 'sending',
      reasonEach: () => 'KSeF number K-1',
      details: { acquisitionDate: '2026-01-02T10:00:00Z' },
      patchEach: () => ({ ksefNumber: 'K-1', invoiceRef: 'INV-1', sessionRef: ref, lastError: null }),
    });
    store.documents.transitionMany([b!], 'confirmed', { expectedFrom: 'accepted', reason: 'session UPO U-1', detailsEach: () => ({ upoId: 1, upoReferenceNumber: 'U-1' }) });

    const one = store.documents.require(a!);
    const many = store.documents.require(b!);
    expect(many.state).toBe('confirmed');
    expect(many.attempts).toBe(1);
    expect(shape(many)).toEqual(shape(one));
  });

  it('per-document reason, details and patch, in input order; attempts counted when entering sending', () => {
    const ids = insert(5);
    const r = store.documents.transitionMany(ids, 'sending', {
      reasonEach: (id, i) => `doc ${id} #${i}`,
      detailsEach: (id) => ({ invoiceHash: `h-${id}` }),
      patchEach: () => ({ sessionRef: 'S' }),
    });
    expect(r).toEqual({ moved: 5, skipped: [] });
    ids.forEach((id, i) => {
      const d = store.documents.require(id);
      expect(d).toMatchObject({ state: 'sending', sessionRef: 'S', attempts: 1 });
      const ev = store.documents.events(id).at(-1)!;
      expect(ev).toMatchObject({ from: 'queued', to: 'sending', reason: `doc ${id} #${i}`, details: { invoiceHash: `h-${id}` } });
    });
    // back to the queue and out again: attempts 2
    store.documents.transitionMany(ids, 'queued', { reason: 'session failed' });
    store.documents.transitionMany(ids, 'sending', { patchEach: () => ({ sessionRef: 'S2' }) });
    expect(ids.map((id) => store.documents.require(id).attempts)).toEqual([2, 2, 2, 2, 2]);
  });

  it('enforces the state machine for every pair of states; an illegal move rolls back the whole call', () => {
    for (const from of DOCUMENT_STATES) {
      for (const to of DOCUMENT_STATES) {
        const [ok] = insert(1, 'queued', 1000 + DOCUMENT_STATES.indexOf(from) * 100 + DOCUMENT_STATES.indexOf(to) * 2);
        const [x] = insert(1, 'queued', 1001 + DOCUMENT_STATES.indexOf(from) * 100 + DOCUMENT_STATES.indexOf(to) * 2);
        // put x in `from` directly (the path there is not what is tested)
        store.db.prepare(`UPDATE documents SET state = ?, ksef_number = 'K', offline_mode = 'offline' WHERE id = ?`).run(from, x);
        const allowed = DOCUMENT_TRANSITIONS[from].includes(to);
        // ok is queued; the call moves [ok, x] only when both moves are allowed
        const okAllowed = DOCUMENT_TRANSITIONS.queued.includes(to);
        if (allowed && okAllowed) {
          expect(store.documents.transitionMany([ok!, x!], to, { patchEach: () => ({ ksefNumber: 'K', offlineMode: 'offline' }) }).moved).toBe(2);
          expect(store.documents.require(x!).state).toBe(to);
        } else {
          const e = caught(() => store.documents.transitionMany([ok!, x!], to, { patchEach: () => ({ ksefNumber: 'K', offlineMode: 'offline' }) }));
          expect(e.code).toBe('STORE_ILLEGAL_TRANSITION');
          // nothing moved, no event written
          expect(store.documents.require(ok!).state).toBe('queued');
          expect(store.documents.require(x!).state).toBe(from);
          expect(store.documents.events(ok!)).toHaveLength(1);
        }
      }
    }
  });

  it('expectedFrom: a document in another state aborts the call (nothing written) or, with skip, is left and reported', () => {
    const ids = insert(4);
    store.documents.transition(ids[2]!, 'sending');
    const e = caught(() => store.documents.transitionMany(ids, 'sending', { expectedFrom: 'queued' }));
    expect(e.code).toBe('STORE_UNEXPECTED_STATE');
    expect(e.context.document).toBe(String(ids[2]));
    expect(ids.map((id) => store.documents.require(id).state)).toEqual(['queued', 'queued', 'sending', 'queued']);
    expect(store.documents.events(ids[0]!)).toHaveLength(1);

    const r = store.documents.transitionMany([...ids, 999_999], 'sending', { expectedFrom: 'queued', onUnexpected: 'skip' });
    expect(r).toEqual({ moved: 3, skipped: [{ id: ids[2], state: 'sending' }, { id: 999_999, state: null }] });
    expect(store.documents.require(ids[2]!).attempts).toBe(1);

    expect(caught(() => store.documents.transitionMany([999_999], 'sending')).code).toBe('STORE_DOCUMENT_NOT_FOUND');
  });

  it('accepted needs a KSeF number, offline an offline mode (the whole call rolls back)', () => {
    const ids = insert(3);
    store.documents.transitionMany(ids, 'sending');
    const e = caught(() => store.documents.transitionMany(ids, 'accepted', { patchEach: (id, i) => (i === 1 ? {} : { ksefNumber: `K-${id}` }) }));
    expect(e.code).toBe('STORE_MISSING_KSEF_NUMBER');
    expect(e.context.document).toBe(String(ids[1]));
    expect(ids.map((id) => store.documents.require(id).state)).toEqual(['sending', 'sending', 'sending']);
    const q = insert(2, 'queued', 50);
    expect(caught(() => store.documents.transitionMany(q, 'offline')).code).toBe('STORE_MISSING_OFFLINE_MODE');
    expect(store.documents.transitionMany(q, 'offline', { patchEach: () => ({ offlineMode: 'offline24' }) }).moved).toBe(2);
  });

  it('joins an enclosing store.transaction: a later throw rolls it back too', () => {
    const ids = insert(3);
    expect(() =>
      store.transaction((tx) => {
        tx.sessions.insert({ referenceNumber: 'S-1', kind: 'batch', companyNip: '5260181596', environment: 'test', state: 'open' });
        tx.documents.transitionMany(ids, 'sending', { patchEach: () => ({ sessionRef: 'S-1' }) });
        throw new Error('upload could not start');
      }),
    ).toThrow('upload could not start');
    expect(store.sessions.get('S-1')).toBeUndefined();
    expect(ids.map((id) => store.documents.require(id).state)).toEqual(['queued', 'queued', 'queued']);
  });

  it('an empty list changes nothing', () => {
    expect(store.documents.transitionMany([], 'sending')).toEqual({ moved: 0, skipped: [] });
  });

  it('reasons, details and error messages are redacted like transition does', () => {
    const secret = 'tok-transition-many-0123456789abcdef';
    registerSecret(secret);
    const [id] = insert(1);
    store.documents.transitionMany([id!], 'sending', {
      reason: `sending with ${secret}`,
      details: { token: secret },
      patchEach: () => ({ lastError: { code: 'X', message: `failed with ${secret}` } }),
    });
    const raw = JSON.stringify(store.db.prepare('SELECT * FROM documents').all()) + JSON.stringify(store.db.prepare('SELECT * FROM document_events').all());
    expect(raw).not.toContain(secret);
  });

  it('10,000 documents through a batch life (queued -> sending -> accepted -> confirmed) in one call each', () => {
    const ids = insert(10_000);
    const timings: Record<string, number> = {};
    const time = (name: string, fn: () => void): void => {
      const t0 = performance.now();
      fn();
      timings[name] = Math.round(performance.now() - t0);
    };
    const ref = '20260102-SB-0000000000-0000000000-02';
    time('sending', () =>
      store.transaction((tx) => {
        tx.sessions.insert({ referenceNumber: ref, kind: 'batch', companyNip: '5260181596', environment: 'test', state: 'open' });
        tx.documents.transitionMany(ids, 'sending', {
          expectedFrom: 'queued',
          reason: `sending in batch session ${ref}`,
          detailsEach: (id) => ({ invoiceHash: `hash-${id}`, mode: 'batch' }),
          patchEach: () => ({ sessionRef: ref, invoiceRef: null, lastError: null }),
        });
      }),
    );
    time('accepted', () =>
      store.documents.transitionMany(ids, 'accepted', {
        expectedFrom: 'sending',
        reasonEach: (id) => `KSeF number K-${id}`,
        detailsEach: () => ({ acquisitionDate: '2026-01-02T10:00:00Z' }),
        patchEach: (id) => ({ ksefNumber: `K-${id}`, invoiceRef: `I-${id}`, sessionRef: ref, lastError: null }),
      }),
    );
    time('confirmed', () => store.documents.transitionMany(ids, 'confirmed', { expectedFrom: 'accepted', onUnexpected: 'skip', reason: 'session UPO' }));
    expect(store.documents.countByState().confirmed).toBe(10_000);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM document_events').get()).toEqual({ n: 40_000 });
    expect(store.documents.require(ids[9_999]!)).toMatchObject({ ksefNumber: `K-${ids[9_999]}`, invoiceRef: `I-${ids[9_999]}`, attempts: 1 });
    // speed is reported, not asserted (the machine is shared)
    console.info(`transitionMany, 10,000 documents: ${JSON.stringify(timings)} ms`);
  });
});

