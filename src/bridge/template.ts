/**
 * A very small mustache-like template language for result files, small enough to learn from one example:
 *
 *   {{name}}              a value, escaped for the template's format (csv: quoted when needed; json: a JSON
 *                         literal, so write "ksefNumber": {{ksefNumber}} without quotes; xml: & < > " ' escaped)
 *   {{a.b}}               a value inside a value
 *   {{#list}}...{{/list}} repeated for each item of a list (inside, the item's fields are visible); for a
 *                         value that is not a list, shown once when the value is set and not false/empty
 *   {{^name}}...{{/name}} shown when the value is missing, false or an empty list
 *   {{! comment }}        nothing
 *
 * Lines holding only a section or comment tag leave no empty line behind. No logic, no partials, no lambdas:
 * what a result needs is in the data (e.g. `last` on every list item, for separators).
 */
import { ConfigError } from '../errors/index.js';

export type TemplateFormat = 'csv' | 'json' | 'xml' | 'text';

type Node =
  | { t: 'text'; v: string }
  | { t: 'var'; name: string; line: number }
  | { t: 'section'; name: string; inverted: boolean; children: Node[]; line: number };

export interface CompiledTemplate {
  readonly file: string;
  readonly format: TemplateFormat;
  render(data: Record<string, unknown>): string;
}

/** Parses a template; a malformed one is a ConfigError naming the file and line. */
export function compileTemplate(source: string, format: TemplateFormat, file = 'template'): CompiledTemplate {
  const nodes = parse(source, file);
  return {
    file,
    format,
    render: (data) => {
      const out: string[] = [];
      renderNodes(nodes, [data], format, out);
      return out.join('');
    },
  };
}

function lineAt(src: string, pos: number): number {
  let n = 1;
  for (let i = 0; i < pos && i < src.length; i++) if (src.charCodeAt(i) === 10) n++;
  return n;
}

function parse(src: string, file: string): Node[] {
  const root: Node[] = [];
  const stack: { name: string; children: Node[]; line: number }[] = [];
  let current = root;
  let pos = 0;
  const re = /\{\{([#^/!]?)\s*([^}]*?)\s*\}\}/g;
  let m: RegExpExecArray | null;
  let pendingText = '';
  while ((m = re.exec(src)) !== null) {
    const [whole, sigil, name] = m;
    let before = src.slice(pos, m.index);
    let after = m.index + whole.length;
    if (sigil) {
      // standalone tag: only blanks around it on its line -> the line disappears
      const lineStart = src.lastIndexOf('\n', m.index - 1) + 1;
      const nl = src.indexOf('\n', after);
      const lineEnd = nl === -1 ? src.length : nl;
      const pre = src.slice(lineStart, m.index);
      const post = src.slice(after, lineEnd);
      if (/^[ \t]*$/.test(pre) && /^[ \t\r]*$/.test(post) && lineStart >= pos) {
        before = src.slice(pos, lineStart);
        after = nl === -1 ? src.length : nl + 1;
      }
    }
    pendingText += before;
    if (pendingText) current.push({ t: 'text', v: pendingText });
    pendingText = '';
    const line = lineAt(src, m.index);
    if (!name && sigil !== '!') throw new ConfigError('TEMPLATE_INVALID', `${file}:${line}: empty tag ${whole}`, { file, line });
    if (sigil === '!') {
      // comment
    } else if (sigil === '#' || sigil === '^') {
      const node: Node = { t: 'section', name: name!, inverted: sigil === '^', children: [], line };
      current.push(node);
      stack.push({ name: name!, children: current, line });
      current = node.children;
    } else if (sigil === '/') {
      const open = stack.pop();
      if (!open || open.name !== name) {
        throw new ConfigError('TEMPLATE_INVALID', `${file}:${line}: {{/${name}}} closes ${open ? `{{#${open.name}}} opened on line ${open.line}` : 'nothing'}`, { file, line, value: name });
      }
      current = open.children;
    } else {
      current.push({ t: 'var', name: name!, line });
    }
    pos = after;
    re.lastIndex = after;
  }
  pendingText += src.slice(pos);
  if (pendingText) current.push({ t: 'text', v: pendingText });
  if (stack.length) {
    const open = stack[stack.length - 1]!;
    throw new ConfigError('TEMPLATE_INVALID', `${file}:${open.line}: {{#${open.name}}} is never closed`, { file, line: open.line, value: open.name });
  }
  return root;
}

function lookup(stack: unknown[], name: string): unknown {
  if (name === '.') return stack[stack.length - 1];
  const parts = name.split('.');
  for (let i = stack.length - 1; i >= 0; i--) {
    const ctx = stack[i];
    if (ctx !== null && typeof ctx === 'object' && parts[0]! in (ctx as Record<string, unknown>)) {
      let v: unknown = ctx;
      for (const p of parts) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
      return v;
    }
  }
  return undefined;
}

function escapeValue(v: unknown, format: TemplateFormat): string {
  if (format === 'json') return JSON.stringify(v === undefined ? null : v);
  if (v === undefined || v === null) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  switch (format) {
    case 'csv':
      return /[",;\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    case 'xml':
      return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
    default:
      return s;
  }
}

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  return v !== undefined && v !== null && v !== false && v !== '' && v !== 0;
}

function renderNodes(nodes: Node[], stack: unknown[], format: TemplateFormat, out: string[]): void {
  for (const n of nodes) {
    if (n.t === 'text') out.push(n.v);
    else if (n.t === 'var') out.push(escapeValue(lookup(stack, n.name), format));
    else {
      const v = lookup(stack, n.name);
      if (n.inverted) {
        if (!truthy(v)) renderNodes(n.children, stack, format, out);
      } else if (Array.isArray(v)) {
        for (const item of v) renderNodes(n.children, [...stack, item], format, out);
      } else if (truthy(v)) {
        renderNodes(n.children, typeof v === 'object' ? [...stack, v] : stack, format, out);
      }
    }
  }
}
