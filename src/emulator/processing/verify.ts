/**
 * Invoice verification as faktury/weryfikacja-faktury.md lists it: size, UTF-8 without BOM, XML prolog encoding,
 * no processing instructions, no discouraged Unicode characters, the FA(3) XSD (which also catches malformed XML),
 * attachments (batch only, and only when enabled for the NIP), permission to issue in the context, issue date not in
 * the future, NIP checksums (production only, switchable). Duplicates are checked by the caller, which sees the store.
 */
import { isUtf8 } from 'node:buffer';
import type { XsdValidator } from '../../schemas/index.js';
import { isValidNip, warsawIsoDate } from '../ids.js';
import type { EmulatorLimits } from '../options.js';

export interface InvoiceFields {
  sellerNip: string;
  buyerNip: string | null;
  invoiceKind: string;
  invoiceNumber: string;
  issueDate: string;
  hasAttachment: boolean;
}

export interface InvoiceStatus {
  code: number;
  description: string;
  details?: string[];
  extensions?: Record<string, string>;
}

export type Verdict = { ok: true; fields: InvoiceFields } | { ok: false; status: InvoiceStatus; fields: Partial<InvoiceFields> };

export const STATUS = {
  accepted: { code: 100, description: 'Faktura przyjęta do dalszego przetwarzania' },
  success: { code: 200, description: 'Sukces' },
  sessionError: { code: 405, description: 'Przetwarzanie anulowane z powodu błędu sesji' },
  permissions: { code: 410, description: 'Nieprawidłowy zakres uprawnień' },
  attachment: { code: 415, description: 'Brak możliwości wysyłania faktury z załącznikiem' },
  fileError: { code: 430, description: 'Błąd weryfikacji pliku faktury' },
  decryption: { code: 435, description: 'Błąd odszyfrowania pliku' },
  duplicate: { code: 440, description: 'Duplikat faktury' },
  semantic: { code: 450, description: 'Błąd weryfikacji semantyki dokumentu faktury' },
} as const;

export interface VerifyOptions {
  contextNip: string;
  mode: 'online' | 'batch';
  attachmentsAllowed: boolean;
  nipChecksum: boolean;
  nowMs: number;
  limits: EmulatorLimits;
  fa3: XsdValidator;
}

/**
 * First discouraged character (XML 1.0 section 2.2): [#x7F-#x84], [#x86-#x9F], [#xFDD0-#xFDEF] and #xnFFFE/#xnFFFF of
 * planes 1-16, found in the UTF-8 bytes (already known to be valid UTF-8) without decoding them: the lead bytes that
 * can start one (0x7F, 0xC2, 0xEF, 0xF0-0xF4) are looked for with native scans, and only their sequences are decoded.
 */
function discouragedChar(b: Buffer): number | null {
  let first = -1;
  for (const lead of [0x7f, 0xc2, 0xef, 0xf0, 0xf1, 0xf2, 0xf3, 0xf4]) {
    const i = b.indexOf(lead);
    if (i >= 0 && (first < 0 || i < first)) first = i;
  }
  if (first < 0) return null;
  for (let i = first; i < b.length; i++) {
    const c = b[i] as number;
    if (c < 0x7f) continue;
    if (c === 0x7f) return 0x7f;
    if (c === 0xc2) {
      const cp = ((c & 0x1f) << 6) | ((b[i + 1] as number) & 0x3f);
      if (cp <= 0x9f && cp !== 0x85) return cp;
    } else if (c === 0xef) {
      const cp = ((c & 0x0f) << 12) | (((b[i + 1] as number) & 0x3f) << 6) | ((b[i + 2] as number) & 0x3f);
      if (cp >= 0xfdd0 && cp <= 0xfdef) return cp;
    } else if (c >= 0xf0) {
      const cp = ((c & 0x07) << 18) | (((b[i + 1] as number) & 0x3f) << 12) | (((b[i + 2] as number) & 0x3f) << 6) | ((b[i + 3] as number) & 0x3f);
      if ((cp & 0xfffe) === 0xfffe) return cp;
    }
  }
  return null;
}

const NS = '(?:[A-Za-z_][\\w.-]*:)?';
const blockRe = (name: string): RegExp => new RegExp(`<${NS}${name}[\\s>][\\s\\S]*?</${NS}${name}>`);
const leafRe = (name: string): RegExp => new RegExp(`<${NS}${name}>([^<]*)</`);
const RE = {
  podmiot1: blockRe('Podmiot1'),
  podmiot2: blockRe('Podmiot2'),
  nip: leafRe('NIP'),
  kind: leafRe('RodzajFaktury'),
  number: leafRe('P_2'),
  date: leafRe('P_1'),
  attachment: new RegExp(`<${NS}Zalacznik[\\s>/]`),
  allNips: new RegExp(`<${NS}NIP>\\s*(\\d{10})\\s*</`, 'g'),
  internalIds: new RegExp(`<${NS}IDWew>\\s*(\\d{10})-\\d{5}\\s*</`, 'g'),
  prolog: /^<\?xml\s[^>]*?encoding\s*=\s*["']([^"']+)["']/,
  pi: /<\?([A-Za-z_][\w.-]*)/g,
};

const decodeEntities = (s: string): string =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&#x([0-9a-fA-F]+);/g, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&amp;/g, '&')
    .trim();

/** A value read from the Latin-1 view of UTF-8 bytes, back to the text it encodes. */
const fromLatin1 = (s: string): string => (/[\x80-\xff]/.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s);

/**
 * Seller NIP, buyer NIP, kind, number, issue date and attachment flag, by string search (the XSD has already vouched
 * for the structure). `xml` is either the text or, as the verifier passes it, the Latin-1 view of the UTF-8 bytes
 * (one byte per character, no decoding; the tags searched for are ASCII), with `latin1` set so values are decoded.
 */
export function extractFields(xml: string, latin1 = false): Partial<InvoiceFields> {
  const p1 = RE.podmiot1.exec(xml)?.[0];
  const p2 = RE.podmiot2.exec(xml)?.[0];
  const get = (re: RegExp, s: string | undefined): string | undefined => {
    const m = s ? re.exec(s) : null;
    return m ? decodeEntities(latin1 ? fromLatin1(m[1] as string) : (m[1] as string)) : undefined;
  };
  const out: Partial<InvoiceFields> = { hasAttachment: xml.includes('Zalacznik') && RE.attachment.test(xml) };
  const seller = get(RE.nip, p1);
  if (seller !== undefined) out.sellerNip = seller;
  const buyer = get(RE.nip, p2);
  out.buyerNip = buyer ?? null;
  const kind = get(RE.kind, xml);
  if (kind !== undefined) out.invoiceKind = kind;
  const num = get(RE.number, xml);
  if (num !== undefined) out.invoiceNumber = num;
  const date = get(RE.date, xml);
  if (date !== undefined) out.issueDate = date;
  return out;
}

const fileError = (detail: string, fields: Partial<InvoiceFields> = {}): Verdict => ({ ok: false, status: { ...STATUS.fileError, details: [detail] }, fields });

export function verifyInvoice(bytes: Buffer, o: VerifyOptions): Verdict {
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return fileError('Faktura zawiera znacznik BOM; wymagane jest kodowanie UTF-8 bez BOM.');
  }
  if (!isUtf8(bytes)) return fileError('Faktura nie jest poprawnie zakodowana w UTF-8.');
  // the checks below search ASCII markup: a Latin-1 view of the bytes (one byte per character) is enough, and half
  // the size of the decoded text; values are decoded from UTF-8 when read
  const xml = bytes.toString('latin1');
  const enc = RE.prolog.exec(xml)?.[1];
  if (enc && enc.toLowerCase() !== 'utf-8' && enc.toLowerCase() !== 'utf8') {
    return fileError(`Prolog XML wskazuje kodowanie '${enc}'; dozwolone jest wyłącznie UTF-8.`);
  }
  for (const m of xml.matchAll(RE.pi)) {
    if (!(m.index === 0 && m[1] === 'xml')) return fileError(`Faktura zawiera instrukcję przetwarzania XML '<?${m[1]}'.`);
  }
  const bad = discouragedChar(bytes);
  if (bad !== null) return fileError(`Faktura zawiera niedozwolony znak Unicode U+${bad.toString(16).toUpperCase().padStart(4, '0')}.`);

  const fields = extractFields(xml, true);
  const limit = fields.hasAttachment ? o.limits.maxInvoiceWithAttachmentSize : o.limits.maxInvoiceSize;
  if (bytes.length > limit) {
    return fileError(`Rozmiar faktury (${bytes.length} B) przekracza dopuszczalny rozmiar ${limit} B.`, fields);
  }
  const xsd = o.fa3.validate(bytes);
  if (!xsd.valid) {
    const details = xsd.issues.slice(0, 10).map((i) => `Linia ${i.line}, kolumna ${i.column}: ${i.message.trim()}`);
    return { ok: false, status: { ...STATUS.fileError, details: ['Dokument nie jest zgodny ze schemą (xsd).', ...details] }, fields };
  }
  if (!fields.sellerNip || !fields.invoiceNumber || !fields.invoiceKind || !fields.issueDate) {
    return fileError('Nie odczytano NIP sprzedawcy, rodzaju, numeru lub daty wystawienia faktury.', fields);
  }
  if (fields.hasAttachment && (o.mode !== 'batch' || !o.attachmentsAllowed)) {
    return {
      ok: false,
      status: {
        ...STATUS.attachment,
        details: [o.mode !== 'batch' ? 'Faktury z załącznikiem można wysyłać wyłącznie w sesji wsadowej.' : `Podmiot ${o.contextNip} nie ma włączonej możliwości wysyłania faktur z załącznikiem.`],
      },
      fields,
    };
  }
  const nips = [...xml.matchAll(RE.allNips)].map((m) => m[1] as string);
  if (!nips.includes(o.contextNip)) {
    return {
      ok: false,
      status: { ...STATUS.permissions, details: [`Kontekst ${o.contextNip} nie ma uprawnień do wystawienia faktury sprzedawcy ${fields.sellerNip}.`] },
      fields,
    };
  }
  const today = warsawIsoDate(o.nowMs);
  if (fields.issueDate > today) {
    return { ok: false, status: { ...STATUS.semantic, details: [`Data wystawienia faktury (P_1) ${fields.issueDate} jest późniejsza niż data przyjęcia ${today}.`] }, fields };
  }
  if (o.nipChecksum) {
    const wrong = [...nips, ...[...xml.matchAll(RE.internalIds)].map((m) => m[1] as string)].find((n) => !isValidNip(n));
    if (wrong) return { ok: false, status: { ...STATUS.semantic, details: [`Nieprawidłowa suma kontrolna NIP ${wrong}.`] }, fields };
  }
  return { ok: true, fields: fields as InvoiceFields };
}
