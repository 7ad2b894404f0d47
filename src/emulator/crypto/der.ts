/**
 * Just enough DER to build a self-signed X.509 v3 certificate with node:crypto (which can sign but not build
 * certificates). No dependency: the structure is small and fixed (RFC 5280, sha256WithRSAEncryption).
 */
import crypto from 'node:crypto';

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export const tlv = (tag: number, content: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), len(content.length), content]);
export const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
export const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
export const nul = (): Buffer => Buffer.from([0x05, 0x00]);
export const explicit = (n: number, content: Buffer): Buffer => tlv(0xa0 + n, content);
export const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
export const printable = (s: string): Buffer => tlv(0x13, Buffer.from(s, 'ascii'));
export const bool = (b: boolean): Buffer => tlv(0x01, Buffer.from([b ? 0xff : 0]));
export const octets = (b: Buffer): Buffer => tlv(0x04, b);
export const bits = (b: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));

export function int(value: Buffer | number): Buffer {
  let b = typeof value === 'number' ? Buffer.from([value]) : value;
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && ((b[i + 1] as number) & 0x80) === 0) i++;
  b = b.subarray(i);
  if (((b[0] as number) & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [(parts[0] as number) * 40 + (parts[1] as number)];
  for (const p of parts.slice(2)) {
    const stack: number[] = [p & 0x7f];
    let v = Math.floor(p / 128);
    while (v > 0) {
      stack.unshift((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(...stack);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  const y = d.getUTCFullYear();
  return y >= 1950 && y < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, 'ascii')) : tlv(0x18, Buffer.from(`${iso}Z`, 'ascii'));
}

export interface CertificateSubject {
  commonName: string;
  organization?: string;
  country?: string;
}

function name(s: CertificateSubject): Buffer {
  const rdns: Buffer[] = [];
  if (s.country) rdns.push(set(seq(oid('2.5.4.6'), printable(s.country))));
  if (s.organization) rdns.push(set(seq(oid('2.5.4.10'), utf8(s.organization))));
  rdns.push(set(seq(oid('2.5.4.3'), utf8(s.commonName))));
  return seq(...rdns);
}

/** Builds and signs a self-signed certificate for the key pair; returns its DER. */
export function selfSignedCertificate(opts: {
  publicKey: crypto.KeyObject;
  privateKey: crypto.KeyObject;
  subject: CertificateSubject;
  notBefore: Date;
  notAfter: Date;
}): Buffer {
  const serial = crypto.randomBytes(16);
  serial[0] = ((serial[0] as number) & 0x7f) | 0x01;
  const sigAlg = seq(oid('1.2.840.113549.1.1.11'), nul());
  const spki = opts.publicKey.export({ type: 'spki', format: 'der' });
  // keyUsage (critical): keyEncipherment (bit 2) + dataEncipherment (bit 3) -> 0b00110000, 4 unused bits
  const keyUsage = seq(oid('2.5.29.15'), bool(true), octets(bits(Buffer.from([0x30]), 4)));
  const basicConstraints = seq(oid('2.5.29.19'), bool(true), octets(seq()));
  const ski = seq(oid('2.5.29.14'), octets(octets(crypto.createHash('sha1').update(spki).digest())));
  const tbs = seq(
    explicit(0, int(2)),
    int(serial),
    sigAlg,
    name(opts.subject),
    seq(time(opts.notBefore), time(opts.notAfter)),
    name(opts.subject),
    spki,
    explicit(3, seq(basicConstraints, keyUsage, ski)),
  );
  const signature = crypto.sign('sha256', tbs, opts.privateKey);
  return seq(tbs, sigAlg, bits(signature));
}
