/** Building batch packages the way sesja-wsadowa.md describes: ZIP or tar.gz, binary split into parts, each part encrypted. */
import zlib from 'node:zlib';
import { zipSync } from 'fflate';
import tar from 'tar-stream';
import { aesEncrypt, sha256b64 } from './client.js';

export interface PackageFile {
  name: string;
  content: Buffer;
}

export function buildZip(files: PackageFile[]): Buffer {
  const entries: Record<string, Uint8Array> = {};
  for (const f of files) entries[f.name] = f.content;
  return Buffer.from(zipSync(entries, { level: 6 }));
}

export async function buildTarGz(files: PackageFile[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const f of files) pack.entry({ name: f.name, size: f.content.length }, f.content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return zlib.gzipSync(Buffer.concat(chunks));
}

export interface EncryptedPart {
  ordinalNumber: number;
  data: Buffer;
  fileSize: number;
  fileHash: string;
}

/** Splits the package into `count` parts (binary split) and encrypts each with the session key. */
export function splitAndEncrypt(pkg: Buffer, count: number, key: Buffer, iv: Buffer): EncryptedPart[] {
  const size = Math.ceil(pkg.length / count);
  const parts: EncryptedPart[] = [];
  for (let i = 0; i < count; i++) {
    const plain = pkg.subarray(i * size, Math.min(pkg.length, (i + 1) * size));
    if (plain.length === 0) break;
    const data = aesEncrypt(key, iv, plain);
    parts.push({ ordinalNumber: i + 1, data, fileSize: data.length, fileHash: sha256b64(data) });
  }
  return parts;
}

export function openBatchBody(pkg: Buffer, parts: EncryptedPart[], encryption: object, compressionType?: 'Zip' | 'TarGz') {
  return {
    formCode: { systemCode: 'FA (3)', schemaVersion: '1-0E', value: 'FA' },
    batchFile: {
      fileSize: pkg.length,
      fileHash: sha256b64(pkg),
      ...(compressionType ? { compressionType } : {}),
      fileParts: parts.map((p) => ({ ordinalNumber: p.ordinalNumber, fileSize: p.fileSize, fileHash: p.fileHash })),
    },
    encryption,
  };
}

/** Uploads a part exactly as partUploadRequests says: method, url, headers, raw bytes, no access token. */
export async function uploadPart(req: { method: string; url: string; headers: Record<string, string | null> }, data: Buffer): Promise<Response> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== null) headers[k] = v;
  return fetch(req.url, { method: req.method, headers, body: data });
}
