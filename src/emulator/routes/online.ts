/**
 * Interactive session (sesja-interaktywna.md): POST /sessions/online, POST /sessions/online/{ref}/invoices,
 * POST /sessions/online/{ref}/close. Sent invoices are checked for encrypted size and hash at once (21402, 21403)
 * and processed asynchronously after `processingDelayMs`.
 *
 * Technical corrections of offline invoices (offline/korekta-techniczna.md): an invoice sent with
 * `hashOfCorrectedInvoice` (and `offlineMode: true`) is linked to the rejected invoice of that hash in the same
 * context (table `technical_corrections`). Refused at once: 21166 when that invoice already has a correctly
 * processed technical correction, 21167 when that invoice was itself processed correctly (or is still in
 * processing). A second correction sent while the first is still in processing ends as a duplicate (440) once the
 * first is accepted, since both carry the same invoice number.
 */
import type { EmulatorApi } from '../context.js';
import { iso, requireAccess } from '../context.js';
import { badRequest, Errors, validationError } from '../http/errors.js';
import { newReferenceNumber } from '../ids.js';
import { sha256Base64 } from '../crypto/keys.js';
import { SESSION_STATUS } from '../processing/processor.js';
import { sessionLimits } from '../store/limits.js';
import { STATUS } from '../processing/verify.js';
import { checkFormCode, getSession, openSessionKey, WRITE_PERMISSIONS, type EncryptionInfo, type FormCode } from './sessions-common.js';

interface SendInvoiceBody {
  invoiceHash: string;
  invoiceSize: number;
  encryptedInvoiceHash: string;
  encryptedInvoiceSize: number;
  encryptedInvoiceContent: string;
  offlineMode?: boolean;
  hashOfCorrectedInvoice?: string | null;
}

const CORRECTIONS_DDL = `
CREATE TABLE IF NOT EXISTS technical_corrections (invoice_ref TEXT PRIMARY KEY, nip TEXT NOT NULL, corrected_hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS technical_corrections_hash ON technical_corrections(nip, corrected_hash);`;

export function registerOnline({ router, ctx }: EmulatorApi): void {
  const db = ctx.db;
  db.exec(CORRECTIONS_DDL);
  const acceptedCorrection = db.prepare<[string, string], { one: number }>(
    `SELECT 1 AS one FROM technical_corrections c JOIN invoices i ON i.reference_number = c.invoice_ref
     WHERE c.nip = ? AND c.corrected_hash = ? AND i.ksef_number IS NOT NULL LIMIT 1`,
  );
  const correctedInvoices = db.prepare<[string, string], { ksef_number: string | null; due_ms: number | null }>(
    `SELECT i.ksef_number, i.due_ms FROM sessions s JOIN invoices i ON i.session_ref = s.reference_number WHERE s.nip = ? AND i.invoice_hash = ?`,
  );

  /** The checks KSeF makes when a technical correction is sent (POST .../invoices, 400 table: 21166, 21167). */
  const checkTechnicalCorrection = (nip: string, hash: string, offlineMode: boolean): void => {
    if (!offlineMode) throw validationError(['Korekta techniczna (hashOfCorrectedInvoice) wymaga ustawienia offlineMode: true.']);
    if (acceptedCorrection.get(nip, hash)) throw badRequest(21166, 'Korekta techniczna niedostępna.', 'Faktura posiada już przetworzoną prawidłowo korektę techniczną.');
    const originals = correctedInvoices.all(nip, hash);
    if (originals.some((o) => o.ksef_number !== null)) {
      throw badRequest(21167, 'Status faktury nie pozwala na korektę techniczną.', 'Nie można wysłać korekty technicznej do prawidłowo przetworzonej faktury.');
    }
    if (originals.some((o) => o.due_ms !== null)) {
      throw badRequest(21167, 'Status faktury nie pozwala na korektę techniczną.', 'Faktura korygowana jest w trakcie przetwarzania.');
    }
  };

  router.add('POST', '/v2/sessions/online', (req) => {
    const access = requireAccess(ctx, req, [...WRITE_PERMISSIONS]);
    const body = req.json as { formCode: FormCode; encryption: EncryptionInfo };
    checkFormCode(body.formCode);
    const { key, iv } = openSessionKey(ctx, body.encryption);
    const ref = newReferenceNumber('SO', req.now);
    const validUntil = req.now + ctx.options.limits.onlineSessionTtlMs;
    const st = key ? SESSION_STATUS.onlineOpen : SESSION_STATUS.keyError;
    db.prepare(
      `INSERT INTO sessions (reference_number, kind, nip, auth_ref, token_ref, form_code, aes_key, iv, status_code, status_description,
        created_ms, updated_ms, valid_until_ms) VALUES (?, 'online', ?, ?, (SELECT token_ref FROM auth_ops WHERE reference_number = ?), ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(ref, access.nip, access.authRef, access.authRef, JSON.stringify(body.formCode), key, iv, st.code, st.description, req.now, req.now, validUntil);
    ctx.processor.kick(validUntil);
    ctx.log.info(`online session ${ref} opened for ${access.nip}${key ? '' : ' (symmetric key could not be decrypted: status 415)'}`);
    return { status: 201, json: { referenceNumber: ref, validUntil: iso(validUntil) } };
  });

  router.add('POST', '/v2/sessions/online/{referenceNumber}/invoices', (req) => {
    const access = requireAccess(ctx, req, [...WRITE_PERMISSIONS]);
    const s = getSession(ctx, req.params.referenceNumber as string, access.nip, 'online');
    if (s.status_code !== 100) throw Errors.sessionStatus(s.status_code, 'uniemożliwia wysyłkę faktur.');
    const max = sessionLimits(ctx, s.nip, 'online').maxInvoicesPerSession;
    if (s.invoice_count >= max) {
      throw badRequest(21155, 'Przekroczono dozwoloną liczbę faktur w sesji.', `Sesja o numerze referencyjnym ${s.reference_number} osiągnęła dozwolony limit liczby faktur ${max}.`);
    }
    const body = req.json as SendInvoiceBody;
    const encrypted = Buffer.from(body.encryptedInvoiceContent, 'base64');
    if (encrypted.length !== body.encryptedInvoiceSize) throw badRequest(21402, 'Nieprawidłowy rozmiar pliku.', 'Długość treści nie zgadza się z rozmiarem pliku.');
    if (sha256Base64(encrypted) !== body.encryptedInvoiceHash) throw badRequest(21403, 'Nieprawidłowy skrót pliku.', 'Skrót treści nie zgadza się ze skrótem pliku.');
    const corrected = body.hashOfCorrectedInvoice ?? null;
    if (corrected !== null) checkTechnicalCorrection(s.nip, corrected, body.offlineMode === true);
    const ref = newReferenceNumber('EE', req.now);
    const due = req.now + ctx.options.processingDelayMs;
    db.transaction(() => {
      db.prepare(
        `INSERT INTO invoices (reference_number, session_ref, ordinal, status_code, status_description, invoice_hash, invoice_size, encrypted,
          offline_mode, invoicing_ms, due_ms, form_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(ref, s.reference_number, s.invoice_count + 1, STATUS.accepted.code, STATUS.accepted.description, body.invoiceHash, body.invoiceSize, encrypted, body.offlineMode ? 1 : 0, req.now, due, s.form_code);
      db.prepare(`UPDATE sessions SET invoice_count = invoice_count + 1, updated_ms = ? WHERE reference_number = ?`).run(req.now, s.reference_number);
      if (corrected !== null) db.prepare(`INSERT INTO technical_corrections (invoice_ref, nip, corrected_hash) VALUES (?, ?, ?)`).run(ref, s.nip, corrected);
    })();
    ctx.processor.kick(due);
    return { status: 202, json: { referenceNumber: ref } };
  });

  router.add('POST', '/v2/sessions/online/{referenceNumber}/close', (req) => {
    const access = requireAccess(ctx, req, [...WRITE_PERMISSIONS]);
    const s = getSession(ctx, req.params.referenceNumber as string, access.nip, 'online');
    if (s.status_code !== 100) throw Errors.sessionStatus(s.status_code, 'uniemożliwia jej zamknięcie.');
    db.prepare(`UPDATE sessions SET status_code = ?, status_description = ?, closed_ms = ?, updated_ms = ?, due_ms = ? WHERE reference_number = ?`).run(
      SESSION_STATUS.onlineClosed.code,
      SESSION_STATUS.onlineClosed.description,
      req.now,
      req.now,
      req.now,
      s.reference_number,
    );
    ctx.processor.kick();
    return { status: 204 };
  });
}
