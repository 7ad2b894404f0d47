/** Helpers shared by the session route modules. */
import type { EmulatorContext } from '../context.js';
import type { SessionRow } from '../store/db.js';
import { Errors, validationError } from '../http/errors.js';
import { rsaOaepDecrypt } from '../crypto/keys.js';

export const WRITE_PERMISSIONS = ['InvoiceWrite', 'EnforcementOperations'] as const;
export const READ_STATUS_PERMISSIONS = ['InvoiceWrite', 'Introspection', 'EnforcementOperations'] as const;

export interface FormCode {
  systemCode: string;
  schemaVersion: string;
  value: string;
}

export interface EncryptionInfo {
  encryptedSymmetricKey: string;
  initializationVector: string;
  publicKeyId?: string | null;
}

/** The emulator validates FA(3) only (the XSD the project ships with). */
export function checkFormCode(f: FormCode): void {
  if (f.systemCode !== 'FA (3)' || f.schemaVersion !== '1-0E' || f.value !== 'FA') {
    throw validationError(['Wskazany kod formularza nie jest wspierany.']);
  }
}

/** Decrypts the session's AES key; returns null when it cannot (the session then ends with status 415). */
export function openSessionKey(ctx: EmulatorContext, enc: EncryptionInfo): { key: Buffer | null; iv: Buffer } {
  if (enc.publicKeyId && enc.publicKeyId !== ctx.keys.symmetricKey.publicKeyId) throw Errors.unknownKey(enc.publicKeyId);
  const iv = Buffer.from(enc.initializationVector, 'base64');
  if (iv.length !== 16) throw validationError(['Wektor inicjalizujący (initializationVector) musi mieć 16 bajtów.']);
  let key: Buffer | null = null;
  try {
    key = rsaOaepDecrypt(ctx.keys.symmetricKey, Buffer.from(enc.encryptedSymmetricKey, 'base64'));
    if (key.length !== 32) key = null;
  } catch {
    key = null;
  }
  return { key, iv };
}

export function getSession(ctx: EmulatorContext, ref: string, nip: string, kind?: 'online' | 'batch'): SessionRow {
  const s = ctx.db.prepare<[string], SessionRow>(`SELECT * FROM sessions WHERE reference_number = ?`).get(ref);
  if (!s || s.nip !== nip || (kind && s.kind !== kind)) throw Errors.sessionNotFound(ref);
  return s;
}
