/**
 * InvoiceQueryFilters (open-api.json) -> SQL over the metadata index, shared by POST /invoices/query/metadata and
 * POST /invoices/exports. Dates follow the contract: ISO-8601 with `Z`, with an offset, or without one (local time in
 * Europe/Warsaw); fractions of a second down to microseconds are kept. The range may span at most 3 months (in UTC or
 * in Warsaw time); `to` defaults to now. Both ends are inclusive, so adjacent windows (przyrostowe-pobieranie-faktur.md)
 * meet without a gap and the duplicates at the seam are removed by the client using KSeF numbers.
 */
import { validationError } from '../http/errors.js';
import { roleOf, type SubjectType } from './meta.js';

export type DateType = 'Issue' | 'Invoicing' | 'PermanentStorage';

export interface InvoiceQueryFilters {
  subjectType: SubjectType;
  dateRange: { dateType: DateType; from: string; to?: string | null; restrictToPermanentStorageHwmDate?: boolean | null };
  ksefNumber?: string | null;
  invoiceNumber?: string | null;
  amount?: { type: 'Brutto' | 'Netto' | 'Vat'; from?: number | null; to?: number | null } | null;
  sellerNip?: string | null;
  buyerIdentifier?: { type: 'Nip' | 'VatUe' | 'Other' | 'None'; value?: string | null } | null;
  currencyCodes?: string[] | null;
  invoicingMode?: 'Online' | 'Offline' | null;
  isSelfInvoicing?: boolean | null;
  formType?: 'FA' | 'PEF' | 'FA_RR' | null;
  invoiceTypes?: string[] | null;
  hasAttachment?: boolean | null;
}

const WARSAW = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/Warsaw',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** Offset of Warsaw time from UTC at a moment, in ms. */
function warsawOffsetMs(utcMs: number): number {
  const p: Record<string, number> = {};
  for (const part of WARSAW.formatToParts(new Date(utcMs))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const asUtc = Date.UTC(p.year as number, (p.month as number) - 1, p.day as number, p.hour as number, p.minute as number, p.second as number);
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Parses an ISO-8601 date-time into microseconds since the epoch; null when it is not one. */
export function parseDateTimeUs(s: string): number | null {
  const m = ISO.exec(s.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  const micros = Number(((frac ?? '') + '000000').slice(0, 6));
  const localMs = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec ?? 0));
  if (Number.isNaN(localMs)) return null;
  let utcMs: number;
  if (!zone) {
    // local time in Europe/Warsaw: take the offset at the guessed moment, then check it at the result (DST changes)
    let guess = localMs - warsawOffsetMs(localMs);
    guess = localMs - warsawOffsetMs(guess);
    utcMs = guess;
  } else if (zone.toUpperCase() === 'Z') {
    utcMs = localMs;
  } else {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0');
    utcMs = localMs - sign * offMin * 60_000;
  }
  return utcMs * 1000 + micros;
}

/** YYYY-MM-DD of a moment in Warsaw time. */
export function warsawDay(ms: number): string {
  const off = warsawOffsetMs(ms);
  return new Date(ms + off).toISOString().slice(0, 10);
}

function addMonths(ms: number, months: number, offsetOf: (ms: number) => number): number {
  const off = offsetOf(ms);
  const d = new Date(ms + off);
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, last));
  const local = d.getTime();
  return local - offsetOf(local - off);
}

export interface ResolvedRange {
  dateType: DateType;
  fromUs: number;
  /** Requested end (or now), before any high-water-mark restriction. */
  toUs: number;
  restrict: boolean;
}

/** Checks and resolves the date range: parses, defaults `to` to now, enforces from <= to and the 3-month span. */
export function resolveRange(range: InvoiceQueryFilters['dateRange'], nowMs: number): ResolvedRange {
  const fromUs = parseDateTimeUs(range.from);
  if (fromUs === null) throw validationError([`'dateRange.from': nieprawidłowy format daty '${range.from}'.`]);
  const toUs = range.to ? parseDateTimeUs(range.to) : nowMs * 1000;
  if (toUs === null) throw validationError([`'dateRange.to': nieprawidłowy format daty '${range.to}'.`]);
  if (fromUs > toUs) throw validationError(["'dateRange': data początkowa (from) jest późniejsza niż data końcowa (to)."]);
  const fromMs = Math.floor(fromUs / 1000);
  const toMs = Math.ceil(toUs / 1000);
  const utcLimit = addMonths(fromMs, 3, () => 0);
  const warsawLimit = addMonths(fromMs, 3, warsawOffsetMs);
  if (toMs > Math.max(utcLimit, warsawLimit)) {
    throw validationError(["'dateRange': maksymalny dozwolony zakres dat wynosi 3 miesiące."]);
  }
  return { dateType: range.dateType, fromUs, toUs, restrict: range.dateType === 'PermanentStorage' && range.restrictToPermanentStorageHwmDate === true };
}

/** The index column a date type sorts and filters on. */
export const DATE_COLUMN: Record<DateType, string> = {
  Issue: 'm.issue_date',
  Invoicing: 'm.invoicing_ms',
  PermanentStorage: 'm.storage_us',
};

export interface SqlFilter {
  where: string;
  args: (string | number)[];
}

const AMOUNT_COLUMN = { Brutto: 'm.gross', Netto: 'm.net', Vat: 'm.vat' } as const;

/**
 * WHERE clause over `invoice_query_meta m` for the filters, the context NIP and the date window [fromUs, toUs]
 * (Issue compares whole days in Warsaw time, Invoicing whole milliseconds).
 */
export function buildFilter(f: InvoiceQueryFilters, nip: string, dateType: DateType, fromUs: number, toUs: number): SqlFilter {
  const where: string[] = ['m.ksef_number IN (SELECT ksef_number FROM invoice_query_parties WHERE nip = ? AND role = ?)'];
  const args: (string | number)[] = [nip, roleOf(f.subjectType)];
  if (dateType === 'Issue') {
    where.push('m.issue_date BETWEEN ? AND ?');
    args.push(warsawDay(Math.floor(fromUs / 1000)), warsawDay(Math.floor(toUs / 1000)));
  } else if (dateType === 'Invoicing') {
    where.push('m.invoicing_ms BETWEEN ? AND ?');
    args.push(Math.ceil(fromUs / 1000), Math.floor(toUs / 1000));
  } else {
    where.push('m.storage_us BETWEEN ? AND ?');
    args.push(fromUs, toUs);
  }
  if (f.ksefNumber) {
    where.push('m.ksef_number = ?');
    args.push(f.ksefNumber);
  }
  if (f.invoiceNumber != null) {
    where.push('m.invoice_number = ?');
    args.push(f.invoiceNumber);
  }
  if (f.amount) {
    const col = AMOUNT_COLUMN[f.amount.type];
    if (f.amount.from != null) {
      where.push(`${col} >= ?`);
      args.push(f.amount.from);
    }
    if (f.amount.to != null) {
      where.push(`${col} <= ?`);
      args.push(f.amount.to);
    }
  }
  if (f.sellerNip) {
    where.push('m.seller_nip = ?');
    args.push(f.sellerNip);
  }
  if (f.buyerIdentifier) {
    where.push('m.buyer_id_type = ?');
    args.push(f.buyerIdentifier.type);
    if (f.buyerIdentifier.type !== 'None' && f.buyerIdentifier.value) {
      where.push('m.buyer_id_value = ?');
      args.push(f.buyerIdentifier.value);
    }
  }
  if (f.currencyCodes && f.currencyCodes.length > 0) {
    where.push(`m.currency IN (${f.currencyCodes.map(() => '?').join(', ')})`);
    args.push(...f.currencyCodes);
  }
  if (f.invoicingMode) {
    where.push('m.offline = ?');
    args.push(f.invoicingMode === 'Offline' ? 1 : 0);
  }
  if (f.isSelfInvoicing != null) {
    where.push('m.self_invoicing = ?');
    args.push(f.isSelfInvoicing ? 1 : 0);
  }
  if (f.formType) {
    where.push('m.form_value = ?');
    args.push(f.formType);
  }
  if (f.invoiceTypes && f.invoiceTypes.length > 0) {
    where.push(`m.invoice_type IN (${f.invoiceTypes.map(() => '?').join(', ')})`);
    args.push(...f.invoiceTypes);
  }
  if (f.hasAttachment != null) {
    where.push('m.has_attachment = ?');
    args.push(f.hasAttachment ? 1 : 0);
  }
  return { where: where.join(' AND '), args };
}
