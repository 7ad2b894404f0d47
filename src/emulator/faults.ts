/**
 * Faults on demand, for resilience tests and the demo (a built-in extension in its own module):
 *
 * - maintenance: inside a window every KSeF call (/v2/...) is answered 503 Service Unavailable with `Retry-After`
 *   (seconds to the end of the window) and a problem-details body; before the window, from `announceFrom`, responses
 *   carry an `X-System-Warning` header announcing it. The KSeF documentation does not specify how the API answers
 *   during unavailability; this is the emulator's documented choice.
 * - rules: answer a chosen endpoint with an HTTP error (5xx or any status), slow it down, or drop the connection
 *   without an answer; optionally only `times` times, or with a probability.
 * - processing delay: change `processingDelayMs` at run time (delayed processing).
 *
 * Control: options (`faults`), the programmatic handle (`RunningEmulator.admin.faults`), or HTTP:
 *   GET    /emulator/admin/faults                 -> { maintenance, rules, processingDelayMs }
 *   POST   /emulator/admin/faults                 {kind, method?, path?, status?, delayMs?, times?, probability?} -> 201 rule
 *   DELETE /emulator/admin/faults/{id}            -> 204;  DELETE /emulator/admin/faults -> 204 (all rules)
 *   PUT    /emulator/admin/maintenance            {from?, to, announceFrom?} (ISO dates; from defaults to now) -> 200
 *   DELETE /emulator/admin/maintenance            -> 204
 *   PUT    /emulator/admin/processing             {delayMs} -> 200
 * Admin endpoints themselves are never affected.
 */
import crypto from 'node:crypto';
import type { EmulatorApi } from './context.js';
import type { HandlerResult, RequestContext } from './http/router.js';
import { ApiError, renderError, validationError } from './http/errors.js';
import { ConfigError } from '../errors/index.js';

export type FaultKind = 'error' | 'delay' | 'drop';

export interface FaultRuleInput {
  kind: FaultKind;
  /** HTTP method to match (default: any). */
  method?: string;
  /**
   * Path to match: a route pattern as in open-api.json with or without `/v2` (`/sessions/online/{referenceNumber}/invoices`),
   * an exact path, or a prefix ending in `*` (`/v2/sessions/*`). Default: every KSeF path (/v2/...).
   */
  path?: string;
  /** Status for `error` (default 500). */
  status?: number;
  /**
   * For a 400 `error`: the KSeF exception to answer with, e.g. 21184 "Sesja tymczasowo niedostępna." (announced by
   * the ministry for maintenance of a single interactive session). Rendered as ExceptionResponse.
   */
  exceptionCode?: number;
  exceptionDescription?: string;
  exceptionDetails?: string[];
  /** Delay for `delay` in ms (default 5000). */
  delayMs?: number;
  /** Apply only this many times (default: until removed). */
  times?: number;
  /** Apply with this probability, 0..1 (default 1). */
  probability?: number;
}

export interface FaultRule extends FaultRuleInput {
  id: string;
  /** How many times the rule has fired. */
  hits: number;
}

export interface MaintenanceWindow {
  /** ISO date-time; default: now. */
  from?: string;
  /** ISO date-time the window ends. */
  to: string;
  /** ISO date-time from which responses announce the window in X-System-Warning. */
  announceFrom?: string;
}

export interface FaultsConfig {
  maintenance?: MaintenanceWindow | null;
  rules?: FaultRuleInput[];
}

export interface FaultController {
  addRule(rule: FaultRuleInput): FaultRule;
  removeRule(id: string): boolean;
  clearRules(): void;
  rules(): FaultRule[];
  setMaintenance(window: MaintenanceWindow | null): void;
  maintenance(): MaintenanceWindow | null;
  setProcessingDelay(ms: number): void;
}

const KINDS: FaultKind[] = ['error', 'delay', 'drop'];

function checkRule(r: FaultRuleInput): void {
  const problems: string[] = [];
  if (!KINDS.includes(r.kind)) problems.push(`'kind': one of ${KINDS.join(', ')}`);
  if (r.status !== undefined && (!Number.isInteger(r.status) || r.status < 400 || r.status > 599)) problems.push("'status': an HTTP error status 400-599");
  if (r.delayMs !== undefined && (!Number.isFinite(r.delayMs) || r.delayMs < 0)) problems.push("'delayMs': a non-negative number");
  if (r.times !== undefined && (!Number.isInteger(r.times) || r.times < 1)) problems.push("'times': a positive integer");
  if (r.probability !== undefined && (!(r.probability >= 0) || r.probability > 1)) problems.push("'probability': between 0 and 1");
  if (r.path !== undefined && typeof r.path !== 'string') problems.push("'path': a string");
  if (problems.length) throw validationError(problems);
}

function checkWindow(w: MaintenanceWindow): { from: number; to: number; announceFrom: number | null } {
  const from = w.from ? Date.parse(w.from) : NaN;
  const to = Date.parse(w.to);
  const announceFrom = w.announceFrom ? Date.parse(w.announceFrom) : null;
  if (w.from !== undefined && Number.isNaN(from)) throw validationError(["'from': an ISO date-time"]);
  if (Number.isNaN(to)) throw validationError(["'to': an ISO date-time"]);
  if (announceFrom !== null && Number.isNaN(announceFrom)) throw validationError(["'announceFrom': an ISO date-time"]);
  return { from, to, announceFrom };
}

function matches(rule: FaultRule, req: RequestContext): boolean {
  if (rule.method && rule.method.toUpperCase() !== req.method) return false;
  const p = rule.path;
  if (!p) return req.path.startsWith('/v2/');
  if (p.endsWith('*')) return req.path.startsWith(p.slice(0, -1));
  const withV2 = p.startsWith('/v2/') ? p : `/v2${p}`;
  return req.route === p || req.route === withV2 || req.path === p || req.path === withV2;
}

/** Waits `ms`, or less when `signal` aborts (close() does not wait out a slow-response fault). */
const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

const asciiFold = (s: string): string => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/ł/g, 'l').replace(/Ł/g, 'L').replace(/[^\x20-\x7e]/g, '?');

/** Registers the fault interceptor and admin routes; returns the controller. */
export function registerFaults(api: EmulatorApi, initial: FaultsConfig = {}): FaultController {
  const { router, ctx } = api;
  let rules: FaultRule[] = [];
  let window: (MaintenanceWindow & { fromMs: number; toMs: number; announceMs: number | null }) | null = null;

  const controller: FaultController = {
    addRule(input) {
      checkRule(input);
      const rule: FaultRule = { ...input, id: crypto.randomBytes(4).toString('hex'), hits: 0 };
      rules.push(rule);
      ctx.log.warn(`fault rule ${rule.id} added: ${rule.kind} ${rule.method ?? '*'} ${rule.path ?? '/v2/*'}`);
      return rule;
    },
    removeRule: (id) => {
      const before = rules.length;
      rules = rules.filter((r) => r.id !== id);
      return rules.length < before;
    },
    clearRules: () => {
      rules = [];
    },
    rules: () => rules.map((r) => ({ ...r })),
    setMaintenance(w) {
      if (!w) {
        window = null;
        ctx.log.warn('maintenance window removed');
        return;
      }
      const c = checkWindow(w);
      const fromMs = Number.isNaN(c.from) ? ctx.now() : c.from;
      window = { from: new Date(fromMs).toISOString(), to: new Date(c.to).toISOString(), ...(c.announceFrom !== null ? { announceFrom: new Date(c.announceFrom).toISOString() } : {}), fromMs, toMs: c.to, announceMs: c.announceFrom };
      ctx.log.warn(`maintenance window ${window.from} - ${window.to}`);
    },
    maintenance: () => (window ? { from: window.from, to: window.to, ...(window.announceFrom ? { announceFrom: window.announceFrom } : {}) } : null),
    setProcessingDelay(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw validationError(["'delayMs': a non-negative number"]);
      ctx.options.processingDelayMs = ms;
    },
  };
  try {
    if (initial.maintenance) controller.setMaintenance(initial.maintenance);
    for (const r of initial.rules ?? []) controller.addRule(r);
  } catch (e) {
    const details = e instanceof ApiError ? e.detailsList.flatMap((d) => d.details ?? []).join('; ') : String(e);
    throw new ConfigError('EMULATOR_FAULTS_INVALID', `invalid emulator faults configuration: ${details}`, { field: 'faults' });
  }

  api.addInterceptor(async (req): Promise<HandlerResult | null> => {
    if (req.path.startsWith('/emulator/admin')) return null;
    const isKsef = req.path.startsWith('/v2/');
    if (window && isKsef) {
      if (req.now >= window.fromMs && req.now < window.toMs) {
        const retryAfter = Math.max(1, Math.ceil((window.toMs - req.now) / 1000));
        return {
          status: 503,
          json: {
            title: 'Service Unavailable',
            status: 503,
            detail: `System KSeF jest niedostępny z powodu prac serwisowych do ${window.to}.`,
            instance: req.path,
            timestamp: new Date(req.now).toISOString(),
          },
          contentType: 'application/problem+json',
          headers: { 'retry-after': String(retryAfter) },
        };
      }
      if (window.announceMs !== null && req.now >= window.announceMs && req.now < window.fromMs) {
        req.responseHeaders['x-system-warning'] = asciiFold(`[maintenance]: Zaplanowane prace serwisowe od ${window.from} do ${window.to}`);
      }
    }
    for (const rule of rules) {
      if (!matches(rule, req)) continue;
      if (rule.probability !== undefined && Math.random() >= rule.probability) continue;
      rule.hits++;
      if (rule.times !== undefined && rule.hits >= rule.times) rules = rules.filter((r) => r !== rule);
      if (rule.kind === 'delay') {
        await sleep(rule.delayMs ?? 5000, api.closing);
        continue; // then answer normally
      }
      if (rule.kind === 'drop') return { status: 0, drop: true };
      const status = rule.status ?? 500;
      if (status === 400 || rule.exceptionCode !== undefined) {
        const err = new ApiError(status, [
          {
            exceptionCode: rule.exceptionCode ?? 21405,
            exceptionDescription: rule.exceptionDescription ?? 'Błąd wstrzyknięty przez emulator (fault injection).',
            ...(rule.exceptionDetails ? { details: rule.exceptionDetails } : {}),
          },
        ]);
        const r = renderError(err, req.path, req.problemFormat, req.now);
        return { status: r.status, json: r.body, contentType: r.contentType, headers: r.headers };
      }
      return {
        status,
        json: { title: status === 503 ? 'Service Unavailable' : 'Internal Server Error', status, detail: 'Błąd wstrzyknięty przez emulator (fault injection).', instance: req.path, timestamp: new Date(req.now).toISOString() },
        contentType: 'application/problem+json',
      };
    }
    return null;
  });

  const opts = { operation: null };
  router.add('GET', '/emulator/admin/faults', () => ({ status: 200, json: { maintenance: controller.maintenance(), rules: controller.rules(), processingDelayMs: ctx.options.processingDelayMs } }), opts);
  router.add('POST', '/emulator/admin/faults', (req) => ({ status: 201, json: controller.addRule((req.json ?? {}) as FaultRuleInput) }), opts);
  router.add('DELETE', '/emulator/admin/faults', () => {
    controller.clearRules();
    return { status: 204 };
  }, opts);
  router.add('DELETE', '/emulator/admin/faults/{id}', (req) => (controller.removeRule(req.params.id as string) ? { status: 204 } : { status: 404 }), opts);
  router.add('PUT', '/emulator/admin/maintenance', (req) => {
    controller.setMaintenance((req.json ?? {}) as MaintenanceWindow);
    return { status: 200, json: controller.maintenance() };
  }, opts);
  router.add('DELETE', '/emulator/admin/maintenance', () => {
    controller.setMaintenance(null);
    return { status: 204 };
  }, opts);
  router.add('PUT', '/emulator/admin/processing', (req) => {
    controller.setProcessingDelay(Number((req.json as { delayMs?: unknown } | undefined)?.delayMs));
    return { status: 200, json: { processingDelayMs: ctx.options.processingDelayMs } };
  }, opts);
  return controller;
}
