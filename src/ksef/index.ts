/**
 * Public face of the KSeF 2.0 client: typed endpoints, authentication with a KSeF token, public keys,
 * crypto, interactive and batch sessions, status and UPO, typed errors, and the one rate limiter.
 */
export { KsefClient, KSEF_BASE_URLS } from './client.js';
export type {
  KsefClientOptions,
  OnlineSession,
  SendInvoiceOptions,
  PreparedInvoice,
  SentInvoice,
  BatchSession,
  BatchStage,
  BatchProgress,
  UploadOptions,
  SendBatchOptions,
  SendBatchResult,
  CloseResult,
  WaitOptions,
  SessionUpoPage,
} from './client.js';
export { KsefApi } from './api.js';
export type { CallOptions, PageOptions } from './api.js';
export { KsefAuth } from './auth.js';
export type { KsefAuthOptions, AuthState, SecretLike } from './auth.js';
export { PublicKeyStore, selectCertificate } from './public-keys.js';
export type { KsefPublicKey, PublicKeyStoreOptions } from './public-keys.js';
export { HttpTransport, parseRetryAfter, exceptionsOf, parseSystemWarning } from './http.js';
export type { HttpTransportOptions, KsefRequest, KsefResponse, HttpMethod, KsefRequestEvent, SystemWarning } from './http.js';
export {
  RateLimiter,
  InMemoryRateLimitStateStore,
  PRODUCTION_RATE_LIMITS,
  RATE_LIMIT_PROFILES,
  RATE_LIMIT_GROUPS,
  groupForEndpoint,
  systemClock,
  rateLimitStoreFromEventLog,
} from './limiter.js';
export type {
  RateLimitGroup,
  WindowLimits,
  RateLimitTable,
  KsefEnvironment,
  Clock,
  RateLimitEvent,
  RateLimitPause,
  RateLimitStateStore,
  RateLimiterOptions,
  GroupUsage,
  RateLimitEventLog,
} from './limiter.js';
export { retrySafe, DEFAULT_RETRY_POLICY } from './retry.js';
export type { RetryPolicy } from './retry.js';
export {
  sha256Base64,
  fileMetadata,
  rsaOaepEncrypt,
  encryptKsefToken,
  createSessionKey,
  wrapSessionKey,
  aesEncrypt,
  aesDecrypt,
  publicKeyFromCertificate,
  publicKeyIdOf,
} from './crypto.js';
export type { FileMetadata, SessionKey } from './crypto.js';
export { buildBatchPackage, splitPackage, encryptParts, BATCH_LIMITS } from './package.js';
export type { PackageFormat, InvoiceFile, BatchPackageOptions, BatchPackage, PackagedInvoice, EncryptedPart } from './package.js';
export { parseUpo, upoEntries } from './upo.js';
export type { ParsedUpo, UpoDocument, UpoEntry } from './upo.js';
export { crc8, parseKsefNumber, isValidKsefNumber } from './ksef-number.js';
export { classifyInvoiceStatus, sessionPhase } from './outcome.js';
export type { InvoiceOutcome, SessionPhase } from './outcome.js';
export type { KsefNumberParts } from './ksef-number.js';
export {
  KsefApiError,
  KsefRateLimitError,
  KsefTransientError,
  KsefProtocolError,
  KsefStatusError,
  KsefClientError,
  isRetryableKsefError,
} from './errors.js';
export type { KsefDelivery, TransientKind } from './errors.js';
export * from './types.js';
