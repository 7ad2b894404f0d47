/**
 * Invoices where the context is a seller, buyer, third subject or authorised subject (pobieranie-faktur.md):
 * - POST /invoices/query/metadata: filters of InvoiceQueryFilters, `pageOffset` (page index) / `pageSize` (10-250),
 *   `sortOrder` Asc|Desc on the date type's field, at most `queryResultCap` (10,000) records per set of filters:
 *   the page that reaches the cap while more records match says `isTruncated: true` (and `hasMore: true`), and the
 *   client narrows `dateRange` from the last record's date; `permanentStorageHwmDate` for PermanentStorage searches;
 * - GET /invoices/ksef/{ksefNumber}: the invoice XML with `x-ms-meta-hash`, to contexts that appear on the invoice
 *   (21164 to anybody else, as to an unknown number; 21165 before its permanent storage);
 * - exports: see exports.ts. Every endpoint requires the InvoiceRead permission.
 */
import type { EmulatorApi, EmulatorExtension } from '../context.js';
import { requireAccess } from '../context.js';
import { badRequest } from '../http/errors.js';
import type { InvoiceRow } from '../store/db.js';
import type { InvoiceQueryFilters } from '../query/filters.js';
import { MetaIndex, metadataView } from '../query/meta.js';
import { existsAt, fetchRows, planSearch, rangeBeyondHwm } from '../query/search.js';
import { isoMicros } from '../query/meta.js';
import { resolveDownloadOptions, type InvoiceDownloadOptions } from '../query/options.js';
import { registerExports } from './exports.js';

export type { InvoiceDownloadOptions } from '../query/options.js';

export const READ_PERMISSIONS = ['InvoiceRead'] as const;

/** The buyer-side route module (queries, invoice download, exports), with limits lowered for tests if given. */
export function invoiceDownloadRoutes(options?: InvoiceDownloadOptions): EmulatorExtension {
  const opts = resolveDownloadOptions(options);
  return (api: EmulatorApi) => {
    const { router, ctx } = api;
    const db = ctx.db;
    const index = new MetaIndex(ctx);

    router.add('POST', '/v2/invoices/query/metadata', (req) => {
      const access = requireAccess(ctx, req, [...READ_PERMISSIONS]);
      const filters = req.json as InvoiceQueryFilters;
      const pageSize = Number(req.query.get('pageSize') ?? 10);
      const pageOffset = Number(req.query.get('pageOffset') ?? 0);
      const desc = req.query.get('sortOrder') === 'Desc';
      const plan = planSearch(index, filters, access.nip, req.now);
      if (plan.fromAfterHwm) throw rangeBeyondHwm(plan);
      const cap = opts.queryResultCap;
      const offset = pageOffset * pageSize;
      const limit = Math.max(0, Math.min(pageSize, cap - offset));
      let page: ReturnType<typeof fetchRows> = [];
      let hasMore: boolean;
      if (limit > 0) {
        const rows = fetchRows(db, plan, desc, offset, limit + 1);
        page = rows.slice(0, limit);
        hasMore = rows.length > limit;
      } else {
        hasMore = existsAt(db, plan, cap); // a page past the cap: nothing to show, but more records match
      }
      // the cap is reached on this page and records beyond it match: the client narrows dateRange and starts again
      const isTruncated = hasMore && offset + page.length >= cap;
      return {
        status: 200,
        json: {
          hasMore,
          isTruncated,
          permanentStorageHwmDate: plan.hwmUs === null ? null : isoMicros(plan.hwmUs),
          invoices: page.map(metadataView),
        },
      };
    });

    router.add('GET', '/v2/invoices/ksef/{ksefNumber}', (req) => {
      const access = requireAccess(ctx, req, [...READ_PERMISSIONS]);
      const ksef = req.params.ksefNumber as string;
      const notFound = () => badRequest(21164, 'Faktura o podanym identyfikatorze nie istnieje.', `Faktura o numerze KSeF ${ksef} nie została znaleziona.`);
      const inv = db
        .prepare<[string], Pick<InvoiceRow, 'xml' | 'storage_ms' | 'invoice_hash'>>(`SELECT xml, storage_ms, invoice_hash FROM invoices WHERE ksef_number = ?`)
        .get(ksef);
      if (!inv || !inv.xml) throw notFound();
      index.sync(req.now);
      if (index.rolesOf(ksef, access.nip).length === 0) throw notFound();
      if (inv.storage_ms === null || inv.storage_ms > req.now) {
        throw badRequest(
          21165,
          'Faktura o podanym numerze KSeF nie jest jeszcze dostępna.',
          `Faktura o numerze KSeF ${ksef} została przetworzona, ale nie jest jeszcze dostępna do pobrania. Spróbuj ponownie później.`,
        );
      }
      return { status: 200, body: inv.xml, contentType: 'application/xml', headers: { 'x-ms-meta-hash': inv.invoice_hash } };
    });

    registerExports(api, index, opts);
  };
}
