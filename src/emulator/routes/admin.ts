/**
 * Emulator-only endpoints under /emulator/admin (not part of KSeF; bound to 127.0.0.1 by default, no auth):
 * - POST /emulator/admin/tokens {nip, token?, permissions?, description?} -> 201 {referenceNumber, token}
 * - GET  /emulator/admin/state       -> counts, subjects, tokens (without secrets), recent sessions
 * - GET  /emulator/admin/invoices?nip=&limit= -> accepted invoices with their KSeF numbers
 * - GET  /emulator/admin/routes      -> every route the emulator serves
 */
import type { EmulatorApi, EmulatorContext } from '../context.js';
import { iso } from '../context.js';
import { validationError } from '../http/errors.js';
import { provisionToken } from '../store/tokens.js';
import { ALL_TOKEN_PERMISSIONS, type TokenPermission } from '../options.js';
import type { InvoiceRow, SessionRow, TokenRow } from '../store/db.js';

export interface AdminInvoice {
  ksefNumber: string;
  referenceNumber: string;
  sessionReferenceNumber: string;
  sellerNip: string;
  buyerNip: string | null;
  invoiceNumber: string;
  issueDate: string;
  acquisitionDate: string;
}

export interface AdminSession {
  referenceNumber: string;
  kind: 'online' | 'batch';
  nip: string;
  statusCode: number;
  statusDescription: string;
  invoiceCount: number;
  dateCreated: string;
}

export function listInvoices(ctx: EmulatorContext, nip?: string, limit = 1000): AdminInvoice[] {
  const rows = nip
    ? ctx.db
        .prepare<[string, string, number], InvoiceRow>(
          `SELECT * FROM invoices WHERE ksef_number IS NOT NULL AND (seller_nip = ? OR buyer_nip = ?) ORDER BY acquisition_ms DESC LIMIT ?`,
        )
        .all(nip, nip, limit)
    : ctx.db.prepare<[number], InvoiceRow>(`SELECT * FROM invoices WHERE ksef_number IS NOT NULL ORDER BY acquisition_ms DESC LIMIT ?`).all(limit);
  return rows.map((r) => ({
    ksefNumber: r.ksef_number as string,
    referenceNumber: r.reference_number,
    sessionReferenceNumber: r.session_ref,
    sellerNip: r.seller_nip as string,
    buyerNip: r.buyer_nip,
    invoiceNumber: r.invoice_number as string,
    issueDate: r.issue_date as string,
    acquisitionDate: iso(r.acquisition_ms as number),
  }));
}

export function listSessions(ctx: EmulatorContext, limit = 100): AdminSession[] {
  return ctx.db
    .prepare<[number], SessionRow>(`SELECT * FROM sessions ORDER BY created_ms DESC LIMIT ?`)
    .all(limit)
    .map((s) => ({
      referenceNumber: s.reference_number,
      kind: s.kind,
      nip: s.nip,
      statusCode: s.status_code,
      statusDescription: s.status_description,
      invoiceCount: s.invoice_count,
      dateCreated: iso(s.created_ms),
    }));
}

export function registerAdmin({ router, ctx }: EmulatorApi): void {
  const db = ctx.db;
  const opts = { operation: null };

  router.add(
    'POST',
    '/emulator/admin/tokens',
    (req) => {
      const b = (req.json ?? {}) as { nip?: unknown; token?: unknown; permissions?: unknown; description?: unknown };
      if (typeof b.nip !== 'string' || !/^\d{10}$/.test(b.nip)) throw validationError(["'nip': must be a 10-digit NIP"]);
      if (b.token !== undefined && (typeof b.token !== 'string' || b.token.length === 0)) throw validationError(["'token': must be a non-empty string"]);
      const perms = b.permissions === undefined ? undefined : (b.permissions as unknown[]);
      if (perms && (!Array.isArray(perms) || perms.some((p) => !ALL_TOKEN_PERMISSIONS.includes(p as TokenPermission)))) {
        throw validationError([`'permissions': allowed values are ${ALL_TOKEN_PERMISSIONS.join(', ')}`]);
      }
      const created = provisionToken(
        db,
        {
          nip: b.nip,
          ...(typeof b.token === 'string' ? { token: b.token } : {}),
          ...(perms ? { permissions: perms as TokenPermission[] } : {}),
          ...(typeof b.description === 'string' ? { description: b.description } : {}),
        },
        req.now,
      );
      return { status: 201, json: created };
    },
    opts,
  );

  router.add(
    'GET',
    '/emulator/admin/state',
    () => {
      const count = (sql: string): number => (db.prepare<[], { n: number }>(sql).get() as { n: number }).n;
      return {
        status: 200,
        json: {
          counts: {
            subjects: count(`SELECT COUNT(*) AS n FROM subjects`),
            tokens: count(`SELECT COUNT(*) AS n FROM ksef_tokens`),
            authentications: count(`SELECT COUNT(*) AS n FROM auth_ops`),
            sessions: count(`SELECT COUNT(*) AS n FROM sessions`),
            invoices: count(`SELECT COUNT(*) AS n FROM invoices`),
            acceptedInvoices: count(`SELECT COUNT(*) AS n FROM invoices WHERE ksef_number IS NOT NULL`),
          },
          subjects: db.prepare(`SELECT nip, subject_type AS subjectType, description, attachments_allowed AS attachmentsAllowed FROM subjects ORDER BY nip`).all(),
          tokens: db
            .prepare<[], TokenRow>(`SELECT * FROM ksef_tokens ORDER BY created_ms`)
            .all()
            .map((t) => ({ referenceNumber: t.reference_number, nip: t.nip, status: t.status, permissions: JSON.parse(t.permissions) as string[], description: t.description })),
          sessions: listSessions(ctx, 50),
        },
      };
    },
    opts,
  );

  router.add(
    'GET',
    '/emulator/admin/invoices',
    (req) => ({ status: 200, json: { invoices: listInvoices(ctx, req.query.get('nip') ?? undefined, Number(req.query.get('limit') ?? 1000) || 1000) } }),
    opts,
  );

  router.add('GET', '/emulator/admin/routes', () => ({ status: 200, json: { routes: router.list() } }), opts);
}
