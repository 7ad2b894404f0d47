/**
 * Technical correction of an offline invoice (offline/korekta-techniczna.md; POST /sessions/online/{ref}/invoices,
 * 400 table of open-api.json): an offline invoice rejected for technical reasons is sent again, regenerated, with
 * `offlineMode: true` and `hashOfCorrectedInvoice` = SHA-256 of the rejected file. A second correction of an invoice
 * that already has a correctly processed one is refused with 21166; a correction of a correctly processed invoice
 * with 21167.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KsefTestClient, sha256b64, type Tokens } from './helpers/client.js';
import { fa3Invoice } from './helpers/fa3.js';
import { BUYER_NIP, FORM_CODE, SELLER_NIP, checkKsefNumber, polishDate, sellerTokens, startTestEmulator, uniqueNumber, type TestEnv } from './helpers/setup.js';

interface InvoiceStatus {
  referenceNumber: string;
  ksefNumber?: string;
  invoiceHash: string;
  status: { code: number; description: string; details?: string[]; extensions?: Record<string, string> };
}
interface Exception {
  exception: { exceptionDetailList: { exceptionCode: number; exceptionDescription: string; details?: string[] }[] };
}

let env: TestEnv;
let client: KsefTestClient;
let tokens: Tokens;
let session: { ref: string; key: Buffer; iv: Buffer };

beforeAll(async () => {
  env = await startTestEmulator();
  client = env.client;
  tokens = await sellerTokens(client);
  const enc = client.newEncryption();
  const r = await client.call<{ referenceNumber: string }>('POST', '/sessions/online', { token: tokens.accessToken, body: { formCode: FORM_CODE, encryption: enc.encryption } });
  session = { ref: r.json.referenceNumber, key: enc.key, iv: enc.iv };
});
afterAll(async () => env.emu.close());

const valid = (number: string, systemInfo = 'v2'): string =>
  fa3Invoice({ sellerNip: SELLER_NIP, buyerNip: BUYER_NIP, number, issueDate: polishDate(-1) }).replace(
    '<SystemInfo>ksef-bridge emulator tests</SystemInfo>',
    `<SystemInfo>ksef-bridge emulator tests ${systemInfo}</SystemInfo>`,
  );
/** The same invoice as an older program wrote it: a VAT rate outside the schema's list (rejected, 430). */
const schemaInvalid = (number: string): string => valid(number, 'v1').replace('<P_12>23</P_12>', '<P_12>24</P_12>');

function send(xml: string, extra: { offlineMode?: boolean; hashOfCorrectedInvoice?: string | null } = {}) {
  const body = { ...KsefTestClient.invoiceBody(session.key, session.iv, xml, extra.offlineMode ?? false), ...extra };
  return client.call<{ referenceNumber: string } & Exception>('POST', '/sessions/online/{referenceNumber}/invoices', {
    params: { referenceNumber: session.ref },
    token: tokens.accessToken,
    body,
  });
}

async function finalStatus(invoiceRef: string): Promise<InvoiceStatus> {
  for (let i = 0; i < 500; i++) {
    const r = await client.call<InvoiceStatus>('GET', '/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}', {
      params: { referenceNumber: session.ref, invoiceReferenceNumber: invoiceRef },
      token: tokens.accessToken,
    });
    if (r.json.status.code !== 100 && r.json.status.code !== 150) return r.json;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error(`invoice ${invoiceRef} stayed in processing`);
}

async function sendAndWait(xml: string, extra: { offlineMode?: boolean; hashOfCorrectedInvoice?: string | null } = {}): Promise<InvoiceStatus> {
  const r = await send(xml, extra);
  expect(r.status, r.text).toBe(202);
  return finalStatus(r.json.referenceNumber);
}

const hashOf = (xml: string): string => sha256b64(Buffer.from(xml, 'utf8'));
const firstError = (r: { json: Exception }) => r.json.exception.exceptionDetailList[0];

describe('technical correction of a rejected offline invoice', () => {
  it('accepts the correction, then refuses a second correction of the same invoice with 21166', async () => {
    const number = uniqueNumber('FV/OFF');
    const original = schemaInvalid(number);
    const rejected = await sendAndWait(original, { offlineMode: true });
    expect(rejected.status.code).toBe(430);
    expect(rejected.invoiceHash).toBe(hashOf(original));

    const fixed = valid(number);
    const corrected = await sendAndWait(fixed, { offlineMode: true, hashOfCorrectedInvoice: hashOf(original) });
    expect(corrected.status.code).toBe(200);
    expect(checkKsefNumber(corrected.ksefNumber ?? '', SELLER_NIP)).toBe(true);

    const secondFix = valid(number, 'v3');
    const again = await send(secondFix, { offlineMode: true, hashOfCorrectedInvoice: hashOf(original) });
    expect(again.status).toBe(400);
    expect(firstError(again)).toEqual({
      exceptionCode: 21166,
      exceptionDescription: 'Korekta techniczna niedostępna.',
      details: ['Faktura posiada już przetworzoną prawidłowo korektę techniczną.'],
    });
  });

  it('refuses a correction of a correctly processed invoice with 21167', async () => {
    const number = uniqueNumber('FV/OK');
    const accepted = valid(number);
    expect((await sendAndWait(accepted, { offlineMode: true })).status.code).toBe(200);
    const r = await send(valid(number, 'v9'), { offlineMode: true, hashOfCorrectedInvoice: hashOf(accepted) });
    expect(r.status).toBe(400);
    expect(firstError(r)).toEqual({
      exceptionCode: 21167,
      exceptionDescription: 'Status faktury nie pozwala na korektę techniczną.',
      details: ['Nie można wysłać korekty technicznej do prawidłowo przetworzonej faktury.'],
    });
  });

  it('answers problem details for 21166/21167 when asked (X-Error-Format: problem-details)', async () => {
    const number = uniqueNumber('FV/PD');
    const accepted = valid(number);
    expect((await sendAndWait(accepted, { offlineMode: true })).status.code).toBe(200);
    const body = { ...KsefTestClient.invoiceBody(session.key, session.iv, valid(number, 'v2b'), true), hashOfCorrectedInvoice: hashOf(accepted) };
    const r = await client.call<{ errors: { code: number }[] }>('POST', '/sessions/online/{referenceNumber}/invoices', {
      params: { referenceNumber: session.ref },
      token: tokens.accessToken,
      body,
      headers: { 'x-error-format': 'problem-details' },
    });
    expect(r.status).toBe(400);
    expect(r.json.errors.map((e) => e.code)).toEqual([21167]);
  });

  it('requires offlineMode: true for a technical correction (21405)', async () => {
    const number = uniqueNumber('FV/ONL');
    const original = schemaInvalid(number);
    expect((await sendAndWait(original, { offlineMode: true })).status.code).toBe(430);
    const r = await send(valid(number), { offlineMode: false, hashOfCorrectedInvoice: hashOf(original) });
    expect(r.status).toBe(400);
    expect(firstError(r)?.exceptionCode).toBe(21405);
  });

  it('two corrections sent before either is processed: the first is accepted, the second ends as a duplicate (440)', async () => {
    const number = uniqueNumber('FV/RACE');
    const original = schemaInvalid(number);
    expect((await sendAndWait(original, { offlineMode: true })).status.code).toBe(430);
    env.emu.admin.faults.setProcessingDelay(1500); // both are sent well before the first is processed
    try {
      const a = await send(valid(number, 'a'), { offlineMode: true, hashOfCorrectedInvoice: hashOf(original) });
      const b = await send(valid(number, 'b'), { offlineMode: true, hashOfCorrectedInvoice: hashOf(original) });
      expect([a.status, b.status]).toEqual([202, 202]);
      const first = await finalStatus(a.json.referenceNumber);
      const second = await finalStatus(b.json.referenceNumber);
      expect(first.status.code).toBe(200);
      expect(second.status.code).toBe(440);
      expect(second.status.extensions?.originalKsefNumber).toBe(first.ksefNumber);
      // and now the refusal is immediate
      const c = await send(valid(number, 'c'), { offlineMode: true, hashOfCorrectedInvoice: hashOf(original) });
      expect(firstError(c)?.exceptionCode).toBe(21166);
    } finally {
      env.emu.admin.faults.setProcessingDelay(0);
    }
  });

  it('refuses a correction of an invoice still in processing (21167), and does not link a correction to a hash it does not know', async () => {
    const number = uniqueNumber('FV/WAIT');
    env.emu.admin.faults.setProcessingDelay(60 * 60_000);
    let pendingHash: string;
    try {
      const pending = schemaInvalid(number);
      pendingHash = hashOf(pending);
      expect((await send(pending, { offlineMode: true })).status).toBe(202);
      const r = await send(valid(number), { offlineMode: true, hashOfCorrectedInvoice: pendingHash });
      expect(r.status).toBe(400);
      expect(firstError(r)?.exceptionCode).toBe(21167);
    } finally {
      env.emu.admin.faults.setProcessingDelay(0);
    }
    // the documentation names no error for an unknown corrected invoice: the correction is processed like any invoice
    const unknown = await sendAndWait(valid(uniqueNumber('FV/UNK')), { offlineMode: true, hashOfCorrectedInvoice: hashOf('never sent') });
    expect(unknown.status.code).toBe(200);
  });
});
