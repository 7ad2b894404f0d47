/**
 * SFTP source: polls a remote folder, downloads each complete file into `processing/`
 * (through a `.part` file, fsync, rename), hands it to the handler like the folder source,
 * and moves the remote file to a remote archive folder (or deletes it) only after the
 * handler resolved. The server's host key is pinned by its SHA-256 fingerprint.
 */
import { createHash } from 'node:crypto';
import { open, readFile, unlink } from 'node:fs/promises';
import { posix } from 'node:path';
import SftpClient from 'ssh2-sftp-client';
import { BridgeError } from '../errors/index.js';
import type { Secret } from '../log/index.js';
import { ClaimRunner, resolveDirs, Spool, type Claim, type ReleasedClaim } from './spool.js';
import type { CommonSourceOptions, Source, SourceHandler, SourceOrigin, SourceStatus } from './types.js';
import { backoffDelay, describeError, formatMs, isTemporaryName, nameFilter, Sleeper } from './util.js';

export interface SftpSourceOptions extends CommonSourceOptions {
  host: string;
  port?: number;
  username: string;
  password?: Secret;
  /** Private key in OpenSSH or PEM format (content). */
  privateKey?: string | Buffer;
  /** Or the path of the private key file. */
  privateKeyPath?: string;
  passphrase?: Secret;
  /** The server's host key fingerprint as `ssh-keygen -l` prints it: "SHA256:base64". */
  hostKeySha256?: string;
  /** Connect to a server whose host key is not pinned (the fingerprint is logged so it can be pinned). */
  acceptNewHostKey?: boolean;
  /** Remote folder to take files from. */
  remoteDir: string;
  /** Remote folder processed files are moved to; without it they are deleted. */
  remoteArchiveDir?: string;
  /** Remote folder files with problems are moved to (default: remoteArchiveDir). */
  remoteErrorDir?: string;
  include?: string[];
  exclude?: string[];
  /** Remote trigger files, as for the folder source (`invoice.csv.ok`). */
  trigger?: { suffix: string; mode?: 'append' | 'replace' };
  /** A remote file is taken when its size and mtime were unchanged for this long across listings (default 2000 ms). */
  stableMs?: number;
  /** Time between polls (default 30 s). */
  pollIntervalMs?: number;
  /** SSH handshake timeout (default 20 s). */
  readyTimeoutMs?: number;
  /** Local folder that holds processing/, archive/ and error/ (unless `dirs` names them). */
  localDir: string;
}

/** "SHA256:base64" (no padding) of a host key blob, as ssh-keygen prints it. */
export function sshFingerprint(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

function normalizeFingerprint(fp: string): string {
  const t = fp.trim();
  const body = t.toUpperCase().startsWith('SHA256:') ? t.slice(7) : t;
  return 'SHA256:' + body.replace(/=+$/, '');
}

export class SftpSource implements Source {
  readonly name: string;
  readonly kind = 'sftp' as const;
  readonly #o: SftpSourceOptions;
  readonly #spool: Spool;
  readonly #runner: ClaimRunner;
  readonly #accept: (name: string) => boolean;
  readonly #sleeper = new Sleeper();
  #client: SftpClient | undefined;
  #connected = false;
  #running = false;
  #loop: Promise<void> | undefined;
  #lastError: string | undefined;
  #seen = new Map<string, { size: number; mtime: number; since: number }>();
  readonly #inHand = new Set<string>();

  constructor(options: SftpSourceOptions) {
    if (!options.password && !options.privateKey && !options.privateKeyPath) {
      throw new BridgeError('SOURCE_CONFIG', `SFTP source ${options.name}: give a password or a private key`, { field: 'password' });
    }
    this.#o = options;
    this.name = options.name;
    this.#spool = new Spool(options.name, resolveDirs(options.localDir, options.dirs), options.logger);
    this.#runner = new ClaimRunner({
      source: options.name,
      route: options.route ?? options.name,
      spool: this.#spool,
      concurrency: options.concurrency ?? 4,
      backoff: options.backoff,
      logger: options.logger,
      keepMeta: true,
      onHandlerError: 'retry',
    });
    this.#accept = nameFilter(options.include, options.exclude);
  }

  get dirs() {
    return this.#spool.dirs;
  }

  get #where(): string {
    return `${this.#o.username}@${this.#o.host}:${this.#o.port ?? 22}`;
  }

  async #connect(): Promise<SftpClient> {
    if (this.#client && this.#connected) return this.#client;
    await this.#disconnect();
    const log = this.#o.logger;
    const client = new SftpClient(this.name, {
      error: (e: unknown) => {
        this.#connected = false;
        log?.debug('Source %s: SFTP connection error: %s', this.name, describeError(e));
      },
      end: () => {
        this.#connected = false;
      },
      close: () => {
        this.#connected = false;
      },
    });
    let hostKeyProblem: BridgeError | undefined;
    const pin = this.#o.hostKeySha256 ? normalizeFingerprint(this.#o.hostKeySha256) : undefined;
    const hostVerifier = (key: Buffer): boolean => {
      const found = sshFingerprint(key);
      if (pin) {
        if (found === pin) return true;
        hostKeyProblem = new BridgeError(
          'SFTP_HOST_KEY_MISMATCH',
          `SFTP server ${this.#o.host}:${this.#o.port ?? 22} presented host key ${found}, but ${pin} is pinned: refusing to connect`,
          { field: 'hostKeySha256', value: found, allowed: pin },
          { hint: 'if the server key was changed on purpose, put the new fingerprint into hostKeySha256; otherwise someone may be intercepting the connection' },
        );
        return false;
      }
      if (this.#o.acceptNewHostKey) {
        log?.warn('Source %s: accepting the unpinned host key of %s:%s: %s (pin it with hostKeySha256)', this.name, this.#o.host, String(this.#o.port ?? 22), found);
        return true;
      }
      hostKeyProblem = new BridgeError(
        'SFTP_HOST_KEY_NOT_PINNED',
        `SFTP server ${this.#o.host}:${this.#o.port ?? 22} presented host key ${found}, and no host key is pinned: refusing to connect`,
        { field: 'hostKeySha256', value: found },
        { hint: `check the fingerprint with the server's admin, then set hostKeySha256: "${found}" (or acceptNewHostKey: true to accept any key)` },
      );
      return false;
    };
    const privateKey = this.#o.privateKey ?? (this.#o.privateKeyPath ? await readFile(this.#o.privateKeyPath) : undefined);
    try {
      await client.connect({
        host: this.#o.host,
        port: this.#o.port ?? 22,
        username: this.#o.username,
        ...(this.#o.password ? { password: this.#o.password.reveal() } : {}),
        ...(privateKey ? { privateKey } : {}),
        ...(this.#o.passphrase ? { passphrase: this.#o.passphrase.reveal() } : {}),
        hostVerifier,
        readyTimeout: this.#o.readyTimeoutMs ?? 20_000,
        keepaliveInterval: 15_000,
      });
    } catch (e) {
      await client.end().catch(() => undefined);
      if (hostKeyProblem) throw hostKeyProblem;
      throw new BridgeError('SFTP_CONNECT', `cannot connect to SFTP ${this.#where}: ${describeError(e)}`, { details: this.name }, { cause: e });
    }
    this.#client = client;
    this.#connected = true;
    return client;
  }

  async #disconnect(): Promise<void> {
    const c = this.#client;
    this.#client = undefined;
    this.#connected = false;
    if (c) await c.end().catch(() => undefined);
  }

  /** Connects once and lists the remote folder; throws what went wrong (for `test-connection`). */
  async checkConnection(): Promise<{ files: number }> {
    const c = await this.#connect();
    try {
      const list = await c.list(this.#o.remoteDir);
      return { files: list.filter((f) => f.type === '-').length };
    } finally {
      if (!this.#running) await this.#disconnect();
    }
  }

  async start(handler: SourceHandler): Promise<void> {
    if (this.#running) throw new BridgeError('SOURCE_STARTED', `source ${this.name} is already running`);
    await this.#spool.open();
    this.#running = true;
    const { claims } = await this.#spool.recover(this.#fallbackOrigin());
    if (claims.length > 0) this.#o.logger?.info('Source %s: %d downloaded file(s) left in processing/ are handled again', this.name, claims.length);
    this.#runner.start(handler);
    for (const c of claims) this.#submit(c);
    this.#loop = this.#run();
  }

  #submit(claim: Claim): void {
    if (claim.origin.kind === 'sftp') this.#inHand.add(claim.origin.remotePath);
    void this.#runner.submit(claim).then(() => {
      if (claim.origin.kind === 'sftp') this.#inHand.delete(claim.origin.remotePath);
      this.#sleeper.wake();
    });
  }

  async #run(): Promise<void> {
    const log = this.#o.logger;
    const poll = this.#o.pollIntervalMs ?? 30_000;
    let failures = 0;
    while (this.#running) {
      let delay = poll;
      try {
        const { waiting } = await this.#cycle();
        if (failures > 0) log?.info('Source %s: SFTP %s reachable again after %d failed attempt(s)', this.name, this.#where, failures);
        failures = 0;
        this.#lastError = undefined;
        if (waiting) delay = Math.min(poll, Math.max(50, this.#o.stableMs ?? 2000));
      } catch (e) {
        await this.#disconnect();
        if (!this.#running) break;
        this.#lastError = describeError(e);
        if (e instanceof BridgeError && e.code.startsWith('SFTP_HOST_KEY')) {
          log?.error('Source %s: %s. The source stops polling until the configuration is corrected.', this.name, e.describe());
          return;
        }
        failures++;
        delay = backoffDelay(failures, this.#o.backoff);
        log?.warn('Source %s: SFTP attempt %d failed: %s; next attempt in %s', this.name, failures, this.#lastError, formatMs(delay));
      }
      if (this.#running) await this.#sleeper.sleep(delay);
    }
  }

  #triggerName(name: string): string {
    const t = this.#o.trigger!;
    if (t.mode === 'replace') {
      const dot = name.lastIndexOf('.');
      return (dot > 0 ? name.slice(0, dot) : name) + t.suffix;
    }
    return name + t.suffix;
  }

  async #cycle(): Promise<{ waiting: boolean }> {
    const c = await this.#connect();
    const released = await this.#spool.released();
    for (const r of released) {
      if (!this.#running) return { waiting: false };
      await this.#tellOrigin(c, r);
    }
    const list = await c.list(this.#o.remoteDir);
    const names = new Set(list.map((f) => f.name));
    const staged = new Set(this.#inHand);
    for (const m of await this.#spool.metas()) if (m.origin.kind === 'sftp') staged.add(m.origin.remotePath);
    const now = Date.now();
    const stableMs = this.#o.stableMs ?? 2000;
    const seen = new Map<string, { size: number; mtime: number; since: number }>();
    const ready: Array<{ name: string; size: number; mtime: number }> = [];
    let waiting = false;
    for (const f of list) {
      if (f.type !== '-' || isTemporaryName(f.name) || !this.#accept(f.name)) continue;
      if (this.#o.trigger && f.name.toLowerCase().endsWith(this.#o.trigger.suffix.toLowerCase())) continue;
      const remotePath = posix.join(this.#o.remoteDir, f.name);
      if (staged.has(remotePath)) continue;
      const prev = this.#seen.get(remotePath);
      const since = prev && prev.size === f.size && prev.mtime === f.modifyTime ? prev.since : now;
      seen.set(remotePath, { size: f.size, mtime: f.modifyTime, since });
      if (now - since < stableMs) {
        waiting = true;
        continue;
      }
      if (this.#o.trigger && !names.has(this.#triggerName(f.name))) continue;
      ready.push({ name: f.name, size: f.size, mtime: f.modifyTime });
    }
    this.#seen = seen;
    for (const f of ready) {
      if (!this.#running) break;
      await this.#download(c, f);
    }
    return { waiting };
  }

  #fallbackOrigin(): SourceOrigin {
    return { kind: 'sftp', host: this.#o.host, port: this.#o.port ?? 22, remotePath: '', remoteSize: -1, remoteMtimeMs: -1 };
  }

  async #download(c: SftpClient, f: { name: string; size: number; mtime: number }): Promise<void> {
    const remotePath = posix.join(this.#o.remoteDir, f.name);
    const { id, partPath } = this.#spool.newPart(f.name);
    try {
      await c.get(remotePath, partPath);
      const fh = await open(partPath, 'r+');
      let size: number;
      try {
        await fh.sync();
        size = (await fh.stat()).size;
      } finally {
        await fh.close();
      }
      if (size !== f.size) {
        this.#seen.delete(remotePath);
        throw new Error(`${remotePath} changed while it was downloaded (${f.size} -> ${size} bytes); it is taken again once stable`);
      }
    } catch (e) {
      await unlink(partPath).catch(() => undefined);
      throw e;
    }
    const origin: SourceOrigin = { kind: 'sftp', host: this.#o.host, port: this.#o.port ?? 22, remotePath, remoteSize: f.size, remoteMtimeMs: f.mtime };
    const claim = await this.#spool.admit(id, partPath, origin);
    this.#o.logger?.info('Source %s: downloaded %s (%d bytes)', this.name, remotePath, f.size);
    this.#submit(claim);
  }

  /** Moves (or deletes) the remote file of a released claim, unless it changed since it was downloaded. */
  async #tellOrigin(c: SftpClient, r: ReleasedClaim): Promise<void> {
    if (r.origin.kind !== 'sftp' || !r.origin.remotePath) {
      await this.#spool.forget(r.id);
      return;
    }
    const { remotePath, remoteSize, remoteMtimeMs } = r.origin;
    const log = this.#o.logger;
    const exists = await c.exists(remotePath);
    if (exists === '-') {
      const st = await c.stat(remotePath);
      if (st.size !== remoteSize || st.modifyTime !== remoteMtimeMs) {
        log?.info('Source %s: %s changed on the server since it was taken; it stays there and is taken as a new file', this.name, remotePath);
      } else {
        const dir = r.outcome === 'failed' ? (this.#o.remoteErrorDir ?? this.#o.remoteArchiveDir) : this.#o.remoteArchiveDir;
        if (dir) {
          await c.mkdir(dir, true).catch(() => undefined);
          let target = posix.join(dir, r.name);
          if (await c.exists(target)) target = posix.join(dir, `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${r.id.slice(0, 8)}-${r.name}`);
          await c.rename(remotePath, target);
          log?.info('Source %s: moved %s to %s on the server', this.name, remotePath, target);
        } else {
          await c.delete(remotePath, true);
          log?.info('Source %s: deleted %s on the server', this.name, remotePath);
        }
      }
      if (this.#o.trigger) await c.delete(posix.join(this.#o.remoteDir, this.#triggerName(r.name)), true).catch(() => undefined);
    }
    await this.#spool.forget(r.id);
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#sleeper.wake();
    await this.#loop;
    await this.#runner.stop();
    if (this.#client && this.#connected) {
      try {
        const released = await this.#spool.released();
        for (const r of released) await this.#tellOrigin(this.#client, r);
      } catch (e) {
        this.#o.logger?.info('Source %s: remote files of released documents are moved at the next start (%s)', this.name, describeError(e));
      }
    }
    await this.#disconnect();
    await this.#spool.close();
  }

  status(): SourceStatus {
    return {
      name: this.name,
      kind: this.kind,
      running: this.#running,
      inFlight: this.#runner.inFlight,
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
    };
  }
}

export function createSftpSource(options: SftpSourceOptions): SftpSource {
  return new SftpSource(options);
}
