/**
 * Batch UPO: the session UPO page is stored once, exactly as received, and each document of the batch session is
 * linked to its Dokument entry on it; `upo <document>` writes the page unchanged and says which entry is this
 * invoice's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUpo } from '../../src/cli/commands/upo.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import type { Io } from '../../src/cli/shared.js';
import { documentUpo, invoiceHashOf } from '../../src/dispatch/index.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { parseUpo } from '../../src/ksef/index.js';
import { openBridge } from '../../src/runtime/index.js';
import { getXsdValidator } from '../../src/schemas/index.js';
import { openStore } from '../../src/store/index.js';
import { manyFa3, SELLER_A, TOKEN_A, TOKEN_ENV, tempDir, writeIni, type TempDir } from './helpers.js';

let emu: RunningEmulator;
let tmp: TempDir;
let ini: string;

function capture(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t) };
}

beforeAll(async () => {
  emu = await startEmulator({ tokens: [{ nip: SELLER_A, token: TOKEN_A }], logger: null });
  tmp = tempDir();
  ini = writeIni(tmp.dir, { emulatorUrl: emu.url, sessionMode: 'batch' });
});

afterAll(async () => {
  await emu?.admin.idle();
  await emu?.close();
  tmp?.remove();
});

describe('batch session UPO', () => {
  it('each document is linked to its entry on the session UPO page; upo <document> writes the page as issued and names the entry', async () => {
    const b = await openBridge(ini, { env: TOKEN_ENV, dispatcher: { pollIntervalMs: 20 } });
    let ids: number[];
    try {
      ids = b.dispatcher!.enqueueMany(manyFa3(25, 'FV/UPO/B').map((xml) => ({ xml }))).map((r) => r.documentId);
      const r = await b.dispatcher!.drain({ timeoutMs: 60_000 });
      expect(r.complete).toBe(true);

      const first = b.store.documents.require(ids[0]!);
      const pages = b.store.upos.forSession(first.sessionRef!);
      expect(pages).toHaveLength(1); // one page, stored once, for the whole session
      expect(pages[0]!.documentId).toBeNull();
      const page = pages[0]!;
      const parsed = parseUpo(page.xml);
      expect(parsed.documents).toHaveLength(25);
      const positions = new Set<number>();
      for (const id of ids) {
        const d = b.store.documents.require(id);
        expect(d.state).toBe('confirmed');
        const entry = b.store.upos.entryForDocument(id)!;
        expect(entry.upoId).toBe(page.id);
        positions.add(entry.position);
        // the entry really is this invoice's: the n-th Dokument of the page names its KSeF number, number and hash
        const dok = parsed.documents[entry.position - 1]!;
        expect(dok.ksefNumber).toBe(d.ksefNumber);
        expect(dok.invoiceNumber).toBe(d.invoiceNumber);
        expect(dok.invoiceHash).toBe(invoiceHashOf(d.xml!));
        expect(entry).toMatchObject({ ksefNumber: d.ksefNumber, invoiceNumber: d.invoiceNumber, invoiceHash: dok.invoiceHash, sellerNip: SELLER_A });
        expect(b.store.upos.forDocument(id)).toEqual([]); // no per-document copy of the page
        const found = documentUpo(b.store, d)!;
        expect(found.upo.id).toBe(page.id);
        expect(found.note).toContain(`entry no. ${entry.position}`);
      }
      expect(positions.size).toBe(25);
    } finally {
      await b.close();
    }

    // the command: the page exactly as stored (a UPO is never rewritten), and which entry is this invoice's
    const store = openStore(join(tmp.dir, 'bridge.db'));
    const doc = store.documents.require(ids[7]!);
    const entry = store.upos.entryForDocument(doc.id)!;
    const pageXml = store.upos.get(entry.upoId)!.xml;
    store.close();

    const out = join(tmp.dir, 'upo-batch.xml');
    const io = capture();
    expect(await runUpo(String(doc.id), { config: ini, out }, io)).toBe(EXIT.OK);
    expect(readFileSync(out, 'utf8')).toBe(pageXml);
    expect(getXsdValidator('upo').validate(readFileSync(out, 'utf8')).valid).toBe(true);
    expect(io.stdout.join('\n')).toContain(`Dokument entry no. ${entry.position}: NumerKSeFDokumentu ${doc.ksefNumber}, NumerFaktury ${doc.invoiceNumber}`);

    const toStdout = capture();
    expect(await runUpo(doc.ksefNumber!, { config: ini }, toStdout)).toBe(EXIT.OK);
    expect(toStdout.stdout).toEqual([pageXml]); // standard output is the UPO alone
    expect(toStdout.stderr.join('\n')).toContain(`entry no. ${entry.position}`);
  });

  it('a document without a stored UPO: the command says so and fails', async () => {
    const b = await openBridge(ini, { env: TOKEN_ENV, storeOnly: true, log: { console: 'off', file: false } });
    const r = b.store.documents.insert({ source: 'test', contentHash: 'no-upo', state: 'queued', invoiceNumber: 'FV/UPO/NONE' });
    b.store.documents.transition(r.id, 'sending');
    b.store.documents.transition(r.id, 'accepted', { patch: { ksefNumber: `${SELLER_A}-20260120-0123456789AB-00` } });
    expect(documentUpo(b.store, b.store.documents.require(r.id))).toBeUndefined();
    await b.close();
    const io = capture();
    expect(await runUpo(String(r.id), { config: ini }, io)).toBe(EXIT.INVALID);
    expect(io.stderr.join('\n')).toMatch(/has no UPO yet/);
  });
});
