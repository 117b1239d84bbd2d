/**
 * `certpilot kubernetes manifests`: the objects that run certpilot in a cluster, from the
 * configuration (src/scheduling/kubernetes-manifests/): as one YAML stream on stdout, or a
 * kustomize directory with `-o DIR`; what to do by hand (Secrets to create, apache's line) on stderr.
 *
 * `certpilot kubernetes check [NAME…]`: asks the API server (SelfSubjectAccessReview) for every
 * permission the configured plug-ins declare they need (their `plugin.ts`: the deployers, the
 * lease locker, a self-check through pods), prints each with ok or MISSING, and fails naming the
 * rules to add when one is missing — before any order is placed. Nothing is written. A permission
 * the code needs only to create a Secret (a deployer's first deploy) is needed while that Secret is
 * absent: then the check reads the Secret to tell.
 */
import { CertpilotError, ConfigError } from '../../errors.js';
import { connectionKey, kubernetesNeeds, permissionsOf, type InstanceKubernetesNeeds, type Permission } from '../../plugins/platform-needs.js';
import type { RbacRule } from '../../plugins/plugin.js';
import { EXIT, type CommandContext } from '../main.js';
import { configFile, loadCommandConfig, overridesFrom } from '../runtime.js';

const describe = (p: Permission): string => `${p.verb} ${p.resource}${p.group ? `.${p.group}` : ''}${p.name !== undefined ? ` "${p.name}"` : ''}`;

/** The missing permissions as Role rules (one per group, resource and name set, verbs merged). */
function missingRules(missing: readonly Permission[]): RbacRule[] {
  const rules = new Map<string, RbacRule>();
  for (const p of missing) {
    const key = JSON.stringify([p.group, p.resource, p.name ?? null]);
    const rule = rules.get(key) ?? { apiGroups: [p.group], resources: [p.resource], verbs: [], ...(p.name !== undefined ? { resourceNames: [p.name] } : {}) };
    if (!rule.verbs.includes(p.verb)) rule.verbs.push(p.verb);
    rules.set(key, rule);
  }
  return [...rules.values()];
}

/** Of these Secrets, those that do not exist (or that the service account may not read). */
async function absentSecrets(client: { getSecret(name: string): Promise<unknown> }, names: readonly string[]): Promise<string[]> {
  const found = await Promise.all(names.map((n) => client.getSecret(n).then((s) => s !== undefined, () => false)));
  return names.filter((_, i) => !found[i]);
}

const yamlList = (xs: readonly string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;

/** Entry point of `certpilot kubernetes`. */
export async function run(ctx: CommandContext): Promise<number> {
  const [action, ...only] = ctx.positionals;
  if (action === 'manifests') return manifests(ctx, only);
  if (action !== 'check') {
    throw new CertpilotError('ERR_CLI_USAGE', `cli: unknown kubernetes action "${action ?? ''}"`, { hint: 'Use `kubernetes check` or `kubernetes manifests`.' });
  }
  for (const flag of ['mode', 'state', 'serve', 'output', 'namespace', 'image', 'aws-role-arn'] as const) {
    if (ctx.values[flag] !== undefined) throw new CertpilotError('ERR_CLI_USAGE', `cli: --${flag} is an option of \`kubernetes manifests\`, not of \`kubernetes check\``);
  }
  const config = await loadCommandConfig(ctx, false);
  const needs = kubernetesNeeds(config, { only });
  if (needs.length === 0) {
    ctx.output.out('kubernetes check: no configured plug-in calls the Kubernetes API (kubernetes-secret, kubernetes-reload, the lease locker, a self-check through pods)');
    return EXIT.ok;
  }
  const { KubernetesClient } = await import('../../kubernetes/kubernetes-client.js');
  const byConnection = new Map<string, InstanceKubernetesNeeds[]>();
  for (const n of needs) byConnection.set(connectionKey(n.connection), [...(byConnection.get(connectionKey(n.connection)) ?? []), n]);
  const missing: { permission: Permission; namespace: string; instances: string[] }[] = [];
  for (const group of byConnection.values()) {
    const first = group[0] as InstanceKubernetesNeeds;
    const client = new KubernetesClient(first.connection, config.baseDir, ctx.env);
    // What the client really uses: a kubeconfig field, $KUBECONFIG outside a pod, or the service account.
    ctx.output.out(`kubernetes check: namespace ${client.namespace} (${client.source})`);
    const asked = new Map<string, { permission: Permission; instances: string[] }>();
    for (const n of group) {
      for (const { untilSecretsExist, ...p } of permissionsOf(n.rules)) {
        const key = JSON.stringify(p);
        const entry = asked.get(key);
        if (entry === undefined) {
          asked.set(key, { permission: { ...p, ...(untilSecretsExist ? { untilSecretsExist } : {}) }, instances: [n.instance] });
          continue;
        }
        if (!entry.instances.includes(n.instance)) entry.instances.push(n.instance);
        // Needed always when one instance needs it always; else while any of the Secrets is absent.
        const until = entry.permission.untilSecretsExist;
        if (until === undefined || untilSecretsExist === undefined) delete entry.permission.untilSecretsExist;
        else entry.permission.untilSecretsExist = [...new Set([...until, ...untilSecretsExist])];
      }
    }
    const entries = [...asked.values()];
    const answers = await client.canI(entries.map(({ permission: { untilSecretsExist: _, ...p } }) => p));
    const width = Math.max(...entries.map((e) => describe(e.permission).length));
    for (const [i, e] of entries.entries()) {
      const allowed = answers[i]?.allowed === true;
      // A permission the code needs only to create a Secret: not called while every such Secret
      // exists (a `get` tells; a Secret that cannot be read counts as absent).
      const absent = !allowed && e.permission.untilSecretsExist ? await absentSecrets(client, e.permission.untilSecretsExist) : undefined;
      const ok = allowed || absent?.length === 0;
      const why =
        absent === undefined ? '' : absent.length === 0 ? `: not called while Secret ${e.permission.untilSecretsExist?.map((n) => `"${n}"`).join(', ')} exists` : `: Secret ${absent.map((n) => `"${n}"`).join(', ')} does not exist yet, and the first deploy creates it`;
      ctx.output.out(`  ${allowed ? 'ok     ' : ok ? '-      ' : 'MISSING'}  ${describe(e.permission).padEnd(width)}  ${e.instances.join(', ')}${why}`);
      if (!ok) missing.push({ ...e, namespace: client.namespace });
    }
  }
  if (missing.length === 0) {
    ctx.output.out('kubernetes check: every permission the configured plug-ins need is granted');
    return EXIT.ok;
  }
  ctx.output.out(`kubernetes check: ${missing.length} permission(s) missing; add to the Role bound to certpilot's service account:`);
  for (const rule of missingRules(missing.map((m) => m.permission))) {
    ctx.output.out(`  - apiGroups: ${yamlList(rule.apiGroups)}`);
    ctx.output.out(`    resources: ${yamlList(rule.resources)}`);
    if (rule.resourceNames) ctx.output.out(`    resourceNames: ${yamlList(rule.resourceNames)}`);
    ctx.output.out(`    verbs: ${yamlList(rule.verbs)}`);
  }
  throw new CertpilotError(
    'ERR_KUBERNETES_RBAC_MISSING',
    `kubernetes check: missing ${missing.map((m) => `${describe(m.permission)} in namespace ${m.namespace} (${m.instances.join(', ')})`).join('; ')}`,
  );
}

function choice<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T {
  if (value === undefined) return allowed[0] as T;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new CertpilotError('ERR_CLI_USAGE', `cli: --${flag} ${value}: expected ${allowed.join(' or ')}`);
}

/** `kubernetes manifests`. */
async function manifests(ctx: CommandContext, extra: readonly string[]): Promise<number> {
  if (extra.length > 0) throw new CertpilotError('ERR_CLI_USAGE', `cli: kubernetes manifests takes no names (got ${extra.join(' ')})`);
  const [{ readFile, mkdir, writeFile }, { dirname, join, resolve }, { VERSION }, m, d, r, { loadConfig }] = await Promise.all([
    import('node:fs/promises'),
    import('node:path'),
    import('../../version.js'),
    import('../../scheduling/kubernetes-manifests/kubernetes-manifests.js'),
    import('../../scheduling/kubernetes-manifests/deployed-config.js'),
    import('../../scheduling/kubernetes-manifests/render-manifests.js'),
    import('../../config/load-config.js'),
  ]);
  const mode = choice('mode', ctx.values.mode, ['cronjob', 'daemon'] as const);
  const state = choice('state', ctx.values.state, ['secret', 'pvc'] as const);
  const file = configFile(ctx);
  if (!file) throw new CertpilotError('ERR_CLI_USAGE', 'cli: kubernetes manifests needs a configuration file', { hint: 'Pass --config FILE (the file the ConfigMap will hold).' });
  const source = resolve(ctx.cwd, file);
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (err) {
    throw new CertpilotError('ERR_CONFIG_NOT_FOUND', `config: cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  const name = 'certpilot';
  const { findPlugin } = await import('../../plugins/registry.js');
  const deployed = d.deployedConfig(text, { name, state, credentialOptions: (type) => findPlugin(type)?.credentialOptions });
  // The configuration as the pods will run it (state and locker set), read with the user's own paths.
  // A `${VARIABLE}` is the pods' environment, not this shell's: it stays in the ConfigMap as written,
  // and is read here as a placeholder (a name under `.invalid`), so an unset variable does not stop
  // the generation and a local value is never baked into a derived object.
  const variablesOf = (t: string): string[] => [...new Set([...t.replace(/\$\$/g, '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((v) => v[1] as string))];
  // What the ConfigMap reads (the note); a secret field's variable (`password: ${REDIS_PASSWORD}`)
  // became a file of a Secret there, but the configuration loaded below still names it.
  const variables = variablesOf(deployed.text);
  const placeholders = new Map([...new Set([...variables, ...variablesOf(deployed.platformText)])].map((v) => [v, `${v.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'x'}.pod-env.invalid`]));
  const env = { ...ctx.env, ...Object.fromEntries(placeholders) };
  // In a field the schema types as a number or a boolean the placeholder cannot stand: the field's
  // default does here, and the pods' loader reads and checks the variable's value when it runs.
  const typedFromPod: { path: string; variable: string }[] = [];
  const config = await loadConfig({
    file: source,
    text: deployed.platformText,
    env,
    cwd: ctx.cwd,
    overrides: overridesFrom(ctx, false),
    podVariables: { placeholders, deferred: (path, variable) => typedFromPod.push({ path, variable }) },
  });
  // A mistake between plug-ins (a reload's secretName no kubernetes-secret deployer writes) would be
  // copied into the Role and fail in the pods after the CA issued: refused here as `config check` does.
  const { configOnlyIssues } = await import('../../config/cross-checks.js');
  const problems = configOnlyIssues(config);
  if (problems.length > 0) throw new ConfigError(problems, { source });
  const fromPod = (value: string): string[] => [...placeholders].filter(([, p]) => value.includes(p)).map(([v]) => `\${${v}}`);
  const needs = kubernetesNeeds(config);
  const namespace = ctx.values.namespace ?? needs.find((n) => n.connection.namespace !== undefined)?.connection.namespace ?? 'default';
  const serve = ctx.values.serve === true;
  if (serve && deployed.redisSolvers.length === 0) {
    throw new CertpilotError('ERR_MANIFESTS_CONFIG', 'kubernetes manifests: --serve: no solver of type redis in the configuration', { hint: 'Add a `type: redis` solver (the responder reads the tokens it writes), or leave out --serve.' });
  }
  const configFiles: Record<string, string> = {};
  for (const f of deployed.files) {
    try {
      configFiles[f.key] = await readFile(resolve(dirname(source), f.path), 'utf8');
    } catch (err) {
      throw new CertpilotError('ERR_MANIFESTS_CONFIG', `kubernetes manifests: ${f.field}: cannot read ${f.path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { hint: 'The CA file goes into the ConfigMap: fix the path, relative to the config file.', cause: err });
    }
  }
  const warnings: string[] = [];
  const http01Hosts = config.certificates.flatMap((c) =>
    Object.entries(c.solvers).flatMap(([domain, solver]) => {
      if (!deployed.redisSolvers.includes(solver)) return [];
      if (fromPod(domain).length === 0) return [domain];
      if (serve) warnings.push(`certificate ${c.name}: a name of it is ${fromPod(domain).join(', ')}, known only in the pods: the Ingress ${name}-serve has no rule for it; add one in an overlay (host: the value, path /.well-known/acme-challenge/ to Service ${name}-serve).`);
      return [];
    }),
  );
  // Solvers that answer from the certpilot pod itself cannot work there: the CA reaches port 80 or
  // 443 of the names, never a CronJob's pod, and the pod's root is read-only.
  const usedSolvers = new Set(config.certificates.flatMap((c) => Object.values(c.solvers)));
  for (const [solver, entry] of Object.entries(config.solvers)) {
    if (!usedSolvers.has(solver)) continue;
    if (entry.type === 'standalone' || entry.type === 'tls-alpn') {
      warnings.push(`solvers.${solver}: type ${entry.type} answers from a listener in the certpilot pod, which the CA's connections to port ${entry.type === 'standalone' ? 80 : 443} of the names never reach (no Service or Ingress is generated for it): use a redis solver with --serve, stateless, or a DNS type.`);
    } else if (entry.type === 'webroot') {
      warnings.push(`solvers.${solver}: type webroot writes token files under ${String((entry.options as { path?: unknown }).path)} in the certpilot pod, whose root is read-only and which no web server serves: use a redis solver with --serve, stateless, or a DNS type.`);
    }
  }
  const reloadTargets = Object.values(config.deployers).flatMap((dep) =>
    dep.type === 'kubernetes-reload' ? dep.options.groups.map((g) => ({ namespace: dep.options.namespace, selector: g.selector, port: g.port })) : [],
  );
  const set = m.buildManifests(
    { namespace, name, image: ctx.values.image ?? `certpilot:${VERSION}`, mode, state, serve, awsRoleArn: ctx.values['aws-role-arn'], http01Hosts, reloadTargets },
    deployed,
    configFiles,
    needs,
  );
  // Any other derived object that would hold a value known only in the pods (a Secret name in the Role, a selector).
  for (const { object, file: objectFile } of set.manifests) {
    if (object.kind === 'ConfigMap') continue;
    const used = fromPod(JSON.stringify(object));
    if (used.length > 0) warnings.push(`${objectFile}: ${object.kind} ${object.metadata?.name ?? ''} depends on ${used.join(', ')}, known only in the pods; it holds a placeholder (*.pod-env.invalid): set the value in an overlay.`);
  }
  set.notes.unshift(...warnings.map((w) => `warning: ${w}`));
  for (const f of typedFromPod) {
    set.notes.push(`${f.path} is \${${f.variable}}, a value of the pods (read and checked when they load the configuration): what was generated here took that field's default; if an object depends on it (a port), set the value in an overlay.`);
  }
  // POD_NAME and POD_NAMESPACE come from the downward API on every container (POD_ENV): no note for them.
  const podEnv = new Set(m.POD_ENV.map(([envName]) => envName));
  const toAdd = variables.filter((v) => !podEnv.has(v));
  if (toAdd.length > 0) {
    set.notes.push(`the configuration reads ${toAdd.map((v) => `\${${v}}`).join(', ')}: add each to ConfigMap ${name}-env (a secret one from a Secret instead, with env valueFrom in an overlay), or the pods fail to load it.`);
  }
  if (state === 'secret' && !needs.some((n) => /state/i.test(n.instance))) {
    set.notes.push('--state secret: the state store does not declare its Role rules yet, so the Role lacks them: add the rules of docs/kubernetes.md "RBAC for state in Secrets" in an overlay, or use --state pvc.');
  }
  if (Object.values(config.solvers).some((s) => s.type === 'route53') && !ctx.values['aws-role-arn']) {
    set.notes.push('route53: pass --aws-role-arn ARN to annotate the ServiceAccount for IRSA (`certpilot route53 policy` prints the policy to attach).');
  }
  if (ctx.values.output !== undefined) {
    const dir = resolve(ctx.cwd, ctx.values.output);
    await mkdir(dir, { recursive: true });
    const files = r.renderKustomize(set);
    for (const [f, content] of files) await writeFile(join(dir, f), content);
    ctx.output.err(`kubernetes manifests: wrote ${files.size} files to ${dir}; apply with: kubectl apply -k ${ctx.values.output}`);
  } else {
    ctx.output.out(r.renderStream(set).replace(/\n$/, ''));
  }
  for (const note of set.notes) ctx.output.err(`kubernetes manifests: ${note}`);
  return EXIT.ok;
}
