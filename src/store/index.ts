/**
 * The SQLite store: documents with their state machine and history, KSeF sessions,
 * UPOs, sync checkpoints and rate-limit events. Open with openStore(file).
 */
export { openStore, Store } from './store.js';
export type { OpenStoreOptions, AppliedMigration } from './store.js';
export { DOCUMENT_STATES, DOCUMENT_TRANSITIONS, DocumentRepository } from './documents.js';
export type {
  DocumentState,
  InitialDocumentState,
  OfflineMode,
  DocumentError,
  DocumentRecord,
  NewDocument,
  DocumentPatch,
  DocumentEvent,
  ListOptions,
  InsertManyResult,
  TransitionOptions,
  TransitionManyOptions,
  TransitionManyResult,
} from './documents.js';
export { SessionRepository, UpoRepository, CheckpointRepository, RateLimitEventRepository } from './repositories.js';
export type {
  SessionKind,
  SessionRecord,
  NewSession,
  SessionUpdate,
  UpoRecord,
  NewUpo,
  UpoEntryLink,
  DocumentUpo,
  CheckpointRecord,
  RateLimitEventRecord,
  NewRateLimitEvent,
} from './repositories.js';
export { MIGRATIONS } from './migrations.js';
export type { Migration } from './migrations.js';
