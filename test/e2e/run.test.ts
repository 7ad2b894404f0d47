/**
 * End to end through `ksef-bridge run` (a child process) against the emulator: a folder, a real OpenSSH SFTP
 * server and SAP's XML-HTTP port, all invoices accepted with KSeF numbers and UPOs; archive, error, results.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentHistory, historyText } from '../../src/bridge/index.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { openStore } from '../../src/store/index.js';
import { startSshd, type SshdServer } from '../helpers/sshd.js';
import { ROOT, SELLER, TOKEN, brokenCsvExport, csvExport, documentStates, sftpRouteYaml, startRun, tempDir, waitFor, writeIni, type TempDir } from './helpers.js';

let emulator: RunningEmulator;
let sshd: SshdServer;
let tmp: TempDir;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) for (const f of files(path.join(dir, e.name))) out.push(`${e.name}/${f}`);
    else out.push(e.name);
  }
  return out.sort();
}

beforeAll(async () => {
  emulator = await startEmulator({ tokens: [{ nip: SELLER, token: TOKEN }], logger: null });
  sshd = await startSshd();
  tmp = tempDir();
});
afterAll(async () => {
  await emulator?.close();
  await sshd?.dispose();
  tmp?.remove();
});

describe('ksef-bridge run, end to end', () => {
  it('folder, SFTP and HTTP routes: every invoice accepted with a KSeF number and a UPO; archive, error and results hold what they should', async () => {
    const dir = tmp.dir;
    const ini = writeIni(dir, { emulatorUrl: emulator.url, autoBatchThreshold: 3 });
    const httpPort = await freePort();
    const remote = path.join(sshd.dataDir, 'erp');
    writeFileSync(
      path.join(dir, 'routes.yaml'),
      [
        'routes:',
        '  - name: csv',
        '    source: { kind: folder, inbox: ./in/csv, stable: 200ms }',
        `    mapping: ${ROOT}/mappings/generic-csv.yaml`,
        '    results: { template: csv, folder: ./results/csv }',
        ...sftpRouteYaml(sshd, remote),
        '  - name: sap',
        `    source: { kind: http, port: ${httpPort}, username: sap, password: e2e-sap-password-1, idoc: true }`,
        `    mapping: ${ROOT}/mappings/sap-invoic02.yaml`,
        '    results: { template: xml, folder: ./results/sap }',
        '',
      ].join('\n'),
    );
    // dropped before the start: picked up by the scan at start
    const { mkdirSync } = await import('node:fs');
    mkdirSync(path.join(dir, 'in', 'csv'), { recursive: true });
    writeFileSync(path.join(dir, 'in', 'csv', 'early.csv'), csvExport(['E2E/F/1', 'E2E/F/2']));
    const run = startRun(ini);
    try {
      await waitFor('the bridge to start', () => run.output().includes('running 3 routes'), 30_000, run.output);
      writeFileSync(path.join(dir, 'in', 'csv', 'many.csv'), csvExport(['E2E/F/3', 'E2E/F/4', 'E2E/F/5', 'E2E/F/6']));
      writeFileSync(path.join(dir, 'in', 'csv', 'broken.csv'), brokenCsvExport('E2E/F/7', 'E2E/F/BAD'));
      await sshd.put(path.join(remote, 'out', 'remote.csv'), csvExport(['E2E/S/1', 'E2E/S/2']));
      const res = await fetch(`http://127.0.0.1:${httpPort}/sap/idoc`, {
        method: 'POST',
        headers: { 'content-type': 'application/xml', authorization: `Basic ${Buffer.from('sap:e2e-sap-password-1').toString('base64')}` },
        body: readFileSync(path.join(ROOT, 'mappings', 'tests', 'sap-invoic02', 'invoice-eur.xml')),
      });
      expect(res.status).toBe(200);
      const db = path.join(dir, 'data', 'ksef-bridge.sqlite');
      // 2 + 4 + 1 (broken file: 1 valid) + 2 (SFTP) + 2 (IDoc-XML) = 11 invoices
      await waitFor('11 confirmed documents', () => documentStates(db).confirmed === 11, 60_000, () => `${JSON.stringify(documentStates(db))}\n${run.output()}`);
      // results are written as invoices reach final states and again when the UPOs arrive: wait for the last writes
      const settled = (file: string): boolean => existsSync(file) && !/(;|"state": "|<State>)(queued|sending|accepted)(;|"|<)/.test(readFileSync(file, 'utf8'));
      await waitFor(
        'all results written after the UPOs',
        () =>
          settled(path.join(remote, 'results', 'remote.result.json')) &&
          ['early', 'many', 'broken'].every((n) => settled(path.join(dir, 'results', 'csv', `${n}.result.csv`))) &&
          files(path.join(dir, 'results', 'sap')).filter((f) => f.endsWith('.result.xml')).length === 1 &&
          files(path.join(dir, 'results', 'sap')).filter((f) => f.endsWith('.result.xml')).every((f) => settled(path.join(dir, 'results', 'sap', f))),
        30_000,
      );
      const states = documentStates(db);
      expect(states).toEqual({ confirmed: 11 });

      // the emulator: exactly one KSeF number per invoice
      const invoices = emulator.admin.listInvoices(SELLER, 10_000);
      const numbers = invoices.map((i) => i.invoiceNumber).sort();
      expect(numbers).toEqual(['0090020200', '0090020201', 'E2E/F/1', 'E2E/F/2', 'E2E/F/3', 'E2E/F/4', 'E2E/F/5', 'E2E/F/6', 'E2E/F/7', 'E2E/S/1', 'E2E/S/2']);

      // archive and error
      const archive = files(path.join(dir, 'data', 'archive'));
      expect(archive.filter((f) => f.startsWith('csv/')).map((f) => path.basename(f)).sort()).toEqual(['early.csv', 'many.csv']);
      expect(archive.filter((f) => f.startsWith('sftp/')).map((f) => path.basename(f))).toEqual(['remote.csv']);
      expect(archive.filter((f) => f.startsWith('sap/'))).toHaveLength(1);
      expect(files(path.join(dir, 'data', 'error'))).toEqual(['csv/broken.csv', 'csv/broken.csv.error.txt']);
      const report = readFileSync(path.join(dir, 'data', 'error', 'csv', 'broken.csv.error.txt'), 'utf8');
      expect(report).toContain('E2E/F/BAD');
      expect(report).toContain('MAPPING_VALUE_INVALID');
      expect(report).toMatch(/went on to KSeF[\s\S]*E2E\/F\/7/);
      expect(existsSync(path.join(remote, 'done', 'remote.csv'))).toBe(true);
      expect(existsSync(path.join(remote, 'out', 'remote.csv'))).toBe(false);
      expect(files(path.join(dir, 'in', 'csv'))).toEqual([]);

      // results: one line per invoice with the KSeF number and the UPO file written next to it
      const byNumber = new Map(invoices.map((i) => [i.invoiceNumber, i.ksefNumber]));
      const many = readFileSync(path.join(dir, 'results', 'csv', 'many.result.csv'), 'utf8').trim().split('\n');
      expect(many).toHaveLength(5);
      for (const line of many.slice(1)) {
        const cols = line.split(';');
        expect(cols[3]).toBe('confirmed');
        expect(cols[4]).toBe(byNumber.get(cols[1]!));
        expect(existsSync(path.join(dir, 'results', 'csv', cols[8]!))).toBe(true);
      }
      const broken = readFileSync(path.join(dir, 'results', 'csv', 'broken.result.csv'), 'utf8');
      expect(broken).toMatch(/E2E\/F\/BAD;2;invalid;;;;;;MAPPING_VALUE_INVALID;/);
      expect(broken).toContain(`E2E/F/7;1;confirmed;${byNumber.get('E2E/F/7')}`);
      const remoteResult = JSON.parse(readFileSync(path.join(remote, 'results', 'remote.result.json'), 'utf8')) as { invoices: { ksefNumber: string; state: string; upoFile: string }[] };
      expect(remoteResult.invoices.map((i) => i.ksefNumber).sort()).toEqual([byNumber.get('E2E/S/1'), byNumber.get('E2E/S/2')].sort());
      for (const i of remoteResult.invoices) expect(existsSync(path.join(remote, 'results', i.upoFile))).toBe(true);
      const sapResults = files(path.join(dir, 'results', 'sap'));
      expect(sapResults.filter((f) => f.endsWith('.result.xml'))).toHaveLength(1);
      // two invoice UPOs (interactive session) or one session UPO (when they went in a batch): each named file exists
      const sapXml = readFileSync(path.join(dir, 'results', 'sap', sapResults.find((f) => f.endsWith('.result.xml'))!), 'utf8');
      const upoFiles = [...sapXml.matchAll(/<UpoFile>([^<]+)<\/UpoFile>/g)].map((m) => m[1]!);
      expect(upoFiles).toHaveLength(2);
      for (const u of upoFiles) expect(sapResults).toContain(u);

      // a second instance on the same data folder is refused
      const second = startRun(ini);
      expect(await second.exited).toBe(3);
      expect(second.output()).toMatch(/another ksef-bridge \(pid \d+/);

      // the same file again: recognised, nothing sent twice
      writeFileSync(path.join(dir, 'in', 'csv', 'many-again.csv'), csvExport(['E2E/F/3', 'E2E/F/4', 'E2E/F/5', 'E2E/F/6']));
      await waitFor('the repeated file archived', () => files(path.join(dir, 'data', 'archive')).some((f) => f.endsWith('many-again.csv')), 30_000);
      // a corrected broken file: only the fixed invoice is new
      writeFileSync(path.join(dir, 'in', 'csv', 'broken.csv'), csvExport(['E2E/F/7', 'E2E/F/BAD']));
      await waitFor('12 confirmed documents', () => documentStates(db).confirmed === 12, 30_000, () => JSON.stringify(documentStates(db)));
      expect(emulator.admin.listInvoices(SELLER, 10_000)).toHaveLength(12);
    } finally {
      expect(await run.stop()).toBe(0);
    }
    expect(run.output()).toMatch(/SIGTERM received, stopping/);
    expect(run.output()).toMatch(/document \d+ E2E\/F\/1 .*queued/);
    expect(existsSync(path.join(dir, 'data', 'ksef-bridge.lock'))).toBe(false);

    // a document's whole history (for `ksef-bridge status <document>`)
    const store = openStore(path.join(dir, 'data', 'ksef-bridge.sqlite'));
    try {
      const id = (store.db.prepare(`SELECT id FROM documents WHERE invoice_number = 'E2E/S/1'`).get() as { id: number }).id;
      const h = documentHistory(store, id)!;
      expect(h.sources).toEqual([expect.objectContaining({ route: 'sftp', file: 'remote.csv', position: 1, mapping: path.join(ROOT, 'mappings', 'generic-csv.yaml') })]);
      expect(h.ksefNumber).toMatch(/^5260181596-/);
      expect(h.session?.referenceNumber).toBeTruthy();
      expect(h.upo?.xml).toContain(h.ksefNumber!);
      expect(h.fa3Xml).toContain('<P_2>E2E/S/1</P_2>');
      expect(h.events.map((e) => e.to)).toEqual(['queued', 'sending', 'accepted', 'confirmed']);
      const text = historyText(h);
      expect(text).toMatch(/source file\s+remote\.csv \(invoice 1, line 1\)/);
      expect(text).toMatch(/route\s+sftp/);
    } finally {
      store.close();
    }
  });

  it('refuses to start with a clear message when the routes are wrong', async () => {
    const t = tempDir();
    try {
      const ini = writeIni(t.dir, { emulatorUrl: emulator.url });
      writeFileSync(path.join(t.dir, 'routes.yaml'), ['routes:', '  - name: a', '    source: { kind: folder, inbox: ./in, stabel: 1s }', '    mapping: ./nope.yaml', ''].join('\n'));
      const run = startRun(ini);
      expect(await run.exited).toBe(3);
      expect(run.output()).toMatch(/routes\.yaml:3:\d+: .*unknown key stabel; did you mean stable\?/);
      expect(run.output()).toMatch(/routes\.yaml:4:\d+: .*mapping file .*nope\.yaml does not exist/);
    } finally {
      t.remove();
    }
  });
});
