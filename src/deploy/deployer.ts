/**
 * The deploy seam (DESIGN.md §2): what runs after a certificate version is saved, in the order the
 * certificate lists its deployers (files, hook, kubernetes-secret, kubernetes-reload…).
 *
 * Contract:
 * - `deploy` receives a complete, saved version (never a half-saved set) and makes the target hold
 *   exactly that version. It is idempotent for one version: deploying the same version twice
 *   leaves the same result and must be safe after a crash half-way through.
 * - A failure throws a `CertpilotError` whose message names the target and the cause and never
 *   contains key material; the deploy chain records it and stops (later deployers do not run), the
 *   store is never rolled back, and the next run retries.
 * - `signal` aborts a deploy (SIGTERM): stop soon, leave the target consistent, reject with the
 *   signal's reason.
 * - Deployers of different certificates may run concurrently; one deployer instance is never
 *   called concurrently for the same certificate.
 */
import type { StoredCertificate } from '../storage/certificate-store.js';

/** Options of one deploy call. */
export interface DeployOptions {
  signal?: AbortSignal;
}

/** What a successful deploy reports (shown by `certpilot deploy` and recorded in the state). */
export interface DeployResult {
  /** One human sentence, e.g. `wrote 5 files to /certs (version 3)`. */
  message: string;
  /** Machine-readable facts (paths, pods verified, secret resourceVersion). No secrets. */
  details?: Record<string, unknown>;
}

/** Delivers one saved certificate version to one target. */
export interface Deployer {
  /** The deployer instance's name in the configuration (`deployers.<id>`). */
  readonly id: string;
  /** Delivers `certificate` (its live version); idempotent for one version. */
  deploy(certificate: StoredCertificate, options: DeployOptions): Promise<DeployResult>;
}

/**
 * Optional (found by {@link isDeployVerifier}): a deployer that can tell whether its target still
 * holds a version, at the cost of one small read (the `files` deployer: its directory's marker, no
 * library loaded; `kubernetes-secret`: one GET of its Secret). A nothing-due run asks it for every
 * deployer whose record says it holds the live version, so a target emptied (a volume removed and
 * made again, a Secret deleted), replaced or moved (a changed `dir`) since is deployed again.
 *
 * Contract: writes nothing; resolves undefined when the target holds `certificate` (compared by its
 * fingerprint, never by serial or mtime), else one clause saying why not, for the log ("files
 * missing in /certs", "/certs holds another version"). It rejects on `signal`, and with a
 * `CertpilotError` when it cannot look at the target at all (an API server that is down or forbids
 * the read): that is not a lost target, so callers trust the deploy record, warn, and deploy nothing.
 */
export interface DeployVerifier {
  verify(certificate: StoredCertificate, options: DeployOptions): Promise<string | undefined>;
}

/** Type guard: `deployer` implements {@link DeployVerifier}. */
export function isDeployVerifier<T extends Deployer>(deployer: T): deployer is T & DeployVerifier {
  return typeof (deployer as Partial<DeployVerifier>).verify === 'function';
}
