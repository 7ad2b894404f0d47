/**
 * IDoc-XML: a document element named after the IDoc type or its extension (INVOIC02, ZINVOIC02, ...),
 * one or more <IDOC BEGIN="1"> elements, each with <EDI_DC40 SEGMENT="1"> and nested segments.
 * Inside a segment, an element with element children or a SEGMENT attribute is a child segment;
 * any other element is a field.
 */
import { newFields } from '../lines.js';
import { formatError } from '../errors.js';
import { inputName } from '../text.js';
import { parseXmlElement, readXmlText, type XmlElement } from '../xml.js';
import type { FormatWarning, FormatInput, IdocOptions, ParsedDocument, RecordNode, SourcePos } from '../types.js';
import { builtinRegistry, segmentRegistry, segmentType, type SegmentRegistry } from './definitions.js';
import { nextSegmentIndex } from './flat.js';

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
  const doc = parseXmlElement(text, file, 100);
  const reg = options.segments && options.segments.length > 0 ? segmentRegistry(options.segments) : builtinRegistry();
  const idocs = doc.name === 'IDOC' ? [doc] : doc.children.filter((c) => c.name === 'IDOC');
  if (idocs.length === 0) {
    throw formatError('FORMAT_IDOC_XML_NO_IDOC', `<${doc.name}> holds no <IDOC> element`, { file, line: doc.line, column: doc.column }, {
      hint: 'IDoc-XML looks like <INVOIC02><IDOC BEGIN="1"><EDI_DC40 SEGMENT="1">...',
    });
  }
  const warned = new Set<string>();
  const roots = idocs.map((idoc) => convertIdoc(idoc, file, reg, warn, warned));
  return { format: 'idoc-xml', file, encoding, roots, warnings };
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
