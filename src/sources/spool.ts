/**
 * The local side every source shares: claims in `processing/`, release to
 * `archive/YYYY-MM-DD/` or `error/` (with `<name>.error.txt`), recovery of what a crash
 * left behind, the lock that keeps one source instance per `processing/` folder, and
 * the runner that hands claims to the handler with a concurrency limit and retries.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, extname, join } from 'node:path';
import { BridgeError } from '../errors/index.js';
import type { BridgeLogger } from '../log/index.js';
import type { BackoffOptions, ClaimedFile, Outcome, SourceHandler, SourceOrigin, SpoolDirs } from './types.js';
import { backoffDelay, describeError, errnoCode, formatMs, sha256File } from './util.js';

const SEP = '__';
const META_SUFFIX = '.meta.json';
const LOCK_NAME = '.lock';

export interface Claim {
  /** File name in processing/ (unique). */
  readonly id: string;
  readonly name: string;
  readonly path: string;
  readonly receivedAt: Date;
  readonly origin: SourceOrigin;
  readonly recovered: boolean;
  /** Source-specific facts kept in the meta file (e.g. the IDoc number). */
  readonly extra: Record<string, string>;
  attempts: number;
  sha256?: string;
  size?: number;
}

interface MetaFile {
  name: string;
  receivedAt: string;
  origin: SourceOrigin;
  state: 'claimed' | 'released';
  outcome?: Outcome['kind'];
  finalPath?: string;
  report?: string;
  extra?: Record<string, string>;
}

/** A claim that was released locally but whose origin is not yet told (SFTP move, RFC confirm). */
export interface ReleasedClaim {
  readonly id: string;
  readonly name: string;
  readonly origin: SourceOrigin;
  readonly outcome: Outcome['kind'];
  readonly finalPath: string;
  readonly report: string | undefined;
  readonly extra: Record<string, string>;
}

/** Locks held by this process, so a lock left by an abandoned instance of this process is recognised as stale. */
const heldLocks = new Set<string>();
let claimSeq = 0;

function newClaimId(name: string): string {
  claimSeq = (claimSeq + 1) % 1_000_000;
  return `${Date.now().toString(36)}-${claimSeq.toString(36)}-${randomBytes(3).toString('hex')}${SEP}${name}`;
}

function nameOfClaim(id: string): string {
  const i = id.indexOf(SEP);
  return i < 0 ? id : id.slice(i + SEP.length);
}

function localDay(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

/** Writes a file through a temporary name and fsync, then renames it into place. */
export async function writeFileDurable(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(path, '..', `.${basename(path)}.${randomBytes(3).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w', 0o640);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

async function unlinkQuiet(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
}

async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    const [x, y] = await Promise.all([stat(a), stat(b)]);
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

/** Puts `src` into `dir` under `name`, or `name~2`, `name~3`... without ever overwriting. */
async function placeUnique(src: string, dir: string, name: string): Promise<string> {
  const ext = extname(name);
  const stem = ext ? name.slice(0, -ext.length) : name;
  for (let n = 1; n < 10_000; n++) {
    const target = join(dir, n === 1 ? name : `${stem}~${n}${ext}`);
    try {
      await link(src, target);
      return target;
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'EEXIST') {
        // A run killed between this link and the unlink of the claim left the same file here already: that is
        // where it goes (no second copy as name~2).
        if (await sameFile(src, target)) return target;
        continue;
      }
      if (code === 'EXDEV' || code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') {
        try {
          await copyFile(src, target, fsc.COPYFILE_EXCL);
          return target;
        } catch (e2) {
          if (errnoCode(e2) === 'EEXIST') continue;
          throw e2;
        }
      }
      throw e;
    }
  }
  throw new BridgeError('SOURCE_NAME_EXHAUSTED', `no free name for ${name} in ${dir}`, { file: join(dir, name) });
}

export class Spool {
  readonly dirs: SpoolDirs;
  readonly #logger: BridgeLogger | undefined;
  readonly #source: string;
  #locked = false;

  constructor(source: string, dirs: SpoolDirs, logger: BridgeLogger | undefined) {
    this.#source = source;
    this.dirs = dirs;
    this.#logger = logger;
  }

  get #lockPath(): string {
    return join(this.dirs.processing, LOCK_NAME);
  }

  /** Creates the folders and takes the processing folder's lock. */
  async open(): Promise<void> {
    await mkdir(this.dirs.processing, { recursive: true });
    await mkdir(this.dirs.archive, { recursive: true });
    await mkdir(this.dirs.error, { recursive: true });
    const lockPath = this.#lockPath;
    const body = JSON.stringify({ pid: process.pid, host: hostname(), source: this.#source, since: new Date().toISOString() });
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await writeFile(lockPath, body, { flag: 'wx', mode: 0o644 });
        heldLocks.add(lockPath);
        this.#locked = true;
        return;
      } catch (e) {
        if (errnoCode(e) !== 'EEXIST') throw e;
      }
      let holder: { pid?: number; host?: string; source?: string } = {};
      try {
        holder = JSON.parse(await readFile(lockPath, 'utf8')) as typeof holder;
      } catch {
        /* unreadable or half-written lock: treated as stale */
      }
      const sameHost = holder.host === hostname();
      const stale =
        holder.pid === undefined ||
        (sameHost && (holder.pid === process.pid ? !heldLocks.has(lockPath) : !pidAlive(holder.pid)));
      if (!stale) {
        throw new BridgeError(
          'SOURCE_PROCESSING_LOCKED',
          `the processing folder ${this.dirs.processing} is in use by source "${holder.source ?? '?'}" (pid ${holder.pid} on ${holder.host ?? '?'})`,
          { file: lockPath },
          { hint: 'give each source instance its own processing folder; if that process is gone (other host), delete the .lock file' },
        );
      }
      this.#logger?.info('Source %s: taking over the stale lock of %s (pid %s)', this.#source, this.dirs.processing, String(holder.pid));
      await unlinkQuiet(lockPath);
    }
    throw new BridgeError('SOURCE_PROCESSING_LOCKED', `could not lock ${this.dirs.processing}`, { file: lockPath });
  }

  async close(): Promise<void> {
    if (!this.#locked) return;
    this.#locked = false;
    heldLocks.delete(this.#lockPath);
    await unlinkQuiet(this.#lockPath);
  }

  #metaPath(id: string): string {
    return join(this.dirs.processing, `.${id}${META_SUFFIX}`);
  }

  /**
   * Claims a file by renaming it into processing/. Returns null when the file is gone
   * (another instance claimed it first, or it was removed): a lost race is not an error.
   */
  async claimByRename(srcPath: string, name: string, origin: SourceOrigin): Promise<Claim | null> {
    const id = newClaimId(name);
    const path = join(this.dirs.processing, id);
    try {
      await rename(srcPath, path);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return null;
      throw e;
    }
    return { id, name, path, receivedAt: new Date(), origin, recovered: false, extra: {}, attempts: 0 };
  }

  /** A temporary path in processing/ to write a new document to (then `admit` it). */
  newPart(name: string): { id: string; partPath: string } {
    const id = newClaimId(name);
    return { id, partPath: join(this.dirs.processing, `.${id}.part`) };
  }

  /** Makes a fully written part file a claim: meta first, then the data file appears by rename. */
  async admit(id: string, partPath: string, origin: SourceOrigin, extra: Record<string, string> = {}): Promise<Claim> {
    const name = nameOfClaim(id);
    const receivedAt = new Date();
    const meta: MetaFile = { name, receivedAt: receivedAt.toISOString(), origin, state: 'claimed', extra };
    await writeFileDurable(this.#metaPath(id), JSON.stringify(meta));
    const path = join(this.dirs.processing, id);
    await rename(partPath, path);
    return { id, name, path, receivedAt, origin, recovered: false, extra, attempts: 0 };
  }

  /** Removes a claim without releasing it (HTTP: the client will send it again). */
  async drop(claim: Claim): Promise<void> {
    await unlinkQuiet(claim.path);
    await unlinkQuiet(this.#metaPath(claim.id));
  }

  async #readMeta(id: string): Promise<MetaFile | undefined> {
    try {
      return JSON.parse(await readFile(this.#metaPath(id), 'utf8')) as MetaFile;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      this.#logger?.warn('Source %s: unreadable meta file for %s: %s', this.#source, id, describeError(e));
      return undefined;
    }
  }

  /**
   * What an earlier run left: claims to hand over again, and released claims whose
   * origin still has to be told. Removes partial downloads/uploads and orphan metas.
   */
  async recover(defaultOrigin: SourceOrigin): Promise<{ claims: Claim[]; released: ReleasedClaim[] }> {
    const entries = await readdir(this.dirs.processing);
    const dataFiles = new Set(entries.filter((n) => !n.startsWith('.')));
    const claims: Claim[] = [];
    const released: ReleasedClaim[] = [];
    for (const entry of entries) {
      if (entry.endsWith('.part') || (entry.startsWith('.') && entry.endsWith('.tmp'))) {
        await unlinkQuiet(join(this.dirs.processing, entry));
        continue;
      }
      if (entry.startsWith('.') && entry.endsWith(META_SUFFIX)) {
        const id = entry.slice(1, -META_SUFFIX.length);
        if (dataFiles.has(id)) continue;
        const meta = await this.#readMeta(id);
        if (meta?.state === 'released' && meta.finalPath && meta.outcome) {
          released.push({ id, name: meta.name, origin: meta.origin, outcome: meta.outcome, finalPath: meta.finalPath, report: meta.report, extra: meta.extra ?? {} });
        } else {
          await unlinkQuiet(join(this.dirs.processing, entry));
        }
      }
    }
    for (const id of [...dataFiles].sort()) {
      const meta = await this.#readMeta(id);
      claims.push({
        id,
        name: meta?.name ?? nameOfClaim(id),
        path: join(this.dirs.processing, id),
        receivedAt: meta ? new Date(meta.receivedAt) : new Date(),
        origin: meta?.origin ?? defaultOrigin,
        recovered: true,
        extra: meta?.extra ?? {},
        attempts: 0,
      });
    }
    return { claims, released };
  }

  /** Released claims whose origin is not told yet (read-only; safe while handlers run). */
  async released(): Promise<ReleasedClaim[]> {
    const entries = await readdir(this.dirs.processing);
    const dataFiles = new Set(entries.filter((n) => !n.startsWith('.')));
    const out: ReleasedClaim[] = [];
    for (const entry of entries) {
      if (!entry.startsWith('.') || !entry.endsWith(META_SUFFIX)) continue;
      const id = entry.slice(1, -META_SUFFIX.length);
      if (dataFiles.has(id)) continue;
      const meta = await this.#readMeta(id);
      if (meta?.state === 'released' && meta.finalPath && meta.outcome) {
        out.push({ id, name: meta.name, origin: meta.origin, outcome: meta.outcome, finalPath: meta.finalPath, report: meta.report, extra: meta.extra ?? {} });
      }
    }
    return out;
  }

  /** All claims and released-but-not-told entries currently in processing/ (for de-duplication at the origin). */
  async metas(): Promise<Array<{ id: string; state: MetaFile['state']; origin: SourceOrigin; extra: Record<string, string> }>> {
    const out: Array<{ id: string; state: MetaFile['state']; origin: SourceOrigin; extra: Record<string, string> }> = [];
    for (const entry of await readdir(this.dirs.processing)) {
      if (!entry.startsWith('.') || !entry.endsWith(META_SUFFIX)) continue;
      const id = entry.slice(1, -META_SUFFIX.length);
      const meta = await this.#readMeta(id);
      if (meta) out.push({ id, state: meta.state, origin: meta.origin, extra: meta.extra ?? {} });
    }
    return out;
  }

  /**
   * Releases a claim after the handler resolved: to archive/YYYY-MM-DD/ when done, to
   * error/ with `<name>.error.txt` when failed. With `keepMeta`, the meta file stays
   * (state released) until the origin is told (`forget`).
   */
  async release(claim: Claim, outcome: Outcome, keepMeta: boolean): Promise<string> {
    const dir = outcome.kind === 'done' ? join(this.dirs.archive, localDay(new Date())) : this.dirs.error;
    await mkdir(dir, { recursive: true });
    const finalPath = await placeUnique(claim.path, dir, claim.name);
    if (outcome.kind === 'failed') {
      const header = `File: ${claim.name}\nSource: ${this.#source}\nReceived: ${claim.receivedAt.toISOString()}\nSHA-256: ${claim.sha256 ?? ''}\n` +
        (outcome.partial ? 'Result: partly processed (see below which invoices went on)\n' : 'Result: not processed\n');
      await writeFileDurable(`${finalPath}.error.txt`, `${header}\n${outcome.report.trimEnd()}\n`);
    }
    if (keepMeta) {
      const meta: MetaFile = {
        name: claim.name,
        receivedAt: claim.receivedAt.toISOString(),
        origin: claim.origin,
        state: 'released',
        outcome: outcome.kind,
        finalPath,
        ...(outcome.report !== undefined ? { report: outcome.report } : {}),
        extra: claim.extra,
      };
      await writeFileDurable(this.#metaPath(claim.id), JSON.stringify(meta));
    }
    await unlinkQuiet(claim.path);
    if (!keepMeta) await unlinkQuiet(this.#metaPath(claim.id));
    return finalPath;
  }

  /** Forgets a released claim once its origin was told. */
  async forget(id: string): Promise<void> {
    await unlinkQuiet(this.#metaPath(id));
  }
}

export type RunResult =
  | { kind: 'released'; outcome: Outcome; finalPath: string }
  | { kind: 'error'; error: unknown }
  | { kind: 'stopped' };

export interface RunnerOptions {
  source: string;
  route: string;
  spool: Spool;
  concurrency: number;
  backoff: BackoffOptions | undefined;
  logger: BridgeLogger | undefined;
  /** Keep the meta file after release, for origins told later (SFTP, RFC). */
  keepMeta: boolean;
  /** Handler errors: 'retry' keeps the claim and retries with backoff; 'drop' removes it and reports the error. */
  onHandlerError: 'retry' | 'drop';
  /** Called whenever a slot frees up. */
  onIdle?: () => void;
  /** Route per claim (HTTP: from the URL). */
  routeOf?: (claim: Claim) => string;
}

interface Job {
  claim: Claim;
  resolve: (r: RunResult) => void;
}

/** Hands claims to the handler, `concurrency` at a time; releases them when it resolves. */
export class ClaimRunner {
  readonly #o: RunnerOptions;
  #handler: SourceHandler | undefined;
  readonly #queue: Job[] = [];
  readonly #active = new Set<Promise<void>>();
  readonly #timers = new Map<NodeJS.Timeout, Job>();
  #stopped = false;

  constructor(options: RunnerOptions) {
    this.#o = options;
  }

  start(handler: SourceHandler): void {
    this.#handler = handler;
    this.#stopped = false;
    this.#pump();
  }

  /** Claims queued, running or waiting for a retry. */
  get inFlight(): number {
    return this.#queue.length + this.#active.size + this.#timers.size;
  }

  get freeSlots(): number {
    return Math.max(0, this.#o.concurrency - this.#active.size - this.#queue.length);
  }

  /** Queues a claim; resolves when it is released, dropped (HTTP) or the runner stops. */
  submit(claim: Claim): Promise<RunResult> {
    if (this.#stopped) return Promise.resolve({ kind: 'stopped' });
    return new Promise((resolve) => {
      this.#queue.push({ claim, resolve });
      this.#pump();
    });
  }

  #pump(): void {
    while (!this.#stopped && this.#handler && this.#active.size < this.#o.concurrency && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      const p = this.#run(job).finally(() => {
        this.#active.delete(p);
        this.#pump();
        if (!this.#stopped) this.#o.onIdle?.();
      });
      this.#active.add(p);
    }
  }

  #file(claim: Claim): ClaimedFile {
    return {
      id: claim.id,
      source: this.#o.source,
      route: this.#o.routeOf ? this.#o.routeOf(claim) : this.#o.route,
      name: claim.name,
      path: claim.path,
      sha256: claim.sha256!,
      size: claim.size!,
      receivedAt: claim.receivedAt,
      recovered: claim.recovered,
      origin: claim.origin,
      bytes: () => readFile(claim.path),
    };
  }

  async #run(job: Job): Promise<void> {
    const { claim } = job;
    const log = this.#o.logger;
    let outcome: Outcome;
    try {
      if (claim.sha256 === undefined) {
        const h = await sha256File(claim.path);
        claim.sha256 = h.sha256;
        claim.size = h.size;
      }
      claim.attempts++;
      outcome = await this.#handler!(this.#file(claim));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') {
        log?.warn('Source %s: %s vanished from processing/ before it was handled', this.#o.source, claim.name);
        job.resolve({ kind: 'error', error: e });
        return;
      }
      this.#failed(job, e, 'was not stored');
      return;
    }
    try {
      const finalPath = await this.#o.spool.release(claim, outcome, this.#o.keepMeta);
      log?.info('Source %s: %s %s -> %s', this.#o.source, claim.name, outcome.kind === 'done' ? 'archived' : 'moved to error', finalPath);
      job.resolve({ kind: 'released', outcome, finalPath });
    } catch (e) {
      this.#failed(job, e, 'could not be released');
    }
  }

  #failed(job: Job, e: unknown, what: string): void {
    const log = this.#o.logger;
    if (this.#o.onHandlerError === 'drop') {
      log?.warn('Source %s: %s %s: %s', this.#o.source, job.claim.name, what, describeError(e));
      void this.#o.spool.drop(job.claim).catch(() => undefined).then(() => job.resolve({ kind: 'error', error: e }));
      return;
    }
    if (this.#stopped) {
      job.resolve({ kind: 'stopped' });
      return;
    }
    const delay = backoffDelay(job.claim.attempts, this.#o.backoff);
    log?.warn('Source %s: %s %s (attempt %d): %s; it stays in processing/, next attempt in %s', this.#o.source, job.claim.name, what,
      job.claim.attempts, describeError(e), formatMs(delay));
    const t = setTimeout(() => {
      this.#timers.delete(t);
      this.#queue.push(job);
      this.#pump();
    }, delay);
    this.#timers.set(t, job);
  }

  /** Stops handing out claims and waits for running handlers. Queued claims stay in processing/. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const [t, job] of this.#timers) {
      clearTimeout(t);
      job.resolve({ kind: 'stopped' });
    }
    this.#timers.clear();
    for (const job of this.#queue.splice(0)) job.resolve({ kind: 'stopped' });
    while (this.#active.size > 0) await Promise.allSettled([...this.#active]);
  }
}

export function resolveDirs(base: string, dirs: Partial<SpoolDirs> | undefined): SpoolDirs {
  return {
    processing: dirs?.processing ?? join(base, 'processing'),
    archive: dirs?.archive ?? join(base, 'archive'),
    error: dirs?.error ?? join(base, 'error'),
  };
}
