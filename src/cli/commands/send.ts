/**
 * `ksef-bridge send [fa3.xml...]`: validate, store, send now, print the KSeF numbers. Without files: sends
 * everything waiting in the outbox now and prints the counts.
 */
import fs from 'node:fs';
import { ConfigError } from '../../errors/index.js';
import { parseDuration } from '../../config/index.js';
import { openBridge, type Bridge } from '../../runtime/index.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { configPath, reportError, type Io } from '../shared.js';
import { describeDocument } from './status.js';

export interface SendCommandOptions {
  /** ksef.ini (default: $KSEF_BRIDGE_CONFIG or ./ksef.ini). */
  config?: string;
  json?: boolean;
  /** How long to keep trying when KSeF is unavailable, e.g. "5m" (default 10m); the documents stay queued after it. */
  timeout?: string;
  /** Do not wait for the UPOs (only for the KSeF numbers). */
  upo?: boolean;
  /** Date used for "issue date not in the future" (YYYY-MM-DD). */
  today?: string;
  schemaDir?: string;
}

/** Exit code for a set of documents after a run: all accepted, some refused, or some still waiting. */
export function outcomeCode(states: string[]): ExitCode {
  if (states.some((s) => s === 'queued' || s === 'sending')) return EXIT.KSEF;
  if (states.some((s) => s === 'rejected' || s === 'invalid')) return EXIT.INVALID;
  return EXIT.OK;
}

export async function runSend(files: string[], opts: SendCommandOptions, io: Io): Promise<ExitCode> {
  let timeoutMs = 600_000;
  if (opts.timeout !== undefined) {
    const t = parseDuration(opts.timeout);
    if (!t.ok) {
      io.err(`ksef-bridge: --timeout ${opts.timeout}: ${t.reason}`);
      return EXIT.USAGE;
    }
    timeoutMs = t.value;
  }
  const inputs: { file: string; xml: string }[] = [];
  let worst: ExitCode = EXIT.OK;
  for (const file of files) {
    try {
      inputs.push({ file, xml: fs.readFileSync(file, 'utf8') });
    } catch (e) {
      io.err(`${file}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      worst = EXIT.IO;
    }
  }
  let bridge: Bridge;
  try {
    bridge = await openBridge(configPath(opts.config), {
      onProgress: (p) => {
        if (!opts.json && p.stage !== 'online-send' && p.total > 0 && (p.done === 0 || p.done === p.total)) io.err(`  ${p.company}: ${p.stage} ${p.done}/${p.total}${p.message ? ` ${p.message}` : ''}`);
        if (p.stage === 'unavailable' && !opts.json) io.err(`  ${p.company}: ${p.message ?? 'KSeF unavailable'}`);
      },
    });
  } catch (e) {
    return reportError(io, e, e instanceof ConfigError ? EXIT.CONFIG : EXIT.INTERNAL);
  }
  try {
    const dispatcher = bridge.dispatcher!;
    const enqueued = inputs.map(({ file, xml }) => ({
      file,
      r: dispatcher.enqueue({ xml, source: 'cli', sourceRef: file }, { ...(opts.today ? { today: opts.today } : {}), ...(opts.schemaDir ? { schemaDir: opts.schemaDir } : {}) }),
    }));
    const ids = enqueued.map((e) => e.r.documentId);
    // without files: everything waiting in the outbox goes out now
    const run = await dispatcher.drain({ ...(ids.length > 0 ? { documentIds: ids } : {}), timeoutMs, waitForUpo: opts.upo !== false });
    if (ids.length === 0 && !opts.json) {
      io.out(`outbox: ${Object.entries(run.states).map(([s, n]) => `${s} ${n}`).join(', ') || 'empty'}`);
      for (const w of run.waiting) io.out(`  ${w.company} (NIP ${w.nip}) waits: ${w.reason}`);
      return run.complete ? EXIT.OK : EXIT.KSEF;
    }
    const store = bridge.store;
    const rows = enqueued.map(({ file, r }) => ({ file, ...describeDocument(store, store.documents.require(r.documentId)), issues: r.issues }));
    if (opts.json) {
      io.out(JSON.stringify(rows, null, 2));
    } else {
      for (const row of rows) {
        const err = row.lastError;
        switch (row.state) {
          case 'accepted':
          case 'confirmed':
            io.out(`${row.file}: KSeF number ${row.ksefNumber} (document ${row.id}${row.upo ? ', UPO stored' : ''})`);
            break;
          case 'rejected':
            io.out(`${row.file}: REJECTED by KSeF (document ${row.id}) ${err ? `${err.code}: ${err.message}` : ''}`);
            break;
          case 'invalid':
            io.out(`${row.file}: INVALID, not sent (document ${row.id})`);
            for (const i of row.issues) io.out(`  ${row.file}${i.line ? `:${i.line}` : ''}: ${i.code}: ${i.message}`);
            if (row.issues.length === 0 && err) io.out(`  ${err.code}: ${err.message}`);
            break;
          default:
            io.out(`${row.file}: ${row.state}, waiting for KSeF (document ${row.id})${err ? `: ${err.message}` : ''}; it will be sent when KSeF answers`);
        }
      }
    }
    const code = outcomeCode(rows.map((r) => String(r.state)));
    return worst !== EXIT.OK && code === EXIT.OK ? worst : code;
  } catch (e) {
    return reportError(io, e, EXIT.KSEF);
  } finally {
    await bridge.close();
  }
}
