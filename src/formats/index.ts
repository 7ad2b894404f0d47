/**
 * Format parsers: ERP export bytes to a neutral record tree with source positions.
 * See ./types.ts for the tree shape per format. Every failure is a MappingError with a FORMAT_* code
 * whose context names the file and the position.
 */
import { open } from 'node:fs/promises';
import { formatError } from './errors.js';
import { iterateCsv, parseCsv } from './csv.js';
import { iterateFixedWidth, parseFixedWidth } from './fixed.js';
import { parseJson } from './json.js';
import { parseXml } from './xml.js';
import { iterateIdocFlat, parseIdocFlat } from './idoc/flat.js';
import { parseIdocXml } from './idoc/xml.js';
import { inputName } from './text.js';
import type {
  CsvOptions,
  FixedWidthOptions,
  FormatInput,
  IdocOptions,
  JsonOptions,
  ParsedDocument,
  RecordNode,
  XmlOptions,
} from './types.js';

export type {
  CommonOptions,
  CsvOptions,
  CsvPairOptions,
  EncodingName,
  Field,
  FixedField,
  FixedWidthOptions,
  FormatInput,
  FormatName,
  FormatWarning,
  GroupingOptions,
  IdocOptions,
  JsonOptions,
  ParsedDocument,
  RecordNode,
  SegmentDefinition,
  SegmentFieldDefinition,
  SourcePos,
  XmlOptions,
} from './types.js';
export { parseCsv, iterateCsv, parseCsvPair, iterateCsvPair } from './csv.js';
export { parseFixedWidth, iterateFixedWidth } from './fixed.js';
export { parseXml, DEFAULT_MAX_XML_BYTES } from './xml.js';
export { parseJson, DEFAULT_MAX_JSON_BYTES } from './json.js';
export { parseIdocFlat, iterateIdocFlat } from './idoc/flat.js';
export { parseIdocXml } from './idoc/xml.js';
export { writeIdocFlat, writeIdocXml, type IdocSpec, type IdocSegmentSpec, type IdocWriteOptions } from './idoc/writer.js';
export {
  builtinSegmentDefinitions,
  loadSegmentDefinitions,
  CONTROL_FIELDS,
  CONTROL_RECORD_LENGTH,
  DATA_RECORD_LENGTH,
  ADMIN_LENGTH,
  SDATA_LENGTH,
} from './idoc/definitions.js';
export {
  parseDecimal,
  normalizeNumber,
  parseSapNumber,
  parseSapDate,
  parseSapTime,
  type NumberFormat,
  type DecimalResult,
  type DateResult,
} from './values.js';
export { selectNodes, selectFields, fieldOf, parseSelectPath, type SelectStep } from './select.js';
export { describePos, formatError } from './errors.js';

/** Format and its options in one object, as a mapping file states them. "idoc" picks flat or XML
 *  by the first non-blank character of the file. */
export type FormatOptions =
  | ({ format: 'csv' } & CsvOptions)
  | ({ format: 'fixed' } & FixedWidthOptions)
  | ({ format: 'xml' } & XmlOptions)
  | ({ format: 'json' } & JsonOptions)
  | ({ format: 'idoc-flat' } & IdocOptions)
  | ({ format: 'idoc-xml' } & IdocOptions)
  | ({ format: 'idoc' } & IdocOptions);

export const FORMAT_NAMES = ['csv', 'fixed', 'xml', 'json', 'idoc', 'idoc-flat', 'idoc-xml'] as const;

/** First bytes of an input, and an input equivalent to the original (streams are re-chained). */
async function peek(input: FormatInput, n = 512): Promise<{ head: Uint8Array | string; input: FormatInput }> {
  if (typeof input === 'string' || input instanceof Uint8Array) return { head: input.slice(0, n), input };
  if ('path' in input && typeof input.path === 'string') {
    let fh;
    try {
      fh = await open(input.path, 'r');
      const buf = Buffer.alloc(n);
      const { bytesRead } = await fh.read(buf, 0, n, 0);
      return { head: buf.subarray(0, bytesRead), input };
    } catch (e) {
      throw formatError('FORMAT_READ_FAILED', `cannot read the file: ${e instanceof Error ? e.message : String(e)}`, { file: input.path }, { cause: e });
    } finally {
      await fh?.close();
    }
  }
  const it = (input as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const first = await it.next();
  const head = first.done ? new Uint8Array(0) : first.value;
  async function* rest(): AsyncGenerator<Uint8Array> {
    if (!first.done) yield first.value;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  return { head: head.slice(0, n), input: rest() };
}

function looksLikeXml(head: Uint8Array | string): boolean {
  const s = typeof head === 'string' ? head : Buffer.from(head).toString('latin1');
  return /^(?:\uFEFF|\u00EF\u00BB\u00BF)?\s*</.test(s);
}

async function resolveIdoc(input: FormatInput): Promise<{ format: 'idoc-flat' | 'idoc-xml'; input: FormatInput }> {
  const p = await peek(input);
  return { format: looksLikeXml(p.head) ? 'idoc-xml' : 'idoc-flat', input: p.input };
}

/** Parse a whole export into a document (all roots in memory). */
export async function parseDocument(input: FormatInput, options: FormatOptions): Promise<ParsedDocument> {
  switch (options.format) {
    case 'csv':
      return parseCsv(input, options);
    case 'fixed':
      return parseFixedWidth(input, options);
    case 'xml':
      return parseXml(input, options);
    case 'json':
      return parseJson(input, options);
    case 'idoc-flat':
      return parseIdocFlat(input, options);
    case 'idoc-xml':
      return parseIdocXml(input, options);
    case 'idoc': {
      const r = await resolveIdoc(input);
      const opts = { ...options, file: inputName(input, options) };
      return r.format === 'idoc-xml' ? parseIdocXml(r.input, opts) : parseIdocFlat(r.input, opts);
    }
    default:
      throw formatError('FORMAT_UNKNOWN', `unknown format "${(options as { format: string }).format}"`, { file: inputName(input, options as { file?: string }) }, {
        allowed: FORMAT_NAMES.join(', '),
      });
  }
}

/**
 * Roots one at a time. CSV, fixed-width and IDoc flat files are streamed (flat memory); XML, JSON
 * and IDoc-XML are parsed whole (bounded by maxBytes) and their roots yielded. Warnings go to
 * options.onWarning.
 */
export async function* iterateDocument(input: FormatInput, options: FormatOptions): AsyncGenerator<RecordNode> {
  switch (options.format) {
    case 'csv':
      yield* iterateCsv(input, options);
      return;
    case 'fixed':
      yield* iterateFixedWidth(input, options);
      return;
    case 'idoc-flat':
      yield* iterateIdocFlat(input, options);
      return;
    case 'idoc': {
      const r = await resolveIdoc(input);
      const opts = { ...options, file: inputName(input, options) };
      if (r.format === 'idoc-flat') yield* iterateIdocFlat(r.input, opts);
      else yield* (await parseIdocXml(r.input, opts)).roots;
      return;
    }
    default:
      yield* (await parseDocument(input, options)).roots;
  }
}
