/**
 * Bulk state changes for batch sessions (10,000 documents): the same rows and history events as
 * DocumentRepository.transition writes, with one prepared statement per kind instead of four queries per
 * document. Only the two high-volume transitions (queued -> sending, sending -> accepted) go through here;
 * each call must run inside store.transaction. A document not in the expected state aborts the transaction.
 */
import { StoreError } from '../errors/index.js';
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

function check(changes: number, id: number, from: string, to: string): void {
  if (changes !== 1) {
    throw new StoreError('STORE_UNEXPECTED_STATE', `document ${id} is not ${from} any more; cannot move it to ${to}`, { document: String(id), details: { from, to } });
  }
}

/** queued -> sending for many documents of one batch session; each event records the invoice hash. */
export function markSending(tx: Store, docs: { id: number; invoiceHash: string }[], sessionRef: string, at: string): void {
  const upd = tx.db.prepare(
    `UPDATE documents SET state = 'sending', session_ref = ?, invoice_ref = NULL, last_error_code = NULL, last_error_message = NULL,
       last_error_details = NULL, attempts = attempts + 1, updated_at = ? WHERE id = ? AND state = 'queued'`,
  );
  const ev = tx.db.prepare(`INSERT INTO document_events (document_id, from_state, to_state, at, reason, details) VALUES (?, 'queued', 'sending', ?, ?, ?)`);
  const reason = `sending in batch session ${sessionRef}`;
  for (const d of docs) {
    check(upd.run(sessionRef, at, d.id).changes, d.id, 'queued', 'sending');
    ev.run(d.id, at, reason, JSON.stringify({ invoiceHash: d.invoiceHash, mode: 'batch' }));
  }
}

/** sending -> accepted for many documents, each with its KSeF number. */
export function markAccepted(tx: Store, docs: { id: number; ksefNumber: string; invoiceRef: string; acquisitionDate: string | undefined }[], sessionRef: string, at: string): void {
  const upd = tx.db.prepare(
    `UPDATE documents SET state = 'accepted', ksef_number = ?, invoice_ref = ?, session_ref = ?, last_error_code = NULL, last_error_message = NULL,
       last_error_details = NULL, updated_at = ? WHERE id = ? AND state = 'sending'`,
  );
  const ev = tx.db.prepare(`INSERT INTO document_events (document_id, from_state, to_state, at, reason, details) VALUES (?, 'sending', 'accepted', ?, ?, ?)`);
  for (const d of docs) {
    if (!d.ksefNumber) throw new StoreError('STORE_MISSING_KSEF_NUMBER', `document ${d.id} cannot be accepted without a KSeF number`, { document: String(d.id), field: 'ksefNumber' });
    check(upd.run(d.ksefNumber, d.invoiceRef, sessionRef, at, d.id).changes, d.id, 'sending', 'accepted');
    ev.run(d.id, at, `KSeF number ${d.ksefNumber}`, JSON.stringify({ acquisitionDate: d.acquisitionDate }));
  }
}

/** accepted -> confirmed for the documents of a session UPO page. */
export function markConfirmed(tx: Store, docs: { id: number; upoId: number; upoReferenceNumber: string }[], at: string): number {
  const upd = tx.db.prepare(`UPDATE documents SET state = 'confirmed', updated_at = ? WHERE id = ? AND state = 'accepted'`);
  const ev = tx.db.prepare(`INSERT INTO document_events (document_id, from_state, to_state, at, reason, details) VALUES (?, 'accepted', 'confirmed', ?, ?, ?)`);
  let n = 0;
  for (const d of docs) {
    if (upd.run(at, d.id).changes !== 1) continue;
    ev.run(d.id, at, `session UPO ${d.upoReferenceNumber}`, JSON.stringify({ upoId: d.upoId, upoReferenceNumber: d.upoReferenceNumber }));
    n++;
  }
  return n;
}
