/**
 * A document's whole history for `ksef-bridge status <document>`: the source files it came in (route, mapping,
 * position and line), its state changes, session and reference numbers, KSeF number, UPO, and the FA(3) XML.
 * Reads the store only.
 */
import path from 'node:path';
import type { Store } from '../store/index.js';
import { filesOfDocument } from './ledger.js';
import { upoOf } from './results.js';

export interface DocumentHistory {
  documentId: number;
  invoiceNumber: string | null;
  state: string;
  ksefNumber: string | null;
  sources: { route: string; file: string; mapping: string; position: number; line: number | null; receivedAt: string; outcome: string; alreadyKnown: boolean }[];
  session: { referenceNumber: string; kind: string; state: string; openedAt: string; closedAt: string | null } | null;
  invoiceReferenceNumber: string | null;
  events: { at: string; from: string | null; to: string; reason: string | null }[];
  upo: { file: string; receivedAt: string; xml: string } | null;
  fa3Xml: string | null;
  lastError: { code: string; message: string } | null;
}

/** Everything known about one document (undefined when there is no such document). */
export function documentHistory(store: Store, documentId: number): DocumentHistory | undefined {
  const d = store.documents.get(documentId);
  if (!d) return undefined;
  let sources: DocumentHistory['sources'] = [];
  try {
    sources = filesOfDocument(store, d.id).map(({ file, invoice }) => ({
      route: file.route,
      file: file.name,
      mapping: file.mapping,
      position: invoice.position,
      line: invoice.line,
      receivedAt: file.received_at,
      outcome: file.outcome,
      alreadyKnown: invoice.already_known === 1,
    }));
  } catch {
    sources = []; // a store without the bridge's tables (documents sent with `send` only)
  }
  const s = d.sessionRef ? store.sessions.get(d.sessionRef) : undefined;
  const u = upoOf(store, d.id);
  return {
    documentId: d.id,
    invoiceNumber: d.invoiceNumber,
    state: d.state,
    ksefNumber: d.ksefNumber,
    sources,
    session: s ? { referenceNumber: s.referenceNumber, kind: s.kind, state: s.state, openedAt: s.openedAt, closedAt: s.closedAt } : null,
    invoiceReferenceNumber: d.invoiceRef,
    events: store.documents.events(d.id).map((e) => ({ at: e.at, from: e.from, to: e.to, reason: e.reason })),
    upo: u ? { file: u.name, receivedAt: u.upo.receivedAt, xml: u.upo.xml } : null,
    fa3Xml: d.xml,
    lastError: d.lastError ? { code: d.lastError.code, message: d.lastError.message } : null,
  };
}

/** The history as text lines for a person; with `xml`, the FA(3) and UPO XML follow in full. */
export function historyText(h: DocumentHistory, o: { xml?: boolean } = {}): string {
  const out: string[] = [];
  const row = (k: string, v: string | number | null | undefined): void => {
    if (v !== null && v !== undefined && v !== '') out.push(`${k.padEnd(18)} ${v}`);
  };
  row('document', h.documentId);
  row('invoice number', h.invoiceNumber);
  row('state', h.state);
  row('KSeF number', h.ksefNumber);
  for (const s of h.sources) {
    row('source file', `${s.file} (invoice ${s.position}${s.line !== null ? `, line ${s.line}` : ''}), received ${s.receivedAt}${s.alreadyKnown ? ', repeated an invoice already stored' : ''}`);
    row('route', s.route);
    row('mapping', `${path.basename(s.mapping)} (${s.mapping})`);
  }
  if (h.session) row('session', `${h.session.referenceNumber} (${h.session.kind}, ${h.session.state}, opened ${h.session.openedAt}${h.session.closedAt ? `, closed ${h.session.closedAt}` : ''})`);
  row('invoice reference', h.invoiceReferenceNumber);
  row('UPO', h.upo ? `${h.upo.file} (received ${h.upo.receivedAt})` : h.state === 'accepted' ? 'not yet' : null);
  row('FA(3) XML', h.fa3Xml ? `${Buffer.byteLength(h.fa3Xml)} bytes${o.xml ? '' : ' (--xml prints it)'}` : null);
  if (h.lastError) row('last error', `${h.lastError.code}: ${h.lastError.message}`);
  out.push('history:');
  for (const e of h.events) out.push(`  ${e.at}  ${(e.from ?? '(new)').padEnd(9)} -> ${e.to.padEnd(9)}${e.reason ? `  ${e.reason}` : ''}`);
  if (o.xml) {
    if (h.fa3Xml) out.push('', 'FA(3) XML:', h.fa3Xml);
    if (h.upo) out.push('', `UPO (${h.upo.file}):`, h.upo.xml);
  }
  return out.join('\n');
}
