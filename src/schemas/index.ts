/**
 * The official XSD schemas (FA(3) invoice, UPO, AuthTokenRequest): where they live, how a fresh machine gets them,
 * and compiled validators for them.
 *
 * The schemas are public government files and are not committed. `npm run setup` (scripts/setup-schemas.ts) copies
 * them from ../shared/ksef/schemas when present, otherwise downloads them from their official addresses, checks them
 * and stores them in the git-ignored folder `schemas/`. Validation never touches the network: the FA(3) schema imports
 * its base types by URL, and that URL is resolved to the local copy by an in-memory input provider.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { XmlBufferInputProvider, XmlDocument, XmlLibError, XsdValidator as LibXsdValidator, xmlRegisterInputProvider } from 'libxml2-wasm';
import { ConfigError } from '../errors/index.js';

export type SchemaKind = 'fa3' | 'upo' | 'auth';

export interface SchemaFile {
  /** Path relative to the schema directory. */
  relativePath: string;
  /** Official address the file is published at (and, for imported files, the URL other schemas import it by). */
  url: string;
  /** The targetNamespace the file must declare. */
  targetNamespace: string;
}

const FA3_NS = 'http://crd.gov.pl/wzor/2025/06/25/13775/';
const ETD_NS = 'http://crd.gov.pl/xml/schematy/dziedzinowe/mf/2022/01/05/eD/DefinicjeTypy/';
const UPO_NS = 'http://upo.schematy.mf.gov.pl/KSeF/v4-3';
const AUTH_NS = 'http://ksef.mf.gov.pl/auth/token/2.1';
const DOCS_RAW = 'https://raw.githubusercontent.com/CIRFMF/ksef-docs/main';

/** Every schema file the bridge needs, with its official address and namespace. The first file of a kind is its main schema. */
export const SCHEMA_FILES: Record<SchemaKind, SchemaFile[]> = {
  fa3: [
    { relativePath: 'FA3/schemat_FA(3)_v1-0E.xsd', url: `${FA3_NS}schemat.xsd`, targetNamespace: FA3_NS },
    { relativePath: 'FA3/bazowe/StrukturyDanych_v10-0E.xsd', url: `${ETD_NS}StrukturyDanych_v10-0E.xsd`, targetNamespace: ETD_NS },
    { relativePath: 'FA3/bazowe/ElementarneTypyDanych_v10-0E.xsd', url: `${ETD_NS}ElementarneTypyDanych_v10-0E.xsd`, targetNamespace: ETD_NS },
    { relativePath: 'FA3/bazowe/KodyKrajow_v10-0E.xsd', url: `${ETD_NS}KodyKrajow_v10-0E.xsd`, targetNamespace: ETD_NS },
  ],
  upo: [{ relativePath: 'upo/upo-v4-3.xsd', url: `${DOCS_RAW}/faktury/upo/schemy/upo-v4-3.xsd`, targetNamespace: UPO_NS }],
  auth: [{ relativePath: 'auth/schemat_auth_v2-1.xsd', url: `${DOCS_RAW}/auth/schemy/schemat_auth_v2-1.xsd`, targetNamespace: AUTH_NS }],
};

/** The official KSeF 2.0 OpenAPI contract, served by the emulator and checked in its tests. */
export const OPENAPI_FILE = { relativePath: 'open-api.json', url: `${DOCS_RAW}/open-api.json` } as const;

/** Checks that a file is the KSeF 2.0 OpenAPI contract (JSON, OpenAPI 3, the KSeF paths). */
export function checkOpenApiFile(content: Uint8Array): SchemaCheck {
  try {
    const spec = JSON.parse(Buffer.from(content).toString('utf8')) as { openapi?: unknown; paths?: Record<string, unknown> };
    if (typeof spec.openapi !== 'string' || !spec.openapi.startsWith('3.')) return { file: OPENAPI_FILE.relativePath, ok: false, problem: 'not an OpenAPI 3 document' };
    for (const p of ['/auth/challenge', '/sessions/online', '/sessions/batch']) {
      if (!spec.paths?.[p]) return { file: OPENAPI_FILE.relativePath, ok: false, problem: `the KSeF path ${p} is missing` };
    }
    return { file: OPENAPI_FILE.relativePath, ok: true };
  } catch (e) {
    return { file: OPENAPI_FILE.relativePath, ok: false, problem: `not valid JSON: ${(e as Error).message}` };
  }
}

/** Namespace of the FA(3) invoice. */
export const FA3_NAMESPACE = FA3_NS;
/** Namespace of UPO v4-3. */
export const UPO_NAMESPACE = UPO_NS;

/** The project's root folder (works from src/ under tsx and from dist/ after a build). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where `npm run setup` stores the schemas (git-ignored). */
export const DEFAULT_SCHEMA_DIR = path.join(PROJECT_ROOT, 'schemas');
/** The shared reference data next to the project, when present. */
export const SHARED_SCHEMA_DIR = path.resolve(PROJECT_ROOT, '..', 'shared', 'ksef', 'schemas');
/** Environment variable that names the schema directory. */
export const SCHEMA_DIR_ENV = 'KSEF_BRIDGE_SCHEMA_DIR';

function hasAll(dir: string): boolean {
  return Object.values(SCHEMA_FILES).every((files) => files.every((f) => fs.existsSync(path.join(dir, f.relativePath))));
}

/**
 * The schema directory to use: the explicit one (from ksef.ini `schema_dir`), else $KSEF_BRIDGE_SCHEMA_DIR, else the
 * project's `schemas/` folder filled by `npm run setup`, else ../shared/ksef/schemas. Throws a ConfigError with a hint
 * when none holds the schemas.
 */
export function resolveSchemaDir(explicit?: string): string {
  const candidates = explicit ? [explicit] : [process.env[SCHEMA_DIR_ENV], DEFAULT_SCHEMA_DIR, SHARED_SCHEMA_DIR].filter((d): d is string => !!d);
  for (const dir of candidates) if (hasAll(dir)) return path.resolve(dir);
  throw new ConfigError(
    'SCHEMA_DIR_MISSING',
    `the official XSD schemas were not found in ${candidates.map((c) => path.resolve(c)).join(' or ')}`,
    { field: 'paths.schema_dir', value: candidates[0] },
    { hint: 'run `npm run setup` (copies them from ../shared/ksef/schemas or downloads them from crd.gov.pl)' },
  );
}

export interface SchemaCheck {
  file: string;
  ok: boolean;
  problem?: string;
}

/** Checks that a schema file is well-formed XML and declares the expected target namespace. */
export function checkSchemaFile(content: Uint8Array, expected: SchemaFile): SchemaCheck {
  let doc: XmlDocument | undefined;
  try {
    doc = XmlDocument.fromBuffer(content, { url: expected.url });
    const root = doc.root;
    const ns = root.get('@targetNamespace')?.content;
    if (root.name !== 'schema') return { file: expected.relativePath, ok: false, problem: `root element is <${root.name}>, not <xsd:schema>` };
    if (ns !== expected.targetNamespace) return { file: expected.relativePath, ok: false, problem: `targetNamespace is "${ns ?? ''}", expected "${expected.targetNamespace}"` };
    return { file: expected.relativePath, ok: true };
  } catch (e) {
    return { file: expected.relativePath, ok: false, problem: `not well-formed XML: ${(e as Error).message.trim()}` };
  } finally {
    doc?.dispose();
  }
}

export interface XsdIssue {
  message: string;
  /** 1-based line in the validated document (0 when libxml2 could not tell). */
  line: number;
  /** 1-based column (0 when unknown). */
  column: number;
  /** XPath-like location of the element, when known. */
  path?: string;
}

export interface XsdResult {
  valid: boolean;
  issues: XsdIssue[];
}

export interface XsdValidator {
  readonly kind: SchemaKind;
  /** Parses and validates one document. A document that is not well-formed gives issues, never an exception. */
  validate(xml: string | Uint8Array): XsdResult;
}

let providerRegistered = false;
const importBuffers: Record<string, Uint8Array> = {};

function registerImports(dir: string): void {
  // Every schema file is reachable by its official URL, so imports by URL resolve to the local copy.
  for (const files of Object.values(SCHEMA_FILES)) {
    for (const f of files) {
      const local = path.join(dir, f.relativePath);
      if (fs.existsSync(local)) importBuffers[f.url] = fs.readFileSync(local);
    }
  }
  if (!providerRegistered) {
    xmlRegisterInputProvider(new XmlBufferInputProvider(importBuffers));
    // Anything else a schema or a document might try to load (http://, file://) is refused, so no network access.
    xmlRegisterInputProvider({ match: () => true, open: () => undefined, read: () => -1, close: () => true });
    providerRegistered = true;
  }
}

function toIssues(e: unknown): XsdIssue[] {
  if (e instanceof XmlLibError && e.details.length > 0) {
    return e.details.map((d) => ({
      message: d.message.trim(),
      line: d.line ?? 0,
      column: d.col ?? 0,
      ...(d.xpath ? { path: d.xpath } : {}),
    }));
  }
  return [{ message: e instanceof Error ? e.message.trim() : String(e), line: 0, column: 0 }];
}

class CompiledValidator implements XsdValidator {
  constructor(
    readonly kind: SchemaKind,
    private readonly validator: XsdValidator_,
  ) {}

  validate(xml: string | Uint8Array): XsdResult {
    let doc: XmlDocument;
    try {
      doc = typeof xml === 'string' ? XmlDocument.fromString(xml) : XmlDocument.fromBuffer(xml);
    } catch (e) {
      return { valid: false, issues: toIssues(e) };
    }
    try {
      this.validator.validate(doc);
      return { valid: true, issues: [] };
    } catch (e) {
      return { valid: false, issues: toIssues(e) };
    } finally {
      doc.dispose();
    }
  }
}
type XsdValidator_ = LibXsdValidator;

const cache = new Map<string, XsdValidator>();

/** A validator for the given schema, compiled once per kind and directory and cached. Never touches the network. */
export function getXsdValidator(kind: SchemaKind, schemaDir?: string): XsdValidator {
  // Callers ask per invoice: answer from the cache before touching the file system.
  const asked = `${kind}?${schemaDir ?? ''}`;
  const hit = cache.get(asked);
  if (hit) return hit;
  const dir = resolveSchemaDir(schemaDir);
  const key = `${kind}:${dir}`;
  const cached = cache.get(key);
  if (cached) {
    cache.set(asked, cached);
    return cached;
  }
  registerImports(dir);
  const main = SCHEMA_FILES[kind][0]!;
  const schemaDoc = XmlDocument.fromBuffer(fs.readFileSync(path.join(dir, main.relativePath)), { url: main.url });
  const compiled = new CompiledValidator(kind, LibXsdValidator.fromDoc(schemaDoc));
  cache.set(key, compiled);
  cache.set(asked, compiled);
  return compiled;
}
