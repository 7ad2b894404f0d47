/**
 * A minimal, independent KSeF 2.0 test client written from the documentation (uwierzytelnianie.md,
 * sesja-interaktywna.md, sesja-wsadowa.md): node:crypto and fetch only. Every response it receives is checked
 * against open-api.json; a response that does not match the contract throws (fails the test).
 */
import crypto from 'node:crypto';
import { checkResponse } from './contract.js';

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  json: T;
  text: string;
  bytes: Buffer;
}

export interface CallOptions {
  params?: Record<string, string>;
  query?: Record<string, string | number | string[]>;
  body?: unknown;
  token?: string;
  headers?: Record<string, string>;
  /** Skip the contract check (only for deliberately malformed requests whose answer is still checked by status). */
  noContract?: boolean;
}

export class ContractViolation extends Error {}

export const sha256b64 = (b: Uint8Array): string => crypto.createHash('sha256').update(b).digest('base64');

export function aesEncrypt(key: Buffer, iv: Buffer, data: Uint8Array): Buffer {
  const c = crypto.createCipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([c.update(data), c.final()]);
}

export function rsaOaepEncrypt(certificateB64: string, data: Buffer): Buffer {
  const cert = new crypto.X509Certificate(Buffer.from(certificateB64, 'base64'));
  return crypto.publicEncrypt({ key: cert.publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, data);
}

export interface PublicKeyCertificate {
  certificate: string;
  certificateId: string;
  publicKeyId: string;
  validFrom: string;
  validTo: string;
  usage: string[];
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  authReferenceNumber: string;
}

export class KsefTestClient {
  certificates: PublicKeyCertificate[] = [];
  /** Every (method template status) seen, for coverage assertions. */
  readonly seen: string[] = [];

  constructor(readonly baseUrl: string) {}

  async call<T = unknown>(method: string, template: string, o: CallOptions = {}): Promise<ApiResponse<T>> {
    let p = template;
    for (const [k, v] of Object.entries(o.params ?? {})) p = p.replace(`{${k}}`, encodeURIComponent(v));
    const url = new URL(`${this.baseUrl}/v2${p}`);
    for (const [k, v] of Object.entries(o.query ?? {})) {
      for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
    }
    const headers: Record<string, string> = { accept: 'application/json', ...(o.headers ?? {}) };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(url, { method, headers, ...(body !== undefined ? { body } : {}) });
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString('utf8');
    const ct = res.headers.get('content-type') ?? '';
    let json: unknown = undefined;
    if (ct.includes('json') && text) json = JSON.parse(text);
    const parsed: unknown = json !== undefined ? json : text === '' ? undefined : text;
    this.seen.push(`${method} ${template} ${res.status}`);
    if (!o.noContract) {
      const check = checkResponse(method, template, res.status, ct || 'application/json', parsed);
      if (!check.ok) throw new ContractViolation(`${method} ${template} -> ${res.status}: response violates open-api.json: ${check.errors.join('; ')}\n${text.slice(0, 500)}`);
    }
    return { status: res.status, headers: res.headers, json: json as T, text, bytes };
  }

  async loadCertificates(): Promise<PublicKeyCertificate[]> {
    const r = await this.call<PublicKeyCertificate[]>('GET', '/security/public-key-certificates');
    this.certificates = r.json;
    return r.json;
  }

  cert(usage: 'KsefTokenEncryption' | 'SymmetricKeyEncryption'): PublicKeyCertificate {
    const c = this.certificates.find((x) => x.usage.includes(usage));
    if (!c) throw new Error(`no certificate for ${usage}; call loadCertificates() first`);
    return c;
  }

  /** Steps 1-2 of token authentication; returns the 202 response (authenticationToken, referenceNumber). */
  async startTokenAuth(nip: string, ksefToken: string, tweak: { timestampMs?: number; challenge?: string; contextNip?: string } = {}) {
    if (!this.certificates.length) await this.loadCertificates();
    const ch = await this.call<{ challenge: string; timestamp: string; timestampMs: number }>('POST', '/auth/challenge');
    const ts = tweak.timestampMs ?? ch.json.timestampMs;
    const cert = this.cert('KsefTokenEncryption');
    const encryptedToken = rsaOaepEncrypt(cert.certificate, Buffer.from(`${ksefToken}|${ts}`, 'utf8')).toString('base64');
    const body = {
      challenge: tweak.challenge ?? ch.json.challenge,
      contextIdentifier: { type: 'Nip', value: tweak.contextNip ?? nip },
      encryptedToken,
      publicKeyId: cert.publicKeyId,
    };
    const r = await this.call<{ referenceNumber: string; authenticationToken: { token: string; validUntil: string } }>('POST', '/auth/ksef-token', { body });
    return { response: r, challenge: ch.json, requestBody: body };
  }

  async waitAuth(referenceNumber: string, authenticationToken: string): Promise<{ code: number; description: string; details?: string[] }> {
    for (let i = 0; i < 200; i++) {
      const r = await this.call<{ status: { code: number; description: string; details?: string[] } }>('GET', '/auth/{referenceNumber}', {
        params: { referenceNumber },
        token: authenticationToken,
      });
      if (r.json.status.code !== 100) return r.json.status;
      await new Promise((res) => setTimeout(res, 20));
    }
    throw new Error('authentication stayed in progress');
  }

  /** The whole documented flow: challenge, ksef-token, status until 200, redeem. */
  async authenticate(nip: string, ksefToken: string): Promise<Tokens> {
    const { response } = await this.startTokenAuth(nip, ksefToken);
    if (response.status !== 202) throw new Error(`ksef-token answered ${response.status}: ${response.text}`);
    const status = await this.waitAuth(response.json.referenceNumber, response.json.authenticationToken.token);
    if (status.code !== 200) throw new Error(`authentication ended with ${JSON.stringify(status)}`);
    const r = await this.call<{ accessToken: { token: string }; refreshToken: { token: string } }>('POST', '/auth/token/redeem', {
      token: response.json.authenticationToken.token,
    });
    if (r.status !== 200) throw new Error(`redeem answered ${r.status}: ${r.text}`);
    return { accessToken: r.json.accessToken.token, refreshToken: r.json.refreshToken.token, authReferenceNumber: response.json.referenceNumber };
  }

  /** New AES-256 key and IV, and the `encryption` object of the open-session requests. */
  newEncryption(): { key: Buffer; iv: Buffer; encryption: { encryptedSymmetricKey: string; initializationVector: string; publicKeyId: string } } {
    const key = crypto.randomBytes(32);
    const iv = crypto.randomBytes(16);
    const cert = this.cert('SymmetricKeyEncryption');
    return {
      key,
      iv,
      encryption: { encryptedSymmetricKey: rsaOaepEncrypt(cert.certificate, key).toString('base64'), initializationVector: iv.toString('base64'), publicKeyId: cert.publicKeyId },
    };
  }

  /** Body of POST /sessions/online/{ref}/invoices for a plain invoice. */
  static invoiceBody(key: Buffer, iv: Buffer, xml: string | Buffer, offlineMode = false) {
    const plain = typeof xml === 'string' ? Buffer.from(xml, 'utf8') : xml;
    const enc = aesEncrypt(key, iv, plain);
    return {
      invoiceHash: sha256b64(plain),
      invoiceSize: plain.length,
      encryptedInvoiceHash: sha256b64(enc),
      encryptedInvoiceSize: enc.length,
      encryptedInvoiceContent: enc.toString('base64'),
      offlineMode,
    };
  }

  async waitSession(
    ref: string,
    token: string,
    done: (code: number) => boolean = (c) => c >= 200,
    intervalMs = 20,
  ): Promise<Record<string, unknown> & { status: { code: number } }> {
    for (let i = 0; i < 60_000 / intervalMs; i++) {
      const r = await this.call<Record<string, unknown> & { status: { code: number } }>('GET', '/sessions/{referenceNumber}', { params: { referenceNumber: ref }, token });
      if (done(r.json.status.code)) return r.json;
      await new Promise((res) => setTimeout(res, intervalMs));
    }
    throw new Error(`session ${ref} did not finish`);
  }
}
