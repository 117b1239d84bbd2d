/**
 * The `rfc2136` DNS provider: adds and removes one TXT value with DNS UPDATE (RFC 2136) signed by a
 * TSIG key (RFC 8945), against the zone's primary (BIND, Knot, PowerDNS).
 *
 * - The zone is found through SOA queries to the same server (RFC 2136 §4: the zone section names
 *   the zone; an authoritative server puts the zone's SOA in the authority section of a NODATA or
 *   NXDOMAIN answer, RFC 2308 §3), unless configured.
 * - Add is one RR added without prerequisites (§2.5.1): a value already there is a no-op at the
 *   server (§3.4.2.2, duplicate RRs are ignored) and other values stay.
 * - Remove deletes one RR by value (§2.5.4, CLASS NONE): other values stay; a value already gone
 *   is a no-op at the server.
 * - Every answer's TSIG is verified (RFC 8945 §5.3); a NOERROR without a valid signature is an error.
 */
import { PromiseCache } from '../../../../promise-cache.js';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type * as z from 'zod/mini';
import { CertpilotError, ConfigError } from '../../../../errors.js';
import type { PluginDeps } from '../../../../plugins/plugin.js';
import type { rfc2136Schema } from './schema.js';
import { silentLogger, type Logger } from '../../../../logger.js';
import type { Clock } from '../../../../clock.js';
import { absoluteName, exchange, formatDnsServer, newMessageId, query, soaOwner, zoneCandidates, type DnsServer } from '../../dns-client.js';
import { DnsNothingWrittenError, type DnsCallOptions, type DnsProvider, type TxtRecord } from '../../dns-provider.js';
import { encodeUpdate, parseUpdateAnswer, RCODE_NAMES, signMessage, verifyAnswer, type TsigKey, type TxtChange } from './tsig.js';

/** Options of {@link Rfc2136DnsProvider}. */
export interface Rfc2136DnsProviderOptions {
  server: DnsServer;
  key: TsigKey;
  /** The zone to update; found through SOA when absent. */
  zone?: string;
  /** Time for one answer, in ms (default 5000). */
  timeoutMs?: number;
  clock: Clock;
  logger?: Logger;
}

/** Reads the base64 secret out of a secret file: the bare secret, or a BIND key file's `secret "…";`. */
export function parseSecretFile(text: string): string {
  const bind = /secret\s+"([^"]+)"/.exec(text);
  return (bind?.[1] ?? text).trim();
}

/** Whether `secret` is a TSIG secret as tsig-keygen prints it (base64, not empty): the factory's and `config check`'s one rule. */
export function isTsigSecret(secret: string): boolean {
  return /^[A-Za-z0-9+/]+={0,2}$/.test(secret) && Buffer.from(secret, 'base64').length > 0;
}

/** DNS UPDATE with TSIG (RFC 2136, RFC 8945). */
export class Rfc2136DnsProvider implements DnsProvider {
  private readonly server: DnsServer;
  private readonly key: TsigKey;
  private readonly zone: string | undefined;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly zones = new PromiseCache<string>();

  constructor(options: Rfc2136DnsProviderOptions) {
    this.server = options.server;
    this.key = { ...options.key, name: absoluteName(options.key.name) };
    this.zone = options.zone === undefined ? undefined : absoluteName(options.zone);
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.clock = options.clock;
    this.logger = options.logger ?? silentLogger;
  }

  async addTxtRecord(record: TxtRecord, options: DnsCallOptions): Promise<void> {
    await this.update({ action: 'add', name: absoluteName(record.fqdn), value: record.value, ttl: record.ttl }, options);
  }

  async removeTxtRecord(record: Omit<TxtRecord, 'ttl'>, options: DnsCallOptions): Promise<void> {
    await this.update({ action: 'delete', name: absoluteName(record.fqdn), value: record.value, ttl: 0 }, options);
  }

  /** The zone that holds `fqdn` on this server. */
  findZone(fqdn: string, options: DnsCallOptions = {}): Promise<string> {
    if (this.zone !== undefined) return Promise.resolve(this.zone);
    const name = absoluteName(fqdn);
    return this.zones.get(name, () => this.lookUpZone(name, options));
  }

  private async lookUpZone(fqdn: string, options: DnsCallOptions): Promise<string> {
    for (const candidate of zoneCandidates(fqdn)) {
      const answer = await query(this.server, candidate, 'SOA', { recursive: false, timeoutMs: this.timeoutMs, ...signalOf(options) });
      const zone = soaOwner(answer);
      if (zone !== undefined && (answer.rcode === 'NOERROR' || answer.rcode === 'NXDOMAIN')) return zone;
    }
    throw new CertpilotError('ERR_DNS_ZONE_NOT_FOUND', `rfc2136: no zone for ${fqdn} on ${formatDnsServer(this.server)}: no SOA for the name or any parent`, {
      hint: 'Check that `server` is the primary of the zone, or set `zone` in the solver options.',
    });
  }

  private async update(change: TxtChange, options: DnsCallOptions): Promise<void> {
    options.signal?.throwIfAborted();
    // No zone, no update sent: nothing can have been written.
    const zone = await this.findZone(change.name, options).catch((err: unknown) => {
      options.signal?.throwIfAborted();
      throw DnsNothingWrittenError.from(err);
    });
    if (this.zone !== undefined && change.name !== zone && !change.name.endsWith(`.${zone}`)) {
      throw new CertpilotError('ERR_DNS_ZONE_NOT_FOUND', `rfc2136: ${change.action === 'add' ? 'adding' : 'removing'} TXT ${change.name}: the name is outside the configured zone ${zone}`, {
        hint: `Set \`zone\` of the solver to the zone that holds ${change.name} (a parent of it), or leave \`zone\` out to find it through SOA.`,
      });
    }
    let requestMac: Buffer = Buffer.alloc(0);
    const raw = await exchange(
      this.server,
      () => {
        const signed = signMessage(encodeUpdate(newMessageId(), zone, change), this.key, Math.floor(this.clock.now().getTime() / 1000));
        requestMac = signed.mac;
        return signed.message;
      },
      { timeoutMs: this.timeoutMs, ...signalOf(options) },
    ).catch((err: unknown) => {
      // Refused: nothing listens at the server's port, so no update was applied.
      throw (err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED' ? DnsNothingWrittenError.from(err) : err;
    });
    let answer: ReturnType<typeof parseUpdateAnswer>;
    try {
      answer = parseUpdateAnswer(raw);
    } catch (cause) {
      throw new CertpilotError('ERR_DNS_NETWORK', `rfc2136: ${change.action === 'add' ? 'adding' : 'removing'} TXT ${change.name}: ${formatDnsServer(this.server)} sent a malformed answer`, { cause });
    }
    const what = `${change.action === 'add' ? 'adding' : 'removing'} TXT ${change.name} in zone ${zone} on ${formatDnsServer(this.server)}`;
    const tsigError = answer.tsig?.error ?? 0;
    if (tsigError !== 0) throw tsigRejected(what, tsigError, this.key);
    if (answer.rcode !== 0) throw updateRefused(what, answer.rcode, this.key, change.name, this.zone);
    if (!verifyAnswer(raw, answer, this.key, requestMac)) {
      throw new CertpilotError('ERR_DNS_TSIG_REJECTED', `rfc2136: ${what}: the answer is not signed with key ${this.key.name} (RFC 8945 §5.3)`, {
        hint: 'Check that `server` is the DNS server that holds the key; something else answered.',
      });
    }
    this.logger.debug({ fqdn: change.name, zone, action: change.action }, 'rfc2136 update done');
  }
}

function signalOf(options: DnsCallOptions): { signal?: AbortSignal } {
  return options.signal ? { signal: options.signal } : {};
}

function tsigRejected(what: string, error: number, key: TsigKey): CertpilotError {
  const name = RCODE_NAMES[error] ?? `TSIG error ${error}`;
  const why: Record<string, [string, string]> = {
    BADKEY: [
      `the server does not know key ${key.name} with algorithm ${key.algorithm}, or its ACL does not let that key update this name (Knot DNS answers a denied update so)`,
      "Check keyName and algorithm against the key on the server, and that the server's update policy or ACL grants the key this name.",
    ],
    BADSIG: [`the signature made with key ${key.name} does not verify: the secret differs from the server's`, 'Copy the secret of the key from the server again (secretFile).'],
    BADTIME: ["the server's clock and ours differ by more than the fudge (300 s)", 'Synchronise the clocks (NTP) of this machine and the DNS server.'],
  };
  const [reason, hint] = why[name] ?? ['the server rejected the TSIG signature', 'Check the key name, algorithm and secret.'];
  return new CertpilotError('ERR_DNS_TSIG_REJECTED', `rfc2136: ${what}: ${name}: ${reason}`, { hint });
}

function updateRefused(what: string, rcode: number, key: TsigKey, fqdn: string, configuredZone: string | undefined): CertpilotError {
  const name = RCODE_NAMES[rcode] ?? `RCODE ${rcode}`;
  if (name === 'REFUSED') {
    // A configured zone the server does not hold is refused too: look at it before the policy.
    const zoneFirst = configuredZone === undefined ? '' : `Check first that \`zone\` (${configuredZone}) is a zone this server is the primary of and the one that holds ${fqdn} (or leave \`zone\` out); then `;
    return new CertpilotError('ERR_DNS_UPDATE_REFUSED', `rfc2136: ${what}: REFUSED: key ${key.name} may not change TXT ${fqdn} (the zone's update policy)${configuredZone === undefined ? '' : `, or the configured zone ${configuredZone} is not one this server takes updates to`}`, {
      hint: `${zoneFirst}${zoneFirst ? 'allow' : 'Allow'} it on the server, e.g. BIND: update-policy { grant ${key.name} name ${fqdn} TXT; };`,
    });
  }
  if (name === 'NOTAUTH' || name === 'NOTZONE') {
    return new CertpilotError('ERR_DNS_UPDATE_REFUSED', `rfc2136: ${what}: ${name}: the server is not the primary of that zone, or the name is outside it`, {
      hint: 'Point `server` at the zone\'s primary, or set `zone`.',
    });
  }
  return new CertpilotError('ERR_DNS_UPDATE_REFUSED', `rfc2136: ${what}: ${name}`, {
    retryable: name === 'SERVFAIL',
    hint: 'Read the DNS server\'s log for the update.',
  });
}

/** Builds the provider from its validated plug-in options (the registry's factory). */
export async function createRfc2136DnsProvider(options: z.output<ReturnType<typeof rfc2136Schema>>, deps: PluginDeps): Promise<Rfc2136DnsProvider> {
  let secret = options.secret;
  if (options.secretFile !== undefined) {
    const file = resolve(deps.baseDir, options.secretFile);
    try {
      secret = parseSecretFile(await readFile(file, 'utf8'));
    } catch (cause) {
      throw new CertpilotError('ERR_DNS_SECRET', `rfc2136: solver ${deps.name}: cannot read secretFile ${file}: ${(cause as NodeJS.ErrnoException).code ?? 'unreadable'}`, { cause });
    }
  }
  if ((options.secret === undefined) === (options.secretFile === undefined) || secret === undefined) {
    throw new ConfigError([{ path: `solvers.${deps.name}`, message: 'set exactly one of secret and secretFile' }]);
  }
  // An empty or mistyped secret would sign with a wrong key and fail later as BADSIG.
  if (!isTsigSecret(secret)) {
    throw new ConfigError([
      { path: `solvers.${deps.name}.${options.secretFile !== undefined ? 'secretFile' : 'secret'}`, message: 'is not a base64 TSIG secret; copy the `secret` of the key exactly as tsig-keygen printed it' },
    ]);
  }
  return new Rfc2136DnsProvider({
    server: { host: options.server, port: options.port },
    key: { name: options.keyName, algorithm: options.algorithm, secret: Buffer.from(secret, 'base64') },
    ...(options.zone !== undefined ? { zone: options.zone } : {}),
    timeoutMs: options.timeoutSeconds * 1000,
    clock: deps.clock,
    logger: deps.logger,
  });
}
