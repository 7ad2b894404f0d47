/**
 * Cryptography required by KSeF 2.0 (sesja-interaktywna.md, sesja-wsadowa.md, uwierzytelnianie.md),
 * with node:crypto only:
 * - RSAES-OAEP with SHA-256 and MGF1(SHA-256) for `token|timestampMs` and for the 32-byte AES key;
 * - AES-256-CBC with PKCS#7 padding and a random 16-byte IV for invoices and batch parts
 *   (the IV travels in EncryptionInfo.initializationVector, as the official clients do);
 * - SHA-256 in Base64 and byte sizes of plain and encrypted content.
 */
import crypto, { type KeyObject } from 'node:crypto';
import { KsefClientError } from './errors.js';
import type { EncryptionInfo } from './types.js';

export interface FileMetadata {
  /** SHA-256 of the bytes, Base64. */
  hash: string;
  /** Size in bytes. */
  size: number;
}

export function sha256Base64(data: Uint8Array | string): string {
  return crypto.createHash('sha256').update(data).digest('base64');
}

export function fileMetadata(data: Uint8Array): FileMetadata {
  return { hash: sha256Base64(data), size: data.byteLength };
}

/** RSA-OAEP, SHA-256 digest and MGF1 with SHA-256 (node uses oaepHash for both). */
export function rsaOaepEncrypt(publicKey: KeyObject, data: Uint8Array): Buffer {
  if (publicKey.asymmetricKeyType !== 'rsa') {
    throw new KsefClientError(
      'KSEF_PUBLIC_KEY_UNSUPPORTED',
      `KSeF public key of type ${String(publicKey.asymmetricKeyType)} is not supported (RSA expected)`,
    );
  }
  return crypto.publicEncrypt({ key: publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, data);
}

/** Base64 of RSA-OAEP(`token|timestampMs`) as POST /auth/ksef-token expects. */
export function encryptKsefToken(publicKey: KeyObject, token: string, timestampMs: number): string {
  if (!Number.isSafeInteger(timestampMs)) throw new KsefClientError('KSEF_CHALLENGE_INVALID', 'challenge timestampMs is not an integer');
  return rsaOaepEncrypt(publicKey, Buffer.from(`${token}|${timestampMs}`, 'utf8')).toString('base64');
}

/** A fresh AES-256 key and IV for one session, with the key encrypted for KSeF. */
export interface SessionKey {
  readonly key: Buffer;
  readonly iv: Buffer;
  readonly encryption: EncryptionInfo;
}

/** A fresh random AES-256 key and IV, the key wrapped with KSeF's SymmetricKeyEncryption key. */
export function createSessionKey(publicKey: KeyObject, publicKeyId?: string): SessionKey {
  return wrapSessionKey(crypto.randomBytes(32), crypto.randomBytes(16), publicKey, publicKeyId);
}

/**
 * Wraps a given AES key/IV for KSeF (also used to re-wrap after a key rotation). `key` and `iv` are
 * non-enumerable, so JSON.stringify / console.log of a session never print them.
 */
export function wrapSessionKey(key: Buffer, iv: Buffer, publicKey: KeyObject, publicKeyId?: string): SessionKey {
  const encryption: EncryptionInfo = {
    encryptedSymmetricKey: rsaOaepEncrypt(publicKey, key).toString('base64'),
    initializationVector: iv.toString('base64'),
  };
  if (publicKeyId) encryption.publicKeyId = publicKeyId;
  const k = { encryption } as SessionKey;
  Object.defineProperty(k, 'key', { value: key, enumerable: false });
  Object.defineProperty(k, 'iv', { value: iv, enumerable: false });
  return Object.freeze(k);
}

export function aesEncrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Buffer {
  const c = crypto.createCipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([c.update(data), c.final()]);
}

export function aesDecrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Buffer {
  const d = crypto.createDecipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([d.update(data), d.final()]);
}

/** Public key of a DER certificate given in Base64 (PublicKeyCertificate.certificate). */
export function publicKeyFromCertificate(certificateBase64: string): KeyObject {
  const der = Buffer.from(certificateBase64, 'base64');
  try {
    return new crypto.X509Certificate(der).publicKey;
  } catch (e) {
    // Some test deployments publish a bare SubjectPublicKeyInfo; accept it too.
    try {
      return crypto.createPublicKey({ key: der, format: 'der', type: 'spki' });
    } catch {
      throw new KsefClientError('KSEF_PUBLIC_KEY_INVALID', 'KSeF public-key certificate cannot be parsed (neither X.509 DER nor SPKI)', {}, { cause: e });
    }
  }
}

/** SHA-256 (Base64) of the DER SubjectPublicKeyInfo: how KSeF derives publicKeyId. */
export function publicKeyIdOf(publicKey: KeyObject): string {
  return sha256Base64(publicKey.export({ format: 'der', type: 'spki' }));
}
