import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEmulator, type TestEnv } from './helpers/setup.js';
import type { PublicKeyCertificate } from './helpers/client.js';

let env: TestEnv;
beforeAll(async () => {
  env = await startTestEmulator();
});
afterAll(async () => env.emu.close());

describe('GET /security/public-key-certificates', () => {
  it('publishes one certificate per usage, with ids and validity as documented', async () => {
    const r = await env.client.call<PublicKeyCertificate[]>('GET', '/security/public-key-certificates');
    expect(r.status).toBe(200);
    const usages = r.json.flatMap((c) => c.usage).sort();
    expect(usages).toEqual(['KsefTokenEncryption', 'SymmetricKeyEncryption']);
    for (const c of r.json) {
      const der = Buffer.from(c.certificate, 'base64');
      const x509 = new crypto.X509Certificate(der);
      expect(x509.publicKey.asymmetricKeyType).toBe('rsa');
      expect(x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
      expect(x509.verify(x509.publicKey)).toBe(true); // self-signed
      expect(c.certificateId).toBe(crypto.createHash('sha256').update(der).digest('base64'));
      const spki = x509.publicKey.export({ type: 'spki', format: 'der' });
      expect(c.publicKeyId).toBe(crypto.createHash('sha256').update(spki).digest('base64'));
      expect(new Date(c.validFrom).getTime()).toBe(new Date(x509.validFrom).getTime());
      expect(new Date(c.validTo).getTime()).toBe(new Date(x509.validTo).getTime());
      expect(new Date(c.validFrom).getTime()).toBeLessThan(Date.now());
      expect(new Date(c.validTo).getTime()).toBeGreaterThan(Date.now());
    }
    expect(r.json[0]?.publicKeyId).not.toBe(r.json[1]?.publicKeyId);
  });
});
