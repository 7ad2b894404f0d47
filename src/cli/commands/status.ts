/** `ksef-bridge status [--failed] [document]`: what the store knows (no KSeF call). */
import { documentHistory, historyText } from '../../bridge/index.js';
import { ConfigError } from '../../errors/index.js';
import { openBridge } from '../../runtime/index.js';
import type { DocumentRecord, DocumentState, Store } from '../../store/index.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { configPath, reportError, type Io } from '../shared.js';

export interface StatusCommandOptions {
  /** ksef.ini (default: $KSEF_BRIDGE_CONFIG or ./ksef.ini). */
  config?: string;
  /** Only rejected and invalid documents. */
  failed?: boolean;
  /** With a document: print its FA(3) XML and UPO too. */
  xml?: boolean;
  json?: boolean;
  /** Documents listed without a document argument (default 20). */
  limit?: number;
}

/**
 * A document by store id (digits), KSeF number, or invoice number (several with one invoice number: all).
 * Exported for the resend and upo commands.
 */
export function findDocuments(store: Store, ref: string): DocumentRecord[] {
  const text = ref.trim();
  if (/^\d+$/.test(text)) {
    const d = store.documents.get(Number(text));
    if (d) return [d];
  }
  const byKsef = store.documents.findByKsefNumber(text);
  if (byKsef.length > 0) return byKsef;
  const ids = store.db.prepare('SELECT id FROM documents WHERE invoice_number = ? ORDER BY id').all(text) as { id: number }[];
  return ids.map((r) => store.documents.require(r.id));
}

/** What status, send and resend print about a document. */
export interface DocumentStatus {
  id: number;
  state: DocumentState;
  invoiceNumber: string | null;
  sellerNip: string | null;
  source: string;
  sourceRef: string | null;
  ksefNumber: string | null;
  sessionReferenceNumber: string | null;
  sessionKind: string | null;
  sessionState: string | null;
  invoiceReferenceNumber: string | null;
  upo: 'per invoice' | 'session UPO' | null;
  attempts: number;
  lastError: DocumentRecord['lastError'];
  updatedAt: string;
}

export function describeDocument(store: Store, d: DocumentRecord): DocumentStatus {
  const session = d.sessionRef ? store.sessions.get(d.sessionRef) : undefined;
  const upos = store.upos.forDocument(d.id);
  const sessionUpo = upos.length === 0 && d.sessionRef && d.state === 'confirmed' ? store.upos.forSession(d.sessionRef).length > 0 : false;
  return {
    id: d.id,
    state: d.state,
    invoiceNumber: d.invoiceNumber,
    sellerNip: d.sellerNip,
    source: d.source,
    sourceRef: d.sourceRef,
    ksefNumber: d.ksefNumber,
    sessionReferenceNumber: d.sessionRef,
    sessionKind: session?.kind ?? null,
    sessionState: session?.state ?? null,
    invoiceReferenceNumber: d.invoiceRef,
    upo: upos.length > 0 ? 'per invoice' : sessionUpo ? 'session UPO' : null,
    attempts: d.attempts,
    lastError: d.lastError,
    updatedAt: d.updatedAt,
  };
}

function line(d: DocumentStatus): string {
  const err = d.lastError;
  return [
    `#${d.id}`,
    String(d.state).padEnd(9),
    String(d.invoiceNumber ?? '-'),
    d.ksefNumber ? `KSeF ${d.ksefNumber}` : '',
    d.upo ? 'UPO' : '',
    err ? `${err.code}: ${err.message}` : '',
  ]
    .filter((x) => x !== '')
    .join('  ');
}

function details(store: Store, d: DocumentRecord, xml = false): string {
  const history = documentHistory(store, d.id);
  if (history) {
    // The whole story: source file, route, mapping, FA(3), state changes, session and reference numbers, UPO.
    const lines = historyText(history, { xml }).split('\n');
    const kind = describeDocument(store, d).upo;
    const upoAt = lines.findIndex((l) => l.startsWith('UPO '));
    if (kind && upoAt >= 0) lines[upoAt] = `${'UPO'.padEnd(18)} ${kind}: ${lines[upoAt]!.slice(19)}`;
    const at = lines.indexOf('history:');
    const extra = [`${'seller NIP'.padEnd(18)} ${d.sellerNip ?? '-'}`, `${'attempts'.padEnd(18)} ${d.attempts}`];
    const hint = (d.lastError?.details as { hint?: string } | undefined)?.hint;
    if (hint) extra.push(`${'what to do'.padEnd(18)} ${hint}`);
    lines.splice(at < 0 ? lines.length : at, 0, ...extra);
    return lines.join('\n');
  }
  const x = describeDocument(store, d);
  const err = d.lastError;
  const rows: [string, unknown][] = [
    ['document', d.id],
    ['state', d.state],
    ['invoice number', d.invoiceNumber],
    ['seller NIP', d.sellerNip],
    ['source', `${d.source}${d.sourceRef ? ` (${d.sourceRef})` : ''}`],
    ['KSeF number', d.ksefNumber],
    ['session', d.sessionRef ? `${d.sessionRef}${x.sessionKind ? ` (${x.sessionKind}, ${x.sessionState})` : ''}` : null],
    ['invoice reference', d.invoiceRef],
    ['UPO', x.upo ?? 'not yet'],
    ['attempts', d.attempts],
    ['last error', err ? `${err.code}: ${err.message}` : null],
  ];
  const out = rows.filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => `${k.padEnd(18)} ${String(v)}`);
  const hint = (err?.details as { hint?: string } | undefined)?.hint;
  if (hint) out.push(`${'what to do'.padEnd(18)} ${hint}`);
  out.push('history:');
  for (const e of store.documents.events(d.id)) out.push(`  ${e.at}  ${e.from ?? '(new)'} -> ${e.to}${e.reason ? `  ${e.reason}` : ''}`);
  return out.join('\n');
}

export async function runStatus(document: string | undefined, opts: StatusCommandOptions, io: Io): Promise<ExitCode> {
  let bridge;
  try {
    bridge = await openBridge(configPath(opts.config), { storeOnly: true, log: { console: 'off', file: false } });
  } catch (e) {
    return reportError(io, e, e instanceof ConfigError ? EXIT.CONFIG : EXIT.INTERNAL);
  }
  try {
    const store = bridge.store;
    if (document !== undefined) {
      const docs = findDocuments(store, document);
      if (docs.length === 0) {
        io.err(`ksef-bridge: no document "${document}" in the store (give a document id, a KSeF number or an invoice number)`);
        return EXIT.INVALID;
      }
      if (opts.json) io.out(JSON.stringify(docs.map((d) => describeDocument(store, d)), null, 2));
      else io.out(docs.map((d) => details(store, d, opts.xml === true)).join('\n\n'));
      return docs.some((d) => d.state === 'rejected' || d.state === 'invalid') ? EXIT.INVALID : EXIT.OK;
    }
    const counts = store.documents.countByState();
    const states: DocumentState[] = opts.failed ? ['rejected', 'invalid'] : ['queued', 'sending', 'accepted', 'confirmed', 'rejected', 'invalid', 'offline'];
    const list = store.documents.listByState(states, { limit: opts.limit ?? 20, order: 'desc' }).map((d) => describeDocument(store, d));
    if (opts.json) {
      io.out(JSON.stringify({ counts, documents: list }, null, 2));
    } else {
      io.out(
        Object.entries(counts)
          .filter(([, n]) => n > 0)
          .map(([s, n]) => `${s}: ${n}`)
          .join('  ') || 'no documents',
      );
      const waiting = store.documents.listByState('queued', { limit: 1 })[0];
      if (waiting?.lastError) io.out(`queued documents wait: ${waiting.lastError.message}`);
      for (const d of list) io.out(line(d));
      if (opts.failed && list.length === 0) {
        io.out('no rejected or invalid documents (records rejected while mapping an export never become documents: see <error>/<route>/*.error.txt)');
      }
    }
    return opts.failed && list.length > 0 ? EXIT.INVALID : EXIT.OK;
  } finally {
    await bridge.close();
  }
}
