/**
 * What the configured plug-ins need from the platforms they call, collected from their own
 * declarations (`plugin.ts` of each folder, and the wrapper rows of the table of kinds): the
 * Kubernetes Role rules of every configured instance, per connection. `certpilot kubernetes check`
 * asks the API server about each; the manifests generator builds its Role from the same list, so
 * a Role can never drift from the code.
 */
import type { ResolvedConfig } from '../config/load-config.js';
import type { KubernetesConnectionOptions } from '../kubernetes/connection-options.js';
import type { KubernetesNeeds, PluginUse, RbacRule } from './plugin.js';
import { CONFIG_SECTIONS, kindSpec, sectionSpec, type PluginInstanceConfig, type SectionName } from './plugin-kinds.js';
import { findPlugin } from './registry.js';

/** One configured instance's Kubernetes needs. */
export interface InstanceKubernetesNeeds extends KubernetesNeeds {
  /** Where it is configured: `deployer reload`, `solver pods`, `locker`. */
  instance: string;
  /** The plug-in id. */
  type: string;
}

/** The certificates that use an instance of a section (a single-instance section: all of them). */
function useOf(config: ResolvedConfig, section: SectionName, name: string | undefined): PluginUse {
  const certificates = config.certificates.filter((c) => {
    if (name === undefined) return true;
    if (section === 'solvers') return Object.values(c.solvers).includes(name);
    if (section === 'deployers') return c.deploy.includes(name);
    return true;
  });
  const directories = [...new Set([config.acme.directoryUrl, config.acme.stagingDirectoryUrl])];
  return { certificates: certificates.map((c) => c.name), ...(sectionSpec(section).shape === 'single' ? { directories } : {}) };
}

/**
 * The Kubernetes needs of every configured instance (only those certificates use, unless `all`),
 * in section order. `only` limits them to instances of these names.
 */
export function kubernetesNeeds(config: ResolvedConfig, options: { only?: readonly string[]; all?: boolean } = {}): InstanceKubernetesNeeds[] {
  const out: InstanceKubernetesNeeds[] = [];
  for (const section of Object.keys(CONFIG_SECTIONS) as SectionName[]) {
    const spec = sectionSpec(section);
    const value = (config as unknown as Record<string, unknown>)[section];
    if (value === undefined) continue;
    const entries: [string | undefined, PluginInstanceConfig][] =
      spec.shape === 'named' ? Object.entries(value as Record<string, PluginInstanceConfig>) : [[undefined, value as PluginInstanceConfig]];
    for (const [name, entry] of entries) {
      const label = name === undefined ? spec.noun : `${spec.noun} ${name}`;
      if (options.only?.length && !options.only.includes(name ?? spec.noun)) continue;
      const use = useOf(config, section, name);
      if (!options.all && spec.shape === 'named' && use.certificates.length === 0) continue;
      const plugin = findPlugin(entry.type, entry.kind);
      if (!plugin) continue;
      const own = plugin.kubernetes?.(entry.options as never, use);
      const wrapped = kindSpec(entry.kind).wraps?.kubernetes?.(entry.wrapper as never, use);
      for (const needs of [own, wrapped]) if (needs) out.push({ instance: label, type: entry.type, ...needs });
    }
  }
  return out;
}

/** A stable key of a connection (same cluster, credentials and namespace: one client). */
export function connectionKey(c: KubernetesConnectionOptions): string {
  return JSON.stringify([c.kubeconfig ?? null, c.context ?? null, c.namespace ?? null, c.kubeconfig === undefined ? (c.apiServer ?? null) : null, c.kubeconfig === undefined ? c.serviceAccountDir : null]);
}

/** One permission to ask about: a verb on a resource, on one object or on all. */
export interface Permission {
  verb: string;
  group: string;
  resource: string;
  name?: string | undefined;
  /**
   * Needed only while one of these Secrets does not exist ({@link RbacRule.untilSecretExists});
   * absent when some rule needs it unconditionally.
   */
  untilSecretsExist?: string[];
}

/** The rules as single permissions (one per verb and object), without repeats. */
export function permissionsOf(rules: readonly RbacRule[]): Permission[] {
  const seen = new Map<string, Permission>();
  const always = new Set<string>();
  for (const r of rules) {
    for (const group of r.apiGroups) {
      for (const resource of r.resources) {
        for (const verb of r.verbs) {
          for (const name of r.resourceNames ?? [undefined]) {
            const p: Permission = { verb, group, resource, ...(name !== undefined ? { name } : {}) };
            const key = JSON.stringify(p);
            const entry = seen.get(key) ?? p;
            if (r.untilSecretExists === undefined) always.add(key);
            else if (!entry.untilSecretsExist?.includes(r.untilSecretExists)) entry.untilSecretsExist = [...(entry.untilSecretsExist ?? []), r.untilSecretExists];
            seen.set(key, entry);
          }
        }
      }
    }
  }
  for (const key of always) delete (seen.get(key) as Permission).untilSecretsExist;
  return [...seen.values()];
}
