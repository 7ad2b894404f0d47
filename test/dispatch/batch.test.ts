/**
 * Batch-UPO mode against the emulator over HTTP, store on disk: 10,000 invoices in one batch session split in
 * several parts, as ZIP and as tar.gz, each matched back (by invoice hash) to its KSeF number and confirmed by
 * the session UPO; mixed results; the automatic switch from immediate to batch above the threshold.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { isValidKsefNumber, parseUpo } from '../../src/ksef/index.js';
import { openBridge, type Bridge } from '../../src/runtime/index.js';
import { getXsdValidator } from '../../src/schemas/index.js';
import { fa3, manyFa3, oversizeFa3, SELLER_A, TOKEN_A, TOKEN_ENV, tempDir, writeIni, xsdInvalidFa3, type DispatchProgressLike, type TempDir } from './helpers.js';

let emu: RunningEmulator;
const dirs: TempDir[] = [];
const bridges: Bridge[] = [];

beforeAll(async () => {
  emu = await startEmulator({ tokens: [{ nip: SELLER_A, token: TOKEN_A }], logger: null });
});

afterAll(async () => {
  for (const b of bridges) await b.close();
  await emu?.admin.idle();
  await emu?.close();
  for (const d of dirs) d.remove();
});

async function open(o: { format: 'zip' | 'tar.gz'; sessionMode?: 'immediate' | 'batch'; threshold?: number; progress?: DispatchProgressLike[] }): Promise<Bridge> {
  const tmp = tempDir();
  dirs.push(tmp);
  const ini = writeIni(tmp.dir, { emulatorUrl: emu.url, sessionMode: o.sessionMode ?? 'batch', format: o.format, autoBatchThreshold: o.threshold ?? 5 });
  const b = await openBridge(ini, {
    env: TOKEN_ENV,
    dispatcher: { batch: { maxPartSize: o.format === 'zip' ? 1_000_000 : 100_000 } },
    ...(o.progress ? { onProgress: (p) => o.progress!.push(p) } : {}),
  });
  bridges.push(b);
  return b;
}

describe('batch-UPO mode', () => {
  for (const format of ['zip', 'tar.gz'] as const) {
    it(`10,000 invoices in one ${format} batch session of several parts, each matched to its KSeF number and confirmed by the session UPO`, async () => {
      const progress: DispatchProgressLike[] = [];
      const b = await open({ format, progress });
      const d = b.dispatcher!;
      const prefix = format === 'zip' ? 'FV/Z' : 'FV/T';
      const results = d.enqueueMany(manyFa3(10_000, prefix).map((xml, i) => ({ xml, source: 'bulk', sourceRef: `${i + 1}` })));
      expect(results.filter((r) => r.state === 'queued')).toHaveLength(10_000);
      const r = await d.drain({ timeoutMs: 240_000 });
      expect(r.complete).toBe(true);
      expect(r.states).toEqual({ confirmed: 10_000 });
      const sessions = b.store.db.prepare(`SELECT DISTINCT session_ref AS s FROM documents`).all() as { s: string }[];
      expect(sessions).toHaveLength(1);
      const session = b.store.sessions.require(sessions[0]!.s);
      expect(session.kind).toBe('batch');
      expect(session.state).toBe('done');
      expect((session.details as { parts: number }).parts).toBeGreaterThan(1);
      expect((session.details as { format: string }).format).toBe(format);
      // every document: a valid KSeF number, the one the emulator gave to exactly that invoice (same hash)
      const emuByNumber = new Map(emu.admin.listInvoices(SELLER_A, 100_000).map((i) => [i.ksefNumber, i]));
      const numbers = new Set<string>();
      for (const doc of b.store.documents.findBySession(session.referenceNumber)) {
        expect(doc.state).toBe('confirmed');
        expect(isValidKsefNumber(doc.ksefNumber!)).toBe(true);
        numbers.add(doc.ksefNumber!);
        const at = emuByNumber.get(doc.ksefNumber!);
        expect(at?.invoiceNumber).toBe(doc.invoiceNumber);
      }
      expect(numbers.size).toBe(10_000);
      // the session UPO is stored once per page, valid against the XSD, and lists every document
      const upos = b.store.upos.forSession(session.referenceNumber);
      expect(upos.length).toBeGreaterThan(0);
      const listed = new Set<string>();
      for (const u of upos) {
        expect(getXsdValidator('upo').validate(u.xml).valid).toBe(true);
        for (const x of parseUpo(u.xml).documents) listed.add(x.ksefNumber);
      }
      expect([...numbers].every((n) => listed.has(n))).toBe(true);
      // progress was visible per stage
      const stages = new Set(progress.map((p) => p.stage));
      for (const s of ['batch-package', 'batch-encrypt', 'batch-open', 'batch-upload', 'batch-close', 'batch-wait', 'batch-results', 'upo']) expect(stages).toContain(s);
    });
  }

  it('a package that needs more parts than KSeF allows is split into several batch sessions', async () => {
    const tmp = tempDir();
    dirs.push(tmp);
    // parts of at most 1,000 bytes: 200 invoices need more than 50 parts; the dispatcher halves until a package fits
    const small = await openBridge(writeIni(tmp.dir, { emulatorUrl: emu.url, sessionMode: 'batch', format: 'zip' }), { env: TOKEN_ENV, dispatcher: { batch: { maxPartSize: 1_000 } } });
    bridges.push(small);
    const ids = small.dispatcher!.enqueueMany(manyFa3(200, 'FV/SPLIT').map((xml) => ({ xml }))).map((r) => r.documentId);
    const r = await small.dispatcher!.drain({ timeoutMs: 60_000 });
    expect(r.complete).toBe(true);
    const sessions = new Set(ids.map((id) => small.store.documents.require(id).sessionRef));
    expect(sessions.size).toBeGreaterThan(1);
    expect(ids.every((id) => small.store.documents.require(id).state === 'confirmed')).toBe(true);
  });

  it('mixed results in a batch: XSD-invalid, duplicate and oversize rejected with the emulator codes, the others accepted', async () => {
    const b = await open({ format: 'zip' });
    const d = b.dispatcher!;
    const first = d.enqueue({ xml: fa3('FV/BMIX/1') });
    await d.drain({ timeoutMs: 60_000 });
    expect(b.store.documents.require(first.documentId).state).toBe('confirmed');
    const put = (xml: string, ref: string): number =>
      b.store.documents.insert({ source: 'test', sourceRef: ref, contentHash: ref, companyNip: SELLER_A, sellerNip: SELLER_A, xml, state: 'queued' }).id;
    const goods = [fa3('FV/BMIX/2'), fa3('FV/BMIX/3')].map((xml, i) => put(xml, `good${i}`));
    const dup = put(fa3('FV/BMIX/1').replace('ul. Piotrkowska 100', 'ul. Piotrkowska 102'), 'dup');
    const invalid = put(xsdInvalidFa3('FV/BMIX/4'), 'invalid');
    const big = put(oversizeFa3('FV/BMIX/5'), 'big');
    const r = await d.drain({ timeoutMs: 60_000 });
    expect(r.complete).toBe(true);
    for (const id of goods) expect(b.store.documents.require(id).state).toBe('confirmed');
    const sessionRef = b.store.documents.require(goods[0]!).sessionRef!;
    expect(b.store.sessions.require(sessionRef).kind).toBe('batch');
    const dupDoc = b.store.documents.require(dup);
    expect(dupDoc.state).toBe('rejected');
    expect(dupDoc.lastError?.code).toBe('KSEF_440_DUPLICATE');
    expect((dupDoc.lastError?.details as { originalKsefNumber: string }).originalKsefNumber).toBe(b.store.documents.require(first.documentId).ksefNumber);
    for (const id of [invalid, big]) {
      const doc = b.store.documents.require(id);
      expect(doc.state).toBe('rejected');
      expect((doc.lastError?.details as { ksefCode: number }).ksefCode).toBe(430);
      expect(doc.attempts).toBe(1);
    }
  });

  it('immediate mode switches a group above the threshold to one batch session by itself', async () => {
    const b = await open({ format: 'zip', sessionMode: 'immediate', threshold: 5 });
    const d = b.dispatcher!;
    const few = [1, 2, 3].map((i) => d.enqueue({ xml: fa3(`FV/AUTO/S${i}`) }).documentId);
    await d.drain({ timeoutMs: 60_000 });
    const small = new Set(few.map((id) => b.store.documents.require(id).sessionRef!));
    expect([...small].map((s) => b.store.sessions.require(s).kind)).toEqual(['online']);
    const many = Array.from({ length: 12 }, (_, i) => d.enqueue({ xml: fa3(`FV/AUTO/B${i}`) }).documentId);
    const r = await d.drain({ timeoutMs: 60_000 });
    expect(r.complete).toBe(true);
    const refs = new Set(many.map((id) => b.store.documents.require(id).sessionRef!));
    expect(refs.size).toBe(1);
    expect(b.store.sessions.require([...refs][0]!).kind).toBe('batch');
    expect(many.every((id) => b.store.documents.require(id).state === 'confirmed')).toBe(true);
  });
});
