/**
 * `ksef-bridge run [--routes <file>]`: starts every route and the dispatcher, logs a line per document state change,
 * and stops gracefully on SIGINT/SIGTERM (intake first, sending after its current round, sessions closed, store
 * flushed; a second signal leaves at once — everything is durable, the next start continues).
 */
import { ConfigLoadError } from '../../config/index.js';
import { isBridgeError } from '../../errors/index.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { configPath, reportError, type Io } from '../shared.js';

export interface RunCommandOptions {
  /** ksef.ini (default: $KSEF_BRIDGE_CONFIG or ./ksef.ini). */
  config?: string;
  /** Routes file (default: [paths] routes of ksef.ini, else routes.yaml, else config/routes.yaml, next to ksef.ini). */
  routes?: string;
  /** Date for the "issue date not in the future" rule (YYYY-MM-DD). */
  today?: string;
}

/** Resolves when the signal arrives (tests pass their own). */
export type StopSignal = Promise<string>;

function signalOnce(): { signal: StopSignal; dispose: () => void } {
  let dispose = (): void => {};
  const signal = new Promise<string>((resolve) => {
    const on = (s: string) => (): void => resolve(s);
    const int = on('SIGINT');
    const term = on('SIGTERM');
    process.once('SIGINT', int);
    process.once('SIGTERM', term);
    dispose = () => {
      process.off('SIGINT', int);
      process.off('SIGTERM', term);
    };
  });
  return { signal, dispose };
}

export async function runBridge(opts: RunCommandOptions, io: Io, until?: StopSignal): Promise<ExitCode> {
  const { startBridge } = await import('../../bridge/index.js');
  let running;
  try {
    running = await startBridge({ config: configPath(opts.config), ...(opts.routes ? { routes: opts.routes } : {}), ...(opts.today ? { today: opts.today } : {}) });
  } catch (e) {
    if (e instanceof ConfigLoadError || (isBridgeError(e) && (e.code.startsWith('CONFIG') || e.code.startsWith('RUN_') || e.code.startsWith('BRIDGE_')))) {
      io.err(`ksef-bridge: not started.\n${e.describe()}`);
      return EXIT.CONFIG;
    }
    if (isBridgeError(e)) {
      io.err(`ksef-bridge: not started.\n${e.describe()}`);
      return e.code.startsWith('KSEF') ? EXIT.KSEF : EXIT.IO;
    }
    return reportError(io, e);
  }
  const { routes, config } = running;
  io.err(`ksef-bridge: running ${routes.routes.length} route${routes.routes.length === 1 ? '' : 's'} (${routes.file}), data in ${config.paths.dataDir}; Ctrl-C stops`);
  for (const r of routes.routes) {
    const s = r.source;
    const from = s.kind === 'folder' ? s.inbox : s.kind === 'sftp' ? `sftp://${s.username}@${s.host}:${s.port}${s.remoteDir}` : s.kind === 'http' ? `http://${running.httpAddress(r.name)?.host ?? s.host}:${running.httpAddress(r.name)?.port ?? s.port}${s.idoc ? '/sap/idoc' : `/routes/${r.name}/documents`}` : 'RFC';
    io.err(`  ${r.name.padEnd(14)} ${s.kind.padEnd(6)} ${from}`);
  }
  const sig = until ? { signal: until, dispose: () => {} } : signalOnce();
  const name = await sig.signal;
  sig.dispose();
  io.err(`ksef-bridge: ${name} received, stopping (a second Ctrl-C leaves at once; nothing is lost)`);
  const second = (): void => {
    io.err('ksef-bridge: leaving now; unfinished work continues at the next start');
    process.exit(EXIT.OK);
  };
  if (!until) {
    process.once('SIGINT', second);
    process.once('SIGTERM', second);
  }
  try {
    await running.stop();
  } finally {
    if (!until) {
      process.off('SIGINT', second);
      process.off('SIGTERM', second);
    }
  }
  io.err('ksef-bridge: stopped');
  return EXIT.OK;
}
