/**
 * Session status and UPO (faktury/sesje/sesja-sprawdzenie-stanu-i-pobranie-upo.md): GET /sessions,
 * GET /sessions/{ref}, GET /sessions/{ref}/invoices, /invoices/failed, /invoices/{invoiceRef},
 * UPO by invoice reference and by KSeF number, session UPO pages, and the pre-signed storage links in
 * `upoDownloadUrl` / `upo.pages[].downloadUrl` (`GET /emulator/storage/upo/...`, no access token).
 */
import type { EmulatorApi, EmulatorContext } from '../context.js';
import { iso, requireAccess } from '../context.js';
import type { HandlerResult, RequestContext } from '../http/router.js';
import { badRequest, Errors, validationError } from '../http/errors.js';
import { continuationToken, readPage } from '../http/paging.js';
import type { InvoiceRow, SessionRow } from '../store/db.js';
import { invoiceUpo } from '../processing/upo.js';
import { sha256Base64 } from '../crypto/keys.js';
import { getSession, READ_STATUS_PERMISSIONS } from './sessions-common.js';

const LINK_TTL_MS = 3 * 24 * 3_600_000;

interface Counts {
  total: number;
  ok: number;
  failed: number;
}

function counts(s: SessionRow): Counts {
  return { total: s.invoice_count, ok: s.ok_count, failed: s.failed_count };
}

function sessionStatus(s: SessionRow): { code: number; description: string; details?: string[] } {
  return { code: s.status_code, description: s.status_description, ...(s.status_details ? { details: JSON.parse(s.status_details) as string[] } : {}) };
}

function invoiceView(ctx: EmulatorContext, req: RequestContext, inv: InvoiceRow): Record<string, unknown> {
  const view: Record<string, unknown> = {
    ordinalNumber: inv.ordinal,
    referenceNumber: inv.reference_number,
    invoiceHash: inv.invoice_hash,
    invoicingDate: iso(inv.invoicing_ms),
    invoicingMode: inv.offline_mode ? 'Offline' : 'Online',
    status: {
      code: inv.status_code,
      description: inv.status_description,
      ...(inv.status_details ? { details: JSON.parse(inv.status_details) as string[] } : {}),
      ...(inv.status_extensions ? { extensions: JSON.parse(inv.status_extensions) as Record<string, string> } : {}),
    },
  };
  if (inv.invoice_number) view.invoiceNumber = inv.invoice_number;
  if (inv.file_name) view.invoiceFileName = inv.file_name;
  if (inv.ksef_number) {
    const exp = req.now + LINK_TTL_MS;
    view.ksefNumber = inv.ksef_number;
    view.acquisitionDate = iso(inv.acquisition_ms as number);
    if (inv.storage_ms) view.permanentStorageDate = iso(inv.storage_ms);
    view.upoDownloadUrl = `${req.baseUrl}/emulator/storage/upo/invoice/${inv.reference_number}?se=${exp}&sp=r&sig=${ctx.signUrl(`upo-invoice:${inv.reference_number}`, exp)}`;
    view.upoDownloadUrlExpirationDate = iso(exp);
  }
  return view;
}

function xmlResponse(xml: Buffer | string): HandlerResult {
  const buf = Buffer.isBuffer(xml) ? xml : Buffer.from(xml, 'utf8');
  return { status: 200, body: buf, contentType: 'application/xml', headers: { 'x-ms-meta-hash': sha256Base64(buf) } };
}

const STATUS_FILTER: Record<string, string> = {
  InProgress: 'status_code IN (100, 150, 170)',
  Succeeded: 'status_code = 200',
  Failed: 'status_code >= 400 AND status_code <> 440',
  Cancelled: 'status_code = 440',
};

export function registerStatus({ router, ctx }: EmulatorApi): void {
  const db = ctx.db;
  const invoiceUpoFor = (inv: InvoiceRow | undefined, notFound: () => Error): HandlerResult => {
    if (!inv || !inv.ksef_number) throw notFound();
    const s = db.prepare<[string], SessionRow>(`SELECT * FROM sessions WHERE reference_number = ?`).get(inv.session_ref) as SessionRow;
    return xmlResponse(invoiceUpo(s, inv));
  };

  router.add('GET', '/v2/sessions', (req) => {
    const access = requireAccess(ctx, req, [...READ_STATUS_PERMISSIONS]);
    const { offset, pageSize } = readPage(req);
    const where = ['nip = ?', 'kind = ?'];
    const args: (string | number)[] = [access.nip, req.query.get('sessionType') === 'Batch' ? 'batch' : 'online'];
    const ref = req.query.get('referenceNumber');
    if (ref) {
      where.push('reference_number = ?');
      args.push(ref);
    }
    const dates: [string, string, string][] = [
      ['dateCreatedFrom', 'created_ms', '>='],
      ['dateCreatedTo', 'created_ms', '<='],
      ['dateClosedFrom', 'closed_ms', '>='],
      ['dateClosedTo', 'closed_ms', '<='],
      ['dateModifiedFrom', 'updated_ms', '>='],
      ['dateModifiedTo', 'updated_ms', '<='],
    ];
    for (const [param, col, op] of dates) {
      const v = req.query.get(param);
      if (v) {
        where.push(`${col} ${op} ?`);
        args.push(Date.parse(v));
      }
    }
    const statuses = req.query.getAll('statuses').flatMap((v) => v.split(','));
    if (statuses.length) where.push(`(${statuses.map((st) => STATUS_FILTER[st] ?? '0').join(' OR ')})`);
    const rows = db
      .prepare<(string | number)[], SessionRow>(`SELECT * FROM sessions WHERE ${where.join(' AND ')} ORDER BY created_ms DESC LIMIT ? OFFSET ?`)
      .all(...args, pageSize + 1, offset);
    const sessions = rows.slice(0, pageSize).map((s) => {
      const c = counts(s);
      return {
        referenceNumber: s.reference_number,
        status: sessionStatus(s),
        dateCreated: iso(s.created_ms),
        dateUpdated: iso(s.updated_ms),
        ...(s.valid_until_ms ? { validUntil: iso(s.valid_until_ms) } : {}),
        totalInvoiceCount: c.total,
        successfulInvoiceCount: c.ok,
        failedInvoiceCount: c.failed,
      };
    });
    return { status: 200, json: { sessions, ...(rows.length > pageSize ? { continuationToken: continuationToken(offset + pageSize) } : {}) } };
  });

  router.add('GET', '/v2/sessions/{referenceNumber}', (req) => {
    const access = requireAccess(ctx, req, [...READ_STATUS_PERMISSIONS]);
    const s = getSession(ctx, req.params.referenceNumber as string, access.nip);
    const c = counts(s);
    const json: Record<string, unknown> = {
      status: sessionStatus(s),
      dateCreated: iso(s.created_ms),
      dateUpdated: iso(s.updated_ms),
      ...(s.valid_until_ms ? { validUntil: iso(s.valid_until_ms) } : {}),
    };
    const pages = db.prepare<[string], { reference_number: string }>(`SELECT reference_number FROM upo_pages WHERE session_ref = ? ORDER BY page`).all(s.reference_number);
    if (pages.length) {
      const exp = req.now + LINK_TTL_MS;
      json.upo = {
        pages: pages.map((p) => ({
          referenceNumber: p.reference_number,
          downloadUrl: `${req.baseUrl}/emulator/storage/upo/session/${s.reference_number}/${p.reference_number}?se=${exp}&sp=r&sig=${ctx.signUrl(`upo-session:${p.reference_number}`, exp)}`,
          downloadUrlExpirationDate: iso(exp),
        })),
      };
    }
    if (s.kind === 'online' || c.total > 0) {
      json.invoiceCount = c.total;
      json.successfulInvoiceCount = c.ok;
      json.failedInvoiceCount = c.failed;
    }
    return { status: 200, json };
  });

  const list = (failedOnly: boolean) => (req: RequestContext) => {
    const access = requireAccess(ctx, req, [...READ_STATUS_PERMISSIONS]);
    const s = getSession(ctx, req.params.referenceNumber as string, access.nip);
    const { offset, pageSize } = readPage(req);
    const rows = db
      .prepare<[string, number, number], InvoiceRow>(
        `SELECT * FROM invoices WHERE session_ref = ? ${failedOnly ? 'AND status_code >= 300' : ''} ORDER BY ordinal LIMIT ? OFFSET ?`,
      )
      .all(s.reference_number, pageSize + 1, offset);
    return {
      status: 200,
      json: {
        invoices: rows.slice(0, pageSize).map((inv) => invoiceView(ctx, req, inv)),
        ...(rows.length > pageSize ? { continuationToken: continuationToken(offset + pageSize) } : {}),
      },
    };
  };
  router.add('GET', '/v2/sessions/{referenceNumber}/invoices', list(false));
  router.add('GET', '/v2/sessions/{referenceNumber}/invoices/failed', list(true));

  const getInvoice = (req: RequestContext): { s: SessionRow; inv: InvoiceRow | undefined } => {
    const access = requireAccess(ctx, req, [...READ_STATUS_PERMISSIONS]);
    const s = getSession(ctx, req.params.referenceNumber as string, access.nip);
    const inv = db
      .prepare<[string, string], InvoiceRow>(`SELECT * FROM invoices WHERE session_ref = ? AND reference_number = ?`)
      .get(s.reference_number, req.params.invoiceReferenceNumber as string);
    return { s, inv };
  };

  router.add('GET', '/v2/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}', (req) => {
    const { s, inv } = getInvoice(req);
    if (!inv) throw validationError([`Faktura o numerze referencyjnym ${req.params.invoiceReferenceNumber} nie została znaleziona w sesji ${s.reference_number}.`]);
    return { status: 200, json: invoiceView(ctx, req, inv) };
  });

  router.add('GET', '/v2/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo', (req) => {
    const { s, inv } = getInvoice(req);
    return invoiceUpoFor(inv, () =>
      badRequest(21178, 'Nie znaleziono UPO dla podanych kryteriów.', `UPO faktury ${req.params.invoiceReferenceNumber} w sesji ${s.reference_number} nie zostało znalezione.`),
    );
  });

  router.add('GET', '/v2/sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo', (req) => {
    const access = requireAccess(ctx, req, [...READ_STATUS_PERMISSIONS]);
    const s = getSession(ctx, req.params.referenceNumber as string, access.nip);
    const k = req.params.ksefNumber as string;
    const inv = db.prepare<[string, string], InvoiceRow>(`SELECT * FROM invoices WHERE session_ref = ? AND ksef_number = ?`).get(s.reference_number, k);
    return invoiceUpoFor(inv, () =>
      badRequest(21178, 'Nie znaleziono UPO dla podanych kryteriów.', `UPO o numerze KSeF ${k} i numerze referencyjnym sesji ${s.reference_number} nie zostało znalezione.`),
    );
  });

  router.add('GET', '/v2/sessions/{referenceNumber}/upo/{upoReferenceNumber}', (req) => {
    const access = requireAccess(ctx, req, [...READ_STATUS_PERMISSIONS]);
    const s = getSession(ctx, req.params.referenceNumber as string, access.nip);
    const upoRef = req.params.upoReferenceNumber as string;
    const page = db.prepare<[string, string], { xml: Buffer }>(`SELECT xml FROM upo_pages WHERE session_ref = ? AND reference_number = ?`).get(s.reference_number, upoRef);
    if (!page) throw badRequest(21178, 'Nie znaleziono UPO dla podanych kryteriów.', `UPO o numerze referencyjnym ${upoRef} dla sesji ${s.reference_number} nie zostało znalezione.`);
    return xmlResponse(page.xml);
  });

  const storageDenied: HandlerResult = {
    status: 403,
    body: '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request.</Message></Error>',
    contentType: 'application/xml',
  };
  const signed = (req: RequestContext, resource: string): boolean => {
    const se = Number(req.query.get('se'));
    return Number.isFinite(se) && req.now <= se && ctx.verifyUrl(resource, se, req.query.get('sig') ?? '');
  };
  router.add(
    'GET',
    '/emulator/storage/upo/invoice/{invoiceReferenceNumber}',
    (req) => {
      const ref = req.params.invoiceReferenceNumber as string;
      if (!signed(req, `upo-invoice:${ref}`)) return storageDenied;
      const inv = db.prepare<[string], InvoiceRow>(`SELECT * FROM invoices WHERE reference_number = ?`).get(ref);
      if (!inv?.ksef_number) return { ...storageDenied, status: 404 };
      return invoiceUpoFor(inv, () => Errors.sessionNotFound(inv.session_ref));
    },
    { operation: null },
  );
  router.add(
    'GET',
    '/emulator/storage/upo/session/{referenceNumber}/{upoReferenceNumber}',
    (req) => {
      const upoRef = req.params.upoReferenceNumber as string;
      if (!signed(req, `upo-session:${upoRef}`)) return storageDenied;
      const page = db.prepare<[string], { xml: Buffer }>(`SELECT xml FROM upo_pages WHERE reference_number = ?`).get(upoRef);
      return page ? xmlResponse(page.xml) : { ...storageDenied, status: 404 };
    },
    { operation: null },
  );
}
