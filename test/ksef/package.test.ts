import { gunzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import crypto from 'node:crypto';
import { unzipSync } from 'fflate';
import { extract } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { aesDecrypt, buildBatchPackage, encryptParts, KsefClientError, sha256Base64, splitPackage } from '../../src/ksef/index.js';
import { fa3Invoice } from './fixtures.js';

const files = (n: number, padding = 0) => Array.from({ length: n }, (_, i) => ({ name: `inv-${i + 1}.xml`, content: Buffer.from(fa3Invoice(i + 1, { padding })) }));

async function untar(gz: Uint8Array): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = extract();
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.set(entry.header.name, Buffer.concat(chunks));
    }
  })();
  Readable.from([gunzipSync(gz)]).pipe(ex);
  await done;
  return out;
}

describe('splitting', () => {
  it('uses the fewest parts of at most maxPartSize, of nearly equal size, that join back', () => {
    const data = crypto.randomBytes(1050);
    const parts = splitPackage(data, 100, 50);
    expect(parts).toHaveLength(11);
    expect(Math.max(...parts.map((p) => p.length))).toBeLessThanOrEqual(100);
    // all parts but the last have ceil(1050 / 11) = 96 bytes; the last one holds the rest
    expect(parts.slice(0, -1).every((p) => p.length === 96)).toBe(true);
    expect(parts.at(-1)!.length).toBe(1050 - 96 * 10);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    expect(splitPackage(data, 2000, 50)).toHaveLength(1);
    expect(splitPackage(data, 1050, 50)).toHaveLength(1);
    expect(splitPackage(data, 1049, 50)).toHaveLength(2);
  });

  it('refuses a package that would need more than the allowed number of parts', () => {
    expect(() => splitPackage(crypto.randomBytes(5001), 100, 50)).toThrow(KsefClientError);
    try {
      splitPackage(crypto.randomBytes(5001), 100, 50);
    } catch (e) {
      expect((e as KsefClientError).code).toBe('KSEF_PACKAGE_TOO_MANY_PARTS');
    }
  });
});

describe('packages', () => {
  it('builds a ZIP with every invoice, their hashes, and the archive hash and size', async () => {
    const f = files(30);
    const pkg = await buildBatchPackage(f, { format: 'zip' });
    expect(pkg.compressionType).toBe('Zip');
    const joined = Buffer.concat(pkg.parts);
    expect(pkg.fileSize).toBe(joined.length);
    expect(pkg.fileHash).toBe(sha256Base64(joined));
    const un = unzipSync(joined);
    expect(Object.keys(un).sort()).toEqual(f.map((x) => x.name).sort());
    for (const x of f) expect(Buffer.from(un[x.name]!).equals(x.content)).toBe(true);
    expect(pkg.invoices.map((i) => i.invoiceHash)).toEqual(f.map((x) => sha256Base64(x.content)));
  });

  it('builds a tar.gz (compressionType TarGz) that unpacks to the same invoices', async () => {
    const f = files(25);
    const pkg = await buildBatchPackage(f, { format: 'tar.gz' });
    expect(pkg.compressionType).toBe('TarGz');
    const m = await untar(Buffer.concat(pkg.parts));
    expect([...m.keys()].sort()).toEqual(f.map((x) => x.name).sort());
    for (const x of f) expect(m.get(x.name)!.equals(x.content)).toBe(true);
  });

  it('splits a large package into several parts and encrypts each with the session key', async () => {
    const f = files(200, 2000);
    const pkg = await buildBatchPackage(f, { format: 'zip', level: 0, maxPartSize: 100_000 });
    expect(pkg.parts.length).toBeGreaterThan(1);
    const key = crypto.randomBytes(32);
    const iv = crypto.randomBytes(16);
    const enc = encryptParts(pkg.parts, key, iv);
    expect(enc.map((p) => p.ordinalNumber)).toEqual(pkg.parts.map((_, i) => i + 1));
    for (const [i, p] of enc.entries()) {
      expect(p.fileSize).toBe(p.data.length);
      expect(p.fileHash).toBe(sha256Base64(p.data));
      expect(aesDecrypt(key, iv, p.data).equals(Buffer.from(pkg.parts[i]!))).toBe(true);
    }
  });

  it('writes stored (level 0) and large deflated entries that independent readers unpack', async () => {
    const big = [{ name: 'big.xml', content: Buffer.from(fa3Invoice(1, { padding: 300_000 })) }, ...files(3)];
    for (const level of [0, 9]) {
      const pkg = await buildBatchPackage(big, { format: 'zip', level });
      const un = unzipSync(Buffer.concat(pkg.parts));
      for (const x of big) expect(Buffer.from(un[x.name]!).equals(x.content)).toBe(true);
      const tgz = await buildBatchPackage(big, { format: 'tar.gz', level });
      const m = await untar(Buffer.concat(tgz.parts));
      for (const x of big) expect(m.get(x.name)!.equals(x.content)).toBe(true);
    }
    // names are UTF-8 in both formats
    const pl = [{ name: 'faktura-żółć.xml', content: Buffer.from(fa3Invoice(7)) }];
    expect(Object.keys(unzipSync(Buffer.concat((await buildBatchPackage(pl, { format: 'zip' })).parts)))).toEqual(['faktura-żółć.xml']);
    expect([...(await untar(Buffer.concat((await buildBatchPackage(pl, { format: 'tar.gz' })).parts))).keys()]).toEqual(['faktura-żółć.xml']);
  });

  it('is deterministic: the same invoices give the same package hash', async () => {
    const a = await buildBatchPackage(files(5), { format: 'zip' });
    const b = await buildBatchPackage(files(5), { format: 'zip' });
    expect(a.fileHash).toBe(b.fileHash);
  });

  it('rejects empty packages, duplicate or unsafe names, too many invoices', async () => {
    await expect(buildBatchPackage([])).rejects.toMatchObject({ code: 'KSEF_PACKAGE_EMPTY' });
    const dup = [...files(1), ...files(1)];
    await expect(buildBatchPackage(dup)).rejects.toMatchObject({ code: 'KSEF_PACKAGE_DUPLICATE_NAME' });
    await expect(buildBatchPackage([{ name: '../x.xml', content: Buffer.from('x') }])).rejects.toMatchObject({ code: 'KSEF_PACKAGE_BAD_NAME' });
    await expect(buildBatchPackage(files(3), { maxInvoices: 2 })).rejects.toMatchObject({ code: 'KSEF_PACKAGE_TOO_MANY_INVOICES' });
    await expect(buildBatchPackage(files(3), { maxPackageSize: 10 })).rejects.toMatchObject({ code: 'KSEF_PACKAGE_TOO_LARGE' });
    await expect(buildBatchPackage([{ name: `${'n'.repeat(101)}.xml`, content: Buffer.from('x') }], { format: 'tar.gz' })).rejects.toMatchObject({
      code: 'KSEF_PACKAGE_BAD_NAME',
    });
  });
});
