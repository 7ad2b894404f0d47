/**
 * The Ministry's public keys (bezpieczenstwo/klucze-publiczne-do-szyfrowania.md): fetched from
 * GET /security/public-key-certificates, cached, selected per usage as "valid now, latest validFrom",
 * re-fetched when the cached one expires, after `maxAgeMs`, or when KSeF answers 21470
 * (unknown or withdrawn key) — the caller then repeats its operation once with the new key.
 */
import type { KeyObject } from 'node:crypto';
import { publicKeyFromCertificate, publicKeyIdOf } from './crypto.js';
import { KsefClientError } from './errors.js';
import { systemClock, type Clock } from './limiter.js';
import type { PublicKeyCertificate, PublicKeyCertificateUsage } from './types.js';

export interface KsefPublicKey {
  usage: PublicKeyCertificateUsage;
  key: KeyObject;
  publicKeyId: string;
  certificateId: string;
  validFrom: number;
  validTo: number;
}

export interface PublicKeyStoreOptions {
  /** Fetches the list (normally KsefApi.getPublicKeyCertificates with retries). */
  fetchCertificates: (signal?: AbortSignal) => Promise<PublicKeyCertificate[]>;
  clock?: Clock;
  /** Re-fetch the list at least this often (default 12 h), so planned rotations are seen early. */
  maxAgeMs?: number;
}

/** Picks the certificate for a usage valid at `nowMs`; prefers the latest validFrom (section 4.1). */
export function selectCertificate(list: PublicKeyCertificate[], usage: PublicKeyCertificateUsage, nowMs: number): PublicKeyCertificate | undefined {
  let best: PublicKeyCertificate | undefined;
  let bestFrom = Number.NEGATIVE_INFINITY;
  for (const c of list) {
    if (!Array.isArray(c.usage) || !c.usage.includes(usage)) continue;
    const from = Date.parse(c.validFrom);
    const to = Date.parse(c.validTo);
    if (!(from <= nowMs && nowMs < to)) continue;
    if (from > bestFrom) {
      best = c;
      bestFrom = from;
    }
  }
  return best;
}

export class PublicKeyStore {
  private list: PublicKeyCertificate[] | undefined;
  private fetchedAt = 0;
  private inflight: Promise<PublicKeyCertificate[]> | undefined;
  private readonly cache = new Map<string, KsefPublicKey>();
  private readonly clock: Clock;
  private readonly maxAgeMs: number;

  constructor(private readonly opts: PublicKeyStoreOptions) {
    this.clock = opts.clock ?? systemClock;
    this.maxAgeMs = opts.maxAgeMs ?? 12 * 3_600_000;
  }

  /** The key to encrypt with now, for a usage. */
  async get(usage: PublicKeyCertificateUsage, signal?: AbortSignal): Promise<KsefPublicKey> {
    const now = this.clock.now();
    if (!this.list || now - this.fetchedAt > this.maxAgeMs) await this.refresh(signal);
    let key = this.pick(usage);
    if (!key) {
      await this.refresh(signal); // cached one expired: the list may hold its successor
      key = this.pick(usage);
    }
    if (!key) {
      throw new KsefClientError('KSEF_PUBLIC_KEY_MISSING', `KSeF publishes no currently valid public key for ${usage}`, {
        field: 'usage',
        value: usage,
      });
    }
    return key;
  }

  /** Fetches the list again (single flight). */
  async refresh(signal?: AbortSignal): Promise<void> {
    if (!this.inflight) {
      this.inflight = this.opts.fetchCertificates(signal).finally(() => {
        this.inflight = undefined;
      });
    }
    const list = await this.inflight;
    if (!Array.isArray(list)) throw new KsefClientError('KSEF_BAD_RESPONSE', 'GET /security/public-key-certificates did not answer an array');
    this.list = list;
    this.fetchedAt = this.clock.now();
    this.cache.clear();
  }

  /** Forgets the list: the next get() fetches it (after a 21470 answer). */
  invalidate(): void {
    this.list = undefined;
    this.cache.clear();
  }

  private pick(usage: PublicKeyCertificateUsage): KsefPublicKey | undefined {
    const now = this.clock.now();
    const cached = this.cache.get(usage);
    if (cached && cached.validFrom <= now && now < cached.validTo) return cached;
    const cert = this.list ? selectCertificate(this.list, usage, now) : undefined;
    if (!cert) return undefined;
    const key = publicKeyFromCertificate(cert.certificate);
    const k: KsefPublicKey = {
      usage,
      key,
      publicKeyId: cert.publicKeyId || publicKeyIdOf(key),
      certificateId: cert.certificateId,
      validFrom: Date.parse(cert.validFrom),
      validTo: Date.parse(cert.validTo),
    };
    this.cache.set(usage, k);
    return k;
  }
}
