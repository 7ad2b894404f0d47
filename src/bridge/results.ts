/**
 * Two background loops that never hold up sending:
 * - the follower reads the store's document history as it grows (a cursor kept in the store's checkpoints), logs
 *   one line per state change, and marks the source files whose results must be (re)written when one of their
 *   invoices reaches a final state or gets its UPO;
 * - the writer renders each marked file's result through the route's template into its folder or onto its SFTP
 *   server, with the UPO XML files next to it; a failed write is retried with a growing pause.
 */
import { mkdir, rename, writeFile, access } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import SftpClient from 'ssh2-sftp-client';
import { errorMessage } from '../errors/index.js';
import type { BridgeLogger } from '../log/index.js';
import { sshFingerprint } from '../sources/index.js';
import type { Store, UpoRecord } from '../store/index.js';
import { fileById, invoicesOfFile, stmt, type FileRow } from './ledger.js';
import type { BridgeEvent } from './pipeline.js';
import type { RouteConfig, SftpConnection } from './routes.js';
import { compileTemplate, type CompiledTemplate } from './template.js';

const FINAL = new Set(['accepted', 'confirmed', 'rejected', 'invalid']);
const CURSOR = 'bridge.events';

interface EventRow {
  id: number;
  document_id: number;
  from_state: string | null;
  to_state: string;
  reason: string | null;
  invoice_number: string | null;
  ksef_number: string | null;
  session_ref: string | null;
  source: string;
  source_ref: string | null;
}

export interface FollowerOptions {
  store: Store;
  logger: BridgeLogger;
  emit: (e: BridgeEvent) => void;
  /** Called when files were marked for new results. */
  onDirty: () => void;
  intervalMs?: number;
}

/** Follows document_events from a stored cursor; one log line per change; marks files for results. */
export class EventFollower {
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  readonly #o: FollowerOptions;

  constructor(o: FollowerOptions) {
    this.#o = o;
    const cur = o.store.checkpoints.get(CURSOR);
    if (!cur) {
      // first start: history before the bridge ran is not replayed
      const max = (stmt(o.store, 'SELECT MAX(id) AS m FROM document_events').get() as { m: number | null }).m ?? 0;
      o.store.checkpoints.set(CURSOR, String(max));
    }
  }

  start(): void {
    this.#running = true;
    const tick = (): void => {
      if (!this.#running) return;
      try {
        while (this.poll() >= 2000) {
          /* drain a backlog */
        }
      } catch (e) {
        this.#o.logger.warn(`following document changes failed: ${errorMessage(e)}; trying again`);
      }
      this.#timer = setTimeout(tick, this.#o.intervalMs ?? 200);
    };
    tick();
  }

  stop(): void {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    try {
      while (this.poll() >= 2000) {
        /* last changes */
      }
    } catch {
      /* the store may be closing */
    }
  }

  /** Processes the next events; returns how many. */
  poll(): number {
    const { store } = this.#o;
    const cursor = Number(store.checkpoints.get(CURSOR)?.value ?? '0');
    const rows = stmt(
      store,
      `SELECT e.id, e.document_id, e.from_state, e.to_state, e.reason, d.invoice_number, d.ksef_number, d.session_ref, d.source, d.source_ref
         FROM document_events e JOIN documents d ON d.id = e.document_id WHERE e.id > ? ORDER BY e.id LIMIT 2000`,
    ).all(cursor) as EventRow[];
    if (rows.length === 0) return 0;
    const mark = stmt(store, 'UPDATE bridge_files SET results_version = results_version + 1 WHERE id IN (SELECT file_id FROM bridge_invoices WHERE document_id = ?)');
    let dirty = false;
    store.transaction((tx) => {
      for (const r of rows) {
        if (FINAL.has(r.to_state) && mark.run(r.document_id).changes > 0) dirty = true;
      }
      tx.checkpoints.set(CURSOR, String(rows[rows.length - 1]!.id));
    });
    for (const r of rows) {
      const route = r.source.startsWith('route:') ? r.source.slice(6) : undefined;
      const file = r.source_ref ?? undefined;
      const what = r.from_state ? `${r.from_state} -> ${r.to_state}` : r.to_state;
      const extra = r.to_state === 'accepted' && r.ksef_number ? `KSeF number ${r.ksef_number}` : (r.reason ?? '');
      this.#o.logger
        .forDocument(r.document_id, { ...(route ? { route } : {}), state: r.to_state })
        .info(`document ${r.document_id} ${r.invoice_number ?? '?'}${file ? ` (${file})` : ''}: ${what}${extra ? `: ${extra}` : ''}`);
      this.#o.emit({
        type: 'document',
        documentId: r.document_id,
        invoiceNumber: r.invoice_number,
        from: r.from_state,
        to: r.to_state,
        reason: r.reason,
        ksefNumber: r.ksef_number,
        sessionRef: r.session_ref,
        ...(route ? { route } : {}),
        ...(file ? { file } : {}),
      });
    }
    if (dirty) this.#o.onDirty();
    return rows.length;
  }
}

/** One invoice line of a result file (the data a template sees, inside {{#invoices}}). */
export interface ResultInvoice {
  sourceFile: string;
  erpInvoiceNumber: string;
  position: number;
  sourceLine: number | null;
  documentId: number | null;
  state: string;
  ksefNumber: string | null;
  acceptedAt: string | null;
  sessionReferenceNumber: string | null;
  invoiceReferenceNumber: string | null;
  upoFile: string | null;
  errorCode: string | null;
  error: string | null;
  last: boolean;
}

export interface ResultData {
  sourceFile: string;
  route: string;
  receivedAt: string;
  writtenAt: string;
  sha256: string;
  counts: { invoices: number; accepted: number; rejected: number; pending: number };
  invoices: ResultInvoice[];
}

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** Where a document's UPO is: its own, or the session UPO page that confirmed it (file name and row id; the XML is
 *  read only when the file is written, a session UPO can be megabytes). */
export interface UpoRef {
  name: string;
  upoId: number;
}

export function upoRefOf(store: Store, documentId: number): UpoRef | undefined {
  const own = stmt(store, 'SELECT id, ksef_number FROM upos WHERE document_id = ? ORDER BY id LIMIT 1').get(documentId) as { id: number; ksef_number: string | null } | undefined;
  if (own) {
    const doc = stmt(store, 'SELECT ksef_number FROM documents WHERE id = ?').get(documentId) as { ksef_number: string | null } | undefined;
    return { name: `UPO_${safe(doc?.ksef_number ?? own.ksef_number ?? String(own.id))}.xml`, upoId: own.id };
  }
  const ev = stmt(store, `SELECT details FROM document_events WHERE document_id = ? AND to_state = 'confirmed' ORDER BY id DESC LIMIT 1`).get(documentId) as { details: string | null } | undefined;
  const upoId = ev?.details ? (JSON.parse(ev.details) as { upoId?: number }).upoId : undefined;
  if (upoId === undefined) return undefined;
  const row = stmt(store, 'SELECT id, session_ref, invoice_ref FROM upos WHERE id = ?').get(upoId) as { id: number; session_ref: string | null; invoice_ref: string | null } | undefined;
  if (!row) return undefined;
  return { name: `UPO_${safe(row.session_ref ?? 'session')}${row.invoice_ref ? `_${safe(row.invoice_ref)}` : `_${row.id}`}.xml`, upoId: row.id };
}

/** The UPO of a document with its XML. */
export function upoOf(store: Store, documentId: number): { name: string; upo: UpoRecord } | undefined {
  const ref = upoRefOf(store, documentId);
  if (!ref) return undefined;
  const row = stmt(store, 'SELECT * FROM upos WHERE id = ?').get(ref.upoId) as { id: number; document_id: number | null; session_ref: string | null; ksef_number: string | null; invoice_ref: string | null; xml: string; received_at: string } | undefined;
  if (!row) return undefined;
  return {
    name: ref.name,
    upo: { id: row.id, documentId: row.document_id, sessionRef: row.session_ref, ksefNumber: row.ksef_number, invoiceRef: row.invoice_ref, xml: row.xml, receivedAt: row.received_at },
  };
}

function upoXml(store: Store, upoId: number): string {
  return (stmt(store, 'SELECT xml FROM upos WHERE id = ?').get(upoId) as { xml: string }).xml;
}

/** What the result of one source file says now. */
export function resultData(store: Store, file: FileRow): { data: ResultData; upos: Map<string, number> } {
  const upos = new Map<string, number>();
  const rows = invoicesOfFile(store, file.id);
  const accEvent = stmt(store, `SELECT at, details FROM document_events WHERE document_id = ? AND to_state = 'accepted' ORDER BY id DESC LIMIT 1`);
  const invoices: ResultInvoice[] = rows.map((r, i) => {
    const doc = r.document_id !== null ? store.documents.get(r.document_id) : undefined;
    let acceptedAt: string | null = null;
    let upoFile: string | null = null;
    if (doc && (doc.state === 'accepted' || doc.state === 'confirmed')) {
      const ev = accEvent.get(doc.id) as { at: string; details: string | null } | undefined;
      const details = ev?.details ? (JSON.parse(ev.details) as { acquisitionDate?: string }) : {};
      acceptedAt = details.acquisitionDate ?? ev?.at ?? null;
      if (doc.state === 'confirmed') {
        const u = upoRefOf(store, doc.id);
        if (u) {
          upoFile = u.name;
          upos.set(u.name, u.upoId);
        }
      }
    }
    const err = doc ? doc.lastError : r.error_code ? { code: r.error_code, message: r.error_message ?? '' } : null;
    const showErr = doc ? doc.state === 'rejected' || doc.state === 'invalid' : true;
    return {
      sourceFile: file.name,
      erpInvoiceNumber: r.invoice_key,
      position: r.position,
      sourceLine: r.line,
      documentId: r.document_id,
      state: doc ? doc.state : 'invalid',
      ksefNumber: doc?.ksefNumber ?? null,
      acceptedAt,
      sessionReferenceNumber: doc?.sessionRef ?? null,
      invoiceReferenceNumber: doc?.invoiceRef ?? null,
      upoFile,
      errorCode: showErr && err ? err.code : null,
      error: showErr && err ? err.message : null,
      last: i === rows.length - 1,
    };
  });
  const accepted = invoices.filter((i) => i.state === 'accepted' || i.state === 'confirmed').length;
  const rejected = invoices.filter((i) => i.state === 'rejected' || i.state === 'invalid').length;
  return {
    data: {
      sourceFile: file.name,
      route: file.route,
      receivedAt: file.received_at,
      writtenAt: new Date().toISOString(),
      sha256: file.sha256,
      counts: { invoices: invoices.length, accepted, rejected, pending: invoices.length - accepted - rejected },
      invoices,
    },
    upos,
  };
}

/** Name of the result file of a source file: <name without extension>.result.<format>. */
export function resultName(file: { name: string; id: number }, format: string, taken?: (name: string) => boolean): string {
  const stem = file.name.replace(/\.[^.]*$/, '') || file.name;
  const name = `${safe(stem)}.result.${format}`;
  return taken && taken(name) ? `${safe(stem)}.${file.id}.result.${format}` : name;
}

export interface ResultWriterOptions {
  store: Store;
  routes: ReadonlyMap<string, RouteConfig>;
  logger: BridgeLogger;
  emit: (e: BridgeEvent) => void;
  intervalMs?: number;
  /** First pause after a failed write (default 1 s, doubling to 5 min). */
  retryMs?: number;
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

async function connectSftp(c: SftpConnection, logger: BridgeLogger): Promise<SftpClient> {
  const client = new SftpClient('ksef-bridge-results');
  let found: string | undefined;
  await client.connect({
    host: c.host,
    port: c.port,
    username: c.username,
    readyTimeout: 20_000,
    ...(c.password ? { password: c.password.reveal() } : {}),
    ...(c.privateKeyPath ? { privateKey: readFileSync(c.privateKeyPath) } : {}),
    ...(c.passphrase ? { passphrase: c.passphrase.reveal() } : {}),
    hostVerifier: (key: Buffer) => {
      found = sshFingerprint(key);
      if (!c.hostKeySha256) {
        logger.warn(`results SFTP ${c.host}:${c.port}: host key ${found} is not pinned (accept_new_host_key)`);
        return c.acceptNewHostKey === true;
      }
      return found.replace(/=+$/, '') === (c.hostKeySha256.startsWith('SHA256:') ? c.hostKeySha256 : `SHA256:${c.hostKeySha256}`).replace(/=+$/, '');
    },
  } as Parameters<SftpClient['connect']>[0]);
  void found;
  return client;
}

/** Writes result files for marked source files, retrying failures without ever blocking the pipeline or the dispatcher. */
export class ResultWriter {
  readonly #o: ResultWriterOptions;
  readonly #templates = new Map<string, CompiledTemplate>();
  readonly #retry = new Map<number, { at: number; delay: number }>();
  /** UPO files known to be written (a session UPO is shared by many source files). */
  readonly #upoWritten = new Set<string>();
  /** Result names given in this round (not yet in the store). */
  readonly #roundNames = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #busy: Promise<void> | undefined;
  #running = false;
  #kicked = false;

  constructor(o: ResultWriterOptions) {
    this.#o = o;
    for (const r of o.routes.values()) {
      if (r.results) this.#templates.set(r.name, compileTemplate(readFileSync(r.results.template, 'utf8'), r.results.format, r.results.template));
    }
  }

  start(): void {
    this.#running = true;
    this.kick();
  }

  kick(): void {
    if (!this.#running) return;
    if (this.#busy) {
      this.#kicked = true;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#busy = this.#round()
      .catch((e: unknown) => this.#o.logger.warn(`writing results failed: ${errorMessage(e)}`))
      .finally(() => {
        this.#busy = undefined;
        if (!this.#running) return;
        const again = this.#kicked;
        this.#kicked = false;
        // a kick during the round: go again soon, leaving a moment for more changes to gather
        this.#timer = setTimeout(() => this.kick(), again ? 100 : (this.#o.intervalMs ?? 500));
      });
  }

  /** Stops after the round in progress and makes one last attempt for what is due (bounded by timeoutMs). */
  async stop(timeoutMs = 5_000): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#busy;
    this.#retry.clear();
    await Promise.race([this.#round().catch(() => undefined), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  /** Files whose results are owed. */
  pending(): number {
    const names = [...this.#templates.keys()];
    if (names.length === 0) return 0;
    return (
      stmt(this.#o.store, `SELECT COUNT(*) AS n FROM bridge_files WHERE results_written < results_version AND route IN (${names.map(() => '?').join(',')})`).get(...names) as { n: number }
    ).n;
  }

  async #round(): Promise<void> {
    const names = [...this.#templates.keys()];
    if (names.length === 0) return;
    const { store } = this.#o;
    const due = stmt(store, `SELECT id FROM bridge_files WHERE results_written < results_version AND route IN (${names.map(() => '?').join(',')}) ORDER BY id LIMIT 500`).all(...names) as { id: number }[];
    const written: { id: number; version: number; name: string }[] = [];
    this.#roundNames.clear();
    const now = Date.now();
    const byTarget = new Map<string, FileRow[]>();
    for (const { id } of due) {
      const r = this.#retry.get(id);
      if (r && r.at > now) continue;
      const f = fileById(store, id);
      if (!f) continue;
      const list = byTarget.get(f.route) ?? [];
      list.push(f);
      byTarget.set(f.route, list);
    }
    for (const [routeName, files] of byTarget) {
      const route = this.#o.routes.get(routeName)!;
      const results = route.results!;
      const tpl = this.#templates.get(routeName)!;
      let sftp: SftpClient | undefined;
      try {
        for (const f of files) {
          const version = f.results_version;
          try {
            const { data, upos } = resultData(store, f);
            const text = tpl.render(data as unknown as Record<string, unknown>);
            const name = f.results_name ?? resultName({ name: f.name, id: f.id }, results.format, (n) => this.#nameTaken(routeName, n, f.id));
            if (results.target.kind === 'folder') {
              const dir = results.target.dir;
              await mkdir(dir, { recursive: true });
              if (results.upo) {
                for (const [upoName, upoId] of upos) {
                  const p = path.join(dir, upoName);
                  if (this.#upoWritten.has(p)) continue;
                  if (!(await exists(p))) await atomicWrite(p, upoXml(store, upoId));
                  this.#upoWritten.add(p);
                }
              }
              await atomicWrite(path.join(dir, name), text);
            } else {
              sftp ??= await connectSftp(results.target.connection, this.#o.logger);
              const dir = results.target.remoteDir;
              await sftp.mkdir(dir, true).catch(() => undefined);
              if (results.upo) {
                for (const [upoName, upoId] of upos) {
                  const p = `${dir}/${upoName}`;
                  const key = `sftp:${results.target.connection.host}:${results.target.connection.port}:${p}`;
                  if (this.#upoWritten.has(key)) continue;
                  if (!(await sftp.exists(p))) await sftpAtomicPut(sftp, p, upoXml(store, upoId));
                  this.#upoWritten.add(key);
                }
              }
              await sftpAtomicPut(sftp, `${dir}/${name}`, text);
            }
            written.push({ id: f.id, version, name });
            this.#roundNames.add(`${routeName}/${name}`);
            this.#retry.delete(f.id);
            this.#o.emit({ type: 'results', route: routeName, file: f.name, written: name, upos: [...upos.keys()] });
          } catch (e) {
            const prev = this.#retry.get(f.id);
            const delay = Math.min(300_000, prev ? prev.delay * 2 : (this.#o.retryMs ?? 1_000));
            this.#retry.set(f.id, { at: Date.now() + delay, delay });
            const msg = errorMessage(e);
            stmt(store, 'UPDATE bridge_files SET results_error = ?, results_tries = results_tries + 1 WHERE id = ?').run(msg, f.id);
            this.#o.logger.warn(`results of ${f.name} (route ${routeName}) not written: ${msg}; next try in ${Math.round(delay / 1000)} s`);
            this.#o.emit({ type: 'results-failed', route: routeName, file: f.name, error: msg, nextTryMs: delay });
            if (sftp) {
              await sftp.end().catch(() => undefined);
              sftp = undefined;
            }
            if (results.target.kind === 'sftp') break; // the server is likely down: the others wait too
          }
        }
      } finally {
        if (sftp) await sftp.end().catch(() => undefined);
      }
    }
    if (written.length > 0) {
      const upd = stmt(store, 'UPDATE bridge_files SET results_written = ?, results_name = ?, results_error = NULL WHERE id = ?');
      store.transaction(() => {
        for (const w of written) upd.run(w.version, w.name, w.id);
      });
    }
  }

  #nameTaken(route: string, name: string, id: number): boolean {
    if (this.#roundNames.has(`${route}/${name}`)) return true;
    return !!stmt(this.#o.store, 'SELECT 1 FROM bridge_files WHERE route = ? AND results_name = ? AND id != ?').get(route, name, id);
  }
}

async function atomicWrite(p: string, text: string): Promise<void> {
  const tmp = path.join(path.dirname(p), `.${path.basename(p)}.${process.pid}.tmp`);
  await writeFile(tmp, text, 'utf8');
  await rename(tmp, p);
}

async function sftpAtomicPut(sftp: SftpClient, p: string, text: string): Promise<void> {
  const tmp = `${path.posix.dirname(p)}/.${path.posix.basename(p)}.part`;
  await sftp.put(Buffer.from(text, 'utf8'), tmp);
  try {
    await sftp.posixRename(tmp, p);
  } catch {
    if (await sftp.exists(p)) await sftp.delete(p);
    await sftp.rename(tmp, p);
  }
}
