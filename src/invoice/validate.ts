/**
 * Validation facade for FA(3) files: the KSeF document rules (UTF-8 without BOM, no processing instructions, no
 * DOCTYPE, no rejected characters, size limits), the official XSD, then the model's structural checks and the
 * semantic rules. `ksef-bridge validate <file.xml>` prints its result.
 */
import { type XsdValidator, getXsdValidator } from '../schemas/index.js';
import type { Invoice, InvoiceIssue } from './model.js';
import { parseFa3 } from './reader.js';
import { type CheckOptions, checkInvoice, polishDate } from './semantic.js';

/** A problem located in the XML document (KSeF document rules and XSD). */
export interface Fa3XmlIssue {
  /** XML_BOM, XML_ENCODING, XML_PROCESSING_INSTRUCTION, XML_DOCTYPE, XML_FORBIDDEN_CHAR, XML_SIZE, XML_NOT_FA3, or XSD. */
  code: string;
  message: string;
  /** 1-based line (0 when unknown). */
  line: number;
  column: number;
  path?: string;
}

export interface Fa3Validation {
  /** True when no error was found at any level (warnings allowed). */
  valid: boolean;
  /** KSeF document rules and XSD issues, with line numbers. */
  xsd: Fa3XmlIssue[];
  /** Structural (INV_*) and semantic (SEM_*) issues, with field paths. */
  semantic: InvoiceIssue[];
  /** The invoice, when it could be read. */
  invoice?: Invoice;
}

export interface ValidateOptions extends CheckOptions {
  /** Schema directory (default: resolved by src/schemas). */
  schemaDir?: string;
  /** Run the reader and semantic rules (default true). */
  semantic?: boolean;
}

function fa3Validator(schemaDir: string | undefined): XsdValidator {
  return getXsdValidator('fa3', schemaDir);
}

const MAX_BYTES = 1_000_000;
const MAX_BYTES_WITH_ATTACHMENT = 3_000_000;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u0084\u0086-\u009F\uFDD0-\uFDEF\uFFFE\uFFFF]|[\uD83F\uD87F\uD8BF\uD8FF\uD93F\uD97F\uD9BF\uD9FF\uDA3F\uDA7F\uDABF\uDAFF\uDB3F\uDB7F\uDBBF\uDBFF][\uDFFE\uDFFF]/;

/** Character references to the characters above (the parsed document would contain them). */
const FORBIDDEN_REF = /&#(?:x0*(?:7[fF]|8[0-46-9a-fA-F]|9[0-9a-fA-F]|[fF][dD][dDeE][0-9a-fA-F]|(?:10|[1-9a-fA-F])?[fF][fF][fF][eEfF])|0*(?:12[7-9]|13[0-24-9]|14[0-9]|15[0-9]|6497[6-9]|649[89][0-9]|650(?:0[0-7])|6553[45]));/;

function position(text: string, index: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) {
    line++;
    last = i;
  }
  return { line, column: index - last };
}

/** KSeF's document rules (faktury/weryfikacja-faktury.md) that the XSD does not express. Returns the text when decodable. */
function documentRules(xml: string | Uint8Array, issues: Fa3XmlIssue[]): string | undefined {
  let text: string;
  let bytes: number;
  if (typeof xml === 'string') {
    if (xml.charCodeAt(0) === 0xfeff) issues.push({ code: 'XML_BOM', message: 'the file starts with a byte order mark; KSeF requires UTF-8 without BOM', line: 1, column: 1 });
    text = xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;
    bytes = Buffer.byteLength(xml, 'utf8');
  } else {
    bytes = xml.byteLength;
    const bom = xml[0] === 0xef && xml[1] === 0xbb && xml[2] === 0xbf;
    if (bom) issues.push({ code: 'XML_BOM', message: 'the file starts with a byte order mark (EF BB BF); KSeF requires UTF-8 without BOM', line: 1, column: 1 });
    try {
      text = utf8.decode(bom ? xml.subarray(3) : xml);
    } catch {
      issues.push({ code: 'XML_ENCODING', message: 'the file is not valid UTF-8; KSeF accepts only UTF-8', line: 0, column: 0 });
      return undefined;
    }
  }
  const decl = /^<\?xml\s[^?]*\?>/.exec(text);
  if (decl) {
    const enc = /encoding\s*=\s*["']([^"']+)["']/.exec(decl[0]);
    if (enc && enc[1]?.toUpperCase() !== 'UTF-8') issues.push({ code: 'XML_ENCODING', message: `the XML declaration names the encoding ${enc[1]}; KSeF accepts only UTF-8`, line: 1, column: 1 });
  }
  const piRe = /<\?(?!xml[\s?])[^?]*\?>/g;
  for (let m = piRe.exec(text); m; m = piRe.exec(text)) {
    if (m.index === 0 && /^<\?xml[\s?]/.test(m[0])) continue;
    issues.push({ code: 'XML_PROCESSING_INSTRUCTION', message: `processing instruction ${m[0].slice(0, 40)} is not allowed in a KSeF invoice`, ...position(text, m.index) });
  }
  const dt = /<!(DOCTYPE|ENTITY)/i.exec(text);
  if (dt) issues.push({ code: 'XML_DOCTYPE', message: 'a DOCTYPE or ENTITY declaration is not allowed (entities are refused for safety)', ...position(text, dt.index) });
  const bad = FORBIDDEN.exec(text) ?? FORBIDDEN_REF.exec(text);
  if (bad) {
    const ref = /^&#(x?)([0-9a-fA-F]+);$/.exec(bad[0]);
    const cp = ref ? parseInt(ref[2] ?? '0', ref[1] ? 16 : 10) : (bad[0].codePointAt(0) ?? 0);
    issues.push({ code: 'XML_FORBIDDEN_CHAR', message: `character U+${cp.toString(16).toUpperCase().padStart(4, '0')} is not allowed in a KSeF invoice`, ...position(text, bad.index) });
  }
  const limit = text.includes('Zalacznik>') ? MAX_BYTES_WITH_ATTACHMENT : MAX_BYTES;
  if (bytes > limit) {
    issues.push({ code: 'XML_SIZE', message: `the file has ${bytes} bytes; KSeF accepts at most ${limit} bytes ${limit === MAX_BYTES ? 'without' : 'with'} attachments`, line: 0, column: 0 });
  }
  return text;
}

/**
 * Finds the line of the element an issue is about: the element chain (e.g. FaWiersz/P_8B) is searched in order,
 * the index of the path's first list (lines[3]) picks the occurrence of the first element and the last index the
 * occurrence of the leaf's parent. Best effort: when an element is absent, the line of its nearest found ancestor.
 */
function locate(text: string, issue: InvoiceIssue): number | undefined {
  const chain = (issue.element ?? '').split('/').filter((n) => /^[A-Za-z_][\w]*$/.test(n));
  if (chain.length === 0) return undefined;
  const indexes = [...issue.path.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
  const firstHasIndex = /^[^.[]+\[\d+\]/.test(issue.path);
  const firstIndex = firstHasIndex ? (indexes[0] ?? 0) : 0;
  // The last index picks the leaf's parent when it is not the first segment's own index.
  const parentIndex = indexes.length > (firstHasIndex ? 1 : 0) ? (indexes[indexes.length - 1] ?? 0) : 0;
  let pos = 0;
  let end = text.length;
  let found: number | undefined;
  for (let k = 0; k < chain.length; k++) {
    const nth = k === 0 ? firstIndex : k === chain.length - 2 ? parentIndex : 0;
    const re = new RegExp(`<(?:[\\w.-]+:)?${chain[k]}[\\s/>]`, 'g');
    re.lastIndex = pos;
    let m: RegExpExecArray | null = null;
    for (let i = 0; i <= nth; i++) {
      m = re.exec(text);
      if (!m) break;
    }
    // Stay inside the element found before (a line without P_8B must not point at the next line's P_8B).
    if (!m || m.index >= end) break;
    pos = m.index + 1;
    found = m.index;
    const close = new RegExp(`</(?:[\\w.-]+:)?${chain[k]}>`, 'g');
    close.lastIndex = pos;
    const c = close.exec(text);
    if (c && c.index < end) end = c.index;
  }
  return found === undefined ? undefined : position(text, found).line;
}

function validateOne(xml: string | Uint8Array, validator: XsdValidator, options: ValidateOptions, today: string): Fa3Validation {
  const xsd: Fa3XmlIssue[] = [];
  const text = documentRules(xml, xsd);
  const hasDoctype = xsd.some((i) => i.code === 'XML_DOCTYPE');
  // The DOCTYPE check comes first: such a document never reaches a parser.
  if (!hasDoctype && text !== undefined) {
    // libxml2-wasm copies a Uint8Array straight into its memory; a JS string would be encoded by a slower JS loop.
    const r = validator.validate(typeof xml === 'string' ? Buffer.from(text, 'utf8') : xml);
    for (const i of r.issues) xsd.push({ code: 'XSD', message: i.message, line: i.line, column: i.column, ...(i.path ? { path: i.path } : {}) });
  }
  const result: Fa3Validation = { valid: false, xsd, semantic: [] };
  if (options.semantic !== false && text !== undefined && !hasDoctype) {
    try {
      const r = parseFa3(text, { wellFormed: xsd.length === 0 });
      result.semantic.push(...r.issues);
      if (r.invoice) {
        result.invoice = r.invoice;
        result.semantic.push(...checkInvoice(r.invoice, { today }));
      }
    } catch (e) {
      const err = e as { code?: string; message?: string };
      // A document libxml2 already reported as broken needs no second report from the reader.
      if (!(err.code === 'FA3_NOT_WELL_FORMED' && xsd.length > 0))
        xsd.push({ code: err.code === 'FA3_WRONG_NAMESPACE' || err.code === 'FA3_NOT_AN_INVOICE' ? 'XML_NOT_FA3' : (err.code ?? 'XML_READ'), message: err.message ?? String(e), line: 0, column: 0 });
    }
  }
  if (text !== undefined) {
    for (const issue of result.semantic) {
      const line = locate(text, issue);
      if (line !== undefined) issue.line = line;
    }
  }
  result.valid = xsd.length === 0 && !result.semantic.some((i) => i.severity === 'error');
  return result;
}

function todayOf(options: ValidateOptions): string {
  return typeof options.today === 'string' ? options.today : polishDate(options.today);
}

/** Validates one FA(3) document: KSeF document rules, XSD (with line numbers), structure and semantic rules. */
export function validateFa3Xml(xml: string | Uint8Array, options: ValidateOptions = {}): Fa3Validation {
  return validateOne(xml, fa3Validator(options.schemaDir), options, todayOf(options));
}

/** Validates many documents with one compiled schema (the throughput path). */
export function validateMany(xmls: readonly (string | Uint8Array)[], options: ValidateOptions = {}): Fa3Validation[] {
  const validator = fa3Validator(options.schemaDir);
  const today = todayOf(options);
  return xmls.map((x) => validateOne(x, validator, options, today));
}
