/**
 * API request limits as the contract exposes them (open-api.json, tag "Limity i ograniczenia"; limity-api.md,
 * "Limity na środowiskach"):
 *   GET    /rate-limits                     -> EffectiveApiRateLimits of the current context
 *   POST   /testdata/rate-limits            SetRateLimitsRequest -> the context's own values (test environments only)
 *   DELETE /testdata/rate-limits            -> back to the default values
 *   POST   /testdata/rate-limits/production -> production values for the context
 * The limiter itself is in limits/.
 */
import type { EmulatorApi } from '../context.js';
import { requireAccess } from '../context.js';
import type { ApiRateLimits, RateLimitController } from '../limits/index.js';
import { PRODUCTION_RATE_LIMITS, RATE_LIMIT_GROUPS, UNLIMITED } from '../limits/index.js';

function unlimited(): ApiRateLimits {
  const out = {} as ApiRateLimits;
  for (const g of RATE_LIMIT_GROUPS) out[g] = { perSecond: UNLIMITED, perMinute: UNLIMITED, perHour: UNLIMITED };
  return out;
}

export function registerRateLimitRoutes({ router, ctx }: EmulatorApi, limits: RateLimitController): void {
  router.add('GET', '/v2/rate-limits', (req) => {
    const access = requireAccess(ctx, req);
    return { status: 200, json: limits.limitsFor(access.nip) ?? unlimited() };
  });
  router.add('POST', '/v2/testdata/rate-limits', (req) => {
    const access = requireAccess(ctx, req);
    limits.setOverride(access.nip, (req.json as { rateLimits: ApiRateLimits }).rateLimits);
    ctx.log.info(`rate limits: own values for context ${access.nip}`);
    return { status: 200 };
  });
  router.add('DELETE', '/v2/testdata/rate-limits', (req) => {
    const access = requireAccess(ctx, req);
    limits.setOverride(access.nip, null);
    return { status: 200 };
  });
  router.add('POST', '/v2/testdata/rate-limits/production', (req) => {
    const access = requireAccess(ctx, req);
    limits.setOverride(access.nip, { ...PRODUCTION_RATE_LIMITS });
    ctx.log.info(`rate limits: production values for context ${access.nip}`);
    return { status: 200 };
  });
}
