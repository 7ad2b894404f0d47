/**
 * The pipeline behind every source: a claimed file is mapped (src/mapping: parse, map, FA(3) built and checked
 * against the XSD and the semantic rules), each valid invoice is stored as a queued document together with the
 * file's record, in one transaction, and only then does the handler resolve (the source then archives the file).
 *
 * Identity: a document is `route:<name>` + the SHA-256 of its FA(3) XML without DataWytworzeniaFa (the one value
 * that changes each time the same export is mapped). The same file dropped twice, or a corrected file that repeats
 * invoices already sent, therefore sends nothing twice; a corrected invoice is a new document.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { errorMessage } from '../errors/index.js';
import type { BridgeLogger } from '../log/index.js';
import type { ClaimedFile, Outcome } from '../sources/index.js';
import type { NewDocument, Store } from '../store/index.js';
import { fileByClaim, firstFileWithHash, invoicesOfFile, type FileRow } from './ledger.js';
import type { Mapper, PlainInvoice } from './mapper.js';
import type { RouteConfig } from './routes.js';

/** What the bridge tells its caller (the `run` console, the demo's narration). */
export type BridgeEvent =
  | { type: 'file-claimed'; route: string; file: string; size: number; recovered: boolean }
  | {
      type: 'file-mapped';
      route: string;
      file: string;
      fileId: number;
      invoices: number;
      stored: number;
      alreadyKnown: number;
      rejected: { key: string; line?: number; code: string; message: string }[];
      duplicateOf?: string;
    }
  | { type: 'file-failed'; route: string; file: string; report: string }
  | {
      type: 'document';
      documentId: number;
      invoiceNumber: string | null;
      from: string | null;
      to: string;
      reason: string | null;
      ksefNumber: string | null;
      sessionRef: string | null;
      route?: string;
      file?: string;
    }
  | { type: 'results'; route: string; file: string; written: string; upos: string[] }
  | { type: 'results-failed'; route: string; file: string; error: string; nextTryMs: number };

export interface PipelineContext {
  store: Store;
  routes: ReadonlyMap<string, RouteConfig>;
  /** Maps a file (in this thread or in workers). */
  mapper: Mapper;
  /** NIPs the configuration can send for. */
  companies: ReadonlySet<string>;
  logger: BridgeLogger;
  schemaDir?: string;
  /** Date for the "issue date not in the future" rule (tests); default today in Poland. */
  today?: string;
  /** New documents are queued: the dispatcher looks at once. */
  wake: () => void;
  emit: (e: BridgeEvent) => void;
}

/** SHA-256 of FA(3) XML with DataWytworzeniaFa blanked: the invoice's content identity. */
export function invoiceIdentity(xml: string): string {
  return createHash('sha256').update(xml.replace(/<DataWytworzeniaFa>[^<]*<\/DataWytworzeniaFa>/, '<DataWytworzeniaFa/>'), 'utf8').digest('hex');
}

const WARSAW_DAY = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Warsaw', year: 'numeric', month: '2-digit', day: '2-digit' });
let todayCache = { until: 0, day: '' };

/** Today in Poland (YYYY-MM-DD), from one formatter, recomputed at most once a second (a new formatter per file
 *  costs milliseconds). */
function polishToday(): string {
  const now = Date.now();
  if (now >= todayCache.until) todayCache = { until: now + 1000, day: WARSAW_DAY.format(new Date(now)) };
  return todayCache.day;
}

export function documentSource(route: string): string {
  return `route:${route}`;
}

interface Rejected {
  index: number;
  key: string;
  line: number | undefined;
  problems: { code: string; message: string; hint?: string }[];
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function report(file: ClaimedFile, route: RouteConfig, total: number, rejected: Rejected[], fileProblems: { code: string; message: string; hint?: string }[], wentOn: { key: string; index: number; line?: number; documentId: number; known: boolean }[]): string {
  const out: string[] = [];
  out.push(`Route: ${route.name}, mapping ${route.mapping}`);
  out.push('');
  const counted = `${plural(total, 'invoice')} read: ${wentOn.length} went on to KSeF, ${rejected.length} rejected.`;
  out.push(fileProblems.length ? `${counted} The file could not be read to its end.` : counted);
  if (fileProblems.length) {
    out.push('', 'Problems with the file itself:');
    for (const p of fileProblems) {
      out.push(`  ${p.code}: ${p.message}`);
      if (p.hint) out.push(`    what to do: ${p.hint}`);
    }
  }
  if (rejected.length) {
    out.push('', 'Rejected invoices (not sent; fix them in the ERP or in the mapping, then drop the corrected file again):');
    for (const r of rejected) {
      out.push(`  ${r.key} (invoice ${r.index} of the file${r.line !== undefined ? `, line ${r.line}` : ''})`);
      for (const p of r.problems) {
        out.push(`    ${p.code}: ${p.message}`);
        if (p.hint) out.push(`      what to do: ${p.hint}`);
      }
    }
  }
  if (wentOn.length) {
    out.push('', 'Invoices that went on to KSeF (a corrected file repeating them does not send them again):');
    for (const w of wentOn) out.push(`  ${w.key} (invoice ${w.index}${w.line !== undefined ? `, line ${w.line}` : ''}): document ${w.documentId}${w.known ? ', already stored from an earlier file' : ''}`);
  }
  return `${out.join('\n')}\n`;
}

function outcomeOf(row: FileRow): Outcome {
  if (row.outcome === 'failed') return { kind: 'failed', report: row.report ?? 'see the bridge log', partial: row.valid > 0 };
  return row.report ? { kind: 'done', report: row.report } : { kind: 'done' };
}

/**
 * Group commit: the writes of files handled at the same time go into one transaction (one fsync instead of one per
 * file), each in its own savepoint so that one file's failure does not undo the others. Every caller resolves only
 * after the commit.
 */
class GroupCommit {
  readonly #pending: { fn: (tx: Store) => void; resolve: () => void; reject: (e: unknown) => void }[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly windowMs = 5,
    private readonly maxBatch = 32,
  ) {}

  run(fn: (tx: Store) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ fn, resolve, reject });
      if (this.#pending.length >= this.maxBatch) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.windowMs);
    });
  }

  #flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending.splice(0);
    if (batch.length === 0) return;
    const outcomes: (unknown | undefined)[] = new Array(batch.length);
    try {
      this.store.transaction((tx) => {
        batch.forEach((b, i) => {
          try {
            tx.db.transaction(() => b.fn(tx))(); // a savepoint: a failure rolls back this file only
          } catch (e) {
            outcomes[i] = e ?? new Error('failed');
          }
        });
      });
    } catch (e) {
      for (const b of batch) b.reject(e);
      return;
    }
    batch.forEach((b, i) => (outcomes[i] === undefined ? b.resolve() : b.reject(outcomes[i])));
  }
}

/** The SourceHandler of every route. Resolves once the file's documents are durable; throws (retry later) otherwise. */
export function createPipeline(ctx: PipelineContext): (file: ClaimedFile) => Promise<Outcome> {
  const { store } = ctx;
  const insertFile = store.db.prepare(
    `INSERT INTO bridge_files (route, source, claim_id, name, sha256, size, mapping, origin, received_at, processed_at, outcome, duplicate_of, invoices, valid, report, results_version)
     VALUES (@route, @source, @claim, @name, @sha256, @size, @mapping, @origin, @receivedAt, @processedAt, @outcome, @duplicateOf, @invoices, @valid, @report, @resultsVersion)`,
  );
  const insertInvoice = store.db.prepare(
    `INSERT INTO bridge_invoices (file_id, position, invoice_key, line, document_id, already_known, error_code, error_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const commit = new GroupCommit(store);
  const finalCount = store.db.prepare(`SELECT COUNT(*) AS n FROM bridge_invoices i LEFT JOIN documents d ON d.id = i.document_id WHERE i.file_id = ? AND (i.document_id IS NULL OR d.state IN ('accepted','confirmed','rejected','invalid'))`);

  return async (file: ClaimedFile): Promise<Outcome> => {
    const route = ctx.routes.get(file.route);
    if (!route) {
      return { kind: 'failed', report: `File ${file.name} arrived for route "${file.route}", which is not in the routes file (known: ${[...ctx.routes.keys()].join(', ')}).\n` };
    }
    const log = ctx.logger.child({ route: route.name, file: file.name });
    const known = fileByClaim(store, file.id, file.sha256);
    if (known) {
      log.info(`${file.name}: already stored before a restart; releasing it`);
      return outcomeOf(known);
    }
    ctx.emit({ type: 'file-claimed', route: route.name, file: file.name, size: file.size, recovered: file.recovered });
    const common = {
      route: route.name,
      source: file.source,
      claim: file.id,
      name: file.name,
      sha256: file.sha256,
      size: file.size,
      mapping: route.mapping,
      origin: JSON.stringify(file.origin),
      receivedAt: file.receivedAt.toISOString(),
      processedAt: new Date().toISOString(),
    };

    // the same content on this route before: nothing is mapped or sent again
    const first = firstFileWithHash(store, route.name, file.sha256);
    if (first) {
      const rows = invoicesOfFile(store, first.id);
      const text = `File ${file.name} has the same content (SHA-256 ${file.sha256.slice(0, 16)}...) as ${first.name}, received ${first.received_at} on route ${route.name}.\nNothing was sent again; the results of its ${plural(rows.length, 'invoice')} are written for this file too.\n`;
      const fileId = store.transaction(() => {
        const id = Number(
          insertFile.run({ ...common, outcome: 'duplicate', duplicateOf: first.id, invoices: first.invoices, valid: first.valid, report: text, resultsVersion: 0 }).lastInsertRowid,
        );
        for (const r of rows) insertInvoice.run(id, r.position, r.invoice_key, r.line, r.document_id, 1, r.error_code, r.error_message);
        const fin = (finalCount.get(id) as { n: number }).n;
        if (fin > 0) store.db.prepare('UPDATE bridge_files SET results_version = 1 WHERE id = ?').run(id);
        return id;
      });
      log.info(`${file.name}: same content as ${first.name} (${first.received_at}); nothing sent again`);
      ctx.emit({ type: 'file-mapped', route: route.name, file: file.name, fileId, invoices: rows.length, stored: 0, alreadyKnown: rows.filter((r) => r.document_id !== null).length, rejected: [], duplicateOf: first.name });
      return { kind: 'done', report: text };
    }

    const result = await ctx.mapper.map({
      mappingFile: route.mapping,
      path: file.path,
      name: file.name,
      variables: { ...route.variables, seller: { ...((route.variables.seller as Record<string, unknown> | undefined) ?? {}), nip: route.sellerNip } },
      today: ctx.today ?? polishToday(),
      ...(ctx.schemaDir ? { schemaDir: ctx.schemaDir } : {}),
    });
    const fileProblems = result.fileProblems;
    const valid: PlainInvoice[] = [];
    const rejected: Rejected[] = [];
    for (const inv of result.invoices) {
      const line = inv.line;
      if (!inv.ok || !inv.fa3Xml) {
        rejected.push({ index: inv.index, key: inv.key, line, problems: inv.problems });
        continue;
      }
      const nip = inv.sellerNip;
      if (!nip || !ctx.companies.has(nip)) {
        rejected.push({
          index: inv.index,
          key: inv.key,
          line,
          problems: [
            {
              code: 'BRIDGE_NO_COMPANY_FOR_NIP',
              message: `the seller's NIP ${nip ?? '(none)'} is not a company of ksef.ini (configured: ${[...ctx.companies].join(', ')})`,
              hint: 'add a [company:<name>] section with its NIP and KSeF token, or fix the seller NIP the mapping produces',
            },
          ],
        });
        continue;
      }
      valid.push(inv);
    }
    const source = documentSource(route.name);
    const mappingName = path.basename(route.mapping);
    const docs: NewDocument[] = valid.map((inv) => ({
      source,
      contentHash: invoiceIdentity(inv.fa3Xml!),
      sourceRef: `${file.name} #${inv.index}`,
      companyNip: inv.sellerNip ?? null,
      sellerNip: inv.sellerNip ?? null,
      invoiceNumber: inv.number ?? inv.key,
      xml: inv.fa3Xml!,
      state: 'queued',
      reason: `mapped by ${mappingName} from ${file.name} (invoice ${inv.index}${inv.line !== undefined ? `, line ${inv.line}` : ''}, route ${route.name}); FA(3) valid (XSD and semantic rules); queued`,
    }));
    const failed = rejected.length > 0 || fileProblems.length > 0;
    const wentOn: { key: string; index: number; line?: number; documentId: number; known: boolean }[] = [];
    let fileId = 0;
    let text = '';
    try {
      await commit.run((tx) => {
        wentOn.length = 0;
        const res = tx.documents.insertMany(docs);
        const ids: { id: number; known: boolean }[] = new Array(docs.length);
        for (const i of res.inserted) ids[i.index] = { id: i.id, known: false };
        for (const d of res.duplicates) ids[d.index] = { id: d.existingId, known: true };
        valid.forEach((inv, k) => wentOn.push({ key: inv.key, index: inv.index, ...(inv.line !== undefined ? { line: inv.line } : {}), documentId: ids[k]!.id, known: ids[k]!.known }));
        const total = result.invoices.length;
        text = failed || wentOn.some((w) => w.known) ? report(file, route, total, rejected, fileProblems, wentOn) : '';
        fileId = Number(
          insertFile.run({ ...common, outcome: failed ? 'failed' : 'done', duplicateOf: null, invoices: total, valid: valid.length, report: text || null, resultsVersion: 0 }).lastInsertRowid,
        );
        valid.forEach((inv, k) => insertInvoice.run(fileId, inv.index, inv.key, inv.line ?? null, ids[k]!.id, ids[k]!.known ? 1 : 0, null, null));
        for (const r of rejected) insertInvoice.run(fileId, r.index, r.key, r.line ?? null, null, 0, r.problems[0]?.code ?? 'INVALID', r.problems.map((p, k) => (k === 0 ? p.message : `${p.code}: ${p.message}`)).join('; '));
        const fin = (finalCount.get(fileId) as { n: number }).n;
        if (fin > 0) tx.db.prepare('UPDATE bridge_files SET results_version = 1 WHERE id = ?').run(fileId);
      });
    } catch (e) {
      log.error(`${file.name}: could not store its invoices (${errorMessage(e)}); the file stays in processing and is tried again`);
      throw e;
    }
    if (docs.length > 0) ctx.wake();
    const newCount = wentOn.filter((w) => !w.known).length;
    log.info(`${file.name}: ${plural(result.invoices.length, 'invoice')}, ${newCount} queued${wentOn.length - newCount ? `, ${wentOn.length - newCount} already stored` : ''}${rejected.length ? `, ${rejected.length} rejected` : ''}`);
    ctx.emit({
      type: 'file-mapped',
      route: route.name,
      file: file.name,
      fileId,
      invoices: result.invoices.length,
      stored: newCount,
      alreadyKnown: wentOn.length - newCount,
      rejected: rejected.map((r) => ({ key: r.key, ...(r.line !== undefined ? { line: r.line } : {}), code: r.problems[0]?.code ?? 'INVALID', message: r.problems[0]?.message ?? '' })),
    });
    if (failed) {
      ctx.emit({ type: 'file-failed', route: route.name, file: file.name, report: text });
      return { kind: 'failed', report: text, partial: valid.length > 0 };
    }
    return text ? { kind: 'done', report: text } : { kind: 'done' };
  };
}
