/**
 * XML parsed safely: a DOCTYPE is rejected before parsing (so no entity declarations, no external
 * entities, no billion laughs), only the five predefined entities and character references are
 * decoded, the size is limited, and nesting depth is limited.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { formatError } from './errors.js';
import { LineIndex, newFields } from './lines.js';
import { byteChunks, decodeAll, inputName } from './text.js';
import type { CommonOptions, EncodingName, FormatInput, FormatWarning, ParsedDocument, RecordNode, XmlOptions } from './types.js';

export const DEFAULT_MAX_XML_BYTES = 64 * 1024 * 1024;

/** A parsed element with its position (internal generic tree, also used by the IDoc-XML reader). */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: XmlElement[];
  line: number;
  column: number;
  path: string;
}

const META = XMLParser.getMetaDataSymbol() as unknown as symbol;

type FxpEntry = Record<string, unknown>;

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function decodeEntities(s: string, file: string, line: number, column: number): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&\s]*);?/g, (m, name: string) => {
    if (!m.endsWith(';')) {
      throw formatError('FORMAT_XML_ENTITY', 'a "&" that does not start an entity reference (write &amp;)', { file, line, column });
    }
    if (Object.hasOwn(PREDEFINED, name)) return PREDEFINED[name]!;
    const num = /^#(x[0-9a-fA-F]+|[0-9]+)$/.exec(name);
    if (num) {
      const cp = num[1]!.startsWith('x') ? parseInt(num[1]!.slice(1), 16) : parseInt(num[1]!, 10);
      if (cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)) return String.fromCodePoint(cp);
    }
    throw formatError('FORMAT_XML_ENTITY', `unknown or invalid entity reference "&${name};"`, { file, line, column }, {
      hint: 'only &amp; &lt; &gt; &quot; &apos; and character references (&#261;) are allowed; entity declarations are not processed',
      value: `&${name};`,
    });
  });
}

/** Encoding named in the XML declaration, if the bytes start with one. */
function declaredEncoding(head: Uint8Array): string | undefined {
  const s = Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, 200)).toString('latin1');
  const m = /^(?:\uFEFF|\u00EF\u00BB\u00BF)?<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(s);
  return m?.[1]?.toLowerCase();
}

/** Read, decode and check the XML text (size, encoding from the declaration, DOCTYPE). */
export async function readXmlText(input: FormatInput, opts: CommonOptions & { file: string }): Promise<{ text: string; encoding: string }> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_XML_BYTES;
  let bytes: FormatInput = input;
  let encoding = opts.encoding;
  if (typeof input !== 'string') {
    const parts: Uint8Array[] = [];
    for await (const c of byteChunks(input, opts.file, maxBytes)) parts.push(c);
    const all = Buffer.concat(parts);
    bytes = all;
    if (!encoding) {
      const declared = declaredEncoding(all);
      const known: Record<string, EncodingName> = { 'utf-8': 'utf-8', utf8: 'utf-8', 'windows-1250': 'windows-1250', cp1250: 'windows-1250', 'iso-8859-2': 'iso-8859-2', cp852: 'cp852', ibm852: 'cp852' };
      if (declared && declared !== 'us-ascii' && declared !== 'ascii') {
        const k = Object.hasOwn(known, declared) ? known[declared] : undefined;
        if (!k) {
          throw formatError('FORMAT_ENCODING_UNSUPPORTED', `XML declares encoding "${declared}", which is not supported`, { file: opts.file, line: 1 }, {
            allowed: 'UTF-8, windows-1250, ISO-8859-2, CP852',
          });
        }
        encoding = k;
      }
    }
  }
  const { text, encoding: used } = await decodeAll(bytes, { ...opts, ...(encoding ? { encoding } : {}), maxBytes });
  // Anywhere in the text (a literal "<!DOCTYPE" can only hide in a comment or CDATA, where refusing
  // it costs nothing real), so no prolog trick gets a declaration past this check.
  const doctype = /<!DOCTYPE/i.exec(text);
  if (doctype) {
    const pos = new LineIndex(text).locate(doctype.index);
    throw formatError('FORMAT_XML_DOCTYPE', 'XML with a DOCTYPE is refused: document type declarations can define entities (entity expansion bombs, external files)', { file: opts.file, ...pos }, {
      hint: 'export the XML without a DOCTYPE; ERP and IDoc XML never need one',
    });
  }
  return { text, encoding: used };
}

/** Parse XML text into a generic element tree with positions. */
export function parseXmlElement(text: string, file: string, maxDepth = 100): XmlElement {
  const v = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (v !== true) {
    const err = v.err;
    let msg = err.msg;
    const unclosed = /^Invalid '\[(.*)\]' found\.$/s.exec(msg);
    if (unclosed) {
      const names = unclosed[1]!.split(',').map((n) => n.trim().replace(/^"|"$/g, ''));
      const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? `, ... (${names.length} in all)` : '');
      msg = `unclosed element(s) ${shown} at the end of the file (truncated file?)`;
    }
    else if (/^Unclosed tag/.test(msg)) msg = `${msg} (truncated file?)`;
    else if (err.line >= countLines(text) - 1 && text.trimEnd().slice(-1) !== '>') msg = `${msg} (the file ends here: truncated file?)`;
    throw formatError('FORMAT_XML_SYNTAX', `XML is not well-formed: ${msg}`, { file, line: err.line, ...(err.col !== undefined ? { column: err.col } : {}) });
  }
  const parser = new XMLParser({
    preserveOrder: true,
    captureMetaData: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    removeNSPrefix: true,
    processEntities: false,
    htmlEntities: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
    commentPropName: false,
    maxNestedTags: maxDepth + 1,
  });
  let parsed: FxpEntry[];
  try {
    parsed = parser.parse(text) as FxpEntry[];
  } catch (e) {
    if (e instanceof Error && /nested tags/i.test(e.message)) {
      throw formatError('FORMAT_XML_TOO_DEEP', `XML nesting is deeper than ${maxDepth} levels`, { file }, { cause: e });
    }
    throw formatError('FORMAT_XML_SYNTAX', `XML cannot be parsed: ${e instanceof Error ? e.message : String(e)}`, { file }, { cause: e });
  }
  const index = new LineIndex(text);
  const elements = parsed.filter((e) => tagOf(e) !== undefined && !tagOf(e)!.startsWith('?') && tagOf(e) !== '#text');
  if (elements.length !== 1) {
    throw formatError('FORMAT_XML_SYNTAX', elements.length === 0 ? 'XML has no document element' : `XML has ${elements.length} top-level elements; a document has exactly one`, { file, line: 1 });
  }
  return convert(elements[0]!, '', 1, 1, index, file, maxDepth);
}

function countLines(text: string): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

function tagOf(e: FxpEntry): string | undefined {
  for (const k of Object.keys(e)) if (k !== ':@') return k;
  return undefined;
}

function convert(entry: FxpEntry, parentPath: string, nth: number, depth: number, index: LineIndex, file: string, maxDepth: number): XmlElement {
  const name = tagOf(entry)!;
  const meta = (entry as Record<symbol, { startIndex?: number } | undefined>)[META];
  const { line, column } = index.locate(meta?.startIndex ?? 0);
  const path = `${parentPath}/${name}${nth > 1 ? `[${nth}]` : ''}`;
  if (depth > maxDepth) {
    throw formatError('FORMAT_XML_TOO_DEEP', `XML nesting is deeper than ${maxDepth} levels`, { file, line, column, path });
  }
  const rawAttrs = (entry[':@'] ?? {}) as Record<string, string>;
  const attrs: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(rawAttrs)) attrs[k] = decodeEntities(String(v), file, line, column);
  const kids = (entry[name] ?? []) as FxpEntry[];
  const children: XmlElement[] = [];
  const texts: string[] = [];
  const counts = new Map<string, number>();
  for (const k of kids) {
    const t = tagOf(k);
    if (t === undefined) continue;
    if (t === '#text') {
      texts.push(String(k['#text'] ?? ''));
      continue;
    }
    if (t.startsWith('?') || t.startsWith('!')) continue;
    const n = (counts.get(t) ?? 0) + 1;
    counts.set(t, n);
    children.push(convert(k, path, n, depth + 1, index, file, maxDepth));
  }
  const text = decodeEntities(texts.join(' '), file, line, column);
  return { name, attrs, text, children, line, column, path };
}

function toNode(el: XmlElement, file: string): RecordNode {
  const pos = { file, line: el.line, column: el.column, path: el.path };
  const fields: RecordNode['fields'] = newFields();
  for (const [k, v] of Object.entries(el.attrs)) fields[`@${k}`] = { value: v, pos };
  if (el.text !== '') fields['#text'] = { value: el.text, pos };
  const children: RecordNode[] = [];
  for (const c of el.children) {
    children.push(toNode(c, file));
    if (c.children.length === 0 && Object.keys(c.attrs).length === 0 && !(c.name in fields)) {
      fields[c.name] = { value: c.text, pos: { file, line: c.line, column: c.column, path: c.path } };
    }
  }
  return { name: el.name, fields, children, pos };
}

function selectRecords(root: XmlElement, recordPath: string | undefined, file: string): XmlElement[] {
  if (!recordPath) return [root];
  const parts = recordPath.split('/').filter(Boolean);
  if (parts[0] !== root.name) {
    throw formatError('FORMAT_XML_RECORD_PATH', `recordPath "${recordPath}" does not start at the document element <${root.name}>`, { file, line: root.line, column: root.column }, {
      allowed: root.name,
    });
  }
  let level = [root];
  for (const p of parts.slice(1)) level = level.flatMap((e) => e.children.filter((c) => c.name === p));
  return level;
}

/** Parse an XML export: one root per element at `recordPath` (default: the document element). */
export async function parseXml(input: FormatInput, options: XmlOptions = {}): Promise<ParsedDocument> {
  const file = inputName(input, options);
  const warnings: FormatWarning[] = [];
  const { text, encoding } = await readXmlText(input, { ...options, file, onWarning: (w) => (warnings.push(w), options.onWarning?.(w)) });
  const root = parseXmlElement(text, file, options.maxDepth ?? 100);
  const records = selectRecords(root, options.recordPath, file);
  if (records.length === 0) {
    warnings.push({ code: 'FORMAT_XML_NO_RECORDS', message: `no elements at recordPath "${options.recordPath}"`, pos: { file, line: root.line } });
  }
  return { format: 'xml', file, encoding, roots: records.map((r) => toNode(r, file)), warnings };
}
