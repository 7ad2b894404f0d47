/**
 * The outbox (dispatcher): documents through the states of DESIGN.md, immediate-UPO and batch-UPO sending,
 * automatic switch to batch, exactly-once reconciliation by invoice hash, one worker per company, UPO jobs.
 */
export { Dispatcher } from './dispatcher.js';
export { envCrashPoint } from './crash.js';
export type { CrashPoint } from './crash.js';
export { invoiceHashOf } from './worker.js';
export { documentUpo, upoNote } from './upo-note.js';
export type { DocumentUpoNote } from './upo-note.js';
export type {
  BatchSettings,
  DispatchCompany,
  DispatcherOptions,
  DispatchProgress,
  DispatchStage,
  DrainOptions,
  DrainResult,
  EnqueueInput,
  EnqueueIssue,
  EnqueueOptions,
  EnqueueResult,
  PackageFormat,
  SessionMode,
  TimeOfDayLike,
} from './types.js';
