/**
 * Context limits (limity.md): GET /limits/context, POST and DELETE /testdata/limits/context/session.
 * Per-endpoint request limits (429) are a separate extension.
 */
import type { EmulatorApi } from '../context.js';
import { requireAccess } from '../context.js';
import { contextLimits, setContextLimits, type ContextLimits } from '../store/limits.js';

export function registerLimits({ router, ctx }: EmulatorApi): void {
  router.add('GET', '/v2/limits/context', (req) => {
    const access = requireAccess(ctx, req);
    return { status: 200, json: contextLimits(ctx, access.nip) };
  });
  router.add('POST', '/v2/testdata/limits/context/session', (req) => {
    const access = requireAccess(ctx, req);
    setContextLimits(ctx, access.nip, req.json as ContextLimits);
    return { status: 200 };
  });
  router.add('DELETE', '/v2/testdata/limits/context/session', (req) => {
    const access = requireAccess(ctx, req);
    setContextLimits(ctx, access.nip, null);
    return { status: 200 };
  });
}
