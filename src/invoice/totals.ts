/**
 * Totals per VAT group and the gross total, computed from the lines with exact decimals and Polish rounding
 * (half up to the grosz).
 *
 * Method: the VAT of a group is computed once on the sum of its lines (net method: net x rate / 100; gross method
 * (P_11A): gross x rate / (100 + rate), net = gross - VAT), as art. 106e ust. 1 pkt 14 reads. When every line of a
 * group states its own VAT (P_11Vat), the group VAT is their sum. The alternative per-line method (sum of each line's
 * rounded VAT) is returned too, so a checker can accept either. Lines marked `beforeCorrection` count negatively.
 */
import { Dec } from './decimal.js';
import type { Amount, GroupTotal, Invoice, InvoiceLine, TotalGroup, Totals, VatRate } from './model.js';
import { TOTAL_GROUPS, VAT_GROUPS } from './model.js';

const RATE_GROUP: Record<VatRate, TotalGroup> = {
  '23': 'standard',
  '22': 'standard',
  '8': 'reduced1',
  '7': 'reduced1',
  '5': 'reduced2',
  '4': 'taxi',
  '3': 'taxi',
  '0 KR': 'zeroDomestic',
  '0 WDT': 'zeroIntraEu',
  '0 EX': 'zeroExport',
  zw: 'exempt',
  oo: 'reverseCharge',
  'np I': 'outsideCountry',
  'np II': 'euServices',
};

/** FA(3) element names of each group's net, VAT and VAT-in-PLN fields (used by the writer, reader and messages). */
export const GROUP_ELEMENTS: Record<TotalGroup, { net: string; vat?: string; vatPln?: string; label: string }> = {
  standard: { net: 'P_13_1', vat: 'P_14_1', vatPln: 'P_14_1W', label: 'standard rate 23%/22%' },
  reduced1: { net: 'P_13_2', vat: 'P_14_2', vatPln: 'P_14_2W', label: 'reduced rate 8%/7%' },
  reduced2: { net: 'P_13_3', vat: 'P_14_3', vatPln: 'P_14_3W', label: 'reduced rate 5%' },
  taxi: { net: 'P_13_4', vat: 'P_14_4', vatPln: 'P_14_4W', label: 'taxi flat rate 4%/3%' },
  oss: { net: 'P_13_5', vat: 'P_14_5', label: 'OSS special procedure' },
  zeroDomestic: { net: 'P_13_6_1', label: '0% domestic (0 KR)' },
  zeroIntraEu: { net: 'P_13_6_2', label: '0% intra-EU supply (0 WDT)' },
  zeroExport: { net: 'P_13_6_3', label: '0% export (0 EX)' },
  exempt: { net: 'P_13_7', label: 'exempt (zw)' },
  outsideCountry: { net: 'P_13_8', label: 'outside Poland (np I)' },
  euServices: { net: 'P_13_9', label: 'EU services art. 100 ust. 1 pkt 4 (np II)' },
  reverseCharge: { net: 'P_13_10', label: 'domestic reverse charge (oo)' },
  margin: { net: 'P_13_11', label: 'margin procedure' },
};

export function groupOfRate(rate: VatRate): TotalGroup {
  return RATE_GROUP[rate];
}

/** The group a line belongs to, or undefined when it cannot be told (no rate, no OSS rate, no margin procedure). */
export function groupOfLine(line: Pick<InvoiceLine, 'vatRate' | 'ossVatRate'>, hasMargin: boolean): TotalGroup | undefined {
  // An OSS rate (P_12_XII) puts the line in the OSS group even when a rate code is given too.
  if (line.ossVatRate !== undefined) return 'oss';
  if (line.vatRate) return RATE_GROUP[line.vatRate];
  if (hasMargin) return 'margin';
  return undefined;
}

/** Percentage of a line's VAT, when the group carries VAT. */
function percentOf(line: Pick<InvoiceLine, 'vatRate' | 'ossVatRate'>, group: TotalGroup): Dec | undefined {
  if (group === 'oss') return line.ossVatRate !== undefined ? Dec.parse(line.ossVatRate) : undefined;
  if (!VAT_GROUPS.includes(group) || !line.vatRate) return undefined;
  return Dec.parse(line.vatRate);
}

const HUNDRED = Dec.of(100n);

function optDec(s: string | undefined): Dec | undefined {
  return s === undefined ? undefined : Dec.parse(s);
}

/** Net value of a line: P_11, else quantity x unit net price - discount rounded to the grosz. */
export function lineNet(line: InvoiceLine): Dec | undefined {
  const given = optDec(line.netAmount);
  if (given) return given;
  if (line.unitGrossPrice !== undefined || line.grossAmount !== undefined) return undefined;
  const q = optDec(line.quantity);
  const p = optDec(line.unitNetPrice);
  if (!q || !p) return undefined;
  const d = optDec(line.discount) ?? Dec.ZERO;
  return q.mul(p).sub(d).round(2);
}

/** Gross value of a gross-method line: P_11A, else quantity x unit gross price - discount rounded to the grosz. */
export function lineGross(line: InvoiceLine): Dec | undefined {
  const given = optDec(line.grossAmount);
  if (given) return given;
  const q = optDec(line.quantity);
  const p = optDec(line.unitGrossPrice);
  if (!q || !p) return undefined;
  const d = optDec(line.discount) ?? Dec.ZERO;
  return q.mul(p).sub(d).round(2);
}

interface Bucket {
  group: TotalGroup;
  percent: Dec | undefined;
  gross: boolean;
  rate: Dec | undefined;
  value: Dec;
  lineVat: Dec;
  statedVat: Dec;
  allStateVat: boolean;
}

export interface ComputedTotals {
  totals: Totals;
  /** Group VAT computed line by line (sum of each line's rounded VAT), for groups where it differs. */
  perLineVat: Partial<Record<TotalGroup, Amount>>;
  /** Indexes of lines whose group or value could not be determined. */
  unassignedLines: number[];
  valuelessLines: number[];
}

export interface TotalsSource {
  lines: InvoiceLine[];
  currency: string;
  annotations: Pick<Invoice['annotations'], 'margin'>;
  advanceExchangeRate?: string;
}

/** Computes the totals of an invoice from its lines. */
export function computeTotals(src: TotalsSource): ComputedTotals {
  const foreign = src.currency !== 'PLN';
  const hasMargin = src.annotations.margin !== undefined;
  const buckets = new Map<string, Bucket>();
  const unassigned: number[] = [];
  const valueless: number[] = [];
  const fallbackRate = optDec(src.advanceExchangeRate);

  src.lines.forEach((line, i) => {
    const group = groupOfLine(line, hasMargin);
    if (!group) {
      unassigned.push(i);
      return;
    }
    const grossMethod = line.grossAmount !== undefined || (line.unitGrossPrice !== undefined && line.netAmount === undefined);
    let value = grossMethod ? lineGross(line) : lineNet(line);
    if (!value) {
      valueless.push(i);
      return;
    }
    if (line.beforeCorrection) value = value.neg();
    const percent = percentOf(line, group);
    const rate = foreign ? (optDec(line.exchangeRate) ?? fallbackRate) : undefined;
    const key = `${group}|${percent?.toString() ?? ''}|${grossMethod ? 'g' : 'n'}|${rate?.toString() ?? ''}`;
    let b = buckets.get(key);
    if (!b) {
      b = { group, percent, gross: grossMethod, rate, value: Dec.ZERO, lineVat: Dec.ZERO, statedVat: Dec.ZERO, allStateVat: true };
      buckets.set(key, b);
    }
    b.value = b.value.add(value);
    if (percent) {
      const lv = grossMethod ? value.mul(percent).div(HUNDRED.add(percent), 2) : value.mul(percent).div(HUNDRED, 2);
      b.lineVat = b.lineVat.add(lv);
      const stated = optDec(line.vatAmount);
      if (stated) b.statedVat = b.statedVat.add(line.beforeCorrection ? stated.neg() : stated);
      else b.allStateVat = false;
    }
  });

  interface Acc {
    net: Dec;
    vat: Dec;
    vatPln: Dec | undefined;
    plnKnown: boolean;
    perLine: Dec;
  }
  const acc = new Map<TotalGroup, Acc>();
  for (const b of buckets.values()) {
    let a = acc.get(b.group);
    if (!a) {
      a = { net: Dec.ZERO, vat: Dec.ZERO, vatPln: undefined, plnKnown: true, perLine: Dec.ZERO };
      acc.set(b.group, a);
    }
    if (b.percent) {
      let vat: Dec;
      if (b.allStateVat) vat = b.statedVat;
      else vat = b.gross ? b.value.mul(b.percent).div(HUNDRED.add(b.percent), 2) : b.value.mul(b.percent).div(HUNDRED, 2);
      const net = b.gross ? b.value.sub(vat) : b.value;
      a.net = a.net.add(net);
      a.vat = a.vat.add(vat);
      a.perLine = a.perLine.add(b.allStateVat ? b.statedVat : b.lineVat);
      if (foreign) {
        if (b.rate) a.vatPln = (a.vatPln ?? Dec.ZERO).add(vat.mul(b.rate).round(2));
        else a.plnKnown = false;
      }
    } else {
      a.net = a.net.add(b.value);
    }
  }

  const groups: Partial<Record<TotalGroup, GroupTotal>> = {};
  const perLineVat: Partial<Record<TotalGroup, Amount>> = {};
  let gross = Dec.ZERO;
  for (const g of TOTAL_GROUPS) {
    const a = acc.get(g);
    if (!a) continue;
    const t: GroupTotal = { net: a.net.toFixed(2) };
    gross = gross.add(a.net);
    if (VAT_GROUPS.includes(g)) {
      t.vat = a.vat.toFixed(2);
      gross = gross.add(a.vat);
      if (foreign && a.plnKnown && a.vatPln && g !== 'oss') t.vatPln = a.vatPln.toFixed(2);
      if (!a.perLine.eq(a.vat)) perLineVat[g] = a.perLine.toFixed(2);
    }
    groups[g] = t;
  }
  return { totals: { groups, gross: gross.toFixed(2) }, perLineVat, unassignedLines: unassigned, valuelessLines: valueless };
}

/** Sum of the group totals (net plus VAT), i.e. what P_15 should be for an ordinary invoice. */
export function grossOfGroups(groups: Totals['groups']): Dec {
  let total = Dec.ZERO;
  for (const g of TOTAL_GROUPS) {
    const t = groups[g];
    if (!t) continue;
    total = total.add(Dec.from(t.net));
    if (t.vat !== undefined) total = total.add(Dec.from(t.vat));
  }
  return total;
}
