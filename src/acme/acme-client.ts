/**
 * The ACME client: one method per RFC 8555 endpoint (§7), plus ARI (RFC 9773) and ACME profiles.
 * It knows nothing about solvers, files or renewal policy; `issuer.ts` runs the order flow on it.
 *
 * Request economy (one certificate should cost no more requests than lego): the directory is fetched
 * once, nonces come from the pool fed by every response (HEAD newNonce only when it is empty), and
 * connections are kept alive. Polls start at 50 ms, double up to 5 s, honour Retry-After
 * (§7.5.1, §7.4) and give up after `pollTimeoutMs`.
 *
 * Not safe for concurrent `rolloverKey` with other calls; everything else may run concurrently.
 */
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { CertpilotError } from '../errors.js';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import { silentLogger } from '../logger.js';
import type { Logger } from '../logger.js';
import type { Identifier } from '../challenges/challenge-solver.js';
import { AcmeTransport } from './protocol/transport.js';
import type { CaReachability } from './protocol/ca-reachability.js';
import type { AcmeRequestObserver, AcmeResponse, TransportStats } from './protocol/transport.js';
import { parseDirectory } from './protocol/directory.js';
import type { Directory } from './protocol/directory.js';
import { base64url, jwkThumbprint, jwsAlgorithmFor, signExternalAccountBinding, signKeyChange } from './protocol/jws.js';
import type { JwsSigner } from './protocol/jws.js';
import { AcmeProblemError, parseRetryAfter } from './protocol/problem.js';
import { ariCertId, parseRenewalInfo, renewalInfoUrl } from './protocol/renewal-info.js';
import { pemToDer } from './protocol/der.js';
import type {
  Account,
  AccountResource,
  Authorization,
  AuthorizationResource,
  ChallengeResource,
  Order,
  OrderResource,
} from './protocol/types.js';
import { parseCertificate, splitPemChain } from './certificate.js';

export type { Directory } from './protocol/directory.js';
export type * from './protocol/types.js';

/** Options for {@link AcmeClient}. */
export interface AcmeClientOptions {
  /** The ACME directory URL (RFC 8555 §7.1.1). */
  directoryUrl: string;
  /** Account private key (EC P-256/P-384 or RSA ≥ 2048); the JWS alg is derived from it. */
  accountKey: KeyObject;
  /** The account URL (JWS `kid`), when already known. */
  accountUrl?: string;
  /** Extra PEM roots trusted for the ACME server's TLS, added to the system roots. */
  caCertificates?: string[];
  /** Defaults to `certpilot/<version>`. */
  userAgent?: string;
  logger?: Logger;
  clock?: Clock;
  /** Bound on any one poll loop in ms; default 120000. */
  pollTimeoutMs?: number;
  /** Longest wait for the CA to answer one request, in ms; default 30000. */
  requestTimeoutMs?: number;
  /** The run's record of CAs that did not answer, shared by every client of the run (see ca-reachability.ts). */
  reachability?: CaReachability | undefined;
  /** Told about each request (metrics). */
  observer?: AcmeRequestObserver | undefined;
}

/** Options every call takes. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** What {@link AcmeClient.createAccount} sends. */
export interface NewAccountRequest {
  contact?: string[];
  termsOfServiceAgreed: boolean;
  /** External account binding credentials from the CA (RFC 8555 §7.3.4). */
  externalAccountBinding?: { kid: string; hmacKey: Buffer };
}

/** What {@link AcmeClient.newOrder} sends (RFC 8555 §7.4, RFC 9773 §5, ACME profiles). */
export interface NewOrderRequest {
  identifiers: Identifier[];
  profile?: string;
  /** ARI certificate id of the certificate this order replaces. */
  replaces?: string;
  notBefore?: Date;
  notAfter?: Date;
}

/** A downloaded certificate: the chosen chain and every chain fetched. */
export interface DownloadedCertificate {
  /** Leaf followed by intermediates, PEM. */
  pem: string;
  /** The chains fetched: the default always; alternates only when a preferred chain was asked for. */
  chains: { url: string; pem: string; issuer: string }[];
}

/** ARI answer for one certificate (RFC 9773 §4.2). */
export interface RenewalInfoResult {
  certId: string;
  suggestedWindow: { start: Date; end: Date };
  explanationURL?: string;
  /** Do not ask again before this. */
  retryAfter: Date;
}

const FIRST_POLL_DELAY_MS = 50;
const MAX_POLL_DELAY_MS = 5000;
const FINAL_AUTHZ_STATUSES = new Set(['valid', 'invalid', 'deactivated', 'expired', 'revoked']);

/** An RFC 8555 client bound to one directory and one account key. */
export class AcmeClient {
  /** The directory URL this client talks to. */
  readonly directoryUrl: string;
  /** Request counters (total and per endpoint). */
  readonly stats: TransportStats;
  private readonly transport: AcmeTransport;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly pollTimeoutMs: number;
  private key: KeyObject;
  private thumbprint: string;
  private kid: string | undefined;
  private directory: Promise<Directory> | undefined;

  constructor(options: AcmeClientOptions) {
    this.directoryUrl = options.directoryUrl;
    // Fails fast (ERR_KEY_INVALID) on an unsupported account key.
    jwsAlgorithmFor(options.accountKey);
    this.key = options.accountKey;
    this.thumbprint = jwkThumbprint(options.accountKey);
    this.kid = options.accountUrl;
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.pollTimeoutMs = options.pollTimeoutMs ?? 120_000;
    this.transport = new AcmeTransport({
      newNonceUrl: async (signal) => (await this.getDirectory(signal ? { signal } : {})).newNonce,
      ...(options.caCertificates ? { caCertificates: options.caCertificates } : {}),
      ...(options.userAgent ? { userAgent: options.userAgent } : {}),
      logger: this.logger,
      clock: this.clock,
      ...(options.observer ? { observer: options.observer } : {}),
      ...(options.requestTimeoutMs ? { timeoutMs: options.requestTimeoutMs } : {}),
      ...(options.reachability ? { reachability: options.reachability } : {}),
    });
    this.stats = this.transport.stats;
  }

  /** The account URL (JWS `kid`) once known. */
  get accountUrl(): string | undefined {
    return this.kid;
  }

  /** The RFC 7638 thumbprint (base64url) of the account key, as in every key authorization. */
  get accountKeyThumbprint(): string {
    return this.thumbprint;
  }

  /** The directory (RFC 8555 §7.1.1), fetched once and cached. */
  getDirectory(o: CallOptions = {}): Promise<Directory> {
    if (!this.directory) {
      const fetching = this.transport
        .get(this.directoryUrl, { label: 'directory', ...signalOf(o) })
        .then((res) => parseDirectory(AcmeTransport.json(res, 'directory'), this.directoryUrl));
      // A failed fetch is not cached, so the next call tries again.
      fetching.catch(() => {
        if (this.directory === fetching) this.directory = undefined;
      });
      this.directory = fetching;
    }
    return this.directory;
  }

  /**
   * Creates the account (RFC 8555 §7.3), or returns the existing one when this key already has one
   * (200). Sets {@link accountUrl}.
   */
  async createAccount(req: NewAccountRequest, o: CallOptions = {}): Promise<AccountResource> {
    const dir = await this.getDirectory(o);
    const payload: Record<string, unknown> = { termsOfServiceAgreed: req.termsOfServiceAgreed };
    if (req.contact) payload.contact = req.contact;
    if (req.externalAccountBinding) {
      payload.externalAccountBinding = signExternalAccountBinding({
        accountKey: this.key,
        kid: req.externalAccountBinding.kid,
        hmacKey: req.externalAccountBinding.hmacKey,
        url: dir.newAccount,
      });
    }
    const res = await this.transport.post(dir.newAccount, payload, this.jwkSigner(), { label: 'newAccount', ...signalOf(o) });
    const account = this.accountFrom(res, 'newAccount');
    this.logger.debug({ accountUrl: account.url, created: res.status === 201 }, 'acme account');
    return account;
  }

  /** Looks up the account of this key (§7.3.1 `onlyReturnExisting`); undefined when there is none. */
  async findAccount(o: CallOptions = {}): Promise<AccountResource | undefined> {
    const dir = await this.getDirectory(o);
    try {
      const res = await this.transport.post(dir.newAccount, { onlyReturnExisting: true }, this.jwkSigner(), {
        label: 'newAccount',
        ...signalOf(o),
      });
      return this.accountFrom(res, 'newAccount');
    } catch (error) {
      if (error instanceof AcmeProblemError && error.code === 'ERR_ACME_ACCOUNT_NOT_FOUND') return undefined;
      throw error;
    }
  }

  /** Updates the account's contacts (§7.3.2). */
  async updateAccount(req: { contact?: string[] }, o: CallOptions = {}): Promise<AccountResource> {
    const kid = await this.requireKid(o);
    const res = await this.transport.post(kid, { contact: req.contact ?? [] }, { key: this.key, kid }, { label: 'account', ...signalOf(o) });
    return { ...AcmeTransport.json<Account>(res, 'account'), url: kid };
  }

  /** Replaces the account key (§7.3.5); afterwards this client signs with `newKey`. */
  async rolloverKey(newKey: KeyObject, o: CallOptions = {}): Promise<void> {
    jwsAlgorithmFor(newKey);
    const dir = await this.getDirectory(o);
    const kid = await this.requireKid(o);
    const inner = signKeyChange({ newKey, oldKey: this.key, accountUrl: kid, url: dir.keyChange });
    await this.transport.post(dir.keyChange, inner, { key: this.key, kid }, { label: 'keyChange', ...signalOf(o) });
    this.key = newKey;
    this.thumbprint = jwkThumbprint(newKey);
    this.logger.debug({ accountUrl: kid }, 'acme account key rolled over');
  }

  /** Deactivates the account (§7.3.6); the CA then refuses every request signed by it. */
  async deactivateAccount(o: CallOptions = {}): Promise<AccountResource> {
    const kid = await this.requireKid(o);
    const res = await this.transport.post(kid, { status: 'deactivated' }, { key: this.key, kid }, { label: 'account', ...signalOf(o) });
    return { ...AcmeTransport.json<Account>(res, 'account'), url: kid };
  }

  /**
   * Creates an order (§7.4). A `profile` is first checked against the directory's `meta.profiles`:
   * an unknown one throws `ERR_ACME_PROFILE_UNKNOWN` listing the offered profiles.
   */
  async newOrder(req: NewOrderRequest, o: CallOptions = {}): Promise<OrderResource> {
    const dir = await this.getDirectory(o);
    if (req.profile !== undefined) {
      const offered = Object.keys(dir.meta?.profiles ?? {});
      if (!offered.includes(req.profile)) {
        throw new CertpilotError(
          'ERR_ACME_PROFILE_UNKNOWN',
          offered.length > 0
            ? `acme: newOrder: profile "${req.profile}" is not offered by the CA; it offers: ${offered.join(', ')}`
            : `acme: newOrder: profile "${req.profile}" is not offered: the CA offers no profiles`,
        );
      }
    }
    const kid = await this.requireKid(o);
    const payload: Record<string, unknown> = { identifiers: req.identifiers };
    if (req.profile !== undefined) payload.profile = req.profile;
    if (req.replaces !== undefined) payload.replaces = req.replaces;
    if (req.notBefore) payload.notBefore = req.notBefore.toISOString();
    if (req.notAfter) payload.notAfter = req.notAfter.toISOString();
    const res = await this.transport.post(dir.newOrder, payload, { key: this.key, kid }, { label: 'newOrder', ...signalOf(o) });
    const url = locationOf(res, 'newOrder');
    return { ...AcmeTransport.json<Order>(res, 'newOrder'), url };
  }

  /** Fetches an order (POST-as-GET, §7.1.3). */
  async getOrder(url: string, o: CallOptions = {}): Promise<OrderResource> {
    return (await this.fetchResource<Order>(url, 'order', o)).value;
  }

  /** Fetches an authorization (POST-as-GET, §7.5). */
  async getAuthorization(url: string, o: CallOptions = {}): Promise<AuthorizationResource> {
    return (await this.fetchResource<Authorization>(url, 'authorization', o)).value;
  }

  /** Tells the CA the challenge is ready to be validated (§7.5.1: POST `{}`). */
  async respondToChallenge(url: string, o: CallOptions = {}): Promise<ChallengeResource> {
    const kid = await this.requireKid(o);
    const res = await this.transport.post(url, {}, { key: this.key, kid }, { label: 'challenge', ...signalOf(o) });
    return { ...AcmeTransport.json<ChallengeResource>(res, 'challenge'), url };
  }

  /** Deactivates an authorization (§7.5.2), e.g. after a failed order. */
  async deactivateAuthorization(url: string, o: CallOptions = {}): Promise<AuthorizationResource> {
    const kid = await this.requireKid(o);
    const res = await this.transport.post(url, { status: 'deactivated' }, { key: this.key, kid }, { label: 'authorization', ...signalOf(o) });
    return { ...AcmeTransport.json<Authorization>(res, 'authorization'), url };
  }

  /**
   * Polls an authorization until it is valid, invalid, deactivated, expired or revoked, and returns
   * it (an invalid one is returned, not thrown). `ERR_ACME_TIMEOUT` after `pollTimeoutMs`.
   */
  async pollAuthorization(url: string, o: CallOptions = {}): Promise<AuthorizationResource> {
    // Right after the challenge is answered the CA has not validated yet: a fetch now would
    // only ever see "pending" (one request per authorization saved).
    await this.clock.sleep(FIRST_POLL_DELAY_MS, o.signal);
    return this.poll(`authorization ${url}`, () => this.fetchResource<Authorization>(url, 'authorization', o), (a) => FINAL_AUTHZ_STATUSES.has(a.status), o);
  }

  /**
   * Finalizes an order with a DER CSR (§7.4) and polls until it is valid (through `processing`,
   * honouring Retry-After). Throws `ERR_ACME_ORDER_FAILED` when the order becomes invalid.
   */
  async finalizeOrder(order: OrderResource, csrDer: Uint8Array, o: CallOptions = {}): Promise<OrderResource> {
    let current: { value: OrderResource; retryAfter?: Date | undefined } = { value: order };
    if (order.status !== 'valid' && order.status !== 'processing') {
      const kid = await this.requireKid(o);
      const res = await this.transport.post(order.finalize, { csr: base64url(csrDer) }, { key: this.key, kid }, {
        label: 'finalize',
        ...signalOf(o),
      });
      current = {
        value: { ...AcmeTransport.json<Order>(res, 'finalize'), url: order.url },
        retryAfter: parseRetryAfter(res.headers['retry-after'], this.clock.now()),
      };
    }
    let first = true;
    const done = await this.poll(
      `order ${order.url}`,
      async () => {
        if (first) {
          first = false;
          return current;
        }
        return this.fetchResource<Order>(order.url, 'order', o);
      },
      (v) => v.status !== 'processing' && v.status !== 'pending' && v.status !== 'ready',
      o,
    );
    if (done.status !== 'valid') {
      const detail = done.error?.detail ?? done.error?.type ?? `status ${done.status}`;
      throw new AcmeProblemError(
        'ERR_ACME_ORDER_FAILED',
        `acme: finalize: order ${order.url} became ${done.status}: ${detail}`,
        done.error ?? { type: 'about:blank', detail: `order status ${done.status}` },
        200,
      );
    }
    return done;
  }

  /**
   * Downloads the certificate chain (§7.4.2). With `preferredChain`, also fetches the alternates
   * (Link rel="alternate") and picks the chain whose top certificate's issuer CN equals it, else
   * one with any issuer CN equal to it, else throws `ERR_ACME_NO_CHAIN` listing the issuers.
   */
  async downloadCertificate(url: string, o: { signal?: AbortSignal; preferredChain?: string } = {}): Promise<DownloadedCertificate> {
    const kid = await this.requireKid(o);
    const fetchChain = async (chainUrl: string): Promise<{ url: string; pem: string; issuer: string; issuers: string[]; links: string[] }> => {
      const res = await this.transport.post(chainUrl, undefined, { key: this.key, kid }, {
        label: 'certificate',
        accept: 'application/pem-certificate-chain',
        ...signalOf(o),
      });
      const pem = res.body.toString('utf8');
      const certs = splitPemChain(pem);
      if (certs.length === 0) {
        throw new CertpilotError('ERR_ACME_BAD_RESPONSE', `acme: certificate: ${chainUrl} returned no PEM certificate`);
      }
      const issuers = certs.map((c) => parseCertificate(c).issuerCommonName ?? '');
      return { url: chainUrl, pem, issuer: issuers[issuers.length - 1] ?? '', issuers, links: alternateLinks(res) };
    };
    const main = await fetchChain(url);
    const strip = (c: { url: string; pem: string; issuer: string }): { url: string; pem: string; issuer: string } => ({ url: c.url, pem: c.pem, issuer: c.issuer });
    const wanted = o.preferredChain;
    if (wanted === undefined || main.issuer === wanted) return { pem: main.pem, chains: [strip(main)] };
    const all = [main];
    for (const link of main.links) all.push(await fetchChain(link));
    const pick = all.find((c) => c.issuer === wanted) ?? all.find((c) => c.issuers.includes(wanted));
    if (!pick) {
      throw new CertpilotError(
        'ERR_ACME_NO_CHAIN',
        `acme: certificate: no chain is issued by "${wanted}"; the CA offers chains from: ${[...new Set(all.map((c) => c.issuer))].join(', ')}`,
      );
    }
    return { pem: pick.pem, chains: all.map(strip) };
  }

  /**
   * Revokes a certificate (§7.6), signed by the account, or with `certificateKey` by the
   * certificate's own key (`jwk`). `reason` is an RFC 5280 CRLReason code.
   */
  async revokeCertificate(
    certPemOrDer: string | Uint8Array,
    o: { reason?: number; certificateKey?: KeyObject; signal?: AbortSignal } = {},
  ): Promise<void> {
    const dir = await this.getDirectory(o);
    let der: Buffer;
    try {
      der = pemToDer(certPemOrDer);
    } catch (cause) {
      throw new CertpilotError('ERR_ACME_BAD_RESPONSE', 'acme: revokeCert: the certificate is not PEM or DER', { cause });
    }
    const payload: Record<string, unknown> = { certificate: base64url(der) };
    if (o.reason !== undefined) payload.reason = o.reason;
    const signer: JwsSigner = o.certificateKey ? { key: o.certificateKey, jwk: true } : { key: this.key, kid: await this.requireKid(o) };
    await this.transport.post(dir.revokeCert, payload, signer, { label: 'revokeCert', ...signalOf(o) });
  }

  /**
   * Fetches ACME Renewal Information for a certificate (RFC 9773 §4.2). Throws
   * `ERR_ACME_ARI_UNSUPPORTED` when the directory has no `renewalInfo`.
   */
  async getRenewalInfo(certPem: string, o: CallOptions = {}): Promise<RenewalInfoResult> {
    const dir = await this.getDirectory(o);
    if (!dir.renewalInfo) {
      throw new CertpilotError('ERR_ACME_ARI_UNSUPPORTED', `acme: renewalInfo: ${this.directoryUrl} offers no renewalInfo endpoint`);
    }
    const certId = ariCertId(certPem);
    const res = await this.transport.get(renewalInfoUrl(dir.renewalInfo, certId), { label: 'renewalInfo', ...signalOf(o) });
    const info = parseRenewalInfo(AcmeTransport.json(res, 'renewalInfo'), res.headers['retry-after'], this.clock.now());
    return { certId, ...info };
  }

  /** The key authorization of a challenge token (RFC 8555 §8.1): `token.thumbprint`. */
  keyAuthorization(token: string): string {
    return `${token}.${this.thumbprint}`;
  }

  /** The dns-01 TXT value (RFC 8555 §8.4): base64url(SHA-256(keyAuthorization)). */
  dns01TxtValue(token: string): string {
    return createHash('sha256').update(this.keyAuthorization(token)).digest('base64url');
  }

  /** The tls-alpn-01 acmeIdentifier extension value (RFC 8737 §3): SHA-256(keyAuthorization). */
  tlsAlpn01Digest(token: string): Buffer {
    return createHash('sha256').update(this.keyAuthorization(token)).digest();
  }

  /** Closes idle keep-alive connections; the client stays usable (new connections open on demand). */
  close(): void {
    this.transport.close();
  }

  private jwkSigner(): JwsSigner {
    return { key: this.key, jwk: true };
  }

  private accountFrom(res: AcmeResponse, what: string): AccountResource {
    const url = locationOf(res, what);
    this.kid = url;
    return { ...AcmeTransport.json<Account>(res, what), url };
  }

  private async requireKid(o: CallOptions): Promise<string> {
    if (this.kid) return this.kid;
    const account = await this.findAccount(o);
    if (!account) {
      throw new CertpilotError('ERR_ACME_ACCOUNT_NOT_FOUND', `acme: account: ${this.directoryUrl} has no account for this key`);
    }
    return account.url;
  }

  /** POST-as-GET of an order or authorization (§7.1.3, §7.5), with the Retry-After polls honour. */
  private async fetchResource<T>(url: string, label: 'order' | 'authorization', o: CallOptions): Promise<{ value: T & { url: string }; retryAfter: Date | undefined }> {
    const kid = await this.requireKid(o);
    const res = await this.transport.post(url, undefined, { key: this.key, kid }, { label, ...signalOf(o) });
    return {
      value: { ...AcmeTransport.json<T>(res, label), url },
      retryAfter: parseRetryAfter(res.headers['retry-after'], this.clock.now()),
    };
  }

  /** Polls `fetch` until `done`; waits 50 ms doubling to 5 s, or the server's Retry-After. */
  private async poll<T>(
    what: string,
    fetch: () => Promise<{ value: T; retryAfter?: Date | undefined }>,
    done: (value: T) => boolean,
    o: CallOptions,
  ): Promise<T> {
    const deadline = this.clock.now().getTime() + this.pollTimeoutMs;
    let delay = FIRST_POLL_DELAY_MS;
    for (;;) {
      const { value, retryAfter } = await fetch();
      if (done(value)) return value;
      const now = this.clock.now().getTime();
      const wait = retryAfter ? Math.max(retryAfter.getTime() - now, FIRST_POLL_DELAY_MS) : delay;
      if (now + wait > deadline) {
        throw new CertpilotError(
          'ERR_ACME_TIMEOUT',
          `acme: poll: ${what} did not reach a final state within ${Math.round(this.pollTimeoutMs / 1000)} s`,
          { retryable: true },
        );
      }
      await this.clock.sleep(wait, o.signal);
      delay = Math.min(delay * 2, MAX_POLL_DELAY_MS);
    }
  }
}

function signalOf(o: CallOptions): { signal?: AbortSignal } {
  return o.signal ? { signal: o.signal } : {};
}

function locationOf(res: AcmeResponse, what: string): string {
  const location = res.headers.location;
  if (!location) throw new CertpilotError('ERR_ACME_BAD_RESPONSE', `acme: ${what}: the response has no Location header`);
  return new URL(location, res.url).toString();
}

/** URLs of `Link: <url>;rel="alternate"` headers (RFC 8555 §7.4.2, RFC 8288), resolved. */
export function alternateLinks(res: Pick<AcmeResponse, 'headers' | 'url'>): string[] {
  const raw = res.headers.link;
  const header = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
  const out: string[] = [];
  for (const match of header.matchAll(/<([^>]*)>\s*((?:;\s*[^;,]*)*)/g)) {
    const params = match[2] ?? '';
    if (/;\s*rel\s*=\s*"?(?:[^";,]*\s)?alternate(?:\s[^";,]*)?"?/i.test(params)) {
      out.push(new URL(match[1] ?? '', res.url).toString());
    }
  }
  return out;
}
