/**
 * Retries (p-retry) for operations that are safe to repeat: reads, challenge, status polling,
 * part uploads to a pre-signed URL, opening sessions. Exponential backoff with jitter; a 429 does
 * not use up the retry budget (the limiter already holds the group until Retry-After) but is capped
 * by `maxRateLimitWaits`. Sending an invoice never goes through here.
 */
import pRetry, { AbortError } from 'p-retry';
import { KsefRateLimitError, isRetryableKsefError } from './errors.js';

export interface RetryPolicy {
  /** Retries after transient failures (timeouts, connection errors, 5xx); default 4. */
  retries: number;
  minTimeoutMs: number;
  maxTimeoutMs: number;
  factor: number;
  /** How many 429 answers in a row one operation waits out before giving up; default 5. */
  maxRateLimitWaits: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  retries: 4,
  minTimeoutMs: 300,
  maxTimeoutMs: 10_000,
  factor: 2,
  maxRateLimitWaits: 5,
});

export async function retrySafe<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy, signal?: AbortSignal): Promise<T> {
  let rateLimited = 0;
  return pRetry(
    async (attempt) => {
      try {
        return await fn(attempt);
      } catch (e) {
        if (e instanceof Error && !isRetryableKsefError(e)) throw new AbortError(e);
        if (!(e instanceof Error)) throw new AbortError(String(e));
        throw e;
      }
    },
    {
      retries: policy.retries + policy.maxRateLimitWaits,
      minTimeout: policy.minTimeoutMs,
      maxTimeout: policy.maxTimeoutMs,
      factor: policy.factor,
      randomize: true,
      signal,
      shouldConsumeRetry: ({ error }) => !(error instanceof KsefRateLimitError),
      shouldRetry: ({ error, retriesConsumed }) => {
        if (error instanceof KsefRateLimitError) return ++rateLimited <= policy.maxRateLimitWaits;
        return retriesConsumed < policy.retries;
      },
    },
  );
}
