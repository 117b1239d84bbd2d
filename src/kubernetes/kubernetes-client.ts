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
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import {
  AppsV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  createConfiguration,
  Exec,
  KubeConfig,
  PatchStrategy,
  ServerConfiguration,
  setHeaderOptions,
  type Configuration,
  type ConfigurationOptions,
  type RequestContext,
  type SecurityAuthentication,
  V1MicroTime,
  type V1Lease,
  type V1Pod,
  type V1Secret,
  type V1Status,
} from '@kubernetes/client-node';
import { CertpilotError, type ErrorCode } from '../errors.js';
import { inClusterServer, type KubernetesConnectionOptions } from './connection-options.js';

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

/**
 * A `coordination.k8s.io/v1` Lease as the lockers see it (KEP-589 / client-go leader election
 * fields). Times are Dates here; on the wire they are MicroTime (six fractional digits, which a
 * real API server requires: `2006-01-02T15:04:05.000000Z07:00`).
 */
export interface LeaseRecord {
  name: string;
  holderIdentity?: string | undefined;
  leaseDurationSeconds?: number | undefined;
  acquireTime?: Date | undefined;
  renewTime?: Date | undefined;
  leaseTransitions?: number | undefined;
  labels?: Record<string, string> | undefined;
  /** The object's resourceVersion: a precondition on update (409 when stale). */
  resourceVersion?: string | undefined;
}

/** One SelfSubjectAccessReview question: may the caller do `verb` on `resource` (`pods/exec`)? */
export interface AccessQuestion {
  verb: string;
  /** Plural resource, with the subresource after a slash. */
  resource: string;
  group: string;
  name?: string | undefined;
}

/** The API server's answer to an {@link AccessQuestion}. */
export interface AccessAnswer {
  allowed: boolean;
  /** The authorizer's reason, when it gave one. */
  reason?: string | undefined;
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
      throw new CertpilotError('ERR_KUBERNETES_CONFIG', `kubernetes: read service account token ${this.path}: ${(cause as NodeJS.ErrnoException).code ?? 'unreadable'}`, {
        cause,
        hint: 'In a pod, mount the service account token (automountServiceAccountToken); outside a cluster, set KUBECONFIG (like kubectl) or the plug-in\'s `kubeconfig` field.',
      });
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
  // Exec is authorized per pod, but pods come and go: the rule names no pod.
  const names = a.name !== undefined && a.verb !== 'list' && a.verb !== 'create' && a.resource !== 'pods/exec' ? `, resourceNames: ["${a.name.split('/')[0] ?? a.name}"]` : '';
  const hint = `grant the service account { apiGroups: ["${a.group ?? ''}"], resources: ["${a.resource}"], verbs: ["${a.verb}"]${names} } in a Role (docs/kubernetes.md lists each plug-in's Role; \`certpilot kubernetes check\` lists every missing rule).`;
  return a.resource === 'pods/exec' ? `${hint} An exec over WebSocket is an HTTP GET: API servers authorize it as \`get\` on pods/exec, and from Kubernetes 1.35 also as \`create\`; grant both.` : hint;
}

/**
 * The network error codes that mean the API server could not be reached or stopped answering (as
 * opposed to one that answered, or a TLS certificate it does not verify): the same failure as a
 * request with no answer in time, `ERR_KUBERNETES_UNREACHABLE` (retryable; a CLI run exits 75).
 */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN']);

/** The hint of an `ERR_KUBERNETES_UNREACHABLE`: what to check, and that certpilot tries again. */
function unreachableHint(server: string | undefined): string {
  const at = server !== undefined ? ` at ${server}` : '';
  return `Check that the API server${at} is reachable (the kubeconfig's server, or the in-cluster Service) and up; nothing is lost: the daemon keeps retrying, and the next run (cron line, CronJob) tries again.`;
}

/** The Node network error code of a failed request (ECONNRESET…), if it is one. */
function networkCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code ?? (e as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps a client-node failure to a CertpilotError naming the action. */
export function kubernetesError(e: unknown, action: KubernetesAction, namespace: string, server?: string): CertpilotError {
  if (e instanceof CertpilotError) return e;
  let a = action;
  const what = `kubernetes: ${describe(a, namespace)}`;
  const s = statusOf(e);
  if (s === undefined) {
    const msg = (e as { message?: string })?.message ?? String(e);
    // A WebSocket upgrade refused by the server reports only its status line.
    const ws = /Unexpected server response: (\d+)/.exec(msg);
    if (ws) return kubernetesError({ code: Number(ws[1]), body: undefined }, a, namespace, server);
    const code = networkCode(e);
    // A network failure names the API server it could not reach: which kubeconfig or Service was used.
    const at = server !== undefined ? ` at ${server}` : '';
    if (code !== undefined && UNREACHABLE_CODES.has(code)) {
      return new CertpilotError('ERR_KUBERNETES_UNREACHABLE', `${what}: ${code}${at ? ` (API server${at})` : ''}`, { cause: e, retryable: true, hint: unreachableHint(server) });
    }
    return new CertpilotError('ERR_KUBERNETES_API', `${what}: ${code ?? 'request failed'}${at ? ` (API server${at})` : ''}`, {
      cause: e,
      retryable: true,
      hint: `Check that the API server${at} is reachable (kubeconfig server, or the in-cluster Service) and its CA.`,
    });
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

/**
 * The kubeconfig a plug-in reads: its `kubeconfig` field, else (like kubectl, outside a cluster: no
 * KUBERNETES_SERVICE_HOST) the first file of $KUBECONFIG, so one configuration serves the pod and a
 * laptop's `check`; undefined: in-cluster, by the service account.
 */
function kubeconfigOf(options: KubernetesConnectionOptions, env: Readonly<Record<string, string | undefined>>): { kubeconfig: string | undefined; label: string } {
  const fromEnv = options.kubeconfig === undefined && !env.KUBERNETES_SERVICE_HOST ? env.KUBECONFIG?.split(':').find((f) => f !== '') : undefined;
  return { kubeconfig: options.kubeconfig ?? fromEnv, label: fromEnv !== undefined ? `$KUBECONFIG ${fromEnv}` : `kubeconfig ${options.kubeconfig}` };
}

/** Loads `file` into `kc` and selects `context` (an unknown one is a configuration error). No network. */
function loadKubeconfig(kc: KubeConfig, file: string, label: string, context: string | undefined): void {
  kc.loadFromFile(file);
  if (context === undefined) return;
  if (kc.getContextObject(context) === null) {
    throw new CertpilotError('ERR_KUBERNETES_CONFIG', `kubernetes: ${label}: no context named ${context}`, {
      hint: `Use one of: ${kc.getContexts().map((c) => c.name).join(', ') || '(none)'}.`,
    });
  }
  kc.setCurrentContext(context);
}

/** A namespace and where it comes from; `inPodOnly`: the service account's file is absent here (`default` here, the pod's own in a pod). */
export interface NamespaceSource {
  namespace: string;
  source: string;
  inPodOnly?: true;
}

/**
 * The namespace a client addresses, and where it comes from: the `namespace` field; else with a
 * kubeconfig (`kc` loaded) its context's, else `default`; else in-cluster the service account's
 * `namespace` file, else `default`.
 */
function namespaceOf(options: KubernetesConnectionOptions, baseDir: string, kc: KubeConfig | undefined, label: string): NamespaceSource {
  if (options.namespace !== undefined) return { namespace: options.namespace, source: 'the namespace field' };
  if (kc !== undefined) {
    const context = kc.getCurrentContext();
    const fromContext = kc.getContextObject(context)?.namespace;
    return fromContext !== undefined ? { namespace: fromContext, source: `context ${context} of ${label}` } : { namespace: 'default', source: `context ${context} of ${label} names none` };
  }
  const file = resolve(baseDir, options.serviceAccountDir, 'namespace');
  try {
    return { namespace: readFileSync(file, 'utf8').trim(), source: `the service account (${file})` };
  } catch {
    return { namespace: 'default', source: `${file} is absent`, inPodOnly: true };
  }
}

/**
 * The namespace a plug-in with these connection options will use, and where it comes from, read
 * the way {@link KubernetesClient} reads it (the same code; files only, no network): for `config
 * check`. Rejects with the client's own error when the kubeconfig cannot be read.
 */
export function connectionNamespace(options: KubernetesConnectionOptions, baseDir: string, env: Readonly<Record<string, string | undefined>> = {}): NamespaceSource {
  const { kubeconfig, label } = kubeconfigOf(options, env);
  if (options.namespace !== undefined || kubeconfig === undefined) return namespaceOf(options, baseDir, undefined, label);
  const kc = new KubeConfig();
  try {
    loadKubeconfig(kc, resolve(baseDir, kubeconfig), label, options.context);
  } catch (cause) {
    if (cause instanceof CertpilotError) throw cause;
    throw new CertpilotError('ERR_KUBERNETES_CONFIG', `kubernetes: load ${label}: ${(cause as Error).message.split('\n')[0] ?? 'invalid'}`, { cause });
  }
  return namespaceOf(options, baseDir, kc, label);
}

/** One connection to one namespace of one cluster. */
export class KubernetesClient {
  /** The namespace every call addresses. */
  readonly namespace: string;
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly coordination: CoordinationV1Api;
  private readonly authorization: AuthorizationV1Api;
  private readonly execer: Exec;
  private readonly timeoutMs: number;
  private readonly token: RotatingTokenFile | undefined;
  /** The API server's URL, for network errors. */
  private readonly server: string | undefined;
  /** Authenticates each request on the pooled connections ({@link pooledAuth}). */
  private readonly auth: SecurityAuthentication;
  /**
   * How this client reaches the API server, for people: `$KUBECONFIG <file>` or `kubeconfig <file>`
   * (with its context when one is named), or `in-cluster service account <dir>` — only when the
   * service account is what it really uses.
   */
  readonly source: string;

  /**
   * Builds the client (reads the kubeconfig or service-account files; no network I/O). `env` is
   * certpilot's environment, read only for the in-cluster API server address ({@link inClusterServer}).
   */
  constructor(options: KubernetesConnectionOptions, baseDir: string, env: Readonly<Record<string, string | undefined>> = {}) {
    const kc = new KubeConfig();
    let namespace: string;
    const { kubeconfig, label } = kubeconfigOf(options, env);
    try {
      if (kubeconfig !== undefined) {
        loadKubeconfig(kc, resolve(baseDir, kubeconfig), label, options.context);
        if (kc.getCurrentCluster() === null) throw new CertpilotError('ERR_KUBERNETES_CONFIG', `kubernetes: ${label}: the context names no cluster`);
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
          { name: 'in-cluster', server: inClusterServer(options.apiServer, env), caFile: resolve(dir, 'ca.crt'), skipTLSVerify: false },
          { name: 'service-account', authProvider: { name: AUTH_PROVIDER, config: {} } },
        );
      }
      namespace = namespaceOf(options, baseDir, kubeconfig !== undefined ? kc : undefined, label).namespace;
      this.source = kubeconfig !== undefined ? `${label}${options.context !== undefined ? `, context ${options.context}` : ''}` : `in-cluster service account ${resolve(baseDir, options.serviceAccountDir)}`;
    } catch (cause) {
      if (cause instanceof CertpilotError) throw cause;
      const where = kubeconfig !== undefined ? label : `service account ${options.serviceAccountDir}`;
      throw new CertpilotError('ERR_KUBERNETES_CONFIG', `kubernetes: load ${where}: ${(cause as Error).message.split('\n')[0] ?? 'invalid'}`, { cause });
    }
    enforceTlsVerification(kc);
    this.namespace = namespace;
    this.auth = pooledAuth(kc);
    this.core = apiClient(kc, CoreV1Api, this.auth);
    this.apps = apiClient(kc, AppsV1Api, this.auth);
    this.coordination = apiClient(kc, CoordinationV1Api, this.auth);
    this.authorization = apiClient(kc, AuthorizationV1Api, this.auth);
    this.timeoutMs = options.requestTimeoutSeconds * 1000;
    this.execer = new Exec(kc);
    this.server = kc.getCurrentCluster()?.server;
  }

  /**
   * Runs one API call; maps failures; after a 401 in the cluster re-reads the token and tries once
   * more. `fn` passes `options` to the API method: they carry the request's AbortSignal, which the
   * timeout aborts, so the request and its connection are destroyed then (an API server that
   * accepts and never answers would otherwise hold the socket for as long as it stays silent).
   */
  private async call<T>(a: KubernetesAction, fn: (options: ConfigurationOptions) => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    const run = (): Promise<T> => {
      const controller = new AbortController();
      const request = runOnce(controller);
      if (!signal) return request;
      // The caller's signal (a deadline, a stop) ends the request too, its connection aborted.
      return new Promise<T>((resolve, reject) => {
        const onAbort = (): void => {
          controller.abort();
          reject(signal.reason as Error);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        request.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
      });
    };
    const runOnce = (controller: AbortController): Promise<T> => {
      const auth = this.auth;
      const options: ConfigurationOptions = {
        authMethods: {
          default: {
            getName: () => auth.getName(),
            applySecurityAuthentication: async (context: RequestContext) => {
              await auth.applySecurityAuthentication(context);
              context.setSignal(controller.signal);
            },
          },
        },
      };
      return withTimeout(fn(options), this.timeoutMs, () => {
        controller.abort();
        const at = this.server !== undefined ? ` (API server at ${this.server})` : '';
        return new CertpilotError('ERR_KUBERNETES_UNREACHABLE', `kubernetes: ${describe(a, this.namespace)}: no answer in ${this.timeoutMs / 1000} s${at}`, { retryable: true, hint: unreachableHint(this.server) });
      });
    };
    try {
      return await run().catch((e: unknown) => {
        // A kept-alive connection the server closed while idle fails the next request sent on it
        // (ECONNRESET) before the server read it: a read is sent again once, on a new connection.
        if ((a.verb === 'get' || a.verb === 'list') && networkCode(e) === 'ECONNRESET') return run();
        throw e;
      });
    } catch (e) {
      if (this.token !== undefined && statusOf(e)?.code === 401) {
        this.token.read(true);
        try {
          return await run();
        } catch (e2) {
          throw kubernetesError(e2, a, this.namespace, this.server);
        }
      }
      throw kubernetesError(e, a, this.namespace, this.server);
    }
  }

  /** The Secret, or undefined when it does not exist. */
  async getSecret(name: string, signal?: AbortSignal): Promise<V1Secret | undefined> {
    try {
      return await this.call({ verb: 'get', resource: 'secrets', name }, (o) => this.core.readNamespacedSecret({ name, namespace: this.namespace }, o), signal);
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
    return this.call({ verb: 'patch', resource: 'secrets', name }, (o) =>
      this.core.patchNamespacedSecret({ name, namespace: this.namespace, body: secret, fieldManager, force: true }, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply, o)),
    );
  }

  // --- Secrets as state (the kubernetes-secret state store): create, replace and delete with
  // preconditions, list by label. A 409 (AlreadyExists, or a stale resourceVersion) is
  // ERR_KUBERNETES_CONFLICT: the caller re-reads and retries.

  /** The Secrets matching a label selector. */
  async listSecrets(labelSelector: string): Promise<V1Secret[]> {
    const list = await this.call({ verb: 'list', resource: 'secrets' }, (o) => this.core.listNamespacedSecret({ namespace: this.namespace, labelSelector }, o));
    return list.items;
  }

  /** Creates a Secret; 409 when one of that name exists. */
  async createSecret(secret: V1Secret & { metadata: { name: string } }, fieldManager: string): Promise<V1Secret> {
    return this.call({ verb: 'create', resource: 'secrets', name: secret.metadata.name }, (o) => this.core.createNamespacedSecret({ namespace: this.namespace, body: secret, fieldManager }, o));
  }

  /** Replaces a Secret (PUT); its `metadata.resourceVersion` is the precondition (409 when stale). */
  async replaceSecret(secret: V1Secret & { metadata: { name: string; resourceVersion: string } }, fieldManager: string): Promise<V1Secret> {
    const name = secret.metadata.name;
    return this.call({ verb: 'update', resource: 'secrets', name }, (o) => this.core.replaceNamespacedSecret({ name, namespace: this.namespace, body: secret, fieldManager }, o));
  }

  /** Deletes a Secret if it is still at `resourceVersion` (409 when it changed); absent is not an error. */
  async deleteSecret(name: string, resourceVersion: string): Promise<void> {
    try {
      await this.call({ verb: 'delete', resource: 'secrets', name }, (o) => this.core.deleteNamespacedSecret({ name, namespace: this.namespace, body: { preconditions: { resourceVersion } } }, o));
    } catch (e) {
      if (e instanceof CertpilotError && e.code === 'ERR_KUBERNETES_NOT_FOUND') return;
      throw e;
    }
  }

  /** The Lease, or undefined when it does not exist. */
  async getLease(name: string): Promise<LeaseRecord | undefined> {
    try {
      return leaseRecord(await this.call({ verb: 'get', resource: 'leases', name, group: 'coordination.k8s.io' }, (o) => this.coordination.readNamespacedLease({ name, namespace: this.namespace }, o)));
    } catch (e) {
      if (e instanceof CertpilotError && e.code === 'ERR_KUBERNETES_NOT_FOUND') return undefined;
      throw e;
    }
  }

  /** Creates the Lease; an existing one is `ERR_KUBERNETES_CONFLICT` (409 AlreadyExists). */
  async createLease(lease: LeaseRecord): Promise<LeaseRecord> {
    return leaseRecord(await this.call({ verb: 'create', resource: 'leases', name: lease.name, group: 'coordination.k8s.io' }, (o) => this.coordination.createNamespacedLease({ namespace: this.namespace, body: v1Lease(lease) }, o)));
  }

  /** Replaces the Lease if its resourceVersion is still `lease.resourceVersion`; else `ERR_KUBERNETES_CONFLICT` (409). */
  async updateLease(lease: LeaseRecord & { resourceVersion: string }): Promise<LeaseRecord> {
    return leaseRecord(
      await this.call({ verb: 'update', resource: 'leases', name: lease.name, group: 'coordination.k8s.io' }, (o) =>
        this.coordination.replaceNamespacedLease({ name: lease.name, namespace: this.namespace, body: v1Lease(lease) }, o),
      ),
    );
  }

  /**
   * Asks the API server whether this client may do each of `questions` in its namespace
   * (SelfSubjectAccessReview, which every authenticated user may create).
   */
  async canI(questions: readonly AccessQuestion[]): Promise<AccessAnswer[]> {
    return Promise.all(
      questions.map(async (q) => {
        const [resource, subresource] = q.resource.split('/') as [string, string | undefined];
        const review = await this.call({ verb: 'create', resource: 'selfsubjectaccessreviews', group: 'authorization.k8s.io' }, (o) =>
          this.authorization.createSelfSubjectAccessReview({
            body: {
              apiVersion: 'authorization.k8s.io/v1',
              kind: 'SelfSubjectAccessReview',
              spec: { resourceAttributes: { namespace: this.namespace, verb: q.verb, group: q.group, resource, ...(subresource ? { subresource } : {}), ...(q.name !== undefined ? { name: q.name } : {}) } },
            },
          }, o),
        );
        return { allowed: review.status?.allowed === true, ...(review.status?.reason ? { reason: review.status.reason } : {}) };
      }),
    );
  }

  /**
   * After a 403 on an exec upgrade (whose response carries no Status body to name the verb), asks
   * the server which exec verbs are missing, so the error names the verb it denied. Undefined when
   * it cannot tell.
   */
  private async deniedExecVerbs(pod: string): Promise<string[] | undefined> {
    try {
      const answers = await this.canI(['get', 'create'].map((verb) => ({ verb, resource: 'pods/exec', group: '', name: pod })));
      const denied = ['get', 'create'].filter((_, i) => answers[i]?.allowed !== true);
      return denied.length > 0 ? denied : undefined;
    } catch {
      return undefined;
    }
  }

  /** The pods matching a label selector. */
  async listPods(labelSelector: string): Promise<V1Pod[]> {
    const list = await this.call({ verb: 'list', resource: 'pods' }, (o) => this.core.listNamespacedPod({ namespace: this.namespace, labelSelector }, o));
    return list.items;
  }

  /** Restarts a workload's pods the way `kubectl rollout restart` does (a pod-template annotation). */
  async restartWorkload(kind: WorkloadKind, name: string, at: Date): Promise<void> {
    const body = { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': at.toISOString() } } } } };
    const resource = kind === 'Deployment' ? 'deployments' : 'statefulsets';
    await this.call({ verb: 'patch', resource, name, group: 'apps' }, (o) => {
      const opts = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch, o);
      return kind === 'Deployment'
        ? this.apps.patchNamespacedDeployment({ name, namespace: this.namespace, body, fieldManager: 'certpilot' }, opts)
        : this.apps.patchNamespacedStatefulSet({ name, namespace: this.namespace, body, fieldManager: 'certpilot' }, opts);
    });
  }

  /** Runs `argv` in a pod's container (no stdin, no TTY) and returns its exit code and output. */
  async exec(pod: string, container: string | undefined, argv: readonly string[], options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ExecResult> {
    // client-node execs over WebSocket: the upgrade is an HTTP GET, authorized as `get` on
    // pods/exec (and from Kubernetes 1.35 also as `create`).
    const a: KubernetesAction = { verb: 'get', resource: 'pods/exec', name: pod };
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
      const error = kubernetesError(e, a, this.namespace, this.server);
      if (error.code !== 'ERR_KUBERNETES_FORBIDDEN') throw error;
      // The refused upgrade has no Status body: ask the server which verb it denied.
      const denied = await this.deniedExecVerbs(pod);
      if (denied === undefined) throw error;
      const verbs = denied.join(' and ');
      throw new CertpilotError('ERR_KUBERNETES_FORBIDDEN', `kubernetes: exec in pod ${pod} in namespace ${this.namespace}: forbidden: the service account may not ${verbs} pods/exec (an exec over WebSocket is a GET, authorized as \`get\`; Kubernetes 1.35+ also requires \`create\`)`, {
        cause: e,
        hint: `grant the service account { apiGroups: [""], resources: ["pods/exec"], verbs: [${denied.map((v) => `"${v}"`).join(', ')}] } in a Role (docs/kubernetes.md grants both \`get\` and \`create\`; \`certpilot kubernetes check\` lists every missing rule).`,
      });
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

/** A Date as a MicroTime on the wire (client-node's V1MicroTime writes six fractional digits). */
function microTime(d: Date | undefined): V1MicroTime | undefined {
  return d === undefined ? undefined : new V1MicroTime(d.getTime());
}

function v1Lease(l: LeaseRecord): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: l.name, ...(l.labels ? { labels: l.labels } : {}), ...(l.resourceVersion !== undefined ? { resourceVersion: l.resourceVersion } : {}) },
    spec: {
      ...(l.holderIdentity !== undefined ? { holderIdentity: l.holderIdentity } : {}),
      ...(l.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: l.leaseDurationSeconds } : {}),
      ...(l.acquireTime !== undefined ? { acquireTime: microTime(l.acquireTime) } : {}),
      ...(l.renewTime !== undefined ? { renewTime: microTime(l.renewTime) } : {}),
      ...(l.leaseTransitions !== undefined ? { leaseTransitions: l.leaseTransitions } : {}),
    },
  };
}

/** client-node hands MicroTime fields back as the wire's strings (it has no deserializer for them). */
function toDate(v: unknown): Date | undefined {
  if (v instanceof Date) return v;
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? new Date(t) : undefined;
}

function leaseRecord(l: V1Lease): LeaseRecord {
  return {
    name: l.metadata?.name ?? '',
    holderIdentity: l.spec?.holderIdentity,
    leaseDurationSeconds: l.spec?.leaseDurationSeconds,
    acquireTime: toDate(l.spec?.acquireTime),
    renewTime: toDate(l.spec?.renewTime),
    leaseTransitions: l.spec?.leaseTransitions,
    labels: l.metadata?.labels,
    resourceVersion: l.metadata?.resourceVersion,
  };
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

/**
 * The keep-alive agents of {@link pooledAuth}, by TLS options (CA, client certificate and key,
 * server name, verification): what a connection is, so clients with the same options may share
 * one (the credentials a request carries are its own headers, set per request).
 */
const POOLED_AGENTS = new Map<string, HttpsAgent>();

/**
 * The authentication of API clients whose requests share keep-alive connections. client-node 1.x's `makeApiClient`
 * authenticates each request with `KubeConfig.applySecurityAuthentication`, which builds a new
 * https.Agent every time, so each call paid a TCP and TLS handshake: a nothing-due run with state
 * in Secrets (four reads per certificate) spent most of its time there. This wraps that method
 * (the public `authMethods` of `createConfiguration`) and swaps its fresh agent for one kept per
 * set of TLS options; idle sockets do not hold the process open (Node unrefs them). A proxied
 * cluster keeps client-node's own agents. The agents are shared by every client of the process
 * ({@link POOLED_AGENTS}): a run with one kubernetes-secret deployer per certificate, each with
 * its own client, checks 20 Secrets over one connection instead of 20 handshakes.
 */
function pooledAuth(kc: KubeConfig): SecurityAuthentication {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new CertpilotError('ERR_KUBERNETES_CONFIG', 'kubernetes: the kubeconfig names no cluster');
  const agents = POOLED_AGENTS;
  return {
    getName: () => 'kubeconfig authentication (pooled connections)',
    applySecurityAuthentication: async (context: RequestContext) => {
      await kc.applySecurityAuthentication(context);
      const fresh = context.getAgent();
      if (!(fresh instanceof HttpsAgent) || cluster.proxyUrl) return;
      const o = fresh.options;
      // A digest: the key of a client certificate is not kept as a map key for the process's life.
      const key = createHash('sha256')
        .update(JSON.stringify([o.ca, o.cert, o.key, o.pfx, o.passphrase, o.servername, o.rejectUnauthorized].map((v) => (Buffer.isBuffer(v) ? v.toString('base64') : (v ?? null)))))
        .digest('hex');
      let agent = agents.get(key);
      if (!agent) {
        // Idle sockets are closed after 4 s, before a server's idle timeout (Node's default is 5 s).
        agent = new HttpsAgent({ ...o, keepAlive: true, timeout: 4_000 });
        agents.set(key, agent);
      }
      fresh.destroy();
      context.setAgent(agent);
    },
  };
}

/** An API client of `kc`'s cluster authenticated by `auth` ({@link pooledAuth}). */
function apiClient<T>(kc: KubeConfig, api: new (configuration: Configuration) => T, auth: SecurityAuthentication): T {
  const server = kc.getCurrentCluster()?.server ?? '';
  return new api(createConfiguration({ baseServer: new ServerConfiguration(server, {}), authMethods: { default: auth } }));
}
