/** Public types of the dispatcher (the outbox). */
import type { KsefClient } from '../ksef/index.js';
import type { BridgeLogger } from '../log/index.js';
import type { Store } from '../store/index.js';
import type { CrashPoint } from './crash.js';

export type SessionMode = 'immediate' | 'batch';
export type PackageFormat = 'zip' | 'tar.gz';

/** One KSeF context the dispatcher sends for: its NIP and its own client (auth, sessions, limiter). */
export interface DispatchCompany {
  nip: string;
  /** For people: 'default' or the [company:<name>] name. */
  name: string;
  client: KsefClient;
  /** Environment label stored with the sessions (test, demo, prod, emulator). */
  environment: string;
}

export interface TimeOfDayLike {
  hour: number;
  minute: number;
}

export interface BatchSettings {
  /** Invoices per batch session (<= 10,000). */
  maxInvoices: number;
  /** Send a batch when its oldest document has waited this long (background mode). */
  maxWaitMs?: number;
  /** Local times of day at which waiting documents go out (background mode). */
  sendAt?: readonly TimeOfDayLike[];
  /** Largest package before encryption (bytes). */
  maxPackageSizeBytes: number;
  format: PackageFormat;
  /** Largest part before encryption (default: KSeF's 100 MB); smaller values force several parts. */
  maxPartSize?: number;
  /** Parts uploaded at the same time (default 4). */
  uploadConcurrency?: number;
  /** Deflate level of the package (default 6). */
  level?: number;
}

export type DispatchStage =
  | 'reconcile'
  | 'online-open'
  | 'online-send'
  | 'online-close'
  | 'batch-package'
  | 'batch-encrypt'
  | 'batch-open'
  | 'batch-upload'
  | 'batch-close'
  | 'batch-wait'
  | 'batch-results'
  | 'upo'
  | 'unavailable';

/** One line of progress on long work (a batch being built, uploaded, processed; invoices sent). */
export interface DispatchProgress {
  company: string;
  nip: string;
  stage: DispatchStage;
  done: number;
  total: number;
  session?: string;
  message?: string;
}

export interface DispatcherOptions {
  store: Store;
  companies: readonly DispatchCompany[];
  sessionMode: SessionMode;
  /** Immediate mode: more queued documents than this at once go out in a batch session (0 = never). */
  autoBatchThreshold: number;
  batch: BatchSettings;
  logger?: BridgeLogger;
  onProgress?: (p: DispatchProgress) => void;
  /** Close the interactive session after this long without work (background mode; default 60 s). */
  idleCloseMs?: number;
  /** Open a new interactive session when the current one has less than this left (default 30 min of its 12 h). */
  sessionRenewMarginMs?: number;
  /** Invoices per interactive session before a new one is opened (default 9,000; KSeF allows 10,000). */
  maxInvoicesPerOnlineSession?: number;
  /** First interval of status polling (default 20 ms; it grows up to maxPollIntervalMs). */
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  /** How long one invoice or session is awaited before it is left to the next round (default 10 min). */
  waitTimeoutMs?: number;
  /** Times a document may enter `sending` before a non-transient failure rejects it (default 5). */
  maxAttempts?: number;
  /** Pause of a company after KSeF was unavailable: first and longest (default 1 s and 60 s). */
  backoffMs?: { min: number; max: number };
  /** Crash points for tests (default: KSEF_BRIDGE_CRASH_AT). */
  crashPoint?: CrashPoint;
  /** Clock (ms since epoch); default Date.now. */
  now?: () => number;
}

export interface EnqueueInput {
  /** FA(3) XML exactly as it will be sent. */
  xml: string;
  /** Where it came from (default 'cli'); with the content hash its identity. */
  source?: string;
  /** File name or record locator, for people. */
  sourceRef?: string;
}

export interface EnqueueOptions {
  /** Validate (FA(3) XSD + semantic rules) before queueing (default true). */
  validate?: boolean;
  /** Date for "issue date not in the future" (YYYY-MM-DD), default today. */
  today?: string;
  schemaDir?: string;
}

export interface EnqueueIssue {
  code: string;
  message: string;
  line?: number;
  path?: string;
}

export interface EnqueueResult {
  documentId: number;
  /** False when the same document (source + content hash) was already in the store. */
  created: boolean;
  state: string;
  issues: EnqueueIssue[];
}

export interface DrainOptions {
  /** Give up (leaving documents queued, nothing lost) after this long; default 10 min. */
  timeoutMs?: number;
  /** Wait until every accepted document has its UPO (default true). */
  waitForUpo?: boolean;
  /** Only wait for these documents (others are sent too, but not awaited). */
  documentIds?: readonly number[];
  signal?: AbortSignal;
}

export interface DrainResult {
  /** Documents per state after the run, for the awaited documents. */
  states: Record<string, number>;
  /** True when everything awaited reached accepted/confirmed/rejected/invalid. */
  complete: boolean;
  /** Last problem per company that kept documents waiting, if any. */
  waiting: { company: string; nip: string; reason: string }[];
}
