/**
 * ksef.ini: loading, validation (every problem with file, line, key, value, allowed),
 * companies by NIP, and the effective configuration with secrets masked.
 */
export {
  loadConfig,
  describeConfig,
  companyForNip,
  requireCompanyForNip,
  loggerOptions,
  CONFIG_KEYS,
  KSEF_ENVIRONMENTS,
  KSEF_ENVIRONMENT_NAMES,
  DEFAULT_EMULATOR_PORT,
  KSEF_MAX_INVOICES_PER_SESSION,
  KSEF_MAX_PACKAGE_BYTES,
} from './load.js';
export type {
  BridgeConfig,
  CompanyConfig,
  KsefEnvironment,
  LoadConfigOptions,
  LoadConfigResult,
  PackageFormat,
  SessionMode,
  TokenSource,
} from './load.js';
export { ConfigLoadError } from './errors.js';
export {
  isValidNip,
  normalizeNip,
  parseDuration,
  formatDuration,
  parseTimeOfDay,
  formatTimeOfDay,
  parseSize,
  formatSize,
  END_OF_DAY,
} from './values.js';
export type { TimeOfDay, Parsed } from './values.js';
export { Secret } from '../log/index.js';
