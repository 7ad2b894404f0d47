/**
 * Helpers for the buyer-side tests (pobieranie-faktur.md, przyrostowe-pobieranie-faktur.md), written from the
 * documentation: FA(3) documents with the parts InvoiceMetadata is about (buyer identifiers, third subjects, the
 * authorised subject, currency, self-invoicing, kinds), sending them through an interactive session as another NIP,
 * metadata queries, and exports: start, wait, download parts from their URLs without a token, check hashes and sizes,
 * decrypt each part with the AES key we sent, join, unpack (ZIP or tar.gz).
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { unzipSync } from 'fflate';
import tar from 'tar-stream';
import { expect } from 'vitest';
import { KsefTestClient, sha256b64, type Tokens } from './client.js';
import { FORM_CODE } from './setup.js';

export type BuyerId = { nip: string } | { vatUe: [string, string] } | { other: string } | { none: true };

export interface RichInvoice {
  sellerNip: string;
  sellerName?: string;
  buyer: BuyerId;
  buyerName?: string;
  number: string;
  issueDate: string;
  kind?: 'VAT' | 'ZAL';
  currency?: string;
  /** Net amount of the one line (VAT 23%). */
  net?: number;
  /** PLN value of the VAT for foreign-currency invoices (P_14_1W). */
  vatPln?: number;
  selfInvoicing?: boolean;
  thirdSubjects?: { nip: string; name: string; role: number }[];
  authorized?: { nip: string; name: string; role: number };
  attachment?: boolean;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const addr = '    <Adres>\n      <KodKraju>PL</KodKraju>\n      <AdresL1>ul. Testowa 1, 00-001 Warszawa</AdresL1>\n    </Adres>\n';

export function richInvoice(o: RichInvoice): string {
  const net = o.net ?? 100;
  const vat = Math.round(net * 23) / 100;
  const gross = Math.round((net + vat) * 100) / 100;
  const b = o.buyer;
  const buyerId =
    'nip' in b
      ? `      <NIP>${b.nip}</NIP>\n`
      : 'vatUe' in b
        ? `      <KodUE>${b.vatUe[0]}</KodUE>\n      <NrVatUE>${b.vatUe[1]}</NrVatUE>\n`
        : 'other' in b
          ? `      <KodKraju>US</KodKraju>\n      <NrID>${b.other}</NrID>\n`
          : '      <BrakID>1</BrakID>\n';
  const buyerName = o.buyerName ? `      <Nazwa>${esc(o.buyerName)}</Nazwa>\n` : '';
  const third = (o.thirdSubjects ?? [])
    .map(
      (t) =>
        `  <Podmiot3>\n    <DaneIdentyfikacyjne>\n      <NIP>${t.nip}</NIP>\n      <Nazwa>${esc(t.name)}</Nazwa>\n    </DaneIdentyfikacyjne>\n${addr}    <Rola>${t.role}</Rola>\n  </Podmiot3>\n`,
    )
    .join('');
  const pu = o.authorized
    ? `  <PodmiotUpowazniony>\n    <DaneIdentyfikacyjne>\n      <NIP>${o.authorized.nip}</NIP>\n      <Nazwa>${esc(o.authorized.name)}</Nazwa>\n    </DaneIdentyfikacyjne>\n${addr}    <RolaPU>${o.authorized.role}</RolaPU>\n  </PodmiotUpowazniony>\n`
    : '';
  const vatW = o.vatPln !== undefined ? `    <P_14_1W>${o.vatPln.toFixed(2)}</P_14_1W>\n` : '';
  const attachment = o.attachment
    ? `  <Zalacznik>\n    <BlokDanych>\n      <ZNaglowek>Załącznik</ZNaglowek>\n      <MetaDane>\n        <ZKlucz>K</ZKlucz>\n        <ZWartosc>W</ZWartosc>\n      </MetaDane>\n      <Tekst>\n        <Akapit>Treść.</Akapit>\n      </Tekst>\n    </BlokDanych>\n  </Zalacznik>\n`
    : '';
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<Faktura xmlns="http://crd.gov.pl/wzor/2025/06/25/13775/">\n` +
    `  <Naglowek>\n    <KodFormularza kodSystemowy="FA (3)" wersjaSchemy="1-0E">FA</KodFormularza>\n    <WariantFormularza>3</WariantFormularza>\n` +
    `    <DataWytworzeniaFa>${o.issueDate}T10:00:00Z</DataWytworzeniaFa>\n  </Naglowek>\n` +
    `  <Podmiot1>\n    <DaneIdentyfikacyjne>\n      <NIP>${o.sellerNip}</NIP>\n      <Nazwa>${esc(o.sellerName ?? 'Sprzedawca S.A.')}</Nazwa>\n    </DaneIdentyfikacyjne>\n${addr}  </Podmiot1>\n` +
    `  <Podmiot2>\n    <DaneIdentyfikacyjne>\n${buyerId}${buyerName}    </DaneIdentyfikacyjne>\n${addr}    <JST>2</JST>\n    <GV>2</GV>\n  </Podmiot2>\n` +
    third +
    pu +
    `  <Fa>\n    <KodWaluty>${o.currency ?? 'PLN'}</KodWaluty>\n    <P_1>${o.issueDate}</P_1>\n    <P_2>${esc(o.number)}</P_2>\n` +
    `    <P_13_1>${net.toFixed(2)}</P_13_1>\n    <P_14_1>${vat.toFixed(2)}</P_14_1>\n${vatW}    <P_15>${gross.toFixed(2)}</P_15>\n` +
    `    <Adnotacje>\n      <P_16>2</P_16>\n      <P_17>${o.selfInvoicing ? 1 : 2}</P_17>\n      <P_18>2</P_18>\n      <P_18A>2</P_18A>\n` +
    `      <Zwolnienie>\n        <P_19N>1</P_19N>\n      </Zwolnienie>\n      <NoweSrodkiTransportu>\n        <P_22N>1</P_22N>\n      </NoweSrodkiTransportu>\n` +
    `      <P_23>2</P_23>\n      <PMarzy>\n        <P_PMarzyN>1</P_PMarzyN>\n      </PMarzy>\n    </Adnotacje>\n` +
    `    <RodzajFaktury>${o.kind ?? 'VAT'}</RodzajFaktury>\n` +
    `    <FaWiersz>\n      <NrWierszaFa>1</NrWierszaFa>\n      <P_7>Towar</P_7>\n      <P_8A>szt.</P_8A>\n      <P_8B>1</P_8B>\n` +
    `      <P_9A>${net.toFixed(2)}</P_9A>\n      <P_11>${net.toFixed(2)}</P_11>\n      <P_12>23</P_12>\n    </FaWiersz>\n  </Fa>\n${attachment}</Faktura>\n`
  );
}

export interface SentInvoice {
  xml: string;
  number: string;
  ksefNumber: string;
  invoiceHash: string;
  offline: boolean;
}

const tokenCache = new Map<string, Tokens>();

/** Access tokens of a NIP (cached per emulator URL). */
export async function tokensFor(client: KsefTestClient, nip: string, ksefToken: string): Promise<Tokens> {
  const key = `${client.baseUrl}|${nip}`;
  let t = tokenCache.get(key);
  if (!t) {
    t = await client.authenticate(nip, ksefToken);
    tokenCache.set(key, t);
  }
  return t;
}

/** Sends the documents in one interactive session of `nip`, waits for processing; all must be accepted. */
export async function sendOnline(client: KsefTestClient, tokens: Tokens, docs: { xml: string; offline?: boolean }[]): Promise<SentInvoice[]> {
  const { key, iv, encryption } = client.newEncryption();
  const open = await client.call<{ referenceNumber: string }>('POST', '/sessions/online', { token: tokens.accessToken, body: { formCode: FORM_CODE, encryption } });
  expect(open.status).toBe(201);
  const ref = open.json.referenceNumber;
  for (const d of docs) {
    const r = await client.call('POST', '/sessions/online/{referenceNumber}/invoices', {
      params: { referenceNumber: ref },
      token: tokens.accessToken,
      body: KsefTestClient.invoiceBody(key, iv, d.xml, d.offline ?? false),
    });
    expect(r.status, r.text).toBe(202);
  }
  expect((await client.call('POST', '/sessions/online/{referenceNumber}/close', { params: { referenceNumber: ref }, token: tokens.accessToken })).status).toBe(204);
  const final = await client.waitSession(ref, tokens.accessToken, (c) => c >= 200, 10);
  expect(final.status.code, JSON.stringify(final.status)).toBe(200);
  const list = await client.call<{ invoices: { ordinalNumber: number; ksefNumber?: string; status: { code: number; details?: string[] } }[] }>(
    'GET',
    '/sessions/{referenceNumber}/invoices',
    { params: { referenceNumber: ref }, query: { pageSize: 1000 }, token: tokens.accessToken },
  );
  const byOrdinal = new Map(list.json.invoices.map((i) => [i.ordinalNumber, i]));
  return docs.map((d, i) => {
    const st = byOrdinal.get(i + 1);
    expect(st?.status.code, JSON.stringify(st?.status)).toBe(200);
    const number = /<P_2>([^<]*)<\/P_2>/.exec(d.xml)?.[1] ?? '';
    return { xml: d.xml, number, ksefNumber: st?.ksefNumber as string, invoiceHash: sha256b64(Buffer.from(d.xml, 'utf8')), offline: d.offline ?? false };
  });
}

export interface InvoiceMetadata {
  ksefNumber: string;
  invoiceNumber: string;
  issueDate: string;
  invoicingDate: string;
  acquisitionDate: string;
  permanentStorageDate: string;
  seller: { nip: string; name?: string };
  buyer: { identifier: { type: string; value?: string }; name?: string };
  netAmount: number;
  grossAmount: number;
  vatAmount: number;
  currency: string;
  invoicingMode: string;
  invoiceType: string;
  formCode: { systemCode: string; schemaVersion: string; value: string };
  isSelfInvoicing: boolean;
  hasAttachment: boolean;
  invoiceHash: string;
  hashOfCorrectedInvoice?: string | null;
  thirdSubjects?: { identifier: { type: string; value?: string }; name?: string; role: number }[];
  authorizedSubject?: { nip: string; name?: string; role: number };
}

export interface QueryPage {
  hasMore: boolean;
  isTruncated: boolean;
  permanentStorageHwmDate?: string | null;
  invoices: InvoiceMetadata[];
}

export function queryMetadata(client: KsefTestClient, token: string, filters: object, q: { pageOffset?: number; pageSize?: number; sortOrder?: 'Asc' | 'Desc' } = {}) {
  const query: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(q)) if (v !== undefined) query[k] = v;
  return client.call<QueryPage>('POST', '/invoices/query/metadata', { token, body: filters, query });
}

export const exceptionCode = (r: { json: unknown }): number | undefined =>
  (r.json as { exception?: { exceptionDetailList: { exceptionCode: number }[] } } | undefined)?.exception?.exceptionDetailList[0]?.exceptionCode;

/** Microseconds since the epoch of an ISO date with up to 7 fraction digits (Date.parse keeps milliseconds only). */
export function isoToMicros(s: string): number {
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) throw new Error(`not an ISO date with a zone: ${s}`);
  const base = Date.parse(`${m[1]}${m[3]}`);
  return base * 1000 + Number(((m[2] ?? '') + '000000').slice(0, 6));
}

export interface ExportPart {
  ordinalNumber: number;
  partName: string;
  method: string;
  url: string;
  partSize: number;
  partHash: string;
  encryptedPartSize: number;
  encryptedPartHash: string;
  expirationDate: string;
}

export interface ExportStatus {
  status: { code: number; description: string; details?: string[] };
  completedDate?: string;
  packageExpirationDate?: string;
  package?: {
    invoiceCount: number;
    size: number;
    parts: ExportPart[];
    isTruncated: boolean;
    lastIssueDate?: string | null;
    lastInvoicingDate?: string | null;
    lastPermanentStorageDate?: string | null;
    permanentStorageHwmDate?: string | null;
  };
}

export interface StartedExport {
  referenceNumber: string;
  key: Buffer;
  iv: Buffer;
}

export async function startExport(client: KsefTestClient, token: string, body: { filters: object; onlyMetadata?: boolean; compressionType?: 'Zip' | 'TarGz' }): Promise<StartedExport> {
  const { key, iv, encryption } = client.newEncryption();
  const r = await client.call<{ referenceNumber: string }>('POST', '/invoices/exports', { token, body: { encryption, ...body } });
  expect(r.status, r.text).toBe(201);
  return { referenceNumber: r.json.referenceNumber, key, iv };
}

export async function waitExport(client: KsefTestClient, token: string, ref: string): Promise<ExportStatus> {
  for (let i = 0; i < 1000; i++) {
    const r = await client.call<ExportStatus>('GET', '/invoices/exports/{referenceNumber}', { params: { referenceNumber: ref }, token });
    expect(r.status, r.text).toBe(200);
    if (r.json.status.code !== 100) return r.json;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error(`export ${ref} stayed in progress`);
}

/** Downloads every part as the status says (method, URL, no token), checks sizes and hashes, decrypts and joins. */
export async function downloadPackage(pkg: NonNullable<ExportStatus['package']>, key: Buffer, iv: Buffer): Promise<Buffer> {
  const plain: Buffer[] = [];
  const parts = [...pkg.parts].sort((a, b) => a.ordinalNumber - b.ordinalNumber);
  expect(parts.map((p) => p.ordinalNumber)).toEqual(parts.map((_, i) => i + 1));
  for (const p of parts) {
    const res = await fetch(p.url, { method: p.method });
    expect(res.status).toBe(200);
    const enc = Buffer.from(await res.arrayBuffer());
    expect(enc.length).toBe(p.encryptedPartSize);
    expect(sha256b64(enc)).toBe(p.encryptedPartHash);
    expect(res.headers.get('x-ms-meta-hash')).toBe(p.encryptedPartHash);
    const d = crypto.createDecipheriv('aes-256-cbc', key, iv);
    const part = Buffer.concat([d.update(enc), d.final()]);
    expect(part.length).toBe(p.partSize);
    expect(sha256b64(part)).toBe(p.partHash);
    plain.push(part);
  }
  const joined = Buffer.concat(plain);
  expect(joined.length).toBe(pkg.size);
  return joined;
}

export interface UnpackedPackage {
  metadata: { invoices: InvoiceMetadata[] };
  /** Invoice files by name. */
  files: Map<string, Buffer>;
  names: string[];
}

export async function unpack(archive: Buffer, compression: 'Zip' | 'TarGz' = 'Zip'): Promise<UnpackedPackage> {
  const all = new Map<string, Buffer>();
  const names: string[] = [];
  if (compression === 'Zip') {
    for (const [name, data] of Object.entries(unzipSync(new Uint8Array(archive)))) {
      all.set(name, Buffer.from(data));
      names.push(name);
    }
  } else {
    const extract = tar.extract();
    const done = new Promise<void>((resolve, reject) => {
      extract.on('entry', (header, stream, next) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: unknown) => chunks.push(c as Buffer));
        stream.on('end', () => {
          all.set(header.name, Buffer.concat(chunks));
          names.push(header.name);
          next();
        });
        stream.resume();
      });
      extract.on('finish', () => resolve());
      extract.on('error', reject);
    });
    extract.end(zlib.gunzipSync(archive));
    await done;
  }
  const meta = all.get('_metadata.json');
  expect(meta, 'package holds _metadata.json').toBeDefined();
  all.delete('_metadata.json');
  return { metadata: JSON.parse((meta as Buffer).toString('utf8')) as { invoices: InvoiceMetadata[] }, files: all, names };
}
