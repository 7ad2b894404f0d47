import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InvoiceError } from '../../src/errors/index.js';
import { parseFa3, readFa3, validateFa3Xml, writeFa3 } from '../../src/invoice/index.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'xml');
const load = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8');
const TODAY = { today: '2026-02-01' };

describe('reading FA(3) files written by other systems', () => {
  it('prefixed elements, comments, CDATA, character references, Podmiot3 with IDWew, every annotation', () => {
    const xml = load('other-system-prefixed.xml');
    const v = validateFa3Xml(xml, TODAY);
    expect(v.xsd).toEqual([]);
    expect(v.semantic.filter((i) => i.severity === 'error')).toEqual([]);
    expect(v.valid).toBe(true);
    const inv = v.invoice!;
    expect(inv.createdAt).toBe('2026-01-20T10:15:00.123+01:00');
    expect(inv.seller.name).toBe('Hurtownia "Mazowsze" & Synowie Sp. j.');
    expect(inv.lines[0]).toMatchObject({ name: 'Usługa serwisowa & naprawa <pilna>', quantity: '2', unitNetPrice: '100.00', netAmount: '200.00', uuid: 'aaaa-bbbb-0001', gtu: 'GTU_12' });
    expect(inv.lines[1]!.name).toBe('Książka „Podatki”');
    expect(inv.buyer).toMatchObject({ localGovernmentUnit: true, vatGroupMember: false, customerNumber: 'KL-0042' });
    expect(inv.thirdParties).toEqual([
      { id: { kind: 'internal', internalId: '7740001454-00012' }, name: 'Szkoła Podstawowa nr 3 w Płocku', address: { countryCode: 'PL', line1: 'ul. Szkolna 3, 09-400 Płock' }, role: 'local-government-recipient' },
      { id: { kind: 'nip', nip: '9512345675' }, name: 'Faktoring Polska S.A.', role: 'factor' },
    ]);
    expect(inv.annotations).toEqual({
      cashAccounting: true,
      selfBilling: true,
      reverseCharge: false,
      splitPayment: true,
      simplifiedTriangular: false,
      exemption: { basis: 'act', text: 'art. 43 ust. 1 pkt 29 lit. c ustawy o VAT' },
      newMeansOfTransport: { art42Sec5: false, vehicles: [{ firstUseDate: '2026-01-02', lineNumber: 4, make: 'Toyota', model: 'Corolla', kind: { type: 'land', mileage: '150', identifier: { kind: 'chassis', value: 'CH-12345' } } }] },
    });
    expect(inv.totals).toEqual({
      groups: { standard: { net: '200.00', vat: '46.00' }, reduced2: { net: '40.00', vat: '2.00' }, zeroIntraEu: { net: '50000.00' }, exempt: { net: '300.00' } },
      gross: '50588.00',
    });
    expect(inv.footer?.info?.[0]).toBe('Kapitał zakładowy 50 000 zł.\nSąd Rejonowy dla m.st. Warszawy.');
    expect(inv.payment?.factorBankAccounts).toEqual([{ number: '27114020040000300201355387' }]);
    expect(inv.notes).toEqual([{ lineNumber: 1, key: 'Numer zlecenia', value: 'ZL/99' }]);
    // Written again by our writer, it still passes and reads back to the same model.
    const again = writeFa3(inv);
    expect(validateFa3Xml(again, TODAY).xsd).toEqual([]);
    expect(readFa3(again)).toStrictEqual(inv);
  });

  it('correction in EUR with foreign buyer, Podmiot1K/2K, Rozliczenie, several payment forms, transport, attachment', () => {
    const v = validateFa3Xml(load('other-system-correction-eur.xml'), TODAY);
    expect(v.xsd).toEqual([]);
    expect(v.semantic.filter((i) => i.severity === 'error')).toEqual([]);
    const inv = v.invoice!;
    expect(inv.kind).toBe('KOR');
    expect(inv.buyer.id).toEqual({ kind: 'eu-vat', countryCode: 'DE', vatNumber: '811907980' });
    expect(inv.correction).toMatchObject({
      reason: 'Obniżka ceny licencji po reklamacji',
      effect: 'correction-date',
      corrected: [{ issueDate: '2026-01-10', number: 'FV/EUR/2026/1', ksefNumber: '5261040828-20260110-1A2B3C4D5E6F-7A' }],
      originalBuyers: [{ id: { kind: 'eu-vat', countryCode: 'DE', vatNumber: '811907980' }, name: 'Beispiel GmbH', buyerKey: 'DE-1' }],
    });
    expect(inv.totals.groups.standard).toEqual({ net: '-200.00', vat: '-46.00', vatPln: '-193.20' });
    expect(inv.lines[0]).toMatchObject({ beforeCorrection: true, exchangeRate: '4.2' });
    expect(inv.settlement).toEqual({ deductions: [{ amount: '10.00', reason: 'Kara umowna' }], deductionsTotal: '10.00', amountToSettle: '256.00' });
    expect(inv.payment?.partial).toEqual({
      final: false,
      payments: [
        { amount: '100.00', date: '2026-01-12', form: { method: 'transfer' } },
        { amount: '50.00', date: '2026-01-14', form: { method: 'other', description: 'Potrącenie wzajemnych należności' } },
      ],
    });
    expect(inv.payment?.form).toEqual({ method: 'other', description: 'Zwrot na rachunek nabywcy' });
    expect(inv.payment?.bankAccounts?.[0]).toEqual({ number: 'DE89370400440532013000', swift: 'COBADEFFXXX', bankOwnAccount: 'collection', description: 'Konto EUR' });
    expect(inv.transactionTerms?.transports?.[0]).toMatchObject({ kind: 'air', cargo: 5, carrier: { id: { kind: 'other', id: 'FR-CARRIER-9' }, name: 'Air Cargo SA' } });
    expect(inv.transactionTerms?.intermediary).toBe(true);
    expect(inv.attachment?.blocks[0]?.tables?.[0]).toEqual({ columns: [{ type: 'txt', name: 'Moduł' }, { type: 'int', name: 'Liczba' }], rows: [['Raporty', '1']] });
    expect(readFa3(writeFa3(inv))).toStrictEqual(inv);
  });

  it('advance invoice without lines: order, partial advances, margin, additional buyer, authorized entity, no buyer id', () => {
    const v = validateFa3Xml(load('other-system-advance.xml'), TODAY);
    expect(v.xsd).toEqual([]);
    expect(v.semantic.filter((i) => i.severity === 'error')).toEqual([]);
    const inv = v.invoice!;
    expect(inv.kind).toBe('ZAL');
    expect(inv.seller).toMatchObject({ euVatPrefix: 'PL', eori: 'PL526104082800000', status: 'liquidation', contacts: [{ email: 'rezerwacje@sloneczko.example.pl' }, { phone: '583000000' }] });
    expect(inv.buyer.id).toEqual({ kind: 'none' });
    expect(inv.thirdParties?.[0]).toMatchObject({ id: { kind: 'other', countryCode: 'UA', id: 'UA-PASS-AB123456' }, role: 'additional-buyer', share: '50' });
    expect(inv.thirdParties?.[1]).toMatchObject({ role: 'other', roleDescription: 'Sponsor wyjazdu' });
    expect(inv.authorizedEntity).toMatchObject({ nip: '9512345675', role: 'tax-representative', contacts: [{ email: 'pp@example.pl' }] });
    expect(inv.annotations.margin).toBe('travel');
    expect(inv.totals).toEqual({ groups: { margin: { net: '1000.00' } }, gross: '1000.00' });
    expect(inv.partialAdvances).toEqual([{ paymentDate: '2026-01-05', amount: '600.00' }, { paymentDate: '2026-01-07', amount: '400.00' }]);
    expect(inv.order?.lines[0]).toMatchObject({ lineNumber: 1, name: 'Wycieczka "Tatry" 7 dni, 2 osoby', quantity: '2', netAmount: '5000.00' });
    expect(inv.payment).toEqual({ paidDate: '2026-01-07', form: { method: 'cash' } });
    expect(inv.receiptInvoice).toBe(true);
    expect(readFa3(writeFa3(inv))).toStrictEqual(inv);
  });
});

describe('reader safety and refusals', () => {
  it('rejects a DOCTYPE outright (no entity expansion, no external entity)', () => {
    const xml = load('xxe.xml');
    expect(() => readFa3(xml)).toThrowError(InvoiceError);
    try {
      readFa3(xml);
    } catch (e) {
      expect((e as InvoiceError).code).toBe('FA3_DOCTYPE_FORBIDDEN');
      expect((e as InvoiceError).message).not.toContain('root:');
    }
    const v = validateFa3Xml(xml, TODAY);
    expect(v.valid).toBe(false);
    expect(v.xsd.map((i) => i.code)).toEqual(['XML_DOCTYPE']);
    expect(v.xsd[0]!.line).toBe(2);
    expect(v.invoice).toBeUndefined();
  });

  it('refuses FA(2) and other namespaces with a clear message', () => {
    expect(() => readFa3(load('fa2-namespace.xml'))).toThrowError(/not in the FA\(3\) namespace/);
    const v = validateFa3Xml(load('fa2-namespace.xml'), TODAY);
    expect(v.valid).toBe(false);
    expect(v.xsd.some((i) => i.code === 'XML_NOT_FA3')).toBe(true);
    expect(v.xsd.some((i) => i.code === 'XSD')).toBe(true);
  });

  it('refuses a document that is not an invoice or not well-formed', () => {
    expect(() => readFa3('<?xml version="1.0"?><Other/>')).toThrowError(/root element is <Other>/);
    expect(() => readFa3('<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/"><Fa></Faktura>')).toThrowError(/not well-formed/);
  });

  it('reports content that does not fit the model with field paths', () => {
    const xml = load('other-system-prefixed.xml').replace('<tns:P_8B>2.000</tns:P_8B>', '<tns:P_8B>2.0000001</tns:P_8B>');
    const r = parseFa3(xml);
    expect(r.invoice).toBeUndefined();
    expect(r.issues).toContainEqual(expect.objectContaining({ code: 'INV_PRECISION', path: 'lines[0].quantity', element: 'FaWiersz/P_8B' }));
    expect(() => readFa3(xml)).toThrowError(/lines\[0\]\.quantity/);
  });

  it('keeps CDATA content literal and the text around it', () => {
    const xml = load('other-system-prefixed.xml').replace('<![CDATA[Usługa serwisowa & naprawa <pilna>]]>', 'Pre &amp; <![CDATA[in &amp; <cdata>]]> post');
    expect(readFa3(xml).lines[0]!.name).toBe('Pre & in &amp; <cdata> post');
  });

  it('does not expand entity-like text and decodes only XML references', () => {
    const xml = load('other-system-prefixed.xml').replace('Szkolenie BHP', 'Szkolenie &amp;lt; &#60; &#x3E;');
    expect(readFa3(xml).lines[2]!.name).toBe('Szkolenie &lt; < >');
  });
});
