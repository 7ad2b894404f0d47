/**
 * IDoc-XML: a document element named after the IDoc type or its extension (INVOIC02, ZINVOIC02, ...),
 * one or more <IDOC BEGIN="1"> elements, each with <EDI_DC40 SEGMENT="1"> and nested segments.
 * Inside a segment, an element with element children or a SEGMENT attribute is a child segment;
 * any other element is a field.
 *
 * Two readers give the same result: a single pass over the text that builds the record tree directly
 * (plain IDoc-XML as SAP and our writer produce it), and the generic XML reader followed by a
 * conversion. The single pass accepts only a strict subset of XML (no comments, CDATA, processing
 * instructions other than the declaration, namespace prefixes, single-quoted or multi-line attribute
 * values, carriage returns inside values, ...) and hands anything else, including every error, to the
 * generic reader: errors, their positions and unusual documents behave exactly as before.
 */
import { newFields } from '../lines.js';
import { formatError } from '../errors.js';
import { inputName } from '../text.js';
import { decodeEntities, parseXmlElement, readXmlText, type XmlElement } from '../xml.js';
import type { FormatWarning, FormatInput, IdocOptions, ParsedDocument, RecordNode, SourcePos } from '../types.js';
import { builtinRegistry, segmentRegistry, segmentType, type SegmentRegistry } from './definitions.js';
import { nextSegmentIndex, trimmedField } from './flat.js';

const MAX_DEPTH = 100;

function isSegment(el: XmlElement): boolean {
  return el.children.length > 0 || 'SEGMENT' in el.attrs;
}

export async function parseIdocXml(input: FormatInput, options: IdocOptions = {}): Promise<ParsedDocument> {
  const file = inputName(input, options);
  const warnings: FormatWarning[] = [];
  const warn = (w: FormatWarning) => {
    warnings.push(w);
    options.onWarning?.(w);
  };
  const { text, encoding } = await readXmlText(input, { ...options, file, onWarning: warn });
  const reg = options.segments && options.segments.length > 0 ? segmentRegistry(options.segments) : builtinRegistry();
  const fast = scanIdocXml(text, file, reg);
  if (fast) {
    for (const w of fast.warnings) warn(w);
    return { format: 'idoc-xml', file, encoding, roots: fast.roots, warnings };
  }
  return { format: 'idoc-xml', file, encoding, roots: convertIdocXml(text, file, reg, warn), warnings };
}

/** The generic reader: XML element tree first, then IDoc nodes (also the reference for tests). */
export function convertIdocXml(text: string, file: string, reg: SegmentRegistry, warn: (w: FormatWarning) => void): RecordNode[] {
  const doc = parseXmlElement(text, file, MAX_DEPTH);
  const idocs = doc.name === 'IDOC' ? [doc] : doc.children.filter((c) => c.name === 'IDOC');
  if (idocs.length === 0) {
    throw formatError('FORMAT_IDOC_XML_NO_IDOC', `<${doc.name}> holds no <IDOC> element`, { file, line: doc.line, column: doc.column }, {
      hint: 'IDoc-XML looks like <INVOIC02><IDOC BEGIN="1"><EDI_DC40 SEGMENT="1">...',
    });
  }
  const warned = new Set<string>();
  return idocs.map((idoc) => convertIdoc(idoc, file, reg, warn, warned));
}

// What an element is, decided by its parent when it opens.
const K_DOC = 0; // the document element (not IDOC)
const K_SKIP = 1; // an element outside any IDOC, and everything in it
const K_IDOC = 2;
const K_CONTROL = 3; // EDI_DC40: every child is a field
const K_CONTROL_FIELD = 4;
const K_SEGMENT = 5;
const K_PENDING = 6; // child of a segment without SEGMENT attribute: a field, or a segment once it has a child

interface Frame {
  kind: number;
  name: string;
  path: string;
  line: number;
  column: number;
  /** the segment node (K_SEGMENT) */
  node: RecordNode | undefined;
  /** element name -> count among the children so far (paths: E1EDP01[3]) */
  names: Map<string, number> | undefined;
  /** segment type -> count among the child segments so far (segmentIndex) */
  types: Map<string, number> | undefined;
  /** start and end of the element's first text, -1 when none */
  textStart: number;
  textEnd: number;
  hasChild: boolean;
}

function newFrame(): Frame {
  return { kind: 0, name: '', path: '', line: 0, column: 0, node: undefined, names: undefined, types: undefined, textStart: -1, textEnd: -1, hasChild: false };
}

interface ControlValue {
  name: string;
  value: string;
  line: number;
  column: number;
  path: string;
}

/** Names fast-xml-parser refuses or renames (prototype pollution guards): left to the generic reader. */
const RESERVED_NAMES = new Set(['__proto__', 'constructor', 'prototype', ...Object.getOwnPropertyNames(Object.prototype)]);

const DECLARATION = /^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*"1\.[0-9]"(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*"[A-Za-z][A-Za-z0-9._-]*")?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*"(?:yes|no)")?[ \t\r\n]*\?>/;

function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13;
}
function isNameStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}
function isNameChar(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || c === 45 || c === 46;
}

/** Thrown inside the single pass when the text is not plain IDoc-XML; never leaves this module. */
class NotPlain {}
const NOT_PLAIN = new NotPlain();

/**
 * The single pass: plain IDoc-XML straight to IDOC roots, or undefined when the text uses anything
 * outside the subset (the generic reader then decides, with its errors and positions).
 */
export function scanIdocXml(text: string, file: string, reg: SegmentRegistry): { roots: RecordNode[]; warnings: FormatWarning[] } | undefined {
  try {
    return scan(text, file, reg);
  } catch (e) {
    if (e === NOT_PLAIN) return undefined;
    throw e;
  }
}

function scan(text: string, file: string, reg: SegmentRegistry): { roots: RecordNode[]; warnings: FormatWarning[] } {
  const n = text.length;
  const roots: RecordNode[] = [];
  const warnings: FormatWarning[] = [];
  const warned = new Set<string>();
  const types = new Map<string, { type: string; known: boolean }>();
  const frames: Frame[] = [];
  let depth = 0;
  const attrNames: string[] = [];

  // line counting: lines before `nextNl` are counted
  let lineNo = 1;
  let lineStart = 0;
  let nextNl = text.indexOf('\n');
  if (nextNl === -1) nextNl = n;

  // the IDOC being read
  let idocFrame: Frame | undefined;
  let idocAttrs: Array<[string, string]> | undefined;
  let control: ControlValue[] = [];
  let controlDone = false;
  let root: RecordNode | undefined;
  let docnum = '';
  let rootSeen = false;

  const decode = (s: string): string => {
    if (s.indexOf('&') === -1) return s;
    try {
      return decodeEntities(s, file, 0, 0);
    } catch {
      throw NOT_PLAIN;
    }
  };
  /** Trimmed value of a leaf's text, as the generic reader gives it (trim, decode, trim). */
  const leafValue = (f: Frame): string => {
    if (f.textStart < 0) return '';
    const t = trimmedField(text, f.textStart, f.textEnd - f.textStart);
    if (t === '') return '';
    if (t.indexOf('\r') !== -1) throw NOT_PLAIN; // the generic reader turns CR LF into LF
    return decode(t).trim();
  };
  const count = (m: Map<string, number>, key: string): number => {
    const k = (m.get(key) ?? 0) + 1;
    m.set(key, k);
    return k;
  };
  const openSegment = (f: Frame, parent: Frame, parentNode: RecordNode) => {
    let t = types.get(f.name);
    if (!t) types.set(f.name, (t = segmentType(f.name, reg)));
    const type = t.type;
    const segmentIndex = count((parent.types ??= new Map()), type);
    const pos: SourcePos = docnum
      ? { file, line: f.line, column: f.column, path: f.path, segment: type, segmentIndex, idoc: docnum }
      : { file, line: f.line, column: f.column, path: f.path, segment: type, segmentIndex };
    const node: RecordNode = { name: type, fields: newFields(), children: [], pos };
    if (f.name !== type) node.rawName = f.name;
    if (!t.known) {
      node.unknown = true;
      if (!warned.has(f.name)) {
        warned.add(f.name);
        warnings.push({ code: 'FORMAT_IDOC_UNKNOWN_SEGMENT', message: `segment ${f.name} has no definition; its fields are kept as found`, pos });
      }
    }
    parentNode.children.push(node);
    f.kind = K_SEGMENT;
    f.node = node;
  };
  const finishControl = (f: Frame) => {
    const idoc = idocFrame!;
    docnum = control.find((c) => c.name === 'DOCNUM')?.value ?? '';
    const rootPos: SourcePos = docnum
      ? { file, line: idoc.line, column: idoc.column, path: idoc.path, idoc: docnum }
      : { file, line: idoc.line, column: idoc.column, path: idoc.path };
    root = { name: 'IDOC', fields: newFields(), children: [], pos: rootPos };
    if (idocAttrs) for (const [k, v] of idocAttrs) root.fields[`@${k}`] = { value: v, pos: rootPos };
    const segmentIndex = count((idoc.types ??= new Map()), 'EDI_DC40');
    const pos: SourcePos = docnum
      ? { file, line: f.line, column: f.column, path: f.path, segment: 'EDI_DC40', segmentIndex, idoc: docnum }
      : { file, line: f.line, column: f.column, path: f.path, segment: 'EDI_DC40', segmentIndex };
    const node: RecordNode = { name: 'EDI_DC40', fields: newFields(), children: [], pos };
    if (f.name !== 'EDI_DC40') node.rawName = f.name;
    for (const c of control) {
      if (c.value !== '') {
        node.fields[c.name] = {
          value: c.value,
          pos: docnum
            ? { file, line: c.line, column: c.column, path: c.path, segment: 'EDI_DC40', segmentIndex, idoc: docnum }
            : { file, line: c.line, column: c.column, path: c.path, segment: 'EDI_DC40', segmentIndex },
        };
      }
    }
    root.children.push(node);
    controlDone = true;
  };

  const open = (name: string, attrs: Array<[string, string]> | undefined, hasSegmentAttr: boolean, start: number) => {
    if (depth >= MAX_DEPTH) throw NOT_PLAIN;
    const parent = depth > 0 ? frames[depth - 1]! : undefined;
    let path: string;
    let first = false;
    if (parent) {
      if (parent.kind === K_CONTROL_FIELD) throw NOT_PLAIN; // the generic reader keeps the text of such a field
      if (parent.kind === K_PENDING) {
        // a child makes it a segment
        const seg = frames[depth - 2]!;
        openSegment(parent, seg, seg.node!);
      }
      first = !parent.hasChild;
      parent.hasChild = true;
      const nth = count((parent.names ??= new Map()), name);
      path = nth > 1 ? `${parent.path}/${name}[${nth}]` : `${parent.path}/${name}`;
    } else {
      if (rootSeen) throw NOT_PLAIN;
      rootSeen = true;
      path = `/${name}`;
    }
    let f = frames[depth];
    if (!f) frames[depth] = f = newFrame();
    depth++;
    f.name = name;
    f.path = path;
    f.line = lineNo;
    f.column = start - lineStart + 1;
    f.node = undefined;
    f.names = undefined;
    f.types = undefined;
    f.textStart = -1;
    f.textEnd = -1;
    f.hasChild = false;
    if (!parent) {
      if (name === 'IDOC') throw NOT_PLAIN; // a bare IDOC as document element: rare, the generic reader does it
      f.kind = K_DOC;
      return;
    }
    switch (parent.kind) {
      case K_DOC:
        if (name === 'IDOC') {
          f.kind = K_IDOC;
          idocFrame = f;
          idocAttrs = attrs;
          control = [];
          controlDone = false;
          root = undefined;
          docnum = '';
        } else f.kind = K_SKIP;
        return;
      case K_SKIP:
        f.kind = K_SKIP;
        return;
      case K_IDOC:
        if (!controlDone) {
          // the control record must come first (otherwise the generic reader reorders or reports it)
          if (!first || !name.startsWith('EDI_DC')) throw NOT_PLAIN;
          f.kind = K_CONTROL;
          return;
        }
        openSegment(f, parent, root!);
        return;
      case K_CONTROL:
        f.kind = K_CONTROL_FIELD;
        return;
      case K_SEGMENT:
        if (hasSegmentAttr) openSegment(f, parent, parent.node!);
        else f.kind = K_PENDING;
        return;
      default:
        throw NOT_PLAIN;
    }
  };

  const close = () => {
    const f = frames[--depth]!;
    switch (f.kind) {
      case K_PENDING: {
        const value = leafValue(f);
        if (value !== '') {
          const seg = frames[depth - 1]!.node!;
          const p = seg.pos;
          seg.fields[f.name] = {
            value,
            pos: p.idoc !== undefined
              ? { file, line: f.line, column: f.column, path: f.path, segment: p.segment!, segmentIndex: p.segmentIndex!, idoc: p.idoc }
              : { file, line: f.line, column: f.column, path: f.path, segment: p.segment!, segmentIndex: p.segmentIndex! },
          };
        }
        return;
      }
      case K_CONTROL_FIELD:
        control.push({ name: f.name, value: leafValue(f), line: f.line, column: f.column, path: f.path });
        return;
      case K_CONTROL:
        finishControl(f);
        return;
      case K_IDOC:
        if (!controlDone) throw NOT_PLAIN;
        roots.push(root!);
        idocFrame = undefined;
        return;
      default:
        return;
    }
  };

  let i = 0;
  if (text.startsWith('<?xml')) {
    const m = DECLARATION.exec(text);
    if (!m) throw NOT_PLAIN;
    i = m[0].length;
  }
  while (i < n) {
    let lt = text.indexOf('<', i);
    if (lt === -1) lt = n;
    if (lt > i) {
      // text from i to lt
      let ws = true;
      for (let k = i; k < lt; k++) {
        if (!isWs(text.charCodeAt(k))) {
          ws = false;
          break;
        }
      }
      if (!ws) {
        if (depth === 0) throw NOT_PLAIN; // text outside the document element
        const f = frames[depth - 1]!;
        // a leaf has one text run; the text of an element with children is not used
        if (f.textStart < 0 && !f.hasChild) {
          f.textStart = i;
          f.textEnd = lt;
        }
        // every text is decoded by the generic reader, so a bad reference anywhere fails there
        const t = text.slice(i, lt).trim();
        if (t.indexOf('&') !== -1) decode(t);
      }
      if (lt === n) break;
    }
    // a tag at lt
    while (nextNl < lt) {
      lineNo++;
      lineStart = nextNl + 1;
      nextNl = text.indexOf('\n', lineStart);
      if (nextNl === -1) nextNl = n;
    }
    const c = text.charCodeAt(lt + 1);
    if (c === 47) {
      // </name>
      if (depth === 0) throw NOT_PLAIN;
      const name = frames[depth - 1]!.name;
      let j = lt + 2;
      if (!text.startsWith(name, j)) throw NOT_PLAIN;
      j += name.length;
      while (isWs(text.charCodeAt(j))) j++;
      if (text.charCodeAt(j) !== 62) throw NOT_PLAIN;
      close();
      i = j + 1;
      continue;
    }
    if (!isNameStart(c) || depth === 0 && rootSeen) throw NOT_PLAIN;
    let j = lt + 2;
    while (isNameChar(text.charCodeAt(j))) j++;
    const name = text.slice(lt + 1, j);
    if (RESERVED_NAMES.has(name)) throw NOT_PLAIN;
    // attribute values are kept for IDOC only (its fields "@BEGIN"); the others are only checked
    const keep = name === 'IDOC';
    let attrs: Array<[string, string]> | undefined;
    let hasSegmentAttr = false;
    attrNames.length = 0;
    let selfClosing = false;
    for (;;) {
      let k = j;
      while (isWs(text.charCodeAt(k))) k++;
      const ch = text.charCodeAt(k);
      if (ch === 62) {
        j = k + 1;
        break;
      }
      if (ch === 47) {
        if (text.charCodeAt(k + 1) !== 62) throw NOT_PLAIN;
        j = k + 2;
        selfClosing = true;
        break;
      }
      if (k === j || !isNameStart(ch)) throw NOT_PLAIN;
      let e = k + 1;
      while (isNameChar(text.charCodeAt(e))) e++;
      const an = text.slice(k, e);
      if (an === 'xmlns' || RESERVED_NAMES.has(an)) throw NOT_PLAIN;
      while (isWs(text.charCodeAt(e))) e++;
      if (text.charCodeAt(e) !== 61) throw NOT_PLAIN; // =
      e++;
      while (isWs(text.charCodeAt(e))) e++;
      if (text.charCodeAt(e) !== 34) throw NOT_PLAIN; // "
      const q = text.indexOf('"', e + 1);
      if (q === -1) throw NOT_PLAIN;
      let amp = false;
      for (let x = e + 1; x < q; x++) {
        const rc = text.charCodeAt(x);
        if (rc === 60 || rc === 62 || rc === 13 || rc === 10 || rc === 9) throw NOT_PLAIN;
        if (rc === 38) amp = true;
      }
      if (attrNames.includes(an)) throw NOT_PLAIN;
      attrNames.push(an);
      if (an === 'SEGMENT') hasSegmentAttr = true;
      if (keep || amp) {
        const value = decode(trimmedField(text, e + 1, q - e - 1));
        if (keep) (attrs ??= []).push([an, value]);
      }
      j = q + 1;
    }
    open(name, attrs, hasSegmentAttr, lt);
    if (selfClosing) close();
    i = j;
  }
  if (depth !== 0 || !rootSeen || roots.length === 0) throw NOT_PLAIN;
  return { roots, warnings };
}
function convertIdoc(idoc: XmlElement, file: string, reg: SegmentRegistry, warn: (w: FormatWarning) => void, warned: Set<string>): RecordNode {
  const control = idoc.children.find((c) => c.name === 'EDI_DC40' || c.name.startsWith('EDI_DC'));
  if (!control) {
    throw formatError('FORMAT_IDOC_MISSING_CONTROL_RECORD', 'IDOC element has no control record <EDI_DC40>', { file, line: idoc.line, column: idoc.column, path: idoc.path }, {
      hint: 'every IDOC starts with <EDI_DC40 SEGMENT="1">',
    });
  }
  const docnum = control.children.find((c) => c.name === 'DOCNUM')?.text.trim() ?? '';
  const rootPos: SourcePos = { file, line: idoc.line, column: idoc.column, path: idoc.path, ...(docnum ? { idoc: docnum } : {}) };
  const root: RecordNode = { name: 'IDOC', fields: newFields(), children: [], pos: rootPos };
  for (const [k, v] of Object.entries(idoc.attrs)) root.fields[`@${k}`] = { value: v, pos: rootPos };
  const counts = new Map<RecordNode, Map<string, number>>();
  const convertSegment = (el: XmlElement, parent: RecordNode, isControl: boolean) => {
    const { type, known } = isControl ? { type: 'EDI_DC40', known: true } : segmentType(el.name, reg);
    const segmentIndex = nextSegmentIndex(counts, parent, type);
    const pos: SourcePos = { file, line: el.line, column: el.column, path: el.path, segment: type, segmentIndex, ...(docnum ? { idoc: docnum } : {}) };
    const node: RecordNode = { name: type, fields: newFields(), children: [], pos };
    if (el.name !== type) node.rawName = el.name;
    if (!known) {
      node.unknown = true;
      if (!warned.has(el.name)) {
        warned.add(el.name);
        warn({ code: 'FORMAT_IDOC_UNKNOWN_SEGMENT', message: `segment ${el.name} has no definition; its fields are kept as found`, pos });
      }
    }
    for (const c of el.children) {
      if (!isControl && isSegment(c)) convertSegment(c, node, false);
      else {
        const value = c.text.trim();
        // blank fields are left out, as in the flat reader (SAP omits them in IDoc-XML anyway)
        if (value !== '') node.fields[c.name] = { value, pos: { ...pos, line: c.line, column: c.column, path: c.path } };
      }
    }
    parent.children.push(node);
  };
  convertSegment(control, root, true);
  for (const c of idoc.children) {
    if (c === control) continue;
    convertSegment(c, root, false);
  }
  return root;
}
