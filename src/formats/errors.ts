import { MappingError } from '../errors/index.js';
import type { SourcePos } from './types.js';

/** Describe a position for a person: "orders.csv line 12, column 3" / "idoc.txt line 41, E1EDP01 #3". */
export function describePos(pos: SourcePos): string {
  const parts: string[] = [pos.file];
  if (pos.idoc) parts.push(`IDoc ${pos.idoc}`);
  if (pos.segment) parts.push(pos.segmentIndex ? `${pos.segment} #${pos.segmentIndex}` : pos.segment);
  if (pos.line !== undefined) parts.push(`line ${pos.line}`);
  if (pos.column !== undefined) parts.push(`column ${pos.column}`);
  if (pos.path) parts.push(pos.path);
  return parts.join(', ');
}

export interface FormatErrorOptions {
  hint?: string;
  value?: string;
  field?: string;
  allowed?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

/** A MappingError with a FORMAT_* code whose context names the file and position. */
export function formatError(code: string, message: string, pos: SourcePos, opts: FormatErrorOptions = {}): MappingError {
  const details: Record<string, unknown> = { ...(opts.details ?? {}) };
  if (pos.segment) details.segment = pos.segment;
  if (pos.segmentIndex !== undefined) details.segmentIndex = pos.segmentIndex;
  if (pos.segmentNumber !== undefined) details.segmentNumber = pos.segmentNumber;
  if (pos.idoc) details.idoc = pos.idoc;
  if (pos.offset !== undefined) details.offset = pos.offset;
  if (pos.path) details.path = pos.path;
  const context: ConstructorParameters<typeof MappingError>[2] = { file: pos.file };
  if (pos.line !== undefined) context.line = pos.line;
  if (pos.column !== undefined) context.column = pos.column;
  if (opts.field !== undefined) context.field = opts.field;
  if (opts.value !== undefined) context.value = opts.value.length > 80 ? `${opts.value.slice(0, 77)}...` : opts.value;
  if (opts.allowed !== undefined) context.allowed = opts.allowed;
  if (Object.keys(details).length > 0) context.details = details;
  const options: { cause?: unknown; hint?: string } = {};
  if (opts.hint !== undefined) options.hint = opts.hint;
  if (opts.cause !== undefined) options.cause = opts.cause;
  return new MappingError(code, message, context, options);
}
