/**
 * dns-01 (RFC 8555 §8.4) and dns-account-01 (draft-ietf-acme-dns-account-label-03) over any
 * {@link DnsProvider}. The two differ only in the record name the Issuer gives
 * (`_acme-challenge.<name>` or `_<account label>._acme-challenge.<name>`); the value is the same.
 *
 * - `present` adds this challenge's TXT value at `_acme-challenge.<name>.`, or at the end of its
 *   CNAME chain when that name is delegated (acme-dns, a validation zone). A wildcard and its base
 *   name share the record set; each adds and removes only its own value.
 * - `wait` (a {@link ChallengeWaiter}) returns once every authoritative nameserver of the target's
 *   zone serves the value, so the CA is told only then.
 * - `cleanUp` removes only this challenge's value, at the same target `present` wrote.
 * - With a journal directory, each value is journalled (durably) before it is written and dropped
 *   from the journal once removed; `prepare` (before each order) removes the values a killed run
 *   of this solver on this host left (`challenge-journal.ts`, as the redis token store does).
 *
 * Nothing here serializes: the Issuer solves an order's authorizations in parallel, and so the
 * records of one order are added, checked and removed at once.
 */
import { CertpilotError } from '../../errors.js';
import { silentLogger, type Logger } from '../../logger.js';
import { ChallengeJournal, type JournalEntry } from '../challenge-journal.js';
import type { ChallengeSolver, ChallengeWaiter, PendingChallenge, PreparedSolver, SolverCallOptions } from '../challenge-solver.js';
import { DnsNothingWrittenError, type DnsProvider } from './dns-provider.js';
import type { PropagationChecker } from './propagation.js';

/** Options of {@link Dns01Solver}. */
export interface Dns01SolverOptions {
  provider: DnsProvider;
  /** Which challenge it answers (default dns-01). */
  type?: 'dns-01' | 'dns-account-01';
  /** TTL of the TXT records (default 60). */
  ttlSeconds?: number;
  /** Follows CNAMEs and checks propagation; without it the CA is told at once and no CNAME is followed. */
  propagation?: PropagationChecker;
  /** Wait for every nameserver before the CA is told (default true; needs `propagation`). */
  checkPropagation?: boolean;
  /** Write at the CNAME target of `_acme-challenge.<name>` (default true; needs `propagation`). */
  followCname?: boolean;
  /**
   * Directory of the journal of values written and not yet removed (`<stateDir>/dns01-records/<solver
   * name>`). Unset: no journal (values a killed run leaves stay in the zone).
   */
  journalDir?: string;
  logger?: Logger;
}

/** One journalled TXT value: where `present` wrote it. */
interface RecordEntry extends JournalEntry {
  fqdn: string;
  value: string;
}

function isRecordEntry(e: unknown): e is RecordEntry {
  const r = e as Partial<RecordEntry> | null;
  return typeof r?.fqdn === 'string' && typeof r.value === 'string';
}

/** Answers dns-01 challenges through a DNS provider, checking propagation at every nameserver. */
export class Dns01Solver implements ChallengeSolver, ChallengeWaiter, PreparedSolver {
  readonly type: 'dns-01' | 'dns-account-01';
  private readonly provider: DnsProvider;
  private readonly ttl: number;
  private readonly propagation: PropagationChecker | undefined;
  private readonly followCname: boolean;
  private readonly checkPropagation: boolean;
  private readonly logger: Logger;
  /** Where each presented challenge (by URL) wrote its value. */
  private readonly targets = new Map<string, string>();
  private readonly journal: ChallengeJournal<RecordEntry> | undefined;

  constructor(options: Dns01SolverOptions) {
    this.provider = options.provider;
    this.type = options.type ?? 'dns-01';
    this.ttl = options.ttlSeconds ?? 60;
    this.propagation = options.propagation;
    this.followCname = options.followCname ?? true;
    this.checkPropagation = options.checkPropagation ?? true;
    this.logger = options.logger ?? silentLogger;
    this.journal =
      options.journalDir === undefined ? undefined : new ChallengeJournal({ dir: options.journalDir, component: this.type, accept: isRecordEntry, logger: this.logger });
  }

  /** Removes the TXT values a killed run of this solver (on this host) journalled and left. */
  async prepare(options: SolverCallOptions): Promise<void> {
    options.signal?.throwIfAborted();
    await this.journal?.sweep((e) => this.provider.removeTxtRecord({ fqdn: e.fqdn, value: e.value }, options));
  }

  async present(challenge: PendingChallenge, options: SolverCallOptions): Promise<void> {
    const { fqdn, value } = record(challenge);
    const target = this.followCname && this.propagation ? await this.propagation.resolveTarget(fqdn, options.signal) : fqdn;
    if (target !== fqdn) this.logger.info({ name: fqdn, target }, `${this.type}: the record name is delegated by CNAME; writing at its target`);
    // Journalled before it is written: a run killed from here on leaves a value the next run removes.
    await this.journal?.add(challenge.url, { fqdn: target, value });
    this.targets.set(challenge.url, target);
    try {
      await this.provider.addTxtRecord({ fqdn: target, value, ttl: this.ttl }, options);
    } catch (err) {
      // A definite refusal wrote nothing: cleanUp has nothing to remove (and no warning to make).
      // Anything else (a timeout) may have landed, so cleanUp still removes the value.
      if (err instanceof DnsNothingWrittenError || (err instanceof CertpilotError && NOTHING_WRITTEN.has(err.code))) {
        this.targets.delete(challenge.url);
        await this.journal?.remove(challenge.url);
      }
      throw err;
    }
  }

  async wait(challenge: PendingChallenge, options: SolverCallOptions): Promise<void> {
    if (!this.propagation || !this.checkPropagation) return;
    const { fqdn, value } = record(challenge);
    await this.propagation.waitFor(this.targets.get(challenge.url) ?? fqdn, value, options.signal);
  }

  /** Removes the value `present` wrote; nothing (no DNS request) when present never wrote it. */
  async cleanUp(challenge: PendingChallenge, options: SolverCallOptions): Promise<void> {
    const { value } = record(challenge);
    const target = this.targets.get(challenge.url);
    if (target === undefined) return;
    await this.provider.removeTxtRecord({ fqdn: target, value }, options);
    this.targets.delete(challenge.url);
    await this.journal?.remove(challenge.url);
  }
}

/** Codes with which a provider says the TXT value was not written (the server refused it). */
const NOTHING_WRITTEN: ReadonlySet<string> = new Set(['ERR_DNS_TSIG_REJECTED', 'ERR_DNS_UPDATE_REFUSED', 'ERR_DNS_ZONE_NOT_FOUND', 'ERR_ROUTE53_ACCESS_DENIED', 'ERR_DNS_SECRET']);

function record(challenge: PendingChallenge): { fqdn: string; value: string } {
  if (!challenge.dnsRecordName || !challenge.dnsValue) {
    throw new CertpilotError('ERR_CHALLENGE_UNSUPPORTED', `${challenge.type}: challenge ${challenge.url} has no TXT record name or value`);
  }
  return { fqdn: challenge.dnsRecordName, value: challenge.dnsValue };
}

