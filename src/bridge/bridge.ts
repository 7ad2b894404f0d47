/**
 * The running bridge: ksef.ini + routes -> lock on the data folder -> mappings compiled -> store, KSeF clients and
 * dispatcher (src/runtime) -> the sources of every route feeding one pipeline -> the follower (a log line per
 * document state change) and the result writer. stop() shuts down in the safe order: intake first, then the
 * dispatcher (current round finished, interactive sessions closed), then results, the store, the log and the lock.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, type BridgeConfig } from '../config/index.js';
import { ConfigError, isBridgeError, errorMessage } from '../errors/index.js';
import type { BridgeLogger, LoggerOptions } from '../log/index.js';
import { loadMapping, type CompiledMapping } from '../mapping/index.js';
import { openBridge, type Bridge, type OpenBridgeOptions } from '../runtime/index.js';
import { createSource, type Source, type SourceSpec, type SourceStatus } from '../sources/index.js';
import type { Store } from '../store/index.js';
import { ensureLedger } from './ledger.js';
import { createMapper, type Mapper } from './mapper.js';
import { lockDataDir, type DataDirLock } from './lock.js';
import { createPipeline, type BridgeEvent } from './pipeline.js';
import { EventFollower, ResultWriter } from './results.js';
import { defaultRoutesFile, loadRoutes, type RouteConfig, type RoutesFile } from './routes.js';

export interface StartBridgeOptions {
  /** ksef.ini. */
  config: string;
  /** Routes file (default: routes.yaml or config/routes.yaml next to ksef.ini). */
  routes?: string;
  env?: Readonly<Record<string, string | undefined>>;
  /** A logger instead of the one ksef.ini's [log] describes. */
  logger?: BridgeLogger;
  /** Overrides of [log] (e.g. console: 'off' for the demo). */
  log?: Partial<LoggerOptions>;
  /** Everything that happens, for a console narration (the demo) or tests. */
  onEvent?: (e: BridgeEvent) => void;
  /** Date for "issue date not in the future" (YYYY-MM-DD); default today in Poland. */
  today?: string;
  /** Dispatcher and client tuning passed to src/runtime (tests, demo, bench). */
  runtime?: Pick<OpenBridgeOptions, 'dispatcher' | 'retry' | 'rateLimits' | 'onProgress' | 'crashPoint'>;
  /** Background round interval of the dispatcher (default 1 s; new work wakes it at once). */
  dispatchIntervalMs?: number;
  /** Worker threads for mapping (default 0: in this thread). */
  mapWorkers?: number;
  /** Result writer / follower intervals (default 500 / 200 ms). */
  resultsIntervalMs?: number;
}

export interface BridgeSnapshot {
  /** Documents of the routes per state. */
  documents: Record<string, number>;
  /** Files handed to the pipeline and not yet released, over all sources. */
  inFlight: number;
  /** Source files whose results are still to be written. */
  resultsPending: number;
  sources: SourceStatus[];
}

export interface RunningBridge {
  readonly config: BridgeConfig;
  readonly routes: RoutesFile;
  readonly store: Store;
  readonly logger: BridgeLogger;
  readonly sources: readonly Source[];
  /** The HTTP intakes' addresses by route (port 0 resolved). */
  httpAddress(route: string): { host: string; port: number } | undefined;
  snapshot(): BridgeSnapshot;
  /** Graceful stop; safe to call twice. */
  stop(): Promise<void>;
}

function compileProblems(routes: readonly RouteConfig[], errors: { route: RouteConfig; error: unknown }[], file: string): ConfigError {
  const lines = errors.map(({ route, error }) => {
    const text = isBridgeError(error) ? error.describe() : errorMessage(error);
    return `  - route ${route.name} (line ${route.line}): mapping ${route.mapping}:\n      ${text.replace(/\n/g, '\n      ')}`;
  });
  return new ConfigError('CONFIG_ROUTES_MAPPING', `${file}: ${errors.length} of ${routes.length} route mapping(s) cannot be used:\n${lines.join('\n')}`, { file }, {
    hint: 'check each mapping with `ksef-bridge mapping test <mapping.yaml>`',
  });
}

function sourceSpecs(routes: readonly RouteConfig[], config: BridgeConfig, logger: BridgeLogger): SourceSpec[] {
  const specs: SourceSpec[] = [];
  const http = new Map<string, RouteConfig[]>();
  for (const r of routes) {
    const s = r.source;
    // 8 files at once by default: their store writes share one commit (see GroupCommit in pipeline.ts)
    const common = { name: r.name, route: r.name, dirs: r.dirs, logger: logger.child({ route: r.name }), concurrency: r.concurrency ?? 8 };
    const localDir = path.join(config.paths.dataDir, 'routes', r.name);
    switch (s.kind) {
      case 'folder':
        mkdirSync(s.inbox, { recursive: true });
        specs.push({
          kind: 'folder',
          ...common,
          inbox: s.inbox,
          ...(s.include ? { include: s.include } : {}),
          ...(s.exclude ? { exclude: s.exclude } : {}),
          ...(s.stableMs !== undefined ? { stableMs: s.stableMs } : {}),
          ...(s.trigger ? { trigger: s.trigger } : {}),
          ...(s.rescanMs !== undefined ? { rescanIntervalMs: s.rescanMs } : {}),
          ...(s.watch ? { watch: s.watch } : {}),
        });
        break;
      case 'sftp':
        specs.push({
          kind: 'sftp',
          ...common,
          localDir,
          host: s.host,
          port: s.port,
          username: s.username,
          ...(s.password ? { password: s.password } : {}),
          ...(s.privateKeyPath ? { privateKeyPath: s.privateKeyPath } : {}),
          ...(s.passphrase ? { passphrase: s.passphrase } : {}),
          ...(s.hostKeySha256 ? { hostKeySha256: s.hostKeySha256 } : {}),
          ...(s.acceptNewHostKey ? { acceptNewHostKey: true } : {}),
          remoteDir: s.remoteDir,
          ...(s.remoteArchiveDir ? { remoteArchiveDir: s.remoteArchiveDir } : {}),
          ...(s.remoteErrorDir ? { remoteErrorDir: s.remoteErrorDir } : {}),
          ...(s.include ? { include: s.include } : {}),
          ...(s.exclude ? { exclude: s.exclude } : {}),
          ...(s.trigger ? { trigger: s.trigger } : {}),
          ...(s.stableMs !== undefined ? { stableMs: s.stableMs } : {}),
          ...(s.pollMs !== undefined ? { pollIntervalMs: s.pollMs } : {}),
        });
        break;
      case 'rfc':
        specs.push({
          kind: 'rfc',
          ...common,
          localDir,
          connection: s.connection,
          ...(s.fetchFunction ? { fetchFunction: s.fetchFunction } : {}),
          ...(s.confirmFunction ? { confirmFunction: s.confirmFunction } : {}),
          ...(s.maxCount !== undefined ? { maxCount: s.maxCount } : {}),
          ...(s.pollMs !== undefined ? { pollIntervalMs: s.pollMs } : {}),
        });
        break;
      case 'http': {
        const key = `${s.host}:${s.port}`;
        http.set(key, [...(http.get(key) ?? []), r]);
        break;
      }
    }
  }
  for (const [key, rs] of http) {
    const first = rs[0]!;
    const s = first.source as Extract<RouteConfig['source'], { kind: 'http' }>;
    const idoc = rs.find((r) => (r.source as typeof s).idoc);
    const name = rs.length === 1 ? first.name : `http-${key.replace(/[^A-Za-z0-9]+/g, '-')}`;
    const users = rs.flatMap((r) => (r.source as typeof s).users);
    const maxBody = Math.max(0, ...rs.map((r) => (r.source as typeof s).maxBodyBytes ?? 0));
    specs.push({
      kind: 'http',
      name,
      route: first.name,
      logger: logger.child({ source: name }),
      dirs:
        rs.length === 1
          ? first.dirs
          : { processing: path.join(config.paths.dataDir, 'processing', name), archive: path.join(config.paths.archive, name), error: path.join(config.paths.error, name) },
      localDir: path.join(config.paths.dataDir, 'routes', name),
      host: s.host,
      port: s.port,
      users,
      routes: rs.map((r) => r.name),
      ...(idoc ? { idocRoute: idoc.name } : {}),
      ...(maxBody > 0 ? { maxBodyBytes: maxBody } : {}),
    });
  }
  return specs;
}

/** Starts every route and the dispatcher. Refuses (ConfigError) on a wrong configuration, an unwritable data folder or a held lock. */
export async function startBridge(o: StartBridgeOptions): Promise<RunningBridge> {
  const configFile = path.resolve(o.config);
  const { config } = loadConfig(configFile, o.env ? { env: o.env } : {});
  const routesFile = path.resolve(o.routes ?? config.paths.routes ?? defaultRoutesFile(configFile));
  const routes = loadRoutes(routesFile, config, o.env ? { env: o.env } : {});
  const mappings = new Map<string, CompiledMapping>();
  const bad: { route: RouteConfig; error: unknown }[] = [];
  for (const r of routes.routes) {
    try {
      const m = await loadMapping(r.mapping);
      if (m.pair) throw new ConfigError('BRIDGE_TWO_FILE_MAPPING', 'this mapping reads header and lines from two files; a route takes one file at a time', { file: r.mapping }, { hint: 'export header and lines in one file, or join them before the bridge' });
      mappings.set(r.name, m);
    } catch (e) {
      bad.push({ route: r, error: e });
    }
  }
  if (bad.length) throw compileProblems(routes.routes, bad, routes.file);

  const lock: DataDirLock = lockDataDir(config.paths.dataDir);
  const emit = (e: BridgeEvent): void => {
    try {
      o.onEvent?.(e);
    } catch {
      /* a listener's problem never stops the bridge */
    }
  };
  let bridge: Bridge | undefined;
  let mapper: Mapper | undefined;
  const started: Source[] = [];
  try {
    bridge = await openBridge(configFile, {
      ...(o.env ? { env: o.env } : {}),
      ...(o.logger ? { logger: o.logger } : {}),
      ...(o.log ? { log: o.log } : {}),
      ...(o.runtime ?? {}),
    });
    const { store, logger } = bridge;
    const dispatcher = bridge.dispatcher!;
    ensureLedger(store);
    const routeMap = new Map(routes.routes.map((r) => [r.name, r]));
    const writer = new ResultWriter({ store, routes: routeMap, logger, emit, ...(o.resultsIntervalMs ? { intervalMs: o.resultsIntervalMs } : {}) });
    const follower = new EventFollower({ store, logger, emit, onDirty: () => writer.kick(), intervalMs: Math.min(200, o.resultsIntervalMs ?? 200) });
    const byFile = new Map([...mappings.entries()].map(([name, m]) => [routeMap.get(name)!.mapping, m]));
    mapper = createMapper(byFile, o.mapWorkers);
    const handler = createPipeline({
      store,
      routes: routeMap,
      mapper,
      companies: new Set(config.companies.map((c) => c.nip)),
      logger,
      ...(config.paths.schemaDir ? { schemaDir: config.paths.schemaDir } : {}),
      ...(o.today ? { today: o.today } : {}),
      wake: () => dispatcher.wake(),
      emit,
    });
    follower.start();
    writer.start();
    dispatcher.start({ intervalMs: o.dispatchIntervalMs ?? 1_000 });
    const sources = await Promise.all(sourceSpecs(routes.routes, config, logger).map((s) => createSource(s)));
    for (const s of sources) {
      await s.start(handler);
      started.push(s);
    }
    logger.info(`ksef-bridge running: ${routes.routes.length} route(s) from ${routes.file}, data in ${config.paths.dataDir}`);

    let stopping: Promise<void> | undefined;
    const opened = bridge;
    return {
      config,
      routes,
      store,
      logger,
      sources,
      httpAddress: (route) => {
        const r = routeMap.get(route);
        if (r?.source.kind !== 'http') return undefined;
        const key = `${r.source.host}:${r.source.port}`;
        const shared = routes.routes.filter((x) => x.source.kind === 'http' && `${x.source.host}:${x.source.port}` === key);
        const name = shared.length === 1 ? route : `http-${key.replace(/[^A-Za-z0-9]+/g, '-')}`;
        const s = sources.find((x) => x.kind === 'http' && x.name === name) as unknown as { address: { host: string; port: number } } | undefined;
        return s?.address;
      },
      snapshot: () => {
        const documents: Record<string, number> = {};
        for (const row of store.db.prepare(`SELECT state, COUNT(*) AS n FROM documents WHERE source LIKE 'route:%' GROUP BY state`).all() as { state: string; n: number }[]) documents[row.state] = row.n;
        const st = sources.map((s) => s.status());
        return { documents, inFlight: st.reduce((n, s) => n + s.inFlight, 0), resultsPending: writer.pending(), sources: st };
      },
      stop: () => {
        stopping ??= (async () => {
          logger.info('ksef-bridge stopping: intake first, then sending (the current round ends, sessions are closed)');
          await Promise.all(sources.map((s) => s.stop().catch((e: unknown) => logger.warn(`stopping source ${s.name}: ${errorMessage(e)}`))));
          try {
            await dispatcher.stop();
          } catch (e) {
            logger.warn(`stopping the dispatcher: ${errorMessage(e)}`);
          }
          follower.stop();
          await writer.stop();
          await mapper?.close();
          logger.info('ksef-bridge stopped; everything not finished is in the store and continues at the next start');
          await opened.close();
          lock.release();
        })();
        return stopping;
      },
    };
  } catch (e) {
    for (const s of started) await s.stop().catch(() => undefined);
    await mapper?.close().catch(() => undefined);
    await bridge?.close().catch(() => undefined);
    lock.release();
    throw e;
  }
}
