/**
 * Export packages: a ZIP (deflate) or a tar.gz of the invoice files and `_metadata.json`. Invoice files are deflated
 * one by one as they are added, so the export can stop at the documented compressed-size limit before adding a file
 * that would cross it; the ZIP reuses those deflated bytes. No ZIP64: the package limit (1 GB) and the invoice limit
 * (10,000) stay below its thresholds.
 */
import zlib from 'node:zlib';

export interface ArchiveEntry {
  name: string;
  data: Buffer;
}

interface ZipEntry {
  name: Buffer;
  crc: number;
  size: number;
  deflated: Buffer;
  offset: number;
}

const DOS_TIME = 0; // 00:00:00
const DOS_DATE = (1 << 5) | 1; // 1980-01-01

/** ZIP writer that takes pre-deflated data. */
export class ZipBuilder {
  private readonly chunks: Buffer[] = [];
  private readonly entries: ZipEntry[] = [];
  private offset = 0;

  /** Deflates a file; the result's length is what the file adds to the compressed size. */
  static deflate(data: Buffer): Buffer {
    return zlib.deflateRawSync(data, { level: 6 });
  }

  add(name: string, data: Buffer, deflated: Buffer = ZipBuilder.deflate(data)): void {
    const nameBuf = Buffer.from(name, 'utf8');
    const crc = zlib.crc32(data) >>> 0;
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4); // version needed
    header.writeUInt16LE(0x0800, 6); // UTF-8 names
    header.writeUInt16LE(8, 8); // deflate
    header.writeUInt16LE(DOS_TIME, 10);
    header.writeUInt16LE(DOS_DATE, 12);
    header.writeUInt32LE(crc, 14);
    header.writeUInt32LE(deflated.length, 18);
    header.writeUInt32LE(data.length, 22);
    header.writeUInt16LE(nameBuf.length, 26);
    header.writeUInt16LE(0, 28);
    this.entries.push({ name: nameBuf, crc, size: data.length, deflated, offset: this.offset });
    this.chunks.push(header, nameBuf, deflated);
    this.offset += header.length + nameBuf.length + deflated.length;
  }

  finish(): Buffer {
    const central: Buffer[] = [];
    let size = 0;
    for (const e of this.entries) {
      const h = Buffer.alloc(46);
      h.writeUInt32LE(0x02014b50, 0);
      h.writeUInt16LE(20, 4); // version made by
      h.writeUInt16LE(20, 6);
      h.writeUInt16LE(0x0800, 8);
      h.writeUInt16LE(8, 10);
      h.writeUInt16LE(DOS_TIME, 12);
      h.writeUInt16LE(DOS_DATE, 14);
      h.writeUInt32LE(e.crc, 16);
      h.writeUInt32LE(e.deflated.length, 20);
      h.writeUInt32LE(e.size, 24);
      h.writeUInt16LE(e.name.length, 28);
      h.writeUInt32LE(e.offset, 42);
      central.push(h, e.name);
      size += h.length + e.name.length;
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(this.entries.length, 8);
    end.writeUInt16LE(this.entries.length, 10);
    end.writeUInt32LE(size, 12);
    end.writeUInt32LE(this.offset, 16);
    return Buffer.concat([...this.chunks, ...central, end]);
  }
}

function tarHeader(name: string, size: number, mtimeSec: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  h.write(`${mtimeSec.toString(8).padStart(11, '0')}\0`, 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write('0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** POSIX ustar archive, gzip-compressed. Names must be at most 100 bytes (KSeF file names are 39). */
export function tarGz(entries: ArchiveEntry[], mtimeMs: number): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(tarHeader(e.name, e.data.length, Math.floor(mtimeMs / 1000)), e.data);
    const pad = (512 - (e.data.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(1024));
  return zlib.gzipSync(Buffer.concat(parts), { level: 6 });
}
