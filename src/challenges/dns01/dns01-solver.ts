/**
 * dns-01 (RFC 8555 §8.4) over any {@link DnsProvider}: present adds this challenge's TXT value,
 * cleanUp removes only that value.
 */
import { CertpilotError } from '../../errors.js';
import type { ChallengeSolver, PendingChallenge, SolverCallOptions } from '../challenge-solver.js';
import type { DnsProvider } from './dns-provider.js';

/** Answers dns-01 challenges through a DNS provider. */
export class Dns01Solver implements ChallengeSolver {
  readonly type = 'dns-01' as const;
  private readonly provider: DnsProvider;
  private readonly ttl: number;

  constructor(options: { provider: DnsProvider; ttlSeconds?: number }) {
    this.provider = options.provider;
    this.ttl = options.ttlSeconds ?? 60;
  }

  async present(challenge: PendingChallenge, options: SolverCallOptions): Promise<void> {
    const { fqdn, value } = record(challenge);
    await this.provider.addTxtRecord({ fqdn, value, ttl: this.ttl }, options);
  }

  async cleanUp(challenge: PendingChallenge, options: SolverCallOptions): Promise<void> {
    await this.provider.removeTxtRecord(record(challenge), options);
  }
}

function record(challenge: PendingChallenge): { fqdn: string; value: string } {
  if (!challenge.dnsRecordName || !challenge.dnsValue) {
    throw new CertpilotError('ERR_CHALLENGE_UNSUPPORTED', `dns-01: challenge ${challenge.url} has no TXT record name or value`);
  }
  return { fqdn: challenge.dnsRecordName, value: challenge.dnsValue };
}
