import { describe, expect, it } from 'vitest';
import { type Invoice, type InvoiceInput, type InvoiceIssue, checkInvoice, createInvoice, isValidNip } from '../../src/invoice/index.js';
import { BUYER_NIP, FIXTURES, KSEF_NO } from './fixtures/invoices.js';

const TODAY = { today: '2026-02-01' };

function make(over: Partial<InvoiceInput>, name = 'basic'): Invoice {
  const r = createInvoice({ ...FIXTURES[name]!, ...over });
  if (!r.invoice) throw new Error(JSON.stringify(r.issues, null, 1));
  return r.invoice;
}

function codes(issues: InvoiceIssue[]): string[] {
  return issues.map((i) => `${i.severity}:${i.code}@${i.path}`);
}

describe('NIP checksum', () => {
  it('accepts valid NIPs and rejects a wrong check digit', () => {
    expect(isValidNip('5261040828')).toBe(true);
    expect(isValidNip('7740001454')).toBe(true);
    expect(isValidNip('5261040829')).toBe(false);
    expect(isValidNip('123456789')).toBe(false);
    // Check digit 10 is never valid.
    expect(isValidNip('1234567890')).toBe(false);
  });

  it('SEM_NIP_CHECKSUM on every party that carries a NIP', () => {
    const bad = '5261040829';
    const inv = make({
      seller: { ...FIXTURES.basic!.seller, nip: bad },
      buyer: { id: { kind: 'nip', nip: bad } },
      thirdParties: [{ id: { kind: 'internal', internalId: `${bad}-00001` }, role: 'recipient' }],
    });
    expect(codes(checkInvoice(inv, TODAY))).toEqual([
      'error:SEM_NIP_CHECKSUM@seller.nip',
      'error:SEM_NIP_CHECKSUM@buyer.id.nip',
      'error:SEM_NIP_CHECKSUM@thirdParties[0].id.internalId',
    ]);
  });
});

describe('dates', () => {
  it('SEM_ISSUE_DATE_FUTURE when the issue date is after today', () => {
    const issues = checkInvoice(make({ issueDate: '2026-02-02' }), TODAY);
    expect(codes(issues)).toEqual(['error:SEM_ISSUE_DATE_FUTURE@issueDate']);
    expect(issues[0]!.message).toContain('2026-02-02');
    expect(checkInvoice(make({ issueDate: '2026-02-01' }), TODAY)).toEqual([]);
  });

  it('accepts a Date for today and defaults to the Polish calendar day', () => {
    // 23:30 UTC on 1 February is already 00:30 on 2 February in Warsaw (CET).
    expect(codes(checkInvoice(make({ issueDate: '2026-02-02' }), { today: new Date('2026-02-01T23:30:00Z') }))).toEqual([]);
    expect(codes(checkInvoice(make({ issueDate: '2026-02-02' }), { today: new Date('2026-02-01T22:30:00Z') }))).toEqual(['error:SEM_ISSUE_DATE_FUTURE@issueDate']);
  });

  it('SEM_SALE_PERIOD_ORDER and SEM_DUE_DATE_BEFORE_ISSUE', () => {
    const inv = make({ saleDate: undefined, salePeriod: { from: '2026-01-31', to: '2026-01-01' }, payment: { dueDates: [{ date: '2026-01-01' }] } });
    expect(codes(checkInvoice(inv, TODAY))).toEqual(['error:SEM_SALE_PERIOD_ORDER@salePeriod', 'warning:SEM_DUE_DATE_BEFORE_ISSUE@payment.dueDates[0].date']);
  });
});

describe('totals', () => {
  it('SEM_TOTAL_RATE_MISMATCH with the precise difference', () => {
    const inv = make({ totals: { groups: { standard: { net: '1500.01', vat: '345.00' } }, gross: '1845.01' } });
    const issues = checkInvoice(inv, TODAY);
    expect(codes(issues)).toEqual(['error:SEM_TOTAL_RATE_MISMATCH@totals.groups.standard.net']);
    expect(issues[0]!.message).toBe('P_13_1 (net, standard rate 23%/22%) is 1500.01 but the lines sum to 1500.00 (difference +0.01)');
    expect(issues[0]!.element).toBe('P_13_1');
  });

  it('SEM_TOTAL_RATE_MISMATCH on VAT, and a group given that no line has', () => {
    const inv = make({ totals: { groups: { standard: { net: '1500.00', vat: '344.99' }, reduced1: { net: '10.00', vat: '0.80' } }, gross: '1855.79' } });
    expect(codes(checkInvoice(inv, TODAY))).toEqual([
      'error:SEM_TOTAL_RATE_MISMATCH@totals.groups.standard.vat',
      'error:SEM_TOTAL_RATE_MISMATCH@totals.groups.reduced1.net',
      'error:SEM_TOTAL_RATE_MISMATCH@totals.groups.reduced1.vat',
    ]);
  });

  it('accepts VAT computed line by line as well as on the sum', () => {
    // Lines 0.01 x 3 at 23%: on the sum 0.03 -> 0.01 VAT; line by line 0.00 each -> 0.00.
    const lines = [1, 2, 3].map(() => ({ name: 'Drobiazg', quantity: '1', unitNetPrice: '0.01', vatRate: '23' as const }));
    const bySum = make({ lines });
    expect(bySum.totals.groups.standard).toEqual({ net: '0.03', vat: '0.01' });
    const byLine = make({ lines, totals: { groups: { standard: { net: '0.03', vat: '0.00' } }, gross: '0.03' } });
    expect(checkInvoice(byLine, TODAY)).toEqual([]);
    const wrong = make({ lines, totals: { groups: { standard: { net: '0.03', vat: '0.02' } }, gross: '0.05' } });
    expect(checkInvoice(wrong, TODAY)[0]!.message).toContain('(or 0.00 rounding line by line)');
  });

  it('SEM_GROSS_TOTAL_MISMATCH', () => {
    const inv = make({ totals: { groups: { standard: { net: '1500.00', vat: '345.00' } }, gross: '1845.10' } });
    const issues = checkInvoice(inv, TODAY);
    expect(codes(issues)).toEqual(['error:SEM_GROSS_TOTAL_MISMATCH@totals.gross']);
    expect(issues[0]!.message).toContain('difference +0.10');
  });

  it('SEM_LINE_AMOUNT_MISMATCH when a line value disagrees with quantity x price', () => {
    const inv = make({ lines: [{ name: 'X', quantity: '3', unitNetPrice: '0.333', netAmount: '0.99', vatRate: '23' }] });
    const issues = checkInvoice(inv, TODAY);
    expect(codes(issues)).toEqual(['warning:SEM_LINE_AMOUNT_MISMATCH@lines[0].netAmount']);
    expect(issues[0]!.message).toContain('= 1.00 (-0.01)');
  });

  it('SEM_SETTLEMENT_MISMATCH when the amount due is not P_15 + charges - deductions', () => {
    const inv = make({ settlement: { charges: [{ amount: '10.00', reason: 'Fracht' }], amountDue: '1856.00' } });
    expect(checkInvoice(make({ settlement: { charges: [{ amount: '10.00', reason: 'Fracht' }], amountDue: '1855.00' } }), TODAY)).toEqual([]);
    expect(codes(checkInvoice(inv, TODAY))).toEqual(['warning:SEM_SETTLEMENT_MISMATCH@settlement.amountDue']);
  });
});

describe('currency', () => {
  it('SEM_FOREIGN_VAT_PLN_MISSING when a foreign-currency invoice has no VAT in PLN', () => {
    const inv = make({ currency: 'EUR', lines: [{ name: 'Consulting', quantity: '1', unitNetPrice: '100', vatRate: '23' }] });
    expect(inv.totals.groups.standard?.vatPln).toBeUndefined();
    const issues = checkInvoice(inv, TODAY);
    expect(codes(issues)).toEqual(['error:SEM_FOREIGN_VAT_PLN_MISSING@totals.groups.standard.vatPln']);
    expect(issues[0]!.element).toBe('P_14_1W');
  });

  it('computes the VAT in PLN from the line exchange rates', () => {
    const inv = make({}, 'foreign-eur');
    // 1000.00 x 23% = 230.00 EUR x 4.2512 = 977.776 -> 977.78; 59.97 x 5% = 2.9985 -> 3.00 EUR x 4.2512 = 12.7536 -> 12.75
    expect(inv.totals.groups).toEqual({ standard: { net: '1000.00', vat: '230.00', vatPln: '977.78' }, reduced2: { net: '59.97', vat: '3.00', vatPln: '12.75' } });
    expect(checkInvoice(inv, TODAY)).toEqual([]);
  });

  it('an invoice-level exchange rate from the source is copied to the lines', () => {
    const inv = make({ currency: 'EUR', exchangeRate: '4.30', lines: [{ name: 'A', quantity: '1', unitNetPrice: '100', vatRate: '23' }, { name: 'B', quantity: '1', unitNetPrice: '10', vatRate: '23', exchangeRate: '4.5' }] });
    expect(inv.lines.map((l) => l.exchangeRate)).toEqual(['4.3', '4.5']);
    // 23.00 EUR x 4.3 = 98.90 + 2.30 EUR x 4.5 = 10.35
    expect(inv.totals.groups.standard).toEqual({ net: '110.00', vat: '25.30', vatPln: '109.25' });
    expect(checkInvoice(inv, TODAY)).toEqual([]);
    expect(createInvoice({ ...FIXTURES.basic!, exchangeRate: '4.3' }).issues.map((i) => i.code)).toEqual(['INV_EXCHANGE_RATE_IGNORED']);
  });

  it('SEM_FOREIGN_VAT_PLN_MISMATCH and SEM_VAT_PLN_ON_PLN_INVOICE', () => {
    const usd = make({ totals: { groups: { standard: { net: '1000.00', vat: '230.00', vatPln: '900.00' } }, gross: '1230.00' } }, 'foreign-usd-given-totals');
    expect(codes(checkInvoice(usd, TODAY))).toEqual(['warning:SEM_FOREIGN_VAT_PLN_MISMATCH@totals.groups.standard.vatPln']);
    const pln = make({ totals: { groups: { standard: { net: '1500.00', vat: '345.00', vatPln: '345.00' } }, gross: '1845.00' } });
    expect(codes(checkInvoice(pln, TODAY))).toEqual(['warning:SEM_VAT_PLN_ON_PLN_INVOICE@totals.groups.standard.vatPln']);
  });
});

describe('corrections', () => {
  it('SEM_CORRECTION_REFERENCE_MISSING when a KOR names nothing', () => {
    const inv = make({ kind: 'KOR', correction: undefined });
    const issues = checkInvoice(inv, TODAY);
    expect(codes(issues)).toEqual(['error:SEM_CORRECTION_REFERENCE_MISSING@correction.corrected']);
    expect(issues[0]!.message).toContain('must name the invoice it corrects');
  });

  it('SEM_CORRECTION_DATE_ORDER when the corrected invoice is younger than the correction', () => {
    const inv = make({ kind: 'KOR', correction: { corrected: [{ issueDate: '2026-01-25', number: 'FV/9', ksefNumber: KSEF_NO }] } });
    expect(codes(checkInvoice(inv, TODAY))).toEqual(['warning:SEM_CORRECTION_DATE_ORDER@correction.corrected[0].issueDate']);
  });

  it('counts lines marked beforeCorrection negatively', () => {
    expect(make({}, 'correction-ksef').totals).toEqual({ groups: { standard: { net: '-100.00', vat: '-23.00' } }, gross: '-123.00' });
  });
});

describe('rates and annotations', () => {
  it('zw without the legal basis of the exemption', () => {
    const inv = make({ lines: [{ name: 'Usługa medyczna', quantity: '1', unitNetPrice: '100', vatRate: 'zw' }] });
    const issues = checkInvoice(inv, TODAY);
    expect(codes(issues)).toEqual(['error:SEM_RATE_ANNOTATION_MISMATCH@lines[0].vatRate']);
    expect(issues[0]!.message).toContain('P_19');
  });

  it('exemption marked without any zw line is a warning', () => {
    expect(codes(checkInvoice(make({ annotations: { exemption: { basis: 'act', text: 'art. 43' } } }), TODAY))).toEqual(['warning:SEM_RATE_ANNOTATION_MISMATCH@annotations.exemption']);
  });

  it('reverse charge with a rate other than oo/np', () => {
    const inv = make({ annotations: { reverseCharge: true } });
    const issues = checkInvoice(inv, TODAY);
    expect(codes(issues)).toEqual(['error:SEM_RATE_ANNOTATION_MISMATCH@lines[0].vatRate']);
    expect(issues[0]!.message).toContain('not "23"');
  });

  it('oo rate without the reverse-charge annotation', () => {
    const inv = make({ lines: [{ name: 'Złom', quantity: '1', unitNetPrice: '100', vatRate: 'oo' }] });
    expect(codes(checkInvoice(inv, TODAY))).toEqual(['error:SEM_RATE_ANNOTATION_MISMATCH@lines[0].vatRate']);
  });

  it('margin total without the margin annotation; rates under a margin procedure', () => {
    const a = make({ lines: [], totals: { groups: { margin: { net: '100.00' } }, gross: '100.00' } });
    expect(codes(checkInvoice(a, TODAY))).toEqual(['warning:SEM_LINES_MISSING@lines', 'error:SEM_RATE_ANNOTATION_MISMATCH@totals.groups.margin']);
    const b = make({ annotations: { margin: 'used-goods' } });
    expect(codes(checkInvoice(b, TODAY))).toEqual(['warning:SEM_RATE_ANNOTATION_MISMATCH@lines[0].vatRate']);
  });

  it('SEM_WDT_BUYER_VAT_ID when 0 WDT is sold to a buyer without an EU VAT number', () => {
    const inv = make({ lines: [{ name: 'Towar', quantity: '1', unitNetPrice: '100', vatRate: '0 WDT' }] });
    expect(codes(checkInvoice(inv, TODAY))).toEqual(['warning:SEM_WDT_BUYER_VAT_ID@buyer.id']);
  });

  it('SEM_SPLIT_PAYMENT_REQUIRED for annex 15 goods above 15,000 PLN without P_18A', () => {
    const inv = make({ annotations: { splitPayment: false } }, 'split-payment');
    expect(codes(checkInvoice(inv, TODAY))).toEqual(['warning:SEM_SPLIT_PAYMENT_REQUIRED@annotations.splitPayment']);
    const small = make({ annotations: { splitPayment: false }, lines: [{ name: 'Telefon', quantity: '1', unitNetPrice: '1000', vatRate: '23', annex15: true }] }, 'split-payment');
    expect(checkInvoice(small, TODAY)).toEqual([]);
  });
});

describe('parties and kinds', () => {
  it('JST and VAT group flags need the matching third party', () => {
    const inv = make({ buyer: { ...FIXTURES.basic!.buyer, localGovernmentUnit: true, vatGroupMember: true } });
    expect(codes(checkInvoice(inv, TODAY))).toEqual(['error:SEM_JST_RECIPIENT_MISSING@thirdParties', 'error:SEM_VAT_GROUP_RECIPIENT_MISSING@thirdParties']);
  });

  it('shares of additional buyers above 100%', () => {
    const tp = (share: string) => ({ id: { kind: 'nip' as const, nip: BUYER_NIP }, role: 'additional-buyer' as const, share });
    expect(codes(checkInvoice(make({ thirdParties: [tp('60'), tp('50.5')] }), TODAY))).toEqual(['warning:SEM_THIRD_PARTY_SHARES@thirdParties']);
  });

  it('simplified invoice above 450 PLN, advance invoice without order', () => {
    expect(codes(checkInvoice(make({ kind: 'UPR' }), TODAY))).toEqual(['warning:SEM_SIMPLIFIED_INVOICE_LIMIT@totals.gross']);
    expect(codes(checkInvoice(make({ order: undefined }, 'advance'), TODAY))).toEqual(['warning:SEM_ADVANCE_ORDER_MISSING@order']);
  });
});
