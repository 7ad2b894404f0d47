import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/log/index.js';
import { createHttpIntake, type HttpIntake, type HttpIntakeOptions, type SourceHandler } from '../../src/sources/index.js';
import { deferred, listFiles, recordingHandler, tempDir, waitFor } from './util.js';

const IDOC_XML = `<?xml version="1.0" encoding="UTF-8"?>
<INVOIC02><IDOC BEGIN="1"><EDI_DC40 SEGMENT="1"><TABNAM>EDI_DC40</TABNAM><DOCNUM>0000000000123456</DOCNUM><IDOCTYP>INVOIC02</IDOCTYP><MESTYP>INVOIC</MESTYP></EDI_DC40>
<E1EDK01 SEGMENT="1"><CURCY>PLN</CURCY></E1EDK01></IDOC></INVOIC02>
`;

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

function post(intake: HttpIntake, path: string, body: string | Buffer | undefined, headers: Record<string, string> = {}, method = 'POST'): Promise<Reply> {
  const { port } = intake.address;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const auth = (user: string, pass: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });
const SAP = auth('sapidoc', 's3cret-pass');

async function setup(handler: SourceHandler, extra: Partial<HttpIntakeOptions> = {}) {
  const dir = await tempDir();
  const intake = createHttpIntake({
    name: 'intake',
    port: 0,
    users: [{ username: 'sapidoc', password: new Secret('s3cret-pass') }, { username: 'shop', password: new Secret('other-pass-1') }],
    idocRoute: 'sap-invoic',
    routes: ['shop-json', 'erp-csv'],
    localDir: dir.path,
    maxBodyBytes: 10_000,
    ...extra,
  });
  await intake.start(handler);
  return { intake, dir };
}

describe('HTTP intake', () => {
  it('accepts IDoc-XML from the XML-HTTP port: 200, named after DOCNUM, archived', async () => {
    const { handler, calls } = recordingHandler();
    const { intake, dir } = await setup(handler);
    try {
      const r = await post(intake, '/sap/idoc', IDOC_XML, { ...SAP, 'Content-Type': 'application/x-sap.idoc' });
      expect(r.status).toBe(200);
      expect(r.body).toContain('stored: idoc-0000000000123456.xml');
      expect(calls).toHaveLength(1);
      expect(calls[0]!.file).toMatchObject({ route: 'sap-invoic', name: 'idoc-0000000000123456.xml', origin: { kind: 'http', requestPath: '/sap/idoc' } });
      expect(calls[0]!.content).toBe(IDOC_XML);
      expect((await listFiles(join(dir.path, 'archive'))).map((f) => f.split('/')[1])).toEqual(['idoc-0000000000123456.xml']);
    } finally {
      await intake.stop();
      await dir.dispose();
    }
  });

  it('other formats go to the route named in the URL, with the proposed file name', async () => {
    const { handler, calls } = recordingHandler();
    const { intake, dir } = await setup(handler);
    try {
      const r = await post(intake, '/routes/erp-csv/documents?name=../../etc/faktury.csv', 'nr;kwota\n1;10\n', { ...auth('shop', 'other-pass-1'), 'Content-Type': 'text/csv; charset=utf-8' });
      expect(r.status).toBe(200);
      expect(calls[0]!.file).toMatchObject({ route: 'erp-csv', name: 'faktury.csv' });
      const j = await post(intake, '/routes/shop-json/documents', '{"a":1}', { ...SAP, 'Content-Type': 'application/json' });
      expect(j.status).toBe(200);
      expect(calls[1]!.file.route).toBe('shop-json');
      expect(calls[1]!.file.name).toMatch(/^shop-json-.*\.json$/);
    } finally {
      await intake.stop();
      await dir.dispose();
    }
  });

  it('authentication failures: 401 with a challenge, nothing handed over', async () => {
    const { handler, calls } = recordingHandler();
    const { intake, dir } = await setup(handler);
    try {
      for (const headers of [{}, auth('sapidoc', 'wrong'), auth('nobody', 's3cret-pass'), auth('shop', 's3cret-pass'), { Authorization: 'Bearer abc' }]) {
        const r = await post(intake, '/sap/idoc', IDOC_XML, { ...headers, 'Content-Type': 'text/xml' });
        expect(r.status).toBe(401);
        expect(r.headers['www-authenticate']).toContain('Basic');
        expect(r.body).toContain('authentication required');
      }
      expect(calls).toHaveLength(0);
      expect((await readdir(join(dir.path, 'processing'))).filter((n) => n !== '.lock')).toEqual([]);
    } finally {
      await intake.stop();
      await dir.dispose();
    }
  });

  it('404 for unknown paths and routes, 405 for GET, 415 for other content types, 400 for empty or non-XML bodies', async () => {
    const { handler, calls } = recordingHandler();
    const { intake, dir } = await setup(handler);
    try {
      expect((await post(intake, '/nothing', 'x', SAP)).status).toBe(404);
      const unknown = await post(intake, '/routes/nope/documents', 'x', { ...SAP, 'Content-Type': 'text/csv' });
      expect(unknown.status).toBe(404);
      expect(unknown.body).toContain('unknown route "nope"');
      // an unknown route is not revealed before authentication
      expect((await post(intake, '/routes/nope/documents', 'x', { 'Content-Type': 'text/csv' })).status).toBe(401);
      const get = await post(intake, '/sap/idoc', undefined, SAP, 'GET');
      expect(get.status).toBe(405);
      expect(get.headers.allow).toBe('POST');
      const json = await post(intake, '/sap/idoc', '{}', { ...SAP, 'Content-Type': 'application/json' });
      expect(json.status).toBe(415);
      expect(json.body).toContain('application/x-sap.idoc');
      expect((await post(intake, '/routes/erp-csv/documents', 'a=b', { ...SAP, 'Content-Type': 'application/x-www-form-urlencoded' })).status).toBe(415);
      const empty = await post(intake, '/sap/idoc', '', { ...SAP, 'Content-Type': 'text/xml' });
      expect(empty.status).toBe(400);
      expect(empty.body).toContain('no body');
      const notXml = await post(intake, '/sap/idoc', 'EDI_DC40  800...', { ...SAP, 'Content-Type': 'text/xml' });
      expect(notXml.status).toBe(400);
      expect(notXml.body).toContain('not XML');
      expect(calls).toHaveLength(0);
      expect((await readdir(join(dir.path, 'processing'))).filter((n) => n !== '.lock')).toEqual([]);
    } finally {
      await intake.stop();
      await dir.dispose();
    }
  });

  it('413 above the size limit, declared or streamed, and nothing is kept', async () => {
    const { handler, calls } = recordingHandler();
    const { intake, dir } = await setup(handler);
    try {
      const big = '<a>' + 'x'.repeat(20_000) + '</a>';
      const declared = await post(intake, '/sap/idoc', big, { ...SAP, 'Content-Type': 'text/xml', 'Content-Length': String(big.length) });
      expect(declared.status).toBe(413);
      expect(declared.body).toContain('at most 10000');
      // chunked: no length announced, the limit is found while reading
      const chunked = await post(intake, '/sap/idoc', big, { ...SAP, 'Content-Type': 'text/xml', 'Transfer-Encoding': 'chunked' });
      expect(chunked.status).toBe(413);
      expect(chunked.body).toContain('larger than 10000');
      const ok = await post(intake, '/sap/idoc', '<a>' + 'x'.repeat(9000) + '</a>', { ...SAP, 'Content-Type': 'text/xml' });
      expect(ok.status).toBe(200);
      expect(calls).toHaveLength(1);
      await waitFor('no part files left', async () => (await readdir(join(dir.path, 'processing'))).every((n) => n === '.lock'));
    } finally {
      await intake.stop();
      await dir.dispose();
    }
  });

  it('answers 200 only after the handler resolved (durable)', async () => {
    const gate = deferred<void>();
    let entered = false;
    const { intake, dir } = await setup(async () => {
      entered = true;
      await gate.promise;
      return { kind: 'done' };
    });
    try {
      let answered: Reply | undefined;
      const pending = post(intake, '/sap/idoc', IDOC_XML, { ...SAP, 'Content-Type': 'text/xml' }).then((r) => (answered = r));
      await waitFor('handler entered', () => entered);
      // the handler holds the document: no answer yet, however long we look
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 20));
        expect(answered).toBeUndefined();
      }
      gate.resolve();
      await pending;
      expect(answered!.status).toBe(200);
    } finally {
      await intake.stop();
      await dir.dispose();
    }
  });

  it('a failed document: 422 with the report, file in error/ with its sidecar', async () => {
    const { intake, dir } = await setup(async () => ({ kind: 'failed', partial: true, report: 'IDoc 123456 segment E1EDK01: currency missing\nwent on: none' }));
    try {
      const r = await post(intake, '/sap/idoc', IDOC_XML, { ...SAP, 'Content-Type': 'text/xml' });
      expect(r.status).toBe(422);
      expect(r.body).toContain('partly processed');
      expect(r.body).toContain('currency missing');
      expect(await readFile(join(dir.path, 'error', 'idoc-0000000000123456.xml.error.txt'), 'utf8')).toContain('currency missing');
    } finally {
      await intake.stop();
      await dir.dispose();
    }
  });

  it('a handler error (store down): 503 with Retry-After, nothing kept', async () => {
    const { intake, dir } = await setup(async () => {
      throw new Error('SQLITE_BUSY');
    });
    try {
      const r = await post(intake, '/sap/idoc', IDOC_XML, { ...SAP, 'Content-Type': 'text/xml' });
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toBe('30');
      await waitFor('claim dropped', async () => (await readdir(join(dir.path, 'processing'))).every((n) => n === '.lock'));
    } finally {
      await intake.stop();
      await dir.dispose();
    }
  });

  it('503 while stopping; the request in flight still gets its 200', async () => {
    const gate = deferred<void>();
    let entered = false;
    const { intake, dir } = await setup(async () => {
      entered = true;
      await gate.promise;
      return { kind: 'done' };
    });
    let stopped = false;
    try {
      const first = post(intake, '/sap/idoc', IDOC_XML, { ...SAP, 'Content-Type': 'text/xml' });
      await waitFor('handler entered', () => entered);
      const stopping = intake.stop().then(() => (stopped = true));
      const second = await post(intake, '/sap/idoc', IDOC_XML, { ...SAP, 'Content-Type': 'text/xml' });
      expect(second.status).toBe(503);
      expect(second.headers['retry-after']).toBe('30');
      expect(stopped).toBe(false);
      gate.resolve();
      expect((await first).status).toBe(200);
      await stopping;
      expect(existsSync(join(dir.path, 'archive'))).toBe(true);
      expect((await listFiles(join(dir.path, 'archive'))).length).toBe(1);
    } finally {
      gate.resolve();
      await intake.stop();
      await dir.dispose();
    }
  });

  it('refuses a configuration without users', () => {
    expect(() => createHttpIntake({ name: 'x', port: 0, users: [], localDir: '/tmp/x' })).toThrow(/at least one user/);
  });
});
