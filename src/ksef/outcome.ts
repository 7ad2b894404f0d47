/**
 * What a per-invoice or per-session status means for the dispatcher (status tables of
 * open-api.json SessionInvoiceStatusResponse.status and SessionStatusResponse.status).
 * Error codes follow DESIGN.md (`KSEF_440_DUPLICATE`, ...).
 */
import { KsefStatusError } from './errors.js';
import type { SessionInvoiceStatusResponse, SessionStatusResponse } from './types.js';

export type InvoiceOutcome =
  /** 100 / 150: KSeF is still working on it. */
  | { kind: 'pending'; code: number }
  /** 200: KSeF number assigned. */
  | { kind: 'accepted'; ksefNumber: string; acquisitionDate: string | undefined; invoicingDate: string }
  /** 440: the same invoice (hash) was accepted before: resolve to the original KSeF number. */
  | { kind: 'duplicate'; originalKsefNumber: string | undefined; originalSessionReferenceNumber: string | undefined; error: KsefStatusError }
  /** 410, 415, 430, 450: the document (or permissions) must be fixed; never resend as is. */
  | { kind: 'rejected'; error: KsefStatusError }
  /** 405, 435, 500, 550 (and unknown codes): KSeF did not process it; it may be sent again. */
  | { kind: 'retry'; error: KsefStatusError };

const NAMES: Record<number, { code: string; kind: 'rejected' | 'retry' | 'duplicate'; hint: string }> = {
  405: { code: 'KSEF_405_SESSION_FAILED', kind: 'retry', hint: 'the session failed; the invoice can go out in a new session' },
  410: { code: 'KSEF_410_PERMISSIONS', kind: 'rejected', hint: 'the token has no permission for this invoice (e.g. self-billing, VAT group, JST relations)' },
  415: { code: 'KSEF_415_ATTACHMENT_NOT_ALLOWED', kind: 'rejected', hint: 'invoices with attachments need the attachment permission in KSeF' },
  430: { code: 'KSEF_430_INVALID_FILE', kind: 'rejected', hint: 'the invoice does not validate against the FA(3) schema; fix the mapping or the source data' },
  435: { code: 'KSEF_435_DECRYPTION_FAILED', kind: 'retry', hint: 'KSeF could not decrypt the invoice; it will be sent again in a new session' },
  440: { code: 'KSEF_440_DUPLICATE', kind: 'duplicate', hint: 'this invoice was already accepted; the original KSeF number applies' },
  450: { code: 'KSEF_450_SEMANTIC_ERROR', kind: 'rejected', hint: 'the invoice breaks a KSeF semantic rule; see the details and fix the document' },
  500: { code: 'KSEF_500_UNKNOWN', kind: 'retry', hint: 'unknown KSeF error; the invoice can be sent again after reconciliation' },
  550: { code: 'KSEF_550_CANCELLED', kind: 'retry', hint: 'KSeF cancelled the processing; send again' },
};

export function classifyInvoiceStatus(s: SessionInvoiceStatusResponse): InvoiceOutcome {
  const code = s.status.code;
  // a 200 without the number yet is polled again, never resent
  if (code === 100 || code === 150 || (code === 200 && !s.ksefNumber)) return { kind: 'pending', code };
  if (code === 200 && s.ksefNumber) {
    return { kind: 'accepted', ksefNumber: s.ksefNumber, acquisitionDate: s.acquisitionDate ?? undefined, invoicingDate: s.invoicingDate };
  }
  const n = NAMES[code] ?? { code: `KSEF_INVOICE_${code}`, kind: 'retry' as const, hint: 'unexpected KSeF status' };
  const error = new KsefStatusError(n.code, `invoice ${s.referenceNumber}: ${code} ${s.status.description}${s.status.details?.length ? ` (${s.status.details.join('; ')})` : ''}`, {
    statusCode: code,
    description: s.status.description,
    details: s.status.details,
    referenceNumber: s.referenceNumber,
    hint: n.hint,
  });
  if (n.kind === 'duplicate') {
    const ext = s.status.extensions ?? {};
    return {
      kind: 'duplicate',
      originalKsefNumber: ext.originalKsefNumber ?? undefined,
      originalSessionReferenceNumber: ext.originalSessionReferenceNumber ?? undefined,
      error,
    };
  }
  return { kind: n.kind, error };
}

export type SessionPhase = 'open' | 'processing' | 'closed' | 'succeeded' | 'failed';

/**
 * Phase of a session from its status code: 100 open (batch: started), 150 processing,
 * 170 closed (interactive, before its UPO), 200 succeeded, >= 400 failed (the error names the code).
 */
export function sessionPhase(st: SessionStatusResponse): { phase: SessionPhase; error?: KsefStatusError } {
  const code = st.status.code;
  if (code === 100) return { phase: 'open' };
  if (code === 150) return { phase: 'processing' };
  if (code === 170) return { phase: 'closed' };
  if (code === 200) return { phase: 'succeeded' };
  return {
    phase: 'failed',
    error: new KsefStatusError(`KSEF_SESSION_STATUS_${code}`, `session failed: ${code} ${st.status.description}${st.status.details?.length ? ` (${st.status.details.join('; ')})` : ''}`, {
      statusCode: code,
      description: st.status.description,
      details: st.status.details,
      referenceNumber: '',
    }),
  };
}
