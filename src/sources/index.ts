/**
 * Sources: where documents come from. Each kind implements `Source` (start with a handler,
 * stop, status) and hands the pipeline a `ClaimedFile`; a new kind is one new file here.
 */
export type {
  BackoffOptions,
  ClaimedFile,
  CommonSourceOptions,
  Outcome,
  Source,
  SourceHandler,
  SourceKind,
  SourceOrigin,
  SourceStatus,
  SpoolDirs,
} from './types.js';
export { FolderSource, createFolderSource, type FolderSourceOptions, type TriggerOptions } from './folder.js';
export { SftpSource, createSftpSource, sshFingerprint, type SftpSourceOptions } from './sftp.js';
export { HttpIntake, createHttpIntake, type HttpIntakeOptions, type HttpUser } from './http.js';
export {
  RfcSource,
  createRfcSource,
  buildIdocFlat,
  loadNodeRfc,
  type RfcClientFactory,
  type RfcClientLike,
  type RfcRow,
  type RfcSourceOptions,
} from './rfc.js';
