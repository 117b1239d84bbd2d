/**
 * `certpilot forget NAME`: stops certpilot renewing and watching a certificate, like `certbot
 * delete` but keeping the files. A one-off (`certpilot issue -d`) loses its record, so `renew` and
 * the daemon no longer renew it; a certificate removed from the configuration (or that one-off) is
 * marked retired in its renewal state, so `status`, the metrics and the status page leave it out
 * and its coming expiry raises no alert. Done under the certificate's lock; its live and archived
 * versions, its account and its deploy records stay, and nothing is sent to the CA. A certificate
 * the configuration lists is refused (remove it there first).
 */
import { CertpilotError } from '../../errors.js';
import { EXIT, type CommandContext } from '../main.js';
import { oneOffWhere, rememberedOneOffs } from '../one-offs.js';
import { openRuntime } from '../runtime.js';

/** True when `name` has a renewal state (a certificate whose first issuance failed has no version). */
async function hasState(store: { listStates(): Promise<string[]> }, name: string): Promise<boolean> {
  return (await store.listStates()).includes(name);
}

/** Entry point of `certpilot forget`. */
export async function run(ctx: CommandContext): Promise<number> {
  const names = [...ctx.positionals, ...(ctx.values.name ?? [])];
  if (names.length !== 1) {
    throw new CertpilotError('ERR_CLI_USAGE', `cli: forget takes one certificate name, ${names.length === 0 ? 'and none was given' : `not ${names.length}`}`, {
      hint: 'Run `certpilot forget NAME`; `certpilot status` lists one-offs as "NAME (one-off)" (or "(one-off, record damaged)", "(not issued)" when its first issue failed) and removed ones as "NAME (not configured)".',
    });
  }
  const name = names[0] as string;
  const runtime = await openRuntime(ctx, false);
  try {
    const { store, config } = runtime;
    const context = runtime.renewalContext();
    const lock = await context.locker.acquire(name, { ttlSeconds: context.lockTtlSeconds, ...(ctx.signal ? { signal: ctx.signal } : {}) });
    if (!lock) throw new CertpilotError('ERR_LOCK_HELD', `forget ${name}: another certpilot process is renewing it`, { hint: 'Run `certpilot forget` again once that run is over.' });
    let live: number | undefined;
    try {
      const fenced = store.fenced(lock.lost);
      const state = await fenced.loadState(name);
      const configured = config.certificates.some((c) => c.name === name && c.oneOff !== true);
      if (configured && state.oneOff !== undefined) {
        // The configured certificate of that name wins each run (a warning says so): drop the record.
        const { oneOff: _record, ...kept } = state;
        await fenced.saveState(name, kept);
        ctx.output.out(`forgotten the one-off record of ${name}; the configuration lists ${name}, which \`renew\` keeps renewing`);
        return EXIT.ok;
      }
      if (configured) {
        throw new CertpilotError('ERR_CERT_UNKNOWN', `forget: ${name} is listed in the configuration`, {
          hint: `To stop renewing it, remove it from \`certificates:\` in ${config.source ?? 'the configuration'}, then run \`certpilot forget ${name}\` so status and the metrics stop watching it.`,
        });
      }
      live = (await store.load(name).catch(() => undefined))?.version;
      if (state.oneOff === undefined && (state.retired !== undefined || (live === undefined && !(await hasState(store, name))))) {
        const known = await rememberedOneOffs(store);
        throw new CertpilotError('ERR_CERT_UNKNOWN', state.retired !== undefined ? `forget: ${name} was already forgotten on ${state.retired.at}` : `forget: no certificate ${name} in ${store.backend.description}`, {
          hint: state.retired !== undefined
            ? `Nothing to do. \`certpilot issue\` or listing it in the configuration again brings it back.`
            : `\`certpilot status\` lists the certificates; one-offs remembered: ${known.join(', ') || 'none'}.`,
        });
      }
      const { oneOff, ...rest } = state;
      await fenced.saveState(name, { ...rest, retired: { at: context.clock.now().toISOString() } });
      ctx.output.out(
        oneOff !== undefined
          ? `forgotten ${name}: \`renew\` no longer renews it (${oneOff.domains.join(', ')}), and status and the metrics no longer show it; removed from ${oneOffWhere(config, store, name)}`
          : `forgotten ${name}: not in the configuration, and now no longer shown by status, the metrics or the status page (its expiry raises no alert)`,
      );
    } finally {
      await lock.release();
    }
    ctx.output.out(
      live !== undefined
        ? `          its files stay (version ${live} live${runtime.store.backend.description.startsWith('directory ') ? ` in ${config.stateDir}/live/${name}/` : ''}); issuing it again, or listing it in the configuration, brings it back`
        : '          no version of it is stored',
    );
    return EXIT.ok;
  } finally {
    await runtime.close();
  }
}
