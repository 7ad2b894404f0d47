/**
 * One search over the metadata index, as POST /invoices/query/metadata and POST /invoices/exports run it: the date
 * window (with the high-water-mark restriction when asked for), the filters, the order of the chosen date type.
 */
import type { Db } from '../store/db.js';
import { badRequest } from '../http/errors.js';
import { buildFilter, resolveRange, DATE_COLUMN, type InvoiceQueryFilters, type ResolvedRange } from './filters.js';
import { isoMicros, type MetaIndex, type MetaRow } from './meta.js';

export interface SearchPlan {
  range: ResolvedRange;
  /** End of the window actually searched (µs): `to`, or the high-water mark when restricted and lower. */
  effectiveToUs: number;
  /** permanentStorageHwmDate (µs) for PermanentStorage searches, null for the other date types. */
  hwmUs: number | null;
  /** dateRange.from is after the high-water mark while restrictToPermanentStorageHwmDate is on. */
  fromAfterHwm: boolean;
  where: string;
  args: (string | number)[];
  orderColumn: string;
}

/** Resolves the filters for a context at `nowMs` (brings the index up to date first). */
export function planSearch(index: MetaIndex, f: InvoiceQueryFilters, nip: string, nowMs: number): SearchPlan {
  const range = resolveRange(f.dateRange, nowMs);
  index.sync(nowMs);
  // the newest complete point: whole milliseconds up to the mark are final (see MetaIndex.hwmMs)
  const markUs = index.hwmMs(nowMs) * 1000;
  let effectiveToUs = range.toUs;
  let hwmUs: number | null = null;
  if (range.dateType === 'PermanentStorage') {
    hwmUs = Math.min(range.toUs, markUs);
    if (range.restrict) effectiveToUs = hwmUs;
  }
  const fromAfterHwm = range.restrict && range.fromUs > markUs;
  const { where, args } = buildFilter(f, nip, range.dateType, range.fromUs, effectiveToUs);
  return { range, effectiveToUs, hwmUs, fromAfterHwm, where, args, orderColumn: DATE_COLUMN[range.dateType] };
}

/** 400 21183 of the query endpoint. */
export function rangeBeyondHwm(plan: SearchPlan): Error {
  return badRequest(
    21183,
    'Zakres filtrowania wykracza poza dostępny zakres danych.',
    `Parametr dateRange.from jest późniejszy niż PermanentStorageHwmDate (${isoMicros(plan.hwmUs ?? 0)}) przy włączonym restrictToPermanentStorageHwmDate.`,
  );
}

/** Rows of the search in the date type's order (`seq`, the storage order, breaks ties). */
export function fetchRows(db: Db, plan: SearchPlan, desc: boolean, offset: number, limit: number): MetaRow[] {
  if (limit <= 0) return [];
  const dir = desc ? 'DESC' : 'ASC';
  return db
    .prepare<(string | number)[], MetaRow>(
      `SELECT m.* FROM invoice_query_meta m WHERE ${plan.where} ORDER BY ${plan.orderColumn} ${dir}, m.seq ${dir} LIMIT ? OFFSET ?`,
    )
    .all(...plan.args, limit, offset);
}

/** Is there a matching row at position `offset` (0-based) or later? */
export function existsAt(db: Db, plan: SearchPlan, offset: number): boolean {
  return !!db.prepare<(string | number)[], { x: number }>(`SELECT 1 AS x FROM invoice_query_meta m WHERE ${plan.where} LIMIT 1 OFFSET ?`).get(...plan.args, offset);
}
