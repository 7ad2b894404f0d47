import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT, main, type Io } from '../../src/cli/index.js';
import { PROJECT_ROOT } from '../../src/schemas/index.js';

const fixtures = path.join(PROJECT_ROOT, 'test', 'invoice', 'fixtures', 'xml');

function capture(): Io & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (t: string) => (io.stdout += `${t}\n`), err: (t: string) => (io.stderr += `${t}\n`) };
  return io;
}

function tmp(name: string, content: string, mode = 0o600): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kb-cli-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, content, { mode });
  return file;
}

describe('ksef-bridge --help', () => {
  it('lists the commands and exits 0', async () => {
    const io = capture();
    expect(await main(['--help'], io)).toBe(EXIT.OK);
    expect(io.stdout).toContain('validate');
    expect(io.stdout).toContain('config');
  });

  it('refuses an unknown command with exit 2', async () => {
    const io = capture();
    expect(await main(['sned'], io)).toBe(EXIT.USAGE);
    expect(io.stderr).toContain("unknown command 'sned'");
  });
});

describe('ksef-bridge validate', () => {
  it('accepts an FA(3) invoice written by another system', async () => {
    const io = capture();
    const file = path.join(fixtures, 'other-system-correction-eur.xml');
    expect(await main(['validate', '--today', '2026-11-21', file], io)).toBe(EXIT.OK);
    expect(io.stdout).toContain(`${file}: valid FA(3)`);
  });

  it('reports XSD errors with file and line, and exits 1', async () => {
    const file = tmp('broken.xml', '<?xml version="1.0" encoding="UTF-8"?>\n<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">\n<Naglowek/>\n</Faktura>\n');
    const io = capture();
    expect(await main(['validate', file], io)).toBe(EXIT.INVALID);
    expect(io.stdout).toContain(`${file}: INVALID`);
    expect(io.stdout).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: error XSD: .*Naglowek.*KodFormularza`));
  });

  it('reports a DOCTYPE (entity attack) as a KSeF document rule', async () => {
    const io = capture();
    expect(await main(['validate', path.join(fixtures, 'xxe.xml')], io)).toBe(EXIT.INVALID);
    expect(io.stdout).toContain('XML_DOCTYPE');
  });

  it('gives JSON output on request', async () => {
    const io = capture();
    const file = path.join(fixtures, 'other-system-advance.xml');
    await main(['validate', '--json', '--today', '2026-11-21', file], io);
    const parsed = JSON.parse(io.stdout) as Array<{ file: string; valid: boolean }>;
    expect(parsed).toEqual([expect.objectContaining({ file, valid: true })]);
  });

  it('names an unreadable file and exits 5', async () => {
    const io = capture();
    expect(await main(['validate', '/nonexistent/x.xml'], io)).toBe(EXIT.IO);
    expect(io.stderr).toContain('/nonexistent/x.xml: cannot read the file (ENOENT)');
  });
});

describe('ksef-bridge config check', () => {
  const good = ['[ksef]', 'nip = 5260181596', 'environment = emulator', 'token_env = KB_TEST_TOKEN', 'session_mode = batch', ''].join('\n');

  it('prints the effective configuration with the token masked', async () => {
    const file = tmp('ksef.ini', good);
    const io = capture();
    process.env.KB_TEST_TOKEN = 'secret-token-value-1234567890';
    try {
      expect(await main(['--config', file, 'config', 'check'], io)).toBe(EXIT.OK);
    } finally {
      delete process.env.KB_TEST_TOKEN;
    }
    expect(io.stdout).toContain('session_mode = batch');
    expect(io.stdout + io.stderr).not.toContain('secret-token-value');
  });

  it('lists every problem with its line and exits 3', async () => {
    const file = tmp('ksef.ini', good.replace('nip = 5260181596', 'nip = 5260181597').replace('session_mode = batch', 'sesion_mode = batch'));
    const io = capture();
    expect(await main(['--config', file, 'config', 'check'], io)).toBe(EXIT.CONFIG);
    expect(io.stderr).toContain(`${file}:2:`);
    expect(io.stderr).toContain('CONFIG_NIP_CHECKSUM');
    expect(io.stderr).toContain('did you mean session_mode?');
  });

  it('says which file is missing', async () => {
    const io = capture();
    expect(await main(['--config', '/nonexistent/ksef.ini', 'config', 'check'], io)).toBe(EXIT.CONFIG);
    expect(io.stderr).toContain('/nonexistent/ksef.ini');
  });
});

describe('the installed command', () => {
  it('runs through bin/ksef-bridge.js with the real process exit code', () => {
    const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'ksef-bridge.js'), 'validate', '/nonexistent.xml'], { encoding: 'utf8' });
    expect(r.status).toBe(EXIT.IO);
    expect(r.stderr).toContain('/nonexistent.xml');
  });
});
