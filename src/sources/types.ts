/**
 * The one narrow interface every source implements. A source takes documents from
 * somewhere (a folder, an SFTP server, an HTTP request, an RFC call), makes each a
 * local file in its `processing/` folder, and hands it to the pipeline's handler.
 * The source releases the document at its origin (archive, remote move, 200 answer,
 * IDoc confirmation) only after the handler resolved, i.e. once the document is
 * durable in the store.
 */
import type { BridgeLogger } from '../log/index.js';

/** Where a claimed file came from. */
export type SourceOrigin =
  | { kind: 'folder'; inbox: string }
  | { kind: 'sftp'; host: string; port: number; remotePath: string; remoteSize: number; remoteMtimeMs: number }
  | { kind: 'http'; requestPath: string; contentType: string; remoteAddress?: string }
  | { kind: 'rfc'; docnum: string; idocType: string; messageType: string; functionModule: string };

export type SourceKind = SourceOrigin['kind'];

/** A document the source has claimed: a stable local file in `processing/`. */
export interface ClaimedFile {
  /** Unique id of this claim (the file's name in `processing/`); stable across a restart. */
  readonly id: string;
  /** Name of the source that claimed it. */
  readonly source: string;
  /** Route the pipeline should use (the source's route, or the one named in the URL for HTTP). */
  readonly route: string;
  /** Original file name (as dropped, downloaded, posted or built from the IDoc number). */
  readonly name: string;
  /** Absolute local path in `processing/`; the file does not change while the handler runs. */
  readonly path: string;
  /** SHA-256 of the content, lowercase hex: the document identity for the store. */
  readonly sha256: string;
  readonly size: number;
  /** When the source first took the file (kept across a restart). */
  readonly receivedAt: Date;
  /** True when this claim was left in `processing/` by an earlier run and is handed over again. */
  readonly recovered: boolean;
  readonly origin: SourceOrigin;
  /** The whole content. */
  bytes(): Promise<Buffer>;
}

/**
 * What the pipeline decided. `done`: every document in the file is durable in the store
 * (or was already there: same content hash). `failed`: the file has problems a person must
 * look at; `report` explains them in the consultant's terms and, when `partial` is true,
 * lists the invoices that went on. Either way the source releases the file (archive or error).
 */
export type Outcome = { kind: 'done'; report?: string } | { kind: 'failed'; report: string; partial?: boolean };

/**
 * The pipeline. Resolves only after everything in the file is durable in the store.
 * Throwing (or rejecting) means "not durable, try again later": the file stays in
 * `processing/` and is handed over again after a backoff (or on the next start).
 */
export type SourceHandler = (file: ClaimedFile) => Promise<Outcome>;

export interface SourceStatus {
  readonly name: string;
  readonly kind: SourceKind;
  readonly running: boolean;
  /** Claims handed to the handler and not yet released. */
  readonly inFlight: number;
  /** Last problem reaching the origin (connection refused, host key mismatch...), cleared on success. */
  readonly lastError?: string;
}

export interface Source {
  readonly name: string;
  readonly kind: SourceKind;
  /** Starts intake; files left in `processing/` by a crash are handed to the handler first. */
  start(handler: SourceHandler): Promise<void>;
  /** Stops intake and waits for in-flight handlers; what is not finished stays in `processing/`. */
  stop(): Promise<void>;
  status(): SourceStatus;
}

/** Local folders of a source. All must be on one filesystem (claims are renames). */
export interface SpoolDirs {
  /** Claimed files while the handler runs. One source instance per folder (locked). */
  processing: string;
  /** Released files, in dated sub-folders YYYY-MM-DD. */
  archive: string;
  /** Files with problems, each with `<name>.error.txt`. */
  error: string;
}

/** Options every source takes. */
export interface CommonSourceOptions {
  /** Source name (shown in logs and status). */
  name: string;
  /** Route for the pipeline; defaults to the source name. */
  route?: string;
  /** Local folders; see each source for defaults. */
  dirs?: Partial<SpoolDirs>;
  /** Handlers running at once (default 4). */
  concurrency?: number;
  /** Backoff after a handler error or an unreachable origin (default 1 s doubling to 5 min, with jitter). */
  backoff?: BackoffOptions;
  logger?: BridgeLogger;
}

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** 0..1: each delay is multiplied by a random factor in [1 - jitter, 1] (default 0.5). */
  jitter?: number;
}
