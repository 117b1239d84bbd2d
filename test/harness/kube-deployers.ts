/** Builds the two Kubernetes deployers through the registry, as compose.ts does, against a stand-in. */
import { systemClock } from '../../src/clock.js';
import type { Deployer } from '../../src/deploy/deployer.js';
import type { Logger } from '../../src/logger.js';
import { silentLogger } from '../../src/logger.js';
import { findPlugin } from '../../src/plugins/registry.js';
import type { KubeStandin } from './kube-standin.js';

/** Creates a registered deployer from raw (YAML-shaped) options, validated by its schema. */
export async function makeDeployer(type: 'kubernetes-secret' | 'kubernetes-reload', standin: KubeStandin, options: Record<string, unknown>, logger: Logger = silentLogger): Promise<Deployer> {
  const plugin = findPlugin(type);
  if (!plugin) throw new Error(`no plug-in ${type}`);
  const kubeconfig = await standin.writeKubeconfig();
  const parsed = plugin.schema.parse({ kubeconfig, ...options });
  return (await plugin.create(parsed, { name: type, logger, clock: systemClock, baseDir: standin.dir, stateDir: standin.dir })) as Deployer;
}

/** Options of a reload deployer for the stand-in's apache pods (fast polling for tests). */
export function reloadOptions(standin: KubeStandin, extra: Record<string, unknown> = {}, group: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    secretName: 'www-certificate',
    pollIntervalSeconds: 0.2,
    propagationTimeoutSeconds: 20,
    verifyTimeoutSeconds: 10,
    groups: [{ name: 'www', selector: 'app=www', container: 'apache', command: ['apachectl', 'graceful'], port: standin.podPort, serverName: 'www.example.test', ...group }],
    ...extra,
  };
}
