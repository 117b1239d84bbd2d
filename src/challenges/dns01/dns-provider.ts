/**
 * The DNS provider seam (DESIGN.md §2; lego `challenge.Provider` for dns-01).
 *
 * Contract:
 * - `addTxtRecord` adds `value` to the TXT record set at `fqdn` (absolute, trailing dot) and keeps
 *   every other value there: a wildcard and its base name share `_acme-challenge.<name>.` with
 *   different values, and other tools may have records too. Adding a value already there is a no-op.
 * - `removeTxtRecord` removes only `value` (cert-manager's conformance test "deleting one record
 *   retains others"); removing a value that is gone is not an error.
 * - Both honour the abort signal.
 */
export interface TxtRecord {
  /** Absolute name with trailing dot, e.g. `_acme-challenge.example.com.`. */
  fqdn: string;
  /** The TXT value (base64url of a SHA-256). */
  value: string;
  /** TTL in seconds. */
  ttl: number;
}

/** Options passed to provider calls. */
export interface DnsCallOptions {
  signal?: AbortSignal;
}

/** Writes and removes `_acme-challenge` TXT values in one DNS service. */
export interface DnsProvider {
  addTxtRecord(record: TxtRecord, options: DnsCallOptions): Promise<void>;
  removeTxtRecord(record: Omit<TxtRecord, 'ttl'>, options: DnsCallOptions): Promise<void>;
}
