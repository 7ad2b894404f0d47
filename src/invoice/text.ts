/**
 * Characters and text forms KSeF accepts (faktury/weryfikacja-faktury.md): XML 1.0 characters only, and none of the
 * "discouraged" ones ([#x7F-#x84], [#x86-#x9F], [#xFDD0-#xFDEF], and U+xFFFE/U+xFFFF of every plane).
 */

/** Control characters XML 1.0 forbids (all C0 but tab, LF, CR) and the C1 range KSeF rejects (except NEL U+0085). */
const STRIPPABLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u0084\u0086-\u009F]/g;
const STRIPPABLE_TEST = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u0084\u0086-\u009F]/;
/** Characters that cannot be written at all: noncharacters (FDD0-FDEF, xFFFE, xFFFF) and lone surrogates. */
const UNREPRESENTABLE = /[\p{Noncharacter_Code_Point}\p{Cs}]/u;
const ANY_SUSPECT = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uD800-\uDFFF\uFDD0-\uFDEF\uFFFE\uFFFF]/;

export interface CleanResult {
  text: string;
  /** Control characters were removed. */
  stripped: boolean;
  /** Characters that cannot be represented (the text must be rejected). */
  bad?: string;
}

/**
 * Cleans a text for an FA(3) element. `token` (xsd:token types, nearly all of FA(3)): tabs and line breaks become
 * spaces, runs of spaces collapse, the ends are trimmed; otherwise (xsd:string, e.g. footer texts) line breaks are
 * normalised to "\n" and the ends trimmed.
 */
export function cleanText(input: string, token: boolean): CleanResult {
  let text = input;
  let stripped = false;
  if (ANY_SUSPECT.test(text)) {
    const m = UNREPRESENTABLE.exec(text);
    if (m) {
      const cp = m[0].codePointAt(0) ?? 0;
      return { text, stripped: false, bad: `U+${cp.toString(16).toUpperCase().padStart(4, '0')}` };
    }
    if (STRIPPABLE_TEST.test(text)) {
      text = text.replace(STRIPPABLE, token ? ' ' : '');
      stripped = true;
    }
  }
  if (token) {
    if (/[\t\n\r]| {2}|^ | $/.test(text)) text = text.replace(/[\t\n\r ]+/g, ' ').trim();
  } else {
    text = text.replace(/\r\n?/g, '\n').trim();
  }
  return { text, stripped };
}

/** Length in Unicode code points (what XSD length facets count). */
export function codePointLength(s: string): number {
  let n = s.length;
  if (!/[\uD800-\uDBFF]/.test(s)) return n;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--;
  }
  return n;
}

/** Throws when a string contains something XML 1.0 or KSeF cannot carry (used by the writer as a last guard). */
export function firstForbiddenChar(s: string): string | undefined {
  if (!ANY_SUSPECT.test(s)) return undefined;
  const m = UNREPRESENTABLE.exec(s) ?? STRIPPABLE_TEST.exec(s);
  if (!m) return undefined;
  return `U+${(m[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}
