/**
 * Which UPO belongs to a document, and a sentence saying which entry on a session UPO page is this invoice's.
 * A UPO is a legal document: it is handed out exactly as KSeF issued it (a batch session's page lists many
 * invoices); the note identifies the entry instead of cutting the page.
 */
import type { DocumentRecord, DocumentUpo, Store } from '../store/index.js';

export interface DocumentUpoNote extends DocumentUpo {
  /** One line for people: per-invoice UPO, or page and entry of a session UPO. */
  note: string;
}

/**
 * The UPO of a document (its own, else the session UPO page with its entry) and a note about it; undefined when
 * none is stored. Stores from before the entry links (schema < 3) fall back to the page naming its KSeF number.
 */
export function documentUpo(store: Store, doc: DocumentRecord): DocumentUpoNote | undefined {
  const found = store.upos.forDocumentOrPage(doc.id) ?? legacyPage(store, doc);
  if (!found) return undefined;
  return { ...found, note: upoNote(doc, found) };
}

export function upoNote(doc: Pick<DocumentRecord, 'id' | 'ksefNumber' | 'sessionRef'>, found: DocumentUpo): string {
  const e = found.entry;
  if (!e) {
    if (found.upo.documentId === null) return `session UPO page ${found.upo.invoiceRef ?? found.upo.id} of session ${found.upo.sessionRef ?? '?'} naming KSeF number ${doc.ksefNumber ?? '?'}`;
    return `UPO of document ${doc.id} alone (KSeF number ${doc.ksefNumber ?? '?'})`;
  }
  const fields = [`NumerKSeFDokumentu ${e.ksefNumber}`, e.invoiceNumber ? `NumerFaktury ${e.invoiceNumber}` : '', e.invoiceHash ? `SkrotDokumentu ${e.invoiceHash}` : '']
    .filter(Boolean)
    .join(', ');
  return `session UPO page ${found.upo.invoiceRef ?? found.upo.id} of batch session ${found.upo.sessionRef ?? doc.sessionRef ?? '?'}, written as issued; this invoice (document ${doc.id}) is its Dokument entry no. ${e.position}: ${fields}`;
}

function legacyPage(store: Store, doc: DocumentRecord): DocumentUpo | undefined {
  if (!doc.sessionRef || !doc.ksefNumber) return undefined;
  const ksefNumber = doc.ksefNumber;
  const page = store.upos.forSession(doc.sessionRef).find((u) => u.documentId === null && u.xml.includes(ksefNumber));
  return page ? { upo: page, entry: null } : undefined;
}
