/**
 * How a Kubernetes plug-in reaches the API server: in the cluster by its service account (the
 * default), or through a kubeconfig file and context. Shared by the `kubernetes-secret` and
 * `kubernetes-reload` deployers; merged into each one's own options.
 */
import { z } from 'zod';
import { lazy } from '../lazy.js';

/** The in-cluster service-account directory the kubelet mounts into every pod. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Connection options of every Kubernetes plug-in. */
export const kubernetesConnectionShape = lazy(() => ({
  kubeconfig: z
    .string()
    .min(1)
    .optional()
    .describe('Path of a kubeconfig file (relative to the config file). Unset: in-cluster, by the pod\'s service account.'),
  context: z.string().min(1).optional().describe('kubeconfig context to use (default: its current-context).'),
  namespace: z
    .string()
    .min(1)
    .optional()
    .describe('Namespace of the objects. Default: the service account\'s namespace in the cluster, else the kubeconfig context\'s, else `default`.'),
  apiServer: z
    .string()
    .url()
    .default('https://kubernetes.default.svc')
    .describe('In-cluster only: the API server URL (the `kubernetes` Service, which the service account CA signs).'),
  serviceAccountDir: z
    .string()
    .min(1)
    .default(SERVICE_ACCOUNT_DIR)
    .describe('In-cluster only: the directory holding the service account `token`, `ca.crt` and `namespace`; the token is re-read when the kubelet rotates it.'),
  requestTimeoutSeconds: z.number().positive().default(30).describe('Longest wait for one API request or exec.'),
} as const));

/** The parsed connection options. */
export interface KubernetesConnectionOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  namespace?: string | undefined;
  apiServer: string;
  serviceAccountDir: string;
  requestTimeoutSeconds: number;
}

/** The connection options out of a plug-in's options (which spread {@link kubernetesConnectionShape}). */
export function connectionOf(o: KubernetesConnectionOptions): KubernetesConnectionOptions {
  return {
    ...(o.kubeconfig !== undefined ? { kubeconfig: o.kubeconfig } : {}),
    ...(o.context !== undefined ? { context: o.context } : {}),
    ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
    apiServer: o.apiServer,
    serviceAccountDir: o.serviceAccountDir,
    requestTimeoutSeconds: o.requestTimeoutSeconds,
  };
}
