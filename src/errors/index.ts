/**
 * One error hierarchy for the whole bridge. Every error that can reach a person
 * carries a stable code (e.g. MAPPING_FIELD_MISSING, KSEF_440_DUPLICATE), a message
 * that says what happened, and the context a person needs to act: the file, line,
 * field or key, the document, and the KSeF code where there is one.
 */
export interface ErrorContext {
  /** File the problem was found in (ksef.ini, a mapping, an export, an FA(3) file). */
  file?: string;
  /** 1-based line in that file. */
  line?: number;
  /** 1-based column in that file. */
  column?: number;
  /** Config key, Invoice field or FA(3) element the problem is about. */
  field?: string;
  /** The value that was found (never a secret: callers mask those). */
  value?: string;
  /** What would have been accepted. */
  allowed?: string;
  /** Document id in the store, or the ERP invoice number. */
  document?: string;
  /** Rule id (semantic rule, XSD, mapping rule). */
  rule?: string;
  /** KSeF status/exception code. */
  ksefCode?: number;
  /** Free-form extra details (must not contain secrets). */
  details?: unknown;
}

export class BridgeError extends Error {
  readonly code: string;
  readonly context: ErrorContext;
  /** What the person should do about it, when we know. */
  readonly hint: string | undefined;

  constructor(code: string, message: string, context: ErrorContext = {}, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.context = context;
    this.hint = options.hint;
  }

  /** "file:line:column" when the error has a location, else undefined. */
  get location(): string | undefined {
    const { file, line, column } = this.context;
    if (!file) return undefined;
    return [file, line, line !== undefined ? column : undefined].filter((p) => p !== undefined).join(':');
  }

  /** A one-paragraph text for a person: location, message, code, hint. */
  describe(): string {
    const where = this.location ? `${this.location}: ` : '';
    const hint = this.hint ? `\n  hint: ${this.hint}` : '';
    return `${where}${this.message} [${this.code}]${hint}`;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, ...this.context, hint: this.hint };
  }
}

/** Configuration problems (ksef.ini, routes, mapping files). */
export class ConfigError extends BridgeError {}
/** Invoice model, FA(3) and validation problems. */
export class InvoiceError extends BridgeError {}
/** Problems parsing an ERP export or applying a mapping. */
export class MappingError extends BridgeError {}
/** Problems talking to KSeF (or the emulator). */
export class KsefError extends BridgeError {}
/** Store (SQLite) problems. */
export class StoreError extends BridgeError {}

export function isBridgeError(e: unknown): e is BridgeError {
  return e instanceof BridgeError;
}

/** Message of any thrown value, for the places that must print something. */
export function errorMessage(e: unknown): string {
  if (e instanceof BridgeError) return e.describe();
  if (e instanceof Error) return e.message;
  return String(e);
}
