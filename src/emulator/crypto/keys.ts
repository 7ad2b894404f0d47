/**
 * The emulator's own encryption keys: one RSA-2048 pair for KSeF token encryption and one for symmetric key
 * encryption, each with a self-signed X.509 certificate, published like `GET /security/public-key-certificates`.
 * Keys persist in the state database so a restarted emulator keeps the certificates clients cached.
 */
import crypto from 'node:crypto';
import { selfSignedCertificate } from './der.js';

export type KeyUsage = 'KsefTokenEncryption' | 'SymmetricKeyEncryption';

export interface EmulatorKey {
  usage: KeyUsage;
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
  certificateDer: Buffer;
  /** SHA-256 of the certificate DER, Base64. */
  certificateId: string;
  /** SHA-256 of the SubjectPublicKeyInfo DER, Base64. */
  publicKeyId: string;
  validFrom: Date;
  validTo: Date;
}

export interface StoredKey {
  usage: KeyUsage;
  privateKeyPem: string;
  certificateDerB64: string;
}

const sha256b64 = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('base64');

export function keyFromStored(s: StoredKey): EmulatorKey {
  const privateKey = crypto.createPrivateKey(s.privateKeyPem);
  const publicKey = crypto.createPublicKey(privateKey);
  const certificateDer = Buffer.from(s.certificateDerB64, 'base64');
  const x509 = new crypto.X509Certificate(certificateDer);
  return {
    usage: s.usage,
    privateKey,
    publicKey,
    certificateDer,
    certificateId: sha256b64(certificateDer),
    publicKeyId: sha256b64(publicKey.export({ type: 'spki', format: 'der' })),
    validFrom: new Date(x509.validFrom),
    validTo: new Date(x509.validTo),
  };
}

export async function generateKey(usage: KeyUsage, nowMs: number): Promise<StoredKey> {
  const { privateKey, publicKey } = await new Promise<{ privateKey: crypto.KeyObject; publicKey: crypto.KeyObject }>((resolve, reject) =>
    crypto.generateKeyPair('rsa', { modulusLength: 2048 }, (err, pub, priv) => (err ? reject(err) : resolve({ privateKey: priv, publicKey: pub }))),
  );
  // whole seconds: X.509 times have no fractions
  const start = Math.floor(nowMs / 1000) * 1000 - 24 * 3_600_000;
  const der = selfSignedCertificate({
    publicKey,
    privateKey,
    subject: { commonName: `KSeF emulator ${usage}`, organization: 'ksef-bridge emulator (not Ministerstwo Finansów)', country: 'PL' },
    notBefore: new Date(start),
    notAfter: new Date(start + 2 * 365 * 24 * 3_600_000),
  });
  return { usage, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), certificateDerB64: der.toString('base64') };
}

/** RSAES-OAEP with SHA-256 and MGF1-SHA-256, as the documentation requires. Throws on failure. */
export function rsaOaepDecrypt(key: EmulatorKey, data: Buffer): Buffer {
  return crypto.privateDecrypt({ key: key.privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, data);
}

/** AES-256-CBC with PKCS#7 padding. Throws on a wrong key or bad padding. */
export function aesDecrypt(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const d = crypto.createDecipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([d.update(data), d.final()]);
}

export const sha256Base64 = (b: Uint8Array): string => crypto.createHash('sha256').update(b).digest('base64');
