import { describe, expect, it } from 'vitest';
import { classifyInvoiceStatus, sessionPhase, type SessionInvoiceStatusResponse } from '../../src/ksef/index.js';

const inv = (code: number, extra: Partial<SessionInvoiceStatusResponse> = {}): SessionInvoiceStatusResponse => ({
  ordinalNumber: 1,
  referenceNumber: '20260202-EE-0000000000-0000000000-01',
  invoiceHash: 'h',
  invoicingDate: '2026-02-02T10:00:00Z',
  status: { code, description: `status ${code}`, details: code >= 400 ? ['detail'] : null },
  ...extra,
});

describe('invoice outcome', () => {
  it('pending, accepted, duplicate, rejected and retryable statuses', () => {
    expect(classifyInvoiceStatus(inv(100))).toEqual({ kind: 'pending', code: 100 });
    expect(classifyInvoiceStatus(inv(150)).kind).toBe('pending');
    expect(classifyInvoiceStatus(inv(200, { ksefNumber: '5265877635-20250826-0100001AF629-AF', acquisitionDate: '2026-02-02T10:00:01Z' }))).toEqual({
      kind: 'accepted',
      ksefNumber: '5265877635-20250826-0100001AF629-AF',
      acquisitionDate: '2026-02-02T10:00:01Z',
      invoicingDate: '2026-02-02T10:00:00Z',
    });
    const dup = classifyInvoiceStatus(
      inv(440, { status: { code: 440, description: 'Duplikat faktury', extensions: { originalKsefNumber: 'K', originalSessionReferenceNumber: 'S' } } }),
    );
    expect(dup).toMatchObject({ kind: 'duplicate', originalKsefNumber: 'K', originalSessionReferenceNumber: 'S' });
    if (dup.kind === 'duplicate') expect(dup.error.code).toBe('KSEF_440_DUPLICATE');
    for (const c of [410, 415, 430, 450]) expect(classifyInvoiceStatus(inv(c)).kind).toBe('rejected');
    for (const c of [405, 435, 500, 550, 999]) expect(classifyInvoiceStatus(inv(c)).kind).toBe('retry');
    const r = classifyInvoiceStatus(inv(450));
    if (r.kind !== 'rejected') throw new Error('expected rejected');
    expect(r.error.code).toBe('KSEF_450_SEMANTIC_ERROR');
    expect(r.error.context.ksefCode).toBe(450);
    expect(r.error.details).toEqual(['detail']);
    expect(r.error.hint).toBeTruthy();
  });

  it('a 200 without a KSeF number is polled again, never resent', () => {
    expect(classifyInvoiceStatus(inv(200)).kind).toBe('pending');
  });
});

describe('session phase', () => {
  const st = (code: number) => ({ status: { code, description: `s${code}` }, dateCreated: '', dateUpdated: '' });
  it('maps the documented codes', () => {
    expect(sessionPhase(st(100)).phase).toBe('open');
    expect(sessionPhase(st(150)).phase).toBe('processing');
    expect(sessionPhase(st(170)).phase).toBe('closed');
    expect(sessionPhase(st(200)).phase).toBe('succeeded');
    const f = sessionPhase(st(445));
    expect(f.phase).toBe('failed');
    expect(f.error?.code).toBe('KSEF_SESSION_STATUS_445');
  });
});
