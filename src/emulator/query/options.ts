import { ConfigError } from '../../errors/index.js';

/**
 * Options of the buyer-side endpoints (invoice metadata queries, invoice download, exports). They extend
 * `EmulatorOptions` under `invoiceDownload`, so tests can lower the documented limits (e.g. a result cap of 5 to see
 * `isTruncated`) without thousands of invoices.
 */
export interface InvoiceDownloadOptions {
  /** Records one set of filters of POST /invoices/query/metadata can reach (documented: 10,000). */
  queryResultCap?: number;
  /** Invoices per export package (documented: 10,000). */
  exportMaxInvoices?: number;
  /** Compressed size of the invoice files of one package (documented: 1 GB; `_metadata.json` does not count). */
  exportMaxCompressedBytes?: number;
  /** Size of one package part before encryption (documented: 50 MB). */
  exportPartSize?: number;
  /** Exports in progress per context (documented: 10; more give 21182). */
  maxConcurrentExports?: number;
  /** Time an export stays at status 100 before it is built, in ms (default 0: built right after the request). */
  exportDelayMs?: number;
  /** Lifetime of a built package (status 210 afterwards); not documented, default 3 days. */
  exportPackageTtlMs?: number;
  /** Lifetime of the export status (documented: 7 days; 410 afterwards). */
  exportStatusTtlMs?: number;
  /** Lifetime of a part download link, counted from the status request (default 1 hour, as in the spec example). */
  exportLinkTtlMs?: number;
}

export type ResolvedDownloadOptions = Required<InvoiceDownloadOptions>;

export const DEFAULT_DOWNLOAD_OPTIONS: ResolvedDownloadOptions = {
  queryResultCap: 10_000,
  exportMaxInvoices: 10_000,
  exportMaxCompressedBytes: 1_000_000_000,
  exportPartSize: 50_000_000,
  maxConcurrentExports: 10,
  exportDelayMs: 0,
  exportPackageTtlMs: 3 * 24 * 3_600_000,
  exportStatusTtlMs: 7 * 24 * 3_600_000,
  exportLinkTtlMs: 3_600_000,
};

export function resolveDownloadOptions(o: InvoiceDownloadOptions | undefined): ResolvedDownloadOptions {
  const out: ResolvedDownloadOptions = { ...DEFAULT_DOWNLOAD_OPTIONS };
  for (const [k, v] of Object.entries(o ?? {}) as [keyof InvoiceDownloadOptions, number | undefined][]) {
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new ConfigError('EMULATOR_CONFIG_INVALID', `invoiceDownload.${k} must be a non-negative number`, { field: `invoiceDownload.${k}`, value: String(v) });
    }
    out[k] = v;
  }
  for (const k of ['queryResultCap', 'exportMaxInvoices', 'exportPartSize', 'maxConcurrentExports'] as const) {
    if (out[k] < 1) throw new ConfigError('EMULATOR_CONFIG_INVALID', `invoiceDownload.${k} must be at least 1`, { field: `invoiceDownload.${k}` });
  }
  return out;
}

declare module '../options.js' {
  interface EmulatorOptions {
    /** Limits of the buyer-side endpoints (query cap, export package limits, lifetimes); documented values by default. */
    invoiceDownload?: InvoiceDownloadOptions;
  }
}
