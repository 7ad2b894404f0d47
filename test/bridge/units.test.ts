/** The bridge's own small parts: the result template language, the routes file checks, the data-folder lock. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileTemplate, invoiceIdentity, loadRoutes, lockDataDir } from '../../src/bridge/index.js';
import { loadConfig } from '../../src/config/index.js';
import { isBridgeError } from '../../src/errors/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ksef-bridge-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ROOT = path.resolve(import.meta.dirname, '..', '..');

function ini(): string {
  const f = path.join(dir, 'ksef.ini');
  writeFileSync(f, ['[ksef]', 'nip = 5260181596', 'environment = emulator', 'token_env = UNIT_TOKEN', '[paths]', `data_dir = ${path.join(dir, 'data')}`, ''].join('\n'), { mode: 0o600 });
  return f;
}
const config = () => loadConfig(ini(), { env: { UNIT_TOKEN: 'unit-test-token-0123456789' } }).config;

function routes(text: string, env: Record<string, string> = {}) {
  const f = path.join(dir, `routes-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, text);
  return () => loadRoutes(f, config(), { env });
}

describe('result templates', () => {
  const data = {
    file: 'a;b.csv',
    invoices: [
      { n: 'FV/1', k: 'X-1', err: null, last: false },
      { n: 'FV "2"', k: null, err: 'bad <rate> & more', last: true },
    ],
  };
  it('csv: quotes values holding separators or quotes; sections repeat per item; standalone tags leave no blank line', () => {
    const t = compileTemplate('{{! c }}\nfile;n;k\n{{#invoices}}\n{{file}};{{n}};{{k}}\n{{/invoices}}\n', 'csv');
    expect(t.render(data)).toBe('file;n;k\n"a;b.csv";FV/1;X-1\n"a;b.csv";"FV ""2""";\n');
  });
  it('json: values are JSON literals (null for missing); {{^last}} separates items', () => {
    const t = compileTemplate('[{{#invoices}}{"n": {{n}}, "k": {{k}}}{{^last}},{{/last}}{{/invoices}}]', 'json');
    expect(JSON.parse(t.render(data))).toEqual([{ n: 'FV/1', k: 'X-1' }, { n: 'FV "2"', k: null }]);
  });
  it('xml: escapes markup; a section on a text value shows once when set', () => {
    const t = compileTemplate('{{#invoices}}<i>{{#err}}<e>{{err}}</e>{{/err}}</i>{{/invoices}}', 'xml');
    expect(t.render(data)).toBe('<i></i><i><e>bad &lt;rate&gt; &amp; more</e></i>');
  });
  it('a section never closed, or closed by the wrong tag, is an error naming the line', () => {
    expect(() => compileTemplate('a\n{{#invoices}}\nx', 'csv', 't.csv')).toThrow(/t\.csv:2: \{\{#invoices\}\} is never closed/);
    expect(() => compileTemplate('{{#a}}\n{{/b}}', 'csv', 't.csv')).toThrow(/t\.csv:2: \{\{\/b\}\} closes \{\{#a\}\} opened on line 1/);
  });
  it('the shipped templates render valid JSON and one CSV line per invoice', () => {
    const inv = { sourceFile: 'f.csv', erpInvoiceNumber: 'FV/1', position: 1, state: 'confirmed', ksefNumber: 'K', acceptedAt: 'T', sessionReferenceNumber: 'S', invoiceReferenceNumber: 'R', upoFile: 'U.xml', errorCode: null, error: null };
    const d = { sourceFile: 'f.csv', route: 'r', receivedAt: 'x', writtenAt: 'y', counts: { invoices: 2, accepted: 2, rejected: 0, pending: 0 }, invoices: [{ ...inv, last: false }, { ...inv, erpInvoiceNumber: 'FV/2', last: true }] };
    const json = compileTemplate(readFileSync(path.join(ROOT, 'templates/results/invoices.json'), 'utf8'), 'json').render(d);
    expect((JSON.parse(json) as { invoices: unknown[] }).invoices).toHaveLength(2);
    const csv = compileTemplate(readFileSync(path.join(ROOT, 'templates/results/invoices.csv'), 'utf8'), 'csv').render(d);
    expect(csv.trim().split('\n')).toHaveLength(3);
    const xml = compileTemplate(readFileSync(path.join(ROOT, 'templates/results/invoices.xml'), 'utf8'), 'xml').render(d);
    expect(xml.match(/<Invoice /g)).toHaveLength(2);
    expect(xml).not.toContain('<Error');
  });
});

describe('routes file', () => {
  it('loads a good file: defaults from ksef.ini, paths relative to the routes file', () => {
    const r = routes(`routes:\n  - name: a\n    source: { kind: folder, inbox: ./in }\n    mapping: ${ROOT}/mappings/generic-csv.yaml\n    results: { template: json, folder: ./out }\n`)();
    const a = r.routes[0]!;
    expect(a.sellerNip).toBe('5260181596');
    expect(a.source).toMatchObject({ kind: 'folder', inbox: path.join(dir, 'in') });
    expect(a.dirs.archive).toBe(path.join(dir, 'data', 'archive', 'a'));
    expect(a.results).toMatchObject({ format: 'json', target: { kind: 'folder', dir: path.join(dir, 'out') } });
  });
  it('reports every problem at once with file and line', () => {
    const load = routes(
      [
        'routes:',
        '  - name: a',
        '    source: { kind: folder, inbox: ./in, stabel: 1s }',
        `    mapping: ${ROOT}/mappings/generic-csv.yaml`,
        '  - name: a',
        '    source: { kind: ftp }',
        `    mapping: ${ROOT}/mappings/generic-csv.yaml`,
        '  - name: s',
        '    source: { kind: sftp, host: h, username: u, password_env: NOPE, remote_dir: /x }',
        `    mapping: ${ROOT}/mappings/generic-csv.yaml`,
        '    results: { template: yaml, folder: ./o }',
        '',
      ].join('\n'),
    );
    let message = '';
    try {
      load();
    } catch (e) {
      expect(isBridgeError(e) && e.code).toBe('CONFIG_ROUTES_INVALID');
      message = (e as Error).message;
    }
    expect(message).toMatch(/:3:\d+: .*unknown key stabel; did you mean stable\?/);
    expect(message).toMatch(/:6:\d+: .*kind "ftp" is unknown/);
    expect(message).toMatch(/:9:\d+: .*environment variable NOPE .*is not set/);
    expect(message).toMatch(/:9:\d+: .*host_key is missing/);
    expect(message).toMatch(/:11:\d+: .*template yaml must end in \.csv, \.json or \.xml/);
  });
  it('refuses results on a remote folder for a source that is not SFTP, and a missing routes file with a hint', () => {
    expect(routes(`routes:\n  - name: a\n    source: { kind: folder }\n    mapping: ${ROOT}/mappings/generic-csv.yaml\n    results: { remote_dir: /x }\n`)).toThrow(/remote_dir needs an sftp source/);
    expect(() => loadRoutes(path.join(dir, 'none.yaml'), config())).toThrow(/cannot read the routes file/);
  });
});

describe('shipped routes files', () => {
  it('config/routes.example.yaml and config/demo/routes.yaml pass the checks', () => {
    const ex = loadRoutes(path.join(ROOT, 'config', 'routes.example.yaml'), config(), { env: { ERP_SFTP_PASSWORD: 'x-password-1', SAP_HTTP_PASSWORD: 'y-password-2' } });
    expect(ex.routes.map((r) => `${r.name}:${r.source.kind}:${r.results?.format}`)).toEqual(['erp-csv:folder:csv', 'erp-sftp:sftp:json', 'sap-http:http:xml']);
    const demoText = readFileSync(path.join(ROOT, 'config', 'demo', 'routes.yaml'), 'utf8').replaceAll('{{root}}', ROOT);
    const demo = routes(demoText)();
    expect(demo.routes.map((r) => r.source.kind)).toEqual(['folder', 'folder', 'http', 'folder']);
  });
});

describe('invoice identity', () => {
  it('ignores DataWytworzeniaFa (it changes each time an export is mapped) and nothing else', () => {
    const a = '<Faktura><DataWytworzeniaFa>2026-01-01T10:00:00Z</DataWytworzeniaFa><P_2>FV/1</P_2></Faktura>';
    expect(invoiceIdentity(a)).toBe(invoiceIdentity(a.replace('10:00:00', '11:11:11')));
    expect(invoiceIdentity(a)).not.toBe(invoiceIdentity(a.replace('FV/1', 'FV/2')));
  });
});

describe('data-folder lock', () => {
  it('refuses a second holder, names the first; released on release()', () => {
    const d = path.join(dir, 'lock1');
    const lock = lockDataDir(d);
    expect(() => lockDataDir(d)).not.toThrow(); // the same process may take it again (its own pid)
    const other = path.join(dir, 'lock2');
    const first = lockDataDir(other);
    // a lock held by a live process (our parent) is refused
    writeFileSync(first.file, JSON.stringify({ pid: process.ppid, host: hostname(), startedAt: '2026-01-01T00:00:00Z' }));
    expect(() => lockDataDir(other)).toThrow(/another ksef-bridge \(pid \d+ .* started 2026-01-01T00:00:00Z\) is running/);
    lock.release();
    expect(existsSync(path.join(d, 'ksef-bridge.lock'))).toBe(false);
  });
  it('takes over the lock of a process that is gone', () => {
    const d = path.join(dir, 'lock3');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    lockDataDir(d).release();
    writeFileSync(path.join(d, 'ksef-bridge.lock'), JSON.stringify({ pid: Number(dead), host: hostname(), startedAt: 'x' }));
    const lock = lockDataDir(d);
    expect(JSON.parse(readFileSync(lock.file, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });
  it('refuses a data folder it cannot write', () => {
    if (process.getuid?.() === 0) {
      // root writes everywhere: use a path below a file instead
      writeFileSync(path.join(dir, 'plainfile'), 'x');
      expect(() => lockDataDir(path.join(dir, 'plainfile', 'data'))).toThrow(/is not writable/);
    } else {
      expect(() => lockDataDir('/proc/ksef-bridge-data')).toThrow(/is not writable/);
    }
  });
});
