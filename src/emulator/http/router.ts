/**
 * A small router: routes are registered with OpenAPI-style patterns (`/v2/sessions/{referenceNumber}`) by route
 * modules; the most specific match wins (literal segments beat parameters), so `/v2/auth/sessions` is not taken
 * for `/v2/auth/{referenceNumber}`.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface RequestContext {
  method: string;
  /** Path without the query string, e.g. `/v2/sessions/20250625-SO-...`. */
  path: string;
  /** The matched route pattern, e.g. `/v2/sessions/{referenceNumber}` (empty when nothing matched). */
  route: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Parsed JSON body (undefined when the body is empty or not JSON). */
  json: unknown;
  clientIp: string;
  /** The request asked for problem-details errors (`X-Error-Format: problem-details`). */
  problemFormat: boolean;
  /** Request time (ms since epoch, from the emulator clock). */
  now: number;
  /** Base URL clients reach the emulator at (no trailing slash). */
  baseUrl: string;
  /** Headers added to whatever response this request gets (interceptors use it, e.g. X-System-Warning). */
  responseHeaders: Record<string, string>;
}

export interface HandlerResult {
  status: number;
  /** JSON body (serialised by the server). */
  json?: unknown;
  /** Raw body (XML, bytes). */
  body?: Buffer | string;
  contentType?: string;
  headers?: Record<string, string>;
  /** Close the connection without answering (fault injection). */
  drop?: boolean;
}

export type Handler = (req: RequestContext) => HandlerResult | Promise<HandlerResult>;

export interface RouteOptions {
  /**
   * The open-api.json path this route serves (e.g. `/sessions/online`); the request is validated against that
   * operation's body, query and path parameter schemas. Default: the pattern without the `/v2` prefix for `/v2/...`
   * patterns, none for others.
   */
  operation?: string | null;
  /** Maximum body size in bytes (default 16 MB). */
  bodyLimit?: number;
  /** Do not parse the body as JSON (uploads). */
  raw?: boolean;
}

export interface Route {
  method: string;
  pattern: string;
  segments: string[];
  literalCount: number;
  handler: Handler;
  options: Required<Pick<RouteOptions, 'bodyLimit' | 'raw'>> & { operation: string | null };
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler, options: RouteOptions = {}): void {
    const segments = pattern.split('/').filter(Boolean);
    const operation =
      options.operation !== undefined ? options.operation : pattern.startsWith('/v2/') ? pattern.slice(3) : null;
    this.routes.push({
      method: method.toUpperCase(),
      pattern,
      segments,
      literalCount: segments.filter((s) => !s.startsWith('{')).length,
      handler,
      options: { bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024, raw: options.raw ?? false, operation },
    });
  }

  /** Finds the route; `methodMismatch` is true when the path exists under another method. */
  match(method: string, path: string): { match: RouteMatch | null; methodMismatch: boolean } {
    const parts = path.split('/').filter(Boolean);
    let best: RouteMatch | null = null;
    let methodMismatch = false;
    for (const route of this.routes) {
      if (route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length; i++) {
        const seg = route.segments[i] as string;
        const part = parts[i] as string;
        if (seg.startsWith('{')) {
          try {
            params[seg.slice(1, -1)] = decodeURIComponent(part);
          } catch {
            ok = false;
            break;
          }
        } else if (seg !== part) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      if (route.method !== method) {
        methodMismatch = true;
        continue;
      }
      if (!best || route.literalCount > best.route.literalCount) best = { route, params };
    }
    return { match: best, methodMismatch };
  }

  list(): ReadonlyArray<Pick<Route, 'method' | 'pattern'>> {
    return this.routes.map((r) => ({ method: r.method, pattern: r.pattern }));
  }
}
