/** Unpacking a batch package: ZIP (fflate) or tar.gz (zlib + tar-stream). Returns the file entries in order. */
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { unzipSync } from 'fflate';
import tar from 'tar-stream';

export interface PackageEntry {
  name: string;
  data: Buffer;
}

export function unpackZip(buf: Buffer): PackageEntry[] {
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
