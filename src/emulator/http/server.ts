/**
 * The HTTP layer on node:http: reads the body (with a per-route limit), runs interceptors, routes, validates the
 * request against the contract, calls the handler, renders errors as the contract shapes them, and logs one line
 * per request: `METHOD /path -> status (ms)`. Tokens, keys and query strings (pre-signed URLs) never reach the log.
 */
import http from 'node:http';
import type { EmulatorLogger } from '../options.js';
import type { RequestInterceptor } from '../context.js';
import type { ContractValidator } from './contract.js';
import { ApiError, notFound, renderError, validationError } from './errors.js';
import type { HandlerResult, RequestContext, Router } from './router.js';

export interface HttpLayerOptions {
  router: Router;
  contract: ContractValidator | null;
  interceptors: RequestInterceptor[];
  log: EmulatorLogger;
  now: () => number;
  baseUrl: () => string;
}

const MAX_ANY_BODY = 120 * 1024 * 1024;

/** Thrown when the client or close() ends the connection before the body arrived: nothing to answer, nothing to log. */
class ConnectionGone extends Error {}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    let ended = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) tooBig = true;
      else chunks.push(c);
    });
    req.on('end', () => {
      ended = true;
      resolve(tooBig ? null : Buffer.concat(chunks));
    });
    req.on('error', () => reject(new ConnectionGone()));
    req.on('close', () => {
      if (!ended) reject(new ConnectionGone());
    });
  });
}

export interface HttpLayer {
  server: http.Server;
  /**
   * From now on a request that is past its interceptors is not handed to its handler: its connection is destroyed
   * (close() is under way and the state database is about to close).
   */
  beginClose(): void;
  /** Resolves when every request in progress has finished (answered, dropped or refused). */
  drain(): Promise<void>;
}

export function createHttpServer(o: HttpLayerOptions): HttpLayer {
  const inFlight = new Set<Promise<void>>();
  let closing = false;
  const server = http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://emulator.local');
    const path = url.pathname;
    const problemFormat = String(req.headers['x-error-format'] ?? '').toLowerCase() === 'problem-details';
    const now = o.now();
    const extraHeaders: Record<string, string> = {};
    // "Generowanie ostrzeżeń można wymusić przekazując nagłówek X-Test-System-Warning" (open-api.json, SystemWarning)
    const testWarning = req.headers['x-test-system-warning'];
    if (typeof testWarning === 'string' && testWarning) extraHeaders['x-system-warning'] = testWarning.replace(/[^\x20-\x7e]/g, '?');

    const send = (r: HandlerResult): void => {
      if (r.drop) {
        o.log.info(`${method} ${path} -> connection dropped`);
        req.socket.destroy();
        return;
      }
      const headers: Record<string, string> = { ...extraHeaders, ...(r.headers ?? {}) };
      let payload: Buffer | string | undefined;
      if (r.json !== undefined) {
        payload = JSON.stringify(r.json);
        headers['content-type'] = r.contentType ?? 'application/json; charset=utf-8';
      } else if (r.body !== undefined) {
        payload = r.body;
        if (r.contentType) headers['content-type'] = r.contentType;
      }
      if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
      else if (r.status !== 204 && r.status !== 304) headers['content-length'] = '0';
      if (!res.headersSent) res.writeHead(r.status, headers);
      res.end(payload);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      o.log.info(`${method} ${path} -> ${r.status} (${ms.toFixed(1)} ms)`);
    };

    const fail = (e: unknown): void => {
      if (e instanceof ConnectionGone || req.socket.destroyed) return;
      if (e instanceof ApiError) {
        const rendered = renderError(e, path, problemFormat, o.now());
        send({ status: rendered.status, json: rendered.body, contentType: `${rendered.contentType}; charset=utf-8`, headers: rendered.headers });
        return;
      }
      o.log.error(`${method} ${path}: ${(e as Error)?.stack ?? String(e)}`);
      send({
        status: 500,
        json: { title: 'Internal Server Error', status: 500, detail: 'Wewnętrzny błąd emulatora.', instance: path, timestamp: new Date(o.now()).toISOString() },
        contentType: 'application/problem+json; charset=utf-8',
      });
    };

    const run = async (): Promise<void> => {
      const { match, methodMismatch } = o.router.match(method, path);
      const body = await readBody(req, match?.route.options.bodyLimit ?? MAX_ANY_BODY);
      if (closing) return refuse();
      if (body === null) {
        send({ status: 413, json: { title: 'Payload Too Large', status: 413, detail: 'Treść żądania jest zbyt duża.', instance: path }, contentType: 'application/problem+json' });
        return;
      }
      let json: unknown;
      let jsonError = false;
      if (body.length > 0 && !match?.route.options.raw) {
        try {
          json = JSON.parse(body.toString('utf8'));
        } catch {
          jsonError = true;
        }
      }
      const ctx: RequestContext = {
        method,
        path,
        route: match?.route.pattern ?? '',
        params: match?.params ?? {},
        query: url.searchParams,
        headers: req.headers,
        body,
        json,
        clientIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
        problemFormat,
        now,
        baseUrl: o.baseUrl(),
        responseHeaders: extraHeaders,
      };
      for (const intercept of o.interceptors) {
        const early = await intercept(ctx);
        if (closing) return refuse();
        if (early) return send(early);
      }
      if (!match) {
        if (methodMismatch) return send({ status: 405, json: { title: 'Method Not Allowed', status: 405, instance: path }, contentType: 'application/problem+json' });
        throw notFound(path);
      }
      if (jsonError) throw validationError(['The request body is not valid JSON.']);
      const op = match.route.options.operation;
      if (o.contract && op) {
        const v = o.contract.forOperation(op, method);
        const errors = v?.validate({ json, hasBody: body.length > 0, query: url.searchParams, params: match.params }) ?? [];
        if (errors.length) throw validationError(errors);
      }
      send(await match.route.handler(ctx));
    };

    /** close() is under way: no handler may run against the state any more; the client sees the connection closed. */
    const refuse = (): void => {
      o.log.info(`${method} ${path} -> connection closed (emulator closing)`);
      req.socket.destroy();
    };

    const done = run()
      .catch(fail)
      .catch((e: unknown) => o.log.error(`${method} ${path}: ${(e as Error)?.stack ?? String(e)}`));
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
  });
  server.keepAliveTimeout = 5_000;
  return {
    server,
    beginClose: () => {
      closing = true;
    },
    drain: async () => {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}
