/**
 * Invoice export (pobieranie-faktur.md, przyrostowe-pobieranie-faktur.md, hwm.md):
 * - POST /invoices/exports: filters as for the metadata query, the AES-256 key (RSA-OAEP, SHA-256) and IV the package
 *   is encrypted with, `onlyMetadata`, `compressionType` Zip (default) or TarGz. 201 with the reference number; the
 *   package is built asynchronously (`exportDelayMs`). 21470 unknown key id, 21182 over the concurrent-export limit.
 * - GET /invoices/exports/{referenceNumber}: 100 in progress, 200 with `package` (invoiceCount, size, parts,
 *   isTruncated, last…Date when truncated, permanentStorageHwmDate for PermanentStorage), 210 once the package has
 *   expired, 415 key not decryptable, 420 dateRange.from after the high-water mark with the restriction on; 410 after
 *   7 days; 21175 for an unknown reference or one of another context.
 * The package: invoice files `{ksefNumber}.xml` in ascending order of the date type, until the invoice-count or
 * compressed-size limit, plus `_metadata.json` (`{"invoices": [InvoiceMetadata…]}`, outside the limits); split into
 * parts of at most 50 MB, each encrypted separately with AES-256-CBC/PKCS#7 under the export's key and IV, downloaded
 * without a token from pre-signed URLs to the emulator itself (`x-ms-meta-hash`: SHA-256 of the encrypted part).
 */
import crypto from 'node:crypto';
import type { EmulatorApi } from '../context.js';
import { iso, requireAccess } from '../context.js';
import { ApiError, badRequest } from '../http/errors.js';
import type { HandlerResult } from '../http/router.js';
import { newReferenceNumber } from '../ids.js';
import { sha256Base64 } from '../crypto/keys.js';
import { resolveRange, type InvoiceQueryFilters } from '../query/filters.js';
import { isoMicros, metadataView, type MetaIndex, type MetaRow } from '../query/meta.js';
import { fetchRows, planSearch } from '../query/search.js';
import { tarGz, ZipBuilder, type ArchiveEntry } from '../query/archive.js';
import type { ResolvedDownloadOptions } from '../query/options.js';
import { openSessionKey, type EncryptionInfo } from './sessions-common.js';

const DDL = `
CREATE TABLE IF NOT EXISTS invoice_exports (
  reference_number TEXT PRIMARY KEY, nip TEXT NOT NULL, request TEXT NOT NULL, aes_key BLOB, iv BLOB NOT NULL,
  status_code INTEGER NOT NULL, status_description TEXT NOT NULL, status_details TEXT, created_ms INTEGER NOT NULL,
  due_ms INTEGER NOT NULL, completed_ms INTEGER, package_expires_ms INTEGER, package TEXT);
CREATE INDEX IF NOT EXISTS invoice_exports_nip ON invoice_exports(nip, status_code);
CREATE TABLE IF NOT EXISTS invoice_export_parts (
  reference_number TEXT NOT NULL, ordinal INTEGER NOT NULL, part_name TEXT NOT NULL, data BLOB NOT NULL,
  part_size INTEGER NOT NULL, part_hash TEXT NOT NULL, encrypted_size INTEGER NOT NULL, encrypted_hash TEXT NOT NULL,
  PRIMARY KEY (reference_number, ordinal));
`;

export const EXPORT_STATUS = {
  inProgress: { code: 100, description: 'Eksport faktur w toku' },
  done: { code: 200, description: 'Eksport faktur zakończony sukcesem' },
  expired: { code: 210, description: 'Eksport faktur wygasł i nie jest już dostępny do pobrania' },
  keyError: { code: 415, description: 'Błąd odszyfrowania dostarczonego klucza' },
  beyondHwm: { code: 420, description: 'Zakres filtrowania wykracza poza dostępny zakres danych' },
} as const;

interface ExportRequest {
  encryption: EncryptionInfo;
  filters: InvoiceQueryFilters;
  onlyMetadata?: boolean;
  compressionType?: 'Zip' | 'TarGz' | null;
}

interface ExportRow {
  reference_number: string;
  nip: string;
  request: string;
  aes_key: Buffer | null;
  iv: Buffer;
  status_code: number;
  status_description: string;
  status_details: string | null;
  created_ms: number;
  due_ms: number;
  completed_ms: number | null;
  package_expires_ms: number | null;
  package: string | null;
}

interface PackageInfo {
  invoiceCount: number;
  size: number;
  isTruncated: boolean;
  lastIssueDate?: string;
  lastInvoicingDate?: string;
  lastPermanentStorageDate?: string;
  permanentStorageHwmDate: string | null;
}

interface PartRow {
  ordinal: number;
  part_name: string;
  part_size: number;
  part_hash: string;
  encrypted_size: number;
  encrypted_hash: string;
}

/** Invoices added to a package between two yields to the event loop. */
const BUILD_CHUNK = 500;

const storageError = (status: number, code: string, message: string): HandlerResult => ({
  status,
  body: `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  contentType: 'application/xml',
});

export function registerExports({ router, ctx, onClose }: EmulatorApi, index: MetaIndex, opts: ResolvedDownloadOptions): void {
  const db = ctx.db;
  db.exec(DDL);
  const timers = new Set<NodeJS.Timeout>();
  onClose(() => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
  });

  const getExport = (ref: string) => db.prepare<[string], ExportRow>(`SELECT * FROM invoice_exports WHERE reference_number = ?`).get(ref);
  const setStatus = (ref: string, st: { code: number; description: string }, details: string[] | null) =>
    db.prepare(`UPDATE invoice_exports SET status_code = ?, status_description = ?, status_details = ? WHERE reference_number = ?`).run(
      st.code,
      st.description,
      details ? JSON.stringify(details) : null,
      ref,
    );

  /** Exports being built now (the build yields to the event loop between chunks of invoices). */
  const building = new Set<string>();
  let closed = false;
  onClose(() => {
    closed = true;
  });

  /** Builds the package of an export at status 100 (search, archive, split, encrypt); the search is done at `now`. */
  const build = async (ref: string, now: number): Promise<void> => {
    const e = getExport(ref);
    if (!e || e.status_code !== EXPORT_STATUS.inProgress.code || building.has(ref)) return;
    building.add(ref);
    try {
      const request = JSON.parse(e.request) as ExportRequest;
      const plan = planSearch(index, request.filters, e.nip, now);
      if (plan.fromAfterHwm) {
        setStatus(ref, EXPORT_STATUS.beyondHwm, ['Parametr dateRange.from jest późniejszy niż PermanentStorageHwmDate przy włączonym restrictToPermanentStorageHwmDate.']);
        return;
      }
      const candidates = fetchRows(db, plan, false, 0, opts.exportMaxInvoices + 1);
      const getXml = db.prepare<[string], { xml: Buffer }>(`SELECT xml FROM invoices WHERE ksef_number = ?`);
      const tar = request.compressionType === 'TarGz';
      const zip = new ZipBuilder();
      const files: ArchiveEntry[] = [];
      const included: MetaRow[] = [];
      let compressed = 0;
      let truncated = false;
      for (const row of candidates) {
        if (included.length > 0 && included.length % BUILD_CHUNK === 0) {
          await new Promise((r) => setImmediate(r));
          if (closed) return;
        }
        if (included.length >= opts.exportMaxInvoices) {
          truncated = true;
          break;
        }
        if (!request.onlyMetadata) {
          const xml = getXml.get(row.ksef_number)?.xml ?? Buffer.alloc(0);
          const deflated = ZipBuilder.deflate(xml);
          // the compressed-size limit: stop before the file that would cross it (at least one invoice per package,
          // or a client continuing from the last date would never move on)
          if (included.length > 0 && compressed + deflated.length > opts.exportMaxCompressedBytes) {
            truncated = true;
            break;
          }
          compressed += deflated.length;
          if (tar) files.push({ name: `${row.ksef_number}.xml`, data: xml });
          else zip.add(`${row.ksef_number}.xml`, xml, deflated);
        }
        included.push(row);
      }
      const metadata = Buffer.from(JSON.stringify({ invoices: included.map(metadataView) }), 'utf8');
      let archive: Buffer;
      if (tar) archive = tarGz([...files, { name: '_metadata.json', data: metadata }], now);
      else {
        zip.add('_metadata.json', metadata);
        archive = zip.finish();
      }
      const last = included[included.length - 1];
      const pkg: PackageInfo = {
        invoiceCount: included.length,
        size: archive.length,
        isTruncated: truncated,
        permanentStorageHwmDate: plan.hwmUs === null ? null : isoMicros(plan.hwmUs),
      };
      if (truncated && last) {
        if (plan.range.dateType === 'PermanentStorage') pkg.lastPermanentStorageDate = isoMicros(last.storage_us);
        else if (plan.range.dateType === 'Invoicing') pkg.lastInvoicingDate = iso(last.invoicing_ms);
        else pkg.lastIssueDate = last.issue_date;
      }
      const ext = tar ? 'tar.gz' : 'zip';
      const insert = db.prepare(
        `INSERT INTO invoice_export_parts (reference_number, ordinal, part_name, data, part_size, part_hash, encrypted_size, encrypted_hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      db.transaction(() => {
        db.prepare(`DELETE FROM invoice_export_parts WHERE reference_number = ?`).run(ref);
        const count = Math.max(1, Math.ceil(archive.length / opts.exportPartSize));
        for (let i = 0; i < count; i++) {
          const plain = archive.subarray(i * opts.exportPartSize, Math.min(archive.length, (i + 1) * opts.exportPartSize));
          const cipher = crypto.createCipheriv('aes-256-cbc', e.aes_key as Buffer, e.iv);
          const enc = Buffer.concat([cipher.update(plain), cipher.final()]);
          const name = `${ref}-${String(i + 1).padStart(3, '0')}.${ext}.aes`;
          insert.run(ref, i + 1, name, enc, plain.length, sha256Base64(plain), enc.length, sha256Base64(enc));
        }
        db.prepare(
          `UPDATE invoice_exports SET status_code = ?, status_description = ?, status_details = NULL, completed_ms = ?, package_expires_ms = ?, package = ?
           WHERE reference_number = ?`,
        ).run(EXPORT_STATUS.done.code, EXPORT_STATUS.done.description, now, now + opts.exportPackageTtlMs, JSON.stringify(pkg), ref);
      })();
      ctx.log.info(`export ${ref}: ${included.length} invoice(s), ${archive.length} B${truncated ? ', truncated' : ''}`);
    } catch (err) {
      if (err instanceof ApiError) {
        setStatus(ref, { code: 500, description: `Nieznany błąd (${err.status})` }, [err.message]);
      } else {
        ctx.log.error(`export ${ref} failed: ${(err as Error).stack ?? String(err)}`);
        setStatus(ref, { code: 500, description: 'Nieznany błąd (500)' }, null);
      }
    } finally {
      building.delete(ref);
    }
  };

  const schedule = (ref: string, delayMs: number): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      void build(ref, ctx.now());
    }, delayMs);
    t.unref();
    timers.add(t);
  };

  // exports left at 100 by a previous run are built on start
  for (const r of db.prepare<[], { reference_number: string; due_ms: number }>(`SELECT reference_number, due_ms FROM invoice_exports WHERE status_code = 100`).all()) {
    schedule(r.reference_number, Math.max(0, r.due_ms - ctx.now()));
  }

  router.add('POST', '/v2/invoices/exports', (req) => {
    const access = requireAccess(ctx, req, ['InvoiceRead']);
    const body = req.json as ExportRequest;
    resolveRange(body.filters.dateRange, req.now); // 21405 for a bad range, at once
    const { key, iv } = openSessionKey(ctx, body.encryption);
    const running = db
      .prepare<[string], { n: number }>(`SELECT COUNT(*) AS n FROM invoice_exports WHERE nip = ? AND status_code = 100`)
      .get(access.nip) as { n: number };
    if (running.n >= opts.maxConcurrentExports) {
      throw badRequest(
        21182,
        'Osiągnięto limit trwających eksportów.',
        `Dla uwierzytelnionego podmiotu w bieżącym kontekście osiągnięto maksymalny limit ${opts.maxConcurrentExports} równoczesnych eksportów faktur. Spróbuj ponownie później.`,
      );
    }
    const ref = newReferenceNumber('EH', req.now);
    const st = key ? EXPORT_STATUS.inProgress : EXPORT_STATUS.keyError;
    const due = req.now + opts.exportDelayMs;
    db.prepare(
      `INSERT INTO invoice_exports (reference_number, nip, request, aes_key, iv, status_code, status_description, created_ms, due_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      ref,
      access.nip,
      JSON.stringify({ filters: body.filters, onlyMetadata: body.onlyMetadata === true, compressionType: body.compressionType ?? 'Zip' }),
      key,
      iv,
      st.code,
      st.description,
      req.now,
      due,
    );
    if (key) schedule(ref, opts.exportDelayMs);
    ctx.log.info(`export ${ref} requested by ${access.nip} (${body.filters.subjectType}, ${body.filters.dateRange.dateType})`);
    return { status: 201, json: { referenceNumber: ref } };
  });

  router.add('GET', '/v2/invoices/exports/{referenceNumber}', (req) => {
    const access = requireAccess(ctx, req, ['InvoiceRead']);
    const ref = req.params.referenceNumber as string;
    let e = getExport(ref);
    if (!e || e.nip !== access.nip) throw badRequest(21175, 'Wynik zapytania o podanym identyfikatorze nie istnieje.');
    if (req.now > e.created_ms + opts.exportStatusTtlMs) {
      throw new ApiError(410, [], { title: 'Gone', detail: 'Operacja wygasła i nie jest już dostępna.' });
    }
    // due but not started (the emulator clock was moved forward): start it; the client sees 100 until it is done
    if (e.status_code === EXPORT_STATUS.inProgress.code && e.due_ms <= req.now) {
      void build(ref, req.now); // runs synchronously up to its first yield: a small package is ready at once
      e = getExport(ref) as ExportRow;
    }
    if (e.status_code === EXPORT_STATUS.done.code && e.package_expires_ms !== null && req.now > e.package_expires_ms) {
      db.prepare(`DELETE FROM invoice_export_parts WHERE reference_number = ?`).run(ref);
      setStatus(ref, EXPORT_STATUS.expired, null);
      e = getExport(ref) as ExportRow;
    }
    const json: Record<string, unknown> = {
      status: {
        code: e.status_code,
        description: e.status_description,
        ...(e.status_details ? { details: JSON.parse(e.status_details) as string[] } : {}),
      },
    };
    if (e.completed_ms !== null) json.completedDate = iso(e.completed_ms);
    if (e.package_expires_ms !== null) json.packageExpirationDate = iso(e.package_expires_ms);
    if (e.status_code === EXPORT_STATUS.done.code && e.package) {
      const pkg = JSON.parse(e.package) as PackageInfo;
      const expires = Math.min(req.now + opts.exportLinkTtlMs, e.package_expires_ms ?? Infinity);
      const parts = db
        .prepare<[string], PartRow>(
          `SELECT ordinal, part_name, part_size, part_hash, encrypted_size, encrypted_hash FROM invoice_export_parts WHERE reference_number = ? ORDER BY ordinal`,
        )
        .all(ref)
        .map((p) => ({
          ordinalNumber: p.ordinal,
          partName: p.part_name,
          method: 'GET',
          url: `${req.baseUrl}/emulator/storage/invoice-exports/${ref.toLowerCase()}/${p.part_name}?se=${expires}&sp=r&sig=${ctx.signUrl(`export-part:${ref}:${p.ordinal}`, expires)}`,
          partSize: p.part_size,
          partHash: p.part_hash,
          encryptedPartSize: p.encrypted_size,
          encryptedPartHash: p.encrypted_hash,
          expirationDate: iso(expires),
        }));
      json.package = { ...pkg, parts };
    }
    return { status: 200, json };
  });

  router.add('GET', '/emulator/storage/invoice-exports/{ref}/{partName}', (req) => {
    const ref = (req.params.ref as string).toUpperCase();
    const m = /-(\d{3})\.(?:zip|tar\.gz)\.aes$/.exec(req.params.partName as string);
    const ordinal = m ? Number(m[1]) : NaN;
    const se = Number(req.query.get('se'));
    const sig = req.query.get('sig') ?? '';
    if (!Number.isFinite(se) || !Number.isFinite(ordinal) || !ctx.verifyUrl(`export-part:${ref}:${ordinal}`, se, sig)) {
      return storageError(403, 'AuthenticationFailed', 'Server failed to authenticate the request.');
    }
    if (req.now > se) return storageError(403, 'AuthenticationFailed', 'Signed expiry time has passed.');
    const part = db
      .prepare<[string, number], { data: Buffer; encrypted_hash: string; part_name: string }>(
        `SELECT data, encrypted_hash, part_name FROM invoice_export_parts WHERE reference_number = ? AND ordinal = ?`,
      )
      .get(ref, ordinal);
    if (!part || part.part_name !== req.params.partName) return storageError(404, 'BlobNotFound', 'The specified blob does not exist.');
    return { status: 200, body: part.data, contentType: 'application/octet-stream', headers: { 'x-ms-meta-hash': part.encrypted_hash } };
  });
}
