/**
 * A pool of anti-replay nonces (RFC 8555 §6.5). Every server response carries a fresh
 * `Replay-Nonce`; keeping them means a HEAD newNonce request (§7.2) is needed only when the pool is
 * empty, which for a sequential client is once per run.
 *
 * Contract: `take` hands each pooled nonce out at most once (newest first: the likeliest still
 * valid); when the pool is empty it calls the fetcher. `add` ignores missing and malformed values.
 * Safe for concurrent callers: two `take`s on an empty pool each fetch their own nonce.
 */

/** Fetches one fresh nonce (a HEAD newNonce request). */
export type NonceFetcher = (signal?: AbortSignal) => Promise<string>;

// RFC 8555 §6.5.1: the nonce is base64url.
const NONCE_SHAPE = /^[A-Za-z0-9_-]+$/;

/** A bounded LIFO of unused nonces. */
export class NoncePool {
  private readonly nonces: string[] = [];
  private readonly fetchNonce: NonceFetcher;
  private readonly maxSize: number;

  constructor(fetchNonce: NonceFetcher, options: { maxSize?: number } = {}) {
    this.fetchNonce = fetchNonce;
    this.maxSize = options.maxSize ?? 32;
  }

  /** Number of pooled nonces. */
  get size(): number {
    return this.nonces.length;
  }

  /** Adds a nonce from a response's `Replay-Nonce` header. */
  add(nonce: string | string[] | undefined | null): void {
    const value = Array.isArray(nonce) ? nonce[0] : nonce;
    if (!value || !NONCE_SHAPE.test(value)) return;
    this.nonces.push(value);
    // Drop the oldest: servers expire nonces, so old ones are the likeliest to be rejected.
    if (this.nonces.length > this.maxSize) this.nonces.shift();
  }

  /** Returns a pooled nonce, or fetches one when the pool is empty. */
  async take(signal?: AbortSignal): Promise<string> {
    return this.nonces.pop() ?? (await this.fetchNonce(signal));
  }

  /** Forgets every pooled nonce (e.g. after the directory changed). */
  clear(): void {
    this.nonces.length = 0;
  }
}
