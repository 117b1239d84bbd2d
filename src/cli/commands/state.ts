/**
 * `certpilot state copy --from SPEC --to SPEC`: copies accounts, certificate versions, renewal state
 * and pending orders between any two state stores; nothing is issued. A SPEC is
 * - `dir:PATH` — a state directory in certbot layout (`live/`, `archive/`…; e.g. the deck's PVC):
 *   certpilot's own accounts and certbot's (`accounts/<server>/<path>/<id>/`, read as `import
 *   certbot` reads them) are both copied;
 * - `kubernetes-secret:[NAMESPACE][?kubeconfig=FILE&context=NAME&secretPrefix=P&keepVersions=N]` —
 *   Secrets in a namespace, reached in the cluster by the pod's service account, or through a
 *   kubeconfig (relative paths from the working directory);
 * - `config` — the store the configuration names (`stateStore`, else `stateDir`).
 */
import { resolve } from 'node:path';
import { systemClock } from '../../clock.js';
import { CertpilotError } from '../../errors.js';
import { createLogger } from '../../logger.js';
import type { StateBackend } from '../../storage/state-backend.js';
import { EXIT, type CommandContext } from '../main.js';
import { loadCommandConfig } from '../runtime.js';

/** The spec syntax, for errors and help. */
export const STATE_SPEC_HELP = 'dir:PATH | kubernetes-secret:[NAMESPACE][?kubeconfig=FILE&context=NAME&secretPrefix=P&keepVersions=N] | config';

/** The store a spec names: its backend and, for a directory, its path (where certbot's accounts may be). */
interface SpecStore {
  backend: StateBackend;
  dir?: string;
}

/** Builds the backend a spec names. */
async function backendOf(spec: string, ctx: CommandContext, flag: string): Promise<SpecStore> {
  const usage = (why: string): CertpilotError =>
    new CertpilotError('ERR_CLI_USAGE', `cli: --${flag} ${JSON.stringify(spec)}: ${why}`, { hint: `Give ${STATE_SPEC_HELP} (see \`certpilot state --help\`).` });
  const logger = createLogger({ level: 'warn' });
  const { createStateStore } = await import('../compose.js');
  if (spec === 'config') {
    const config = await loadCommandConfig(ctx, false);
    const { backend } = await createStateStore(config.stateStore, { logger, baseDir: config.baseDir, stateDir: config.stateDir, env: ctx.env });
    return { backend, ...(config.stateStore.type === 'filesystem' ? { dir: config.stateDir } : {}) };
  }
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? '' : spec.slice(colon + 1);
  if (kind === 'dir') {
    if (rest === '') throw usage('the directory is missing');
    const dir = resolve(ctx.cwd, rest);
    return { backend: (await createStateStore({ type: 'filesystem', options: {} }, { logger, baseDir: ctx.cwd, stateDir: dir })).backend, dir };
  }
  if (kind === 'kubernetes-secret') {
    const [namespace, query = ''] = rest.split('?', 2) as [string, string | undefined];
    const params = new URLSearchParams(query);
    const known = new Set(['kubeconfig', 'context', 'secretPrefix', 'keepVersions']);
    const unknown = [...params.keys()].filter((k) => !known.has(k));
    if (unknown.length > 0) throw usage(`unknown option ${unknown.join(', ')}`);
    const { kubernetesSecretStateSchema } = await import('../../storage/backends/kubernetes-secret/schema.js');
    const parsed = kubernetesSecretStateSchema().safeParse({
      ...(namespace ? { namespace } : {}),
      ...(params.get('kubeconfig') ? { kubeconfig: params.get('kubeconfig') } : {}),
      ...(params.get('context') ? { context: params.get('context') } : {}),
      ...(params.get('secretPrefix') ? { secretPrefix: params.get('secretPrefix') } : {}),
      ...(params.get('keepVersions') ? { keepVersions: Number(params.get('keepVersions')) } : {}),
    });
    if (!parsed.success) throw usage(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    return { backend: (await createStateStore({ type: 'kubernetes-secret', options: parsed.data }, { logger, baseDir: ctx.cwd, stateDir: ctx.cwd, env: ctx.env })).backend };
  }
  throw usage(`unknown store type "${kind}"`);
}

/** Entry point of `certpilot state`. */
export async function run(ctx: CommandContext): Promise<number> {
  const action = ctx.positionals[0];
  if (action !== 'copy') throw new CertpilotError('ERR_CLI_USAGE', `cli: unknown state action "${action ?? ''}"`, { hint: 'Use `state copy --from SPEC --to SPEC` (see `certpilot state --help`).' });
  const fromSpec = ctx.values.from;
  const toSpec = ctx.values.to;
  if (!fromSpec || !toSpec) throw new CertpilotError('ERR_CLI_USAGE', 'cli: state copy needs --from and --to', { hint: `Each is ${STATE_SPEC_HELP}.` });
  if (fromSpec === toSpec) throw new CertpilotError('ERR_CLI_USAGE', 'cli: state copy: --from and --to name the same store');
  const [source, target] = [await backendOf(fromSpec, ctx, 'from'), await backendOf(toSpec, ctx, 'to')];
  const [from, to] = [source.backend, target.backend];
  const { copyState } = await import('../../storage/state-copy.js');
  // A directory may hold certbot's accounts besides certpilot's: read with the import's reader.
  const foreignAccounts = source.dir === undefined ? undefined : await (await import('../../migrate/certbot/certbot-account-copy.js')).certbotAccountsIn(source.dir, systemClock);
  const report = await copyState(from, to, foreignAccounts ? { foreignAccounts } : {});
  const failed = report.certificates.some((c) => c.error !== undefined) || report.accounts.some((a) => a.status === 'failed');
  if (ctx.values.json) {
    ctx.output.out(JSON.stringify({ from: from.description, to: to.description, ...report }, null, 2));
  } else {
    const unchanged = !failed && report.skipped.length === 0 && [...report.accounts, ...report.certificates].every((x) => ('status' in x ? x.status === 'unchanged' : x.unchanged));
    const empty = report.accounts.length === 0 && report.certificates.length === 0;
    ctx.output.out(unchanged && !empty ? `unchanged: ${to.description} already holds what ${from.description} holds (nothing issued)` : `copied from ${from.description} to ${to.description} (nothing issued)`);
    for (const a of report.accounts) {
      const name = a.format === 'certbot' ? `${a.name} (certbot's)` : a.name;
      const how = a.status === 'failed' ? `FAILED: ${a.error ?? 'not copied'}` : `${a.status === 'unchanged' ? 'unchanged' : 'copied'}${a.detail ? `: ${a.detail}` : ''}`;
      ctx.output.out(`account    ${name}: ${how}`);
    }
    for (const c of report.certificates) {
      const parts = [
        c.live !== undefined ? `live version ${c.live}` : 'no live version',
        `versions ${c.versions.join(', ') || 'none'}`,
        ...(c.leftOut.length ? [`left out ${c.leftOut.join(', ')} (the target keeps fewer)`] : []),
        ...(c.renewalState ? ['renewal state'] : []),
        ...(c.pendingOrder ? ['pending order'] : []),
      ];
      ctx.output.out(`cert       ${c.name}: ${c.error ? `FAILED: ${c.error}` : c.unchanged ? `unchanged (${parts.join('; ')})` : parts.join('; ')}`);
    }
    for (const k of report.skipped) ctx.output.out(`skipped    ${k} (set aside as corrupt; not copied)`);
    if (empty) ctx.output.out('nothing to copy: the source holds no state');
  }
  return failed ? EXIT.failed : EXIT.ok;
}
