/**
 * How a Kubernetes plug-in reaches the API server: in the cluster by its service account (the
 * default), or through a kubeconfig file and context. Shared by the `kubernetes-secret` and
 * `kubernetes-reload` deployers; merged into each one's own options.
 */
import * as z from 'zod/mini';
import '../zod-english.js';
import { lazy } from '../lazy.js';

/** The in-cluster service-account directory the kubelet mounts into every pod. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Connection options of every Kubernetes plug-in. */
export const kubernetesConnectionShape = lazy(() => ({
  kubeconfig: z
    .optional(z.string().check(z.minLength(1)))
    .check(z.describe('Path of a kubeconfig file (relative to the config file). Unset: in-cluster, by the pod\'s service account.')),
  context: z.optional(z.string().check(z.minLength(1))).check(z.describe('kubeconfig context to use (default: its current-context).')),
  namespace: z
    .optional(z.string().check(z.minLength(1)))
    .check(z.describe('Namespace of the objects. Default: the service account\'s namespace in the cluster, else the kubeconfig context\'s, else `default`.')),
  apiServer: z
    .optional(z.string().check(z.url()))
    .check(z.describe('In-cluster only: the API server URL. Default, as client-go does: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, which the kubelet sets in every pod; without them https://kubernetes.default.svc (the `kubernetes` Service; the service account CA signs both).')),
  serviceAccountDir: z
    ._default(z.string().check(z.minLength(1)), SERVICE_ACCOUNT_DIR)
    .check(z.describe('In-cluster only: the directory holding the service account `token`, `ca.crt` and `namespace`; the token is re-read when the kubelet rotates it.')),
  requestTimeoutSeconds: z._default(z.number().check(z.positive()), 30).check(z.describe('Longest wait for one API request or exec.')),
} as const));

/** The parsed connection options. */
export interface KubernetesConnectionOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  namespace?: string | undefined;
  apiServer?: string | undefined;
  serviceAccountDir: string;
  requestTimeoutSeconds: number;
}

/** The connection options out of a plug-in's options (which spread {@link kubernetesConnectionShape}). */
export function connectionOf(o: KubernetesConnectionOptions): KubernetesConnectionOptions {
  return {
    ...(o.kubeconfig !== undefined ? { kubeconfig: o.kubeconfig } : {}),
    ...(o.context !== undefined ? { context: o.context } : {}),
    ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
    ...(o.apiServer !== undefined ? { apiServer: o.apiServer } : {}),
    serviceAccountDir: o.serviceAccountDir,
    requestTimeoutSeconds: o.requestTimeoutSeconds,
  };
}

/** Where an in-cluster client finds the API server when the configuration names none. */
export const DEFAULT_IN_CLUSTER_SERVER = 'https://kubernetes.default.svc';

/**
 * The in-cluster API server URL: the configured one, else the address the kubelet puts in every
 * pod's environment (`KUBERNETES_SERVICE_HOST`/`_PORT`, as client-go's in-cluster config reads it;
 * an IPv6 host in brackets), else the `kubernetes` Service's DNS name.
 */
export function inClusterServer(apiServer: string | undefined, env: Readonly<Record<string, string | undefined>> = {}): string {
  if (apiServer !== undefined) return apiServer;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) return DEFAULT_IN_CLUSTER_SERVER;
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
