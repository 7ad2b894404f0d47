/** Unpacking a batch package: ZIP (fflate) or tar.gz (zlib + tar-stream). Returns the file entries in order. */
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { unzipSync } from 'fflate';
import tar from 'tar-stream';

export interface PackageEntry {
  name: string;
  data: Buffer;
}

/**
 * Reads a ZIP with the native zlib (much faster than inflating in JavaScript): end-of-central-directory record,
 * central directory, then each entry (stored or deflated). Falls back to fflate for anything unusual (ZIP64, other
 * methods). Throws on a damaged archive.
 */
export function unpackZip(buf: Buffer): PackageEntry[] {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0 || eocd + 22 > buf.length) throw new Error('not a ZIP archive (no end of central directory)');
  const count = buf.readUInt16LE(eocd + 10);
  const cdOffset = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff) return unpackZipJs(buf);
  const out: PackageEntry[] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('damaged ZIP central directory');
    const method = buf.readUInt16LE(p + 10);
    const compSize = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    if (compSize === 0xffffffff || size === 0xffffffff || local === 0xffffffff || (method !== 0 && method !== 8)) return unpackZipJs(buf);
    if (name.endsWith('/')) continue;
    if (buf.readUInt32LE(local) !== 0x04034b50) throw new Error(`damaged ZIP entry ${name}`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(start, start + compSize);
    // chunkSize = the known size: otherwise every small entry keeps a 16 KiB output buffer alive
    const data = method === 0 ? Buffer.from(raw) : zlib.inflateRawSync(raw, { chunkSize: Math.max(64, size + 64) });
    if (data.length !== size) throw new Error(`ZIP entry ${name}: size mismatch`);
    out.push({ name, data });
  }
  return out;
}

function unpackZipJs(buf: Buffer): PackageEntry[] {
  const files = unzipSync(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  return Object.entries(files)
    .filter(([name]) => !name.endsWith('/'))
    .map(([name, data]) => ({ name, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) }));
}

export async function unpackTarGz(buf: Buffer): Promise<PackageEntry[]> {
  const tarBuf = zlib.gunzipSync(buf);
  const extract = tar.extract();
  const out: PackageEntry[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (header.type === 'file') out.push({ name: header.name, data: Buffer.concat(chunks) });
        next();
      });
      stream.on('error', reject);
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  Readable.from([tarBuf]).pipe(extract);
  await done;
  return out;
}
