/**
 * The one adapter over `@kubernetes/client-node` 1.x (DESIGN.md §3; 2.x needs Node 22). Every
 * Kubernetes plug-in reaches the API server through {@link KubernetesClient}: it authenticates,
 * names the namespace, and turns API failures into `CertpilotError`s that say which verb on which
 * resource failed and why — a 403 names the verb, resource and object the Role lacks.
 *
 * Authentication:
 * - in the cluster, by the pod's service account: the bearer token is read from
 *   `<serviceAccountDir>/token` and read again whenever the file changes (the kubelet rotates
 *   projected tokens; its AtomicWriter swaps the `..data` link, which changes the file's inode and
 *   mtime) and after a 401; the CA is `ca.crt` and the namespace `namespace` beside it;
 * - or by a kubeconfig file and context, exactly as kubectl reads it (client-node's loader).
 *
 * Exec uses the WebSocket channel protocol: client-node offers `v5.channel.k8s.io` first and
 * falls back to `v4.channel.k8s.io` when the server does not speak v5; the exit status is read from
 * the Status on channel 3 (a `NonZeroExitCode` Status carries it in `details.causes`).
 *
 * Contract: no method logs or returns secret material; an error message never contains a request
 * body (a Secret's data) — only the Status message the API server wrote, which names fields, not
 * values.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import {
  AppsV1Api,
  CoreV1Api,
  Exec,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
  type V1Secret,
  type V1Status,
} from '@kubernetes/client-node';
import { CertpilotError, type ErrorCode } from '../errors.js';
import type { KubernetesConnectionOptions } from './connection-options.js';

/** What a request was doing, for error messages and RBAC hints. */
export interface KubernetesAction {
  verb: string;
  /** Plural resource, with the subresource after a slash (`pods/exec`). */
  resource: string;
  name?: string;
  /** API group ('' for the core group). */
  group?: string;
}

/** The result of one exec. */
export interface ExecResult {
  /** The command's exit code (0 on success). */
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The channel protocol the server chose (`v5.channel.k8s.io` or `v4.channel.k8s.io`). */
  protocol: string;
}

/** A workload whose pod template a rollout restart changes. */
export type WorkloadKind = 'Deployment' | 'StatefulSet';

/** A pod that can answer now: phase Running, an IP, and not being deleted (the self-check and the reloads use the same rule). */
export function isRunningPod(pod: V1Pod): pod is V1Pod & { status: { podIP: string } } {
  return pod.status?.phase === 'Running' && Boolean(pod.status.podIP) && !pod.metadata?.deletionTimestamp;
}

const AUTH_PROVIDER = 'certpilot-service-account-token';

/** Reads the service-account token again whenever the file changes (or after a 401). */
class RotatingTokenFile {
  private token = '';
  private stamp = '';

  constructor(private readonly path: string) {}

  read(force = false): string {
    let st;
    try {
      st = statSync(this.path);
    } catch (cause) {
      throw new CertpilotError('ERR_KUBERNETES_CONFIG', `kubernetes: read service account token ${this.path}: ${(cause as NodeJS.ErrnoException).code ?? 'unreadable'}`, { cause });
    }
    const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (force || stamp !== this.stamp) {
      this.token = readFileSync(this.path, 'utf8').trim();
      this.stamp = stamp;
    }
    return this.token;
  }
}

function statusOf(e: unknown): { code: number; message: string; reason?: string } | undefined {
  const err = e as { code?: unknown; body?: unknown };
  if (typeof err?.code !== 'number') return undefined;
  let body: unknown = err.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      body = undefined;
    }
  }
  const b = body as Partial<V1Status> | undefined;
  return { code: err.code, message: typeof b?.message === 'string' ? b.message : `HTTP ${err.code}`, ...(typeof b?.reason === 'string' ? { reason: b.reason } : {}) };
}

function describe(a: KubernetesAction, namespace: string): string {
  return `${a.verb} ${a.resource}${a.name !== undefined ? `/${a.name}` : ''} in namespace ${namespace}`;
}

/** The RBAC rule a 403 shows is missing, as a one-line hint. */
export function rbacHint(a: KubernetesAction): string {
  const names = a.name !== undefined && a.verb !== 'list' && a.verb !== 'create' ? `, resourceNames: ["${a.name.split('/')[0] ?? a.name}"]` : '';
  return `grant the service account { apiGroups: ["${a.group ?? ''}"], resources: ["${a.resource}"], verbs: ["${a.verb}"]${names} } in a Role (docs/kubernetes.md lists each deployer's Role).`;
}

/** Maps a client-node failure to a CertpilotError naming the action. */
export function kubernetesError(e: unknown, action: KubernetesAction, namespace: string): CertpilotError {
  if (e instanceof CertpilotError) return e;
  let a = action;
  const what = `kubernetes: ${describe(a, namespace)}`;
  const s = statusOf(e);
  if (s === undefined) {
    const msg = (e as { message?: string })?.message ?? String(e);
    // A WebSocket upgrade refused by the server reports only its status line.
    const ws = /Unexpected server response: (\d+)/.exec(msg);
    if (ws) return kubernetesError({ code: Number(ws[1]), body: undefined }, a, namespace);
    const code = (e as { code?: string; cause?: { code?: string } })?.code ?? (e as { cause?: { code?: string } })?.cause?.code;
    return new CertpilotError('ERR_KUBERNETES_API', `${what}: ${typeof code === 'string' ? code : 'request failed'}`, { cause: e, retryable: true, hint: 'Check that the API server is reachable (kubeconfig server, or the in-cluster Service) and its CA.' });
  }
  if (s.code === 403) {
    // The Status names the verb the authorizer refused, which may differ from the request's
    // (a server-side apply that would create the object needs `create`).
    const m = /cannot (\w+) resource "([^"]+)"(?: in API group "([^"]*)")?/.exec(s.message);
    if (m) a = { ...a, verb: m[1] ?? a.verb, resource: m[2] ?? a.resource, group: m[3] ?? a.group ?? '' };
  }
  const table: Record<number, [ErrorCode, string, boolean]> = {
    401: ['ERR_KUBERNETES_UNAUTHORIZED', 'unauthorized (the token was refused)', false],
    403: ['ERR_KUBERNETES_FORBIDDEN', `forbidden: the service account may not ${a.verb} ${a.resource}${a.name !== undefined ? ` "${a.name}"` : ''}`, false],
    404: ['ERR_KUBERNETES_NOT_FOUND', 'not found', false],
    409: ['ERR_KUBERNETES_CONFLICT', 'conflict', true],
  };
  const [code, why, retryable] = table[s.code] ?? ['ERR_KUBERNETES_API', `HTTP ${s.code}`, s.code >= 500 || s.code === 429];
  const detail = s.message && s.message !== `HTTP ${s.code}` ? ` (${s.message})` : '';
  return new CertpilotError(code, `${what}: ${why}${detail}`, { cause: e, retryable, ...(s.code === 403 ? { hint: rbacHint(a) } : {}) });
}

/** One connection to one namespace of one cluster. */
export class KubernetesClient {
  /** The namespace every call addresses. */
  readonly namespace: string;
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly execer: Exec;
  private readonly timeoutMs: number;
  private readonly token: RotatingTokenFile | undefined;

  /** Builds the client (reads the kubeconfig or service-account files; no network I/O). */
  constructor(options: KubernetesConnectionOptions, baseDir: string) {
    const kc = new KubeConfig();
    let namespace = options.namespace;
    try {
      if (options.kubeconfig !== undefined) {
        kc.loadFromFile(resolve(baseDir, options.kubeconfig));
        if (options.context !== undefined) {
          if (kc.getContextObject(options.context) === null) {
            throw new CertpilotError('ERR_KUBERNETES_CONFIG', `kubernetes: kubeconfig ${options.kubeconfig}: no context named ${options.context}`, {
              hint: `Use one of: ${kc.getContexts().map((c) => c.name).join(', ') || '(none)'}.`,
            });
          }
          kc.setCurrentContext(options.context);
        }
        if (kc.getCurrentCluster() === null) throw new CertpilotError('ERR_KUBERNETES_CONFIG', `kubernetes: kubeconfig ${options.kubeconfig}: the context names no cluster`);
        namespace ??= kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
      } else {
        const dir = resolve(baseDir, options.serviceAccountDir);
        this.token = new RotatingTokenFile(resolve(dir, 'token'));
        this.token.read();
        const token = this.token;
        kc.addAuthenticator({
          isAuthProvider: (user) => user.authProvider?.name === AUTH_PROVIDER,
          applyAuthentication: async (_user, opts) => {
            opts.headers = { ...opts.headers, Authorization: `Bearer ${token.read()}` };
          },
        });
        kc.loadFromClusterAndUser(
          { name: 'in-cluster', server: options.apiServer, caFile: resolve(dir, 'ca.crt'), skipTLSVerify: false },
          { name: 'service-account', authProvider: { name: AUTH_PROVIDER, config: {} } },
        );
        if (namespace === undefined) {
          try {
            namespace = readFileSync(resolve(dir, 'namespace'), 'utf8').trim();
          } catch {
            namespace = 'default';
          }
        }
      }
    } catch (cause) {
      if (cause instanceof CertpilotError) throw cause;
      const where = options.kubeconfig !== undefined ? `kubeconfig ${options.kubeconfig}` : `service account ${options.serviceAccountDir}`;
      throw new CertpilotError('ERR_KUBERNETES_CONFIG', `kubernetes: load ${where}: ${(cause as Error).message.split('\n')[0] ?? 'invalid'}`, { cause });
    }
    enforceTlsVerification(kc);
    this.namespace = namespace;
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.execer = new Exec(kc);
    this.timeoutMs = options.requestTimeoutSeconds * 1000;
  }

  /** Runs one API call; maps failures; after a 401 in the cluster re-reads the token and tries once more. */
  private async call<T>(a: KubernetesAction, fn: () => Promise<T>): Promise<T> {
    const run = (): Promise<T> => withTimeout(fn(), this.timeoutMs, () => new CertpilotError('ERR_KUBERNETES_API', `kubernetes: ${describe(a, this.namespace)}: no answer in ${this.timeoutMs / 1000} s`, { retryable: true }));
    try {
      return await run();
    } catch (e) {
      if (this.token !== undefined && statusOf(e)?.code === 401) {
        this.token.read(true);
        try {
          return await run();
        } catch (e2) {
          throw kubernetesError(e2, a, this.namespace);
        }
      }
      throw kubernetesError(e, a, this.namespace);
    }
  }

  /** The Secret, or undefined when it does not exist. */
  async getSecret(name: string): Promise<V1Secret | undefined> {
    try {
      return await this.call({ verb: 'get', resource: 'secrets', name }, () => this.core.readNamespacedSecret({ name, namespace: this.namespace }));
    } catch (e) {
      if (e instanceof CertpilotError && e.code === 'ERR_KUBERNETES_NOT_FOUND') return undefined;
      throw e;
    }
  }

  /**
   * Server-side apply of a Secret under `fieldManager`, forcing ownership of the fields it sets
   * (cert-manager's way, DESIGN.md §6.10): fields other managers own and this apply does not name
   * are kept.
   */
  async applySecret(secret: V1Secret & { metadata: { name: string } }, fieldManager: string): Promise<V1Secret> {
    const name = secret.metadata.name;
    return this.call({ verb: 'patch', resource: 'secrets', name }, () =>
      this.core.patchNamespacedSecret({ name, namespace: this.namespace, body: secret, fieldManager, force: true }, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply)),
    );
  }

  /** The pods matching a label selector. */
  async listPods(labelSelector: string): Promise<V1Pod[]> {
    const list = await this.call({ verb: 'list', resource: 'pods' }, () => this.core.listNamespacedPod({ namespace: this.namespace, labelSelector }));
    return list.items;
  }

  /** Restarts a workload's pods the way `kubectl rollout restart` does (a pod-template annotation). */
  async restartWorkload(kind: WorkloadKind, name: string, at: Date): Promise<void> {
    const body = { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': at.toISOString() } } } } };
    const opts = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
    const resource = kind === 'Deployment' ? 'deployments' : 'statefulsets';
    await this.call({ verb: 'patch', resource, name, group: 'apps' }, () =>
      kind === 'Deployment'
        ? this.apps.patchNamespacedDeployment({ name, namespace: this.namespace, body, fieldManager: 'certpilot' }, opts)
        : this.apps.patchNamespacedStatefulSet({ name, namespace: this.namespace, body, fieldManager: 'certpilot' }, opts),
    );
  }

  /** Runs `argv` in a pod's container (no stdin, no TTY) and returns its exit code and output. */
  async exec(pod: string, container: string | undefined, argv: readonly string[], options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ExecResult> {
    const a: KubernetesAction = { verb: 'create', resource: 'pods/exec', name: pod };
    const runMs = options.timeoutMs ?? this.timeoutMs;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const sink = (into: Buffer[]): Writable =>
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          into.push(chunk);
          cb();
        },
      });
    let status: V1Status | undefined;
    let socket: Awaited<ReturnType<Exec['exec']>>;
    options.signal?.throwIfAborted();
    const connecting = this.execer.exec(this.namespace, pod, container ?? '', [...argv], sink(out), sink(err), null, false, (s) => {
      status = s;
    });
    try {
      socket = await withTimeout(
        connecting,
        this.timeoutMs,
        () => new CertpilotError('ERR_KUBERNETES_EXEC', `kubernetes: exec in pod ${pod}: no connection in ${this.timeoutMs / 1000} s`, { retryable: true }),
      );
    } catch (e) {
      // A connection that arrives after we gave up must not run the command unwatched.
      connecting.then((late) => late.close(), () => undefined);
      throw kubernetesError(e, a, this.namespace);
    }
    const protocol = socket.protocol;
    await new Promise<void>((resolveDone, reject) => {
      const timer = setTimeout(() => {
        socket.close();
        reject(new CertpilotError('ERR_KUBERNETES_EXEC', `kubernetes: exec in pod ${pod}: \`${argv[0] ?? ''}\` did not finish in ${runMs / 1000} s`, { retryable: true }));
      }, runMs);
      const onAbort = (): void => {
        clearTimeout(timer);
        socket.close();
        reject(options.signal?.reason);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.signal?.aborted) onAbort(); // aborted while connecting
      socket.addEventListener('close', () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        resolveDone();
      });
    });
    const stdout = Buffer.concat(out).toString('utf8');
    const stderr = Buffer.concat(err).toString('utf8');
    if (status === undefined) {
      throw new CertpilotError('ERR_KUBERNETES_EXEC', `kubernetes: exec in pod ${pod}: the connection closed without an exit status`, { retryable: true });
    }
    if (status.status === 'Success') return { exitCode: 0, stdout, stderr, protocol };
    const exit = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
    if (status.reason === 'NonZeroExitCode' && exit !== undefined) return { exitCode: Number(exit), stdout, stderr, protocol };
    throw new CertpilotError('ERR_KUBERNETES_EXEC', `kubernetes: exec \`${argv[0] ?? ''}\` in pod ${pod}${container ? ` container ${container}` : ''}: ${status.message ?? status.reason ?? 'failed'}`, {
      hint: 'Check that the command exists in the container image and the container name is right.',
    });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolveP, reject) => {
    const t = setTimeout(() => reject(onTimeout()), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolveP(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e as Error);
      },
    );
  });
}

/**
 * Makes every connection of `kc` (API calls and exec WebSockets) verify the API server's
 * certificate whatever the environment says: @kubernetes/client-node leaves `rejectUnauthorized`
 * unset (so NODE_TLS_REJECT_UNAUTHORIZED=0 would switch it off) unless the request options carry
 * it, and every request's options pass through `applyOptions`. A kubeconfig asking to skip
 * verification is refused.
 */
function enforceTlsVerification(kc: KubeConfig): void {
  if (kc.getCurrentCluster()?.skipTLSVerify === true) {
    throw new CertpilotError('ERR_KUBERNETES_CONFIG', `kubernetes: cluster ${kc.getCurrentCluster()?.name ?? ''} sets insecure-skip-tls-verify: certpilot always verifies the API server`, {
      hint: 'Remove insecure-skip-tls-verify from the kubeconfig and give the cluster its certificate-authority (or certificate-authority-data).',
    });
  }
  const target = kc as unknown as { applyOptions?: (opts: { rejectUnauthorized?: boolean }) => Promise<void> };
  const original = target.applyOptions;
  if (typeof original !== 'function') throw new Error('@kubernetes/client-node no longer has KubeConfig.applyOptions: TLS verification cannot be enforced');
  target.applyOptions = async (opts) => {
    await original.call(kc, opts);
    opts.rejectUnauthorized = true;
  };
}
