/** `ksef-bridge resend <document> [--file fixed.xml]`: a rejected or invalid document goes out again after a fix. */
import fs from 'node:fs';
import { ConfigError } from '../../errors/index.js';
import { parseDuration } from '../../config/index.js';
import { openBridge, type Bridge } from '../../runtime/index.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { configPath, reportError, type Io } from '../shared.js';
import { outcomeCode } from './send.js';
import { describeDocument, findDocuments } from './status.js';

export interface ResendCommandOptions {
  config?: string;
  /** Corrected FA(3) XML replacing the stored one (validated first). */
  file?: string;
  json?: boolean;
  /** How long to keep trying when KSeF is unavailable (default 10m). */
  timeout?: string;
  /** Only queue it (the running bridge sends it); default: send now. */
  send?: boolean;
  today?: string;
  schemaDir?: string;
}

export async function runResend(document: string, opts: ResendCommandOptions, io: Io): Promise<ExitCode> {
  let timeoutMs = 600_000;
  if (opts.timeout !== undefined) {
    const t = parseDuration(opts.timeout);
    if (!t.ok) {
      io.err(`ksef-bridge: --timeout ${opts.timeout}: ${t.reason}`);
      return EXIT.USAGE;
    }
    timeoutMs = t.value;
  }
  let xml: string | undefined;
  if (opts.file) {
    try {
      xml = fs.readFileSync(opts.file, 'utf8');
    } catch (e) {
      io.err(`${opts.file}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      return EXIT.IO;
    }
  }
  let bridge: Bridge;
  try {
    bridge = await openBridge(configPath(opts.config));
  } catch (e) {
    return reportError(io, e, e instanceof ConfigError ? EXIT.CONFIG : EXIT.INTERNAL);
  }
  try {
    const docs = findDocuments(bridge.store, document);
    if (docs.length !== 1) {
      io.err(
        docs.length === 0
          ? `ksef-bridge: no document "${document}" in the store`
          : `ksef-bridge: "${document}" names ${docs.length} documents (${docs.map((d) => `#${d.id} ${d.state}`).join(', ')}); give the document id`,
      );
      return EXIT.INVALID;
    }
    const doc = docs[0]!;
    const r = bridge.dispatcher!.requeue(doc.id, { ...(xml !== undefined ? { xml } : {}), ...(opts.today ? { today: opts.today } : {}), ...(opts.schemaDir ? { schemaDir: opts.schemaDir } : {}), reason: `resend requested${opts.file ? ` with ${opts.file}` : ''}` });
    if (r.state !== 'queued') {
      for (const i of r.issues) io.err(`ksef-bridge: document ${doc.id}: ${i.code}: ${i.message}${i.line ? ` (line ${i.line})` : ''}`);
      return EXIT.INVALID;
    }
    if (opts.send !== false) await bridge.dispatcher!.drain({ documentIds: [doc.id], timeoutMs });
    const now = describeDocument(bridge.store, bridge.store.documents.require(doc.id));
    if (opts.json) io.out(JSON.stringify(now, null, 2));
    else {
      const err = now.lastError;
      io.out(`document ${doc.id}: ${now.state}${now.ksefNumber ? `, KSeF number ${now.ksefNumber}` : ''}${err && now.state !== 'confirmed' && now.state !== 'accepted' ? ` (${err.code}: ${err.message})` : ''}`);
    }
    return outcomeCode([String(now.state)]);
  } catch (e) {
    return reportError(io, e, EXIT.KSEF);
  } finally {
    await bridge.close();
  }
}
