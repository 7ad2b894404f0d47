import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc8, isValidKsefNumber, parseKsefNumber, parseUpo, upoEntries, KsefClientError } from '../../src/ksef/index.js';

const EXAMPLES = path.resolve(process.env.KSEF_SHARED_DIR ?? path.join(__dirname, '../../../shared/ksef'), 'upo-examples');

describe('KSeF number', () => {
  it('validates the documented example and detects a wrong checksum', () => {
    expect(parseKsefNumber('5265877635-20250826-0100001AF629-AF')).toEqual({ nip: '5265877635', date: '20250826', technical: '0100001AF629', checksum: 'AF' });
    expect(isValidKsefNumber('5265877635-20250826-0100001AF629-AE')).toBe(false);
    expect(isValidKsefNumber('5265877635-20250826-0100001AF629')).toBe(false);
    expect(isValidKsefNumber('5265877635-20250826-0100001af629-AF')).toBe(false);
  });

  it('CRC-8 poly 0x07 init 0 (check value of "123456789" is 0xF4)', () => {
    expect(crc8(Buffer.from('123456789'))).toBe(0xf4);
  });
});

describe('UPO', () => {
  it('parses the official per-invoice and session UPO examples', () => {
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.xml'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const xml = readFileSync(path.join(EXAMPLES, f), 'utf8');
      const u = parseUpo(xml);
      expect(u.receiverName.startsWith('Ministerstwo Finansów')).toBe(true);
      expect(u.sessionReferenceNumber).toMatch(/^[0-9A-Z-]{36}$/);
      expect(u.documents.length).toBeGreaterThan(0);
      for (const d of u.documents) {
        expect(isValidKsefNumber(d.ksefNumber)).toBe(true);
        expect(d.invoiceHash).toHaveLength(44);
        expect(d.acquisitionDate).toMatch(/^\d{4}-\d{2}-\d{2}T/);
      }
    }
  });

  it('turns a session UPO into one record per invoice with the XML kept as received', () => {
    const xml = readFileSync(path.join(EXAMPLES, 'upo-sesja-kontekst-id-nip.xml'), 'utf8');
    const recs = upoEntries(xml, '20250901-EU-47FDBE3000-5961A5D232-BF');
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({
      ksefNumber: '5265877635-20250916-010040741B3E-46',
      invoiceHash: 'jli86Kp2Kw7jppX59P8VmjWRcwLTvsPK3DcPEB87mNk=',
      invoiceNumber: 'FA/SIGTF-3388125147/11/2025',
      sellerNip: '5265877635',
      receivedAt: '2025-09-16T11:02:41.584+02:00',
      acquisitionDate: '2025-09-16T11:02:42.084+02:00',
      sessionReferenceNumber: '36950822-93-9D5A28BFDA-47C899773E-5C',
      upoReferenceNumber: '20250901-EU-47FDBE3000-5961A5D232-BF',
    });
    expect(recs[0]!.upoXml).toBe(xml);
    const u = parseUpo(xml);
    expect(u.context).toEqual({ type: 'Nip', value: '5265877635' });
    expect(u.page).toEqual({ number: 1, pages: 1, from: 1, to: 2, total: 2 });
  });

  it('rejects what is not a UPO', () => {
    expect(() => parseUpo('<x/>')).toThrow(KsefClientError);
    expect(() => parseUpo('not xml <')).toThrow(KsefClientError);
  });
});
