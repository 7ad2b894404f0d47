/** Continuation tokens (`x-continuation-token` header, `continuationToken` in bodies): an opaque offset. */
import type { RequestContext } from './router.js';
import { Errors } from './errors.js';

export function readPage(req: RequestContext, defaultSize = 10): { offset: number; pageSize: number } {
  const raw = req.headers['x-continuation-token'];
  const tokenStr = Array.isArray(raw) ? raw[0] : raw;
  let offset = 0;
  if (tokenStr) {
    try {
      const o = JSON.parse(Buffer.from(tokenStr, 'base64').toString('utf8')) as { o?: unknown };
      if (typeof o.o !== 'number' || !Number.isInteger(o.o) || o.o < 0) throw new Error('bad');
      offset = o.o;
    } catch {
      throw Errors.badContinuationToken();
    }
  }
  const ps = Number(req.query.get('pageSize') ?? defaultSize);
  return { offset, pageSize: Number.isInteger(ps) && ps > 0 ? ps : defaultSize };
}

export function continuationToken(nextOffset: number): string {
  return Buffer.from(JSON.stringify({ o: nextOffset })).toString('base64');
}
