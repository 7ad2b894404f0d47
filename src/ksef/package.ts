/**
 * Batch packages (sesja-wsadowa.md, open-api.json BatchFileInfo): invoices in one ZIP or tar.gz
 * (compressionType "TarGz", recommended for large packages in limity-api.md; writers in archive.ts), split binarily into at most 50 parts of at most 100 MB before encryption (parts of
 * equal size, as the official clients do), each part AES-256-CBC encrypted with the session key.
 * The package's hash and size are of the whole plain archive; each part's hash and size are of its
 * encrypted bytes. Every invoice's SHA-256 is kept so results can be matched back by invoiceHash.
 */
import { writeTarGz, writeZip } from './archive.js';
import { aesEncrypt, fileMetadata, sha256Base64 } from './crypto.js';
import { KsefClientError } from './errors.js';
import type { CompressionType } from './types.js';

export type PackageFormat = 'zip' | 'tar.gz';

export interface InvoiceFile {
  /** File name inside the package (unique, e.g. `<document id>.xml`). */
  name: string;
  /** FA(3) XML bytes exactly as sent. */
  content: Uint8Array;
}

/** Documented limits of a batch package (open-api.json BatchFileInfo, limity.md). */
export const BATCH_LIMITS = Object.freeze({
  /** 100 MB per part before encryption. */
  maxPartSize: 100_000_000,
  maxParts: 50,
  /** 5 GB per package. */
  maxPackageSize: 5_000_000_000,
  /** 10,000 invoices per session. */
  maxInvoices: 10_000,
});

export interface BatchPackageOptions {
  format?: PackageFormat;
  maxPartSize?: number;
  maxParts?: number;
  maxPackageSize?: number;
  maxInvoices?: number;
  /** Deflate level 0-9 (default 6). */
  level?: number;
}

export interface PackagedInvoice {
  fileName: string;
  /** SHA-256 (Base64) of the invoice bytes: KSeF's invoiceHash. */
  invoiceHash: string;
  invoiceSize: number;
}

export interface BatchPackage {
  format: PackageFormat;
  compressionType: CompressionType;
  /** Hash and size of the whole plain archive. */
  fileHash: string;
  fileSize: number;
  /** Plain parts, in order (ordinalNumber = index + 1). */
  parts: Uint8Array[];
  invoices: PackagedInvoice[];
}

export interface EncryptedPart {
  ordinalNumber: number;
  data: Buffer;
  /** Size and hash of the encrypted part. */
  fileSize: number;
  fileHash: string;
}

export async function buildBatchPackage(files: InvoiceFile[], opts: BatchPackageOptions = {}): Promise<BatchPackage> {
  const format = opts.format ?? 'zip';
  const maxInvoices = opts.maxInvoices ?? BATCH_LIMITS.maxInvoices;
  const maxPackageSize = opts.maxPackageSize ?? BATCH_LIMITS.maxPackageSize;
  if (files.length === 0) throw new KsefClientError('KSEF_PACKAGE_EMPTY', 'a batch package needs at least one invoice');
  if (files.length > maxInvoices) {
    throw new KsefClientError('KSEF_PACKAGE_TOO_MANY_INVOICES', `${files.length} invoices exceed the limit of ${maxInvoices} per session`, {
      value: String(files.length),
      allowed: `<= ${maxInvoices}`,
    });
  }
  const seen = new Set<string>();
  const invoices: PackagedInvoice[] = [];
  for (const f of files) {
    if (!f.name || f.name.includes('/') || f.name.includes('\\')) {
      throw new KsefClientError('KSEF_PACKAGE_BAD_NAME', `invalid file name in package: "${f.name}"`, { value: f.name });
    }
    if (seen.has(f.name)) throw new KsefClientError('KSEF_PACKAGE_DUPLICATE_NAME', `duplicate file name in package: ${f.name}`, { value: f.name });
    seen.add(f.name);
    invoices.push({ fileName: f.name, invoiceHash: sha256Base64(f.content), invoiceSize: f.content.byteLength });
  }
  const level = Math.max(0, Math.min(9, Math.trunc(opts.level ?? 6)));
  const data = format === 'zip' ? await writeZip(files, level) : await writeTarGz(files, level);
  if (data.byteLength > maxPackageSize) {
    throw new KsefClientError('KSEF_PACKAGE_TOO_LARGE', `package of ${data.byteLength} bytes exceeds ${maxPackageSize} bytes`, {
      value: String(data.byteLength),
      allowed: `<= ${maxPackageSize}`,
    });
  }
  const meta = fileMetadata(data);
  return {
    format,
    compressionType: format === 'zip' ? 'Zip' : 'TarGz',
    fileHash: meta.hash,
    fileSize: meta.size,
    parts: splitPackage(data, opts.maxPartSize ?? BATCH_LIMITS.maxPartSize, opts.maxParts ?? BATCH_LIMITS.maxParts),
    invoices,
  };
}

/**
 * Splits bytes into the fewest parts of at most `maxPartSize` bytes, all of (nearly) equal size.
 * Throws when more than `maxParts` parts would be needed.
 */
export function splitPackage(data: Uint8Array, maxPartSize: number = BATCH_LIMITS.maxPartSize, maxParts: number = BATCH_LIMITS.maxParts): Uint8Array[] {
  if (!(maxPartSize > 0)) throw new RangeError('maxPartSize must be > 0');
  if (data.byteLength === 0) throw new KsefClientError('KSEF_PACKAGE_EMPTY', 'cannot split an empty package');
  const count = Math.ceil(data.byteLength / maxPartSize);
  if (count > maxParts) {
    throw new KsefClientError('KSEF_PACKAGE_TOO_MANY_PARTS', `package of ${data.byteLength} bytes needs ${count} parts of at most ${maxPartSize} bytes; the limit is ${maxParts}`, {
      value: String(count),
      allowed: `<= ${maxParts}`,
    }, { hint: 'send fewer invoices per batch' });
  }
  const size = Math.ceil(data.byteLength / count);
  const parts: Uint8Array[] = [];
  for (let off = 0; off < data.byteLength; off += size) parts.push(data.subarray(off, Math.min(off + size, data.byteLength)));
  return parts;
}

/** Encrypts every part with the session key; hashes and sizes are of the encrypted bytes. */
export function encryptParts(parts: Uint8Array[], key: Uint8Array, iv: Uint8Array): EncryptedPart[] {
  return parts.map((p, i) => {
    const data = aesEncrypt(key, iv, p);
    const m = fileMetadata(data);
    return { ordinalNumber: i + 1, data, fileSize: m.size, fileHash: m.hash };
  });
}
