/**
 * The `route53` DNS provider on `@aws-sdk/client-route-53` (lego `providers/dns/route53`).
 *
 * - Credentials come only from the SDK's default chain; nothing here reads or holds a key.
 * - The hosted zone is `hostedZoneId`, or the public zone whose name is the longest suffix of the
 *   record name (`ListHostedZonesByName`, one call per candidate name, longest first).
 * - Add reads the TXT set (`ListResourceRecordSets`) and UPSERTs it with our value added; remove
 *   UPSERTs it without our value, or DELETEs the set when ours was the last one. Calls on one
 *   record set are serialized in this process (a read-modify-write), different sets run at once.
 * - After each change it polls `GetChange` until INSYNC (every Route 53 nameserver has it).
 * - `Throttling` and `PriorRequestNotComplete` are retried with exponential backoff on the
 *   injected clock; a DELETE of a set that is already gone is success.
 * - An `AccessDenied` names the permission that is missing.
 */
import https from 'node:https';
import { strictAgentOptions } from '../../../../strict-tls.js';
import { PromiseCache } from '../../../../promise-cache.js';
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
  type ResourceRecordSet,
} from '@aws-sdk/client-route-53';
import type * as z from 'zod/mini';
import type { Clock } from '../../../../clock.js';
import { CertpilotError } from '../../../../errors.js';
import { silentLogger, type Logger } from '../../../../logger.js';
import type { PluginDeps } from '../../../../plugins/plugin.js';
import { absoluteName, zoneCandidates } from '../../dns-client.js';
import type { DnsCallOptions, DnsProvider, TxtRecord } from '../../dns-provider.js';
import type { route53Schema } from './schema.js';

/** What the provider needs of a Route 53 client (the SDK's, or a stand-in in unit tests). */
export interface Route53Api {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

/** Options of {@link Route53DnsProvider}. */
export interface Route53DnsProviderOptions {
  client: Route53Api;
  hostedZoneId?: string;
  /** Longest wait for INSYNC, in ms (default 180 000). */
  changeTimeoutMs?: number;
  /** Pause between GetChange calls, in ms (default 2000; Route 53 syncs in about 30–60 s). */
  pollMs?: number;
  /** Retries after Throttling / PriorRequestNotComplete (default 8). */
  maxRetries?: number;
  clock: Clock;
  logger?: Logger;
}

/** The Route 53 errors that mean "slow down and send it again". */
const RETRYABLE = new Set(['Throttling', 'ThrottlingException', 'PriorRequestNotComplete']);

/** DNS provider over the Route 53 API. */
export class Route53DnsProvider implements DnsProvider {
  private readonly client: Route53Api;
  private readonly hostedZoneId: string | undefined;
  private readonly changeTimeoutMs: number;
  private readonly pollMs: number;
  private readonly maxRetries: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly zones = new PromiseCache<string>();
  /** The tail of the queue of calls on each record set. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(options: Route53DnsProviderOptions) {
    this.client = options.client;
    this.hostedZoneId = options.hostedZoneId?.replace(/^\/hostedzone\//, '');
    this.changeTimeoutMs = options.changeTimeoutMs ?? 180_000;
    this.pollMs = options.pollMs ?? 2000;
    this.maxRetries = options.maxRetries ?? 8;
    this.clock = options.clock;
    this.logger = options.logger ?? silentLogger;
  }

  async addTxtRecord(record: TxtRecord, options: DnsCallOptions): Promise<void> {
    options.signal?.throwIfAborted();
    const fqdn = absoluteName(record.fqdn);
    const submitted = await this.serialized(fqdn, async () => {
      const zoneId = await this.zoneFor(fqdn, options);
      const existing = await this.currentSet(zoneId, fqdn, options);
      const values = existing?.values ?? [];
      if (values.includes(record.value)) return undefined;
      return this.change(zoneId, 'UPSERT', fqdn, [...values, record.value], record.ttl, options);
    });
    // Waited for outside the queue: the sibling value (wildcard and base) is submitted meanwhile.
    await this.waitInSync(submitted, options);
  }

  async removeTxtRecord(record: Omit<TxtRecord, 'ttl'>, options: DnsCallOptions): Promise<void> {
    options.signal?.throwIfAborted();
    const fqdn = absoluteName(record.fqdn);
    const submitted = await this.serialized(fqdn, async () => {
      const zoneId = await this.zoneFor(fqdn, options);
      const existing = await this.currentSet(zoneId, fqdn, options);
      if (!existing?.values.includes(record.value)) return undefined;
      const rest = existing.values.filter((v) => v !== record.value);
      if (rest.length > 0) return this.change(zoneId, 'UPSERT', fqdn, rest, existing.ttl, options);
      // A DELETE must name the set exactly as it is (values and TTL).
      return this.change(zoneId, 'DELETE', fqdn, existing.values, existing.ttl, options);
    });
    await this.waitInSync(submitted, options);
  }

  /** Every TXT value at `fqdn` as the Route 53 API holds it (what `route53 check` verifies). */
  async listTxtValues(fqdn: string, options: DnsCallOptions = {}): Promise<string[]> {
    const name = absoluteName(fqdn);
    return (await this.currentSet(await this.zoneFor(name, options), name, options))?.values ?? [];
  }

  /** The hosted zone id for `fqdn` (configured, or the longest matching public zone). */
  zoneFor(fqdn: string, options: DnsCallOptions = {}): Promise<string> {
    if (this.hostedZoneId !== undefined) return Promise.resolve(this.hostedZoneId);
    const name = absoluteName(fqdn);
    return this.zones.get(name, () => this.lookUpZone(name, options));
  }

  private async lookUpZone(fqdn: string, options: DnsCallOptions): Promise<string> {
    // Route 53 hosts no top-level domain: the last candidate is never asked.
    for (const candidate of zoneCandidates(fqdn).slice(0, -1)) {
      const out = (await this.call('ListHostedZonesByName', new ListHostedZonesByNameCommand({ DNSName: candidate, MaxItems: 100 }), options)) as {
        HostedZones?: { Id?: string; Name?: string; Config?: { PrivateZone?: boolean } }[];
      };
      // Zones come sorted by name, then id: a private zone of the same name may come first.
      const zone = (out.HostedZones ?? []).find((z) => absoluteName(z.Name ?? '') === candidate && z.Config?.PrivateZone !== true);
      if (zone?.Id) return zone.Id.replace(/^\/hostedzone\//, '');
    }
    throw new CertpilotError('ERR_DNS_ZONE_NOT_FOUND', `route53: no public hosted zone holds ${fqdn}`, {
      hint: 'Create the hosted zone, or set hostedZoneId in the solver options.',
    });
  }

  private async currentSet(zoneId: string, fqdn: string, options: DnsCallOptions): Promise<{ values: string[]; ttl: number } | undefined> {
    const out = (await this.call(
      'ListResourceRecordSets',
      new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: fqdn, StartRecordType: 'TXT', MaxItems: 1 }),
      options,
    )) as { ResourceRecordSets?: ResourceRecordSet[] };
    const set = (out.ResourceRecordSets ?? []).find((s) => s.Type === 'TXT' && absoluteName(decodeName(s.Name ?? '')) === fqdn && s.SetIdentifier === undefined);
    if (!set) return undefined;
    return { values: (set.ResourceRecords ?? []).map((r) => unquote(r.Value ?? '')), ttl: set.TTL ?? 60 };
  }

  /** Submits one change; returns what to wait for (undefined when there is nothing to wait for). */
  private async change(
    zoneId: string,
    action: 'UPSERT' | 'DELETE',
    fqdn: string,
    values: string[],
    ttl: number,
    options: DnsCallOptions,
  ): Promise<{ id?: string; status?: string } | undefined> {
    let out: { ChangeInfo?: { Id?: string; Status?: string } };
    try {
      out = (await this.call(
        'ChangeResourceRecordSets',
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          ChangeBatch: {
            Comment: 'certpilot dns-01',
            Changes: [{ Action: action, ResourceRecordSet: { Name: fqdn, Type: 'TXT', TTL: ttl, ResourceRecords: values.map((v) => ({ Value: quote(v) })) } }],
          },
        }),
        options,
      )) as typeof out;
    } catch (err) {
      // Someone removed the set between our read and our DELETE: what we wanted.
      if (action === 'DELETE' && err instanceof CertpilotError && /not found/i.test(err.message)) return undefined;
      throw err;
    }
    this.logger.debug({ fqdn, action, values: values.length, change: out.ChangeInfo?.Id }, 'route53 change submitted');
    return { ...(out.ChangeInfo?.Id ? { id: out.ChangeInfo.Id } : {}), ...(out.ChangeInfo?.Status ? { status: out.ChangeInfo.Status } : {}) };
  }

  /** Polls GetChange until the change is INSYNC (every Route 53 nameserver has it). */
  private async waitInSync(submitted: { id?: string; status?: string } | undefined, options: DnsCallOptions): Promise<void> {
    const id = submitted?.id;
    const status = submitted?.status;
    if (id === undefined) return;
    const deadline = this.clock.now().getTime() + this.changeTimeoutMs;
    let current = status;
    while (current !== 'INSYNC') {
      const left = deadline - this.clock.now().getTime();
      if (left <= 0) {
        throw new CertpilotError('ERR_ROUTE53_API', `route53: change ${id} is still ${current ?? 'PENDING'} after ${Math.round(this.changeTimeoutMs / 1000)} s`, {
          retryable: true,
          hint: 'Raise changeTimeoutSeconds, or check the Route 53 status page.',
        });
      }
      await this.clock.sleep(Math.min(this.pollMs, left), options.signal);
      const out = (await this.call('GetChange', new GetChangeCommand({ Id: id }), options)) as { ChangeInfo?: { Status?: string } };
      current = out.ChangeInfo?.Status;
    }
  }

  /** Sends one command; backs off on throttling; maps errors to certpilot's. */
  private async call(action: string, command: unknown, options: DnsCallOptions): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      options.signal?.throwIfAborted();
      try {
        return await this.client.send(command, options.signal ? { abortSignal: options.signal } : {});
      } catch (err) {
        options.signal?.throwIfAborted();
        const name = (err as { name?: string }).name ?? '';
        if (RETRYABLE.has(name) && attempt < this.maxRetries) {
          // Full jitter would be kinder to a shared account; a doubling base keeps tests exact.
          const waitMs = Math.min(30_000, 500 * 2 ** attempt);
          this.logger.info({ action, error: name, attempt: attempt + 1, waitMs }, 'route53: backing off');
          await this.clock.sleep(waitMs, options.signal);
          continue;
        }
        throw route53Error(action, err);
      }
    }
  }

  private serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return run;
  }
}

/**
 * A TXT value in Route 53's zone-file form (RFC 1035 §5.1 character-strings): one quoted string,
 * or for a value over 255 characters (a dns-persist-01 record can be) several, which readers join.
 */
function quote(value: string): string {
  const chunks: string[] = [];
  for (let i = 0; i === 0 || i < value.length; i += 255) chunks.push(value.slice(i, i + 255));
  return chunks.map((c) => `"${c.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(' ');
}

function unquote(value: string): string {
  // Several strings of one value ("a" "b") are one value joined (RFC 7208 §3.3 style).
  const parts = [...value.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => (m[1] ?? '').replace(/\\(.)/g, '$1'));
  return parts.length > 0 ? parts.join('') : value;
}

/** Route 53 returns `*` as `\052` and other specials octal-escaped. */
function decodeName(name: string): string {
  return name.replace(/\\(\d{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

function route53Error(action: string, err: unknown): CertpilotError {
  const name = (err as { name?: string }).name ?? 'Error';
  const message = err instanceof Error ? err.message : String(err);
  if (name === 'AccessDenied' || name === 'AccessDeniedException' || /not authorized to perform/i.test(message)) {
    return new CertpilotError('ERR_ROUTE53_ACCESS_DENIED', `route53: ${action} denied: the credentials lack route53:${action}`, {
      cause: err,
      hint: `Allow route53:${action} for these credentials; \`certpilot route53 policy\` prints the least-privilege policy.`,
    });
  }
  if (name === 'CredentialsProviderError') {
    return new CertpilotError('ERR_ROUTE53_ACCESS_DENIED', `route53: ${action}: no AWS credentials found by the SDK's default chain`, {
      cause: err,
      hint: 'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a web identity / instance role.',
    });
  }
  return new CertpilotError('ERR_ROUTE53_API', `route53: ${action} failed: ${name}: ${message}`, {
    cause: err,
    retryable: RETRYABLE.has(name) || name === 'ServiceUnavailable',
  });
}

/** Builds the provider from its validated plug-in options (the registry's factory). */
export function createRoute53DnsProvider(options: z.output<ReturnType<typeof route53Schema>>, deps: PluginDeps): Route53DnsProvider {
  const client = new Route53Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    // Our own agent with verification explicit (the SDK's default agent follows NODE_TLS_REJECT_UNAUTHORIZED).
    requestHandler: { httpsAgent: new https.Agent(strictAgentOptions({ keepAlive: true, maxSockets: 50 })) },
    ...(options.profile ? { profile: options.profile } : {}),
    // Our own backoff (on the injected clock) handles throttling; the SDK tries once.
    maxAttempts: 1,
  });
  return new Route53DnsProvider({
    client,
    ...(options.hostedZoneId ? { hostedZoneId: options.hostedZoneId } : {}),
    changeTimeoutMs: options.changeTimeoutSeconds * 1000,
    maxRetries: options.maxRetries,
    clock: deps.clock,
    logger: deps.logger,
  });
}
