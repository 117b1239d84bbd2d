/** `certpilot config check`: validates the configuration and prints what it resolves to. */
import { CertpilotError, ConfigError } from '../../errors.js';
import { crossPluginIssues, plainHttpWebhooks } from '../../config/cross-checks.js';
import { REDACTED, redactSecrets } from '../../redact.js';
import type { KubernetesConnectionOptions } from '../../kubernetes/connection-options.js';
import { EXIT, type CommandContext } from '../main.js';
import { configFile, loadCommandConfig } from '../runtime.js';

/** Entry point of `certpilot config`. */
export async function run(ctx: CommandContext): Promise<number> {
  const action = ctx.positionals[0] ?? 'check';
  if (action === 'schema') {
    // The same JSON Schema as docs/certpilot.schema.json. (A dynamic import of zod itself would keep
    // every export of zod/mini in the bundle: esbuild cannot tree-shake a module imported whole.)
    const { configJsonSchema } = await import('../../config/reference.js');
    ctx.output.out(JSON.stringify(configJsonSchema(), null, 2));
    return EXIT.ok;
  }
  if (action !== 'check') throw new CertpilotError('ERR_CLI_USAGE', `cli: unknown config action "${action}"`, { hint: 'Use `config check` or `config schema`.' });
  const config = await loadCommandConfig(ctx);
  // What no single plug-in's schema sees: a reload key no Secret deployer writes, a missing secretFile.
  const problems = await crossPluginIssues(config);
  if (problems.length > 0) throw new ConfigError(problems, config.source ? { source: config.source } : {});
  const { eab, caCertificates, ...acme } = config.acme;
  if (ctx.values.json) {
    ctx.output.out(
      JSON.stringify(
        // Every secret field at any depth (hook env values, TSIG, Redis, EAB…) by the one list in redact.ts.
        redactSecrets({
          ...config,
          acme: { ...acme, eab: eab ? { kid: eab.kid, hmacKey: REDACTED } : undefined, caCertificates: caCertificates.length },
        }),
        null,
        2,
      ),
    );
    return EXIT.ok;
  }
  ctx.output.out(`config     ${configFile(ctx) ?? '(none: defaults, environment and flags)'} is valid`);
  const store = config.stateStore;
  ctx.output.out(`state      ${store.type === 'kubernetes-secret' ? `Secrets ${store.options.secretPrefix}-* in ${await stateNamespace(ctx, store.options, config.baseDir)}; locks and caches in ${config.stateDir}` : config.stateDir}`);
  ctx.output.out(`directory  ${acme.directoryUrl}${eab ? ` (EAB kid ${eab.kid})` : ''}${caCertificates.length ? ` (+${caCertificates.length} trusted root(s))` : ''}`);
  for (const [name, s] of Object.entries(config.solvers)) ctx.output.out(`solver     ${name}: ${s.type}`);
  for (const [name, d] of Object.entries(config.deployers)) ctx.output.out(`deployer   ${name}: ${d.type}`);
  for (const [name, n] of Object.entries(config.notifiers)) ctx.output.out(`notifier   ${name}: ${n.type} (on ${n.wrapper.on.join(', ')})`);
  ctx.output.out(`locker     ${config.locker.type}`);
  for (const c of config.certificates) {
    const solvers = [...new Set(Object.values(c.solvers))];
    const by = solvers.length === 1 ? solvers[0] : Object.entries(c.solvers).map(([d, s]) => `${d}→${s}`).join(' ');
    ctx.output.out(
      `cert       ${c.name}: ${c.domains.join(', ')} (${c.keyType}${c.profile ? `, profile ${c.profile}` : ''}${c.reuseKey ? ', reuse key' : ''}; solver ${by}; deploy ${c.deploy.join(' → ') || 'none'})`,
    );
  }
  if (config.certificates.length === 0) ctx.output.out('cert       none configured (add certificates: or use issue -d)');
  for (const path of await plainHttpWebhooks(config)) {
    ctx.output.err(`warning: ${path}: a plain http:// URL sends every event (and its signature) unencrypted; use https (docs/notifications.md)`);
  }
  return EXIT.ok;
}

/**
 * `namespace NAME (where it comes from)` of the kubernetes-secret state store, read as its client
 * will read it (the same code: the field, the kubeconfig's context, the service account's file;
 * no network), so `config check` and `kubernetes check` agree.
 */
async function stateNamespace(ctx: CommandContext, options: KubernetesConnectionOptions, baseDir: string): Promise<string> {
  if (options.namespace !== undefined) return `namespace ${options.namespace}`;
  const [{ connectionNamespace }, { connectionOf }] = await Promise.all([import('../../kubernetes/kubernetes-client.js'), import('../../kubernetes/connection-options.js')]);
  try {
    const { namespace, source, inPodOnly } = connectionNamespace(connectionOf(options), baseDir, ctx.env);
    if (inPodOnly) return `the namespace of the pod's service account (read in the pod from ${options.serviceAccountDir}/namespace; no kubeconfig or $KUBECONFIG here, and that file is absent)`;
    return `namespace ${namespace} (${source})`;
  } catch (err) {
    return `a namespace not known here (${err instanceof Error ? err.message : String(err)})`;
  }
}
