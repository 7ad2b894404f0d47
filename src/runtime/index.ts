/**
 * Opens "the bridge" from a ksef.ini: configuration -> logger -> store -> one KsefClient per company (its own
 * authentication, sessions and rate limiter, whose history is kept in the store) -> dispatcher. close() stops
 * the dispatcher, closes interactive sessions, the store and the log.
 */
import { loadConfig, type BridgeConfig, type CompanyConfig } from '../config/index.js';
import { Dispatcher, envCrashPoint, type BatchSettings, type CrashPoint, type DispatcherOptions, type DispatchProgress } from '../dispatch/index.js';
import { KsefClient, rateLimitStoreFromEventLog, type KsefEnvironment, type RateLimiterOptions, type RetryPolicy } from '../ksef/index.js';
import { createLogger, type BridgeLogger, type LoggerOptions } from '../log/index.js';
import { openStore, type Store } from '../store/index.js';

export interface OpenBridgeOptions {
  /** Environment for token_env (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** A logger to use instead of the one [log] describes. */
  logger?: BridgeLogger;
  /** Overrides of the [log] settings (e.g. consoleStream, console: 'off'). */
  log?: Partial<LoggerOptions>;
  /** Limiter settings on top of the environment's profile (scale for tests, utilization, overrides). */
  rateLimits?: Pick<RateLimiterOptions, 'scale' | 'limits' | 'utilization' | 'marginMs' | 'environment'>;
  /** Retry policy of safe KSeF calls. */
  retry?: Partial<RetryPolicy>;
  /** Dispatcher tuning (poll intervals, timeouts, part size...). */
  dispatcher?: Partial<Omit<DispatcherOptions, 'store' | 'companies' | 'logger' | 'batch'>> & { batch?: Partial<BatchSettings> };
  onProgress?: (p: DispatchProgress) => void;
  /** Crash points (tests); default KSEF_BRIDGE_CRASH_AT. */
  crashPoint?: CrashPoint;
  /** Skip opening the KSeF clients and dispatcher (status, upo: the store is enough). */
  storeOnly?: boolean;
}

export interface Bridge {
  config: BridgeConfig;
  warnings: string[];
  logger: BridgeLogger;
  store: Store;
  /** One client per company NIP (empty with storeOnly). */
  clients: ReadonlyMap<string, KsefClient>;
  /** Undefined with storeOnly. */
  dispatcher: Dispatcher | undefined;
  close(): Promise<void>;
}

/** ksef.ini environment -> the KSeF client's rate-limit profile (the emulator behaves like TE). */
export function clientEnvironment(env: CompanyConfig['environment']): KsefEnvironment {
  switch (env) {
    case 'prod':
      return 'production';
    case 'demo':
      return 'demo';
    default:
      return 'test';
  }
}

export async function openBridge(configPath: string, o: OpenBridgeOptions = {}): Promise<Bridge> {
  const { config, warnings } = loadConfig(configPath, { ...(o.env ? { env: o.env } : {}), ...(o.storeOnly ? { tokens: 'optional' as const } : {}) });
  const ownLogger = !o.logger;
  const logger =
    o.logger ??
    createLogger({
      level: config.log.level,
      file: config.log.file ?? false,
      console: config.log.console,
      ...(o.log ?? {}),
    });
  for (const w of warnings) logger.warn(w);
  let store: Store | undefined;
  try {
    store = openStore(config.paths.database);
    const crash = o.crashPoint ?? envCrashPoint();
    const clients = new Map<string, KsefClient>();
    let dispatcher: Dispatcher | undefined;
    if (!o.storeOnly) {
      const limiterStore = rateLimitStoreFromEventLog(store.rateLimitEvents);
      for (const c of config.companies) {
        const clog = logger.child({ company: c.name });
        const client = await KsefClient.create({
          nip: c.nip,
          ksefToken: c.token,
          environment: clientEnvironment(c.environment),
          baseUrl: c.apiBaseUrl,
          timeoutMs: config.ksef.requestTimeoutMs,
          ...(o.retry ? { retry: o.retry } : {}),
          rateLimits: {
            store: limiterStore,
            ...(o.rateLimits ?? {}),
            onWait: (e) => clog.verbose(`rate limit: ${e.group} waits ${e.waitMs} ms (${e.reason})`, { group: e.group, waitMs: e.waitMs }),
          },
          onRequest: (e) => {
            clog.debug(`${e.endpoint} -> ${e.status ?? e.errorCode ?? '?'} (${e.durationMs} ms)`, { endpoint: e.endpoint, status: e.status, ms: e.durationMs });
            for (const w of e.warnings ?? []) clog.warn(`KSeF announces: [${w.code}] ${w.message}`);
            crash(`request:${e.endpoint}`);
          },
        });
        clients.set(c.nip, client);
      }
      dispatcher = new Dispatcher({
        store,
        companies: config.companies.map((c) => ({ nip: c.nip, name: c.name, client: clients.get(c.nip)!, environment: c.environment })),
        sessionMode: config.ksef.sessionMode,
        autoBatchThreshold: config.ksef.autoBatchThreshold,
        batch: {
          maxInvoices: config.batch.maxInvoices,
          ...(config.batch.maxWaitMs !== undefined ? { maxWaitMs: config.batch.maxWaitMs } : {}),
          sendAt: config.batch.sendAt,
          maxPackageSizeBytes: config.batch.maxPackageSizeBytes,
          format: config.batch.format,
          ...(o.dispatcher?.batch ?? {}),
        },
        logger,
        crashPoint: crash,
        ...(o.onProgress ? { onProgress: o.onProgress } : {}),
        ...withoutBatch(o.dispatcher),
      });
    }
    const opened = store;
    let closed = false;
    return {
      config,
      warnings,
      logger,
      store: opened,
      clients,
      dispatcher,
      close: async () => {
        if (closed) return;
        closed = true;
        try {
          await dispatcher?.stop();
        } finally {
          opened.close();
          if (ownLogger) await logger.close();
        }
      },
    };
  } catch (e) {
    store?.close();
    if (ownLogger) await logger.close();
    throw e;
  }
}

function withoutBatch<T extends { batch?: unknown }>(o: T | undefined): Omit<T, 'batch'> | Record<string, never> {
  if (!o) return {};
  const { batch: _batch, ...rest } = o;
  return rest;
}
