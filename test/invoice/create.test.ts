import { describe, expect, it } from 'vitest';
import { type InvoiceInput, createInvoice } from '../../src/invoice/index.js';
import { FIXTURES, KSEF_NO } from './fixtures/invoices.js';

function issuesOf(input: unknown): string[] {
  return createInvoice(input as InvoiceInput).issues.map((i) => `${i.code}@${i.path}`);
}

const basic = FIXTURES.basic!;

describe('createInvoice: structure with field paths', () => {
  it('fills defaults: kind VAT, currency PLN, line numbers, annotations "no", JST/GV false', () => {
    const { kind: _k, currency: _c, ...rest } = basic;
    const r = createInvoice({ ...rest, lines: [{ name: 'A', quantity: 1, unitNetPrice: 10, vatRate: '23' }, { name: 'B', quantity: '2', unitNetPrice: '0.1', vatRate: '23' }] });
    expect(r.issues).toEqual([]);
    const inv = r.invoice!;
    expect(inv.kind).toBe('VAT');
    expect(inv.currency).toBe('PLN');
    expect(inv.lines.map((l) => [l.lineNumber, l.quantity, l.unitNetPrice, l.netAmount])).toEqual([
      [1, '1', '10.00', '10.00'],
      [2, '2', '0.10', '0.20'],
    ]);
    expect(inv.annotations).toEqual({ cashAccounting: false, selfBilling: false, reverseCharge: false, splitPayment: false, simplifiedTriangular: false });
    expect(inv.buyer.localGovernmentUnit).toBe(false);
    expect(inv.buyer.vatGroupMember).toBe(false);
  });

  it('reports a bad quantity with the line path', () => {
    const lines = [0, 1, 2, 3].map((i) => ({ name: `L${i}`, quantity: i === 3 ? 'three' : '1', unitNetPrice: '1', vatRate: '23' as const }));
    const r = createInvoice({ ...basic, lines });
    expect(r.invoice).toBeUndefined();
    expect(r.issues).toEqual([
      expect.objectContaining({ code: 'INV_DECIMAL', severity: 'error', path: 'lines[3].quantity', element: 'FaWiersz/P_8B', value: 'three' }),
    ]);
  });

  it('money with more than 2 decimals, quantity with more than 6, numbers too large', () => {
    expect(issuesOf({ ...basic, lines: [{ name: 'A', netAmount: '1.005', vatRate: '23' }] })).toEqual(['INV_PRECISION@lines[0].netAmount']);
    expect(issuesOf({ ...basic, lines: [{ name: 'A', quantity: '1.0000001', unitNetPrice: '1', vatRate: '23' }] })).toEqual(['INV_PRECISION@lines[0].quantity']);
    expect(issuesOf({ ...basic, lines: [{ name: 'A', unitNetPrice: '123456789012345', quantity: '1', vatRate: '23' }] })).toEqual(['INV_PRECISION@lines[0].unitNetPrice']);
    expect(issuesOf({ ...basic, lines: [{ name: 'A', quantity: Number.NaN, unitNetPrice: '1', vatRate: '23' }] })).toEqual(['INV_DECIMAL@lines[0].quantity']);
  });

  it('missing required data: seller NIP and name, buyer, number, issue date', () => {
    expect(issuesOf({ lines: [] })).toEqual([
      'INV_REQUIRED@number',
      'INV_REQUIRED@issueDate',
      'INV_REQUIRED@seller',
      'INV_REQUIRED@seller.nip',
      'INV_REQUIRED@seller.name',
      'INV_REQUIRED@seller.address',
      'INV_REQUIRED@buyer',
      'INV_REQUIRED@buyer.id',
    ]);
  });

  it('formats: NIP, dates, country and currency codes, enumerations, e-mail', () => {
    expect(
      issuesOf({
        ...basic,
        issueDate: '2026-02-30',
        currency: 'ZLOTY',
        seller: { ...basic.seller, nip: '52610408', address: { countryCode: 'XX', line1: 'a' }, contacts: [{ email: 'no-at-sign' }] },
        lines: [{ name: 'A', quantity: '1', unitNetPrice: '1', vatRate: '24' }],
      }),
    ).toEqual([
      'INV_DATE@issueDate',
      'INV_PATTERN@seller.nip',
      'INV_CODE@seller.address.countryCode',
      'INV_PATTERN@seller.contacts[0].email',
      'INV_CODE@currency',
      'INV_ENUM@lines[0].vatRate',
    ]);
  });

  it('NIP separators from ERP exports are removed', () => {
    expect(createInvoice({ ...basic, seller: { ...basic.seller, nip: '526-104-08-28' } }).invoice!.seller.nip).toBe('5261040828');
  });

  it('lengths are counted in characters, after collapsing whitespace', () => {
    expect(issuesOf({ ...basic, lines: [{ name: 'ż'.repeat(513), quantity: '1', unitNetPrice: '1', vatRate: '23' }] })).toEqual(['INV_LENGTH@lines[0].name']);
    expect(issuesOf({ ...basic, lines: [{ name: '😀'.repeat(512), quantity: '1', unitNetPrice: '1', vatRate: '23' }] })).toEqual([]);
    const r = createInvoice({ ...basic, number: '  FV\t/1 \n 2  ' });
    expect(r.invoice!.number).toBe('FV /1 2');
  });

  it('choices: sale date or period, paid or partly paid, role "other" needs a description', () => {
    expect(issuesOf({ ...basic, salePeriod: { from: '2026-01-01', to: '2026-01-31' } })).toEqual(['INV_CHOICE@salePeriod']);
    expect(issuesOf({ ...basic, payment: { paidDate: '2026-01-20', partial: { final: true, payments: [{ amount: '1', date: '2026-01-20' }] } } })).toEqual(['INV_CHOICE@payment.partial']);
    expect(issuesOf({ ...basic, thirdParties: [{ id: { kind: 'none' }, role: 'other' }] })).toEqual(['INV_REQUIRED@thirdParties[0].roleDescription']);
    expect(issuesOf({ ...basic, payment: { form: { method: 'other' } } })).toEqual(['INV_REQUIRED@payment.form.description']);
  });

  it('correction data only on corrections, KSeF numbers checked', () => {
    expect(issuesOf({ ...basic, correction: { corrected: [{ issueDate: '2026-01-01', number: 'X' }] } })).toEqual(['INV_CORRECTION_ON_NON_CORRECTION@correction']);
    expect(issuesOf({ ...basic, kind: 'KOR', correction: { corrected: [{ issueDate: '2026-01-01', number: 'X', ksefNumber: 'not-a-ksef-number' }] } })).toEqual([
      'INV_PATTERN@correction.corrected[0].ksefNumber',
    ]);
    expect(issuesOf({ ...basic, kind: 'KOR', correction: { corrected: [] } })).toEqual(['INV_COUNT@correction.corrected']);
    expect(issuesOf({ ...basic, kind: 'KOR', correction: { corrected: [{ issueDate: '2026-01-01', number: 'X', ksefNumber: KSEF_NO }] } })).toEqual([]);
  });

  it('lines without value or rate, invoices without lines or totals', () => {
    expect(issuesOf({ ...basic, lines: [{ name: 'A', vatRate: '23' }] })).toEqual(['INV_LINE_VALUE_MISSING@lines[0].netAmount']);
    expect(issuesOf({ ...basic, lines: [{ name: 'A', netAmount: '1.00' }] })).toEqual(['INV_LINE_RATE_MISSING@lines[0].vatRate']);
    expect(issuesOf({ ...basic, lines: [] })).toEqual(['INV_TOTALS_REQUIRED@totals']);
  });

  it('given totals are kept; unknown groups and VAT on groups without VAT are refused', () => {
    const r = createInvoice({ ...basic, totals: { groups: { standard: { net: 1500, vat: '345' } }, gross: '1845' } });
    expect(r.invoice!.totals).toEqual({ groups: { standard: { net: '1500.00', vat: '345.00' } }, gross: '1845.00' });
    expect(issuesOf({ ...basic, totals: { groups: { bogus: { net: '1' } } } })).toEqual(['INV_ENUM@totals.groups.bogus']);
    expect(issuesOf({ ...basic, totals: { groups: { exempt: { net: '1', vat: '1' } } } })).toEqual(['INV_CHOICE@totals.groups.exempt.vat']);
    expect(issuesOf({ ...basic, totals: { groups: { standard: { net: '1' } } } })).toEqual(['INV_REQUIRED@totals.groups.standard.vat']);
  });

  it('counts: at most 3 contacts, 10,000 lines, 100 third parties', () => {
    expect(issuesOf({ ...basic, seller: { ...basic.seller, contacts: [{ email: 'a@b' }, { email: 'a@b' }, { email: 'a@b' }, { email: 'a@b' }] } })).toEqual(['INV_COUNT@seller.contacts']);
    const many = Array.from({ length: 10001 }, () => ({ name: 'x', netAmount: '1', vatRate: '23' as const }));
    expect(issuesOf({ ...basic, lines: many })).toEqual(['INV_COUNT@lines']);
  });

  it('survives garbage input without throwing', () => {
    expect(issuesOf(null)).toContain('INV_REQUIRED@seller');
    expect(issuesOf({ ...basic, lines: 'nope' })).toEqual(['INV_TYPE@lines']);
    expect(issuesOf({ ...basic, buyer: { id: { kind: 'passport' } } })).toEqual(['INV_ENUM@buyer.id.kind']);
    expect(issuesOf({ ...basic, annotations: { splitPayment: 'yes' } })).toEqual(['INV_TYPE@annotations.splitPayment']);
  });
});
