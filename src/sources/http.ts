/**
 * HTTP intake: SAP's XML-HTTP port (WE21) posts IDoc-XML to `POST /sap/idoc`; any ERP that
 * can call a web service posts documents to `POST /routes/<route>/documents`. Basic
 * authentication, a body size limit, and 200 only after the handler resolved (the document
 * is durable); otherwise a clear 4xx/5xx so the sender retries or shows the problem.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BridgeError } from '../errors/index.js';
import type { Secret } from '../log/index.js';
import { ClaimRunner, resolveDirs, Spool, type Claim } from './spool.js';
import type { CommonSourceOptions, Source, SourceHandler, SourceOrigin, SourceStatus } from './types.js';
import { describeError } from './util.js';

export interface HttpUser {
  username: string;
  password: Secret;
}

export interface HttpIntakeOptions extends CommonSourceOptions {
  /** Address to listen on (default 127.0.0.1; use 0.0.0.0 behind a firewall or a TLS proxy). */
  host?: string;
  /** Port (0 = any free port, see `address`). */
  port: number;
  /** Accepted users (basic authentication); at least one. */
  users: HttpUser[];
  /** Largest accepted body (default 50 MiB). */
  maxBodyBytes?: number;
  /** Path SAP's XML-HTTP port posts to (default /sap/idoc). */
  idocPath?: string;
  /** Route IDoc-XML posted to `idocPath` goes to; without it that path answers 404. */
  idocRoute?: string;
  /** Routes accepted at /routes/<route>/documents. */
  routes?: string[];
  /** Local folder that holds processing/, archive/ and error/ (unless `dirs` names them). */
  localDir: string;
  /** Seconds a sender is asked to wait before retrying a 503 (default 30). */
  retryAfterSeconds?: number;
}

const IDOC_TYPES = new Set(['application/xml', 'text/xml', 'application/x-sap.idoc']);
const DOCUMENT_TYPES = new Set([
  'application/xml', 'text/xml', 'application/x-sap.idoc', 'text/csv', 'text/plain', 'application/json', 'application/octet-stream',
  'application/vnd.ms-excel',
]);
const EXT: Record<string, string> = {
  'application/xml': '.xml', 'text/xml': '.xml', 'application/x-sap.idoc': '.xml', 'text/csv': '.csv', 'text/plain': '.txt',
  'application/json': '.json', 'application/octet-stream': '.dat', 'application/vnd.ms-excel': '.csv',
};

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** A safe local file name from what the sender proposed. */
function safeName(proposed: string | undefined, fallback: string): string {
  const base = (proposed ?? '').split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const cleaned = base.replace(/[\u0000-\u001f\u007f<>:"|?*]/g, '_').replace(/^[.~]+/, '').slice(0, 150).trim();
  return cleaned || fallback;
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\.(\d+)Z$/, '$1Z');
}

class HttpProblem extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

export class HttpIntake implements Source {
  readonly name: string;
  readonly kind = 'http' as const;
  readonly #o: HttpIntakeOptions;
  readonly #spool: Spool;
  readonly #runner: ClaimRunner;
  readonly #users: Array<{ user: Buffer; pass: Buffer }>;
  readonly #routes: Set<string>;
  readonly #idocPath: string;
  readonly #maxBody: number;
  readonly #requests = new Set<Promise<void>>();
  #server: Server | undefined;
  #stopping = false;
  #running = false;

  constructor(options: HttpIntakeOptions) {
    if (options.users.length === 0) {
      throw new BridgeError('SOURCE_CONFIG', `HTTP intake ${options.name}: at least one user is needed (basic authentication)`, { field: 'users' });
    }
    for (const u of options.users) {
      if (!u.username || u.password.isEmpty) {
        throw new BridgeError('SOURCE_CONFIG', `HTTP intake ${options.name}: every user needs a user name and a password`, { field: 'users' });
      }
    }
    this.#o = options;
    this.name = options.name;
    this.#users = options.users.map((u) => ({ user: digest(u.username), pass: digest(u.password.reveal()) }));
    this.#routes = new Set(options.routes ?? []);
    this.#idocPath = options.idocPath ?? '/sap/idoc';
    this.#maxBody = options.maxBodyBytes ?? 50 * 1024 * 1024;
    this.#spool = new Spool(options.name, resolveDirs(options.localDir, options.dirs), options.logger);
    this.#runner = new ClaimRunner({
      source: options.name,
      route: options.route ?? options.idocRoute ?? options.name,
      spool: this.#spool,
      concurrency: options.concurrency ?? 8,
      backoff: options.backoff,
      logger: options.logger,
      keepMeta: false,
      onHandlerError: 'drop',
      routeOf: (c) => c.extra.route ?? options.idocRoute ?? options.route ?? options.name,
    });
  }

  get dirs() {
    return this.#spool.dirs;
  }

  /** Where the server listens (after start). */
  get address(): { host: string; port: number } {
    const a = this.#server?.address() as AddressInfo | null | undefined;
    if (!a) throw new BridgeError('SOURCE_NOT_STARTED', `HTTP intake ${this.name} is not listening`);
    return { host: a.address, port: a.port };
  }

  async start(handler: SourceHandler): Promise<void> {
    if (this.#running) throw new BridgeError('SOURCE_STARTED', `source ${this.name} is already running`);
    await this.#spool.open();
    const fallback: SourceOrigin = { kind: 'http', requestPath: '', contentType: '' };
    const { claims } = await this.#spool.recover(fallback);
    this.#runner.start(handler);
    if (claims.length > 0) this.#o.logger?.info('Source %s: %d posted document(s) left in processing/ are handled again', this.name, claims.length);
    for (const c of claims) void this.#runner.submit(c);
    this.#stopping = false;
    const server = createServer((req, res) => {
      const p = this.#handle(req, res).catch((e: unknown) => {
        this.#o.logger?.error('Source %s: request failed: %s', this.name, describeError(e));
        if (!res.headersSent) this.#send(res, 500, 'internal error; the document was not stored, send it again\n', { 'Retry-After': String(this.#o.retryAfterSeconds ?? 30) });
      });
      this.#requests.add(p);
      void p.finally(() => this.#requests.delete(p));
    });
    server.requestTimeout = 300_000;
    server.headersTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new BridgeError('HTTP_LISTEN', `HTTP intake ${this.name} cannot listen on ${this.#o.host ?? '127.0.0.1'}:${this.#o.port}: ${describeError(e)}`, {}, { cause: e })));
      server.listen(this.#o.port, this.#o.host ?? '127.0.0.1', () => resolve());
    }).catch(async (e: unknown) => {
      await this.#runner.stop();
      await this.#spool.close();
      throw e;
    });
    this.#server = server;
    this.#running = true;
    this.#o.logger?.info('Source %s: listening on http://%s:%d', this.name, this.address.host, this.address.port);
  }

  #send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    if (res.headersSent) return;
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), ...headers });
    res.end(body);
  }

  #authorized(req: IncomingMessage): string | undefined {
    const h = req.headers.authorization ?? '';
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(h);
    if (!m) return undefined;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return undefined;
    const user = digest(decoded.slice(0, i));
    const pass = digest(decoded.slice(i + 1));
    let ok = false;
    for (const u of this.#users) {
      // both compared every time, for every user: the time does not depend on which part is wrong
      const a = timingSafeEqual(u.user, user);
      const b = timingSafeEqual(u.pass, pass);
      ok = (a && b) || ok;
    }
    return ok ? decoded.slice(0, i) : undefined;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.#accept(req, res);
    } catch (e) {
      if (!(e instanceof HttpProblem)) throw e;
      // the body may not have been read: close the connection instead of draining it
      const close = e.status === 413 || !req.complete;
      this.#send(res, e.status, e.message.endsWith('\n') ? e.message : `${e.message}\n`, { ...e.headers, ...(close ? { Connection: 'close' } : {}) });
      if (close) res.once('finish', () => req.destroy());
    }
  }

  async #accept(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const retryAfter = { 'Retry-After': String(this.#o.retryAfterSeconds ?? 30) };
    if (this.#stopping) throw new HttpProblem(503, 'the bridge is shutting down; send the document again later', retryAfter);
    const url = new URL(req.url ?? '/', 'http://intake');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    let route: string | undefined;
    let isIdoc = false;
    const m = /^\/routes\/([^/]+)\/documents$/.exec(path);
    if (path === this.#idocPath) isIdoc = true;
    else if (m) route = decodeURIComponent(m[1]!);
    else throw new HttpProblem(404, `nothing here: post IDoc-XML to ${this.#idocPath} or documents to /routes/<route>/documents`);
    if (req.method !== 'POST') throw new HttpProblem(405, `use POST for ${path}`, { Allow: 'POST' });
    const user = this.#authorized(req);
    if (!user) {
      this.#o.logger?.warn('Source %s: refused a request to %s from %s: wrong or missing credentials', this.name, path, req.socket.remoteAddress ?? '?');
      throw new HttpProblem(401, 'authentication required: wrong or missing user name or password', { 'WWW-Authenticate': 'Basic realm="ksef-bridge", charset="UTF-8"' });
    }
    if (isIdoc) {
      if (!this.#o.idocRoute) throw new HttpProblem(404, `no route takes IDoc-XML at ${this.#idocPath} (set idocRoute)`);
      route = this.#o.idocRoute;
    } else if (!this.#routes.has(route!)) {
      throw new HttpProblem(404, `unknown route "${route}"; known routes: ${[...this.#routes].join(', ') || '(none)'}`);
    }
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const allowed = isIdoc ? IDOC_TYPES : DOCUMENT_TYPES;
    if (!allowed.has(contentType)) {
      throw new HttpProblem(415, `content type "${contentType || '(none)'}" is not accepted here; use one of: ${[...allowed].join(', ')}`);
    }
    const declared = req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : undefined;
    if (declared !== undefined && declared > this.#maxBody) {
      throw new HttpProblem(413, `the document has ${declared} bytes; at most ${this.#maxBody} are accepted`);
    }
    const proposed = isIdoc ? undefined : (url.searchParams.get('name') ?? (req.headers['x-file-name'] as string | undefined));
    const fallbackName = `${isIdoc ? 'idoc' : route}-${stamp()}${EXT[contentType] ?? '.dat'}`;
    const { id, partPath, size, head } = await this.#receive(req, safeName(proposed, fallbackName));
    if (size === 0) {
      await unlink(partPath).catch(() => undefined);
      throw new HttpProblem(400, 'the request has no body: post the document as the request body');
    }
    if (isIdoc || contentType.includes('xml')) {
      const first = head.replace(/^\uFEFF/, '').trimStart();
      if (!first.startsWith('<')) {
        await unlink(partPath).catch(() => undefined);
        throw new HttpProblem(400, 'the body is not XML (it does not start with "<")');
      }
    }
    let finalId = id;
    if (isIdoc) {
      // name the file after the IDoc number when it is visible at the start
      const docnum = /<DOCNUM>\s*(\d{1,16})\s*<\/DOCNUM>/.exec(head)?.[1];
      if (docnum) finalId = id.replace(/__.*$/, `__idoc-${docnum}.xml`);
    }
    const origin: SourceOrigin = {
      kind: 'http',
      requestPath: path,
      contentType,
      ...(req.socket.remoteAddress ? { remoteAddress: req.socket.remoteAddress } : {}),
    };
    const claim: Claim = await this.#spool.admit(finalId, partPath, origin, { route: route!, user });
    this.#o.logger?.info('Source %s: received %s (%d bytes) for route %s from %s', this.name, claim.name, size, route, user);
    const result = await this.#runner.submit(claim);
    if (result.kind === 'released') {
      if (result.outcome.kind === 'done') {
        this.#send(res, 200, `stored: ${claim.name} sha256=${claim.sha256 ?? ''}\n${result.outcome.report ? result.outcome.report.trimEnd() + '\n' : ''}`);
      } else {
        const head = result.outcome.partial ? 'the document was partly processed' : 'the document was not processed';
        this.#send(res, 422, `${head}: ${claim.name}\n${result.outcome.report.trimEnd()}\n`);
      }
    } else if (result.kind === 'stopped') {
      this.#send(res, 503, 'the bridge is shutting down; send the document again later\n', retryAfter);
    } else {
      this.#send(res, 503, `the document could not be stored (${describeError(result.error)}); send it again later\n`, retryAfter);
    }
  }

  /** Streams the body into a part file, counting and keeping the first bytes; 413 beyond the limit. */
  async #receive(req: IncomingMessage, name: string): Promise<{ id: string; partPath: string; size: number; head: string }> {
    const { id, partPath } = this.#spool.newPart(name);
    const out = createWriteStream(partPath, { mode: 0o640 });
    let size = 0;
    let head = '';
    try {
      await new Promise<void>((resolve, reject) => {
        req.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.#maxBody) {
            req.pause();
            reject(new HttpProblem(413, `the document is larger than ${this.#maxBody} bytes`));
            return;
          }
          if (head.length < 4096) head += chunk.subarray(0, 4096).toString('utf8');
          if (!out.write(chunk)) {
            req.pause();
            out.once('drain', () => req.resume());
          }
        });
        req.once('end', () => resolve());
        req.once('aborted', () => reject(new Error('the sender closed the connection before the body was complete')));
        req.once('error', reject);
        out.once('error', reject);
      });
      await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
      const fh = await open(partPath, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      return { id, partPath, size, head };
    } catch (e) {
      out.destroy();
      await unlink(partPath).catch(() => undefined);
      throw e;
    }
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    // new requests are answered 503 while the ones in flight finish
    this.#stopping = true;
    while (this.#requests.size > 0) await Promise.allSettled([...this.#requests]);
    await this.#runner.stop();
    const server = this.#server;
    this.#server = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
    }
    await this.#spool.close();
  }

  status(): SourceStatus {
    return { name: this.name, kind: this.kind, running: this.#running, inFlight: this.#requests.size };
  }
}

export function createHttpIntake(options: HttpIntakeOptions): HttpIntake {
  return new HttpIntake(options);
}
