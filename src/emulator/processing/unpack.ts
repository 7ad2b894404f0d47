/**
 * Unpacking a batch package: ZIP or tar.gz. Both give a list of entries whose contents are produced on demand, so the
 * processor holds only one chunk of invoices at a time:
 *
 * - ZIP: the central directory is read at once (names, sizes, offsets); an entry is inflated (native zlib) when its
 *   chunk is processed. Anything unusual (ZIP64, other methods) falls back to fflate, which unpacks everything.
 * - tar.gz: the archive is gunzipped once and its ustar headers are walked (pax `path`/`size` records and GNU long
 *   names honoured, header checksums checked); entries are views into that buffer, never copies.
 *
 * A damaged archive throws: from `unpack*` (directory, headers), or from `load()` (an entry that does not inflate).
 */
import zlib from 'node:zlib';
import { unzipSync } from 'fflate';

export interface PackageEntry {
  name: string;
  /** The entry's bytes; inflates a ZIP entry (throws when it is damaged). */
  load(): Buffer;
}

const loaded = (name: string, data: Buffer): PackageEntry => ({ name, load: () => data });

export function unpackZip(buf: Buffer): PackageEntry[] {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0 || eocd + 22 > buf.length) throw new Error('not a ZIP archive (no end of central directory)');
  const count = buf.readUInt16LE(eocd + 10);
  const cdOffset = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff) return unpackZipJs(buf);
  const out: PackageEntry[] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50) throw new Error('damaged ZIP central directory');
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
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== 0x04034b50) throw new Error(`damaged ZIP entry ${name}`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    if (start + compSize > buf.length) throw new Error(`damaged ZIP entry ${name}`);
    out.push({
      name,
      load: () => {
        const raw = buf.subarray(start, start + compSize);
        // chunkSize = the known size: otherwise every small entry keeps a 16 KiB output buffer alive
        const data = method === 0 ? raw : zlib.inflateRawSync(raw, { chunkSize: Math.max(64, size + 64) });
        if (data.length !== size) throw new Error(`ZIP entry ${name}: size mismatch`);
        return data;
      },
    });
  }
  return out;
}

function unpackZipJs(buf: Buffer): PackageEntry[] {
  const files = unzipSync(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  return Object.entries(files)
    .filter(([name]) => !name.endsWith('/'))
    .map(([name, data]) => loaded(name, Buffer.from(data.buffer, data.byteOffset, data.byteLength)));
}

const BLOCK = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK);

/** A numeric tar header field: octal text, or base-256 when the first byte has its high bit set. */
function tarNumber(h: Buffer, offset: number, length: number): number {
  if ((h[offset] as number) & 0x80) {
    let n = (h[offset] as number) & 0x7f;
    for (let i = 1; i < length; i++) n = n * 256 + (h[offset + i] as number);
    return n;
  }
  const text = h.toString('latin1', offset, offset + length).replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new Error('damaged tar header (number)');
  return parseInt(text, 8);
}

const tarString = (h: Buffer, offset: number, length: number): string => {
  const end = h.indexOf(0, offset);
  return h.toString('utf8', offset, end < 0 || end > offset + length ? offset + length : end);
};

/** pax extended header records: "<len> <key>=<value>\n". */
function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let p = 0;
  while (p < data.length) {
    const space = data.indexOf(0x20, p);
    if (space < 0) break;
    const len = Number(data.toString('latin1', p, space));
    if (!Number.isInteger(len) || len <= 0 || p + len > data.length) throw new Error('damaged tar pax header');
    const record = data.toString('utf8', space + 1, p + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    p += len;
  }
  return out;
}

export function unpackTarGz(buf: Buffer): PackageEntry[] {
  const tar = zlib.gunzipSync(buf);
  const out: PackageEntry[] = [];
  let p = 0;
  let longName: string | null = null;
  let pax: Map<string, string> | null = null;
  let ended = false;
  while (p + BLOCK <= tar.length) {
    const h = tar.subarray(p, p + BLOCK);
    if (h.equals(ZERO_BLOCK)) {
      ended = true;
      break;
    }
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] as number);
    if (sum !== tarNumber(h, 148, 8)) throw new Error('damaged tar header (checksum)');
    const type = String.fromCharCode(h[156] as number);
    let size = tarNumber(h, 124, 12);
    if (pax?.has('size')) size = Number(pax.get('size'));
    const dataStart = p + BLOCK;
    if (!Number.isSafeInteger(size) || size < 0 || dataStart + size > tar.length) throw new Error('damaged tar archive (entry beyond the end)');
    const data = tar.subarray(dataStart, dataStart + size);
    p = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x') {
      pax = paxRecords(data);
      continue;
    }
    if (type === 'L') {
      longName = data.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    if (type === 'g' || type === 'K') continue;
    let name = tarString(h, 0, 100);
    if (h.toString('latin1', 257, 262) === 'ustar') {
      const prefix = tarString(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    name = pax?.get('path') ?? longName ?? name;
    pax = null;
    longName = null;
    if (type === '0' || type === '\0' || type === '7') out.push(loaded(name, data));
  }
  if (!ended && p < tar.length) throw new Error('damaged tar archive (truncated header)');
  return out;
}
