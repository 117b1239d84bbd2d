/**
 * Where a solver listens when the user names no host: every interface, IPv6 and IPv4 (`::`), or,
 * on a host without IPv6, every IPv4 interface (`0.0.0.0`). One rule for the standalone http-01
 * and the tls-alpn-01 solvers, so both fall back on the same errors.
 */
import { CertpilotError } from '../errors.js';

/** The errors of binding `::` that mean "no IPv6 here", not "the port is taken". */
const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL']);

/**
 * Calls `bind(host)` with the user's host, or `::` then `0.0.0.0` when IPv6 is missing. `bind`
 * rejects with a CertpilotError whose `cause` is the listen error (its errno decides the fallback);
 * any other failure (the port in use, no permission) is the caller's error as it is.
 */
export async function listenAnyHost<T>(host: string | undefined, bind: (host: string) => Promise<T>): Promise<T> {
  if (host !== undefined) return bind(host);
  try {
    return await bind('::');
  } catch (err) {
    const errno = err instanceof CertpilotError ? (err.cause as NodeJS.ErrnoException | undefined)?.code : undefined;
    if (errno === undefined || !NO_IPV6.has(errno)) throw err;
    return bind('0.0.0.0');
  }
}
