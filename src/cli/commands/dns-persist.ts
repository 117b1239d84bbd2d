/**
 * `certpilot dns-persist record [NAME…]` prints, for the configured account and CA, the exact
 * dns-persist-01 TXT record of each name (draft-ietf-acme-dns-persist-02 §4): the issuer domain
 * name from the CA's directory (`meta.issuerDomainNames`, else `caaIdentities`), the `accounturi`
 * (hashed per -02 §4.1 when the directory has `accountHashPrefix`, else the account URL as -01
 * has it), `policy=wildcard` when the name or its wildcard is configured, and `persistUntil` when
 * asked. With `--apply --solver NAME` it writes each record once through that DNS solver (route53,
 * rfc2136); renewals then need no DNS credentials.
 */
import { CertpilotError } from '../../errors.js';
import type { ResolvedConfig } from '../../config/load-config.js';
import type { Directory } from '../../acme/acme-client.js';
import { findPlugin } from '../../plugins/registry.js';
import { EXIT, type CommandContext } from '../main.js';
import { openRuntime } from '../runtime.js';

/** TTL of the printed and written records: they change rarely. */
const TTL = 3600;

/** The names proved by dns-persist solvers in the configuration (a wildcard and its base once each). */
export function dnsPersistNames(config: ResolvedConfig): string[] {
  return [
    ...new Set(
      config.certificates.flatMap((c) => Object.entries(c.solvers).flatMap(([name, solver]) => (config.solvers[solver]?.type === 'dns-persist' ? [name] : []))),
    ),
  ];
}

/** `--persist-until`: an ISO 8601 date or time, or UNIX seconds, after `now` (a past date makes a record the CA refuses). */
export function parsePersistUntil(text: string, now: Date = new Date()): Date {
  const date = /^\d+$/.test(text) ? new Date(Number(text) * 1000) : new Date(text);
  if (Number.isNaN(date.getTime())) {
    throw new CertpilotError('ERR_CLI_USAGE', `cli: --persist-until "${text}" is not a date`, { hint: 'Give an ISO 8601 date such as 2027-06-30 (or 2027-06-30T00:00:00Z), or UNIX seconds.' });
  }
  if (date.getTime() <= now.getTime()) {
    throw new CertpilotError('ERR_CLI_USAGE', `cli: --persist-until "${text}" (${date.toISOString()}) has passed: the CA would refuse the record`, {
      hint: 'Give a date in the future, e.g. --persist-until 2027-12-31, or leave --persist-until out for a record without an end.',
    });
  }
  return date;
}

/** A TXT value as zone-file character-strings: one quoted string, or 255-character pieces a reader joins. */
export function zoneStrings(value: string): string {
  const chunks: string[] = [];
  for (let i = 0; i === 0 || i < value.length; i += 255) chunks.push(JSON.stringify(value.slice(i, i + 255)));
  return chunks.length === 1 ? (chunks[0] as string) : `( ${chunks.join(' ')} )`;
}

/** Entry point of `certpilot dns-persist`. */
export async function run(ctx: CommandContext): Promise<number> {
  const [action, ...given] = ctx.positionals;
  if (action !== 'record') {
    throw new CertpilotError('ERR_CLI_USAGE', `cli: unknown dns-persist action "${action ?? ''}"`, { hint: 'Use `dns-persist record [NAME…]`.' });
  }
  const solverName = ctx.values.solver;
  if (ctx.values.apply && !solverName) {
    throw new CertpilotError('ERR_CLI_USAGE', 'cli: dns-persist record --apply needs --solver NAME (a route53 or rfc2136 solver of the configuration)', {
      hint: 'Name the DNS solver that may write the _validation-persist records, e.g. --apply --solver route53-admin.',
    });
  }
  const persistUntil = ctx.values['persist-until'] ? parsePersistUntil(ctx.values['persist-until']) : undefined;
  const runtime = await openRuntime(ctx, false);
  try {
    const config = runtime.config;
    if (solverName) {
      const entry = config.solvers[solverName];
      if (!entry || findPlugin(entry.type)?.kind !== 'dns-provider') {
        const dns = Object.entries(config.solvers).filter(([, e]) => findPlugin(e.type)?.kind === 'dns-provider').map(([n]) => n);
        throw new CertpilotError('ERR_CLI_USAGE', `cli: --solver ${solverName} is not a DNS solver (route53, rfc2136) of the configuration`, {
          hint: dns.length ? `DNS solvers configured: ${dns.join(', ')}.` : 'Add a route53 or rfc2136 solver under solvers: (it is used only for this one write).',
        });
      }
    }
    const configured = dnsPersistNames(config);
    const names = (given.length > 0 ? given : configured).map((n) => n.trim().toLowerCase().replace(/\.$/, ''));
    if (names.length === 0) {
      throw new CertpilotError('ERR_CLI_USAGE', 'cli: dns-persist record: no names given and no certificate name uses a dns-persist solver', {
        hint: 'Give the names (dns-persist record example.com *.example.com), or give names a solver of type dns-persist.',
      });
    }
    // The issuer name the record gives: the CA's, or --issuer.
    const issuerOf = (directory: Directory): string => {
      const issuer = ctx.values.issuer ?? directory.meta?.issuerDomainNames?.[0] ?? directory.meta?.caaIdentities?.[0];
      if (!issuer) {
        throw new CertpilotError('ERR_DNS_PERSIST_UNSUPPORTED', `dns-persist: the CA at ${config.acme.directoryUrl} names no issuer domain names (meta.issuerDomainNames, caaIdentities)`);
      }
      return issuer;
    };
    const [{ persistAccountUri, persistRecordName, formatPersistValue, parsePersistValue }, { client, account, created }] = await Promise.all([
      import('../../challenges/dns-persist01/record.js'),
      // The record names the account, so there must be one: the first run registers it (a fresh
      // key has no account to look up with onlyReturnExisting), unless the CA names no issuer.
      runtime.openAccount(undefined, { ...(ctx.signal ? { signal: ctx.signal } : {}), beforeRegistering: (directory) => void issuerOf(directory) }),
    ]);
    if (created) ctx.output.err(`dns-persist: registered a new ACME account at ${config.acme.directoryUrl} (the record names it; issue and renew use it): ${account.url}`);
    const directory = await client.getDirectory(ctx.signal ? { signal: ctx.signal } : {});
    const issuer = issuerOf(directory);
    const accountHashPrefix = directory.meta?.accountHashPrefix;
    // One record per base name: a wildcard and its base name share `_validation-persist.<base>`.
    const wanted = new Map<string, boolean>();
    const known = [...names, ...configured];
    for (const name of names) {
      const base = name.replace(/^\*\./, '');
      wanted.set(base, (wanted.get(base) ?? false) || name.startsWith('*.') || known.includes(`*.${base}`));
    }
    ctx.output.err(
      `dns-persist: ${accountHashPrefix ? 'draft -02 form (hashed accounturi: the CA publishes accountHashPrefix)' : 'draft -01 form (plain accounturi: the CA publishes no accountHashPrefix)'}; issuer ${issuer}; account ${account.url}`,
    );
    const provider = ctx.values.apply && solverName ? await runtime.dnsProvider(solverName) : undefined;
    const checker = provider && solverName ? await currentValuesReader(config, solverName) : undefined;
    const call = ctx.signal ? { signal: ctx.signal } : {};
    for (const [base, wildcard] of wanted) {
      const accountUri = persistAccountUri({ accountUrl: account.url, thumbprint: client.accountKeyThumbprint, domain: base, accountHashPrefix });
      const value = formatPersistValue({ issuer, accountUri, ...(wildcard ? { policy: 'wildcard' as const } : {}), ...(persistUntil ? { persistUntil } : {}) });
      const fqdn = persistRecordName(base);
      ctx.output.out(`${fqdn} ${TTL} IN TXT ${zoneStrings(value)}`);
      if (provider && checker) {
        // This account's earlier values at the name (another --persist-until, the -01 form) are
        // replaced: the new one is added first, so the name is never without a record. Other
        // accounts' and other tools' values stay.
        let old: string[] = [];
        try {
          old = (await checker.currentTxt(fqdn, ctx.signal)).filter((v) => {
            const parsed = parsePersistValue(v);
            return v !== value && (parsed.accountUri === accountUri || parsed.accountUri === account.url);
          });
        } catch (err) {
          ctx.signal?.throwIfAborted();
          ctx.output.err(`dns-persist: warning: could not read the TXT values at ${fqdn} (${err instanceof Error ? err.message : String(err)}): an earlier value of this account, if any, stays; remove it by hand`);
        }
        await provider.addTxtRecord({ fqdn, value, ttl: TTL }, call);
        ctx.output.err(`dns-persist: written ${fqdn} through solver ${solverName ?? ''}`);
        for (const v of old) {
          await provider.removeTxtRecord({ fqdn, value: v }, call);
          ctx.output.err(`dns-persist: removed this account's earlier value at ${fqdn}: ${JSON.stringify(v)}`);
        }
      }
    }
    return EXIT.ok;
  } finally {
    await runtime.close();
  }
}

/** Reads what the authoritative nameservers serve now, through the DNS solver's own `resolvers` and `nameserverPort`. */
async function currentValuesReader(config: ResolvedConfig, solverName: string): Promise<{ currentTxt(fqdn: string, signal?: AbortSignal): Promise<string[]> }> {
  const entry = config.solvers[solverName];
  const dns01 = entry?.kind === 'dns-provider' ? entry.wrapper : undefined;
  const [{ PropagationChecker }, { parseDnsServer }, { systemClock }] = await Promise.all([
    import('../../challenges/dns01/propagation.js'),
    import('../../challenges/dns01/dns-client.js'),
    import('../../clock.js'),
  ]);
  const resolvers = dns01?.resolvers?.map((r) => parseDnsServer(r));
  return new PropagationChecker({ ...(resolvers ? { resolvers } : {}), nameserverPort: dns01?.nameserverPort ?? 53, timeoutMs: 0, clock: systemClock });
}
