/**
 * The KSeF 2.0 endpoints this bridge uses, one method each, typed from open-api.json.
 * Each method is one HTTP request through the transport (so: rate-limited, timed out, typed errors);
 * no retries, no token management here (see client.ts and auth.ts).
 */
import type { HttpTransport } from './http.js';
import type {
  AuthenticationChallengeResponse,
  AuthenticationInitResponse,
  AuthenticationListResponse,
  AuthenticationOperationStatusResponse,
  AuthenticationTokenRefreshResponse,
  AuthenticationTokensResponse,
  EffectiveApiRateLimits,
  InitTokenAuthenticationRequest,
  OpenBatchSessionRequest,
  OpenBatchSessionResponse,
  OpenOnlineSessionRequest,
  OpenOnlineSessionResponse,
  PublicKeyCertificate,
  SendInvoiceRequest,
  SendInvoiceResponse,
  SessionInvoiceStatusResponse,
  SessionInvoicesResponse,
  SessionStatusResponse,
  SessionsQuery,
  SessionsQueryResponse,
} from './types.js';

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface PageOptions extends CallOptions {
  pageSize?: number;
  continuationToken?: string;
}

export class KsefApi {
  constructor(readonly http: HttpTransport) {}

  async getPublicKeyCertificates(o: CallOptions = {}): Promise<PublicKeyCertificate[]> {
    const r = await this.http.request<PublicKeyCertificate[]>({ method: 'GET', template: '/security/public-key-certificates', ...o });
    return r.body;
  }

  async getChallenge(o: CallOptions = {}): Promise<AuthenticationChallengeResponse> {
    return (await this.http.request<AuthenticationChallengeResponse>({ method: 'POST', template: '/auth/challenge', ...o })).body;
  }

  async initTokenAuthentication(req: InitTokenAuthenticationRequest, o: CallOptions = {}): Promise<AuthenticationInitResponse> {
    return (await this.http.request<AuthenticationInitResponse>({ method: 'POST', template: '/auth/ksef-token', json: req, ...o })).body;
  }

  async getAuthStatus(referenceNumber: string, authenticationToken: string, o: CallOptions = {}): Promise<AuthenticationOperationStatusResponse> {
    return (
      await this.http.request<AuthenticationOperationStatusResponse>({
        method: 'GET',
        template: '/auth/{referenceNumber}',
        params: { referenceNumber },
        bearer: authenticationToken,
        referenceNumber,
        ...o,
      })
    ).body;
  }

  async redeemToken(authenticationToken: string, o: CallOptions & { referenceNumber?: string } = {}): Promise<AuthenticationTokensResponse> {
    return (await this.http.request<AuthenticationTokensResponse>({ method: 'POST', template: '/auth/token/redeem', bearer: authenticationToken, ...o })).body;
  }

  async refreshAccessToken(refreshToken: string, o: CallOptions = {}): Promise<AuthenticationTokenRefreshResponse> {
    return (await this.http.request<AuthenticationTokenRefreshResponse>({ method: 'POST', template: '/auth/token/refresh', bearer: refreshToken, ...o })).body;
  }

  async listAuthSessions(accessToken: string, o: PageOptions = {}): Promise<AuthenticationListResponse> {
    return (
      await this.http.request<AuthenticationListResponse>({
        method: 'GET',
        template: '/auth/sessions',
        bearer: accessToken,
        query: { pageSize: o.pageSize },
        headers: { 'x-continuation-token': o.continuationToken },
        signal: o.signal,
        timeoutMs: o.timeoutMs,
      })
    ).body;
  }

  async revokeCurrentAuthSession(token: string, o: CallOptions = {}): Promise<void> {
    await this.http.request<void>({ method: 'DELETE', template: '/auth/sessions/current', bearer: token, responseType: 'none', ...o });
  }

  async revokeAuthSession(referenceNumber: string, accessToken: string, o: CallOptions = {}): Promise<void> {
    await this.http.request<void>({
      method: 'DELETE',
      template: '/auth/sessions/{referenceNumber}',
      params: { referenceNumber },
      bearer: accessToken,
      responseType: 'none',
      referenceNumber,
      ...o,
    });
  }

  async getRateLimits(accessToken: string, o: CallOptions = {}): Promise<EffectiveApiRateLimits> {
    return (await this.http.request<EffectiveApiRateLimits>({ method: 'GET', template: '/rate-limits', bearer: accessToken, ...o })).body;
  }

  async openOnlineSession(req: OpenOnlineSessionRequest, accessToken: string, o: CallOptions = {}): Promise<OpenOnlineSessionResponse> {
    return (await this.http.request<OpenOnlineSessionResponse>({ method: 'POST', template: '/sessions/online', json: req, bearer: accessToken, ...o })).body;
  }

  async sendInvoice(referenceNumber: string, req: SendInvoiceRequest, accessToken: string, o: CallOptions = {}): Promise<SendInvoiceResponse> {
    return (
      await this.http.request<SendInvoiceResponse>({
        method: 'POST',
        template: '/sessions/online/{referenceNumber}/invoices',
        params: { referenceNumber },
        json: req,
        bearer: accessToken,
        referenceNumber,
        ...o,
      })
    ).body;
  }

  async closeOnlineSession(referenceNumber: string, accessToken: string, o: CallOptions = {}): Promise<void> {
    await this.http.request<void>({
      method: 'POST',
      template: '/sessions/online/{referenceNumber}/close',
      params: { referenceNumber },
      bearer: accessToken,
      responseType: 'none',
      referenceNumber,
      ...o,
    });
  }

  async openBatchSession(req: OpenBatchSessionRequest, accessToken: string, o: CallOptions = {}): Promise<OpenBatchSessionResponse> {
    return (await this.http.request<OpenBatchSessionResponse>({ method: 'POST', template: '/sessions/batch', json: req, bearer: accessToken, ...o })).body;
  }

  async closeBatchSession(referenceNumber: string, accessToken: string, o: CallOptions = {}): Promise<void> {
    await this.http.request<void>({
      method: 'POST',
      template: '/sessions/batch/{referenceNumber}/close',
      params: { referenceNumber },
      bearer: accessToken,
      responseType: 'none',
      referenceNumber,
      ...o,
    });
  }

  async listSessions(query: SessionsQuery, accessToken: string, o: PageOptions = {}): Promise<SessionsQueryResponse> {
    const q: Record<string, string | number | readonly string[] | undefined> = { ...query, pageSize: o.pageSize };
    const r = await this.http.request<SessionsQueryResponse>({
      method: 'GET',
      template: '/sessions',
      query: q,
      bearer: accessToken,
      headers: { 'x-continuation-token': o.continuationToken },
      signal: o.signal,
      timeoutMs: o.timeoutMs,
    });
    return r.body;
  }

  async getSessionStatus(referenceNumber: string, accessToken: string, o: CallOptions = {}): Promise<SessionStatusResponse> {
    return (
      await this.http.request<SessionStatusResponse>({
        method: 'GET',
        template: '/sessions/{referenceNumber}',
        params: { referenceNumber },
        bearer: accessToken,
        referenceNumber,
        ...o,
      })
    ).body;
  }

  async getSessionInvoices(referenceNumber: string, accessToken: string, o: PageOptions = {}): Promise<SessionInvoicesResponse> {
    return this.invoicePage('/sessions/{referenceNumber}/invoices', referenceNumber, accessToken, o);
  }

  async getSessionFailedInvoices(referenceNumber: string, accessToken: string, o: PageOptions = {}): Promise<SessionInvoicesResponse> {
    return this.invoicePage('/sessions/{referenceNumber}/invoices/failed', referenceNumber, accessToken, o);
  }

  private async invoicePage(template: string, referenceNumber: string, accessToken: string, o: PageOptions): Promise<SessionInvoicesResponse> {
    return (
      await this.http.request<SessionInvoicesResponse>({
        method: 'GET',
        template,
        params: { referenceNumber },
        query: { pageSize: o.pageSize },
        headers: { 'x-continuation-token': o.continuationToken },
        bearer: accessToken,
        referenceNumber,
        signal: o.signal,
        timeoutMs: o.timeoutMs,
      })
    ).body;
  }

  async getSessionInvoice(referenceNumber: string, invoiceReferenceNumber: string, accessToken: string, o: CallOptions = {}): Promise<SessionInvoiceStatusResponse> {
    return (
      await this.http.request<SessionInvoiceStatusResponse>({
        method: 'GET',
        template: '/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}',
        params: { referenceNumber, invoiceReferenceNumber },
        bearer: accessToken,
        referenceNumber: invoiceReferenceNumber,
        ...o,
      })
    ).body;
  }

  async getInvoiceUpo(referenceNumber: string, invoiceReferenceNumber: string, accessToken: string, o: CallOptions = {}): Promise<string> {
    return (
      await this.http.request<string>({
        method: 'GET',
        template: '/sessions/{referenceNumber}/invoices/{invoiceReferenceNumber}/upo',
        params: { referenceNumber, invoiceReferenceNumber },
        bearer: accessToken,
        responseType: 'text',
        referenceNumber: invoiceReferenceNumber,
        ...o,
      })
    ).body;
  }

  async getInvoiceUpoByKsefNumber(referenceNumber: string, ksefNumber: string, accessToken: string, o: CallOptions = {}): Promise<string> {
    return (
      await this.http.request<string>({
        method: 'GET',
        template: '/sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo',
        params: { referenceNumber, ksefNumber },
        bearer: accessToken,
        responseType: 'text',
        referenceNumber,
        ...o,
      })
    ).body;
  }

  async getSessionUpo(referenceNumber: string, upoReferenceNumber: string, accessToken: string, o: CallOptions = {}): Promise<string> {
    return (
      await this.http.request<string>({
        method: 'GET',
        template: '/sessions/{referenceNumber}/upo/{upoReferenceNumber}',
        params: { referenceNumber, upoReferenceNumber },
        bearer: accessToken,
        responseType: 'text',
        referenceNumber,
        ...o,
      })
    ).body;
  }
}
