/**
 * An in-process CA for scheduler tests: it behaves like an ACME + ARI server in what the daemon
 * depends on, on a {@link Clock}, so months of cycles run in a second.
 *
 * - Orders (`issue`) produce certificates valid from `now - backdateMs` (Let's Encrypt backdates
 *   notBefore by an hour) for the profile's validity (`shortlived`: 6 days, like Let's Encrypt and
 *   Pebble's `validityPeriod: 518400`), each with its own ARI id and serial.
 * - renewalInfo (RFC 9773 §4.2) answers, for the certificate asked about, Boulder's window: centred
 *   a third of the validity before notAfter, ± validity/90 (3.2 h wide for 6 days), with the
 *   Retry-After it is configured with; it knows a certificate by its PEM, as a CA does by its
 *   serial, so an answer is always for the certificate asked about, never the newest.
 * - Every request is logged with its time: newOrder (with `replaces`) and renewalInfo.
 *
 * The PEMs come from a small pool of real certificates made once (openssl): consecutive
 * certificates always differ, which is all a lookup by PEM needs; the dates the client stores are
 * the ones this CA reports (as the ACME client reads them from the certificate).
 */
import type { Clock } from '../clock.js';
import type { CertificateIssuer, IssuedCertificate, IssueRequest } from '../acme/issuer.js';
import type { RenewalInfoResult } from '../acme/acme-client.js';
import { join } from 'node:path';
import type { RenewalContext, RenewalInfoSource } from '../renewal/renew-certificate.js';
import { FileLocker } from '../coordination/file/file-locker.js';
import { silentLogger } from '../logger.js';
import type { LifecycleEvent } from '../notify/lifecycle-event.js';
import { FilesystemCertificateStore } from '../storage/backends/filesystem/filesystem-certificate-store.js';
import { makeTestBundle } from './certificate-fixtures.js';
import type { CertificateBundle } from '../storage/certificate-store.js';

/** One certificate the double issued. */
export interface DoubleCertificate {
  certId: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** Its suggested ARI window. */
  window: { start: Date; end: Date };
  /** The order that issued it. */
  orderAt: Date;
  /** The certificate it replaces (`replaces` of the order), when any. */
  replaces?: string;
}

/** One request the double answered. */
export interface DoubleRequest {
  kind: 'newOrder' | 'renewalInfo';
  at: Date;
  /** renewalInfo: the certificate asked about; newOrder: the certificate it replaces. */
  certId?: string;
}

/** Options of {@link CaDouble}. */
export interface CaDoubleOptions {
  clock: Clock;
  /** Validity per profile, ms (default: `shortlived` 6 days; others 90 days). */
  validityMs?: Record<string, number>;
  /** notBefore is this long before the order (default 1 h). */
  backdateMs?: number;
  /** The Retry-After of renewalInfo answers (default 6 h). */
  ariRetryAfterMs?: number;
  /** The domains of the pool's certificates. */
  domains?: string[];
  /** Keep `certificates` and `requests` (default true); false keeps only the counts and the latest certificates, for long benchmarks. */
  keepLog?: boolean;
}

const DAY = 86_400_000;
const pools = new Map<string, CertificateBundle[]>();

/** The in-process CA. */
export class CaDouble {
  /** Every certificate issued, in order. */
  readonly certificates: DoubleCertificate[] = [];
  /** Every request, in order. */
  readonly requests: DoubleRequest[] = [];
  private readonly byPem = new Map<string, DoubleCertificate>();
  private serial = 0;
  private readonly pool: CertificateBundle[];
  /** Requests answered, by kind (kept even without the log). */
  readonly counts = { newOrder: 0, renewalInfo: 0 };

  constructor(private readonly options: CaDoubleOptions) {
    const domains = options.domains ?? ['www.example.test'];
    const key = domains.join(' ');
    let pool = pools.get(key);
    if (!pool) {
      pool = [0, 1, 2].map(() => makeTestBundle({ domains, days: 7 }));
      pools.set(key, pool);
    }
    this.pool = pool;
  }

  private log(request: DoubleRequest): void {
    if (this.options.keepLog !== false) this.requests.push(request);
  }

  /** The orders placed, in order. */
  get orders(): DoubleRequest[] {
    return this.requests.filter((r) => r.kind === 'newOrder');
  }

  /** The issuer seam. */
  readonly issuer: CertificateIssuer = {
    issue: async (req: IssueRequest, options?: { signal?: AbortSignal }): Promise<IssuedCertificate> => {
      options?.signal?.throwIfAborted();
      const now = this.options.clock.now();
      this.counts.newOrder++;
      this.log({ kind: 'newOrder', at: now, ...(req.replaces ? { certId: req.replaces } : {}) });
      const validity = this.options.validityMs?.[req.profile ?? ''] ?? (req.profile === 'shortlived' ? 6 * DAY : 90 * DAY);
      const notBefore = new Date(now.getTime() - (this.options.backdateMs ?? 3_600_000));
      const notAfter = new Date(notBefore.getTime() + validity);
      const serial = (++this.serial).toString(16).padStart(16, '0');
      const bundle = this.pool[this.serial % this.pool.length] as CertificateBundle;
      // Boulder's RenewalInfoSimple: a third of the validity before notAfter, ± validity/90.
      const ideal = notAfter.getTime() - validity / 3;
      const cert: DoubleCertificate = {
        certId: `double.${serial}`,
        serial,
        notBefore,
        notAfter,
        window: { start: new Date(ideal - validity / 90), end: new Date(ideal + validity / 90) },
        orderAt: now,
        ...(req.replaces ? { replaces: req.replaces } : {}),
      };
      if (this.options.keepLog !== false) this.certificates.push(cert);
      this.byPem.set(bundle.certPem, cert);
      return {
        certPem: bundle.certPem,
        chainPem: bundle.chainPem,
        fullchainPem: bundle.fullchainPem,
        privateKeyPem: bundle.privateKeyPem,
        notBefore,
        notAfter,
        serialNumber: serial,
        issuer: 'CN=certpilot CA double',
        ariCertId: cert.certId,
        orderUrl: `https://ca.double/order/${serial}`,
        ...(req.replaces ? { replaces: req.replaces } : {}),
      };
    },
  };

  /** The renewalInfo seam (RFC 9773 §4.1: an unauthenticated GET per certificate). */
  readonly renewalInfo: RenewalInfoSource = {
    getRenewalInfo: async (certPem: string, options: { signal?: AbortSignal | undefined }): Promise<RenewalInfoResult> => {
      options.signal?.throwIfAborted();
      const now = this.options.clock.now();
      const cert = this.byPem.get(certPem);
      this.counts.renewalInfo++;
      this.log({ kind: 'renewalInfo', at: now, ...(cert ? { certId: cert.certId } : {}) });
      if (!cert) throw new Error('ca double: renewalInfo for a certificate it did not issue (404)');
      return { certId: cert.certId, suggestedWindow: cert.window, retryAfter: new Date(now.getTime() + (this.options.ariRetryAfterMs ?? 6 * 3_600_000)) };
    },
  };
}

/**
 * The renewal context a daemon or a renewal runs with against `ca`: state in a filesystem store at
 * `stateDir`, file locks beside it, no solvers or deployers, ARI on, 3 versions kept, events to
 * `events` (the scheduler tests and `bench/daemon.mjs`).
 */
export function caDoubleContext(ca: CaDouble, options: { clock: Clock; stateDir: string; events?: (event: LifecycleEvent) => void }): RenewalContext & { store: FilesystemCertificateStore } {
  const { clock, stateDir } = options;
  return {
    store: new FilesystemCertificateStore({ stateDir }),
    locker: new FileLocker({ dir: join(stateDir, 'locks'), clock }),
    session: async () => ({ issuer: ca.issuer, directoryUrl: 'https://ca.double/dir', accountUrl: 'https://ca.double/acct/1' }),
    renewalInfo: async () => ca.renewalInfo,
    solvers: async () => new Map(),
    deployers: async () => [],
    ari: true,
    lockTtlSeconds: 300,
    retention: { keepVersions: 3, keepDays: 0 },
    clock,
    logger: silentLogger,
    ...(options.events ? { events: options.events } : {}),
  };
}
