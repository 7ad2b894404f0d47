/**
 * Lean reads for batch sessions (10,000 documents): id, XML and attempts row by row, without building full
 * DocumentRecords. The bulk state changes themselves are `store.documents.transitionMany`.
 */
import type { Store } from '../store/index.js';

export interface LeanDocument {
  id: number;
  xml: string;
  attempts: number;
}

/** id, xml and attempts of up to `limit` queued documents of a company, oldest first. */
export function queuedXml(store: Store, companyNip: string, limit: number): LeanDocument[] {
  return store.db
    .prepare(`SELECT id, xml, attempts FROM documents WHERE company_nip = ? AND state = 'queued' ORDER BY id LIMIT ?`)
    .all(companyNip, limit) as LeanDocument[];
}

/** id, xml and attempts of queued documents of a company, one row at a time (no array of 10,000 XML strings). */
export function* iterateQueuedXml(store: Store, companyNip: string, limit: number): Generator<LeanDocument> {
  yield* store.db.prepare(`SELECT id, xml, attempts FROM documents WHERE company_nip = ? AND state = 'queued' ORDER BY id LIMIT ?`).iterate(companyNip, limit) as Iterable<LeanDocument>;
}

/** id and attempts of the documents of a session still in `sending`, with `hash` computed from each XML as it is read. */
export function sendingInSession(store: Store, sessionRef: string, hash: (xml: string) => string): { id: number; attempts: number; invoiceHash: string }[] {
  const out: { id: number; attempts: number; invoiceHash: string }[] = [];
  for (const r of store.db.prepare(`SELECT id, xml, attempts FROM documents WHERE session_ref = ? AND state = 'sending' ORDER BY id`).iterate(sessionRef) as Iterable<LeanDocument>) {
    out.push({ id: r.id, attempts: r.attempts, invoiceHash: hash(r.xml ?? '') });
  }
  return out;
}
