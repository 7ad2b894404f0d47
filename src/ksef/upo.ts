/**
 * UPO (urzędowe poświadczenie odbioru), schema upo-v4-3.xsd: one `Dokument` per invoice, per-invoice
 * UPOs hold one, session UPO pages up to 10,000. Parsed into plain objects the store keeps, together
 * with the XML exactly as received. Both receiver names are accepted ("Ministerstwo Finansów" and the
 * TE variant "Ministerstwo Finansów - środowisko testowe (TE)").
 */
import { XMLParser } from 'fast-xml-parser';
import { KsefClientError } from './errors.js';

export interface UpoDocument {
  sellerNip: string;
  ksefNumber: string;
  invoiceNumber: string;
  /** DataWystawieniaFaktury (YYYY-MM-DD). */
  issueDate: string;
  /** DataPrzeslaniaDokumentu: when KSeF received the invoice. */
  receivedAt: string;
  /** DataNadaniaNumeruKSeF: when the KSeF number was assigned. */
  acquisitionDate: string;
  /** SkrotDokumentu: SHA-256 (Base64) of the invoice. */
  invoiceHash: string;
  /** TrybWysylki: Online / Offline. */
  sendMode: string | undefined;
}

export interface ParsedUpo {
  receiverName: string;
  sessionReferenceNumber: string;
  /** IdKontekstu child: Nip, IdWewnetrzny, IdZlozonyVatUE, IdDostawcyUslugPeppol. */
  context: { type: string; value: string } | undefined;
  formCode: string | undefined;
  structureName: string | undefined;
  page: { number: number; pages: number; from: number; to: number; total: number } | undefined;
  documents: UpoDocument[];
}

/** What the store keeps per invoice. */
export interface UpoEntry {
  ksefNumber: string;
  invoiceHash: string;
  invoiceNumber: string;
  sellerNip: string;
  receivedAt: string;
  acquisitionDate: string;
  sessionReferenceNumber: string;
  /** Reference number of the session UPO page, when the record comes from one. */
  upoReferenceNumber?: string;
  /** The UPO XML as received (for a session UPO: the whole page). */
  upoXml: string;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => name === 'Dokument',
});

function str(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}

export function parseUpo(xml: string): ParsedUpo {
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(xml) as Record<string, unknown>;
  } catch (e) {
    throw new KsefClientError('KSEF_UPO_INVALID', 'UPO is not well-formed XML', {}, { cause: e });
  }
  const p = doc.Potwierdzenie as Record<string, unknown> | undefined;
  if (!p || typeof p !== 'object') throw new KsefClientError('KSEF_UPO_INVALID', 'UPO has no Potwierdzenie root element');
  const auth = (p.Uwierzytelnienie ?? {}) as Record<string, unknown>;
  const idk = (auth.IdKontekstu ?? {}) as Record<string, unknown>;
  const ctxKey = Object.keys(idk)[0];
  const page = p.OpisPotwierdzenia as Record<string, unknown> | undefined;
  const docs = (Array.isArray(p.Dokument) ? p.Dokument : []) as Array<Record<string, unknown>>;
  return {
    receiverName: str(p.NazwaPodmiotuPrzyjmujacego),
    sessionReferenceNumber: str(p.NumerReferencyjnySesji),
    context: ctxKey ? { type: ctxKey, value: str(idk[ctxKey]) } : undefined,
    formCode: p.KodFormularza === undefined ? undefined : str(p.KodFormularza),
    structureName: p.NazwaStrukturyLogicznej === undefined ? undefined : str(p.NazwaStrukturyLogicznej),
    page: page
      ? {
          number: Number(page.Strona),
          pages: Number(page.LiczbaStron),
          from: Number(page.ZakresDokumentowOd),
          to: Number(page.ZakresDokumentowDo),
          total: Number(page.CalkowitaLiczbaDokumentow),
        }
      : undefined,
    documents: docs.map((d) => ({
      sellerNip: str(d.NipSprzedawcy),
      ksefNumber: str(d.NumerKSeFDokumentu),
      invoiceNumber: str(d.NumerFaktury),
      issueDate: str(d.DataWystawieniaFaktury),
      receivedAt: str(d.DataPrzeslaniaDokumentu),
      acquisitionDate: str(d.DataNadaniaNumeruKSeF),
      invoiceHash: str(d.SkrotDokumentu),
      sendMode: d.TrybWysylki === undefined ? undefined : str(d.TrybWysylki),
    })),
  };
}

/** Records for the store from one UPO document (per-invoice UPO or session UPO page). */
export function upoEntries(xml: string, upoReferenceNumber?: string): UpoEntry[] {
  const u = parseUpo(xml);
  return u.documents.map((d) => ({
    ksefNumber: d.ksefNumber,
    invoiceHash: d.invoiceHash,
    invoiceNumber: d.invoiceNumber,
    sellerNip: d.sellerNip,
    receivedAt: d.receivedAt,
    acquisitionDate: d.acquisitionDate,
    sessionReferenceNumber: u.sessionReferenceNumber,
    ...(upoReferenceNumber ? { upoReferenceNumber } : {}),
    upoXml: xml,
  }));
}
