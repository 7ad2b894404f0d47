/** `ksef-bridge upo <document|ksef-number> [--out file]`: writes the stored UPO XML. */
import fs from 'node:fs';
import { ConfigError } from '../../errors/index.js';
import { documentUpo } from '../../dispatch/index.js';
import { openBridge } from '../../runtime/index.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { configPath, reportError, type Io } from '../shared.js';
import { findDocuments } from './status.js';

export interface UpoCommandOptions {
  config?: string;
  /** Write the XML to this file instead of standard output. */
  out?: string;
}

export async function runUpo(document: string, opts: UpoCommandOptions, io: Io): Promise<ExitCode> {
  let bridge;
  try {
    bridge = await openBridge(configPath(opts.config), { storeOnly: true, log: { console: 'off', file: false } });
  } catch (e) {
    return reportError(io, e, e instanceof ConfigError ? EXIT.CONFIG : EXIT.INTERNAL);
  }
  try {
    const store = bridge.store;
    const docs = findDocuments(store, document).filter((d) => d.ksefNumber);
    if (docs.length === 0) {
      io.err(`ksef-bridge: no document "${document}" with a KSeF number in the store`);
      return EXIT.INVALID;
    }
    const doc = docs[docs.length - 1]!;
    // its own UPO (interactive session), else the session UPO page naming it (batch), written as issued
    const found = documentUpo(store, doc);
    const xml = found?.upo.xml;
    if (!found || !xml) {
      io.err(`ksef-bridge: document ${doc.id} (KSeF number ${doc.ksefNumber}) has no UPO yet (state ${doc.state}); the bridge fetches it when KSeF has it`);
      return EXIT.INVALID;
    }
    if (opts.out) {
      try {
        fs.writeFileSync(opts.out, xml);
      } catch (e) {
        io.err(`${opts.out}: cannot write the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
        return EXIT.IO;
      }
      io.out(`UPO of document ${doc.id} (KSeF number ${doc.ksefNumber}) written to ${opts.out}: ${found.note}`);
    } else {
      io.out(xml);
      if (found.entry) io.err(found.note); // standard output stays the UPO alone
    }
    return EXIT.OK;
  } finally {
    await bridge.close();
  }
}
