/**
 * Immediate-UPO mode against the emulator over HTTP, store on disk: 20 invoices, each with a KSeF number in the
 * official format and a UPO valid against the UPO XSD; mixed results (XSD-invalid, duplicate, oversize) rejected
 * with the emulator's codes while the others are accepted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { isValidKsefNumber, parseUpo } from '../../src/ksef/index.js';
import { openBridge, type Bridge } from '../../src/runtime/index.js';
import { getXsdValidator } from '../../src/schemas/index.js';
import { fa3, oversizeFa3, SELLER_A, TOKEN_A, TOKEN_ENV, tempDir, writeIni, xsdInvalidFa3, type TempDir } from './helpers.js';

let emu: RunningEmulator;
let tmp: TempDir;
let bridge: Bridge;

beforeAll(async () => {
  emu = await startEmulator({ tokens: [{ nip: SELLER_A, token: TOKEN_A }], logger: null });
  tmp = tempDir();
  const ini = writeIni(tmp.dir, { emulatorUrl: emu.url, sessionMode: 'immediate', autoBatchThreshold: 0 });
  bridge = await openBridge(ini, { env: TOKEN_ENV });
});

afterAll(async () => {
  await bridge?.close();
  await emu?.admin.idle();
  await emu?.close();
  tmp?.remove();
});

describe('immediate-UPO mode', () => {
  it('sends 20 invoices one by one: each gets a KSeF number and a UPO valid against the XSD', async () => {
    const d = bridge.dispatcher!;
    const ids = Array.from({ length: 20 }, (_, i) => d.enqueue({ xml: fa3(`FV/IMM/${i + 1}`), sourceRef: `imm-${i + 1}.xml` }));
    expect(ids.every((r) => r.state === 'queued')).toBe(true);
    const result = await d.drain({ documentIds: ids.map((r) => r.documentId), timeoutMs: 60_000 });
    expect(result.complete).toBe(true);
    expect(result.states).toEqual({ confirmed: 20 });
    const upoXsd = getXsdValidator('upo');
    const numbers = new Set<string>();
    for (const { documentId } of ids) {
      const doc = bridge.store.documents.require(documentId);
      expect(doc.state).toBe('confirmed');
      expect(isValidKsefNumber(doc.ksefNumber!)).toBe(true);
      expect(doc.ksefNumber!.startsWith(`${SELLER_A}-`)).toBe(true);
      numbers.add(doc.ksefNumber!);
      const upos = bridge.store.upos.forDocument(documentId);
      expect(upos).toHaveLength(1);
      const v = upoXsd.validate(upos[0]!.xml);
      expect(v.issues).toEqual([]);
      expect(v.valid).toBe(true);
      const parsed = parseUpo(upos[0]!.xml);
      expect(parsed.documents.map((x) => x.ksefNumber)).toEqual([doc.ksefNumber]);
      // the history shows sending before accepted
      const path = bridge.store.documents.events(documentId).map((e) => e.to);
      expect(path).toEqual(['queued', 'sending', 'accepted', 'confirmed']);
    }
    expect(numbers.size).toBe(20);
    // one interactive session served them all
    const sessions = new Set(ids.map(({ documentId }) => bridge.store.documents.require(documentId).sessionRef));
    expect(sessions.size).toBe(1);
    const emuInvoices = emu.admin.listInvoices(SELLER_A, 1000).filter((i) => numbers.has(i.ksefNumber!));
    expect(emuInvoices).toHaveLength(20);
  });

  it('mixed results: XSD-invalid, duplicate and oversize invoices rejected with the emulator codes, the others accepted', async () => {
    const d = bridge.dispatcher!;
    const good1 = d.enqueue({ xml: fa3('FV/MIX/1') });
    const good2 = d.enqueue({ xml: fa3('FV/MIX/2') });
    // a different document with the number of an accepted invoice (another buyer's address changes the hash)
    const dupXml = fa3('FV/MIX/1').replace('ul. Piotrkowska 100', 'ul. Piotrkowska 101');
    const store = bridge.store;
    const put = (xml: string, ref: string): number =>
      store.documents.insert({ source: 'test', sourceRef: ref, contentHash: ref, companyNip: SELLER_A, sellerNip: SELLER_A, xml, state: 'queued' }).id;
    await d.drain({ documentIds: [good1.documentId], timeoutMs: 60_000 });
    const dup = put(dupXml, 'dup');
    const invalid = put(xsdInvalidFa3('FV/MIX/3'), 'invalid');
    const big = put(oversizeFa3('FV/MIX/4'), 'big');
    const r = await d.drain({ documentIds: [good2.documentId, dup, invalid, big], timeoutMs: 60_000 });
    expect(r.complete).toBe(true);
    expect(store.documents.require(good2.documentId).state).toBe('confirmed');
    const original = store.documents.require(good1.documentId).ksefNumber;
    const dupDoc = store.documents.require(dup);
    expect(dupDoc.state).toBe('rejected');
    expect(dupDoc.lastError?.code).toBe('KSEF_440_DUPLICATE');
    expect((dupDoc.lastError?.details as { originalKsefNumber?: string }).originalKsefNumber).toBe(original);
    for (const id of [invalid, big]) {
      const doc = store.documents.require(id);
      expect(doc.state).toBe('rejected');
      expect(doc.lastError?.code).toBe('KSEF_430_INVALID_FILE');
      expect((doc.lastError?.details as { ksefCode: number }).ksefCode).toBe(430);
      expect(doc.ksefNumber).toBeNull();
    }
    expect(JSON.stringify(store.documents.require(big).lastError?.details)).toMatch(/przekracza/);
    // rejected documents are never retried: one sending each
    for (const id of [dup, invalid, big]) expect(store.documents.require(id).attempts).toBe(1);
  });
});
