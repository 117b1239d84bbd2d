/**
 * `certpilot forget NAME`: stops `renew` (and the daemon) from renewing a one-off certificate
 * `certpilot issue -d` issued, like `certbot delete` but keeping the files: the record is removed
 * from its renewal state (under the certificate's lock); its live and archived versions, its
 * account and its deploy records stay. Nothing is sent to the CA.
 */
import { CertpilotError } from '../../errors.js';
import { EXIT, type CommandContext } from '../main.js';
import { oneOffWhere, rememberedOneOffs } from '../one-offs.js';
import { openRuntime } from '../runtime.js';

/** Entry point of `certpilot forget`. */
export async function run(ctx: CommandContext): Promise<number> {
  const names = [...ctx.positionals, ...(ctx.values.name ?? [])];
  if (names.length !== 1) {
    throw new CertpilotError('ERR_CLI_USAGE', `cli: forget takes one certificate name, ${names.length === 0 ? 'and none was given' : `not ${names.length}`}`, {
      hint: 'Run `certpilot forget NAME`; `certpilot status` lists the one-offs as "NAME (one-off)".',
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
      if (state.oneOff === undefined) {
        const configured = config.certificates.some((c) => c.name === name);
        const known = await rememberedOneOffs(store);
        throw new CertpilotError('ERR_CERT_UNKNOWN', `forget: ${name} is not a one-off certificate \`renew\` remembers${configured ? ': it is listed in the configuration' : ''}`, {
          hint: configured
            ? `To stop renewing it, remove it from \`certificates:\` in ${config.source ?? 'the configuration'}.`
            : `One-offs remembered in ${store.backend.description}: ${known.join(', ') || 'none'}.`,
        });
      }
      const { oneOff, ...rest } = state;
      await fenced.saveState(name, rest);
      live = (await store.load(name).catch(() => undefined))?.version;
      ctx.output.out(`forgotten ${name}: \`renew\` no longer renews it (${oneOff.domains.join(', ')}); removed from ${oneOffWhere(config, store, name)}`);
    } finally {
      await lock.release();
    }
    ctx.output.out(
      live !== undefined
        ? `          its files stay (version ${live} live${runtime.store.backend.description.startsWith('directory ') ? ` in ${config.stateDir}/live/${name}/` : ''}); \`certpilot issue -d …\` again remembers it anew`
        : '          no version of it is stored',
    );
    return EXIT.ok;
  } finally {
    await runtime.close();
  }
}
