import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors/index.js';
import { PROJECT_ROOT, SCHEMA_FILES, SHARED_SCHEMA_DIR, checkOpenApiFile, checkSchemaFile, getXsdValidator, resolveSchemaDir } from '../../src/schemas/index.js';

const upoExamples = path.resolve(SHARED_SCHEMA_DIR, '..', 'upo-examples');
const tsx = path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx');
const setup = path.join(PROJECT_ROOT, 'scripts', 'setup-schemas.ts');

describe('schema directory', () => {
  it('finds a directory holding every schema file', () => {
    const dir = resolveSchemaDir();
    for (const f of Object.values(SCHEMA_FILES).flat()) expect(fs.existsSync(path.join(dir, f.relativePath))).toBe(true);
  });

  it('names the missing directory and the setup command when the schemas are absent', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'kb-schemas-'));
    try {
      resolveSchemaDir(empty);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).code).toBe('SCHEMA_DIR_MISSING');
      expect((e as ConfigError).message).toContain(empty);
      expect((e as ConfigError).hint).toContain('npm run setup');
    }
  });
});

describe('XSD validation', () => {
  it('validates the official UPO examples, whose only deviation is the test environment\'s receiver name', () => {
    // The examples come from the TE environment, which writes "Ministerstwo Finansów - środowisko testowe (TE)" where
    // the XSD fixes "Ministerstwo Finansów". Everything else in them must be valid.
    const upo = getXsdValidator('upo');
    const files = fs.readdirSync(upoExamples).filter((f) => f.endsWith('.xml'));
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const f of files) {
      const original = fs.readFileSync(path.join(upoExamples, f), 'utf8');
      const r = upo.validate(original);
      expect(r.issues.map((i) => i.message), f).toEqual([expect.stringContaining("NazwaPodmiotuPrzyjmujacego': The actual value 'Ministerstwo Finansów - środowisko testowe (TE)'")]);
      const asProduction = original.replace('Ministerstwo Finansów - środowisko testowe (TE)', 'Ministerstwo Finansów');
      expect(upo.validate(asProduction), f).toEqual({ valid: true, issues: [] });
    }
  });

  it('resolves the FA(3) import of its base types locally and reports errors with line numbers', () => {
    const fa3 = getXsdValidator('fa3');
    const xml = '<?xml version="1.0" encoding="UTF-8"?>\n<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">\n  <Naglowek/>\n</Faktura>';
    const r = fa3.validate(xml);
    expect(r.valid).toBe(false);
    const naglowek = r.issues.find((i) => i.message.includes('Naglowek'));
    expect(naglowek?.line).toBe(3);
    expect(naglowek?.message).toContain('KodFormularza');
  });

  it('reports a document that is not well-formed as issues, not as an exception', () => {
    const r = getXsdValidator('fa3').validate('<Faktura><P_1>2026-01-01</Faktura>');
    expect(r.valid).toBe(false);
    expect(r.issues[0]!.line).toBe(1);
    expect(r.issues[0]!.message).toMatch(/mismatch|P_1/);
  });

  it('compiles each schema once and reuses it', () => {
    expect(getXsdValidator('fa3')).toBe(getXsdValidator('fa3'));
  });
});

describe('schema file checks', () => {
  const fa3 = SCHEMA_FILES.fa3[0]!;
  it('rejects a file that is not well-formed', () => {
    const r = checkSchemaFile(Buffer.from('<xsd:schema'), fa3);
    expect(r).toMatchObject({ ok: false });
    expect(r.problem).toContain('not well-formed');
  });
  it('rejects a schema with another target namespace', () => {
    const r = checkSchemaFile(Buffer.from('<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:other"/>'), fa3);
    expect(r.ok).toBe(false);
    expect(r.problem).toContain('urn:other');
  });
  it('accepts the official file', () => {
    expect(checkSchemaFile(fs.readFileSync(path.join(SHARED_SCHEMA_DIR, fa3.relativePath)), fa3)).toEqual({ file: fa3.relativePath, ok: true });
  });
});

describe('OpenAPI contract check', () => {
  it('accepts the official contract and refuses other JSON', () => {
    expect(checkOpenApiFile(fs.readFileSync(path.join(SHARED_SCHEMA_DIR, '..', 'open-api.json'))).ok).toBe(true);
    expect(checkOpenApiFile(Buffer.from('{"openapi":"3.0.1","paths":{}}')).problem).toContain('/auth/challenge');
    expect(checkOpenApiFile(Buffer.from('{oops')).problem).toContain('not valid JSON');
  });
});

describe('setup script', () => {
  it('copies and checks every schema into an empty folder', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kb-setup-'));
    execFileSync(tsx, [setup, '--dir', dir, '--quiet'], { stdio: 'pipe' });
    expect(resolveSchemaDir(dir)).toBe(dir);
    expect(checkOpenApiFile(fs.readFileSync(path.join(dir, 'open-api.json')))).toEqual({ file: 'open-api.json', ok: true });
    const broken = getXsdValidator('fa3', dir).validate('<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/"/>');
    expect(broken.issues[0]!.message).toContain('Missing child element');
  });

  it('refuses a source file with the wrong namespace and says which', () => {
    // Same layout as ../shared/ksef: schemas/ with open-api.json beside it.
    const src = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kb-src-')), 'schemas');
    fs.copyFileSync(path.join(SHARED_SCHEMA_DIR, '..', 'open-api.json'), path.join(src, '..', 'open-api.json'));
    for (const f of Object.values(SCHEMA_FILES).flat()) {
      fs.mkdirSync(path.dirname(path.join(src, f.relativePath)), { recursive: true });
      fs.copyFileSync(path.join(SHARED_SCHEMA_DIR, f.relativePath), path.join(src, f.relativePath));
    }
    fs.writeFileSync(path.join(src, 'upo/upo-v4-3.xsd'), '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:fake"/>');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kb-setup-'));
    const r = spawnSync(tsx, [setup, '--dir', dir, '--from', src], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('upo/upo-v4-3.xsd');
    expect(r.stderr).toContain('urn:fake');
    expect(fs.existsSync(path.join(dir, 'upo/upo-v4-3.xsd'))).toBe(false);
  });
});
