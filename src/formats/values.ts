/**
 * Value conventions of ERP exports, exported for the mapping engine: numbers with a decimal comma and
 * thousands separators, SAP numbers with a trailing minus, SAP dates YYYYMMDD and times HHMMSS.
 * Numbers stay decimal strings (never floats), so amounts keep every digit.
 */

export interface NumberFormat {
  /** Decimal separator: "," (Polish default), "." or "auto" (the last of "," / "." present is the decimal
   *  separator; a lone "," is decimal, a lone "." is decimal). Default "auto". */
  decimal?: ',' | '.' | 'auto';
  /** Characters allowed as thousands separators. Default: space, no-break spaces, apostrophe, and the
   *  one of "." / "," that is not the decimal separator. Pass "" to allow none. */
  thousands?: string;
  /** Accept a trailing minus ("123.45-", SAP) and a trailing plus. Default true. */
  trailingSign?: boolean;
  /** Accept "(123.45)" as negative (accounting exports). Default false. */
  parentheses?: boolean;
}

export type DecimalResult = { ok: true; value: string } | { ok: false; reason: string };

const SPACES = ' \u00a0\u202f\u2007';

/**
 * Normalize a number as written in an export to a canonical decimal string: optional "-", digits,
 * optional "." and digits ("1 234,50" -> "1234.50", "123.45-" -> "-123.45"). Scale is kept as written.
 */
export function parseDecimal(raw: string, fmt: NumberFormat = {}): DecimalResult {
  let s = raw.trim();
  if (s === '') return { ok: false, reason: 'is empty' };
  let negative = false;
  if (fmt.parentheses && s.startsWith('(') && s.endsWith(')')) {
    negative = true;
    s = s.slice(1, -1).trim();
  }
  const first = s[0];
  if (first === '-' || first === '+') {
    negative = first === '-' ? !negative : negative;
    s = s.slice(1).trimStart();
  } else if (fmt.trailingSign !== false) {
    const last = s[s.length - 1];
    if (last === '-' || last === '+') {
      negative = last === '-' ? !negative : negative;
      s = s.slice(0, -1).trimEnd();
    }
  }
  if (s === '') return { ok: false, reason: 'has no digits' };
  let dec = fmt.decimal ?? 'auto';
  if (dec === 'auto') {
    const c = s.lastIndexOf(',');
    const d = s.lastIndexOf('.');
    dec = c > d ? ',' : '.';
    if (c === -1 && d === -1) dec = ',';
  }
  const thousands = fmt.thousands ?? SPACES + "'" + (dec === ',' ? '.' : ',');
  const di = s.lastIndexOf(dec);
  let intPart = di === -1 ? s : s.slice(0, di);
  const fracPart = di === -1 ? '' : s.slice(di + 1);
  if (di !== -1 && intPart.includes(dec)) return { ok: false, reason: `has more than one decimal separator "${dec}"` };
  if (di !== -1 && fracPart === '' && intPart === '') return { ok: false, reason: 'has no digits' };
  if (!/^[0-9]*$/.test(fracPart)) return { ok: false, reason: 'has characters other than digits after the decimal separator' };
  // thousands separators: only in the integer part, one kind, groups of three after the first
  let sep: string | undefined;
  let digits = '';
  let group = -1;
  for (let i = 0; i < intPart.length; i++) {
    const ch = intPart[i]!;
    if (ch >= '0' && ch <= '9') {
      digits += ch;
      if (group >= 0) group++;
      continue;
    }
    if (thousands.includes(ch)) {
      if (sep !== undefined && sep !== ch && !(SPACES.includes(sep) && SPACES.includes(ch))) {
        return { ok: false, reason: 'mixes different thousands separators' };
      }
      if (digits === '' || (group >= 0 && group !== 3)) return { ok: false, reason: 'has a misplaced thousands separator' };
      sep = ch;
      group = 0;
      continue;
    }
    return { ok: false, reason: `contains "${ch}", which is not part of a number` };
  }
  if (group >= 0 && group !== 3) return { ok: false, reason: 'has a misplaced thousands separator' };
  if (digits === '' && fracPart === '') return { ok: false, reason: 'has no digits' };
  intPart = digits.replace(/^0+(?=\d)/, '') || '0';
  let value = fracPart ? `${intPart}.${fracPart}` : intPart;
  if (negative && /[1-9]/.test(value)) value = `-${value}`;
  return { ok: true, value };
}

/** parseDecimal, returning undefined for what is not a number. */
export function normalizeNumber(raw: string, fmt?: NumberFormat): string | undefined {
  const r = parseDecimal(raw, fmt);
  return r.ok ? r.value : undefined;
}

/** SAP IDoc number: "." decimal, no thousands separators, sign leading or trailing ("1234.50-"). */
export function parseSapNumber(raw: string): DecimalResult {
  return parseDecimal(raw, { decimal: '.', thousands: '', trailingSign: true });
}

export type DateResult = { ok: true; value: string | undefined } | { ok: false; reason: string };

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const days = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
  return d <= days;
}

/** SAP date YYYYMMDD to ISO YYYY-MM-DD. Blank and "00000000" (SAP's initial date) give undefined. */
export function parseSapDate(raw: string): DateResult {
  const s = raw.trim();
  if (s === '' || s === '00000000') return { ok: true, value: undefined };
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  if (!m) return { ok: false, reason: 'is not a date in the form YYYYMMDD' };
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!validDate(y, mo, d)) return { ok: false, reason: 'is not a calendar date' };
  return { ok: true, value: `${m[1]}-${m[2]}-${m[3]}` };
}

/** SAP time HHMMSS to HH:MM:SS; blank gives undefined. */
export function parseSapTime(raw: string): DateResult {
  const s = raw.trim();
  if (s === '') return { ok: true, value: undefined };
  const m = /^([01]\d|2[0-3])([0-5]\d)([0-5]\d)$/.exec(s);
  if (!m) return { ok: false, reason: 'is not a time in the form HHMMSS' };
  return { ok: true, value: `${m[1]}:${m[2]}:${m[3]}` };
}
