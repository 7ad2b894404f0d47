/**
 * Batch session (sesja-wsadowa.md): POST /sessions/batch answers with part upload requests pointing at the
 * emulator's own storage (`PUT /emulator/storage/batch-parts/{ref}/{ordinal}?se=…&sig=…`, header
 * `x-ms-blob-type: BlockBlob`, no access token, 201 on success, 403 once the upload window — 20 minutes × number of
 * parts — has passed); POST /sessions/batch/{ref}/close checks the parts and starts processing.
 */
import type { EmulatorApi } from '../context.js';
import { requireAccess } from '../context.js';
import { badRequest, Errors, validationError } from '../http/errors.js';
import { newReferenceNumber } from '../ids.js';
import { sha256Base64 } from '../crypto/keys.js';
import { SESSION_STATUS, type BatchMeta } from '../processing/processor.js';
import { checkFormCode, getSession, openSessionKey, WRITE_PERMISSIONS, type EncryptionInfo, type FormCode } from './sessions-common.js';
import type { SessionRow } from '../store/db.js';

const storageError = (status: number, code: string, message: string) => ({
  status,
  body: `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  contentType: 'application/xml',
});

export function registerBatch({ router, ctx }: EmulatorApi): void {
  const db = ctx.db;
  const limits = ctx.options.limits;

  router.add('POST', '/v2/sessions/batch', (req) => {
    const access = requireAccess(ctx, req, [...WRITE_PERMISSIONS]);
    const body = req.json as { formCode: FormCode; batchFile: BatchMeta; encryption: EncryptionInfo; offlineMode?: boolean };
    checkFormCode(body.formCode);
    const parts = body.batchFile.fileParts;
    if (parts.length > limits.maxBatchParts) {
      throw badRequest(21161, 'Przekroczono dozwoloną liczbę części pakietu.', `Liczba części ${parts.length} przekracza dozwoloną liczbę ${limits.maxBatchParts}.`);
    }
    const ordinals = new Set(parts.map((p) => p.ordinalNumber));
    if (ordinals.size !== parts.length || [...ordinals].some((o) => o > parts.length)) {
      throw validationError(['Numery części (ordinalNumber) muszą być unikalne i kolejne, od 1.']);
    }
    // a part may not exceed 100 MB before encryption; AES-CBC adds at most one 16-byte block
    for (const p of parts) {
      if (p.fileSize > limits.maxPartSize + 16) {
        throw badRequest(21157, 'Nieprawidłowy rozmiar części pakietu.', `Rozmiar części ${p.ordinalNumber} przekroczył dozwolony rozmiar 100MB.`);
      }
    }
    if (body.batchFile.fileSize > limits.maxPackageSize) throw validationError([`Rozmiar paczki przekracza ${limits.maxPackageSize} B.`]);
    const { key, iv } = openSessionKey(ctx, body.encryption);
    const ref = newReferenceNumber('SB', req.now);
    const deadline = req.now + parts.length * limits.partUploadWindowPerPartMs;
    db.prepare(
      `INSERT INTO sessions (reference_number, kind, nip, auth_ref, token_ref, form_code, aes_key, iv, status_code, status_description,
        created_ms, updated_ms, offline_mode, batch_meta, upload_deadline_ms)
       VALUES (?, 'batch', ?, ?, (SELECT token_ref FROM auth_ops WHERE reference_number = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      ref,
      access.nip,
      access.authRef,
      access.authRef,
      JSON.stringify(body.formCode),
      key,
      iv,
      SESSION_STATUS.batchOpen.code,
      SESSION_STATUS.batchOpen.description,
      req.now,
      req.now,
      body.offlineMode ? 1 : 0,
      JSON.stringify(body.batchFile),
      deadline,
    );
    ctx.processor.kick(deadline);
    ctx.log.info(`batch session ${ref} opened for ${access.nip}: ${parts.length} part(s), ${body.batchFile.compressionType ?? 'Zip'}`);
    const partUploadRequests = [...parts]
      .sort((a, b) => a.ordinalNumber - b.ordinalNumber)
      .map((p) => {
        const resource = `batch-part:${ref}:${p.ordinalNumber}`;
        return {
          ordinalNumber: p.ordinalNumber,
          method: 'PUT',
          url: `${req.baseUrl}/emulator/storage/batch-parts/${ref.toLowerCase()}/${p.ordinalNumber}?se=${deadline}&sp=w&sig=${ctx.signUrl(resource, deadline)}`,
          headers: { 'x-ms-blob-type': 'BlockBlob' },
        };
      });
    return { status: 201, json: { referenceNumber: ref, partUploadRequests } };
  });

  router.add(
    'PUT',
    '/emulator/storage/batch-parts/{session}/{ordinal}',
    (req) => {
      const ref = (req.params.session as string).toUpperCase();
      const ordinal = Number(req.params.ordinal);
      const se = Number(req.query.get('se'));
      const sig = req.query.get('sig') ?? '';
      if (!Number.isFinite(se) || !ctx.verifyUrl(`batch-part:${ref}:${ordinal}`, se, sig)) {
        return storageError(403, 'AuthenticationFailed', 'Server failed to authenticate the request.');
      }
      if (req.now > se) return storageError(403, 'AuthorizationFailure', 'Upload window has expired.');
      if (req.headers['x-ms-blob-type'] !== 'BlockBlob') return storageError(400, 'MissingRequiredHeader', 'An HTTP header that is mandatory for this request is not specified: x-ms-blob-type.');
      const s = db.prepare<[string], SessionRow>(`SELECT * FROM sessions WHERE reference_number = ?`).get(ref);
      if (!s || s.status_code !== 100) return storageError(403, 'AuthorizationFailure', 'This request is not authorized to perform this operation.');
      db.prepare(`INSERT INTO batch_parts (session_ref, ordinal, data, uploaded_ms) VALUES (?, ?, ?, ?)
                  ON CONFLICT(session_ref, ordinal) DO UPDATE SET data = excluded.data, uploaded_ms = excluded.uploaded_ms`).run(ref, ordinal, req.body, req.now);
      db.prepare(`UPDATE sessions SET updated_ms = ? WHERE reference_number = ?`).run(req.now, ref);
      return { status: 201, headers: { etag: `"0x${sha256Base64(req.body).slice(0, 16)}"`, 'x-ms-request-server-encrypted': 'true' } };
    },
    { raw: true, bodyLimit: limits.maxPartSize + 1024, operation: null },
  );

  router.add('POST', '/v2/sessions/batch/{referenceNumber}/close', (req) => {
    const access = requireAccess(ctx, req, [...WRITE_PERMISSIONS]);
    const s = getSession(ctx, req.params.referenceNumber as string, access.nip, 'batch');
    if (s.status_code === 100 && s.upload_deadline_ms !== null && req.now > s.upload_deadline_ms) {
      db.prepare(`UPDATE sessions SET status_code = ?, status_description = ?, status_details = ?, updated_ms = ? WHERE reference_number = ?`).run(
        SESSION_STATUS.cancelled.code,
        SESSION_STATUS.cancelled.description,
        JSON.stringify(['Przekroczono czas wysyłki']),
        req.now,
        s.reference_number,
      );
      throw badRequest(21208, 'Czas oczekiwania na requesty upload lub finish został przekroczony.', 'Sesja anulowana, przekroczony czas wysyłki.');
    }
    if (s.status_code !== 100) throw Errors.sessionStatus(s.status_code, 'uniemożliwia jej zamknięcie.');
    const meta = JSON.parse(s.batch_meta as string) as BatchMeta;
    const uploaded = new Map(
      db
        .prepare<[string], { ordinal: number; size: number }>(`SELECT ordinal, length(data) AS size FROM batch_parts WHERE session_ref = ?`)
        .all(s.reference_number)
        .map((r) => [r.ordinal, r.size]),
    );
    for (const p of meta.fileParts) {
      const size = uploaded.get(p.ordinalNumber);
      if (size === undefined) throw badRequest(21205, 'Pakiet nie może być pusty.', `Nie przesłano zadeklarowanej '${p.ordinalNumber}' części pliku.`);
      if (size !== p.fileSize) throw badRequest(21157, 'Nieprawidłowy rozmiar części pakietu.', `Zadeklarowany rozmiar części '${p.ordinalNumber}' nie zgadza się z rzeczywistym.`);
    }
    const due = req.now + ctx.options.processingDelayMs;
    db.prepare(`UPDATE sessions SET status_code = ?, status_description = ?, closed_ms = ?, updated_ms = ?, due_ms = ? WHERE reference_number = ?`).run(
      SESSION_STATUS.batchProcessing.code,
      SESSION_STATUS.batchProcessing.description,
      req.now,
      req.now,
      due,
      s.reference_number,
    );
    ctx.processor.kick(due);
    return { status: 204 };
  });
}
