/** Grouping of row records into invoice groups (CSV and fixed-width), streaming. */
import { newFields } from './lines.js';
import { formatError, describePos } from './errors.js';
import type { FormatWarning, RecordNode } from './types.js';

export type RowKind = 'row' | 'header' | 'line' | 'other';

export interface Row {
  node: RecordNode;
  kind: RowKind;
  /** Group key value when groupBy is set. */
  key?: string;
}

export interface GrouperOptions {
  file: string;
  groupBy?: string;
  recordType: boolean;
  maxGroupRows?: number;
  onWarning?: (w: FormatWarning) => void;
}

/**
 * Feeds rows in file order; returns a finished group whenever a row starts a new one.
 * Assumption (documented for consultants): the rows of one invoice are contiguous, as ERP exports
 * write them. A key that comes back after another key is an error, never a silent second invoice.
 */
export class Grouper {
  private current: RecordNode | undefined;
  private currentKey: string | undefined;
  private readonly seen = new Map<string, number>();
  private readonly maxRows: number;
  private warnedOther = new Set<string>();

  constructor(private readonly opts: GrouperOptions) {
    this.maxRows = opts.maxGroupRows ?? 1_000_000;
  }

  private start(row: Row): RecordNode {
    const root: RecordNode = { name: 'invoice', fields: newFields(), children: [row.node], pos: { ...row.node.pos } };
    if (row.key !== undefined) root.fields['#key'] = { value: row.key, pos: row.node.fields[this.opts.groupBy!]?.pos ?? row.node.pos };
    return root;
  }

  private remember(key: string, row: Row): void {
    const earlier = this.seen.get(key);
    if (earlier !== undefined) {
      throw formatError(
        'FORMAT_GROUP_NOT_CONTIGUOUS',
        `records of invoice "${key}" are not together: they start at line ${earlier} and appear again at line ${row.node.pos.line} after other invoices`,
        row.node.pos,
        { field: this.opts.groupBy, value: key, hint: 'sort the export by the invoice key (ERP exports normally write each invoice in one block)' },
      );
    }
    this.seen.set(key, row.node.pos.line ?? 0);
  }

  push(row: Row): RecordNode | undefined {
    const { recordType, groupBy } = this.opts;
    if (recordType) {
      if (row.kind === 'header') {
        if (groupBy !== undefined) {
          if (row.key === undefined || row.key === '') throw this.noKey(row);
          this.remember(row.key, row);
        }
        const done = this.current;
        this.current = this.start(row);
        this.currentKey = row.key;
        return done;
      }
      if (!this.current) {
        throw formatError('FORMAT_LINE_WITHOUT_HEADER', `a ${row.kind === 'line' ? 'line' : `"${row.node.name}"`} record comes before any header record`, row.node.pos, {
          hint: 'the first record of each invoice must be a header record; check the record-type values in the format options',
        });
      }
      if (groupBy !== undefined && row.kind === 'line' && row.key !== undefined && row.key !== this.currentKey) {
        throw formatError('FORMAT_GROUP_KEY_MISMATCH', `line record has ${groupBy} "${row.key}" but belongs to the header with "${this.currentKey}" (${describePos(this.current.pos)})`, row.node.pos, {
          field: groupBy,
          value: row.key,
        });
      }
      if (row.kind === 'other' && !this.warnedOther.has(row.node.name)) {
        this.warnedOther.add(row.node.name);
        this.opts.onWarning?.({ code: 'FORMAT_UNKNOWN_RECORD_TYPE', message: `record type "${row.node.name}" is neither a header nor a line type; kept as a "${row.node.name}" record`, pos: row.node.pos });
      }
      this.add(row);
      return undefined;
    }
    if (groupBy !== undefined) {
      if (row.key === undefined || row.key === '') throw this.noKey(row);
      if (this.current && row.key === this.currentKey) {
        this.add(row);
        return undefined;
      }
      this.remember(row.key, row);
      const done = this.current;
      this.current = this.start(row);
      this.currentKey = row.key;
      return done;
    }
    if (!this.current) this.current = this.start(row);
    else this.add(row);
    return undefined;
  }

  private add(row: Row): void {
    const cur = this.current!;
    if (cur.children.length >= this.maxRows) {
      throw formatError('FORMAT_GROUP_TOO_LARGE', `invoice has more than ${this.maxRows} records`, row.node.pos, {
        hint: this.opts.groupBy ? 'check the grouping key column' : 'set groupBy (the invoice key column) so the file is read one invoice at a time',
      });
    }
    cur.children.push(row.node);
  }

  private noKey(row: Row) {
    return formatError('FORMAT_GROUP_KEY_MISSING', `record has no value in the grouping column "${this.opts.groupBy}"`, row.node.pos, {
      field: this.opts.groupBy,
      hint: 'every record needs the invoice key; check the column name in groupBy',
    });
  }

  finish(): RecordNode | undefined {
    const done = this.current;
    this.current = undefined;
    return done;
  }
}
