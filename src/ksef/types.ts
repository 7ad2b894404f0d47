/**
 * Types of the KSeF 2.0 API requests and responses this client uses, hand-written from the
 * components/schemas of the official open-api.json (API 2.6.0). Names follow the spec.
 * Dates are ISO-8601 strings as on the wire.
 */

export type PublicKeyCertificateUsage = 'KsefTokenEncryption' | 'SymmetricKeyEncryption';

export interface PublicKeyCertificate {
  /** DER certificate, Base64. */
  certificate: string;
  certificateId: string;
  publicKeyId: string;
  validFrom: string;
  validTo: string;
  usage: PublicKeyCertificateUsage[];
}

export interface AuthenticationChallengeResponse {
  challenge: string;
  timestamp: string;
  timestampMs: number;
  clientIp: string;
}

export type AuthenticationContextIdentifierType = 'Nip' | 'InternalId' | 'NipVatUe' | 'PeppolId';

export interface AuthenticationContextIdentifier {
  type: AuthenticationContextIdentifierType;
  value: string;
}

export interface InitTokenAuthenticationRequest {
  challenge: string;
  contextIdentifier: AuthenticationContextIdentifier;
  encryptedToken: string;
  publicKeyId?: string | null;
}

export interface TokenInfo {
  token: string;
  validUntil: string;
}

export interface AuthenticationInitResponse {
  referenceNumber: string;
  authenticationToken: TokenInfo;
}

export interface StatusInfo {
  code: number;
  description: string;
  details?: string[] | null;
}

export interface AuthenticationMethodInfo {
  category: string;
  code: string;
  displayName: string;
}

export interface AuthenticationOperationStatusResponse {
  startDate: string;
  authenticationMethod?: string;
  authenticationMethodInfo?: AuthenticationMethodInfo;
  status: StatusInfo;
  isTokenRedeemed?: boolean | null;
  lastTokenRefreshDate?: string | null;
  refreshTokenValidUntil?: string | null;
}

export interface AuthenticationTokensResponse {
  accessToken: TokenInfo;
  refreshToken: TokenInfo;
}

export interface AuthenticationTokenRefreshResponse {
  accessToken: TokenInfo;
}

export interface AuthenticationListItem extends AuthenticationOperationStatusResponse {
  referenceNumber: string;
  isCurrent?: boolean;
}

export interface AuthenticationListResponse {
  continuationToken?: string | null;
  items: AuthenticationListItem[];
}

export interface ExceptionDetails {
  exceptionCode?: number;
  exceptionDescription?: string | null;
  details?: string[] | null;
}

export interface ExceptionInfo {
  exceptionDetailList?: ExceptionDetails[] | null;
  referenceNumber?: string | null;
  serviceCode?: string | null;
  serviceCtx?: string | null;
  serviceName?: string | null;
  timestamp?: string;
}

/** Error body `application/json` (deprecated in the spec but still the default). */
export interface ExceptionResponse {
  exception?: ExceptionInfo | null;
}

/** Entry of `errors` in BadRequestProblemDetails. */
export interface ApiError {
  code: number;
  description: string;
  details?: string[] | null;
}

/** Error body `application/problem+json` (400/401/403/429). */
export interface ProblemDetails {
  title?: string;
  status?: number;
  instance?: string;
  detail?: string;
  errors?: ApiError[];
  reasonCode?: string;
  security?: Record<string, unknown> | null;
  timestamp?: string;
  traceId?: string;
}

export interface TooManyRequestsResponse {
  status: { code: number; description: string; details: string[] };
}

export interface FormCode {
  systemCode: string;
  schemaVersion: string;
  value: string;
}

/** FA(3): systemCode "FA (3)", schemaVersion "1-0E", value "FA". */
export const FORM_CODE_FA3: FormCode = Object.freeze({ systemCode: 'FA (3)', schemaVersion: '1-0E', value: 'FA' });

export interface EncryptionInfo {
  encryptedSymmetricKey: string;
  initializationVector: string;
  publicKeyId?: string | null;
}

export interface OpenOnlineSessionRequest {
  formCode: FormCode;
  encryption: EncryptionInfo;
}

export interface OpenOnlineSessionResponse {
  referenceNumber: string;
  validUntil: string;
}

export interface SendInvoiceRequest {
  invoiceHash: string;
  invoiceSize: number;
  encryptedInvoiceHash: string;
  encryptedInvoiceSize: number;
  encryptedInvoiceContent: string;
  offlineMode?: boolean;
  hashOfCorrectedInvoice?: string | null;
}

export interface SendInvoiceResponse {
  referenceNumber: string;
}

export type CompressionType = 'Zip' | 'TarGz';

export interface BatchFilePartInfo {
  ordinalNumber: number;
  fileSize: number;
  fileHash: string;
}

export interface BatchFileInfo {
  fileSize: number;
  fileHash: string;
  compressionType?: CompressionType | null;
  fileParts: BatchFilePartInfo[];
}

export interface OpenBatchSessionRequest {
  formCode: FormCode;
  batchFile: BatchFileInfo;
  encryption: EncryptionInfo;
  offlineMode?: boolean;
}

export interface PartUploadRequest {
  ordinalNumber: number;
  method: string;
  url: string;
  headers: Record<string, string | null>;
}

export interface OpenBatchSessionResponse {
  referenceNumber: string;
  partUploadRequests: PartUploadRequest[];
}

export interface UpoPageResponse {
  referenceNumber: string;
  downloadUrl: string;
  downloadUrlExpirationDate: string;
}

export interface UpoResponse {
  pages: UpoPageResponse[];
}

export interface SessionStatusResponse {
  status: StatusInfo;
  dateCreated: string;
  dateUpdated: string;
  validUntil?: string | null;
  upo?: UpoResponse | null;
  invoiceCount?: number | null;
  successfulInvoiceCount?: number | null;
  failedInvoiceCount?: number | null;
}

export type InvoicingMode = 'Online' | 'Offline';

export interface InvoiceStatusInfo {
  code: number;
  description: string;
  details?: string[] | null;
  /** e.g. for 440 duplicates: originalSessionReferenceNumber, originalKsefNumber. */
  extensions?: Record<string, string | null> | null;
}

export interface SessionInvoiceStatusResponse {
  ordinalNumber: number;
  invoiceNumber?: string | null;
  ksefNumber?: string | null;
  referenceNumber: string;
  invoiceHash: string;
  invoiceFileName?: string | null;
  acquisitionDate?: string | null;
  invoicingDate: string;
  permanentStorageDate?: string | null;
  upoDownloadUrl?: string | null;
  upoDownloadUrlExpirationDate?: string | null;
  invoicingMode?: InvoicingMode | null;
  status: InvoiceStatusInfo;
}

export interface SessionInvoicesResponse {
  continuationToken?: string | null;
  invoices: SessionInvoiceStatusResponse[];
}

export interface EffectiveApiRateLimitValues {
  perSecond: number;
  perMinute: number;
  perHour: number;
}

export interface EffectiveApiRateLimits {
  onlineSession: EffectiveApiRateLimitValues;
  batchSession: EffectiveApiRateLimitValues;
  invoiceSend: EffectiveApiRateLimitValues;
  invoiceStatus: EffectiveApiRateLimitValues;
  sessionList: EffectiveApiRateLimitValues;
  sessionInvoiceList: EffectiveApiRateLimitValues;
  sessionMisc: EffectiveApiRateLimitValues;
  invoiceMetadata: EffectiveApiRateLimitValues;
  invoiceExport: EffectiveApiRateLimitValues;
  invoiceExportStatus: EffectiveApiRateLimitValues;
  invoiceDownload: EffectiveApiRateLimitValues;
  other: EffectiveApiRateLimitValues;
}

export type SessionType = 'Online' | 'Batch';
export type CommonSessionStatus = 'InProgress' | 'Succeeded' | 'Failed' | 'Cancelled';

export interface SessionsQueryResponseItem {
  referenceNumber: string;
  status: StatusInfo;
  dateCreated: string;
  dateUpdated: string;
  validUntil?: string | null;
  totalInvoiceCount: number;
  successfulInvoiceCount: number;
  failedInvoiceCount: number;
}

export interface SessionsQueryResponse {
  continuationToken?: string | null;
  sessions: SessionsQueryResponseItem[];
}

export interface SessionsQuery {
  sessionType: SessionType;
  referenceNumber?: string;
  dateCreatedFrom?: string;
  dateCreatedTo?: string;
  dateClosedFrom?: string;
  dateClosedTo?: string;
  dateModifiedFrom?: string;
  dateModifiedTo?: string;
  statuses?: CommonSessionStatus[];
}
