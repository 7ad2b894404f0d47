/**
 * Sources: where documents come from. Each kind implements `Source` (start with a handler,
 * stop, status) and hands the pipeline a `ClaimedFile`; a new kind is one new file here.
 */
import type { Source } from './types.js';
import { createFolderSource, type FolderSourceOptions } from './folder.js';
import { createSftpSource, type SftpSourceOptions } from './sftp.js';
import { createHttpIntake, type HttpIntakeOptions } from './http.js';
import { createRfcSource, type RfcSourceOptions } from './rfc.js';

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

/** A source described by its kind and options (as a route's YAML gives it, after validation). */
export type SourceSpec =
  | ({ kind: 'folder' } & FolderSourceOptions)
  | ({ kind: 'sftp' } & SftpSourceOptions)
  | ({ kind: 'http' } & HttpIntakeOptions)
  | ({ kind: 'rfc' } & RfcSourceOptions);

/** Creates any kind of source; RFC loads node-rfc here (and fails with an install hint without it). */
export async function createSource(spec: SourceSpec): Promise<Source> {
  switch (spec.kind) {
    case 'folder':
      return createFolderSource(spec);
    case 'sftp':
      return createSftpSource(spec);
    case 'http':
      return createHttpIntake(spec);
    case 'rfc':
      return createRfcSource(spec);
  }
}
