import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  aesDecrypt,
  aesEncrypt,
  createSessionKey,
  encryptKsefToken,
  fileMetadata,
  KsefClientError,
  publicKeyFromCertificate,
  publicKeyIdOf,
  sha256Base64,
} from '../../src/ksef/index.js';

const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });

function oaepDecrypt(data: Buffer): Buffer {
  return crypto.privateDecrypt({ key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, data);
}

describe('hashes (known answers)', () => {
  it('SHA-256 in Base64', () => {
    expect(sha256Base64('abc')).toBe('ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=');
    expect(sha256Base64(new Uint8Array())).toBe('47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
    expect(fileMetadata(Buffer.from('abc'))).toEqual({ hash: 'ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=', size: 3 });
  });
});

describe('RSA-OAEP SHA-256', () => {
  it('encrypts token|timestampMs so that the private key recovers it', () => {
    const b64 = encryptKsefToken(publicKey, '20250625-EC-XYZ|nip-5265877635|abcdef', 1752236636015);
    const plain = oaepDecrypt(Buffer.from(b64, 'base64')).toString('utf8');
    expect(plain).toBe('20250625-EC-XYZ|nip-5265877635|abcdef|1752236636015');
  });

  it('uses OAEP with SHA-256 (not SHA-1): SHA-1 OAEP decryption fails', () => {
    const b64 = encryptKsefToken(publicKey, 't', 1);
    expect(() => crypto.privateDecrypt({ key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(b64, 'base64'))).toThrow();
  });

  it('is randomized (two encryptions differ)', () => {
    expect(encryptKsefToken(publicKey, 't', 1)).not.toBe(encryptKsefToken(publicKey, 't', 1));
  });

  it('refuses a non-RSA key with a clear error', () => {
    const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(() => encryptKsefToken(ec, 't', 1)).toThrow(KsefClientError);
  });

  it('wraps a 32-byte AES key and a 16-byte IV for the session', () => {
    const k = createSessionKey(publicKey, 'kid');
    expect(k.key).toHaveLength(32);
    expect(k.iv).toHaveLength(16);
    expect(oaepDecrypt(Buffer.from(k.encryption.encryptedSymmetricKey, 'base64')).equals(k.key)).toBe(true);
    expect(Buffer.from(k.encryption.initializationVector, 'base64').equals(k.iv)).toBe(true);
    expect(k.encryption.publicKeyId).toBe('kid');
  });
});

describe('AES-256-CBC PKCS#7', () => {
  it('matches the NIST SP 800-38A CBC-AES256 vector (first block)', () => {
    const key = Buffer.from('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4', 'hex');
    const iv = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
    const pt = Buffer.from('6bc1bee22e409f96e93d7e117393172a', 'hex');
    const ct = aesEncrypt(key, iv, pt);
    expect(ct.subarray(0, 16).toString('hex')).toBe('f58c4c04d6e5f1ba779eabfb5f7bfbd6');
    expect(ct).toHaveLength(32); // a full padding block follows a block-aligned plaintext
  });

  it('decrypts what it encrypts, with PKCS#7 padding to the next block', () => {
    const key = crypto.randomBytes(32);
    const iv = crypto.randomBytes(16);
    for (const len of [1, 15, 16, 17, 1000]) {
      const pt = crypto.randomBytes(len);
      const ct = aesEncrypt(key, iv, pt);
      expect(ct.length).toBe((Math.floor(len / 16) + 1) * 16);
      expect(aesDecrypt(key, iv, ct).equals(pt)).toBe(true);
    }
  });
});

describe('public keys from certificates', () => {
  it('reads the key of a DER X.509 certificate and computes publicKeyId as SHA-256 of the SPKI', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ksef-cert-'));
    try {
      const keyFile = path.join(dir, 'k.pem');
      const certFile = path.join(dir, 'c.der');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-outform', 'DER', '-out', certFile, '-subj', '/CN=Ministerstwo Finansow', '-days', '2'], { stdio: 'ignore' });
      const der = readFileSync(certFile);
      const key = publicKeyFromCertificate(der.toString('base64'));
      expect(key.asymmetricKeyType).toBe('rsa');
      const spki = key.export({ format: 'der', type: 'spki' });
      expect(publicKeyIdOf(key)).toBe(crypto.createHash('sha256').update(spki).digest('base64'));
      // what we encrypt with it, the certificate's private key decrypts
      const priv = crypto.createPrivateKey(readFileSync(keyFile));
      const b64 = encryptKsefToken(key, 'tok', 5);
      expect(crypto.privateDecrypt({ key: priv, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, Buffer.from(b64, 'base64')).toString()).toBe('tok|5');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts a bare SPKI and rejects garbage', () => {
    const spki = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    expect(publicKeyFromCertificate(spki).asymmetricKeyType).toBe('rsa');
    expect(() => publicKeyFromCertificate(Buffer.from('not a certificate').toString('base64'))).toThrow(KsefClientError);
  });
});
