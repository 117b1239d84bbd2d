/**
 * The propagation check of dns-01: before the CA is told to validate, every authoritative
 * nameserver of the zone must serve the TXT value. Resolvers and caches are not asked for the TXT
 * value (a cache can hold a negative answer for the SOA minimum, RFC 2308 §5); the nameservers are
 * asked directly, without recursion, over IPv4 and IPv6.
 *
 * Steps, each through the configured resolvers (split horizon) or the system's:
 * 1. follow `_acme-challenge.<name>` through CNAMEs to where the TXT record lives (RFC 1034 §3.6.2);
 * 2. find its zone from the SOA of the name or a parent (RFC 2308 §3);
 * 3. the zone's NS set, and each nameserver's A and AAAA addresses;
 * 4. ask each address for the TXT set until all hold the value, or the timeout.
 */
import { getServers } from 'node:dns';
import { CertpilotError } from '../../errors.js';
import { silentLogger, type Logger } from '../../logger.js';
import type { Clock } from '../../clock.js';
import { absoluteName, formatDnsServer, parseDnsServer, query, soaOwner, zoneCandidates, type DnsAnswer, type DnsServer } from './dns-client.js';

/** One authoritative nameserver address of a zone. */
export interface AuthoritativeServer {
  /** The NS name, e.g. `ns1.example.com.`. */
  nameserver: string;
  /** One of its addresses, with the port it is asked on. */
  server: DnsServer;
}

/** What a propagation round saw; given to `onProgress`. */
export interface PropagationProgress {
  fqdn: string;
  value: string;
  /** Servers that serve the value. */
  ready: AuthoritativeServer[];
  /** Servers that do not (yet), with why. */
  waiting: { server: AuthoritativeServer; why: string }[];
}

/** Options of {@link PropagationChecker}. */
export interface PropagationCheckerOptions {
  /** Resolvers for CNAME, SOA, NS and address lookups; default the system's (`/etc/resolv.conf`). */
  resolvers?: readonly DnsServer[];
  /** Port the authoritative nameservers are asked on (default 53). */
  nameserverPort?: number;
  /** Longest wait for all nameservers, in ms. */
  timeoutMs: number;
  /** Pause between rounds, in ms (default 2000). */
  pollMs?: number;
  /** Time for one DNS answer, in ms (default 2000). */
  queryTimeoutMs?: number;
  clock: Clock;
  logger?: Logger;
  /** Called after every round (tests record the order of events with it). */
  onProgress?: (progress: PropagationProgress) => void;
}

/** A judge's verdict on one server's TXT set: accepted, or why not (`final`: waiting will not change it). */
export type TxtJudgement = { ok: true } | { ok: false; why: string; final?: boolean };

/** After this long without every nameserver serving the record, a wait says so once at the default log level. */
const STILL_WAITING_MS = 15_000;

/** Checks that every authoritative nameserver serves a TXT value; follows CNAMEs. */
export class PropagationChecker {
  private readonly resolvers: readonly DnsServer[];
  private readonly nameserverPort: number;
  private readonly timeoutMs: number;
  private readonly pollMs: number;
  private readonly queryTimeoutMs: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly onProgress: ((progress: PropagationProgress) => void) | undefined;

  constructor(options: PropagationCheckerOptions) {
    this.resolvers = options.resolvers?.length ? options.resolvers : getServers().map((s) => parseDnsServer(s));
    this.nameserverPort = options.nameserverPort ?? 53;
    this.timeoutMs = options.timeoutMs;
    this.pollMs = options.pollMs ?? 2000;
    this.queryTimeoutMs = options.queryTimeoutMs ?? 2000;
    this.clock = options.clock;
    this.logger = options.logger ?? silentLogger;
    this.onProgress = options.onProgress;
  }

  /** Asks the resolvers, first one that answers wins (like a stub resolver, RFC 1034 §5.3.1). */
  private async resolve(name: string, type: 'CNAME' | 'SOA' | 'NS' | 'A' | 'AAAA', signal?: AbortSignal): Promise<DnsAnswer> {
    let lastError: unknown;
    for (const resolver of this.resolvers) {
      try {
        const answer = await query(resolver, name, type, { timeoutMs: this.queryTimeoutMs, ...(signal ? { signal } : {}) });
        if (answer.rcode === 'SERVFAIL' || answer.rcode === 'REFUSED') {
          // REFUSED is the server's policy, not the network: it neither holds the name's zone nor recurses for us.
          const refused = answer.rcode === 'REFUSED';
          lastError = new CertpilotError('ERR_DNS_NETWORK', `dns: ${formatDnsServer(resolver)} answered ${answer.rcode} for ${name} ${type}${refused ? ': it holds no zone of that name and does not look it up for us' : ''}`, {
            retryable: true,
            ...(refused ? { hint: `Point \`resolvers\` at a resolver that answers for ${name.replace(/\.$/, '')} (one that recurses, or the server of its zone), or add the zone to that server.` } : {}),
          });
          continue;
        }
        return answer;
      } catch (err) {
        signal?.throwIfAborted();
        lastError = err;
      }
    }
    throw lastError ?? new CertpilotError('ERR_DNS_NETWORK', 'dns: no resolver configured');
  }

  /** Where the TXT record of `fqdn` lives: `fqdn` itself, or the end of its CNAME chain. */
  async resolveTarget(fqdn: string, signal?: AbortSignal): Promise<string> {
    let name = absoluteName(fqdn);
    const seen = new Set<string>([name]);
    for (let hops = 0; hops < 8; hops++) {
      const answer = await this.resolve(name, 'CNAME', signal);
      const cname = (answer.answers ?? []).find((rr) => rr.type === 'CNAME' && absoluteName(rr.name) === name);
      if (!cname || cname.type !== 'CNAME') return name;
      const target = absoluteName(cname.data);
      if (seen.has(target)) {
        throw new CertpilotError('ERR_DNS_ZONE_NOT_FOUND', `dns-01: ${fqdn} is a CNAME loop (${[...seen, target].join(' → ')})`, {
          hint: 'Fix the CNAME of the _acme-challenge name so it ends at a TXT record.',
        });
      }
      this.logger.debug({ from: name, to: target }, 'dns-01: following CNAME');
      seen.add(target);
      name = target;
    }
    return name;
  }

  /** The zone holding `fqdn`: the owner of the SOA of the name or its nearest parent. */
  async findZone(fqdn: string, signal?: AbortSignal): Promise<string> {
    for (const candidate of zoneCandidates(fqdn)) {
      const zone = soaOwner(await this.resolve(candidate, 'SOA', signal));
      if (zone !== undefined) return zone;
    }
    throw new CertpilotError('ERR_DNS_ZONE_NOT_FOUND', `dns: no zone found for ${fqdn}: no SOA through ${this.resolvers.map(formatDnsServer).join(', ')}`);
  }

  /** Every address (IPv4 and IPv6) of every NS of `zone`. */
  async authoritativeServers(zone: string, signal?: AbortSignal): Promise<AuthoritativeServer[]> {
    const nsAnswer = await this.resolve(zone, 'NS', signal);
    const names = [...new Set((nsAnswer.answers ?? []).flatMap((rr) => (rr.type === 'NS' ? [absoluteName(rr.data)] : [])))].sort();
    if (names.length === 0) {
      throw new CertpilotError('ERR_DNS_ZONE_NOT_FOUND', `dns-01: zone ${zone} has no NS records through ${this.resolvers.map(formatDnsServer).join(', ')}`);
    }
    const perName = await Promise.all(
      names.map(async (nameserver) => {
        const [a, aaaa] = await Promise.all([this.resolve(nameserver, 'A', signal), this.resolve(nameserver, 'AAAA', signal)]);
        return [...(a.answers ?? []), ...(aaaa.answers ?? [])].flatMap((rr) =>
          (rr.type === 'A' || rr.type === 'AAAA') && absoluteName(rr.name) === nameserver
            ? [{ nameserver, server: { host: rr.data, port: this.nameserverPort } }]
            : [],
        );
      }),
    );
    const servers = perName.flat();
    if (servers.length === 0) {
      throw new CertpilotError('ERR_DNS_ZONE_NOT_FOUND', `dns-01: no address for any nameserver of ${zone} (${names.join(', ')})`);
    }
    return servers;
  }

  /** Resolves once every authoritative server of `fqdn`'s zone serves `value` at `fqdn`. */
  async waitFor(fqdn: string, value: string, signal?: AbortSignal): Promise<AuthoritativeServer[]> {
    const name = absoluteName(fqdn);
    const result = await this.waitForTxt(
      name,
      (values) => (values.includes(value) ? { ok: true } : { ok: false, why: values.length === 0 ? 'no TXT yet' : `${values.length} other value(s)` }),
      signal,
      value,
    );
    if (result.waiting.length === 0) return result.servers;
    const list = result.waiting.map((w) => `${w.server.nameserver} ${formatDnsServer(w.server.server)} (${w.why})`).join(', ');
    throw new CertpilotError(
      'ERR_DNS_PROPAGATION_TIMEOUT',
      `dns: TXT ${name} not served by ${result.waiting.length} of ${result.servers.length} nameserver(s) of ${result.zone} after ${Math.round(this.timeoutMs / 1000)} s: ${list}`,
      { retryable: true },
    );
  }

  /**
   * Asks every authoritative server of `fqdn`'s zone for the TXT set at `fqdn` until `judge`
   * accepts every server's set, until every server still waiting has a `final` verdict (a record
   * that is there but wrong: waiting would not help), or until the timeout. Returns what each
   * server still lacks (empty when all accept).
   */
  async waitForTxt(
    fqdn: string,
    judge: (values: string[]) => TxtJudgement,
    signal?: AbortSignal,
    label = '(judged)',
  ): Promise<{ zone: string; servers: AuthoritativeServer[]; waiting: { server: AuthoritativeServer; why: string; final: boolean }[] }> {
    const name = absoluteName(fqdn);
    const zone = await this.findZone(name, signal);
    const servers = await this.authoritativeServers(zone, signal);
    const started = this.clock.now().getTime();
    const deadline = started + this.timeoutMs;
    // One line at the default level once the wait is long (a user otherwise sees nothing for up to
    // propagationTimeoutSeconds): what is awaited, and when the wait gives up.
    const sayAfterMs = Math.min(STILL_WAITING_MS, this.timeoutMs / 2);
    let said = false;
    const ready = new Set<AuthoritativeServer>();
    // Addresses this machine has no route to (an IPv6 address in a container without IPv6): not
    // required while another address of the same nameserver is checked.
    const unroutable = new Set<AuthoritativeServer>();
    for (let round = 1; ; round++) {
      const waiting: { server: AuthoritativeServer; why: string; final: boolean }[] = [];
      await Promise.all(
        servers
          .filter((s) => !ready.has(s) && !unroutable.has(s))
          .map(async (s) => {
            const seen = await this.txtValues(s, name, signal);
            const verdict = Array.isArray(seen) ? judge(seen) : undefined;
            if (verdict?.ok) ready.add(s);
            else if (verdict) waiting.push({ server: s, why: verdict.why, final: verdict.final === true });
            else if (seen === UNROUTABLE && servers.some((o) => o !== s && o.nameserver === s.nameserver && !unroutable.has(o))) {
              unroutable.add(s);
              this.logger.warn({ nameserver: s.nameserver, address: s.server.host }, 'dns: no route to this nameserver address; checking its other addresses');
            } else waiting.push({ server: s, why: seen === UNROUTABLE ? 'no route to this address' : (seen as string), final: false });
          }),
      );
      this.onProgress?.({ fqdn: name, value: label, ready: servers.filter((s) => ready.has(s)), waiting });
      if (waiting.length === 0) {
        this.logger.info({ fqdn: name, zone, servers: servers.length, rounds: round }, 'dns: every authoritative nameserver serves the TXT record');
        return { zone, servers, waiting };
      }
      const left = deadline - this.clock.now().getTime();
      if (left <= 0 || waiting.every((w) => w.final)) return { zone, servers, waiting };
      const list = waiting.map((w) => `${w.server.nameserver} ${formatDnsServer(w.server.server)} (${w.why})`).join(', ');
      this.logger.info({ fqdn: name, ready: ready.size, of: servers.length, waiting: list }, 'dns: waiting for nameservers');
      const elapsed = this.clock.now().getTime() - started;
      if (!said && elapsed >= sayAfterMs) {
        said = true;
        this.logger.warn(
          { fqdn: name, ready: ready.size, of: servers.length, waiting: list },
          `dns: still waiting after ${Math.round(elapsed / 1000)} s for ${waiting.length} of ${servers.length} nameserver(s) of ${zone} to serve TXT ${name}: ${list}; giving up at ${new Date(deadline).toISOString()} (propagationTimeoutSeconds)`,
        );
      }
      await this.clock.sleep(Math.min(this.pollMs, left), signal);
    }
  }

  /**
   * Every TXT value any authoritative server of `fqdn`'s zone serves at `fqdn` now (no CNAME
   * followed, no waiting); throws when no server answers.
   */
  async currentTxt(fqdn: string, signal?: AbortSignal): Promise<string[]> {
    const name = absoluteName(fqdn);
    const servers = await this.authoritativeServers(await this.findZone(name, signal), signal);
    const sets = await Promise.all(servers.map((s) => this.txtValues(s, name, signal)));
    const answered = sets.filter((v): v is string[] => Array.isArray(v));
    if (answered.length === 0) {
      throw new CertpilotError('ERR_DNS_NETWORK', `dns: no authoritative nameserver of ${name} answered: ${sets.join('; ')}`, { retryable: true });
    }
    return [...new Set(answered.flat())];
  }

  /** The TXT values `server` serves at `name`, or why it gave none (an rcode, an error, UNROUTABLE). */
  private async txtValues(s: AuthoritativeServer, name: string, signal?: AbortSignal): Promise<string[] | string> {
    try {
      const answer = await query(s.server, name, 'TXT', { recursive: false, timeoutMs: this.queryTimeoutMs, tries: 1, ...(signal ? { signal } : {}) });
      if (answer.rcode === 'NXDOMAIN') return [];
      if (answer.rcode !== 'NOERROR') return answer.rcode;
      return (answer.answers ?? []).flatMap((rr) =>
        rr.type === 'TXT' && absoluteName(rr.name) === name ? [(Array.isArray(rr.data) ? rr.data : [rr.data]).map((d) => d.toString()).join('')] : [],
      );
    } catch (err) {
      signal?.throwIfAborted();
      const code = ((err as { cause?: NodeJS.ErrnoException }).cause ?? (err as NodeJS.ErrnoException)).code;
      if (code !== undefined && UNROUTABLE_CODES.has(code)) return UNROUTABLE;
      return err instanceof Error ? err.message : String(err);
    }
  }
}

/** Socket errors that mean "this machine cannot reach that address at all" (not "not yet"). */
const UNROUTABLE_CODES = new Set(['ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL', 'EAFNOSUPPORT']);
const UNROUTABLE = 'unroutable';
