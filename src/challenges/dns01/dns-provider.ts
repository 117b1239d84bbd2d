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
 * - A call that failed before its change could reach the DNS service (the zone could not be
 *   found, the server refused the connection) rejects with a {@link DnsNothingWrittenError}: the
 *   dns-01 solver then has nothing to clean up. Any other failure (a timeout) may have landed.
 */
import { CertpilotError } from '../../errors.js';

/** A provider call that certainly changed nothing (its request never reached the server); same code, message and hint as the failure it wraps. */
export class DnsNothingWrittenError extends CertpilotError {
  /** Wraps `err` (a CertpilotError keeps its code, hint and retryability). */
  static from(err: unknown): DnsNothingWrittenError {
    if (err instanceof DnsNothingWrittenError) return err;
    if (err instanceof CertpilotError) return new DnsNothingWrittenError(err.code, err.message, { hint: err.hint, retryable: err.retryable, cause: err.cause ?? err });
    return new DnsNothingWrittenError('ERR_DNS_NETWORK', `dns: ${err instanceof Error ? err.message : String(err)}`, { cause: err, retryable: true });
  }
}
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
