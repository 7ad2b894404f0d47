/**
 * Bytes to text: reading from memory, a file or a stream; decoding the encodings Polish ERPs use;
 * reporting invalid UTF-8 and binary content with a position; splitting into lines. Streaming
 * throughout, so big exports are read with flat memory.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import { formatError } from './errors.js';
import type { CommonOptions, FormatInput, FormatWarning } from './types.js';

const CHUNK = 1 << 20;

export function inputName(input: FormatInput, opts: { file?: string }): string {
  if (opts.file) return opts.file;
  if (typeof input === 'object' && input !== null && 'path' in input && typeof input.path === 'string') return input.path;
  return '<input>';
}

function isPathInput(input: FormatInput): input is { path: string } {
  return typeof input === 'object' && input !== null && !(input instanceof Uint8Array) && 'path' in input;
}

function tooLarge(file: string, size: number, max: number) {
  return formatError('FORMAT_FILE_TOO_LARGE', `file is larger than the limit of ${max} bytes (at least ${size} bytes)`, { file }, {
    hint: 'raise maxBytes in the format options if the file is legitimate, or split the export',
    details: { size, maxBytes: max },
  });
}

/** The raw byte chunks of an input (not for string input, which is already text). */
export async function* byteChunks(input: Exclude<FormatInput, string>, file: string, maxBytes?: number): AsyncGenerator<Uint8Array> {
  if (input instanceof Uint8Array) {
    if (maxBytes !== undefined && input.byteLength > maxBytes) throw tooLarge(file, input.byteLength, maxBytes);
    for (let i = 0; i < input.byteLength; i += CHUNK) yield input.subarray(i, Math.min(input.byteLength, i + CHUNK));
    return;
  }
  let source: AsyncIterable<Uint8Array>;
  if (isPathInput(input)) {
    try {
      const st = await stat(input.path);
      if (!st.isFile()) throw new Error('not a regular file');
      if (maxBytes !== undefined && st.size > maxBytes) throw tooLarge(file, st.size, maxBytes);
    } catch (e) {
      if (e instanceof Error && 'code' in e && typeof e.code === 'string' && e.code.startsWith('FORMAT_')) throw e;
      throw formatError('FORMAT_READ_FAILED', `cannot read the file: ${e instanceof Error ? e.message : String(e)}`, { file }, { cause: e });
    }
    source = createReadStream(input.path, { highWaterMark: CHUNK });
  } else {
    source = input;
  }
  let total = 0;
  try {
    for await (const chunk of source) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk as string, 'utf8') : chunk;
      total += bytes.byteLength;
      if (maxBytes !== undefined && total > maxBytes) throw tooLarge(file, total, maxBytes);
      yield bytes;
    }
  } catch (e) {
    if (e instanceof Error && 'code' in e && typeof e.code === 'string' && e.code.startsWith('FORMAT_')) throw e;
    throw formatError('FORMAT_READ_FAILED', `reading failed: ${e instanceof Error ? e.message : String(e)}`, { file }, { cause: e });
  }
}

const ENCODING_ALIASES: Record<string, string> = {
  'utf-8': 'utf-8',
  utf8: 'utf-8',
  'windows-1250': 'windows-1250',
  cp1250: 'windows-1250',
  'win-1250': 'windows-1250',
  cp852: 'cp852',
  ibm852: 'cp852',
  'iso-8859-2': 'iso-8859-2',
  latin2: 'iso-8859-2',
  'utf-16le': 'utf-16le',
  auto: 'auto',
};

export function normalizeEncoding(enc: string | undefined, file: string): string {
  const key = (enc ?? 'utf-8').toLowerCase();
  const e = Object.hasOwn(ENCODING_ALIASES, key) ? ENCODING_ALIASES[key] : undefined;
  if (!e) {
    throw formatError('FORMAT_ENCODING_UNSUPPORTED', `unsupported encoding "${enc}"`, { file }, {
      value: enc,
      allowed: 'utf-8, windows-1250, cp852, iso-8859-2, utf-16le, auto',
    });
  }
  return e;
}

/** Index of the first byte that is not part of a valid UTF-8 sequence, or -1. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c === 0xe0) (need = 2), (lo = 0xa0);
    else if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) need = 2;
    else if (c === 0xed) (need = 2), (hi = 0x9f);
    else if (c === 0xf0) (need = 3), (lo = 0x90);
    else if (c >= 0xf1 && c <= 0xf3) need = 3;
    else if (c === 0xf4) (need = 3), (hi = 0x8f);
    else return i;
    if (i + need >= n) return i; // truncated sequence
    const c1 = b[i + 1]!;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= need; k++) {
      const ck = b[i + k]!;
      if (ck < 0x80 || ck > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

/** Number of bytes at the end that start an incomplete (possibly valid) UTF-8 sequence. */
function incompleteTail(b: Uint8Array): number {
  const n = b.length;
  for (let k = 1; k <= 3 && k <= n; k++) {
    const c = b[n - k]!;
    if ((c & 0xc0) === 0x80) continue;
    if (c >= 0xc0) {
      const len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
      return len > k ? k : 0;
    }
    return 0;
  }
  return 0;
}

const POLISH_BYTES: Record<string, number[]> = {
  'windows-1250': [0xb9, 0xa5, 0xe6, 0xc6, 0xea, 0xca, 0xb3, 0xa3, 0xf1, 0xd1, 0xf3, 0xd3, 0x9c, 0x8c, 0x9f, 0x8f, 0xbf, 0xaf],
  cp852: [0xa5, 0xa4, 0x86, 0x8f, 0xa9, 0xa8, 0x88, 0x9d, 0xe4, 0xe3, 0xa2, 0xe0, 0x98, 0x97, 0xab, 0x8d, 0xbe, 0xbd],
  'iso-8859-2': [0xb1, 0xa1, 0xe6, 0xc6, 0xea, 0xca, 0xb3, 0xa3, 0xf1, 0xd1, 0xf3, 0xd3, 0xb6, 0xa6, 0xbc, 0xac, 0xbf, 0xaf],
};

/** Which single-byte Polish code page explains the high bytes best (a hint, not a certainty). */
export function guessPolishEncoding(b: Uint8Array): string {
  const score: Record<string, number> = { 'windows-1250': 0, cp852: 0, 'iso-8859-2': 0 };
  const sets = Object.fromEntries(Object.entries(POLISH_BYTES).map(([k, v]) => [k, new Set(v)]));
  const limit = Math.min(b.length, 1 << 16);
  for (let i = 0; i < limit; i++) {
    const c = b[i]!;
    if (c < 0x80) continue;
    for (const k of Object.keys(score)) if (sets[k]!.has(c)) score[k]! += 1;
  }
  // windows-1250 and iso-8859-2 share most letters; prefer windows-1250 (far more common in ERP exports)
  let best = 'windows-1250';
  for (const k of ['cp852', 'iso-8859-2']) if (score[k]! > score[best]!) best = k;
  return best;
}

function countNewlines(s: string): { count: number; tail: number } {
  let count = 0;
  let last = -1;
  let i = s.indexOf('\n');
  while (i !== -1) {
    count++;
    last = i;
    i = s.indexOf('\n', i + 1);
  }
  return { count, tail: last === -1 ? -1 : s.length - last - 1 };
}

export interface DecodeState {
  /** Encoding actually used (after "auto" detection). */
  encoding: string;
}

/**
 * Decode an input to text chunks. Checks: UTF-16 BOM without a UTF-16 encoding, NUL bytes (binary
 * content), invalid UTF-8 (with line/column and a hint naming the likely code page).
 */
export async function* decodeText(
  input: FormatInput,
  opts: CommonOptions & { file: string },
  state: DecodeState = { encoding: 'utf-8' },
): AsyncGenerator<string> {
  const file = opts.file;
  if (typeof input === 'string') {
    normalizeEncoding(opts.encoding, file); // validates the option even though text needs no decoding
    state.encoding = 'utf-16 (string)';
    const s = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
    const ctl = CONTROL_CHARS.exec(s);
    if (ctl) {
      const nl = countNewlines(s.slice(0, ctl.index));
      throw binaryError(file, ctl[0].charCodeAt(0), nl.count + 1, (nl.tail === -1 ? ctl.index : nl.tail) + 1);
    }
    yield s;
    return;
  }
  let encoding = normalizeEncoding(opts.encoding, file);
  let decoder: iconv.DecoderStream | undefined;
  let carry: Buffer | undefined;
  let first = true;
  let line = 1; // line number at the start of the next chunk
  let tailChars = 0; // characters since the last newline
  const warn = (w: FormatWarning) => opts.onWarning?.(w);
  for await (const chunk of byteChunks(input, file, opts.maxBytes)) {
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (first) {
      first = false;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
        buf = buf.subarray(3);
        if (encoding === 'auto') encoding = 'utf-8';
        else if (encoding !== 'utf-8') {
          warn({ code: 'FORMAT_ENCODING_BOM_MISMATCH', message: `file starts with a UTF-8 BOM but encoding ${encoding} is configured; decoding as ${encoding}`, pos: { file, line: 1 } });
        }
      } else if ((buf[0] === 0xff && buf[1] === 0xfe) || (buf[0] === 0xfe && buf[1] === 0xff)) {
        if (encoding !== 'utf-16le' || buf[0] === 0xfe) {
          throw formatError('FORMAT_ENCODING_UTF16', 'file is UTF-16 encoded (it starts with a UTF-16 byte order mark)', { file, line: 1, column: 1 }, {
            hint: buf[0] === 0xff ? 'set encoding: utf-16le in the format options, or export as UTF-8' : 'UTF-16 big endian is not supported; export as UTF-8',
          });
        }
        buf = buf.subarray(2);
      }
      if (encoding === 'auto') {
        const probe = buf.subarray(0, 1 << 16);
        const body = probe.subarray(0, probe.length - incompleteTail(probe));
        if (isUtf8(body)) encoding = 'utf-8';
        else {
          encoding = guessPolishEncoding(buf);
          warn({ code: 'FORMAT_ENCODING_GUESSED', message: `file is not UTF-8; decoding as ${encoding} (guessed); set encoding explicitly to be sure`, pos: { file, line: 1 } });
        }
      }
      state.encoding = encoding;
      if (encoding !== 'utf-8') decoder = iconv.getDecoder(encoding, { stripBOM: false });
    }
    let text: string;
    if (encoding === 'utf-8') {
      const all = carry ? Buffer.concat([carry, buf]) : buf;
      const t = incompleteTail(all);
      const body = t ? all.subarray(0, all.length - t) : all;
      carry = t ? Buffer.from(all.subarray(all.length - t)) : undefined;
      if (!isUtf8(body)) {
        const bad = firstInvalidUtf8(body);
        const ctl = CONTROL_CHARS.exec(body.subarray(0, Math.min(body.length, bad + 4096)).toString('latin1'));
        if (ctl) {
          const before = body.subarray(0, ctl.index).toString('utf8');
          const bl = countNewlines(before);
          throw binaryError(file, ctl[0].charCodeAt(0), line + bl.count, (bl.tail === -1 ? tailChars + before.length : bl.tail) + 1);
        }
        throw invalidUtf8(file, body, bad, line, tailChars);
      }
      text = body.toString('utf8');
    } else {
      text = decoder!.write(buf);
    }
    const ctl = CONTROL_CHARS.exec(text);
    if (ctl) {
      const before = text.slice(0, ctl.index);
      const bl = countNewlines(before);
      throw binaryError(file, ctl[0].charCodeAt(0), line + bl.count, (bl.tail === -1 ? tailChars + before.length : bl.tail) + 1);
    }
    const nl = countNewlines(text);
    line += nl.count;
    tailChars = nl.tail === -1 ? tailChars + text.length : nl.tail;
    if (text.length > 0) yield text;
  }
  if (carry && carry.length > 0) {
    throw formatError('FORMAT_ENCODING_INVALID_UTF8', 'file ends in the middle of a UTF-8 character (truncated file?)', { file, line, column: tailChars + 1 }, {
      hint: 'the file may be truncated, or it is not UTF-8: set the encoding (windows-1250, cp852, iso-8859-2)',
    });
  }
  if (decoder) {
    const rest = decoder.end();
    if (rest) yield rest;
  }
  if (first) state.encoding = encoding === 'auto' ? 'utf-8' : encoding;
}

/** C0 control characters other than TAB, LF, FF, CR and SUB (DOS end-of-file): never in a text export. */
const CONTROL_CHARS = /[\x00-\x08\x0b\x0e-\x19\x1b-\x1f]/;

function binaryError(file: string, code: number, line: number, column: number) {
  return formatError(
    'FORMAT_BINARY_CONTENT',
    `file contains the control character 0x${code.toString(16).padStart(2, '0')}: it is binary or not a text export`,
    { file, line, column },
    { hint: 'check that the right file was exported (not a PDF, ZIP or spreadsheet); UTF-16 files need encoding: utf-16le' },
  );
}

function invalidUtf8(file: string, body: Buffer, at: number, line: number, tailChars: number) {
  const pos = at < 0 ? 0 : at;
  const before = body.subarray(0, pos).toString('utf8');
  const nl = countNewlines(before);
  const guess = guessPolishEncoding(body);
  const byte = body[pos];
  return formatError(
    'FORMAT_ENCODING_INVALID_UTF8',
    `file is not valid UTF-8: byte 0x${(byte ?? 0).toString(16).padStart(2, '0')} cannot start or continue a UTF-8 character`,
    { file, line: line + nl.count, column: (nl.tail === -1 ? tailChars + before.length : nl.tail) + 1 },
    {
      hint: `set the encoding in the format options; the bytes look like ${guess} (Polish ERPs often export windows-1250, DOS-era ones cp852)`,
      details: { likelyEncoding: guess },
    },
  );
}

/** Decode the whole input into one string (XML, JSON, small files). */
export async function decodeAll(input: FormatInput, opts: CommonOptions & { file: string }): Promise<{ text: string; encoding: string }> {
  const state: DecodeState = { encoding: 'utf-8' };
  const parts: string[] = [];
  for await (const s of decodeText(input, opts, state)) parts.push(s);
  return { text: parts.length === 1 ? parts[0]! : parts.join(''), encoding: state.encoding };
}

export interface LineBatch {
  /** Lines without their terminator (LF or CRLF). */
  lines: string[];
  /** 1-based line number of lines[0]. */
  firstLine: number;
}

/** Lines of a text input, in batches (one batch per decoded chunk), with a line-length guard. */
export async function* readLines(
  input: FormatInput,
  opts: CommonOptions & { file: string; maxLineChars?: number },
  state?: DecodeState,
): AsyncGenerator<LineBatch> {
  const max = opts.maxLineChars ?? 1 << 20;
  let partial = '';
  let next = 1;
  for await (const text of decodeText(input, opts, state)) {
    const parts = text.split('\n');
    parts[0] = partial + parts[0]!;
    partial = parts.pop()!;
    if (partial.length > max) {
      throw formatError('FORMAT_LINE_TOO_LONG', `line is longer than ${max} characters (binary data or wrong line separator?)`, { file: opts.file, line: next + parts.length }, {
        hint: 'check the file is a text export with line breaks',
      });
    }
    if (parts.length === 0) continue;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (p.length > max) {
        throw formatError('FORMAT_LINE_TOO_LONG', `line is longer than ${max} characters`, { file: opts.file, line: next + i });
      }
      if (p.charCodeAt(p.length - 1) === 13) parts[i] = p.slice(0, -1);
    }
    yield { lines: parts, firstLine: next };
    next += parts.length;
  }
  if (partial.length > 0) {
    yield { lines: [partial.charCodeAt(partial.length - 1) === 13 ? partial.slice(0, -1) : partial], firstLine: next };
  }
}
