/**
 * The one list of plug-ins (DESIGN.md §1; lego's provider index, renovate's datasource index). Each
 * plug-in's folder exports its definition from `plugin.ts`; adding a plug-in is adding its folder
 * and one import plus one entry here. Definitions build their option schema on first read (a
 * configuration builds only the ones it names: `config/schema.ts` `schemasFor`) and import their
 * implementation on first use. `registry.test.ts` keeps this list, the plug-in folders, the table
 * of kinds (`plugin-kinds.ts`) and `docs/plugins.md` the same set.
 */
import { plugin as standalone } from '../challenges/http01/solvers/standalone/plugin.js';
import { plugin as webroot } from '../challenges/http01/solvers/webroot/plugin.js';
import { plugin as stateless } from '../challenges/http01/solvers/stateless/plugin.js';
import { plugin as tlsAlpn } from '../challenges/tls-alpn01/solvers/tls-alpn/plugin.js';
import { plugin as dnsPersist } from '../challenges/dns-persist01/solvers/dns-persist/plugin.js';
import { plugin as redis } from '../challenges/http01/token-stores/redis/plugin.js';
import { plugin as rfc2136 } from '../challenges/dns01/providers/rfc2136/plugin.js';
import { plugin as route53 } from '../challenges/dns01/providers/route53/plugin.js';
import { plugin as files } from '../deploy/files/plugin.js';
import { plugin as hook } from '../deploy/hook/plugin.js';
import { plugin as kubernetesSecret } from '../deploy/kubernetes-secret/plugin.js';
import { plugin as kubernetesReload } from '../deploy/kubernetes-reload/plugin.js';
import { plugin as fileLocker } from '../coordination/file/plugin.js';
import { plugin as leaseLocker } from '../coordination/lease/plugin.js';
import { plugin as filesystemState } from '../storage/backends/filesystem/plugin.js';
import { plugin as kubernetesSecretState } from '../storage/backends/kubernetes-secret/plugin.js';
import { plugin as webhook } from '../notify/webhook/plugin.js';
import { plugin as email } from '../notify/email/plugin.js';
import type { PluginDefinition, PluginKind } from './plugin.js';

/** Every plug-in, in docs order. */
export const PLUGINS = [standalone, webroot, stateless, tlsAlpn, dnsPersist, redis, rfc2136, route53, files, hook, kubernetesSecret, kubernetesReload, fileLocker, leaseLocker, filesystemState, kubernetesSecretState, webhook, email] as const;

/** A registered plug-in id. */
export type PluginId = (typeof PLUGINS)[number]['id'];

/** Every plug-in, typed loosely (for code that walks the list). */
export function allPlugins(): readonly PluginDefinition[] {
  return PLUGINS as readonly PluginDefinition[];
}

/** The plug-ins of some kinds. */
export function pluginsOfKind(...kinds: PluginKind[]): PluginDefinition[] {
  return allPlugins().filter((p) => kinds.includes(p.kind));
}

/**
 * The plug-in with this id (of one of `kinds`, when given), or undefined. An id is unique within a
 * configuration section (`type` is read per section): the `kubernetes-secret` deployer and the
 * `kubernetes-secret` state store are two plug-ins, told apart by their kinds.
 */
export function findPlugin(id: string, ...kinds: PluginKind[]): PluginDefinition | undefined {
  return allPlugins().find((p) => p.id === id && (kinds.length === 0 || kinds.includes(p.kind)));
}
