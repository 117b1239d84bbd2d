/**
 * The order flow (RFC 8555 §7.4) over the challenge solvers: new order (profile, replaces) →
 * authorizations solved in parallel → finalize with a CSR → download the chosen chain.
 *
 * Cleanup of every presented challenge runs in `finally` and never hides the main error; pending
 * authorizations of a failed order are deactivated (node-acme-client `auto.js`), so the CA does not
 * keep them half-done.
 */
import type { ChallengeSolver, ChallengeType, Identifier, PendingChallenge } from '../challenges/challenge-solver.js';
import { dnsAccountRecordName } from '../challenges/dns01/account-label.js';
import { persistAccountUri, persistRecordName } from '../challenges/dns-persist01/record.js';
import { isChallengeWaiter, isExplainedSolver, isPreparedSolver } from '../challenges/challenge-solver.js';
import { CertpilotError, ERROR_CATALOG } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { KeyType } from '../storage/certificate-store.js';
import type { AcmeClient } from './acme-client.js';
import { parseCertificate, splitPemChain } from './certificate.js';
import { createCsr, generatePrivateKey, importPrivateKey, keyTypeOf } from './csr.js';
import { AcmeProblemError, RateLimitedError, ValidationFailedError } from './protocol/problem.js';
import type { Authorization, Challenge } from './protocol/types.js';

/** What to issue. */
export interface IssueRequest {
  identifiers: Identifier[];
  keyType: KeyType;
  /** Reuse this PKCS#8 PEM key instead of generating one (`reuseKey`). Never logged. */
  privateKeyPem?: string;
  /** ACME profile name (checked against the directory by the client). */
  profile?: string;
  /** ARI id of the certificate this one replaces (RFC 9773 §5). */
  replaces?: string;
  /** Issuer common name of the preferred chain. */
  preferredChain?: string;
  /**
   * The solver of each name, keyed by the name as configured (`*.example.com` for a wildcard's
   * authorization, else the identifier's value). Chosen per certificate, so one account serves
   * certificates proven in different ways.
   */
  solvers: ReadonlyMap<string, ChallengeSolver>;
  /**
   * Called with what it takes to resume the order, before the step that costs the CA an issuance
   * (finalize) and again once the CA gave the certificate URL. It must make that durable; when it
   * throws, the order stops there (nothing is finalized that could not be resumed).
   */
  checkpoint?: (checkpoint: IssueCheckpoint) => Promise<void>;
  /** An order an earlier run left (a crash, a kill, a full disk): continue it instead of a new one. */
  resume?: IssueCheckpoint;
}

/** What it takes to continue an order: its URL, the key its CSR is made with, and once known the certificate URL. */
export interface IssueCheckpoint {
  orderUrl: string;
  /** PKCS#8 PEM. Never logged. */
  privateKeyPem: string;
  certificateUrl?: string;
}

/** The issuing seam of a renewal run: one order, validated, finalized and downloaded. */
export interface CertificateIssuer {
  issue(request: IssueRequest, options?: { signal?: AbortSignal }): Promise<IssuedCertificate>;
}

/** An issued certificate with the facts storage records. */
export interface IssuedCertificate {
  certPem: string;
  chainPem: string;
  fullchainPem: string;
  privateKeyPem: string;
  notBefore: Date;
  notAfter: Date;
  serialNumber: string;
  issuer: string;
  ariCertId: string;
  /** The `replaces` the accepted order carried, if any. */
  replaces?: string;
  orderUrl: string;
}

/** Dependencies of an {@link Issuer}. */
export interface IssuerOptions {
  client: AcmeClient;
  logger?: Logger;
}

/** Runs ACME orders to completion over a client and solvers. */
export class Issuer implements CertificateIssuer {
  private readonly client: AcmeClient;
  private readonly logger: Logger;

  constructor(options: IssuerOptions) {
    this.client = options.client;
    this.logger = options.logger ?? silentLogger;
  }

  /** Orders, validates, finalizes and downloads one certificate. */
  async issue(request: IssueRequest, options: { signal?: AbortSignal } = {}): Promise<IssuedCertificate> {
    const { signal } = options;
    const resumed = request.resume ? await this.resumable(request.resume, signal) : undefined;
    // Solvers bind their listeners and remove a killed run's leftovers before the CA is asked
    // anything, so a port in use costs no order (and no answered challenge).
    if (!resumed || resumed.status === 'pending') await this.prepare(request.solvers, signal);
    const order = resumed ?? (await this.newOrder(request, signal));
    if (!resumed) this.logger.info({ order: order.url, identifiers: request.identifiers.map((i) => i.value) }, 'order created');

    // A resumed order past `pending` has its authorizations done.
    if (order.status === 'pending') await this.authorize(order.authorizations, request.solvers, signal);

    const keyPem = resumed && request.resume ? request.resume.privateKeyPem : request.privateKeyPem;
    const key = keyPem ? { key: importPrivateKey(keyPem), pem: keyPem } : await generatePrivateKey(request.keyType);
    if (request.privateKeyPem && keyTypeOf(key.key) !== request.keyType) {
      throw new CertpilotError('ERR_KEY_INVALID', `issuer: reused key is ${keyTypeOf(key.key) ?? 'of an unknown type'}, not ${request.keyType}`, {
        hint: 'Set reuseKey: false for one renewal to change the key type.',
      });
    }
    const csr = await createCsr({ key: key.key, identifiers: request.identifiers });
    // The key and the order URL are durable before the CA is asked to issue (DESIGN.md §6.12).
    await request.checkpoint?.({ orderUrl: order.url, privateKeyPem: key.pem });
    const finalized = await this.client.finalizeOrder(order, csr, { signal });
    if (!finalized.certificate) {
      throw new CertpilotError('ERR_ACME_BAD_RESPONSE', `issuer: order ${order.url} is valid but has no certificate URL`);
    }
    if (finalized.certificate !== request.resume?.certificateUrl) {
      await request.checkpoint?.({ orderUrl: order.url, privateKeyPem: key.pem, certificateUrl: finalized.certificate });
    }
    const downloaded = await this.client.downloadCertificate(finalized.certificate, {
      ...(signal ? { signal } : {}),
      ...(request.preferredChain ? { preferredChain: request.preferredChain } : {}),
    });
    const pems = splitPemChain(downloaded.pem);
    const leaf = pems[0];
    if (!leaf) throw new CertpilotError('ERR_ACME_BAD_RESPONSE', 'issuer: the CA returned an empty certificate chain');
    const chain = pems.slice(1);
    const facts = parseCertificate(leaf);
    return {
      certPem: leaf,
      chainPem: chain.join(''),
      fullchainPem: pems.join(''),
      privateKeyPem: key.pem,
      notBefore: facts.notBefore,
      notAfter: facts.notAfter,
      serialNumber: facts.serialNumber,
      issuer: facts.issuer,
      ariCertId: facts.ariCertId,
      ...(order.replaces ? { replaces: order.replaces } : {}),
      orderUrl: order.url,
    };
  }

  /**
   * The order of an earlier run, when it can still lead to the certificate (pending, ready,
   * processing or valid); undefined when it is gone or invalid, so a new order is placed.
   */
  private async resumable(resume: IssueCheckpoint, signal: AbortSignal | undefined): Promise<Awaited<ReturnType<AcmeClient['getOrder']>> | undefined> {
    try {
      const order = await this.client.getOrder(resume.orderUrl, { signal });
      if (order.status === 'invalid') {
        this.logger.warn({ order: resume.orderUrl }, 'the pending order became invalid; placing a new one');
        return undefined;
      }
      this.logger.info({ order: resume.orderUrl, status: order.status }, 'resuming the order an earlier run left');
      return order;
    } catch (err) {
      // 404 or an ACME problem: the CA forgot it. A network error is a real failure: keep the order.
      if (err instanceof AcmeProblemError && !(err instanceof RateLimitedError)) {
        this.logger.warn({ order: resume.orderUrl, problem: err.problem.type }, 'the pending order is gone; placing a new one');
        return undefined;
      }
      throw err;
    }
  }

  /** Prepares each distinct solver of the request (a `PreparedSolver`), all at once. */
  private async prepare(solvers: IssueRequest['solvers'], signal: AbortSignal | undefined): Promise<void> {
    const distinct = [...new Set(solvers.values())].filter(isPreparedSolver);
    const results = await Promise.allSettled(distinct.map((s) => s.prepare(signal ? { signal } : {})));
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length > 0) throw authorizationFailure(failures, distinct.length);
  }

  /** New order; when the CA refuses `replaces` (already replaced, unknown), orders again without it. */
  private async newOrder(request: IssueRequest, signal: AbortSignal | undefined): ReturnType<AcmeClient['newOrder']> {
    const base = { identifiers: request.identifiers, ...(request.profile ? { profile: request.profile } : {}) };
    if (!request.replaces) return this.client.newOrder(base, { signal });
    try {
      const order = await this.client.newOrder({ ...base, replaces: request.replaces }, { signal });
      return { ...order, replaces: order.replaces ?? request.replaces };
    } catch (err) {
      if (!(err instanceof AcmeProblemError) || err instanceof RateLimitedError) throw err;
      this.logger.warn({ replaces: request.replaces, problem: err.problem.type }, 'CA refused replaces; ordering without it');
      return this.client.newOrder(base, { signal });
    }
  }

  /** Solves every pending authorization in parallel; deactivates the rest if any fails. */
  private async authorize(urls: readonly string[], solvers: IssueRequest['solvers'], signal: AbortSignal | undefined): Promise<void> {
    // Every challenge is presented (and its record seen where the solver waits) before any is
    // answered: a wildcard and its base share one `_acme-challenge` TXT set, and a CA behind a caching
    // resolver that looks it up after the first answer would keep the set without the second value
    // ("Correct value not found": seen with Pebble behind a forwarding BIND on a loaded machine).
    const gate = arrivals(urls.length);
    const names = new Map<string, string>();
    const results = await Promise.allSettled(urls.map((url) => this.solveAuthorization(url, solvers, signal, gate, (name) => names.set(url, name))));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ error: r.reason as unknown, name: names.get(urls[i] as string) }] : []));
    const failures = failed.map((f) => f.error);
    if (failures.length === 0) return;
    await Promise.allSettled(
      urls.map(async (url) => {
        const authz = await this.client.getAuthorization(url, { signal });
        if (authz.status === 'pending') await this.client.deactivateAuthorization(url, { signal });
      }),
    );
    throw authorizationFailure(failures, urls.length, failed.map((f) => f.name));
  }

  /**
   * What the solver needs for one challenge: the key authorization, and per type the TXT name and
   * value (dns-01 `_acme-challenge`, dns-account-01 `_<account label>._acme-challenge`) or what
   * the standing dns-persist-01 record must say (issuer names from the challenge; `accounturi`
   * hashed when the directory has `accountHashPrefix`, draft -02, else the account URL, -01).
   */
  private async pendingChallenge(
    type: ChallengeType,
    authz: Authorization,
    challenge: Challenge,
    signal: AbortSignal | undefined,
  ): Promise<PendingChallenge> {
    const token = challenge.token ?? '';
    if (!token && type !== 'dns-persist-01') throw new CertpilotError('ERR_ACME_BAD_RESPONSE', `issuer: ${challenge.type} challenge ${challenge.url} has no token`);
    const value = authz.identifier.value;
    const base: PendingChallenge = {
      type,
      identifier: authz.identifier,
      wildcard: authz.wildcard === true,
      url: challenge.url,
      token,
      keyAuthorization: token ? this.client.keyAuthorization(token) : '',
    };
    const accountUrl = (): string => {
      const url = this.client.accountUrl;
      if (!url) throw new CertpilotError('ERR_INTERNAL', `issuer: ${type} needs the account URL, and the account is not open`);
      return url;
    };
    switch (type) {
      case 'dns-01':
        return { ...base, dnsRecordName: `_acme-challenge.${value}.`, dnsValue: this.client.dns01TxtValue(token) };
      case 'dns-account-01':
        return { ...base, dnsRecordName: dnsAccountRecordName(accountUrl(), value), dnsValue: this.client.dns01TxtValue(token) };
      case 'dns-persist-01': {
        const issuerDomainNames = challenge.issuerDomainNames ?? challenge['issuer-domain-names'] ?? [];
        if (issuerDomainNames.length === 0) {
          throw new CertpilotError('ERR_ACME_BAD_RESPONSE', `issuer: dns-persist-01 challenge ${challenge.url} names no issuer domain names`);
        }
        const directory = await this.client.getDirectory(signal ? { signal } : {});
        const url = accountUrl();
        const accountHashPrefix = directory.meta?.accountHashPrefix;
        // Without a hash prefix (-01), a CA that names the account URI in the challenge is taken at its word.
        const accountUri =
          !accountHashPrefix && challenge.accounturi
            ? challenge.accounturi
            : persistAccountUri({ accountUrl: url, thumbprint: this.client.accountKeyThumbprint, domain: value, accountHashPrefix });
        return { ...base, dnsRecordName: persistRecordName(value), persist: { issuerDomainNames, accountUri, accountUrl: url } };
      }
      default:
        return base;
    }
  }

  private async solveAuthorization(url: string, solvers: IssueRequest['solvers'], signal: AbortSignal | undefined, gate: Arrivals, named: (name: string) => void): Promise<void> {
    // Arrives exactly once on every path: after presenting, or on the way out without answering.
    let arrived = false;
    const arrive = (): void => {
      if (!arrived) gate.arrive();
      arrived = true;
    };
    try {
      await this.answerAuthorization(url, solvers, signal, async () => {
        arrive();
        await gate.all;
      }, named);
    } finally {
      arrive();
    }
  }

  /** One authorization: its solver presents, then (once `presented` resolves) the challenge is answered and polled; clean-up always. */
  private async answerAuthorization(url: string, solvers: IssueRequest['solvers'], signal: AbortSignal | undefined, presented: () => Promise<void>, named: (name: string) => void): Promise<void> {
    const authz = await this.client.getAuthorization(url, { signal });
    named(`${authz.wildcard ? '*.' : ''}${authz.identifier.value}`);
    if (authz.status === 'valid') return;
    if (authz.status !== 'pending') {
      const message = `issuer: authorization for ${authz.identifier.value} is ${authz.status}`;
      // `invalid` is a validation the CA already failed (and counted); the other states are not.
      throw authz.status === 'invalid' ? new ValidationFailedError(message) : new CertpilotError('ERR_ACME_AUTHORIZATION_FAILED', message);
    }
    const offered = authz.challenges.map((c) => c.type);
    const authzName = `${authz.wildcard ? '*.' : ''}${authz.identifier.value}`;
    const solver = solvers.get(authzName.toLowerCase());
    const challenge = solver && authz.challenges.find((c) => c.type === solver.type);
    if (!solver || !challenge) {
      throw new CertpilotError(
        'ERR_CHALLENGE_UNSUPPORTED',
        `issuer: no solver for ${authzName}: the CA offers ${offered.join(', ')}, its solver answers ${solver?.type ?? 'nothing (the name has no solver)'}`,
        { hint: 'Give the name a solver of a type the CA offers (wildcards need dns-01, dns-account-01 or dns-persist-01); see `solvers` in each certificate.' },
      );
    }
    const pending = await this.pendingChallenge(solver.type, authz, challenge, signal);
    const name = `${pending.wildcard ? '*.' : ''}${authz.identifier.value}`;
    try {
      await solver.present(pending, { signal });
      if (isChallengeWaiter(solver)) await solver.wait(pending, { signal });
      this.logger.debug({ identifier: name, type: solver.type }, 'challenge presented');
      await presented();
      await this.client.respondToChallenge(challenge.url, { signal });
      const final = await this.client.pollAuthorization(url, { signal });
      if (final.status !== 'valid') {
        const failed = final.challenges.find((c) => c.type === solver.type);
        const why = failed?.error?.detail ?? `authorization is ${final.status}`;
        const message = `${solver.type} for ${name}: ${why}`;
        // The solver says what it wrote where (the webroot's file), so the hint points at the cause.
        const hint = isExplainedSolver(solver) ? { hint: solver.explain(pending) } : {};
        throw final.status === 'invalid' ? new ValidationFailedError(message, hint) : new CertpilotError('ERR_ACME_AUTHORIZATION_FAILED', message, hint);
      }
      this.logger.info({ identifier: name, type: solver.type }, 'authorization valid');
    } finally {
      try {
        await solver.cleanUp(pending, {});
      } catch (err) {
        this.logger.warn(
          { identifier: name, type: solver.type, err: err instanceof Error ? err.message : String(err) },
          `challenge cleanup failed: what the ${solver.type} solver wrote for ${name} stays for now; a dns-01, redis or webroot solver keeps it in its journal and removes it at its next order (the same solver name)`,
        );
      }
    }
  }
}

/** A count-down of `n` arrivals; `all` resolves at the last. */
interface Arrivals {
  arrive(): void;
  readonly all: Promise<void>;
}

function arrivals(n: number): Arrivals {
  let left = n;
  let open!: () => void;
  const all = new Promise<void>((resolve) => (open = resolve));
  if (left <= 0) open();
  return {
    arrive: () => {
      left -= 1;
      if (left === 0) open();
    },
    all,
  };
}

/**
 * The error of a failed authorization stage. One failure, or several with the same code (two names
 * both REFUSED by the DNS server), surface that code as docs/errors.md documents it — not wrapped in
 * ERR_ACME_AUTHORIZATION_FAILED — with every name's detail and every distinct hint (for RFC 2136 a
 * REFUSED lists each missing `grant`). Mixed causes are ERR_ACME_AUTHORIZATION_FAILED. When the
 * CA marked any of them invalid, the error is a {@link ValidationFailedError}: the CA counted it.
 */
export function authorizationFailure(failures: readonly unknown[], total: number, names: readonly (string | undefined)[] = []): CertpilotError {
  const [first] = failures;
  const codes = new Set(failures.map((f) => (f instanceof CertpilotError ? f.code : 'ERR_INTERNAL')));
  const [code] = codes;
  if (failures.length === 1 && first instanceof CertpilotError && code !== 'ERR_ACME_AUTHORIZATION_FAILED') return first;
  // Each distinct text once, after the identifiers it failed for (a name and its wildcard often
  // fail with the same words: one `_acme-challenge` record).
  const byText = new Map<string, string[]>();
  failures.forEach((f, i) => {
    const text = f instanceof Error ? f.message : String(f);
    const list = byText.get(text) ?? [];
    const name = names[i];
    if (name !== undefined) list.push(name);
    byText.set(text, list);
  });
  const detail = [...byText].map(([text, ids]) => (ids.length > 0 ? `${ids.join(', ')}: ${text}` : text)).join('; ');
  const message = `issuer: ${failures.length} of ${total} authorization(s) failed: ${detail}`;
  if (codes.size === 1 && code !== undefined && code !== 'ERR_INTERNAL' && code !== 'ERR_ACME_AUTHORIZATION_FAILED') {
    const errors = failures as CertpilotError[];
    return new CertpilotError(code as CertpilotError['code'], message, { cause: first, hint: mergeHints(errors.map((e) => e.hint)), retryable: errors.every((e) => e.retryable) });
  }
  const counted = failures.some((f) => f instanceof ValidationFailedError);
  // A solver's own hint (what it wrote where) is kept; the catalog's generic one is not repeated.
  const ownHints = failures.flatMap((f) => (f instanceof CertpilotError && f.hint !== ERROR_CATALOG[f.code].hint ? [f.hint] : []));
  if (counted) return new ValidationFailedError(message, { cause: failures.find((f) => f instanceof ValidationFailedError), ...(first instanceof CertpilotError && first.code !== 'ERR_ACME_AUTHORIZATION_FAILED' ? { hint: first.hint } : ownHints.length > 0 ? { hint: mergeHints(ownHints) } : {}) });
  return new CertpilotError('ERR_ACME_AUTHORIZATION_FAILED', message, {
    cause: first,
    ...(first instanceof CertpilotError && first.code !== 'ERR_ACME_AUTHORIZATION_FAILED' ? { hint: first.hint } : {}),
  });
}

/**
 * One hint from several: equal hints once; hints that differ only inside one `{ … }` list (BIND's
 * `update-policy { grant …; };`, one grant per name) as one list with every entry; else each hint.
 */
export function mergeHints(hints: readonly string[]): string {
  const distinct = [...new Set(hints)];
  if (distinct.length <= 1) return distinct[0] ?? '';
  const parts = distinct.map((h) => /^(.*\{ )(.*?)( \};?\.?)$/.exec(h));
  const [head] = parts;
  if (head && parts.every((p) => p !== null && p[1] === head[1] && p[3] === head[3])) {
    return `${head[1]}${parts.map((p) => p?.[2] ?? '').join(' ')}${head[3]}`;
  }
  return distinct.join(' ');
}
