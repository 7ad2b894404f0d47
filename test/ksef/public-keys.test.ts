import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PublicKeyStore, selectCertificate, type PublicKeyCertificate } from '../../src/ksef/index.js';
import { ManualClock } from './manual-clock.js';

const spki = () => crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64');

function cert(id: string, usage: PublicKeyCertificate['usage'], from: string, to: string): PublicKeyCertificate {
  return { certificate: spki(), certificateId: `c-${id}`, publicKeyId: `k-${id}`, validFrom: from, validTo: to, usage };
}

describe('certificate selection (klucze-publiczne-do-szyfrowania.md 4.1)', () => {
  const list = [
    cert('token', ['KsefTokenEncryption'], '2025-09-29T06:03:19+00:00', '2027-09-29T06:03:18+00:00'),
    cert('old', ['SymmetricKeyEncryption'], '2025-09-29T06:17:45+00:00', '2027-09-29T06:17:44+00:00'),
    cert('new', ['SymmetricKeyEncryption'], '2027-03-14T06:12:41+00:00', '2029-03-14T06:12:40+00:00'),
  ];
  it('picks by usage and validity, preferring the latest validFrom during a planned rotation', () => {
    expect(selectCertificate(list, 'KsefTokenEncryption', Date.parse('2026-01-01'))?.publicKeyId).toBe('k-token');
    expect(selectCertificate(list, 'SymmetricKeyEncryption', Date.parse('2026-01-01'))?.publicKeyId).toBe('k-old');
    expect(selectCertificate(list, 'SymmetricKeyEncryption', Date.parse('2027-05-01'))?.publicKeyId).toBe('k-new');
    expect(selectCertificate(list, 'KsefTokenEncryption', Date.parse('2028-01-01'))).toBeUndefined();
  });
});

describe('PublicKeyStore', () => {
  it('caches the list, refetches when the chosen key expired, and after invalidate()', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
    let fetches = 0;
    let lists: PublicKeyCertificate[][] = [
      [cert('a', ['SymmetricKeyEncryption'], '2025-01-01T00:00:00Z', '2026-01-02T00:00:00Z')],
      [cert('b', ['SymmetricKeyEncryption'], '2026-01-01T12:00:00Z', '2028-01-01T00:00:00Z')],
      [cert('c', ['SymmetricKeyEncryption'], '2026-01-01T12:00:00Z', '2028-01-01T00:00:00Z')],
    ];
    const store = new PublicKeyStore({
      clock,
      fetchCertificates: async () => {
        fetches++;
        return lists.shift() ?? [];
      },
    });
    expect((await store.get('SymmetricKeyEncryption')).publicKeyId).toBe('k-a');
    expect((await store.get('SymmetricKeyEncryption')).publicKeyId).toBe('k-a');
    expect(fetches).toBe(1);
    await clock.advance(36 * 3_600_000); // key a expired
    expect((await store.get('SymmetricKeyEncryption')).publicKeyId).toBe('k-b');
    expect(fetches).toBe(2);
    store.invalidate(); // e.g. after KSeF answered 21470
    expect((await store.get('SymmetricKeyEncryption')).publicKeyId).toBe('k-c');
    expect(fetches).toBe(3);
    lists = [];
    store.invalidate();
    await expect(store.get('KsefTokenEncryption')).rejects.toMatchObject({ code: 'KSEF_PUBLIC_KEY_MISSING' });
  });
});
