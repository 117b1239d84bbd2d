/**
 * Builds the configured state store (`stateStore`, default the filesystem store in `stateDir`),
 * and any store named by a `state copy` spec. The Kubernetes backend is imported on first use.
 */
import type { Logger } from '../logger.js';
import type { ResolvedConfig } from '../config/load-config.js';
import { FilesystemCertificateStore } from './backends/filesystem/filesystem-certificate-store.js';
import type { KubernetesSecretStateOptions } from './backends/kubernetes-secret/schema.js';
import { DeferredStateBackend } from './deferred-state-backend.js';
import { StateStore, type CertpilotStore } from './state-store.js';

/** The state store of a configuration. Construction does no I/O. */
export function openStateStore(config: Pick<ResolvedConfig, 'stateDir' | 'stateStore' | 'baseDir'>, logger: Logger): CertpilotStore {
  const s = config.stateStore;
  if (s.type === 'kubernetes-secret') return kubernetesSecretStore(s, config.baseDir, logger);
  return new FilesystemCertificateStore({ stateDir: config.stateDir, logger });
}

/** The domain stores over Secrets, the Kubernetes client loaded on first use. */
export function kubernetesSecretStore(options: KubernetesSecretStateOptions, baseDir: string, logger: Logger): CertpilotStore {
  const where = options.namespace !== undefined ? `Secrets in namespace ${options.namespace}` : 'Secrets';
  const backend = new DeferredStateBackend(where, options.keepVersions, async () => {
    const [{ KubernetesClient }, { KubernetesSecretStateBackend }] = await Promise.all([
      import('../kubernetes/kubernetes-client.js'),
      import('./backends/kubernetes-secret/kubernetes-secret-state-backend.js'),
    ]);
    return new KubernetesSecretStateBackend({ client: new KubernetesClient(options, baseDir), secretPrefix: options.secretPrefix, keepVersions: options.keepVersions });
  });
  return new StateStore(backend, { logger });
}
