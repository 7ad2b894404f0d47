/**
 * A small INI reader that keeps line numbers, for ksef.ini.
 *
 *   ; comment            # comment
 *   [section]            [company:pl01]
 *   key = value          key = "quoted ; value"   key = value ; inline comment
 *
 * Keys are case-insensitive (stored lower-case). Inline comments in unquoted values
 * start at a `;` or `#` preceded by white space. Double-quoted values understand
 * \" \\ \n \t escapes; single-quoted values are literal. Duplicates are kept (the
 * schema layer reports them with both lines).
 */

export interface IniEntry {
  key: string;
  value: string;
  line: number;
  quoted: boolean;
}

export interface IniSection {
  /** Section name as written, trimmed ('' for keys before the first section). */
  name: string;
  line: number;
  entries: IniEntry[];
}

export interface IniSyntaxProblem {
  line: number;
  message: string;
}

export interface IniParseResult {
  sections: IniSection[];
  problems: IniSyntaxProblem[];
}

const KEY = /^[A-Za-z0-9_.-]+$/;

function parseQuoted(rest: string, line: number, problems: IniSyntaxProblem[]): string | undefined {
  const q = rest[0];
  let out = '';
  let i = 1;
  for (; i < rest.length; i++) {
    const c = rest[i];
    if (c === q) break;
    if (q === '"' && c === '\\' && i + 1 < rest.length) {
      const n = rest[++i];
      out += n === 'n' ? '\n' : n === 't' ? '\t' : n;
      continue;
    }
    out += c;
  }
  if (i >= rest.length) {
    problems.push({ line, message: `unterminated quoted value (missing closing ${q})` });
    return undefined;
  }
  const after = rest.slice(i + 1).trim();
  if (after !== '' && !after.startsWith(';') && !after.startsWith('#')) {
    problems.push({ line, message: 'unexpected text after the closing quote (only a comment may follow)' });
    return undefined;
  }
  return out;
}

function stripInlineComment(value: string): string {
  const m = /\s[;#]/.exec(value);
  return (m ? value.slice(0, m.index) : value).trim();
}

export function parseIni(text: string): IniParseResult {
  const sections: IniSection[] = [];
  const problems: IniSyntaxProblem[] = [];
  let current: IniSection | undefined;
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  lines.forEach((raw, idx) => {
    const line = idx + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith(';') || trimmed.startsWith('#')) return;
    if (trimmed.startsWith('[')) {
      const close = trimmed.indexOf(']');
      if (close < 0) {
        problems.push({ line, message: 'section header without closing ]' });
        return;
      }
      const after = trimmed.slice(close + 1).trim();
      if (after !== '' && !after.startsWith(';') && !after.startsWith('#')) {
        problems.push({ line, message: 'unexpected text after the section header (only a comment may follow)' });
      }
      current = { name: trimmed.slice(1, close).trim(), line, entries: [] };
      sections.push(current);
      return;
    }
    const eq = trimmed.indexOf('=');
    if (eq < 0) {
      problems.push({ line, message: 'expected "key = value", a [section] or a comment' });
      return;
    }
    const key = trimmed.slice(0, eq).trim().toLowerCase();
    if (!KEY.test(key)) {
      // The text is not echoed: a malformed line may hold a token.
      problems.push({ line, message: 'invalid key name (letters, digits, _ . - only, then =)' });
      return;
    }
    const rest = trimmed.slice(eq + 1).trim();
    let value: string | undefined;
    let quoted = false;
    if (rest.startsWith('"') || rest.startsWith("'")) {
      value = parseQuoted(rest, line, problems);
      quoted = true;
      if (value === undefined) return;
    } else {
      value = stripInlineComment(rest);
    }
    if (!current) {
      current = { name: '', line, entries: [] };
      sections.push(current);
    }
    current.entries.push({ key, value, line, quoted });
  });
  return { sections, problems };
}
