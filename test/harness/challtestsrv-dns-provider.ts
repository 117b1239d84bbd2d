/**
 * A DnsProvider over pebble-challtestsrv's management API, so integration tests can answer dns-01
 * (wildcards) against the real Pebble. challtestsrv can only clear all values of a name, so this
 * keeps the set per name and clears it when the last value is removed.
 */
import type { DnsCallOptions, DnsProvider, TxtRecord } from '../../src/challenges/dns01/dns-provider.js';

/** dns-01 provider backed by challtestsrv (`/set-txt`, `/clear-txt`). */
export class ChalltestsrvDnsProvider implements DnsProvider {
  private readonly values = new Map<string, Set<string>>();
  /** Every value ever added, for assertions. */
  readonly added: TxtRecord[] = [];

  constructor(private readonly managementUrl: string) {}

  async addTxtRecord(record: TxtRecord, _options: DnsCallOptions): Promise<void> {
    const set = this.values.get(record.fqdn) ?? new Set<string>();
    this.values.set(record.fqdn, set);
    if (set.has(record.value)) return;
    set.add(record.value);
    this.added.push(record);
    await this.post('/set-txt', { host: record.fqdn, value: record.value });
  }

  async removeTxtRecord(record: Omit<TxtRecord, 'ttl'>, _options: DnsCallOptions): Promise<void> {
    const set = this.values.get(record.fqdn);
    if (!set?.delete(record.value)) return;
    // challtestsrv can only clear a whole name; clearing while a sibling authorization (a wildcard
    // and its base name share the name) is still being validated would remove its value too.
    // Extra TXT values are harmless to a validator, so the name is cleared once no value remains.
    if (set.size === 0) await this.post('/clear-txt', { host: record.fqdn });
  }

  private async post(path: string, body: unknown): Promise<void> {
    const res = await fetch(`${this.managementUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`challtestsrv ${path}: HTTP ${res.status}`);
  }
}
