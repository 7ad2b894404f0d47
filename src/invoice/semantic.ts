/**
 * Semantic rules: what a tax adviser would check beyond the schema. Each issue has a stable code, a severity,
 * the field path and a message that says what to fix. KSeF itself enforces only some of these (NIP checksums in
 * production, issue date not after receipt).
 */
import { isValidNip } from '../identifiers/index.js';
import { Dec } from './decimal.js';
import type { Invoice, InvoiceIssue, Severity, TotalGroup } from './model.js';
import { TOTAL_GROUPS, VAT_GROUPS } from './model.js';
import { GROUP_ELEMENTS, computeTotals, grossOfGroups, groupOfLine, lineGross, lineNet } from './totals.js';

export interface CheckOptions {
  /** The day the invoice is checked (YYYY-MM-DD or a Date); default: today in Poland (Europe/Warsaw). */
  today?: string | Date;
}

export { isValidNip };

/** The date in Poland, YYYY-MM-DD. */
export function polishDate(d: Date = new Date()): string {
  return new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Warsaw', year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}

const NO_VAT_RATES = new Set(['oo', 'np I', 'np II']);
const CORRECTIONS = new Set(['KOR', 'KOR_ZAL', 'KOR_ROZ']);
/** Kinds whose totals must equal their lines (advance and settlement invoices show other amounts in P_13/P_15). */
const LINE_TOTAL_KINDS = new Set(['VAT', 'KOR', 'UPR']);
const GROSS_TOTAL_KINDS = new Set(['VAT', 'KOR', 'UPR', 'ZAL', 'KOR_ZAL']);

class Issues {
  readonly list: InvoiceIssue[] = [];
  add(severity: Severity, code: string, path: string, message: string, element?: string, value?: string): void {
    this.list.push({ code, severity, path, message, ...(element ? { element } : {}), ...(value !== undefined ? { value } : {}) });
  }
}

function diff(a: Dec, b: Dec): string {
  const d = a.sub(b);
  return `${d.isNegative() ? '' : '+'}${d.toFixed(2)}`;
}

/** Applies the semantic rules to a (structurally valid) invoice. */
export function checkInvoice(inv: Invoice, options: CheckOptions = {}): InvoiceIssue[] {
  const out = new Issues();
  const today = typeof options.today === 'string' ? options.today : polishDate(options.today);

  // --- NIP checksums -------------------------------------------------------
  const nip = (value: string, path: string, element: string, who: string) => {
    if (!isValidNip(value)) out.add('error', 'SEM_NIP_CHECKSUM', path, `the ${who} NIP ${value} has a wrong check digit; check the number in the source (KSeF production rejects it)`, element, value);
  };
  nip(inv.seller.nip, 'seller.nip', 'Podmiot1/DaneIdentyfikacyjne/NIP', 'seller');
  if (inv.buyer.id.kind === 'nip') nip(inv.buyer.id.nip, 'buyer.id.nip', 'Podmiot2/DaneIdentyfikacyjne/NIP', 'buyer');
  inv.thirdParties?.forEach((t, i) => {
    if (t.id.kind === 'nip') nip(t.id.nip, `thirdParties[${i}].id.nip`, 'Podmiot3/DaneIdentyfikacyjne/NIP', 'third party');
    if (t.id.kind === 'internal') nip(t.id.internalId.slice(0, 10), `thirdParties[${i}].id.internalId`, 'Podmiot3/DaneIdentyfikacyjne/IDWew', "third party's internal identifier");
  });
  if (inv.authorizedEntity) nip(inv.authorizedEntity.nip, 'authorizedEntity.nip', 'PodmiotUpowazniony/DaneIdentyfikacyjne/NIP', 'authorized entity');
  if (inv.correction?.originalSeller) nip(inv.correction.originalSeller.nip, 'correction.originalSeller.nip', 'Podmiot1K/DaneIdentyfikacyjne/NIP', 'original seller');
  inv.correction?.originalBuyers?.forEach((b, i) => {
    if (b.id.kind === 'nip') nip(b.id.nip, `correction.originalBuyers[${i}].id.nip`, 'Podmiot2K/DaneIdentyfikacyjne/NIP', 'original buyer');
  });

  // --- dates -----------------------------------------------------------------
  if (inv.issueDate > today) {
    out.add('error', 'SEM_ISSUE_DATE_FUTURE', 'issueDate', `the issue date ${inv.issueDate} is after today (${today}); KSeF rejects invoices dated in the future`, 'P_1', inv.issueDate);
  }
  if (inv.salePeriod && inv.salePeriod.from > inv.salePeriod.to) {
    out.add('error', 'SEM_SALE_PERIOD_ORDER', 'salePeriod', `the sale period starts (${inv.salePeriod.from}) after it ends (${inv.salePeriod.to})`, 'OkresFa');
  }
  inv.payment?.dueDates?.forEach((d, i) => {
    if (d.date && d.date < inv.issueDate) out.add('warning', 'SEM_DUE_DATE_BEFORE_ISSUE', `payment.dueDates[${i}].date`, `the due date ${d.date} is before the issue date ${inv.issueDate}`, 'TerminPlatnosci/Termin', d.date);
  });

  // --- correction ------------------------------------------------------------
  if (CORRECTIONS.has(inv.kind)) {
    if (!inv.correction || inv.correction.corrected.length === 0) {
      out.add('error', 'SEM_CORRECTION_REFERENCE_MISSING', 'correction.corrected', `a ${inv.kind} correction must name the invoice it corrects (number, issue date and KSeF number if it has one)`, 'DaneFaKorygowanej');
    } else {
      inv.correction.corrected.forEach((c, i) => {
        if (c.issueDate > inv.issueDate) {
          out.add('warning', 'SEM_CORRECTION_DATE_ORDER', `correction.corrected[${i}].issueDate`, `the corrected invoice is dated ${c.issueDate}, after this correction (${inv.issueDate})`, 'DataWystFaKorygowanej', c.issueDate);
        }
      });
    }
  }

  // --- lines and totals --------------------------------------------------------
  const hasMargin = inv.annotations.margin !== undefined;
  if (inv.lines.length === 0 && (inv.kind === 'VAT' || inv.kind === 'UPR' || inv.kind === 'ROZ')) {
    out.add('warning', 'SEM_LINES_MISSING', 'lines', `a ${inv.kind} invoice normally lists what was sold (FaWiersz)`, 'FaWiersz');
  }
  if (inv.kind === 'ZAL' && inv.lines.length === 0 && !inv.order) {
    out.add('warning', 'SEM_ADVANCE_ORDER_MISSING', 'order', 'an advance invoice should describe the order or contract the payment is for (Zamowienie)', 'Zamowienie');
  }
  inv.lines.forEach((l, i) => {
    if (l.netAmount !== undefined && l.quantity !== undefined && l.unitNetPrice !== undefined) {
      const expected = Dec.from(l.quantity).mul(Dec.from(l.unitNetPrice)).sub(l.discount ? Dec.from(l.discount) : Dec.ZERO).round(2);
      const given = Dec.from(l.netAmount);
      if (!expected.eq(given)) {
        out.add('warning', 'SEM_LINE_AMOUNT_MISMATCH', `lines[${i}].netAmount`, `the net value ${l.netAmount} differs from quantity x unit price - discount = ${expected.toFixed(2)} (${diff(given, expected)})`, 'FaWiersz/P_11', l.netAmount);
      }
    }
    if (l.grossAmount !== undefined && l.quantity !== undefined && l.unitGrossPrice !== undefined) {
      const expected = Dec.from(l.quantity).mul(Dec.from(l.unitGrossPrice)).sub(l.discount ? Dec.from(l.discount) : Dec.ZERO).round(2);
      const given = Dec.from(l.grossAmount);
      if (!expected.eq(given)) {
        out.add('warning', 'SEM_LINE_AMOUNT_MISMATCH', `lines[${i}].grossAmount`, `the gross value ${l.grossAmount} differs from quantity x unit gross price - discount = ${expected.toFixed(2)} (${diff(given, expected)})`, 'FaWiersz/P_11A', l.grossAmount);
      }
    }
    if (!groupOfLine(l, hasMargin) && (lineNet(l) ?? lineGross(l))) {
      out.add('error', 'SEM_LINE_RATE_MISSING', `lines[${i}].vatRate`, 'the line has a value but no VAT rate (P_12) and the invoice is not under a margin procedure', 'FaWiersz/P_12');
    }
  });

  const computed = computeTotals(inv);
  if (inv.lines.length > 0 && LINE_TOTAL_KINDS.has(inv.kind)) {
    for (const g of TOTAL_GROUPS) {
      const given = inv.totals.groups[g];
      const calc = computed.totals.groups[g];
      const els = GROUP_ELEMENTS[g];
      const gNet = given ? Dec.from(given.net) : Dec.ZERO;
      const cNet = calc ? Dec.from(calc.net) : Dec.ZERO;
      if (!gNet.eq(cNet)) {
        out.add('error', 'SEM_TOTAL_RATE_MISMATCH', `totals.groups.${g}.net`, `${els.net} (net, ${els.label}) is ${gNet.toFixed(2)} but the lines sum to ${cNet.toFixed(2)} (difference ${diff(gNet, cNet)})`, els.net, gNet.toFixed(2));
      }
      if (els.vat && (given?.vat !== undefined || calc?.vat !== undefined)) {
        const gVat = given?.vat !== undefined ? Dec.from(given.vat) : Dec.ZERO;
        const cVat = calc?.vat !== undefined ? Dec.from(calc.vat) : Dec.ZERO;
        const alt = computed.perLineVat[g];
        if (!gVat.eq(cVat) && !(alt !== undefined && gVat.eq(Dec.from(alt)))) {
          out.add(
            'error',
            'SEM_TOTAL_RATE_MISMATCH',
            `totals.groups.${g}.vat`,
            `${els.vat} (VAT, ${els.label}) is ${gVat.toFixed(2)} but the lines give ${cVat.toFixed(2)}${alt ? ` (or ${alt} rounding line by line)` : ''} (difference ${diff(gVat, cVat)})`,
            els.vat,
            gVat.toFixed(2),
          );
        }
      }
    }
  }
  if (GROSS_TOTAL_KINDS.has(inv.kind) && (inv.lines.length > 0 || Object.keys(inv.totals.groups).length > 0)) {
    const sum = grossOfGroups(inv.totals.groups);
    const gross = Dec.from(inv.totals.gross);
    if (!sum.eq(gross)) {
      out.add('error', 'SEM_GROSS_TOTAL_MISMATCH', 'totals.gross', `P_15 (total due) is ${gross.toFixed(2)} but the net and VAT totals add up to ${sum.toFixed(2)} (difference ${diff(gross, sum)})`, 'P_15', gross.toFixed(2));
    }
  }
  const st = inv.settlement;
  if (st?.amountDue !== undefined) {
    const charges = (st.charges ?? []).reduce((a, x) => a.add(Dec.from(x.amount)), Dec.ZERO);
    const deductions = (st.deductions ?? []).reduce((a, x) => a.add(Dec.from(x.amount)), Dec.ZERO);
    const expected = Dec.from(inv.totals.gross).add(charges).sub(deductions);
    if (!expected.eq(Dec.from(st.amountDue))) {
      out.add('warning', 'SEM_SETTLEMENT_MISMATCH', 'settlement.amountDue', `the amount due ${st.amountDue} should be P_15 + charges - deductions = ${expected.toFixed(2)}`, 'Rozliczenie/DoZaplaty', st.amountDue);
    }
  }

  // --- currency ----------------------------------------------------------------
  for (const g of VAT_GROUPS) {
    const t = inv.totals.groups[g];
    const els = GROUP_ELEMENTS[g];
    if (!t || !els.vatPln) continue;
    if (inv.currency !== 'PLN') {
      if (t.vatPln === undefined && t.vat !== undefined && !Dec.from(t.vat).isZero()) {
        out.add(
          'error',
          'SEM_FOREIGN_VAT_PLN_MISSING',
          `totals.groups.${g}.vatPln`,
          `the invoice is in ${inv.currency}; the VAT of the ${els.label} group must also be given in PLN (${els.vatPln}); give the exchange rate on the lines (KursWaluty) or the amount`,
          els.vatPln,
        );
      }
      const c = computed.totals.groups[g];
      if (t.vatPln !== undefined && c?.vatPln !== undefined && c.vat === t.vat && c.vatPln !== t.vatPln) {
        out.add('warning', 'SEM_FOREIGN_VAT_PLN_MISMATCH', `totals.groups.${g}.vatPln`, `${els.vatPln} is ${t.vatPln} PLN but VAT x the lines' exchange rates gives ${c.vatPln} PLN`, els.vatPln, t.vatPln);
      }
    } else if (t.vatPln !== undefined) {
      out.add('warning', 'SEM_VAT_PLN_ON_PLN_INVOICE', `totals.groups.${g}.vatPln`, `${els.vatPln} is only for invoices in a foreign currency; this one is in PLN`, els.vatPln);
    }
  }

  // --- rates vs annotations ---------------------------------------------------------
  const a = inv.annotations;
  const rateLines = (pred: (rate: string) => boolean) => inv.lines.map((l, i) => [l, i] as const).filter(([l]) => l.vatRate !== undefined && pred(l.vatRate));
  const exemptLines = rateLines((r) => r === 'zw');
  if ((exemptLines.length > 0 || inv.totals.groups.exempt) && !a.exemption) {
    const path = exemptLines.length ? `lines[${exemptLines[0]?.[1]}].vatRate` : 'totals.groups.exempt';
    out.add('error', 'SEM_RATE_ANNOTATION_MISMATCH', path, 'an exempt ("zw") sale needs the legal basis of the exemption: set annotations.exemption (P_19 with P_19A, P_19B or P_19C)', 'Adnotacje/Zwolnienie');
  }
  if (a.exemption && exemptLines.length === 0 && !inv.totals.groups.exempt) {
    out.add('warning', 'SEM_RATE_ANNOTATION_MISMATCH', 'annotations.exemption', 'the exemption (P_19) is marked but no line has the rate "zw"', 'Adnotacje/Zwolnienie/P_19');
  }
  if (a.reverseCharge) {
    for (const [l, i] of rateLines((r) => !NO_VAT_RATES.has(r))) {
      out.add('error', 'SEM_RATE_ANNOTATION_MISMATCH', `lines[${i}].vatRate`, `reverse charge (P_18) is marked, so the buyer accounts for the VAT; the line rate must be "oo" (or "np I"/"np II"), not "${l.vatRate}"`, 'FaWiersz/P_12', l.vatRate);
    }
  }
  const ooLines = rateLines((r) => r === 'oo');
  if (ooLines.length > 0 && !a.reverseCharge) {
    out.add('error', 'SEM_RATE_ANNOTATION_MISMATCH', `lines[${ooLines[0]?.[1]}].vatRate`, 'a line has the reverse-charge rate "oo" but the invoice does not mark reverse charge (annotations.reverseCharge, P_18 = 1)', 'Adnotacje/P_18');
  }
  if (inv.totals.groups.margin && !hasMargin) {
    out.add('error', 'SEM_RATE_ANNOTATION_MISMATCH', 'totals.groups.margin', 'a margin-procedure total (P_13_11) needs the margin annotation (annotations.margin, P_PMarzy)', 'Adnotacje/PMarzy');
  }
  if (hasMargin) {
    for (const [l, i] of rateLines(() => true)) {
      out.add('warning', 'SEM_RATE_ANNOTATION_MISMATCH', `lines[${i}].vatRate`, `under a margin procedure the invoice shows no VAT; the line has rate "${l.vatRate}"`, 'FaWiersz/P_12', l.vatRate);
    }
  }
  if (rateLines((r) => r === '0 WDT').length > 0 && inv.buyer.id.kind !== 'eu-vat') {
    out.add('warning', 'SEM_WDT_BUYER_VAT_ID', 'buyer.id', 'an intra-EU supply at 0% (0 WDT) needs the buyer\'s EU VAT number (buyer.id kind "eu-vat")', 'Podmiot2/DaneIdentyfikacyjne/NrVatUE');
  }

  // --- split payment ------------------------------------------------------------------
  if (!a.splitPayment && inv.lines.some((l) => l.annex15) && inv.buyer.id.kind === 'nip') {
    let grossPln: Dec | undefined = Dec.from(inv.totals.gross);
    if (inv.currency !== 'PLN') {
      const rate = inv.lines.find((l) => l.exchangeRate)?.exchangeRate ?? inv.advanceExchangeRate;
      grossPln = rate ? grossPln.mul(Dec.from(rate)).round(2) : undefined;
    }
    if (grossPln && grossPln.cmp(Dec.of(1500000n, 2)) > 0) {
      out.add('warning', 'SEM_SPLIT_PAYMENT_REQUIRED', 'annotations.splitPayment', `annex 15 goods or services with a total above 15,000 PLN (${grossPln.toFixed(2)} PLN) to a taxpayer require the split payment mechanism (P_18A = 1)`, 'Adnotacje/P_18A');
    }
  }

  // --- parties ----------------------------------------------------------------------
  const roles = new Set((inv.thirdParties ?? []).map((t) => t.role));
  if (inv.buyer.localGovernmentUnit && !roles.has('local-government-recipient')) {
    out.add('error', 'SEM_JST_RECIPIENT_MISSING', 'thirdParties', 'the buyer is marked as a subordinate local-government unit (JST = 1); add that unit as a third party with role local-government-recipient (Podmiot3 Rola 8)', 'Podmiot3/Rola');
  }
  if (inv.buyer.vatGroupMember && !roles.has('vat-group-recipient')) {
    out.add('error', 'SEM_VAT_GROUP_RECIPIENT_MISSING', 'thirdParties', 'the buyer is marked as a VAT group member (GV = 1); add the member as a third party with role vat-group-recipient (Podmiot3 Rola 10)', 'Podmiot3/Rola');
  }
  const shares = (inv.thirdParties ?? []).filter((t) => t.share !== undefined).reduce((s, t) => s.add(Dec.from(t.share ?? '0')), Dec.ZERO);
  if (shares.cmp(Dec.of(100n)) > 0) {
    out.add('warning', 'SEM_THIRD_PARTY_SHARES', 'thirdParties', `the shares of additional buyers add up to ${shares.toString()}%, more than 100%`, 'Podmiot3/Udzial');
  }
  if (inv.kind === 'UPR' && inv.currency === 'PLN' && Dec.from(inv.totals.gross).cmp(Dec.of(45000n, 2)) > 0) {
    out.add('warning', 'SEM_SIMPLIFIED_INVOICE_LIMIT', 'totals.gross', `a simplified invoice (UPR) may document at most 450 PLN gross; this one is ${inv.totals.gross} PLN`, 'P_15', inv.totals.gross);
  }
  return out.list;
}

export type { TotalGroup };
