/**
 * Session limits per context (limity.md): defaults from the options, overridden per NIP through
 * POST /testdata/limits/context/session (test environment feature), reset with DELETE.
 */
import type { EmulatorContext } from '../context.js';
import type { EmulatorLimits } from '../options.js';

export interface SessionLimitsMB {
  maxInvoices: number;
  maxInvoiceSizeInMB: number;
  maxInvoiceWithAttachmentSizeInMB: number;
}

export interface ContextLimits {
  onlineSession: SessionLimitsMB;
  batchSession: SessionLimitsMB;
}

const MB = 1_000_000; // "1 MB (1 000 000 bajtów)" (weryfikacja-faktury.md)

export function defaultContextLimits(l: EmulatorLimits): ContextLimits {
  const s: SessionLimitsMB = {
    maxInvoices: l.maxInvoicesPerSession,
    maxInvoiceSizeInMB: Math.round(l.maxInvoiceSize / MB),
    maxInvoiceWithAttachmentSizeInMB: Math.round(l.maxInvoiceWithAttachmentSize / MB),
  };
  return { onlineSession: { ...s }, batchSession: { ...s } };
}

export function contextLimits(ctx: EmulatorContext, nip: string): ContextLimits {
  const row = ctx.db.prepare<[string], { limits: string }>(`SELECT limits FROM context_limits WHERE nip = ?`).get(nip);
  return row ? (JSON.parse(row.limits) as ContextLimits) : defaultContextLimits(ctx.options.limits);
}

/** The limits that apply to a session of that kind in that context (sizes in bytes). */
export function sessionLimits(ctx: EmulatorContext, nip: string, kind: 'online' | 'batch'): EmulatorLimits {
  const row = ctx.db.prepare<[string], { limits: string }>(`SELECT limits FROM context_limits WHERE nip = ?`).get(nip);
  if (!row) return ctx.options.limits;
  const c = JSON.parse(row.limits) as ContextLimits;
  const s = kind === 'online' ? c.onlineSession : c.batchSession;
  return {
    ...ctx.options.limits,
    maxInvoicesPerSession: s.maxInvoices,
    maxInvoiceSize: s.maxInvoiceSizeInMB * MB,
    maxInvoiceWithAttachmentSize: s.maxInvoiceWithAttachmentSizeInMB * MB,
  };
}

export function setContextLimits(ctx: EmulatorContext, nip: string, limits: ContextLimits | null): void {
  if (limits === null) ctx.db.prepare(`DELETE FROM context_limits WHERE nip = ?`).run(nip);
  else
    ctx.db
      .prepare(`INSERT INTO context_limits (nip, limits) VALUES (?, ?) ON CONFLICT(nip) DO UPDATE SET limits = excluded.limits`)
      .run(nip, JSON.stringify({ onlineSession: limits.onlineSession, batchSession: limits.batchSession }));
}
