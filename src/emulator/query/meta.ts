/**
 * The invoice metadata the buyer-side endpoints search (InvoiceMetadata of open-api.json), kept in the emulator's
 * database as a derived index of the accepted invoices: seller and buyer, amounts, currency, kind, dates, flags, third
 * subjects and the authorised subject, read once from each invoice's XML. The index is brought up to date before
 * every query (`syncIndex`), so the processor needs no hook.
 *
 * Permanent storage dates get microseconds (`storage_us`): invoices stored in the same millisecond are numbered within
 * it in storage order, as the real system's dates carry sub-millisecond digits. Without that, more invoices than a
 * truncation limit sharing one millisecond would make "continue from the last date" loop for ever.
 *
 * The high-water mark (hwm.md): the emulator stores an invoice at `processing time + 1 ms`, and processes an invoice
 * not before its due time, so no invoice can appear later with a permanent storage date at or below
 * `min(now, earliest due time of invoices still waiting)`.
 */
import type { EmulatorContext } from '../context.js';

const INDEX_VERSION = '2';

const DDL = `
CREATE TABLE IF NOT EXISTS invoice_query_meta (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, ksef_number TEXT NOT NULL UNIQUE, invoice_number TEXT NOT NULL,
  issue_date TEXT NOT NULL, invoicing_ms INTEGER NOT NULL, acquisition_ms INTEGER NOT NULL, storage_ms INTEGER NOT NULL,
  storage_us INTEGER NOT NULL, seller_nip TEXT NOT NULL, seller_name TEXT, buyer_id_type TEXT NOT NULL, buyer_id_value TEXT,
  buyer_name TEXT, net REAL NOT NULL, gross REAL NOT NULL, vat REAL NOT NULL, currency TEXT NOT NULL, offline INTEGER NOT NULL,
  invoice_type TEXT NOT NULL, form_system_code TEXT NOT NULL, form_schema_version TEXT NOT NULL, form_value TEXT NOT NULL,
  self_invoicing INTEGER NOT NULL, has_attachment INTEGER NOT NULL, invoice_hash TEXT NOT NULL, invoice_size INTEGER NOT NULL,
  third_subjects TEXT NOT NULL, authorized_subject TEXT, hash_of_corrected TEXT);
CREATE INDEX IF NOT EXISTS invoice_query_meta_storage ON invoice_query_meta(storage_us);
CREATE TABLE IF NOT EXISTS invoice_query_parties (ksef_number TEXT NOT NULL, role TEXT NOT NULL, nip TEXT NOT NULL,
  PRIMARY KEY (nip, role, ksef_number)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS invoice_query_parties_ksef ON invoice_query_parties(ksef_number);
`;

/** Roles a context can have on an invoice: the subject types of InvoiceQueryFilters. */
export type SubjectType = 'Subject1' | 'Subject2' | 'Subject3' | 'SubjectAuthorized';
const ROLE: Record<SubjectType, string> = { Subject1: '1', Subject2: '2', Subject3: '3', SubjectAuthorized: 'A' };
export const roleOf = (s: SubjectType): string => ROLE[s];

export interface Identifier {
  type: string;
  value?: string;
}

export interface ThirdSubject {
  identifier: Identifier;
  name?: string;
  role: number;
}

export interface AuthorizedSubject {
  nip: string;
  name?: string;
  role: number;
}

/** A row of invoice_query_meta. */
export interface MetaRow {
  seq: number;
  ksef_number: string;
  invoice_number: string;
  issue_date: string;
  invoicing_ms: number;
  acquisition_ms: number;
  storage_ms: number;
  storage_us: number;
  seller_nip: string;
  seller_name: string | null;
  buyer_id_type: string;
  buyer_id_value: string | null;
  buyer_name: string | null;
  net: number;
  gross: number;
  vat: number;
  currency: string;
  offline: number;
  invoice_type: string;
  form_system_code: string;
  form_schema_version: string;
  form_value: string;
  self_invoicing: number;
  has_attachment: number;
  invoice_hash: string;
  invoice_size: number;
  third_subjects: string;
  authorized_subject: string | null;
  hash_of_corrected: string | null;
}

/** What the XML of an invoice tells the metadata (the rest comes from the invoices table). */
export interface XmlFacts {
  sellerNip: string;
  sellerName: string | null;
  buyer: Identifier;
  buyerName: string | null;
  net: number;
  gross: number;
  vat: number;
  currency: string;
  invoiceType: string;
  form: { systemCode: string; schemaVersion: string; value: string };
  selfInvoicing: boolean;
  hasAttachment: boolean;
  thirdSubjects: ThirdSubject[];
  authorizedSubject: AuthorizedSubject | null;
}

// The documents are valid against the FA(3) XSD when they get here, so the elements can be found with plain string
// search (the namespace prefix of the document, if any, is read from its root element): far faster than a parse.

/** A piece of the document and the document's namespace prefix (`''` or e.g. `'tns:'`). */
interface Doc {
  xml: string;
  p: string;
}

const isNameEnd = (c: string | undefined): boolean => c === '>' || c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '/';

/** [start of content, end of content, end of element] of the first element `name` at or after `from`, or null. */
function locate(d: Doc, name: string, from = 0): [number, number, number] | null {
  const open = `<${d.p}${name}`;
  let i = d.xml.indexOf(open, from);
  while (i >= 0 && !isNameEnd(d.xml[i + open.length])) i = d.xml.indexOf(open, i + 1);
  if (i < 0) return null;
  const gt = d.xml.indexOf('>', i);
  if (gt < 0) return null;
  if (d.xml[gt - 1] === '/') return [gt + 1, gt + 1, gt + 1];
  const close = `</${d.p}${name}>`;
  const end = d.xml.indexOf(close, gt);
  return end < 0 ? null : [gt + 1, end, end + close.length];
}

/** The content of the first element `name` (a piece of the document), or null. */
function child(d: Doc | null, name: string, from = 0): Doc | null {
  if (!d) return null;
  const at = locate(d, name, from);
  return at ? { xml: d.xml.slice(at[0], at[1]), p: d.p } : null;
}

/** The contents of every element `name`. */
function children(d: Doc, name: string): Doc[] {
  const out: Doc[] = [];
  for (let at = locate(d, name); at; at = locate(d, name, at[2])) out.push({ xml: d.xml.slice(at[0], at[1]), p: d.p });
  return out;
}

const decode = (s: string): string =>
  s.indexOf('&') < 0
    ? s.trim()
    : s
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&apos;/g, "'")
        .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
        .replace(/&#x([0-9a-fA-F]+);/g, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
        .replace(/&amp;/g, '&')
        .trim();

/** Text of the first leaf element `name`. */
function text(d: Doc | null, name: string): string | null {
  const c = child(d, name);
  return c ? decode(c.xml) : null;
}
function num(d: Doc | null, name: string): number {
  const t = text(d, name);
  const n = t === null ? NaN : Number(t);
  return Number.isFinite(n) ? n : 0;
}
const attr = (tag: string, name: string): string | null => {
  const m = new RegExp(`\\s${name}\\s*=\\s*["']([^"']*)["']`).exec(tag);
  return m ? decode(m[1] as string) : null;
};
const round2 = (n: number): number => Math.round(n * 100) / 100;

/** FA(3) RodzajFaktury -> InvoiceType of the contract. */
const INVOICE_TYPE: Record<string, string> = {
  VAT: 'Vat',
  ZAL: 'Zal',
  KOR: 'Kor',
  ROZ: 'Roz',
  UPR: 'Upr',
  KOR_ZAL: 'KorZal',
  KOR_ROZ: 'KorRoz',
};

function identifierOf(d: Doc | null, allowInternal: boolean): Identifier {
  const nip = text(d, 'NIP');
  if (nip) return { type: 'Nip', value: nip };
  const internal = allowInternal ? text(d, 'IDWew') : null;
  if (internal) return { type: 'InternalId', value: internal };
  const ue = text(d, 'KodUE');
  const vatUe = text(d, 'NrVatUE');
  if (ue && vatUe) return { type: 'VatUe', value: `${ue}${vatUe}` };
  const other = text(d, 'NrID');
  if (other) return { type: 'Other', value: other };
  return { type: 'None' };
}

const NET_FIELDS = ['P_13_1', 'P_13_2', 'P_13_3', 'P_13_4', 'P_13_5', 'P_13_6_1', 'P_13_6_2', 'P_13_6_3', 'P_13_7', 'P_13_8', 'P_13_9', 'P_13_10', 'P_13_11'];

/**
 * Reads the metadata facts from an FA(3) document (already valid against the XSD). Amounts: net = sum of the P_13_x
 * fields, VAT = sum of P_14_1..P_14_5 taking the PLN value P_14_xW where the invoice gives one (the contract says the
 * VAT amount is in PLN), gross = P_15.
 */
export function readXmlFacts(input: string | Buffer): XmlFacts {
  const xml = typeof input === 'string' ? input : input.toString('utf8');
  const root = /<([A-Za-z_][\w.-]*:)?Faktura[\s>]/.exec(xml);
  const doc: Doc = { xml, p: root?.[1] ?? '' };
  const p1 = child(child(doc, 'Podmiot1'), 'DaneIdentyfikacyjne');
  const p2 = child(child(doc, 'Podmiot2'), 'DaneIdentyfikacyjne');
  const faAt = locate(doc, 'Fa');
  const faAll: Doc | null = faAt ? { xml: xml.slice(faAt[0], faAt[1]), p: doc.p } : null;
  // the totals, KodWaluty and Adnotacje come before the invoice lines, whose P_ fields must not be taken for them
  const firstLine = faAll ? locate(faAll, 'FaWiersz') : null;
  const fa: Doc | null = faAll && firstLine ? { xml: faAll.xml.slice(0, firstLine[0]), p: doc.p } : faAll;
  let vat = 0;
  for (let i = 1; i <= 5; i++) vat += text(fa, `P_14_${i}W`) !== null ? num(fa, `P_14_${i}W`) : num(fa, `P_14_${i}`);
  // Podmiot3 and PodmiotUpowazniony come between Podmiot2 and Fa
  const head: Doc = { xml: faAt ? xml.slice(0, faAt[0]) : xml, p: doc.p };
  const thirdSubjects = children(head, 'Podmiot3').map((b): ThirdSubject => {
    const danePos = locate(b, 'DaneIdentyfikacyjne');
    const dane = danePos ? { xml: b.xml.slice(danePos[0], danePos[1]), p: b.p } : null;
    const name = text(dane, 'Nazwa');
    // Rola follows the identification data; RolaInna (another role) is role 0
    const rest: Doc = { xml: danePos ? b.xml.slice(danePos[2]) : b.xml, p: b.p };
    const rola = text(rest, 'Rola');
    return { identifier: identifierOf(dane, true), ...(name ? { name } : {}), role: rola !== null ? Number(rola) : 0 };
  });
  const pu = child(head, 'PodmiotUpowazniony');
  let authorizedSubject: AuthorizedSubject | null = null;
  if (pu) {
    const dane = child(pu, 'DaneIdentyfikacyjne');
    const name = text(dane, 'Nazwa');
    authorizedSubject = { nip: text(dane, 'NIP') ?? '', ...(name ? { name } : {}), role: num(pu, 'RolaPU') };
  }
  const kodAt = xml.indexOf(`<${doc.p}KodFormularza`);
  const kodGt = kodAt >= 0 ? xml.indexOf('>', kodAt) : -1;
  const kodTag = kodGt >= 0 ? xml.slice(kodAt, kodGt) : '';
  const kodValue = kodGt >= 0 ? decode(xml.slice(kodGt + 1, xml.indexOf('<', kodGt))) : 'FA';
  const kind = text(faAll, 'RodzajFaktury') ?? 'VAT';
  return {
    sellerNip: text(p1, 'NIP') ?? '',
    sellerName: text(p1, 'Nazwa'),
    buyer: identifierOf(p2, false),
    buyerName: text(p2, 'Nazwa'),
    net: round2(NET_FIELDS.reduce((sum, k) => sum + num(fa, k), 0)),
    gross: round2(num(fa, 'P_15')),
    vat: round2(vat),
    currency: text(fa, 'KodWaluty') ?? 'PLN',
    invoiceType: INVOICE_TYPE[kind] ?? 'Vat',
    form: { systemCode: attr(kodTag, 'kodSystemowy') ?? 'FA (3)', schemaVersion: attr(kodTag, 'wersjaSchemy') ?? '1-0E', value: kodValue || 'FA' },
    selfInvoicing: text(child(fa, 'Adnotacje'), 'P_17') === '1',
    hasAttachment: faAt !== null && locate({ xml: xml.slice(faAt[2]), p: doc.p }, 'Zalacznik') !== null,
    thirdSubjects,
    authorizedSubject,
  };
}

interface SourceRow {
  ksef_number: string;
  invoice_number: string | null;
  issue_date: string | null;
  invoicing_ms: number;
  acquisition_ms: number | null;
  storage_ms: number | null;
  invoice_hash: string;
  invoice_size: number;
  offline_mode: number;
  xml: Buffer | null;
  corrected_hash: string | null;
}

/** The derived index of accepted invoices; one per emulator instance. */
export class MetaIndex {
  /** Every accepted invoice with a permanent storage date at or below this (ms) is indexed. */
  private indexedTo = -1;
  /** SQL giving the hash of the invoice a technical correction corrects (table kept by routes/online.ts), or NULL. */
  private readonly correctedSql: string;

  constructor(private readonly ctx: EmulatorContext) {
    const db = ctx.db;
    const version = db.prepare<[], { value: string }>(`SELECT value FROM meta WHERE key = 'invoice_query_index'`).get()?.value;
    if (version !== INDEX_VERSION) {
      db.exec(`DROP TABLE IF EXISTS invoice_query_meta; DROP TABLE IF EXISTS invoice_query_parties;`);
    }
    db.exec(DDL);
    db.prepare(`INSERT INTO meta (key, value) VALUES ('invoice_query_index', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(INDEX_VERSION);
    const corrections = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'technical_corrections'`).get();
    this.correctedSql = corrections ? '(SELECT c.corrected_hash FROM technical_corrections c WHERE c.invoice_ref = i.reference_number)' : 'NULL';
  }

  /**
   * High-water mark in ms: no invoice can appear later with a permanent storage date at or below it. Invoices waiting
   * for processing will be stored after their due time; an invoice processed from now on is stored after now.
   */
  hwmMs(now: number): number {
    const pending = this.ctx.db.prepare<[], { due: number | null }>(`SELECT MIN(due_ms) AS due FROM invoices WHERE due_ms IS NOT NULL`).get()?.due ?? null;
    return pending === null ? now : Math.min(now, pending);
  }

  /** Indexes accepted invoices not indexed yet. */
  sync(now: number): void {
    const db = this.ctx.db;
    const hwm = this.hwmMs(now);
    const first = this.indexedTo < 0;
    const rows = db
      .prepare<[number], SourceRow>(
        `SELECT i.ksef_number, i.invoice_number, i.issue_date, i.invoicing_ms, i.acquisition_ms, i.storage_ms, i.invoice_hash, i.invoice_size,
           i.offline_mode, i.xml, ${this.correctedSql} AS corrected_hash
         FROM invoices i WHERE i.ksef_number IS NOT NULL AND i.storage_ms > ?
           AND NOT EXISTS (SELECT 1 FROM invoice_query_meta m WHERE m.ksef_number = i.ksef_number)
         ORDER BY i.storage_ms, i.rowid`,
      )
      .all(first ? -1 : this.indexedTo);
    const maxUs = db.prepare<[number, number], { us: number | null }>(`SELECT MAX(storage_us) AS us FROM invoice_query_meta WHERE storage_us >= ? AND storage_us < ?`);
    const insert = db.prepare(
      `INSERT INTO invoice_query_meta (ksef_number, invoice_number, issue_date, invoicing_ms, acquisition_ms, storage_ms, storage_us, seller_nip,
         seller_name, buyer_id_type, buyer_id_value, buyer_name, net, gross, vat, currency, offline, invoice_type, form_system_code,
         form_schema_version, form_value, self_invoicing, has_attachment, invoice_hash, invoice_size, third_subjects, authorized_subject,
         hash_of_corrected)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const party = db.prepare(`INSERT OR IGNORE INTO invoice_query_parties (ksef_number, role, nip) VALUES (?, ?, ?)`);
    db.transaction(() => {
      if (first) {
        // a batch interrupted by a shutdown is numbered again on start: forget numbers that no longer exist
        db.exec(`DELETE FROM invoice_query_meta WHERE ksef_number NOT IN (SELECT ksef_number FROM invoices WHERE ksef_number IS NOT NULL);
                 DELETE FROM invoice_query_parties WHERE ksef_number NOT IN (SELECT ksef_number FROM invoice_query_meta);`);
      }
      let lastUs = -1;
      for (const r of rows) {
        const storageMs = r.storage_ms as number;
        if (lastUs < storageMs * 1000) lastUs = Math.max(storageMs * 1000 - 1, maxUs.get(storageMs * 1000, storageMs * 1000 + 1000)?.us ?? -1);
        const us = lastUs + 1;
        lastUs = us;
        let facts: XmlFacts;
        try {
          facts = readXmlFacts(r.xml ?? '');
        } catch (e) {
          this.ctx.log.warn(`invoice ${r.ksef_number}: metadata could not be read (${(e as Error).message})`);
          continue;
        }
        insert.run(
          r.ksef_number,
          r.invoice_number ?? '',
          r.issue_date ?? '',
          r.invoicing_ms,
          r.acquisition_ms ?? storageMs,
          storageMs,
          us,
          facts.sellerNip,
          facts.sellerName,
          facts.buyer.type,
          facts.buyer.value ?? null,
          facts.buyerName,
          facts.net,
          facts.gross,
          facts.vat,
          facts.currency,
          r.offline_mode ? 1 : 0,
          facts.invoiceType,
          facts.form.systemCode,
          facts.form.schemaVersion,
          facts.form.value,
          facts.selfInvoicing ? 1 : 0,
          facts.hasAttachment ? 1 : 0,
          r.invoice_hash,
          r.invoice_size,
          JSON.stringify(facts.thirdSubjects),
          facts.authorizedSubject ? JSON.stringify(facts.authorizedSubject) : null,
          r.corrected_hash,
        );
        party.run(r.ksef_number, '1', facts.sellerNip);
        if (facts.buyer.type === 'Nip' && facts.buyer.value) party.run(r.ksef_number, '2', facts.buyer.value);
        for (const t of facts.thirdSubjects) if (t.identifier.type === 'Nip' && t.identifier.value) party.run(r.ksef_number, '3', t.identifier.value);
        if (facts.authorizedSubject?.nip) party.run(r.ksef_number, 'A', facts.authorizedSubject.nip);
      }
    })();
    this.indexedTo = Math.max(this.indexedTo, hwm);
  }

  /** Roles the context NIP has on an invoice (seller, buyer, third subject, authorised subject). */
  rolesOf(ksefNumber: string, nip: string): string[] {
    return this.ctx.db
      .prepare<[string, string], { role: string }>(`SELECT role FROM invoice_query_parties WHERE ksef_number = ? AND nip = ?`)
      .all(ksefNumber, nip)
      .map((r) => r.role);
  }
}

/** ISO-8601 in UTC with microseconds, e.g. 2025-08-28T09:23:01.388123Z. */
export function isoMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const base = new Date(ms).toISOString(); // ...SS.mmmZ
  return `${base.slice(0, -1)}${String(us - ms * 1000).padStart(3, '0')}Z`;
}

/** The InvoiceMetadata object of the contract for an index row. */
export function metadataView(r: MetaRow): Record<string, unknown> {
  const authorized = r.authorized_subject ? (JSON.parse(r.authorized_subject) as AuthorizedSubject) : null;
  return {
    ksefNumber: r.ksef_number,
    invoiceNumber: r.invoice_number,
    issueDate: r.issue_date,
    invoicingDate: new Date(r.invoicing_ms).toISOString(),
    acquisitionDate: new Date(r.acquisition_ms).toISOString(),
    permanentStorageDate: isoMicros(r.storage_us),
    seller: { nip: r.seller_nip, ...(r.seller_name ? { name: r.seller_name } : {}) },
    buyer: {
      identifier: { type: r.buyer_id_type, ...(r.buyer_id_value ? { value: r.buyer_id_value } : {}) },
      ...(r.buyer_name ? { name: r.buyer_name } : {}),
    },
    netAmount: r.net,
    grossAmount: r.gross,
    vatAmount: r.vat,
    currency: r.currency,
    invoicingMode: r.offline ? 'Offline' : 'Online',
    invoiceType: r.invoice_type,
    formCode: { systemCode: r.form_system_code, schemaVersion: r.form_schema_version, value: r.form_value },
    isSelfInvoicing: r.self_invoicing === 1,
    hasAttachment: r.has_attachment === 1,
    invoiceHash: r.invoice_hash,
    ...(r.hash_of_corrected ? { hashOfCorrectedInvoice: r.hash_of_corrected } : {}),
    thirdSubjects: JSON.parse(r.third_subjects) as ThirdSubject[],
    ...(authorized ? { authorizedSubject: authorized } : {}),
  };
}
