/**
 * UPO documents (official receipt confirmations) in the v4-3 shape of the official examples: one per invoice and
 * one per session page (up to 10,000 documents a page). Valid against upo-v4-3.xsd (whose
 * NazwaPodmiotuPrzyjmujacego is fixed to "Ministerstwo Finansów"). Not signed: the emulator has no MF seal.
 */
import type { InvoiceRow, SessionRow } from '../store/db.js';

export const UPO_NS = 'http://upo.schematy.mf.gov.pl/KSeF/v4-3';
export const UPO_PAGE_SIZE = 10_000;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const iso = (ms: number): string => new Date(ms).toISOString();

function header(session: SessionRow): string {
  const auth = session.token_ref
    ? `\t\t<NumerReferencyjnyTokenaKSeF>${session.token_ref}</NumerReferencyjnyTokenaKSeF>\n`
    : `\t\t<SkrotDokumentuUwierzytelniajacego>${'A'.repeat(43)}=</SkrotDokumentuUwierzytelniajacego>\n`;
  return (
    `<?xml version="1.0" encoding="utf-8"?>\n<Potwierdzenie xmlns="${UPO_NS}">\n` +
    `\t<NazwaPodmiotuPrzyjmujacego>Ministerstwo Finansów</NazwaPodmiotuPrzyjmujacego>\n` +
    `\t<NumerReferencyjnySesji>${session.reference_number}</NumerReferencyjnySesji>\n` +
    `\t<Uwierzytelnienie>\n\t\t<IdKontekstu>\n\t\t\t<Nip>${session.nip}</Nip>\n\t\t</IdKontekstu>\n${auth}\t</Uwierzytelnienie>\n`
  );
}

function structure(): string {
  return `\t<NazwaStrukturyLogicznej>Schemat_FA(3)_v1-0E.xsd</NazwaStrukturyLogicznej>\n\t<KodFormularza>FA (3)</KodFormularza>\n`;
}

function document(inv: InvoiceRow): string {
  return (
    `\t<Dokument>\n` +
    `\t\t<NipSprzedawcy>${inv.seller_nip}</NipSprzedawcy>\n` +
    `\t\t<NumerKSeFDokumentu>${inv.ksef_number}</NumerKSeFDokumentu>\n` +
    `\t\t<NumerFaktury>${esc(inv.invoice_number ?? '')}</NumerFaktury>\n` +
    `\t\t<DataWystawieniaFaktury>${inv.issue_date}</DataWystawieniaFaktury>\n` +
    `\t\t<DataPrzeslaniaDokumentu>${iso(inv.invoicing_ms)}</DataPrzeslaniaDokumentu>\n` +
    `\t\t<DataNadaniaNumeruKSeF>${iso(inv.acquisition_ms ?? inv.invoicing_ms)}</DataNadaniaNumeruKSeF>\n` +
    `\t\t<SkrotDokumentu>${inv.invoice_hash}</SkrotDokumentu>\n` +
    `\t\t<TrybWysylki>${inv.offline_mode ? 'Offline' : 'Online'}</TrybWysylki>\n` +
    `\t</Dokument>\n`
  );
}

export function invoiceUpo(session: SessionRow, inv: InvoiceRow): string {
  return `${header(session)}${structure()}${document(inv)}</Potwierdzenie>\n`;
}

export function sessionUpoPage(session: SessionRow, invoices: InvoiceRow[], page: number, pageCount: number, fromIndex: number, total: number): string {
  const desc =
    `\t<OpisPotwierdzenia>\n\t\t<Strona>${page}</Strona>\n\t\t<LiczbaStron>${pageCount}</LiczbaStron>\n` +
    `\t\t<ZakresDokumentowOd>${fromIndex}</ZakresDokumentowOd>\n\t\t<ZakresDokumentowDo>${fromIndex + invoices.length - 1}</ZakresDokumentowDo>\n` +
    `\t\t<CalkowitaLiczbaDokumentow>${total}</CalkowitaLiczbaDokumentow>\n\t</OpisPotwierdzenia>\n`;
  return `${header(session)}${desc}${structure()}${invoices.map(document).join('')}</Potwierdzenie>\n`;
}
