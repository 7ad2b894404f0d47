/**
 * Authentication of one context (NIP) with a KSeF token (uwierzytelnianie.md 2.2, auth/sesje.md):
 * challenge -> RSA-OAEP(`token|timestampMs`) with the KsefTokenEncryption key -> POST /auth/ksef-token
 * -> poll GET /auth/{ref} with backoff until 200 -> POST /auth/token/redeem. The access token is
 * refreshed `refreshMarginMs` before it expires; when refreshing fails (or the refresh token is
 * near its end) the whole authentication runs again. Tokens live in this object's memory only.
 */
import { inspect } from 'node:util';
import { encryptKsefToken } from './crypto.js';
import { KsefApiError, KsefClientError, KsefRateLimitError, KsefStatusError } from './errors.js';
import type { KsefApi } from './api.js';
import { systemClock, type Clock } from './limiter.js';
import type { PublicKeyStore } from './public-keys.js';
import { retrySafe, type RetryPolicy } from './retry.js';
import type { AuthenticationContextIdentifierType, AuthenticationListItem } from './types.js';

/** Anything that hands out the secret only on purpose (the config's Secret class). */
export interface SecretLike {
  reveal(): string;
}

export interface KsefAuthOptions {
  /** Context identifier value (NIP). */
  nip: string;
  contextType?: AuthenticationContextIdentifierType;
  ksefToken: SecretLike;
  /** Refresh the access token this long before it expires (default 60 s). */
  refreshMarginMs?: number;
  /** First wait between status polls (default 200 ms), growing 1.5x up to pollMaxIntervalMs (default 2 s). */
  pollIntervalMs?: number;
  pollMaxIntervalMs?: number;
  /** Give up waiting for status 200 after this long (default 2 min). */
  authTimeoutMs?: number;
  clock?: Clock;
}

export interface AuthState {
  authenticated: boolean;
  referenceNumber: string | undefined;
  accessTokenValidUntil: number | undefined;
  refreshTokenValidUntil: number | undefined;
  /** How many full authentications this object ran. */
  authentications: number;
  /** How many access-token refreshes succeeded. */
  refreshes: number;
}

interface Tokens {
  referenceNumber: string;
  access: string;
  accessIssuedAt: number;
  accessValidUntil: number;
  refresh: string;
  refreshValidUntil: number;
}

const FAILURE_HINTS: Record<number, string> = {
  415: 'the KSeF token has no permissions in this context: grant InvoiceWrite to the token in KSeF',
  425: 'the authentication was revoked; the bridge will authenticate again',
  450: 'KSeF rejected the token: check the token in ksef.ini (revoked, inactive or for another context/environment)',
  480: 'authentication blocked by KSeF security: contact the Ministry of Finance',
};

export class KsefAuth {
  readonly nip: string;
  private readonly contextType: AuthenticationContextIdentifierType;
  readonly #secret: SecretLike;
  private readonly refreshMarginMs: number;
  private readonly pollIntervalMs: number;
  private readonly pollMaxIntervalMs: number;
  private readonly authTimeoutMs: number;
  private readonly clock: Clock;
  #tokens: Tokens | undefined;
  private inflight: Promise<string> | undefined;
  /** Reference numbers of authentications this object created (for clean-up). */
  private readonly ownSessions = new Set<string>();
  private counters = { authentications: 0, refreshes: 0 };

  constructor(
    private readonly api: KsefApi,
    private readonly keys: PublicKeyStore,
    private readonly retry: RetryPolicy,
    opts: KsefAuthOptions,
  ) {
    if (!opts.nip) throw new KsefClientError('KSEF_CONTEXT_MISSING', 'a context identifier (NIP) is required', { field: 'nip' });
    this.nip = opts.nip;
    this.contextType = opts.contextType ?? 'Nip';
    this.#secret = opts.ksefToken;
    this.refreshMarginMs = opts.refreshMarginMs ?? 60_000;
    this.pollIntervalMs = opts.pollIntervalMs ?? 200;
    this.pollMaxIntervalMs = opts.pollMaxIntervalMs ?? 2_000;
    this.authTimeoutMs = opts.authTimeoutMs ?? 120_000;
    this.clock = opts.clock ?? systemClock;
  }

  /** Printing the object never shows a token. */
  [inspect.custom](): string {
    return `KsefAuth(${this.nip}, ${this.#tokens ? 'authenticated' : 'not authenticated'})`;
  }

  toJSON(): Record<string, unknown> {
    return { nip: this.nip, ...this.state };
  }

  get state(): AuthState {
    return {
      authenticated: this.#tokens !== undefined,
      referenceNumber: this.#tokens?.referenceNumber,
      accessTokenValidUntil: this.#tokens?.accessValidUntil,
      refreshTokenValidUntil: this.#tokens?.refreshValidUntil,
      ...this.counters,
    };
  }

  /** A valid access token: authenticates, refreshes or re-authenticates as needed (single flight). */
  async accessToken(signal?: AbortSignal): Promise<string> {
    const t = this.#tokens;
    if (t && this.clock.now() < t.accessValidUntil - this.margin(t)) return t.access;
    if (!this.inflight) {
      this.inflight = this.renew(signal).finally(() => {
        this.inflight = undefined;
      });
    }
    return this.inflight;
  }

  /** Refresh margin, at most half the token's lifetime (short-lived tokens are not refreshed on every call). */
  private margin(t: Tokens): number {
    return Math.min(this.refreshMarginMs, Math.max(0, (t.accessValidUntil - t.accessIssuedAt) / 2));
  }

  /** Drops the access token after a 401 so the next accessToken() refreshes it. */
  invalidateAccessToken(token?: string): void {
    if (this.#tokens && (token === undefined || this.#tokens.access === token)) this.#tokens.accessValidUntil = 0;
  }

  /** Forces a full authentication now. */
  async authenticate(signal?: AbortSignal): Promise<void> {
    await this.fullAuthentication(signal);
  }

  private async renew(signal?: AbortSignal): Promise<string> {
    const t = this.#tokens;
    const now = this.clock.now();
    if (t && now < t.refreshValidUntil - this.refreshMarginMs) {
      try {
        const r = await retrySafe(() => this.api.refreshAccessToken(t.refresh, { signal }), this.retry, signal);
        t.access = r.accessToken.token;
        t.accessIssuedAt = this.clock.now();
        t.accessValidUntil = parseDate(r.accessToken.validUntil, 'accessToken.validUntil');
        this.counters.refreshes++;
        return t.access;
      } catch (e) {
        // Transient failure while the old token still works: keep using it.
        if (!(e instanceof KsefApiError) || e.delivery !== 'rejected' || e instanceof KsefRateLimitError) {
          if (now < t.accessValidUntil) return t.access;
          throw e;
        }
        // Refresh rejected (revoked, expired, 21301...): authenticate again.
      }
    }
    return this.fullAuthentication(signal);
  }

  private async fullAuthentication(signal?: AbortSignal): Promise<string> {
    const init = await this.initWithKeyRetry(signal);
    const ref = init.referenceNumber;
    this.ownSessions.add(ref);
    const authToken = init.authenticationToken.token;
    await this.waitForSuccess(ref, authToken, signal);
    // Redeem is one-shot (a second call answers 400): no retry here; a failure restarts the whole flow next time.
    const tokens = await this.api.redeemToken(authToken, { signal, referenceNumber: ref });
    this.#tokens = {
      referenceNumber: ref,
      access: tokens.accessToken.token,
      accessIssuedAt: this.clock.now(),
      accessValidUntil: parseDate(tokens.accessToken.validUntil, 'accessToken.validUntil'),
      refresh: tokens.refreshToken.token,
      refreshValidUntil: parseDate(tokens.refreshToken.validUntil, 'refreshToken.validUntil'),
    };
    this.counters.authentications++;
    return this.#tokens.access;
  }

  private async initWithKeyRetry(signal?: AbortSignal) {
    for (let attempt = 0; ; attempt++) {
      const challenge = await retrySafe(() => this.api.getChallenge({ signal }), this.retry, signal);
      const key = await this.keys.get('KsefTokenEncryption', signal);
      const encryptedToken = encryptKsefToken(key.key, this.#secret.reveal(), challenge.timestampMs);
      try {
        return await retrySafe(
          () =>
            this.api.initTokenAuthentication(
              {
                challenge: challenge.challenge,
                contextIdentifier: { type: this.contextType, value: this.nip },
                encryptedToken,
                publicKeyId: key.publicKeyId,
              },
              { signal },
            ),
          this.retry,
          signal,
        );
      } catch (e) {
        if (attempt === 0 && e instanceof KsefApiError && e.hasCode(21470)) {
          await this.keys.refresh(signal); // key rotated: fetch the list once and try again
          continue;
        }
        throw e;
      }
    }
  }

  private async waitForSuccess(ref: string, authToken: string, signal?: AbortSignal): Promise<void> {
    const deadline = this.clock.now() + this.authTimeoutMs;
    let wait = this.pollIntervalMs;
    for (;;) {
      const st = await retrySafe(() => this.api.getAuthStatus(ref, authToken, { signal }), this.retry, signal);
      const code = st.status?.code;
      if (code === 200) return;
      if (code !== 100) {
        throw new KsefStatusError(`KSEF_AUTH_STATUS_${code}`, `authentication ${ref} failed: ${code} ${st.status?.description ?? ''}`.trim(), {
          statusCode: code ?? 0,
          description: st.status?.description ?? '',
          details: st.status?.details,
          referenceNumber: ref,
          hint: FAILURE_HINTS[code ?? 0],
        });
      }
      if (this.clock.now() + wait > deadline) {
        throw new KsefStatusError('KSEF_AUTH_TIMEOUT', `authentication ${ref} still in progress after ${this.authTimeoutMs} ms`, {
          statusCode: 100,
          description: st.status.description,
          referenceNumber: ref,
          hint: 'KSeF is slow to verify the authentication; try again later',
        });
      }
      await this.clock.sleep(wait, signal);
      wait = Math.min(this.pollMaxIntervalMs, Math.round(wait * 1.5));
    }
  }

  /** All active authentication sessions of the context (GET /auth/sessions, every page). */
  async listSessions(signal?: AbortSignal): Promise<AuthenticationListItem[]> {
    const out: AuthenticationListItem[] = [];
    let continuationToken: string | undefined;
    do {
      const token = await this.accessToken(signal);
      const page = await retrySafe(() => this.api.listAuthSessions(token, { pageSize: 100, continuationToken, signal }), this.retry, signal);
      out.push(...(page.items ?? []));
      continuationToken = page.continuationToken || undefined;
    } while (continuationToken);
    return out;
  }

  /**
   * Revokes stale authentication sessions: those this bridge opened earlier (this object's previous
   * authentications, plus `alsoRevoke` reference numbers the caller kept from earlier runs) that are
   * not the current one. Sessions of other systems in the same context are never touched.
   * Returns the reference numbers revoked.
   */
  async cleanupSessions(alsoRevoke: Iterable<string> = [], signal?: AbortSignal): Promise<string[]> {
    const mine = new Set<string>([...this.ownSessions, ...alsoRevoke]);
    const current = this.#tokens?.referenceNumber;
    const revoked: string[] = [];
    for (const s of await this.listSessions(signal)) {
      if (s.isCurrent || s.referenceNumber === current || !mine.has(s.referenceNumber)) continue;
      const token = await this.accessToken(signal);
      await retrySafe(() => this.api.revokeAuthSession(s.referenceNumber, token, { signal }), this.retry, signal);
      this.ownSessions.delete(s.referenceNumber);
      revoked.push(s.referenceNumber);
    }
    return revoked;
  }

  /** Ends the current authentication (DELETE /auth/sessions/current) and forgets the tokens. */
  async logout(signal?: AbortSignal): Promise<void> {
    const t = this.#tokens;
    if (!t) return;
    this.#tokens = undefined;
    await this.api.revokeCurrentAuthSession(t.refresh, { signal });
  }
}

function parseDate(s: string, field: string): number {
  const n = Date.parse(s);
  if (!Number.isFinite(n)) throw new KsefClientError('KSEF_BAD_RESPONSE', `KSeF answered an invalid date in ${field}`, { field });
  return n;
}
