/**
 * The redaction layer. Everything that becomes a log line or an error message a person
 * sees can be passed through `redact` (text) or `redactValue` (any value, deep copy).
 * It removes:
 *  - values registered with `registerSecret` (the config loader registers every token),
 *  - PEM private key blocks (also truncated ones),
 *  - JWT-shaped strings (KSeF access/refresh tokens) and `Bearer`/`Basic` credentials,
 *  - KSeF tokens by their shape (`<reference>|<context>|<hex>`),
 *  - values that follow a sensitive key in text (`password=...`, `"token": "..."`),
 *  - values of sensitive keys in objects (password, passphrase, secret, token,
 *    authorization, api key, private key, credential, cookie), at any depth,
 *    in arrays, Maps, Sets, Error objects (message, stack, cause, own fields).
 */

const MASK = '***';

/** Registered secret values; shorter ones than this are ignored (they would mask ordinary words). */
export const MIN_SECRET_LENGTH = 4;

const registered = new Set<string>();
let registeredPattern: RegExp | undefined;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Registers a secret value: from now on it is replaced by `***` wherever it appears in
 * redacted text (log lines, error messages). Also registers its trimmed, URL-encoded,
 * JSON-escaped and base64 forms. Values shorter than MIN_SECRET_LENGTH are ignored.
 */
export function registerSecret(value: string): void {
  const variants = new Set<string>();
  const trimmed = value.trim();
  for (const v of [value, trimmed]) {
    if (v.length < MIN_SECRET_LENGTH) continue;
    variants.add(v);
    variants.add(encodeURIComponent(v));
    variants.add(JSON.stringify(v).slice(1, -1));
    variants.add(Buffer.from(v, 'utf8').toString('base64'));
  }
  let changed = false;
  for (const v of variants) {
    if (v.length >= MIN_SECRET_LENGTH && !registered.has(v)) {
      registered.add(v);
      changed = true;
    }
  }
  if (changed) {
    const sorted = [...registered].sort((a, b) => b.length - a.length).map(escapeRegExp);
    registeredPattern = new RegExp(sorted.join('|'), 'g');
  }
}

/** Number of registered secret forms (for diagnostics; never the values). */
export function registeredSecretCount(): number {
  return registered.size;
}

const SENSITIVE_WORD = 'password|passphrase|passwd|secret|token|authori[sz]ation|api[_-]?key|private[_-]?key|credential|cookie';
const SENSITIVE_KEY = new RegExp(`(${SENSITIVE_WORD})`, 'i');
/** Keys that contain a sensitive word but name something that is not itself secret. */
const HARMLESS_KEY_SUFFIX = /(file|path|env|source|kind|type|count|ref|reference|reference_?number|expires?|valid_?until|length)$/i;
const EXACT_SENSITIVE_KEY = /^(pwd|pin|pass|auth)$/i;

/** True when a property or config key of this name holds a secret. */
export function isSensitiveKey(key: string): boolean {
  if (EXACT_SENSITIVE_KEY.test(key)) return true;
  if (!SENSITIVE_KEY.test(key)) return false;
  return !HARMLESS_KEY_SUFFIX.test(key);
}

const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g;
/** Bearer/Basic credentials: 8+ characters with at least one digit or symbol (so "Bearer authentication" stays). */
const AUTH_SCHEME = /\b([Bb]earer|Basic)(\s+)(?=[A-Za-z0-9\-._~+/]*[0-9\-._~+/])[A-Za-z0-9\-._~+/]{8,}=*/g;
const JWT = /\beyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){1,4}/g;
const KSEF_TOKEN = /\b\d{8}-[A-Z0-9]{2}-[0-9A-Fa-f-]{6,60}\|[^\s|]{1,80}\|[0-9A-Za-z+/=_-]{16,}/g;
const KEY_VALUE = new RegExp(
  `(["']?)(\\b[A-Za-z0-9_.-]*(?:${SENSITIVE_WORD})[A-Za-z0-9_.-]*)\\1(\\s*[:=]\\s*)("(?:[^"\\\\]|\\\\.)*"|'(?:[^'\\\\]|\\\\.)*'|[^\\s,;&}\\]]+)`,
  'gi',
);

/**
 * Registered values and secret shapes only, without the `key = value` rule: safe on
 * serialized JSON (used as the last pass over every formatted log line).
 */
export function redactPatterns(text: string): string {
  if (text.length === 0) return text;
  let out = text;
  if (registeredPattern) {
    registeredPattern.lastIndex = 0;
    out = out.replace(registeredPattern, MASK);
  }
  out = out.replace(PEM_PRIVATE_KEY, '[REDACTED PRIVATE KEY]');
  out = out.replace(KSEF_TOKEN, '[REDACTED KSEF TOKEN]');
  out = out.replace(JWT, '[REDACTED JWT]');
  out = out.replace(AUTH_SCHEME, `$1$2${MASK}`);
  return out;
}

/** Removes secrets from a piece of text (see the module comment for what counts as one). */
export function redact(text: string): string {
  if (text.length === 0) return text;
  return redactPatterns(text).replace(KEY_VALUE, (whole, quote: string, key: string, sep: string, value: string) => {
    if (!isSensitiveKey(key) || value === MASK || value === `"${MASK}"` || value === `'${MASK}'`) return whole;
    if (/^(null|undefined|true|false)$/.test(value)) return whole;
    const q = value.startsWith('"') ? '"' : value.startsWith("'") ? "'" : '';
    return `${quote}${key}${quote}${sep}${q}${MASK}${q}`;
  });
}

const MAX_DEPTH = 12;

function isBinary(v: object): v is ArrayBufferView | ArrayBuffer {
  return ArrayBuffer.isView(v) || v instanceof ArrayBuffer;
}

function walk(value: unknown, seen: WeakSet<object>, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      return redact(value);
    case 'number':
    case 'boolean':
    case 'bigint':
    case 'undefined':
    case 'symbol':
      return value;
    case 'function':
      return `[Function ${value.name || 'anonymous'}]`;
    default:
      break;
  }
  if (value === null) return null;
  const obj = value as object;
  if (seen.has(obj)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Too deep]';
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? 'Invalid Date' : obj.toISOString();
  if (isBinary(obj)) return `[binary ${obj.byteLength} bytes]`;
  seen.add(obj);
  try {
    if (obj instanceof Error) return walkError(obj, seen, depth);
    if (Array.isArray(obj)) return obj.map((v) => walk(v, seen, depth + 1));
    if (obj instanceof Map) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of obj) {
        const key = String(k);
        out[key] = isSensitiveKey(key) && v !== null && v !== undefined ? MASK : walk(v, seen, depth + 1);
      }
      return out;
    }
    if (obj instanceof Set) return [...obj].map((v) => walk(v, seen, depth + 1));
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      const json: unknown = toJSON.call(obj);
      if (json !== obj) return walk(json, seen, depth + 1);
    }
    return walkProps(obj, {}, seen, depth);
  } finally {
    seen.delete(obj);
  }
}

function walkProps(obj: object, out: Record<string, unknown>, seen: WeakSet<object>, depth: number): Record<string, unknown> {
  for (const [k, v] of Object.entries(obj)) {
    if (isSensitiveKey(k) && v !== null && v !== undefined && typeof v !== 'boolean') {
      out[k] = MASK;
    } else {
      out[k] = walk(v, seen, depth + 1);
    }
  }
  return out;
}

function walkError(err: Error, seen: WeakSet<object>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: redact(String(err.message)) };
  walkProps(err, out, seen, depth);
  if (typeof err.stack === 'string') out.stack = redact(err.stack);
  if (err.cause !== undefined) out.cause = walk(err.cause, seen, depth + 1);
  if (err instanceof AggregateError) out.errors = walk(err.errors, seen, depth + 1);
  return out;
}

/**
 * A deep, redacted copy of any value, safe to log or serialize: strings are redacted,
 * sensitive keys masked, Errors become plain objects (name, message, stack, cause, own
 * fields), binary data becomes "[binary N bytes]", cycles "[Circular]". Objects with a
 * toJSON (Secret, Date, BridgeError without its stack) are serialized through it.
 */
export function redactValue(value: unknown): unknown {
  return walk(value, new WeakSet(), 0);
}

/** Redacts an Error into a plain object (message, stack, cause, fields). */
export function redactError(err: Error): Record<string, unknown> {
  return walkError(err, new WeakSet(), 0);
}
