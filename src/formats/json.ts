/**
 * JSON with positions: a small recursive-descent parser that records the line and column of every
 * value, keeps numbers as their source text (no float rounding of amounts), limits size and depth,
 * and reports syntax errors with line and column.
 */
import { formatError } from './errors.js';
import { LineIndex, newFields } from './lines.js';
import { decodeAll, inputName } from './text.js';
import type { FormatInput, FormatWarning, JsonOptions, ParsedDocument, RecordNode, SourcePos } from './types.js';

export const DEFAULT_MAX_JSON_BYTES = 64 * 1024 * 1024;

type JsonValue =
  | { kind: 'scalar'; text: string; isNull: boolean; at: number }
  | { kind: 'object'; entries: Map<string, JsonValue>; at: number }
  | { kind: 'array'; items: JsonValue[]; at: number };

class JsonReader {
  i = 0;
  constructor(
    private readonly s: string,
    private readonly file: string,
    private readonly index: LineIndex,
    private readonly maxDepth: number,
    private readonly warn: (w: FormatWarning) => void,
  ) {}

  pos(at: number): SourcePos {
    return { file: this.file, ...this.index.locate(at) };
  }

  fail(msg: string, at = this.i): never {
    const atEnd = at >= this.s.length;
    throw formatError('FORMAT_JSON_SYNTAX', atEnd ? `JSON ends too early: ${msg} (truncated file?)` : `JSON syntax error: ${msg}`, this.pos(Math.min(at, Math.max(0, this.s.length - 1))), {
      ...(atEnd ? {} : { value: this.s.slice(at, at + 20) }),
    });
  }

  ws(): void {
    const s = this.s;
    let i = this.i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 32 || c === 10 || c === 13 || c === 9) i++;
      else break;
    }
    this.i = i;
  }

  describe(at: number): string {
    if (at >= this.s.length) return 'end of file';
    return `"${this.s[at]}"`;
  }

  value(depth: number): JsonValue {
    if (depth > this.maxDepth) {
      throw formatError('FORMAT_JSON_TOO_DEEP', `JSON nesting is deeper than ${this.maxDepth} levels`, this.pos(this.i));
    }
    this.ws();
    const s = this.s;
    const at = this.i;
    const c = s[at];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return { kind: 'scalar', text: this.string(), isNull: false, at };
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
      m.lastIndex = at;
      const r = m.exec(s);
      if (!r) this.fail('invalid number');
      this.i = at + r[0].length;
      return { kind: 'scalar', text: r[0], isNull: false, at };
    }
    for (const lit of ['true', 'false', 'null']) {
      if (s.startsWith(lit, at)) {
        this.i = at + lit.length;
        return { kind: 'scalar', text: lit === 'null' ? '' : lit, isNull: lit === 'null', at };
      }
    }
    return this.fail(`expected a value, found ${this.describe(at)}`);
  }

  string(): string {
    const s = this.s;
    const start = this.i + 1;
    let i = start;
    let out = '';
    let chunkStart = start;
    for (;;) {
      if (i >= s.length) this.fail('unterminated string', i);
      const c = s.charCodeAt(i);
      if (c === 34) {
        out += s.slice(chunkStart, i);
        this.i = i + 1;
        return out;
      }
      if (c < 0x20) this.fail('control character in a string (unescaped line break?)', i);
      if (c === 92) {
        out += s.slice(chunkStart, i);
        const e = s[i + 1];
        const map: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && Object.hasOwn(map, e)) {
          out += map[e];
          i += 2;
        } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16));
          i += 6;
        } else {
          this.fail('invalid escape sequence in a string', i);
        }
        chunkStart = i;
        continue;
      }
      i++;
    }
  }

  object(depth: number): JsonValue {
    const at = this.i;
    this.i++;
    // a Map: a duplicate key replaces the value in place (last one wins) in constant time
    const entries = new Map<string, JsonValue>();
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return { kind: 'object', entries, at };
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail(`expected a property name in double quotes, found ${this.describe(this.i)}`);
      const keyAt = this.i;
      const key = this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.fail(`expected ":" after property name "${key}", found ${this.describe(this.i)}`);
      this.i++;
      const v = this.value(depth + 1);
      if (entries.has(key)) {
        this.warn({ code: 'FORMAT_JSON_DUPLICATE_KEY', message: `property "${key}" appears twice in one object; the last one is used`, pos: this.pos(keyAt) });
      }
      entries.set(key, v);
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === '}') {
        this.i++;
        return { kind: 'object', entries, at };
      }
      this.fail(`expected "," or "}" in an object, found ${this.describe(this.i)}`);
    }
  }

  array(depth: number): JsonValue {
    const at = this.i;
    this.i++;
    const items: JsonValue[] = [];
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return { kind: 'array', items, at };
    }
    for (;;) {
      items.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.i];
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === ']') {
        this.i++;
        return { kind: 'array', items, at };
      }
      this.fail(`expected "," or "]" in an array, found ${this.describe(this.i)}`);
    }
  }

  document(): JsonValue {
    const v = this.value(1);
    this.ws();
    if (this.i < this.s.length) this.fail(`unexpected ${this.describe(this.i)} after the end of the JSON value`);
    return v;
  }
}

class NodeBuilder {
  constructor(
    private readonly file: string,
    private readonly index: LineIndex,
  ) {}

  pos(at: number, path: string): SourcePos {
    return { file: this.file, ...this.index.locate(at), path };
  }

  node(name: string, v: JsonValue, path: string): RecordNode {
    const node: RecordNode = { name, fields: newFields(), children: [], pos: this.pos(v.at, path || '/') };
    if (v.kind === 'scalar') {
      if (!v.isNull) node.fields['#text'] = { value: v.text, pos: node.pos };
      return node;
    }
    if (v.kind === 'array') {
      v.items.forEach((item, i) => node.children.push(this.node(name, item, `${path}/${i}`)));
      return node;
    }
    for (const [key, child] of v.entries) {
      const p = `${path}/${key}`;
      if (child.kind === 'scalar') {
        if (!child.isNull) node.fields[key] = { value: child.text, pos: this.pos(child.at, p) };
      } else if (child.kind === 'object') {
        node.children.push(this.node(key, child, p));
      } else {
        child.items.forEach((item, i) => node.children.push(this.node(key, item, `${p}/${i}`)));
      }
    }
    return node;
  }
}

/**
 * Parse a JSON export. Roots: the items of the array at `recordPath`; without it, the items of a
 * top-level array (named "record") or the top-level object (named "document").
 */
export async function parseJson(input: FormatInput, options: JsonOptions = {}): Promise<ParsedDocument> {
  const file = inputName(input, options);
  const warnings: FormatWarning[] = [];
  const warn = (w: FormatWarning) => {
    warnings.push(w);
    options.onWarning?.(w);
  };
  const { text, encoding } = await decodeAll(input, { ...options, file, maxBytes: options.maxBytes ?? DEFAULT_MAX_JSON_BYTES, onWarning: warn });
  const index = new LineIndex(text);
  if (text.trim() === '') throw formatError('FORMAT_JSON_SYNTAX', 'JSON file is empty', { file, line: 1, column: 1 });
  const doc = new JsonReader(text, file, index, options.maxDepth ?? 200, warn).document();
  const b = new NodeBuilder(file, index);
  let roots: RecordNode[];
  if (options.recordPath) {
    const parts = options.recordPath.split('/').filter(Boolean);
    let cur: JsonValue | undefined = doc;
    let path = '';
    for (const p of parts) {
      if (cur?.kind !== 'object') {
        cur = undefined;
        break;
      }
      cur = cur.entries.get(p);
      path += `/${p}`;
    }
    if (!cur) {
      throw formatError('FORMAT_JSON_RECORD_PATH', `recordPath "${options.recordPath}" does not exist in the document`, { file, line: 1, column: 1 }, {
        hint: 'give the keys from the top-level object to the array of invoices, separated by "/"',
      });
    }
    const name = parts[parts.length - 1] ?? 'record';
    roots = cur.kind === 'array' ? cur.items.map((it, i) => b.node(name, it, `${path}/${i}`)) : [b.node(name, cur, path)];
  } else if (doc.kind === 'array') {
    roots = doc.items.map((it, i) => b.node('record', it, `/${i}`));
  } else {
    roots = [b.node('document', doc, '')];
  }
  return { format: 'json', file, encoding, roots, warnings };
}
