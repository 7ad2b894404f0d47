/**
 * The neutral record tree every format parser produces. A mapping engine addresses values in it by
 * path (node names, field names) with selection by field value ("the E1EDKA1 whose PARVW is RE").
 *
 * Shape, per format:
 * - CSV / fixed-width: one root per invoice group, name "invoice"; its children are the rows, named
 *   "row" (no record-type column), or "header" / "line" (record-type column or two-file join), or the
 *   raw record-type value for other record types. Row fields are keyed by column name (header row or
 *   configured names) or by the 1-based column number as a string ("1", "2", ...) when there are no names.
 * - XML: one root per document (or per element matched by `recordPath`); every element is a node
 *   named by its local name; attributes are fields "@name"; an element's own text is the field "#text";
 *   leaf child elements (text only, no attributes) are ALSO fields of their parent under the element
 *   name (first occurrence), so `Invoice/Number` and `Invoice.fields.Number` both work.
 * - JSON: objects are nodes; scalar properties are fields (numbers/booleans as their JSON text, null
 *   as absent); object properties and array items are children named by the property key.
 * - IDoc (flat and XML): one root per IDoc, name "IDOC"; children are the control record "EDI_DC40"
 *   and the top-level segments; each segment node is named by its segment TYPE (E2EDK01005 -> E1EDK01),
 *   `rawName` keeps the name as found; segment fields are keyed by the SAP field names.
 */

/** Where a node or a value came from. Every field has one. */
export interface SourcePos {
  /** The file name as given to the parser (for display; not necessarily a path). */
  file: string;
  /** 1-based line in the file (text formats, IDoc flat records, XML/JSON values). */
  line?: number;
  /** 1-based column: character column for fixed-width, XML, JSON and IDoc flat fields; the 1-based
   *  field number for CSV (a consultant counts CSV columns, not characters). */
  column?: number;
  /** IDoc segment type (E1EDP01) the value belongs to. */
  segment?: string;
  /** 1-based index of this segment among its same-type siblings ("E1EDP01 #3"). */
  segmentIndex?: number;
  /** SEGNUM of the IDoc data record (flat files). */
  segmentNumber?: number;
  /** IDoc number (DOCNUM) the value belongs to. */
  idoc?: string;
  /** Offset of a fixed-length field: in the SDATA part for IDoc, in the record for fixed-width (0-based). */
  offset?: number;
  /** Length of a fixed-length field. */
  length?: number;
  /** XML element path or JSON pointer-like path of the value ("/Invoices/Invoice[2]/Number"). */
  path?: string;
}

/** One value, always as text exactly as the source gave it (trimmed where the format says so). */
export interface Field {
  value: string;
  pos: SourcePos;
}

export interface RecordNode {
  /** Node name: "invoice", "row", "header", "line", an XML element or JSON key, or an IDoc segment type. */
  name: string;
  /** The name as found in the source, when it differs from `name` (IDoc E2EDK01005, XML prefix:name). */
  rawName?: string;
  fields: Record<string, Field>;
  children: RecordNode[];
  pos: SourcePos;
  /** True for IDoc segments with no definition: their data is the single field SDATA. */
  unknown?: boolean;
}

export interface FormatWarning {
  code: string;
  message: string;
  pos: SourcePos;
}

export type FormatName = 'csv' | 'fixed' | 'xml' | 'json' | 'idoc-flat' | 'idoc-xml';

export interface ParsedDocument {
  format: FormatName;
  file: string;
  /** The encoding the bytes were decoded with (text formats). */
  encoding?: string;
  /** One root per invoice candidate (CSV/fixed group, IDoc) or per document (XML/JSON). */
  roots: RecordNode[];
  warnings: FormatWarning[];
}

/** Bytes in memory, text already decoded (a string is content, never a path), a file on disk
 *  ({ path }), or a stream of byte chunks (a Node Readable is one). */
export type FormatInput = Uint8Array | string | { path: string } | AsyncIterable<Uint8Array>;

export type EncodingName =
  | 'utf-8'
  | 'utf8'
  | 'windows-1250'
  | 'cp1250'
  | 'cp852'
  | 'ibm852'
  | 'iso-8859-2'
  | 'latin2'
  | 'utf-16le'
  | 'auto';

export interface CommonOptions {
  /** Name used in positions and errors; defaults to the path, or "<input>". */
  file?: string;
  /** Character encoding of the bytes. Default utf-8. "auto": UTF-8 if the first 64 KiB are valid
   *  UTF-8, otherwise Windows-1250 (with a warning). A UTF-8 BOM is always stripped. */
  encoding?: EncodingName;
  /** Reject files larger than this many bytes (default: 64 MiB for XML/JSON/IDoc-XML; no limit for
   *  streamed CSV, fixed-width and IDoc flat files). */
  maxBytes?: number;
  /** Receives warnings as they occur (streaming iterators have no document to attach them to). */
  onWarning?: (w: FormatWarning) => void;
}

/** How records are grouped into invoices (CSV and fixed-width). */
export interface GroupingOptions {
  /** Column (name, or 1-based number as string) whose value identifies the invoice. Rows of one
   *  invoice must be contiguous (as ERP exports write them); a key that reappears after another key
   *  is an error FORMAT_GROUP_NOT_CONTIGUOUS. Without groupBy and without recordType the whole file is
   *  one invoice. */
  groupBy?: string;
  /** Header and line records in one file, told apart by a record-type column. Each header record
   *  starts a new invoice; line records belong to the header before them. */
  recordType?: {
    /** Column name or 1-based column number (CSV), or field name (fixed-width). */
    column: string;
    /** Values that mark a header record (e.g. ["N", "H"]). */
    header: string[];
    /** Values that mark a line record (e.g. ["P", "L"]). */
    line: string[];
  };
  /** Safety limit: rows in one group (default 1,000,000). */
  maxGroupRows?: number;
}

export interface CsvOptions extends CommonOptions, GroupingOptions {
  /** Field delimiter, default ";" (Polish ERPs). Use "\t" for tab. */
  delimiter?: string;
  /** Quote character, default '"'; false for none. */
  quote?: string | false;
  /** Escape character inside quotes, default same as quote (""). */
  escape?: string;
  /** true (default): the first row names the columns; string[]: column names given here; false: columns
   *  are named "1", "2", ... */
  header?: boolean | string[];
  /** Column names per record-type value, for files whose header and line records have different layouts
   *  (overrides `header` for those records). */
  columnsByType?: Record<string, string[]>;
  /** Lines to skip before the header/first record (preamble). */
  skipLines?: number;
  /** Trim spaces around unquoted values (default true). */
  trim?: boolean;
  /** Allow rows with more or fewer fields than the header (default false: error). Extra empty
   *  trailing fields are always allowed. */
  relaxColumnCount?: boolean;
  /** Skip empty lines (default true). */
  skipEmptyLines?: boolean;
  /** Safety limit for one record in characters (default 1 MiB): a runaway quote ends here. */
  maxRecordChars?: number;
}

/** Two CSV files: invoice headers and invoice lines, joined by key columns. */
export interface CsvPairOptions extends Omit<CsvOptions, 'groupBy' | 'recordType' | 'file'> {
  headerFile?: string;
  linesFile?: string;
  /** Key column in the header file. */
  headerKey: string;
  /** Key column in the lines file (default: same as headerKey). */
  lineKey?: string;
  /** Options that differ for the lines file (delimiter, header, ...). */
  lines?: Omit<CsvOptions, 'groupBy' | 'recordType'>;
}

export interface FixedField {
  name: string;
  /** 1-based start column (as ERP record layouts print it). */
  start: number;
  length: number;
}

export interface FixedWidthOptions extends CommonOptions, Omit<GroupingOptions, 'recordType'> {
  /** Field layout when all records share one layout. */
  fields?: FixedField[];
  /** Record type at a position; `layouts` gives the fields of each record type value. */
  recordType?: {
    start: number;
    length: number;
    header: string[];
    line: string[];
  };
  layouts?: Record<string, FixedField[]>;
  /** Trim values (default: trim both sides). */
  trim?: boolean;
  /** Skip empty lines (default true). */
  skipEmptyLines?: boolean;
  /** Lines to skip at the start. */
  skipLines?: number;
}

export interface XmlOptions extends CommonOptions {
  /** Element path (local names, "/"-separated, from the document element) whose elements each become
   *  one root, e.g. "Invoices/Invoice". Default: the document element is the single root. */
  recordPath?: string;
  /** Maximum element nesting depth (default 100). */
  maxDepth?: number;
}

export interface JsonOptions extends CommonOptions {
  /** Path of keys ("invoices" or "data/invoices") to an array whose items each become one root.
   *  Default: a top-level array gives one root per item, an object gives one root. */
  recordPath?: string;
  /** Maximum nesting depth (default 200). */
  maxDepth?: number;
}

export interface SegmentFieldDefinition {
  name: string;
  /** 0-based offset within SDATA (the 1000 characters after the 63-character administrative part). */
  offset: number;
  length: number;
  description?: string;
}

export interface SegmentDefinition {
  /** Segment type, e.g. E1EDK01 or a customer extension Z1MYSEG. */
  segment: string;
  description?: string;
  fields: SegmentFieldDefinition[];
}

export interface IdocOptions extends CommonOptions {
  /** Extra or overriding segment definitions (customer extensions, other releases). */
  segments?: SegmentDefinition[];
  /** Pad a control record shorter than 524 characters instead of failing (some transports trim
   *  trailing spaces of every record). Default false. */
  tolerateShortControlRecord?: boolean;
}
