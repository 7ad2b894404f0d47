import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseIdocFlat } from '../../src/formats/index.js';
import { Secret } from '../../src/log/index.js';
import { buildIdocFlat, createRfcSource, type RfcRow, type RfcSource, type RfcSourceOptions, type SourceHandler } from '../../src/sources/index.js';
import { FakeSap, type FakeIdoc } from './rfc-double.js';
import { deferred, listFiles, recordingHandler, tempDir, waitFor } from './util.js';

const CONTROL: Array<[string, number]> = [
  ['TABNAM', 10], ['MANDT', 3], ['DOCNUM', 16], ['DOCREL', 4], ['STATUS', 2], ['DIRECT', 1], ['OUTMOD', 1], ['EXPRSS', 1],
  ['TEST', 1], ['IDOCTYP', 30], ['CIMTYP', 30], ['MESTYP', 30], ['MESCOD', 3], ['MESFCT', 3], ['STD', 1], ['STDVRS', 6],
  ['STDMES', 6], ['SNDPOR', 10], ['SNDPRT', 2], ['SNDPFC', 2], ['SNDPRN', 10], ['SNDSAD', 21], ['SNDLAD', 70], ['RCVPOR', 10],
  ['RCVPRT', 2], ['RCVPFC', 2], ['RCVPRN', 10], ['RCVSAD', 21], ['RCVLAD', 70], ['CREDAT', 8], ['CRETIM', 6], ['REFINT', 14],
  ['REFGRP', 14], ['REFMES', 14], ['ARCKEY', 70], ['SERIAL', 20],
];
const DATA: Array<[string, number]> = [['SEGNAM', 30], ['MANDT', 3], ['DOCNUM', 16], ['SEGNUM', 6], ['PSGNUM', 6], ['HLEVEL', 2], ['SDATA', 1000]];

function slice(line: string, layout: Array<[string, number]>): RfcRow {
  const chars = [...line];
  const row: RfcRow = {};
  let at = 0;
  for (const [name, len] of layout) {
    row[name] = chars.slice(at, at + len).join('');
    at += len;
  }
  return row;
}

/** The shipped sample IDoc flat file, as SAP would return its records over RFC, plus each IDoc's original lines. */
async function sampleIdocs(): Promise<Array<{ idoc: FakeIdoc; lines: string[] }>> {
  const text = await readFile(join(import.meta.dirname, '../../mappings/tests/sap-invoic02/invoice-pln.idoc'), 'utf8');
  const out: Array<{ idoc: FakeIdoc; lines: string[] }> = [];
  for (const line of text.split(/\r?\n/).filter((l) => l.length > 0)) {
    if (line.startsWith('EDI_DC40')) out.push({ idoc: { control: slice(line, CONTROL), data: [] }, lines: [line] });
    else {
      out.at(-1)!.idoc.data.push(slice(line, DATA));
      out.at(-1)!.lines.push(line);
    }
  }
  return out;
}

function simpleIdoc(docnum: string, segments = 2): FakeIdoc {
  return {
    control: { TABNAM: 'EDI_DC40', MANDT: '100', DOCNUM: docnum, DIRECT: '1', IDOCTYP: 'INVOIC02', MESTYP: 'INVOIC', SNDPRN: 'PRDCLNT100' },
    data: Array.from({ length: segments }, (_, i) => ({ SEGNAM: i === 0 ? 'E1EDK01' : 'E1EDKA1', DOCNUM: docnum, SEGNUM: String(i + 1).padStart(6, '0'), PSGNUM: '000000', HLEVEL: '02', SDATA: `data ${docnum} ${i}` })),
  };
}

async function setup(sap: FakeSap, handler: SourceHandler, extra: Partial<RfcSourceOptions> = {}) {
  const dir = await tempDir();
  const src = await createRfcSource({
    name: 'sap-rfc',
    connection: { ashost: 'sap.example', sysnr: '00', client: '100', user: 'KSEF_RFC', passwd: new Secret('init-pass-1'), lang: 'EN' },
    localDir: dir.path,
    pollIntervalMs: 50,
    maxCount: 10,
    backoff: { initialMs: 20, maxMs: 100 },
    clientFactory: sap.factory,
    ...extra,
  });
  await src.start(handler);
  return { src, dir };
}

async function done(src: RfcSource, dir: { dispose(): Promise<void> }) {
  await src.stop();
  await dir.dispose();
}

describe('IDoc flat text from RFC records', () => {
  it('rebuilds the shipped sample IDoc file exactly from blank-stripped records', async () => {
    for (const { idoc, lines } of await sampleIdocs()) {
      const strip = (r: RfcRow) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v).trimEnd()]));
      const flat = buildIdocFlat(strip(idoc.control), idoc.data.map(strip));
      expect(flat).toBe(lines.join('\n') + '\n');
      for (const l of flat.split('\n').filter(Boolean)) expect([...l].length).toBe(l.startsWith('EDI_DC40') ? 524 : 1063);
    }
  });

  it('takes EDIDC rows (IDOCTP), pads numbers, sorts segments, refuses overlong fields', async () => {
    const flat = buildIdocFlat({ MANDT: '100', DOCNUM: 4711, IDOCTP: 'INVOIC02', MESTYP: 'INVOIC' }, [
      { SEGNAM: 'E1EDKA1', SEGNUM: 2, HLEVEL: '02', SDATA: 'B' },
      { SEGNAM: 'E1EDK01', SEGNUM: '1', HLEVEL: '02', SDATA: 'A' },
    ]);
    const [control, first, second] = flat.split('\n');
    expect(control!.slice(0, 10)).toBe('EDI_DC40  ');
    expect(control!.slice(13, 29)).toBe('0000000000004711');
    expect(control!.slice(39, 69).trim()).toBe('INVOIC02');
    expect(first!.slice(0, 30).trim()).toBe('E1EDK01');
    expect(first!.slice(30, 33)).toBe('100');
    expect(first!.slice(49, 55)).toBe('000001');
    expect(second!.slice(63, 64)).toBe('B');
    const parsed = await parseIdocFlat(flat, { file: 'x.idoc' });
    expect(parsed.roots).toHaveLength(1);
    expect(() => buildIdocFlat({ DOCNUM: '1', MESTYP: 'X'.repeat(31) }, [])).toThrow(/MESTYP has 31 characters, 30 fit/);
  });
});

describe('RFC source against a node-rfc double', () => {
  it('fetches pending IDocs, hands each over as IDoc flat text, confirms them after they are durable', async () => {
    const sap = new FakeSap();
    const samples = await sampleIdocs();
    for (const s of samples) sap.add(s.idoc);
    const { handler, calls } = recordingHandler();
    const { src, dir } = await setup(sap, handler);
    try {
      await waitFor('all confirmed', () => sap.pending.size === 0 && sap.confirmations.length === samples.length);
      expect(calls).toHaveLength(samples.length);
      for (const [i, s] of samples.entries()) {
        const c = calls.find((x) => x.file.origin.kind === 'rfc' && x.file.origin.docnum === String(s.idoc.control.DOCNUM))!;
        expect(c.content).toBe(s.lines.join('\n') + '\n');
        expect(c.file).toMatchObject({ route: 'sap-rfc', origin: { kind: 'rfc', idocType: 'INVOIC02', messageType: 'INVOIC', functionModule: 'Z_KSEF_IDOC_FETCH' } });
        expect(c.file.name).toMatch(/^\d{16}\.idoc$/);
        const parsed = await parseIdocFlat(c.content, { file: c.file.name });
        expect(parsed.roots.length).toBe(1);
        expect(sap.confirmations[i]).toMatchObject({ RESULT: 'OK' });
      }
      expect(sap.calls[0]).toEqual({ fn: 'Z_KSEF_IDOC_FETCH', params: { MAX_COUNT: 10 } });
      expect((await listFiles(join(dir.path, 'archive'))).length).toBe(samples.length);
      await waitFor('nothing left in processing', async () => (await readdir(join(dir.path, 'processing'))).every((n) => n === '.lock'));
    } finally {
      await done(src, dir);
    }
  });

  it('confirms only after the handler resolved', async () => {
    const sap = new FakeSap();
    sap.add(simpleIdoc('0000000000000101'));
    const gate = deferred<void>();
    let entered = false;
    const { src, dir } = await setup(sap, async () => {
      entered = true;
      await gate.promise;
      return { kind: 'done' };
    });
    try {
      await waitFor('handler entered', () => entered);
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 20));
        expect(sap.calls.filter((c) => c.fn === 'Z_KSEF_IDOC_CONFIRM')).toHaveLength(0);
      }
      gate.resolve();
      await waitFor('confirmed', () => sap.confirmations.length === 1);
      expect(sap.confirmations[0]).toEqual({ DOCNUM: '0000000000000101', RESULT: 'OK', TEXT: 'stored by ksef-bridge' });
    } finally {
      gate.resolve();
      await done(src, dir);
    }
  });

  it('a failed IDoc lands in error/ and is confirmed as ERROR with the first line of the report', async () => {
    const sap = new FakeSap();
    sap.add(simpleIdoc('0000000000000202'));
    const { src, dir } = await setup(sap, async () => ({ kind: 'failed', report: 'segment E1EDK01: currency missing\nsecond line' }));
    try {
      await waitFor('confirmed', () => sap.confirmations.length === 1);
      expect(sap.confirmations[0]).toEqual({ DOCNUM: '0000000000000202', RESULT: 'ERROR', TEXT: 'segment E1EDK01: currency missing' });
      expect(await readFile(join(dir.path, 'error', '0000000000000202.idoc.error.txt'), 'utf8')).toContain('currency missing');
    } finally {
      await done(src, dir);
    }
  });

  it('SAP unreachable: backs off with the error in the status, then recovers', async () => {
    const sap = new FakeSap();
    sap.down = true;
    sap.add(simpleIdoc('0000000000000303'));
    const { handler, calls } = recordingHandler();
    const { src, dir } = await setup(sap, handler);
    try {
      const err = await waitFor('error in status', () => src.status().lastError);
      expect(err).toContain('RFC_COMMUNICATION_FAILURE');
      expect(err).toContain('sap.example');
      expect(calls).toHaveLength(0);
      sap.down = false;
      await waitFor('confirmed after recovery', () => sap.confirmations.length === 1);
      expect(calls).toHaveLength(1);
      expect(src.status().lastError).toBeUndefined();
    } finally {
      await done(src, dir);
    }
  });

  it('connection dropped during the confirmation: the IDoc is handed over once and confirmed later', async () => {
    const sap = new FakeSap();
    sap.add(simpleIdoc('0000000000000404'));
    sap.dropNext.set('Z_KSEF_IDOC_CONFIRM', 2);
    const { handler, calls } = recordingHandler();
    const { src, dir } = await setup(sap, handler);
    try {
      await waitFor('confirmed', () => sap.confirmations.length === 1);
      // it was fetched again while unconfirmed, but not handed over again
      expect(sap.calls.filter((c) => c.fn === 'Z_KSEF_IDOC_FETCH').length).toBeGreaterThanOrEqual(1);
      expect(calls).toHaveLength(1);
      expect(sap.opened).toBeGreaterThanOrEqual(2);
    } finally {
      await done(src, dir);
    }
  });

  it('a restart between handling and confirmation confirms without handing over again', async () => {
    const sap = new FakeSap();
    sap.add(simpleIdoc('0000000000000505'));
    sap.dropNext.set('Z_KSEF_IDOC_CONFIRM', 1000);
    const first = recordingHandler();
    const a = await setup(sap, first.handler);
    await waitFor('handled', () => first.calls.length === 1);
    await waitFor('confirm attempted', () => (sap.dropNext.get('Z_KSEF_IDOC_CONFIRM') ?? 0) < 1000);
    await a.src.stop();
    expect(sap.confirmations).toHaveLength(0);
    sap.dropNext.clear();
    const second = recordingHandler();
    const b = await createRfcSource({
      name: 'sap-rfc',
      connection: { ashost: 'sap.example', sysnr: '00', client: '100', user: 'KSEF_RFC', passwd: new Secret('init-pass-1') },
      localDir: a.dir.path,
      pollIntervalMs: 50,
      clientFactory: sap.factory,
    });
    await b.start(second.handler);
    try {
      await waitFor('confirmed by the second run', () => sap.confirmations.length === 1);
      expect(second.calls).toHaveLength(0);
    } finally {
      await done(b, a.dir);
    }
  });

  it('wrong password: logon failure in the status, password not shown', async () => {
    const sap = new FakeSap();
    const { src, dir } = await setup(sap, async () => ({ kind: 'done' }), {
      connection: { ashost: 'sap.example', sysnr: '00', client: '100', user: 'KSEF_RFC', passwd: new Secret('wrong-pass-99') },
    });
    try {
      const err = await waitFor('error', () => src.status().lastError);
      expect(err).toContain('RFC_LOGON_FAILURE');
      expect(err).not.toContain('wrong-pass-99');
    } finally {
      await done(src, dir);
    }
  });

  it('a function module that does not exist is named with a hint', async () => {
    const sap = new FakeSap();
    const { src, dir } = await setup(sap, async () => ({ kind: 'done' }), { fetchFunction: 'Z_KSEF_TYPO' });
    try {
      const err = await waitFor('error', () => src.status().lastError);
      expect(err).toContain('Z_KSEF_TYPO');
      expect(err).toContain('FU_NOT_FOUND');
      expect(err).toContain('remote-enabled');
    } finally {
      await done(src, dir);
    }
  });

  it('without node-rfc installed: a clear install hint', async () => {
    const pkg = JSON.parse(await readFile(join(import.meta.dirname, '../../package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    expect(pkg.dependencies?.['node-rfc']).toBeUndefined();
    const options = { name: 'r', connection: { dest: 'PRD' }, localDir: '/tmp/unused' };
    const err = await createRfcSource(options).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'RFC_NODE_RFC_MISSING' });
    expect((err as { hint: string }).hint).toContain('npm install node-rfc');
    expect((err as { hint: string }).hint).toContain('NW RFC SDK');
    // installed, but the SDK's shared libraries are missing
    const sdkMissing = await createRfcSource({
      ...options,
      importModule: async () => {
        throw Object.assign(new Error('libsapnwrfc.so: cannot open shared object file: No such file or directory'), { code: 'ERR_DLOPEN_FAILED' });
      },
    }).then(() => undefined, (e: unknown) => e);
    expect(sdkMissing).toMatchObject({ code: 'RFC_NODE_RFC_MISSING' });
    expect((sdkMissing as Error).message).toContain('libsapnwrfc.so');
    // a module shaped like node-rfc (CommonJS default export) is used
    const ok = await createRfcSource({ ...options, importModule: async () => ({ default: { Client: class { alive = false; async open() {} async close() {} async call() { return {}; } } } }) });
    expect(ok.kind).toBe('rfc');
  });
});
