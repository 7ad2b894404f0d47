/** Parsers for the typed values of ksef.ini. Each returns the value or a reason string. */
import { nipCheckDigit, normalizeNip } from '../identifiers/index.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

export { normalizeNip };

/** True when `nip` (separators allowed) is 10 digits with a valid mod-11 checksum. */
export function isValidNip(nip: string): boolean {
  return parseNip(nip).ok;
}

export function parseNip(raw: string): Parsed<string> {
  const nip = normalizeNip(raw);
  if (!/^\d{10}$/.test(nip)) return fail('a NIP is 10 digits (separators - and spaces allowed)');
  const check = nipCheckDigit(nip);
  if (check !== Number(nip[9])) return fail(`NIP checksum does not match (check digit should be ${check === undefined ? 'impossible: no valid NIP starts this way' : String(check)})`);
  return ok(nip);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30s", "5m", "2h", "1h30m", "500ms", "1d" -> milliseconds. A bare number is rejected (ambiguous). */
export function parseDuration(raw: string): Parsed<number> {
  const text = raw.trim().toLowerCase().replace(/\s+/g, '');
  if (text === '') return fail('empty duration');
  const re = /(\d+(?:\.\d+)?)(ms|sec|min|s|m|h|d)/y;
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) {
      return fail(/^\d+(\.\d+)?$/.test(text) ? 'a number without a unit is ambiguous' : 'not a duration');
    }
    total += Number(m[1]) * (DURATION_UNITS[m[2] ?? ''] ?? 0);
    pos = re.lastIndex;
  }
  return ok(Math.round(total));
}

/** Milliseconds as a duration string ("1h30m", "45s", "250ms"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      parts.push(`${n}${unit}`);
      rest -= n * size;
    }
  }
  return parts.join('');
}

/** A time of day, local to the machine the bridge runs on. */
export interface TimeOfDay {
  hour: number;
  minute: number;
}

/** The time "end of day" stands for: late enough for the day's invoices, early enough to finish before midnight. */
export const END_OF_DAY: TimeOfDay = { hour: 23, minute: 30 };

export function parseTimeOfDay(raw: string): Parsed<TimeOfDay> {
  const text = raw.trim().toLowerCase();
  if (text === 'end of day' || text === 'eod' || text === 'end-of-day') return ok({ ...END_OF_DAY });
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (!m) return fail('not a time of day');
  const hour = Number(m[1]);
  const minute = Number(m[2]);
  if (hour > 23 || minute > 59) return fail('hour 0-23 and minute 0-59');
  return ok({ hour, minute });
}

export function formatTimeOfDay(t: TimeOfDay): string {
  return `${String(t.hour).padStart(2, '0')}:${String(t.minute).padStart(2, '0')}`;
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** "100MB", "5GB", "512KiB", "1000000" (bytes) -> bytes. KB/MB/GB are decimal, as in the KSeF limits. */
export function parseSize(raw: string): Parsed<number> {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim());
  if (!m) return fail('not a size');
  const unit = (m[2] ?? '').toLowerCase() || 'b';
  const factor = SIZE_UNITS[unit];
  if (factor === undefined) return fail(`unknown unit ${JSON.stringify(m[2])}`);
  return ok(Math.round(Number(m[1]) * factor));
}

export function formatSize(bytes: number): string {
  for (const [unit, size] of [['GB', 1e9], ['MB', 1e6], ['KB', 1e3]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] ?? 0;
      prev[j] = Math.min((prev[j] ?? 0) + 1, (prev[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length] ?? 0;
}

/** The closest candidate when it is close enough to be a likely misspelling. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  return best !== undefined && bestDist <= limit ? best : undefined;
}
