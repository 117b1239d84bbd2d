/**
 * `certpilot kubernetes check [NAME…]`: asks the API server (SelfSubjectAccessReview) for every
 * permission the configured plug-ins declare they need (their `plugin.ts`: the deployers, the
 * lease locker, a self-check through pods), prints each with ok or MISSING, and fails naming the
 * rules to add when one is missing — before any order is placed. Nothing is written.
 */
import { CertpilotError } from '../../errors.js';
import { connectionKey, kubernetesNeeds, permissionsOf, type InstanceKubernetesNeeds, type Permission } from '../../plugins/platform-needs.js';
import type { RbacRule } from '../../plugins/plugin.js';
import { EXIT, type CommandContext } from '../main.js';
import { loadCommandConfig } from '../runtime.js';

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

const yamlList = (xs: readonly string[]): string => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;

/** Entry point of `certpilot kubernetes`. */
export async function run(ctx: CommandContext): Promise<number> {
  const [action, ...only] = ctx.positionals;
  if (action !== 'check') {
    throw new CertpilotError('ERR_CLI_USAGE', `cli: unknown kubernetes action "${action ?? ''}"`, { hint: 'Use `kubernetes check`.' });
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
    const client = new KubernetesClient(first.connection, config.baseDir);
    const where = first.connection.kubeconfig !== undefined ? `kubeconfig ${first.connection.kubeconfig}${first.connection.context ? `, context ${first.connection.context}` : ''}` : 'in-cluster service account';
    ctx.output.out(`kubernetes check: namespace ${client.namespace} (${where})`);
    const asked = new Map<string, { permission: Permission; instances: string[] }>();
    for (const n of group) {
      for (const p of permissionsOf(n.rules)) {
        const key = JSON.stringify(p);
        const entry = asked.get(key) ?? { permission: p, instances: [] };
        if (!entry.instances.includes(n.instance)) entry.instances.push(n.instance);
        asked.set(key, entry);
      }
    }
    const entries = [...asked.values()];
    const answers = await client.canI(entries.map((e) => e.permission));
    const width = Math.max(...entries.map((e) => describe(e.permission).length));
    entries.forEach((e, i) => {
      const ok = answers[i]?.allowed === true;
      ctx.output.out(`  ${ok ? 'ok     ' : 'MISSING'}  ${describe(e.permission).padEnd(width)}  ${e.instances.join(', ')}`);
      if (!ok) missing.push({ ...e, namespace: client.namespace });
    });
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
