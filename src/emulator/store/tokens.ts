/** KSeF tokens and test subjects held by the emulator. */
import crypto from 'node:crypto';
import type { Db, TokenRow } from './db.js';
import { newReferenceNumber } from '../ids.js';
import { ALL_TOKEN_PERMISSIONS, type TokenPermission } from '../options.js';

export interface TokenInput {
  nip: string;
  token?: string;
  permissions?: TokenPermission[];
  description?: string;
}

/** Adds (or re-activates) a token for a NIP context; returns its reference number and secret. */
export function provisionToken(db: Db, input: TokenInput, nowMs: number): { referenceNumber: string; token: string } {
  const token = input.token ?? `${newReferenceNumber('TK', nowMs)}|nip-${input.nip}|${crypto.randomBytes(32).toString('hex')}`;
  const permissions = JSON.stringify(input.permissions ?? ALL_TOKEN_PERMISSIONS);
  const existing = db.prepare<[string], TokenRow>(`SELECT * FROM ksef_tokens WHERE token = ?`).get(token);
  if (existing) {
    db.prepare(`UPDATE ksef_tokens SET nip = ?, permissions = ?, status = 'Active' WHERE reference_number = ?`).run(
      input.nip,
      permissions,
      existing.reference_number,
    );
    return { referenceNumber: existing.reference_number, token };
  }
  const referenceNumber = newReferenceNumber('TK', nowMs);
  db.prepare(
    `INSERT INTO ksef_tokens (reference_number, token, nip, permissions, description, status, created_ms) VALUES (?, ?, ?, ?, ?, 'Active', ?)`,
  ).run(referenceNumber, token, input.nip, permissions, input.description ?? 'Token provisioned in the emulator', nowMs);
  ensureSubject(db, input.nip, nowMs);
  return { referenceNumber, token };
}

export function ensureSubject(db: Db, nip: string, nowMs: number, subjectType = 'Enforcement', description = 'Created by the emulator'): void {
  db.prepare(`INSERT OR IGNORE INTO subjects (nip, subject_type, description, created_ms) VALUES (?, ?, ?, ?)`).run(nip, subjectType, description, nowMs);
}

export function attachmentsAllowed(db: Db, nip: string): boolean {
  return db.prepare<[string], { a: number }>(`SELECT attachments_allowed AS a FROM subjects WHERE nip = ?`).get(nip)?.a === 1;
}
