/**
 * Minimal, fast archive writers for batch packages, on node's native zlib:
 * - ZIP (PKWARE APPNOTE 6.3): one deflated (or stored) entry per invoice, UTF-8 names, no ZIP64
 *   (a package over 4 GiB must be tar.gz); entries are compressed synchronously (per-entry async
 *   zlib calls cost more than the compression itself) with the deflate window sized to the entry,
 *   yielding to the event loop every few hundred entries;
 * - tar (POSIX ustar) compressed as one gzip stream (asynchronously, in the thread pool).
 * Both are verified in the tests by independent readers (fflate's unzip, tar-stream's extract).
 * Why not fflate's zipSync / tar-stream for writing: for 10,000 small invoices they took 2-3 s of
 * blocking CPU here; this takes a fraction of that.
 */
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { KsefClientError } from './errors.js';

const gzip = promisify(zlib.gzip);

export interface ArchiveEntry {
  name: string;
  content: Uint8Array;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

type Crc32 = (data: Uint8Array) => number;
const nativeCrc32 = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;

/** CRC-32 (IEEE), native when node has zlib.crc32, else a table implementation. */
export const crc32: Crc32 =
  nativeCrc32 ??
  ((data) => {
    let c = 0xffffffff;
    for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  });

// DOS date/time of 2000-01-01 00:00:00 (fixed: packages of the same invoices are byte-identical)
const DOS_TIME = 0;
const DOS_DATE = ((2000 - 1980) << 9) | (1 << 5) | 1;

export async function writeZip(entries: readonly ArchiveEntry[], level: number): Promise<Buffer> {
  const compressed: Array<{ method: number; data: Uint8Array }> = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (i % 256 === 255) await new Promise<void>((r) => setImmediate(r));
    if (level === 0 || e.content.length === 0) {
      compressed.push({ method: 0, data: e.content });
      continue;
    }
    const windowBits = Math.min(15, Math.max(9, Math.ceil(Math.log2(e.content.length + 1))));
    const d = zlib.deflateRawSync(e.content, { level, windowBits });
    // zlib hands back a view on a 16 KB output chunk; copying the few bytes used lets that chunk go (10,000 invoices
    // would otherwise keep ~160 MB alive until the package is written).
    compressed.push(d.length < e.content.length ? { method: 8, data: Buffer.from(d) } : { method: 0, data: e.content });
  }
  const chunks: Uint8Array[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const c = compressed[i]!;
    const name = Buffer.from(e.name, 'utf8');
    const crc = crc32(e.content);
    if (offset > 0xffffffff || e.content.length > 0xffffffff) {
      throw new KsefClientError('KSEF_PACKAGE_TOO_LARGE', 'ZIP packages over 4 GiB are not supported; use tar.gz', { allowed: 'tar.gz' });
    }
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(c.method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(c.data.length, 18);
    local.writeUInt32LE(e.content.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4); // version made by
    cd.writeUInt16LE(20, 6); // version needed
    cd.writeUInt16LE(0x0800, 8);
    cd.writeUInt16LE(c.method, 10);
    cd.writeUInt16LE(DOS_TIME, 12);
    cd.writeUInt16LE(DOS_DATE, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(c.data.length, 20);
    cd.writeUInt32LE(e.content.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    central.push(cd, name);
    chunks.push(local, name, c.data);
    offset += 30 + name.length + c.data.length;
  }
  const cdSize = central.reduce((n, b) => n + b.length, 0);
  if (offset > 0xffffffff || entries.length > 0xffff) {
    throw new KsefClientError('KSEF_PACKAGE_TOO_LARGE', 'ZIP packages over 4 GiB or 65,535 files are not supported; use tar.gz', { allowed: 'tar.gz' });
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...chunks, ...central, end]);
}

function octal(buf: Buffer, value: number, offset: number, length: number): void {
  buf.write(value.toString(8).padStart(length - 1, '0') + '\0', offset, length, 'ascii');
}

const MTIME = Date.UTC(2000, 0, 1) / 1000;

export async function writeTarGz(entries: readonly ArchiveEntry[], level: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    if (name.length > 100) throw new KsefClientError('KSEF_PACKAGE_BAD_NAME', `file name longer than 100 bytes in tar package: ${e.name}`, { value: e.name });
    const h = Buffer.alloc(512);
    name.copy(h, 0);
    octal(h, 0o644, 100, 8);
    octal(h, 0, 108, 8);
    octal(h, 0, 116, 8);
    octal(h, e.content.length, 124, 12);
    octal(h, MTIME, 136, 12);
    h.fill(0x20, 148, 156); // checksum placeholder: spaces
    h.write('0', 156, 'ascii'); // regular file
    h.write('ustar\0', 257, 'ascii');
    h.write('00', 263, 'ascii');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += h[i]!;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
    chunks.push(h, e.content);
    const pad = (512 - (e.content.length % 512)) % 512;
    if (pad) chunks.push(Buffer.alloc(pad));
  }
  chunks.push(Buffer.alloc(1024));
  return gzip(Buffer.concat(chunks), { level });
}
