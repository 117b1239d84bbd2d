/**
 * `certpilot route53 policy [SOLVER…]` prints the least-privilege IAM policy for the configured
 * route53 solvers and the names their certificates prove with them; `certpilot route53 check
 * [SOLVER…]` proves the credentials the SDK finds can write and remove a probe TXT value at one of
 * those `_acme-challenge` names and that nothing is left, naming the missing permission otherwise.
 */
import { randomBytes } from 'node:crypto';
import { CertpilotError } from '../../errors.js';
import type { ResolvedConfig } from '../../config/load-config.js';
import { EXIT, type CommandContext } from '../main.js';
import type { Runtime } from '../compose.js';
import { commandLogger, loadCommandConfig, openRuntime } from '../runtime.js';
import type { StoredAccount } from '../../storage/certificate-store.js';
import type { Route53PolicyInput } from '../../challenges/dns01/providers/route53/iam-policy.js';
import type { Route53DnsProvider } from '../../challenges/dns01/providers/route53/route53-dns-provider.js';
import { plugin as route53 } from '../../challenges/dns01/providers/route53/plugin.js';
import { dnsPersistNames } from './dns-persist.js';

/** The route53 solvers of the configuration (all, or those named) with the names each proves. */
export function route53Solvers(config: ResolvedConfig, only: readonly string[]): Route53PolicyInput[] {
  const inputs: Route53PolicyInput[] = [];
  for (const [solver, entry] of Object.entries(config.solvers)) {
    if (entry.type !== 'route53' || (only.length > 0 && !only.includes(solver))) continue;
    const names = config.certificates.flatMap((c) => Object.entries(c.solvers).flatMap(([name, s]) => (s === solver ? [name] : [])));
    const hostedZoneId = entry.options.hostedZoneId;
    // A route53 solver no certificate names is the zone admin's of `dns-persist record --apply
    // --solver NAME` (docs/challenges.md): its records are the dns-persist-01 ones.
    const persist = names.length === 0 ? dnsPersistNames(config) : [];
    // What the plug-in declares its code calls (its plugin.ts), never a list of our own.
    inputs.push({ solver, names, actions: route53.iam?.(entry.options) ?? [], ...(hostedZoneId ? { hostedZoneId } : {}), ...(persist.length > 0 ? { persistNames: persist } : {}) });
  }
  const unknown = only.filter((n) => !inputs.some((i) => i.solver === n));
  if (unknown.length > 0 || inputs.length === 0) {
    throw new CertpilotError('ERR_CLI_USAGE', `cli: ${unknown.length > 0 ? `no route53 solver named ${unknown.join(', ')}` : 'no solver of type route53 is configured'}`, {
      hint: 'Add a solver with `type: route53` under solvers: and name it in a certificate.',
    });
  }
  return inputs;
}

/**
 * Where each name's TXT record is written, as the route53 solver will write it: the end of the
 * CNAME chain of `_acme-challenge.<name>` (its `resolvers`), unless the solver has `followCname:
 * false`. A name whose CNAME cannot be looked up keeps its own `_acme-challenge` name, with a
 * warning on stderr, so a policy can still be printed offline.
 */
async function withRecordNames(ctx: CommandContext, config: ResolvedConfig, inputs: Route53PolicyInput[], account: () => Promise<StoredAccount | undefined>): Promise<Route53PolicyInput[]> {
  // dns-account-01 solvers write at `_<account label>._acme-challenge.<name>`: the label needs the account URL.
  const accountLabel = await accountLabelFor(config, inputs, account);
  const [{ PropagationChecker }, { parseDnsServer }, { systemClock }, { normalizedRecordName }] = await Promise.all([
    import('../../challenges/dns01/propagation.js'),
    import('../../challenges/dns01/dns-client.js'),
    import('../../clock.js'),
    import('../../challenges/dns01/providers/route53/iam-policy.js'),
  ]);
  return Promise.all(
    inputs.map(async (input) => {
      if (input.persistNames !== undefined) {
        // `dns-persist record --apply` writes exactly these names (no CNAME is followed for them).
        const { persistRecordName } = await import('../../challenges/dns-persist01/record.js');
        const recordNames = [...new Set(input.persistNames.map(persistRecordName))];
        ctx.output.err(`route53 ${input.solver}: no certificate names this solver: its policy is for \`certpilot dns-persist record --apply --solver ${input.solver}\`, the dns-persist-01 records ${recordNames.join(', ')}`);
        return { ...input, recordNames };
      }
      if (input.names.length === 0) {
        ctx.output.err(`route53 ${input.solver}: no certificate names this solver and no name is proved by dns-persist-01: its policy allows no record change; name the solver in a certificate's solver:`);
      }
      const entry = config.solvers[input.solver];
      const dns01 = entry?.kind === 'dns-provider' ? entry.wrapper : undefined;
      const label = dns01?.challenge === 'dns-account-01' ? accountLabel : undefined;
      const own = [...new Set(input.names.map((n) => `${label ? `_${label}.` : ''}${normalizedRecordName(n)}.`))];
      if (dns01?.followCname === false) return { ...input, recordNames: own };
      const resolvers = dns01?.resolvers?.map((r) => parseDnsServer(r));
      const checker = new PropagationChecker({ ...(resolvers ? { resolvers } : {}), timeoutMs: 0, queryTimeoutMs: 2000, clock: systemClock });
      const recordNames = await Promise.all(
        own.map(async (fqdn) => {
          try {
            const target = await checker.resolveTarget(fqdn, ctx.signal);
            if (target !== fqdn) ctx.output.err(`route53 ${input.solver}: ${fqdn} is delegated by CNAME to ${target}: its TXT record is written there`);
            return target;
          } catch (err) {
            if (ctx.signal?.aborted) throw err;
            ctx.output.err(`route53 ${input.solver}: could not look up the CNAME of ${fqdn} (${err instanceof Error ? err.message : String(err)}); using ${fqdn} itself`);
            return fqdn;
          }
        }),
      );
      return { ...input, recordNames };
    }),
  );
}

/** The dns-01 options of a DNS-provider solver (undefined for other solvers). */
function dnsWrapper(config: ResolvedConfig, solver: string): { challenge?: string } | undefined {
  const entry = config.solvers[solver];
  return entry?.kind === 'dns-provider' ? entry.wrapper : undefined;
}

/**
 * The dns-account-01 label of the configured account, when a route53 solver answers
 * dns-account-01; the account must exist (`certpilot account create`), since the label comes
 * from its URL. `account` reads it from the configured state store (files or Secrets), as `renew`
 * does; it is called only when a solver needs the label.
 */
async function accountLabelFor(config: ResolvedConfig, inputs: Route53PolicyInput[], account: () => Promise<StoredAccount | undefined>): Promise<string | undefined> {
  const users = inputs.filter((i) => dnsWrapper(config, i.solver)?.challenge === 'dns-account-01').map((i) => i.solver);
  if (users.length === 0) return undefined;
  const stored = await account();
  if (!stored?.url) {
    throw new CertpilotError('ERR_CLI_USAGE', `cli: route53 solver(s) ${users.join(', ')} answer dns-account-01, whose record names come from the account URL, and no account exists yet for ${config.acme.directoryUrl}`, {
      hint: 'Run `certpilot account create` first, then print the policy.',
    });
  }
  const { dnsAccountLabel } = await import('../../challenges/dns01/account-label.js');
  return dnsAccountLabel(stored.url);
}

/** Entry point of `certpilot route53`. */
export async function run(ctx: CommandContext): Promise<number> {
  const [action, ...only] = ctx.positionals;
  if (action !== 'policy' && action !== 'check') {
    throw new CertpilotError('ERR_CLI_USAGE', `cli: unknown route53 action "${action ?? ''}"`, { hint: 'Use `route53 policy` or `route53 check`.' });
  }
  if (action === 'policy') {
    // Offline unless a dns-account-01 solver needs the account: then the runtime's store reads it.
    const config = await loadCommandConfig(ctx, false);
    const opened: { runtime?: Runtime } = {};
    try {
      const account = async (): Promise<StoredAccount | undefined> => {
        const { compose } = await import('../compose.js');
        opened.runtime = await compose(config, { logger: commandLogger(ctx, config.logLevel), env: ctx.env });
        return opened.runtime.store.loadAccount(config.acme.directoryUrl);
      };
      const inputs = await withRecordNames(ctx, config, route53Solvers(config, only), account);
      const { buildRoute53Policy } = await import('../../challenges/dns01/providers/route53/iam-policy.js');
      ctx.output.out(JSON.stringify(buildRoute53Policy(inputs), null, 2));
      return EXIT.ok;
    } finally {
      await opened.runtime?.close();
    }
  }
  const runtime = await openRuntime(ctx, false);
  try {
    const account = (): Promise<StoredAccount | undefined> => runtime.store.loadAccount(runtime.config.acme.directoryUrl);
    return await check(ctx, runtime, await withRecordNames(ctx, runtime.config, route53Solvers(runtime.config, only), account));
  } finally {
    await runtime.close();
  }
}

async function check(ctx: CommandContext, runtime: Runtime, inputs: Route53PolicyInput[]): Promise<number> {
  let failed = false;
  for (const input of inputs) {
    // The probe goes where the solver writes: the CNAME target of a delegated name.
    const fqdn = input.recordNames?.[0];
    if (input.persistNames !== undefined) {
      // Never a probe value beside a standing dns-persist-01 record the CA reads.
      ctx.output.out(`route53 ${input.solver}: skipped: no certificate names this solver; it writes the dns-persist-01 records (\`dns-persist record --apply\`), which a probe does not touch`);
      continue;
    }
    if (fqdn === undefined) {
      ctx.output.out(`route53 ${input.solver}: skipped: no certificate name uses this solver`);
      continue;
    }
    // Built by the composition root, like every plug-in; the solver's type is route53 (checked above).
    const provider = (await runtime.dnsProvider(input.solver)) as Route53DnsProvider;
    const probe = `certpilot-probe-${randomBytes(12).toString('base64url')}`;
    const opts = ctx.signal ? { signal: ctx.signal } : {};
    const step = async (what: string, fn: () => Promise<string>): Promise<boolean> => {
      try {
        ctx.output.out(`route53 ${input.solver}: ${what}: ${await fn()}`);
        return true;
      } catch (err) {
        const e = err instanceof CertpilotError ? err : new CertpilotError('ERR_ROUTE53_API', `route53: ${what}: ${String(err)}`, { cause: err });
        ctx.output.out(`route53 ${input.solver}: ${what}: FAILED ${e.code}: ${e.message}`);
        ctx.output.out(`route53 ${input.solver}:   hint: ${e.hint}`);
        return false;
      }
    };
    let added = false;
    const ok =
      (await step('zone', async () => `${await provider.zoneFor(fqdn, opts)}${input.hostedZoneId ? ' (configured)' : ' (ListHostedZonesByName)'}`)) &&
      (await step(`write probe TXT at ${fqdn}`, async () => {
        // Set first: the UPSERT may land and the INSYNC wait fail after it (no GetChange right).
        added = true;
        await provider.addTxtRecord({ fqdn, value: probe, ttl: 60 }, opts);
        return 'ok (ChangeResourceRecordSets UPSERT, GetChange INSYNC)';
      })) &&
      (await step('read it back', async () => {
        if (!(await provider.listTxtValues(fqdn, opts)).includes(probe)) throw new CertpilotError('ERR_ROUTE53_API', 'route53: the probe value is not in the record set after INSYNC');
        return 'ok (ListResourceRecordSets)';
      })) &&
      (await step('remove probe', async () => {
        await provider.removeTxtRecord({ fqdn, value: probe }, opts);
        added = false;
        return 'ok';
      })) &&
      (await step('nothing left', async () => {
        if ((await provider.listTxtValues(fqdn, opts)).includes(probe)) throw new CertpilotError('ERR_ROUTE53_API', `route53: the probe value is still at ${fqdn}`);
        return 'ok';
      }));
    if (added) await provider.removeTxtRecord({ fqdn, value: probe }, {}).catch(() => undefined);
    ctx.output.out(`route53 ${input.solver}: ${ok ? `the credentials can answer ${dnsWrapper(runtime.config, input.solver)?.challenge ?? 'dns-01'}` : 'FAILED'}`);
    failed ||= !ok;
  }
  return failed ? EXIT.failed : EXIT.ok;
}
