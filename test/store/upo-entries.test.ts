/** UPO entry links: a batch document points at its Dokument entry on a session UPO page stored once. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors/index.js';
import { openStore, type Store } from '../../src/store/index.js';

let dir: string;
let store: Store;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ksef-store-upo-'));
  store = openStore(join(dir, 'bridge.sqlite'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const PAGE = '<Potwierdzenie><Dokument><NumerKSeFDokumentu>K-1</NumerKSeFDokumentu></Dokument><Dokument><NumerKSeFDokumentu>K-2</NumerKSeFDokumentu></Dokument></Potwierdzenie>';

function docs(n: number): number[] {
  return store.documents.insertMany(Array.from({ length: n }, (_, i) => ({ source: 't', contentHash: `h${i}`, state: 'queued' as const }))).inserted.map((r) => r.id);
}

describe('UPO entries', () => {
  it('links documents to entries on one stored page; the page comes back unchanged with the entry', () => {
    const [a, b] = docs(2);
    store.transaction((tx) => {
      const page = tx.upos.insert({ sessionRef: 'S', invoiceRef: 'UPO-REF-1', xml: PAGE });
      tx.upos.linkEntries([
        { documentId: a!, upoId: page.id, position: 1, ksefNumber: 'K-1', invoiceNumber: 'FV/1', invoiceHash: 'h1' },
        { documentId: b!, upoId: page.id, position: 2, ksefNumber: 'K-2' },
      ]);
    });
    expect(store.upos.forSession('S')).toHaveLength(1);
    const found = store.upos.forDocumentOrPage(b!)!;
    expect(found.upo.xml).toBe(PAGE);
    expect(found.entry).toMatchObject({ documentId: b, position: 2, ksefNumber: 'K-2', invoiceNumber: null });
    expect(store.upos.entryForDocument(a!)).toMatchObject({ position: 1, invoiceNumber: 'FV/1', invoiceHash: 'h1' });
    // linking again replaces the link (a page fetched again after a crash)
    const again = store.upos.insert({ sessionRef: 'S', invoiceRef: 'UPO-REF-1', xml: PAGE });
    store.upos.linkEntries([{ documentId: a!, upoId: again.id, position: 1, ksefNumber: 'K-1' }]);
    expect(store.upos.forDocumentOrPage(a!)!.upo.id).toBe(again.id);
  });

  it("a document's own UPO comes first; none stored: undefined; a bad position is refused", () => {
    const [a, b] = docs(2);
    const page = store.upos.insert({ sessionRef: 'S', xml: PAGE });
    store.upos.linkEntries([{ documentId: a!, upoId: page.id, position: 1, ksefNumber: 'K-1' }]);
    store.upos.insert({ documentId: a!, sessionRef: 'S', ksefNumber: 'K-1', xml: '<own/>' });
    expect(store.upos.forDocumentOrPage(a!)).toMatchObject({ upo: { xml: '<own/>' }, entry: null });
    expect(store.upos.forDocumentOrPage(b!)).toBeUndefined();
    let err: unknown;
    try {
      store.upos.linkEntries([{ documentId: b!, upoId: page.id, position: 0, ksefNumber: 'K-2' }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('STORE_BAD_UPO_ENTRY');
    // a link must point at a stored page and document (foreign keys)
    expect(() => store.upos.linkEntries([{ documentId: b!, upoId: 999, position: 1, ksefNumber: 'K-2' }])).toThrow(/FOREIGN KEY/);
  });
});
