/**
 * Folder source: watches an inbox (fs.watch or chokidar, plus a scan at start and a periodic rescan),
 * waits until a file is completely written (size and mtime unchanged for `stableMs`, and
 * optionally a trigger file such as `invoice.csv.ok`), claims it by renaming it into
 * `processing/`, and releases it to `archive/` or `error/` once the handler resolved.
 */
import { watch as fsWatch, type FSWatcher as NativeWatcher } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { BridgeError } from '../errors/index.js';
import { ClaimRunner, resolveDirs, Spool, type Claim } from './spool.js';
import type { CommonSourceOptions, Source, SourceHandler, SourceOrigin, SourceStatus } from './types.js';
import { describeError, errnoCode, isTemporaryName, nameFilter } from './util.js';

export interface TriggerOptions {
  /** Trigger file suffix, e.g. ".ok" or ".done". */
  suffix: string;
  /** 'append' (default): invoice.csv -> invoice.csv.ok; 'replace': invoice.csv -> invoice.ok. */
  mode?: 'append' | 'replace';
}

export interface FolderSourceOptions extends CommonSourceOptions {
  /** The folder the ERP writes to. */
  inbox: string;
  /** Glob patterns of names to take (default: all); matched case-insensitively. */
  include?: string[];
  /** Glob patterns of names to leave alone (hidden and temporary names are always left alone). */
  exclude?: string[];
  /** A file is taken when its size and mtime have not changed for this long (default 1000 ms; 0 with a trigger). */
  stableMs?: number;
  /** Take a file only once its trigger file exists (written by the ERP after the data). */
  trigger?: TriggerOptions;
  /** How often pending files are checked for stability (default 250 ms). */
  checkIntervalMs?: number;
  /** Full rescan of the inbox (names only), in case a change notification was lost (default 5 s; 0 = never). */
  rescanIntervalMs?: number;
  /**
   * How changes are noticed between rescans. 'native' (default): fs.watch on the inbox, names
   * only. 'chokidar': chokidar events (it lstat()s every entry of the folder on each change,
   * measured 4-6x slower with 2,000 files). 'poll': rescans only (network shares where change
   * notifications do not arrive; set rescanIntervalMs to the polling interval).
   */
  watch?: 'native' | 'chokidar' | 'poll';
}

interface Candidate {
  size: number;
  mtimeMs: number;
  since: number;
}

export class FolderSource implements Source {
  readonly name: string;
  readonly kind = 'folder' as const;
  readonly #o: FolderSourceOptions;
  readonly #inbox: string;
  readonly #spool: Spool;
  readonly #runner: ClaimRunner;
  readonly #accept: (name: string) => boolean;
  readonly #stableMs: number;
  readonly #candidates = new Map<string, Candidate>();
  readonly #ready: string[] = [];
  readonly #readySet = new Set<string>();
  readonly #claiming = new Set<string>();
  #watcher: FSWatcher | undefined;
  #nativeWatcher: NativeWatcher | undefined;
  #checkTimer: NodeJS.Timeout | undefined;
  #rescanTimer: NodeJS.Timeout | undefined;
  #running = false;
  #checking = false;
  #lastError: string | undefined;

  constructor(options: FolderSourceOptions) {
    this.#o = options;
    this.name = options.name;
    this.#inbox = resolve(options.inbox);
    const dirs = resolveDirs(dirname(this.#inbox), options.dirs);
    this.#spool = new Spool(options.name, dirs, options.logger);
    this.#runner = new ClaimRunner({
      source: options.name,
      route: options.route ?? options.name,
      spool: this.#spool,
      concurrency: options.concurrency ?? 4,
      backoff: options.backoff,
      logger: options.logger,
      keepMeta: false,
      onHandlerError: 'retry',
      onIdle: () => this.#pump(),
    });
    this.#accept = nameFilter(options.include, options.exclude);
    this.#stableMs = options.stableMs ?? (options.trigger ? 0 : 1000);
    if (options.trigger && !options.trigger.suffix) {
      throw new BridgeError('SOURCE_CONFIG', `folder source ${options.name}: trigger.suffix is empty`, { field: 'trigger.suffix' });
    }
  }

  get dirs() {
    return this.#spool.dirs;
  }

  #origin(): SourceOrigin {
    return { kind: 'folder', inbox: this.#inbox };
  }

  #isTrigger(name: string): boolean {
    const t = this.#o.trigger;
    return !!t && name.toLowerCase().endsWith(t.suffix.toLowerCase());
  }

  #triggerName(name: string): string {
    const t = this.#o.trigger!;
    if (t.mode === 'replace') {
      const dot = name.lastIndexOf('.');
      return (dot > 0 ? name.slice(0, dot) : name) + t.suffix;
    }
    return name + t.suffix;
  }

  /** Data files a trigger file may stand for (with 'replace', any extension). */
  #dataNamesFor(trigger: string, present: readonly string[] | undefined): string[] {
    const t = this.#o.trigger!;
    const stem = trigger.slice(0, trigger.length - t.suffix.length);
    if (t.mode !== 'replace') return [stem];
    return (present ?? []).filter((n) => n !== trigger && n.startsWith(stem + '.') && this.#triggerName(n) === trigger);
  }

  #note(name: string): void {
    if (!this.#running || isTemporaryName(name)) return;
    if (this.#isTrigger(name)) {
      // a trigger wakes its data file up; with 'replace' the data name is found at the next check
      for (const d of this.#dataNamesFor(name, this.#o.trigger?.mode === 'replace' ? [...this.#candidates.keys()] : undefined)) this.#note(d);
      return;
    }
    if (!this.#accept(name) || this.#readySet.has(name) || this.#claiming.has(name)) return;
    if (!this.#candidates.has(name)) this.#candidates.set(name, { size: -1, mtimeMs: -1, since: Date.now() });
  }

  async start(handler: SourceHandler): Promise<void> {
    if (this.#running) throw new BridgeError('SOURCE_STARTED', `source ${this.name} is already running`);
    try {
      const s = await stat(this.#inbox);
      if (!s.isDirectory()) throw new Error('not a directory');
    } catch (e) {
      throw new BridgeError('SOURCE_INBOX_MISSING', `folder source ${this.name}: inbox ${this.#inbox} is not a readable folder (${describeError(e)})`,
        { file: this.#inbox }, { hint: 'create the folder or correct the inbox path in the route' });
    }
    await this.#spool.open();
    this.#running = true;
    const { claims } = await this.#spool.recover(this.#origin());
    if (claims.length > 0) this.#o.logger?.info('Source %s: %d file(s) left in processing/ by an earlier run are handled again', this.name, claims.length);
    this.#runner.start(handler);
    for (const c of claims) void this.#runner.submit(c);

    const mode = this.#o.watch ?? 'native';
    if (mode === 'chokidar') {
      this.#watcher = watch(this.#inbox, {
        depth: 0,
        ignoreInitial: true,
        persistent: true,
        ignored: (p: string) => p !== this.#inbox && dirname(p) === this.#inbox && isTemporaryName(basename(p)),
      });
      this.#watcher.on('add', (p: string) => this.#note(basename(p)));
      this.#watcher.on('change', (p: string) => this.#note(basename(p)));
      this.#watcher.on('error', (e: unknown) => this.#watchError(e));
      await new Promise<void>((res) => this.#watcher!.once('ready', () => res()));
    } else if (mode === 'native') {
      try {
        this.#nativeWatcher = fsWatch(this.#inbox, { persistent: true }, (_event, filename) => {
          if (filename) this.#note(filename.toString());
          else void this.#scan();
        });
        this.#nativeWatcher.on('error', (e: unknown) => this.#watchError(e));
      } catch (e) {
        this.#watchError(e);
      }
    }
    await this.#scan();
    this.#checkTimer = setInterval(() => void this.#check(), this.#o.checkIntervalMs ?? 250);
    const rescan = this.#o.rescanIntervalMs ?? 5000;
    if (rescan > 0) this.#rescanTimer = setInterval(() => void this.#scan(), rescan);
    void this.#check();
  }

  #watchError(e: unknown): void {
    this.#lastError = describeError(e);
    this.#o.logger?.warn('Source %s: change notifications failed (%s); the inbox is still rescanned every %d ms', this.name, this.#lastError,
      this.#o.rescanIntervalMs ?? 5000);
  }

  async #scan(): Promise<void> {
    try {
      for (const name of await readdir(this.#inbox)) this.#note(name);
      this.#lastError = undefined;
    } catch (e) {
      this.#lastError = describeError(e);
      this.#o.logger?.warn('Source %s: cannot read inbox %s: %s', this.name, this.#inbox, this.#lastError);
    }
  }

  async #check(): Promise<void> {
    if (this.#checking || !this.#running) return;
    this.#checking = true;
    try {
      let present: string[] | undefined;
      if (this.#o.trigger) present = await readdir(this.#inbox).catch(() => []);
      const presentSet = present ? new Set(present) : undefined;
      const now = Date.now();
      for (const [name, c] of this.#candidates) {
        if (!this.#running) return;
        let s;
        try {
          s = await stat(join(this.#inbox, name));
        } catch (e) {
          if (errnoCode(e) === 'ENOENT') this.#candidates.delete(name);
          continue;
        }
        if (!s.isFile()) {
          this.#candidates.delete(name);
          continue;
        }
        if (s.size !== c.size || s.mtimeMs !== c.mtimeMs) {
          c.size = s.size;
          c.mtimeMs = s.mtimeMs;
          c.since = now;
          if (this.#stableMs > 0) continue;
        }
        if (now - c.since < this.#stableMs) continue;
        if (presentSet && !presentSet.has(this.#triggerName(name))) continue;
        this.#candidates.delete(name);
        this.#ready.push(name);
        this.#readySet.add(name);
      }
    } finally {
      this.#checking = false;
    }
    this.#pump();
  }

  #pump(): void {
    while (this.#running && this.#ready.length > 0 && this.#runner.freeSlots - this.#claiming.size > 0) {
      const name = this.#ready.shift()!;
      this.#readySet.delete(name);
      this.#claiming.add(name);
      void this.#claim(name).finally(() => {
        this.#claiming.delete(name);
        this.#pump();
      });
    }
  }

  async #claim(name: string): Promise<void> {
    const src = join(this.#inbox, name);
    let claim: Claim | null;
    try {
      claim = await this.#spool.claimByRename(src, name, this.#origin());
    } catch (e) {
      this.#o.logger?.warn('Source %s: cannot claim %s: %s (will try again)', this.name, name, describeError(e));
      this.#note(name);
      return;
    }
    if (!claim) {
      this.#o.logger?.debug('Source %s: %s was taken by another instance or removed', this.name, name);
      return;
    }
    if (this.#o.trigger) {
      await unlink(join(this.#inbox, this.#triggerName(name))).catch(() => undefined);
    }
    this.#o.logger?.info('Source %s: claimed %s', this.name, name);
    void this.#runner.submit(claim);
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    if (this.#checkTimer) clearInterval(this.#checkTimer);
    if (this.#rescanTimer) clearInterval(this.#rescanTimer);
    await this.#watcher?.close();
    this.#watcher = undefined;
    this.#nativeWatcher?.close();
    this.#nativeWatcher = undefined;
    while (this.#claiming.size > 0) await new Promise((r) => setTimeout(r, 10));
    await this.#runner.stop();
    this.#candidates.clear();
    this.#ready.length = 0;
    this.#readySet.clear();
    await this.#spool.close();
  }

  status(): SourceStatus {
    return {
      name: this.name,
      kind: this.kind,
      running: this.#running,
      inFlight: this.#runner.inFlight + this.#claiming.size,
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
    };
  }
}

export function createFolderSource(options: FolderSourceOptions): Source {
  return new FolderSource(options);
}
