/**
 * The Kubernetes stand-in (DESIGN.md §5: no real API server can run here): an HTTPS server on
 * loopback that speaks the real API for the calls certpilot makes, cross-checked by the real
 * `kubectl` (test/integration/kube-standin.test.ts) so it cannot drift into a dialect only our
 * client speaks.
 *
 * - Discovery (`/api`, `/api/v1`, `/apis`, `/apis/apps/v1`, `/version`) as kubectl reads it.
 * - Secrets: get, list, create, update, delete, and patch in the four patch types (merge, JSON,
 *   strategic merge, apply) with `metadata.managedFields` so server-side apply keeps what other
 *   managers own; `metadata.resourceVersion` preconditions answer 409; `type` is immutable and
 *   `kubernetes.io/tls` needs `tls.crt` and `tls.key` (422).
 * - Pods: get, list by label selector (equality and set-based); pods/exec over WebSocket with the
 *   `v5.channel.k8s.io` and `v4.channel.k8s.io` protocols: stdout on channel 1, stderr on 2, the
 *   exit Status on 3.
 * - Deployments and StatefulSets: get and patch; a change of the pod template's annotations
 *   (`kubectl rollout restart`) replaces the workload's pods one at a time.
 * - Authentication by bearer token (401) and RBAC by a set of (apiGroups, verb, resource,
 *   resourceName) rules (403 with the real Status body).
 *
 * Each behaviour below follows the cited Kubernetes documentation or KEP, and each is
 * cross-checked with the real `kubectl` in test/integration/kube-standin.test.ts:
 * - pods/exec authorization by HTTP method: a WebSocket upgrade is a GET, authorized as `get` on
 *   `pods/exec`; with `execRequiresCreate` (the default: Kubernetes 1.35's
 *   AuthorizePodWebsocketUpgradeCreatePermission gate, on by default) also as `create`; a POST (the
 *   SPDY protocol kubectl falls back to) as `create` (KEP-4006 "Transition from SPDY to
 *   WebSockets"; docs "Authorization: determine the request verb"). The stand-in speaks only the
 *   WebSocket protocols: an authorized SPDY upgrade gets 400.
 * - `create` cannot be limited by resourceNames: a rule with resourceNames never allows a create,
 *   even one whose name is in the URL (docs "Using RBAC authorization: referring to resources").
 * - Leases (`coordination.k8s.io/v1`, KEP-589): get, list, create (409 AlreadyExists), update
 *   (PUT; 409 Conflict on a stale `metadata.resourceVersion`, 404 when absent: Leases are not
 *   created on update), delete. `acquireTime` and `renewTime` are MicroTime and must carry six
 *   fractional digits (`2006-01-02T15:04:05.000000Z07:00`, apimachinery `metav1.MicroTime`), and
 *   `leaseDurationSeconds` must be positive (API reference "Lease v1").
 * - Optimistic concurrency: an update or a patch whose body carries a stale
 *   `metadata.resourceVersion` is 409 Conflict, for Secrets, Leases and workloads (API concepts
 *   "Resource versions", "Conflicts").
 * - Size: a Secret whose data exceeds 1 MiB (1048576 bytes) is 422 Invalid, "data: Too long"
 *   (docs "Secrets: restrictions"; `MaxSecretSize` in the core validation).
 * - Server-side apply keeps each manager's fields (`metadata.managedFields`) and reports conflicts
 *   with other managers unless forced (docs "Server-Side Apply").
 * - SelfSubjectAccessReview (`authorization.k8s.io/v1`, create only, allowed to every
 *   authenticated user by `system:basic-user`): answered from the stand-in's own rules, so
 *   `kubectl auth can-i` and `certpilot kubernetes check` see exactly what requests see (docs
 *   "Checking API access"). kubectl sends it as protobuf (`kube-protobuf.ts` reads that); any other
 *   protobuf body (kubectl's `create secret` generator) is refused with 415: use `create -f`.
 * - Secrets as state (the `kubernetes-secret` state store; the block marked "SECRETS AS STATE"):
 *   list by `labelSelector` (docs "Labels: list and watch filtering"); delete with
 *   `DeleteOptions.preconditions.resourceVersion` / `uid`: 409 Conflict "Precondition failed" when
 *   the object changed (API reference "DeleteOptions"); create of an existing name: 409
 *   AlreadyExists.
 *
 * - The objects `certpilot kubernetes manifests` writes (the block marked "APPLIED OBJECTS"):
 *   ServiceAccounts, ConfigMaps, PersistentVolumeClaims, Services, Roles, RoleBindings, CronJobs,
 *   Deployments, PodDisruptionBudgets, Ingresses and NetworkPolicies: get, list and server-side
 *   apply (which creates an absent object; docs "Server-Side Apply"). The body must name the
 *   URL's namespace and name (400 BadRequest, as the API server's "does not match the namespace
 *   sent on the request"); each object is validated against its Kubernetes OpenAPI schema
 *   (kubernetes-models: types, required fields, enums) and the rules of the API server's own
 *   validation that the schema does not carry, each 422 Invalid with its field: a DNS-1123
 *   `metadata.name`; ConfigMap keys (`[-._a-zA-Z0-9]+`) and its 1 MiB size; a Role rule with
 *   resources but no apiGroups (rbac validation: "resource rules must supply at least one api
 *   group") or no verbs; a RoleBinding's roleRef is immutable; a CronJob schedule of five fields
 *   (`spec.schedule: Invalid value`); a Deployment's selector must match its template's labels;
 *   a PodDisruptionBudget with both minAvailable and maxUnavailable. Not modelled, so not to be
 *   relied on: unknown-field rejection (fieldValidation=Strict); kubectl runs with
 *   `--validate=false` against it, and the generator's objects are typed at compile time.
 *
 * Its "pods" are real apache2 processes ({@link ApachePod}), each on its own loopback address,
 * each with a mounted-Secret directory the stand-in updates after a configurable projection delay,
 * as the kubelet would; `exec` runs the command locally in the pod's context (mount paths mapped
 * to the pod's directory, `apachectl graceful` to a graceful restart of the pod's apache).
 */
import { spawn } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TestContext } from 'node:test';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { parse as parseYaml } from 'yaml';
import { ApachePod, projectSecret } from './apache-pod.js';
import { decodeSelfSubjectAccessReview, isProtobufEnvelope } from './kube-protobuf.js';
import { PatchError, jsonPatch, mergePatch, recordUpdate, serverSideApply, strategicMergePatch, type Json, type JsonObject } from './kube-fields.js';
import { readTestPki } from './paths.js';
import { checkObject, InvalidObjectError } from './kube-validate.js';
import { freePort } from './ports.js';

/** One RBAC rule of the stand-in's Role (resource `pods/exec` for the subresource). */
export interface StandinRule {
  /** API groups (`""` core, `apps`, `coordination.k8s.io`); undefined matches the resource's own group. */
  apiGroups?: string[];
  verbs: string[];
  resources: string[];
  /** Restricts the rule to these object names (as a Role's `resourceNames`). */
  resourceNames?: string[];
}

/** Options of {@link startKubeStandin}. */
export interface KubeStandinOptions {
  /** The namespace served (default `default`). */
  namespace?: string;
  /** RBAC rules; undefined allows everything. */
  rules?: StandinRule[];
  /** Exec protocols the server accepts, in preference order (default v5 then v4). */
  execProtocols?: string[];
  /**
   * Kubernetes 1.35+ (default true): a WebSocket exec upgrade needs `create` on pods/exec besides
   * `get`. false models 1.30–1.34, where `get` alone authorizes it.
   */
  execRequiresCreate?: boolean;
  /** Milliseconds from a Secret change to its projection into a pod (default 0; Infinity: only by {@link KubeStandin.projectNow}). */
  projectionDelayMs?: (podName: string) => number;
  /** Record of the argv of every process the stand-in starts (exec, apache). */
  onSpawn?: (argv: string[]) => void;
}

/** Options of {@link KubeStandin.addPod}. */
export interface AddPodOptions {
  name: string;
  labels: Record<string, string>;
  /** The Secret mounted at {@link mountPath} (default: the only secret). */
  secretName: string;
  container?: string;
  /** Where the Secret volume is mounted in the container (default `/etc/ssl/certpilot`). */
  mountPath?: string;
  /** Mount `tls.crt` and `tls.key` by `subPath` (the kubelet never updates those). */
  subPath?: boolean;
  /** The owning workload (its ReplicaSet is implied for a Deployment). */
  owner?: { kind: 'Deployment' | 'StatefulSet'; name: string };
}

/** One exec the stand-in ran. */
export interface ExecRecord {
  pod: string;
  container: string;
  /** The command as the client sent it. */
  argv: string[];
  protocol: string;
  exitCode: number | undefined;
  /** When the command started (ms since the epoch). */
  at: number;
}

/** One projection of a Secret into a pod. */
export interface ProjectionRecord {
  pod: string;
  /** The Secret's resourceVersion projected. */
  resourceVersion: string;
  /** When the new files became visible (ms since the epoch). */
  at: number;
}

/** One API request, for assertions on what a client did. */
export interface RequestRecord {
  method: string;
  path: string;
  verb: string;
  resource: string;
  name?: string;
  contentType?: string;
  fieldManager?: string;
  status: number;
}

interface PodState {
  obj: JsonObject;
  apache: ApachePod;
  root: string;
  mountPath: string;
  mountDir: string;
  secretName: string;
  subPath: boolean;
  container: string;
  pending?: NodeJS.Timeout;
  /** resourceVersion of the Secret last projected. */
  projected: string;
}

type Status = { code: number; reason: string; message: string; details?: JsonObject };

class ApiError extends Error {
  constructor(readonly status: Status) {
    super(status.message);
  }
}

function statusBody(s: Status): JsonObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: s.message, reason: s.reason, ...(s.details ? { details: s.details } : {}), code: s.code };
}

const SERVICE_ACCOUNT = 'certpilot';
/** The largest Secret data the API server stores (1 MiB, the core validation's MaxSecretSize). */
export const MAX_SECRET_SIZE = 1024 * 1024;

/** APPLIED OBJECTS: `group/resource` → kind (the group `""` is core). */
const APPLIED_KINDS: Readonly<Record<string, string>> = {
  '/serviceaccounts': 'ServiceAccount',
  '/configmaps': 'ConfigMap',
  '/persistentvolumeclaims': 'PersistentVolumeClaim',
  '/services': 'Service',
  'rbac.authorization.k8s.io/roles': 'Role',
  'rbac.authorization.k8s.io/rolebindings': 'RoleBinding',
  'batch/cronjobs': 'CronJob',
  'apps/deployments': 'Deployment',
  'policy/poddisruptionbudgets': 'PodDisruptionBudget',
  'networking.k8s.io/ingresses': 'Ingress',
  'networking.k8s.io/networkpolicies': 'NetworkPolicy',
};

/** Discovery entries of the applied kinds of a group (apps' deployments are listed with the workloads). */
function appliedResources(group: string): Json[] {
  return Object.entries(APPLIED_KINDS)
    .filter(([k]) => k.startsWith(`${group}/`) && group !== 'apps')
    .map(([k, kind]) => ({ name: k.slice(group.length + 1), singularName: kind.toLowerCase(), namespaced: true, kind, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'] }));
}

/** Parses a label selector (equality- and set-based) into a predicate over labels. */
export function parseLabelSelector(selector: string): (labels: Record<string, string>) => boolean {
  const reqs: ((l: Record<string, string>) => boolean)[] = [];
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') parts.push(cur);
  for (const raw of parts) {
    const p = raw.trim();
    let m: RegExpMatchArray | null;
    if ((m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(p))) {
      const [, k, op, v] = m as unknown as [string, string, string, string];
      reqs.push(op === '!=' ? (l) => l[k] !== v : (l) => l[k] === v);
    } else if ((m = /^([\w./-]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(p))) {
      const [, k, op, list] = m as unknown as [string, string, string, string];
      const values = new Set(list.split(',').map((s) => s.trim()));
      reqs.push(op === 'in' ? (l) => l[k] !== undefined && values.has(l[k]) : (l) => l[k] === undefined || !values.has(l[k]));
    } else if ((m = /^!([\w./-]+)$/.exec(p))) {
      const k = m[1] as string;
      reqs.push((l) => l[k] === undefined);
    } else if ((m = /^([\w./-]+)$/.exec(p))) {
      const k = m[1] as string;
      reqs.push((l) => l[k] !== undefined);
    } else throw new ApiError({ code: 400, reason: 'BadRequest', message: `unable to parse requirement: ${p}` });
  }
  return (labels) => reqs.every((r) => r(labels));
}

function decodeData(secret: JsonObject | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const data = secret?.data;
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    for (const [k, v] of Object.entries(data)) if (typeof v === 'string') out[k] = Buffer.from(v, 'base64');
  }
  return out;
}

/** A running stand-in. */
export class KubeStandin {
  readonly namespace: string;
  /** Bearer tokens accepted now (rotate by replacing). */
  tokens: Set<string>;
  rules: StandinRule[] | undefined;
  execProtocols: string[];
  execRequiresCreate: boolean;
  projectionDelayMs: (podName: string) => number;
  readonly requests: RequestRecord[] = [];
  readonly execs: ExecRecord[] = [];
  /** Every projection of an updated Secret into a pod, in order. */
  readonly projections: ProjectionRecord[] = [];
  /** The argv of every process started by the stand-in (exec and apache). */
  readonly spawned: string[][] = [];
  private readonly secrets = new Map<string, JsonObject>();
  private readonly workloads = new Map<string, JsonObject>();
  /** APPLIED OBJECTS: `resource/namespace/name` → object. */
  private readonly applied = new Map<string, JsonObject>();
  private readonly leases = new Map<string, JsonObject>();
  private readonly pods = new Map<string, PodState>();
  private rv = 100;
  private readonly ipPrefix = `127.${randomInt(60, 250)}.${randomInt(1, 250)}.`;
  private nextIp = 10;
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => this.pickProtocol(protocols) });
  private readonly rollouts = new Set<Promise<void>>();
  private readonly inflight = new Set<Promise<unknown>>();
  /** TLS connections accepted so far (a client that reuses connections opens few). */
  tlsConnections = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly dir: string,
    readonly podPort: number,
    readonly caFile: string,
    options: KubeStandinOptions,
  ) {
    this.namespace = options.namespace ?? 'default';
    this.tokens = new Set(['certpilot-test-token']);
    this.rules = options.rules;
    this.execProtocols = options.execProtocols ?? ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
    this.execRequiresCreate = options.execRequiresCreate ?? true;
    this.projectionDelayMs = options.projectionDelayMs ?? (() => 0);
    const onSpawn = options.onSpawn;
    this.recordSpawn = (argv) => {
      this.spawned.push(argv);
      onSpawn?.(argv);
    };
  }

  private readonly recordSpawn: (argv: string[]) => void;

  /** Starts a stand-in on 127.0.0.1 with the test PKI's certificate. */
  static async start(options: KubeStandinOptions = {}): Promise<KubeStandin> {
    const pki = readTestPki();
    const dir = await mkdtemp(join(tmpdir(), 'certpilot-kube-'));
    const port = await freePort();
    const podPort = await freePort();
    const server = createServer({ cert: pki.certPem, key: pki.keyPem });
    const standin = new KubeStandin(server, `https://127.0.0.1:${port}`, dir, podPort, pki.caFile, options);
    server.on('request', (req, res) => {
      standin.handle(req, res).catch((e: unknown) => standin.send(res, req, { verb: '?', resource: '?' }, 500, statusBody({ code: 500, reason: 'InternalError', message: String(e) })));
    });
    server.on('secureConnection', () => standin.tlsConnections++);
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      standin.upgrade(req, socket, head).catch(() => socket.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return standin;
  }

  /** Writes a kubeconfig for the stand-in (context `standin`) and returns its path. */
  async writeKubeconfig(token = [...this.tokens][0] ?? ''): Promise<string> {
    const file = join(this.dir, 'kubeconfig');
    await writeFile(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: standin',
        '  cluster:',
        `    server: ${this.url}`,
        `    certificate-authority: ${this.caFile}`,
        'users:',
        '- name: certpilot',
        '  user:',
        `    token: ${token}`,
        'contexts:',
        '- name: standin',
        '  context:',
        '    cluster: standin',
        '    user: certpilot',
        `    namespace: ${this.namespace}`,
        'current-context: standin',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    return file;
  }

  /** Writes a service-account directory (`token`, `ca.crt`, `namespace`) as a pod would see it. */
  async writeServiceAccountDir(token = [...this.tokens][0] ?? ''): Promise<string> {
    const dir = join(this.dir, 'serviceaccount');
    mkdirSync(dir, { recursive: true });
    await writeFile(join(dir, 'token'), token, { mode: 0o600 });
    copyFileSync(this.caFile, join(dir, 'ca.crt'));
    await writeFile(join(dir, 'namespace'), this.namespace);
    return dir;
  }

  // --- direct state access for tests ----------------------------------------------------------

  /** The Secret as stored (undefined when absent). */
  secret(name: string): JsonObject | undefined {
    const s = this.secrets.get(name);
    return s ? structuredClone(s) : undefined;
  }

  /** The decoded data of a Secret. */
  secretData(name: string): Record<string, string> {
    return Object.fromEntries(Object.entries(decodeData(this.secrets.get(name))).map(([k, v]) => [k, v.toString('utf8')]));
  }

  /**
   * Test hook run before the stand-in handles each write of a Secret (create, update, patch,
   * delete): a test makes another writer's change here, so the write meets a real 409.
   */
  beforeSecretWrite: ((verb: string, name: string, body: string) => void | Promise<void>) | undefined;

  /** Another writer's change: merges `annotations` and `data` into the Secret (a new resourceVersion), or creates it with `labels`. */
  touchSecret(name: string, change: { annotations?: Record<string, string>; labels?: Record<string, string>; data?: Record<string, string> }, manager = 'other-writer'): void {
    const live = this.secrets.get(name);
    const next = structuredClone(live ?? { apiVersion: 'v1', kind: 'Secret', metadata: { name }, type: 'Opaque', data: {} }) as JsonObject;
    const md = next.metadata as JsonObject;
    md.annotations = { ...((md.annotations ?? {}) as Record<string, string>), ...(change.annotations ?? {}) };
    md.labels = { ...((md.labels ?? {}) as Record<string, string>), ...(change.labels ?? {}) };
    next.data = { ...((next.data ?? {}) as Record<string, string>), ...Object.fromEntries(Object.entries(change.data ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) };
    delete md.resourceVersion;
    this.writeSecret(name, live, next, manager);
  }

  /** Stores a Secret as another manager (`kubectl-create` by default) would create it. */
  putSecret(name: string, data: Record<string, string>, extra: { type?: string; labels?: Record<string, string>; manager?: string } = {}): void {
    const obj: JsonObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, ...(extra.labels ? { labels: extra.labels } : {}) },
      type: extra.type ?? 'Opaque',
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    };
    this.writeSecret(name, undefined, obj, extra.manager ?? 'kubectl-create');
  }

  /** Adds a Deployment or StatefulSet whose pods carry `labels`. */
  putWorkload(kind: 'Deployment' | 'StatefulSet', name: string, labels: Record<string, string>): void {
    const obj: JsonObject = {
      apiVersion: 'apps/v1',
      kind,
      metadata: { name, namespace: this.namespace, uid: randomUUID(), resourceVersion: this.bump(), generation: 1 },
      spec: { replicas: 0, selector: { matchLabels: labels }, template: { metadata: { labels, annotations: {} }, spec: { containers: [] } } },
      status: { observedGeneration: 1 },
    };
    this.workloads.set(`${kind}/${name}`, obj);
  }

  /** The pods now, by name. */
  podNames(): string[] {
    return [...this.pods.keys()];
  }

  /** A pod's address (`ip`, `port`). */
  podAddress(name: string): { ip: string; port: number } {
    const pod = this.mustPod(name);
    return { ip: (pod.obj.status as JsonObject).podIP as string, port: this.podPort };
  }

  /** The pod's apache (break its config, restart it). */
  podApache(name: string): ApachePod {
    return this.mustPod(name).apache;
  }

  /** The resourceVersion of the Secret last projected into a pod. */
  projectedVersion(name: string): string {
    return this.mustPod(name).projected;
  }

  private mustPod(name: string): PodState {
    const pod = this.pods.get(name);
    if (!pod) throw new Error(`harness: no pod ${name}`);
    return pod;
  }

  /** Creates a pod: its mounted Secret (projected now), its apache, serving HTTPS. */
  async addPod(o: AddPodOptions): Promise<string> {
    const secret = this.secrets.get(o.secretName);
    const container = o.container ?? 'apache';
    const mountPath = o.mountPath ?? '/etc/ssl/certpilot';
    const root = join(this.dir, 'pods', o.name);
    const mountDir = join(root, 'mounts', 'secret');
    mkdirSync(mountDir, { recursive: true, mode: 0o700 });
    const data = decodeData(secret);
    if (o.subPath) {
      // subPath: the files are bind-mounted once and never updated.
      for (const key of ['tls.crt', 'tls.key']) if (data[key]) await writeFile(join(mountDir, key), data[key]);
    } else await projectSecret(mountDir, data);
    const ip = `${this.ipPrefix}${this.nextIp++}`;
    const ownerReferences: Json[] = o.owner
      ? [{ apiVersion: 'apps/v1', kind: o.owner.kind === 'Deployment' ? 'ReplicaSet' : 'StatefulSet', name: o.owner.kind === 'Deployment' ? `${o.owner.name}-5d4f8c9b7` : o.owner.name, uid: randomUUID(), controller: true }]
      : [];
    const volumeMounts: Json[] = o.subPath
      ? ['tls.crt', 'tls.key'].map((k) => ({ name: 'tls', mountPath: `${mountPath}/${k}`, subPath: k, readOnly: true }))
      : [{ name: 'tls', mountPath, readOnly: true }];
    const now = new Date().toISOString();
    const obj: JsonObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: o.name, namespace: this.namespace, uid: randomUUID(), resourceVersion: this.bump(), creationTimestamp: now, labels: o.labels, ...(ownerReferences.length ? { ownerReferences } : {}) },
      spec: { nodeName: 'standin-node', containers: [{ name: container, image: 'debian:bookworm-apache2', volumeMounts }], volumes: [{ name: 'tls', secret: { secretName: o.secretName } }] },
      status: {
        phase: 'Running',
        podIP: ip,
        podIPs: [{ ip }],
        hostIP: '127.0.0.1',
        startTime: now,
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: [{ name: container, ready: true, started: true, restartCount: 0, state: { running: { startedAt: now } }, image: 'debian:bookworm-apache2', imageID: '', containerID: `standin://${o.name}` }],
      },
    };
    const apache = new ApachePod({ root, ip, port: this.podPort, serverName: o.name, mountDir, onSpawn: this.recordSpawn });
    const state: PodState = { obj, apache, root, mountPath, mountDir, secretName: o.secretName, subPath: o.subPath === true, container, projected: String((secret?.metadata as JsonObject | undefined)?.resourceVersion ?? '') };
    this.pods.set(o.name, state);
    await apache.start();
    return o.name;
  }

  /** Deletes a pod (stops its apache). */
  async deletePod(name: string): Promise<void> {
    const pod = this.pods.get(name);
    if (!pod) return;
    this.pods.delete(name);
    if (pod.pending) clearTimeout(pod.pending);
    await pod.apache.stop();
  }

  /** Stops every pod and the server; removes the stand-in's directory. */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.rollouts]);
    await Promise.all([...this.pods.keys()].map((n) => this.deletePod(n)));
    await Promise.allSettled([...this.inflight]);
    for (const c of this.wss.clients) c.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.dir, { recursive: true, force: true });
  }

  // --- HTTP ---------------------------------------------------------------------------------------

  private bump(): string {
    return String(++this.rv);
  }

  private send(res: ServerResponse, req: IncomingMessage, what: { verb: string; resource: string; name?: string }, code: number, body: Json): void {
    const url = new URL(req.url ?? '/', 'https://x');
    this.requests.push({
      method: req.method ?? '',
      path: url.pathname,
      verb: what.verb,
      resource: what.resource,
      ...(what.name ? { name: what.name } : {}),
      ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
      ...(url.searchParams.get('fieldManager') ? { fieldManager: url.searchParams.get('fieldManager') as string } : {}),
      status: code,
    });
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Audit-Id': randomUUID() });
    res.end(text);
  }

  private authenticate(req: IncomingMessage): void {
    const auth = req.headers.authorization ?? '';
    const m = /^Bearer (.+)$/.exec(auth);
    if (!m || !this.tokens.has((m[1] as string).trim())) throw new ApiError({ code: 401, reason: 'Unauthorized', message: 'Unauthorized' });
  }

  /** The API group of a resource the stand-in serves. */
  private static groupOf(resource: string): string {
    if (resource === 'deployments' || resource === 'statefulsets') return 'apps';
    if (resource === 'leases') return 'coordination.k8s.io';
    if (resource === 'selfsubjectaccessreviews') return 'authorization.k8s.io';
    return '';
  }

  /**
   * Whether the rules allow `verb` on `resource` (`pods/exec` for a subresource) in `namespace`,
   * on the object `name` (undefined: on every object). A rule with resourceNames never allows
   * `create` (nor `list`, which has no name), as RBAC does.
   */
  allows(verb: string, resource: string, namespace: string, name?: string, group = KubeStandin.groupOf(resource)): boolean {
    if (namespace !== this.namespace) return false;
    if (this.rules === undefined) return true;
    return this.rules.some(
      (r) =>
        r.verbs.includes(verb) &&
        r.resources.includes(resource) &&
        (r.apiGroups === undefined ? group === KubeStandin.groupOf(resource) : r.apiGroups.includes(group)) &&
        (r.resourceNames === undefined || (verb !== 'create' && name !== undefined && r.resourceNames.includes(name))),
    );
  }

  private authorize(verb: string, resource: string, namespace: string, name?: string): void {
    const group = KubeStandin.groupOf(resource);
    if (this.allows(verb, resource, namespace, name, group)) return;
    const [base, sub] = resource.split('/') as [string, string | undefined];
    const user = `system:serviceaccount:${this.namespace}:${SERVICE_ACCOUNT}`;
    const subject = name !== undefined ? `${base}${group ? `.${group}` : ''} "${name}"` : `${base}${group ? `.${group}` : ''}`;
    throw new ApiError({
      code: 403,
      reason: 'Forbidden',
      message: `${subject} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${group}" in the namespace "${namespace}"`,
      details: { ...(name !== undefined ? { name } : {}), ...(group ? { group } : {}), kind: sub ? base : resource },
    });
  }

  /** The verbs an exec request is authorized as: by its HTTP method (see the header). */
  private execVerbs(method: string): string[] {
    if (method === 'GET') return this.execRequiresCreate ? ['get', 'create'] : ['get'];
    return ['create'];
  }

  private async readRaw(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /**
   * The request body as text. A protobuf body (kubectl's typed clients, e.g. `create secret`) is
   * 415: the stand-in reads protobuf only for SelfSubjectAccessReview; use `kubectl create -f`.
   */
  private async readBody(req: IncomingMessage): Promise<string> {
    const raw = await this.readRaw(req);
    if (isProtobufEnvelope(raw) || (req.headers['content-type'] ?? '').startsWith('application/vnd.kubernetes.protobuf')) {
      throw new ApiError({ code: 415, reason: 'UnsupportedMediaType', message: 'the stand-in reads protobuf bodies only for SelfSubjectAccessReview; send JSON (kubectl create -f FILE)' });
    }
    return raw.toString('utf8');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://x');
    const path = url.pathname.replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    const what: { verb: string; resource: string; name?: string } = { verb: method.toLowerCase(), resource: '' };
    try {
      const disc = this.discovery(path);
      if (disc !== undefined) {
        this.authenticate(req);
        this.send(res, req, { verb: 'get', resource: 'discovery' }, 200, disc);
        return;
      }
      this.authenticate(req);
      let m: RegExpExecArray | null;
      if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/(secrets|pods)(?:\/([^/]+))?(?:\/(exec))?$/.exec(path))) {
        const [, ns, resource, name, sub] = m as unknown as [string, string, string, string | undefined, string | undefined];
        what.resource = sub ? `${resource}/${sub}` : resource;
        if (name !== undefined) what.name = name;
        if (sub === 'exec') {
          for (const verb of this.execVerbs(method)) {
            what.verb = verb;
            this.authorize(verb, 'pods/exec', ns, name);
          }
          throw new ApiError({ code: 400, reason: 'BadRequest', message: 'Upgrade request required' });
        }
        const verb = method === 'GET' ? (name ? 'get' : 'list') : method === 'POST' ? 'create' : method === 'PUT' ? 'update' : method === 'PATCH' ? 'patch' : method === 'DELETE' ? 'delete' : 'unknown';
        what.verb = verb;
        this.authorize(verb, resource, ns, name);
        // A DELETE may carry DeleteOptions (preconditions) in its body.
        const body = method === 'GET' ? '' : await this.readBody(req);
        if (resource === 'pods') {
          if (verb === 'get' && name) {
            const pod = this.pods.get(name);
            if (!pod) throw new ApiError({ code: 404, reason: 'NotFound', message: `pods "${name}" not found`, details: { name, kind: 'pods' } });
            this.send(res, req, what, 200, pod.obj);
            return;
          }
          if (verb === 'list') {
            const match = parseLabelSelector(url.searchParams.get('labelSelector') ?? '');
            const items = [...this.pods.values()].filter((p) => match(((p.obj.metadata as JsonObject).labels ?? {}) as Record<string, string>)).map((p) => p.obj);
            this.send(res, req, what, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items });
            return;
          }
          throw new ApiError({ code: 405, reason: 'MethodNotAllowed', message: `the stand-in does not ${verb} pods` });
        }
        if (verb !== 'get' && verb !== 'list') await this.beforeSecretWrite?.(verb, name ?? String(((this.parseBodyOrEmpty(body).metadata ?? {}) as JsonObject).name ?? ''), body);
        const out = this.secretRequest(verb, name, body, req.headers['content-type'] ?? '', url.searchParams);
        this.send(res, req, what, out.code, out.body);
        return;
      }
      if ((m = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/.exec(path))) {
        const [, ns, name] = m as unknown as [string, string, string | undefined];
        what.resource = 'leases';
        if (name !== undefined) what.name = name;
        const verb = method === 'GET' ? (name ? 'get' : 'list') : method === 'POST' ? 'create' : method === 'PUT' ? 'update' : method === 'DELETE' ? 'delete' : method === 'PATCH' ? 'patch' : 'unknown';
        what.verb = verb;
        this.authorize(verb, 'leases', ns, verb === 'create' ? undefined : name);
        const body = method === 'GET' || method === 'DELETE' ? '' : await this.readBody(req);
        const out = this.leaseRequest(verb, name, body);
        this.send(res, req, what, out.code, out.body);
        return;
      }
      if (path === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews') {
        what.resource = 'selfsubjectaccessreviews';
        what.verb = method === 'POST' ? 'create' : 'unknown';
        if (method !== 'POST') throw new ApiError({ code: 405, reason: 'MethodNotAllowed', message: 'the server does not allow this method on the requested resource' });
        // system:basic-user lets every authenticated user create it: no rule needed. kubectl's typed
        // client sends it as protobuf (and accepts JSON back).
        const raw = await this.readRaw(req);
        const review = (isProtobufEnvelope(raw) ? decodeSelfSubjectAccessReview(raw) : this.parseBody(raw.toString('utf8'), 'application/json')) as JsonObject;
        this.send(res, req, what, 201, this.accessReview(review));
        return;
      }
      // APPLIED OBJECTS (see the header): the kinds the manifests generator writes.
      if ((m = /^\/(?:api\/v1|apis\/(rbac\.authorization\.k8s\.io|batch|policy|networking\.k8s\.io|apps)\/v1)\/namespaces\/([^/]+)\/([a-z]+)(?:\/([^/]+))?$/.exec(path)) && APPLIED_KINDS[`${m[1] ?? ''}/${m[3] ?? ''}`] && !(m[1] === 'apps' && m[4] !== undefined && this.workloads.has(`Deployment/${m[4]}`))) {
        const [, group = '', ns, resource, name] = m as unknown as [string, string | undefined, string, string, string | undefined];
        what.resource = resource;
        if (name !== undefined) what.name = name;
        const verb = method === 'GET' ? (name ? 'get' : 'list') : method === 'PATCH' ? 'patch' : 'unknown';
        what.verb = verb;
        this.authorize(verb, resource, ns, name);
        const key = (n: string): string => `${group}/${resource}/${ns}/${n}`;
        const kind = APPLIED_KINDS[`${group}/${resource}`] as string;
        if (verb === 'list') {
          const items = [...this.applied.entries()].filter(([k]) => k.startsWith(`${group}/${resource}/${ns}/`)).map(([, v]) => v);
          this.send(res, req, what, 200, { kind: `${kind}List`, apiVersion: group ? `${group}/v1` : 'v1', metadata: { resourceVersion: String(this.rv) }, items });
          return;
        }
        const live = name !== undefined ? this.applied.get(key(name)) : undefined;
        if (verb === 'get') {
          if (!live) throw new ApiError({ code: 404, reason: 'NotFound', message: `${resource}${group ? `.${group}` : ''} "${name}" not found`, details: { name: name ?? '', group, kind: resource } });
          this.send(res, req, what, 200, live);
          return;
        }
        if (verb !== 'patch' || name === undefined) throw new ApiError({ code: 405, reason: 'MethodNotAllowed', message: `the stand-in only applies ${resource} (server-side apply)` });
        const contentType = req.headers['content-type'] ?? '';
        const body = await this.readBody(req);
        const next = this.applyPatch(live, body, contentType, url.searchParams, name, resource);
        const md = (next.metadata ?? {}) as JsonObject;
        if (md.namespace !== undefined && md.namespace !== ns) throw new ApiError({ code: 400, reason: 'BadRequest', message: 'the namespace of the provided object does not match the namespace sent on the request' });
        if (md.name !== undefined && md.name !== name) throw new ApiError({ code: 400, reason: 'BadRequest', message: 'the name of the object (' + String(md.name) + ') does not match the name on the URL (' + name + ')' });
        if (next.kind !== kind) throw new ApiError({ code: 400, reason: 'BadRequest', message: `the kind ${String(next.kind)} does not match ${resource}` });
        md.name = name;
        md.namespace = ns;
        try {
          checkObject(next, live);
        } catch (e) {
          if (!(e instanceof InvalidObjectError)) throw e;
          throw new ApiError({ code: 422, reason: 'Invalid', message: e.message, details: { name, group, kind, causes: e.causes.map((c) => ({ reason: 'FieldValueInvalid', message: c.message, field: c.field })) as unknown as Json } });
        }
        md.uid = (live?.metadata as JsonObject | undefined)?.uid ?? randomUUID();
        md.creationTimestamp = (live?.metadata as JsonObject | undefined)?.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
        md.resourceVersion = this.bump();
        next.metadata = md;
        this.applied.set(key(name), next);
        this.send(res, req, what, live ? 200 : 201, next);
        return;
      }
      if ((m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(deployments|statefulsets)\/([^/]+)$/.exec(path))) {
        const [, ns, resource, name] = m as unknown as [string, string, string, string];
        what.resource = resource;
        what.name = name;
        const verb = method === 'GET' ? 'get' : method === 'PATCH' ? 'patch' : 'unknown';
        what.verb = verb;
        this.authorize(verb, resource, ns, name);
        const kind = resource === 'deployments' ? 'Deployment' : 'StatefulSet';
        const key = `${kind}/${name}`;
        const live = this.workloads.get(key);
        if (!live) throw new ApiError({ code: 404, reason: 'NotFound', message: `${resource}.apps "${name}" not found`, details: { name, group: 'apps', kind: resource } });
        if (verb === 'get') {
          this.send(res, req, what, 200, live);
          return;
        }
        const body = await this.readBody(req);
        const next = this.applyPatch(live, body, req.headers['content-type'] ?? '', url.searchParams, name, resource);
        this.checkResourceVersion(resource, name, live, next);
        const before = JSON.stringify(((live.spec as JsonObject).template as JsonObject).metadata);
        const after = JSON.stringify(((next.spec as JsonObject).template as JsonObject).metadata);
        const md = next.metadata as JsonObject;
        md.resourceVersion = this.bump();
        if (before !== after) {
          md.generation = Number(md.generation ?? 1) + 1;
          this.startRollout(kind, name, next);
        }
        this.workloads.set(key, next);
        this.send(res, req, what, 200, next);
        return;
      }
      throw new ApiError({ code: 404, reason: 'NotFound', message: 'the server could not find the requested resource' });
    } catch (e) {
      if (e instanceof ApiError) this.send(res, req, what, e.status.code, statusBody(e.status));
      else if (e instanceof PatchError) {
        this.send(res, req, what, e.code, statusBody({ code: e.code, reason: e.reason, message: e.message, ...(e.causes.length ? { details: { causes: e.causes as unknown as Json } } : {}) }));
      } else throw e;
    }
  }

  private discovery(path: string): Json | undefined {
    const verbs = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
    switch (path) {
      case '/version':
        return this.execRequiresCreate
          ? { major: '1', minor: '35', gitVersion: 'v1.35.0-certpilot-standin', platform: 'linux/amd64' }
          : { major: '1', minor: '32', gitVersion: 'v1.32.0-certpilot-standin', platform: 'linux/amd64' };
      case '/api':
        return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.url.replace('https://', '') }] };
      case '/apis':
        return {
          kind: 'APIGroupList',
          apiVersion: 'v1',
          groups: ['apps', 'coordination.k8s.io', 'authorization.k8s.io', 'rbac.authorization.k8s.io', 'batch', 'policy', 'networking.k8s.io'].map((g) => ({ name: g, versions: [{ groupVersion: `${g}/v1`, version: 'v1' }], preferredVersion: { groupVersion: `${g}/v1`, version: 'v1' } })),
        };
      case '/apis/coordination.k8s.io/v1':
        return {
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion: 'coordination.k8s.io/v1',
          resources: [{ name: 'leases', singularName: 'lease', namespaced: true, kind: 'Lease', verbs: ['create', 'delete', 'get', 'list', 'update'] }],
        };
      case '/apis/authorization.k8s.io/v1':
        return {
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion: 'authorization.k8s.io/v1',
          resources: [{ name: 'selfsubjectaccessreviews', singularName: 'selfsubjectaccessreview', namespaced: false, kind: 'SelfSubjectAccessReview', verbs: ['create'] }],
        };
      case '/api/v1':
        return {
          kind: 'APIResourceList',
          groupVersion: 'v1',
          resources: [
            { name: 'secrets', singularName: 'secret', namespaced: true, kind: 'Secret', verbs },
            { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs, shortNames: ['po'] },
            { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
            ...appliedResources(''),
          ],
        };
      case '/apis/apps/v1':
        return {
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion: 'apps/v1',
          resources: [
            { name: 'deployments', singularName: 'deployment', namespaced: true, kind: 'Deployment', verbs, shortNames: ['deploy'] },
            { name: 'statefulsets', singularName: 'statefulset', namespaced: true, kind: 'StatefulSet', verbs, shortNames: ['sts'] },
          ],
        };
      case '/apis/rbac.authorization.k8s.io/v1':
      case '/apis/batch/v1':
      case '/apis/policy/v1':
      case '/apis/networking.k8s.io/v1': {
        const group = path.split('/')[2] as string;
        return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${group}/v1`, resources: appliedResources(group) };
      }
      case '/apis/rbac.authorization.k8s.io':
      case '/apis/batch':
      case '/apis/policy':
      case '/apis/networking.k8s.io': {
        const group = path.split('/')[2] as string;
        return { kind: 'APIGroup', apiVersion: 'v1', name: group, versions: [{ groupVersion: `${group}/v1`, version: 'v1' }], preferredVersion: { groupVersion: `${group}/v1`, version: 'v1' } };
      }
      case '/apis/apps':
        return { kind: 'APIGroup', apiVersion: 'v1', name: 'apps', versions: [{ groupVersion: 'apps/v1', version: 'v1' }], preferredVersion: { groupVersion: 'apps/v1', version: 'v1' } };
      default:
        return undefined;
    }
  }

  private parseBodyOrEmpty(body: string): JsonObject {
    try {
      const parsed = JSON.parse(body) as Json;
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed : {};
    } catch {
      return {};
    }
  }

  private parseBody(body: string, contentType: string): Json {
    try {
      return (contentType.startsWith('application/apply-patch+yaml') ? parseYaml(body) : JSON.parse(body)) as Json;
    } catch (e) {
      throw new ApiError({ code: 400, reason: 'BadRequest', message: `error decoding patch: ${(e as Error).message}` });
    }
  }

  private applyPatch(live: JsonObject | undefined, body: string, contentType: string, params: URLSearchParams, name: string, resource: string): JsonObject {
    const type = contentType.split(';')[0]?.trim() ?? '';
    const patch = this.parseBody(body, type);
    const now = new Date().toISOString();
    const manager = params.get('fieldManager') ?? 'unknown';
    if (type === 'application/apply-patch+yaml') {
      if (!params.get('fieldManager')) throw new ApiError({ code: 422, reason: 'Invalid', message: 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch' });
      if (typeof patch !== 'object' || patch === null || Array.isArray(patch) || !patch.apiVersion || !patch.kind) {
        throw new ApiError({ code: 400, reason: 'BadRequest', message: 'apply patch must be an object with apiVersion and kind' });
      }
      const applied = this.normalizeStringData(patch);
      return serverSideApply(live, applied, manager, params.get('force') === 'true', now);
    }
    if (!live) throw new ApiError({ code: 404, reason: 'NotFound', message: `${resource} "${name}" not found`, details: { name, kind: resource } });
    let next: Json;
    if (type === 'application/merge-patch+json') next = mergePatch(live, patch);
    else if (type === 'application/json-patch+json') next = jsonPatch(live, patch);
    else if (type === 'application/strategic-merge-patch+json') next = strategicMergePatch(live, patch);
    else throw new ApiError({ code: 415, reason: 'UnsupportedMediaType', message: `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json` });
    const out = this.normalizeStringData(next as JsonObject);
    recordUpdate(live, out, manager, now);
    return out;
  }

  private normalizeStringData(obj: JsonObject): JsonObject {
    const out = structuredClone(obj);
    const sd = out.stringData;
    if (typeof sd === 'object' && sd !== null && !Array.isArray(sd)) {
      const data = (typeof out.data === 'object' && out.data !== null && !Array.isArray(out.data) ? out.data : {}) as JsonObject;
      for (const [k, v] of Object.entries(sd)) data[k] = Buffer.from(String(v)).toString('base64');
      out.data = data;
    }
    delete out.stringData;
    return out;
  }

  private secretRequest(verb: string, name: string | undefined, body: string, contentType: string, params: URLSearchParams): { code: number; body: Json } {
    const notFound = (n: string): ApiError => new ApiError({ code: 404, reason: 'NotFound', message: `secrets "${n}" not found`, details: { name: n, kind: 'secrets' } });
    // ---- SECRETS AS STATE (see the header): list by label, delete with preconditions --------------
    if (verb === 'list') {
      const match = parseLabelSelector(params.get('labelSelector') ?? '');
      const items = [...this.secrets.values()].filter((s) => match(((s.metadata as JsonObject).labels ?? {}) as Record<string, string>));
      return { code: 200, body: { kind: 'SecretList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items } };
    }
    if (verb === 'create') {
      const obj = this.normalizeStringData(this.parseBody(body, 'application/json') as JsonObject);
      const n = String((obj.metadata as JsonObject | undefined)?.name ?? '');
      if (this.secrets.has(n)) throw new ApiError({ code: 409, reason: 'AlreadyExists', message: `secrets "${n}" already exists`, details: { name: n, kind: 'secrets' } });
      recordUpdate(undefined, obj, params.get('fieldManager') ?? 'unknown', new Date().toISOString());
      return { code: 201, body: this.writeSecret(n, undefined, obj) };
    }
    if (name === undefined) throw new ApiError({ code: 405, reason: 'MethodNotAllowed', message: 'method not allowed' });
    const live = this.secrets.get(name);
    if (verb === 'get') {
      if (!live) throw notFound(name);
      return { code: 200, body: live };
    }
    if (verb === 'delete') {
      if (!live) throw notFound(name);
      const pre = (body.trim() === '' ? {} : (this.parseBody(body, 'application/json') as JsonObject)).preconditions as JsonObject | undefined;
      const liveMd = live.metadata as JsonObject;
      if (pre?.resourceVersion !== undefined && pre.resourceVersion !== null && pre.resourceVersion !== liveMd.resourceVersion) {
        throw new ApiError({ code: 409, reason: 'Conflict', message: `Operation cannot be fulfilled on secrets "${name}": Precondition failed: ResourceVersion in precondition: ${String(pre.resourceVersion)}, ResourceVersion in object meta: ${String(liveMd.resourceVersion)}`, details: { name, kind: 'secrets' } });
      }
      if (pre?.uid !== undefined && pre.uid !== null && pre.uid !== liveMd.uid) {
        throw new ApiError({ code: 409, reason: 'Conflict', message: `Operation cannot be fulfilled on secrets "${name}": Precondition failed: UID in precondition: ${String(pre.uid)}, UID in object meta: ${String(liveMd.uid)}`, details: { name, kind: 'secrets' } });
      }
      this.secrets.delete(name);
      return { code: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: 'secrets' } } };
    }
    if (verb === 'update') {
      if (!live) throw notFound(name);
      const obj = this.normalizeStringData(this.parseBody(body, 'application/json') as JsonObject);
      recordUpdate(live, obj, params.get('fieldManager') ?? 'unknown', new Date().toISOString());
      return { code: 200, body: this.writeSecret(name, live, obj) };
    }
    if (verb === 'patch') {
      const isApply = contentType.startsWith('application/apply-patch+yaml');
      if (!live && isApply) this.authorize('create', 'secrets', this.namespace, name);
      const next = this.applyPatch(live, body, contentType, params, name, 'secrets');
      return { code: live ? 200 : 201, body: this.writeSecret(name, live, next) };
    }
    throw new ApiError({ code: 405, reason: 'MethodNotAllowed', message: 'method not allowed' });
  }

  /** 409 when `next` carries a resourceVersion (a precondition) that is not the live object's. */
  private checkResourceVersion(resource: string, name: string, live: JsonObject | undefined, next: JsonObject): void {
    const want = (next.metadata as JsonObject | undefined)?.resourceVersion;
    const have = (live?.metadata as JsonObject | undefined)?.resourceVersion;
    if (want === undefined || want === null || want === '' || live === undefined || want === have) return;
    const group = KubeStandin.groupOf(resource);
    throw new ApiError({
      code: 409,
      reason: 'Conflict',
      message: `Operation cannot be fulfilled on ${resource}${group ? `.${group}` : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      details: { name, ...(group ? { group } : {}), kind: resource },
    });
  }

  /** A Lease as stored (undefined when absent). */
  lease(name: string): JsonObject | undefined {
    const l = this.leases.get(name);
    return l ? structuredClone(l) : undefined;
  }

  /** Writes a Lease directly, as another holder would (bumps its resourceVersion). */
  putLease(name: string, spec: JsonObject): JsonObject {
    const live = this.leases.get(name);
    const obj: JsonObject = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { ...((live?.metadata as JsonObject | undefined) ?? {}), name, resourceVersion: undefined as unknown as Json }, spec };
    return this.writeLease(name, live, obj);
  }

  private leaseRequest(verb: string, name: string | undefined, body: string): { code: number; body: Json } {
    const notFound = (n: string): ApiError => new ApiError({ code: 404, reason: 'NotFound', message: `leases.coordination.k8s.io "${n}" not found`, details: { name: n, group: 'coordination.k8s.io', kind: 'leases' } });
    if (verb === 'list') return { code: 200, body: { kind: 'LeaseList', apiVersion: 'coordination.k8s.io/v1', metadata: { resourceVersion: String(this.rv) }, items: [...this.leases.values()] } };
    if (verb === 'create') {
      const obj = this.parseBody(body, 'application/json') as JsonObject;
      const n = String((obj.metadata as JsonObject | undefined)?.name ?? '');
      if (this.leases.has(n)) throw new ApiError({ code: 409, reason: 'AlreadyExists', message: `leases.coordination.k8s.io "${n}" already exists`, details: { name: n, group: 'coordination.k8s.io', kind: 'leases' } });
      if ((obj.metadata as JsonObject | undefined)?.resourceVersion) throw new ApiError({ code: 422, reason: 'Invalid', message: `Lease.coordination.k8s.io "${n}" is invalid: metadata.resourceVersion: Invalid value: must be empty on create` });
      return { code: 201, body: this.writeLease(n, undefined, obj) };
    }
    if (name === undefined) throw new ApiError({ code: 405, reason: 'MethodNotAllowed', message: 'method not allowed' });
    const live = this.leases.get(name);
    if (verb === 'get') {
      if (!live) throw notFound(name);
      return { code: 200, body: live };
    }
    if (verb === 'delete') {
      if (!live) throw notFound(name);
      this.leases.delete(name);
      return { code: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: 'coordination.k8s.io', kind: 'leases' } } };
    }
    if (verb === 'update') {
      if (!live) throw notFound(name);
      const obj = this.parseBody(body, 'application/json') as JsonObject;
      this.checkResourceVersion('leases', name, live, obj);
      return { code: 200, body: this.writeLease(name, live, obj) };
    }
    throw new ApiError({ code: 405, reason: 'MethodNotAllowed', message: `the stand-in does not ${verb} leases` });
  }

  /** Validates and stores a Lease write (see the header for the rules). */
  private writeLease(name: string, live: JsonObject | undefined, next: JsonObject): JsonObject {
    const md = (next.metadata ?? (next.metadata = {})) as JsonObject;
    if (md.name !== undefined && md.name !== name) throw new ApiError({ code: 400, reason: 'BadRequest', message: `the name of the object (${String(md.name)}) does not match the name on the URL (${name})` });
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253) {
      throw new ApiError({ code: 422, reason: 'Invalid', message: `Lease.coordination.k8s.io "${name}" is invalid: metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'` });
    }
    const spec = (typeof next.spec === 'object' && next.spec !== null && !Array.isArray(next.spec) ? next.spec : {}) as JsonObject;
    for (const field of ['acquireTime', 'renewTime'] as const) {
      const v = spec[field];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/.test(v)) {
        throw new ApiError({
          code: 400,
          reason: 'BadRequest',
          message: `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00"`,
        });
      }
    }
    const duration = spec.leaseDurationSeconds;
    if (duration !== undefined && duration !== null && (typeof duration !== 'number' || !Number.isInteger(duration) || duration <= 0)) {
      throw new ApiError({ code: 422, reason: 'Invalid', message: `Lease.coordination.k8s.io "${name}" is invalid: spec.leaseDurationSeconds: Invalid value: ${JSON.stringify(duration)}: must be greater than 0`, details: { name, group: 'coordination.k8s.io', kind: 'Lease' } });
    }
    const transitions = spec.leaseTransitions;
    if (transitions !== undefined && transitions !== null && (typeof transitions !== 'number' || transitions < 0)) {
      throw new ApiError({ code: 422, reason: 'Invalid', message: `Lease.coordination.k8s.io "${name}" is invalid: spec.leaseTransitions: Invalid value: ${JSON.stringify(transitions)}: must be greater than or equal to 0` });
    }
    const liveMd = live?.metadata as JsonObject | undefined;
    next.apiVersion = 'coordination.k8s.io/v1';
    next.kind = 'Lease';
    next.spec = spec;
    md.name = name;
    md.namespace = this.namespace;
    md.uid = liveMd?.uid ?? randomUUID();
    md.creationTimestamp = liveMd?.creationTimestamp ?? new Date().toISOString();
    md.resourceVersion = this.bump();
    delete md.managedFields;
    this.leases.set(name, next);
    return next;
  }

  /** Answers a SelfSubjectAccessReview from the stand-in's rules (status.allowed, and a reason). */
  private accessReview(review: JsonObject): JsonObject {
    const attrs = ((review.spec as JsonObject | undefined)?.resourceAttributes ?? {}) as JsonObject;
    const resource = `${String(attrs.resource ?? '')}${attrs.subresource ? `/${String(attrs.subresource)}` : ''}`;
    const namespace = String(attrs.namespace ?? this.namespace);
    const name = typeof attrs.name === 'string' && attrs.name !== '' ? attrs.name : undefined;
    const allowed = this.allows(String(attrs.verb ?? ''), resource, namespace, name, String(attrs.group ?? ''));
    return {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      metadata: { creationTimestamp: null },
      spec: review.spec ?? {},
      status: allowed ? { allowed: true, reason: `RBAC: allowed by RoleBinding "certpilot/${this.namespace}" of Role "certpilot" to ServiceAccount "${SERVICE_ACCOUNT}/${this.namespace}"` } : { allowed: false },
    };
  }

  /** Validates and stores a Secret write; schedules its projection into the pods that mount it. */
  private writeSecret(name: string, live: JsonObject | undefined, next: JsonObject, manager?: string): JsonObject {
    const md = (next.metadata ?? (next.metadata = {})) as JsonObject;
    const liveMd = live?.metadata as JsonObject | undefined;
    this.checkResourceVersion('secrets', name, live, next);
    if (md.name !== undefined && md.name !== name) throw new ApiError({ code: 400, reason: 'BadRequest', message: `the name of the object (${String(md.name)}) does not match the name on the URL (${name})` });
    const type = String(next.type ?? live?.type ?? 'Opaque');
    if (live && live.type !== undefined && next.type !== undefined && live.type !== next.type) {
      throw new ApiError({ code: 422, reason: 'Invalid', message: `Secret "${name}" is invalid: type: Invalid value: "${String(next.type)}": field is immutable`, details: { name, kind: 'Secret', causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: field is immutable', field: 'type' }] } });
    }
    const data = (typeof next.data === 'object' && next.data !== null && !Array.isArray(next.data) ? next.data : {}) as JsonObject;
    if (type === 'kubernetes.io/tls') {
      const missing = ['tls.crt', 'tls.key'].filter((k) => typeof data[k] !== 'string');
      if (missing.length > 0) {
        throw new ApiError({ code: 422, reason: 'Invalid', message: `Secret "${name}" is invalid: ${missing.map((k) => `data[${k}]: Required value`).join(', ')}`, details: { name, kind: 'Secret' } });
      }
    }
    let size = 0;
    for (const [k, v] of Object.entries(data)) {
      if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new ApiError({ code: 400, reason: 'BadRequest', message: `Secret in version "v1" cannot be handled as a Secret: illegal base64 data in data[${k}]` });
      size += Buffer.from(v, 'base64').length;
    }
    if (size > MAX_SECRET_SIZE) {
      throw new ApiError({
        code: 422,
        reason: 'Invalid',
        message: `Secret "${name}" is invalid: data: Too long: must have at most ${MAX_SECRET_SIZE} bytes`,
        details: { name, kind: 'Secret', causes: [{ reason: 'FieldValueTooLong', message: `Too long: must have at most ${MAX_SECRET_SIZE} bytes`, field: 'data' }] },
      });
    }
    const unchanged = live !== undefined && JSON.stringify({ ...live, metadata: { ...liveMd, managedFields: null } }) === JSON.stringify({ ...next, metadata: { ...md, resourceVersion: liveMd?.resourceVersion, managedFields: null } });
    next.type = type;
    next.apiVersion = 'v1';
    next.kind = 'Secret';
    md.name = name;
    md.namespace = this.namespace;
    md.uid = liveMd?.uid ?? randomUUID();
    md.creationTimestamp = liveMd?.creationTimestamp ?? new Date().toISOString();
    // A no-op write keeps the resourceVersion, as the API server does.
    md.resourceVersion = unchanged ? (liveMd?.resourceVersion as string) : this.bump();
    if (manager !== undefined) recordUpdate(live, next, manager, new Date().toISOString());
    this.secrets.set(name, next);
    if (!unchanged) this.scheduleProjection(name);
    return next;
  }

  // --- kubelet ------------------------------------------------------------------------------------

  private scheduleProjection(secretName: string): void {
    for (const [podName, pod] of this.pods) {
      if (pod.secretName !== secretName || pod.subPath || pod.pending) continue;
      const delay = this.projectionDelayMs(podName);
      if (!Number.isFinite(delay)) continue;
      pod.pending = setTimeout(() => {
        pod.pending = undefined;
        if (this.pods.get(podName) !== pod) return;
        // A projection racing the stand-in's stop fails quietly; stop() waits for those in flight.
        const p = this.project(podName, pod).catch(() => undefined);
        this.inflight.add(p);
        void p.finally(() => this.inflight.delete(p));
      }, delay);
    }
  }

  /** Projects what the Secret holds now, as the kubelet does at its sync (not what it held at the change). */
  private async project(podName: string, pod: PodState): Promise<void> {
    const secret = this.secrets.get(pod.secretName);
    const rv = String((secret?.metadata as JsonObject | undefined)?.resourceVersion ?? '');
    if (rv === pod.projected) return;
    const at = await projectSecret(pod.mountDir, decodeData(secret));
    pod.projected = rv;
    this.projections.push({ pod: podName, resourceVersion: rv, at });
  }

  /** Projects the current Secret into these pods (default: every pod not mounting by subPath) now. */
  async projectNow(...podNames: string[]): Promise<void> {
    for (const [name, pod] of this.pods) {
      if (pod.subPath || (podNames.length > 0 && !podNames.includes(name))) continue;
      if (pod.pending) clearTimeout(pod.pending);
      pod.pending = undefined;
      await this.project(name, pod);
    }
  }

  private startRollout(kind: 'Deployment' | 'StatefulSet', name: string, workload: JsonObject): void {
    const labels = (((workload.spec as JsonObject).selector as JsonObject).matchLabels ?? {}) as Record<string, string>;
    const match = parseLabelSelector(Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(','));
    const olds = [...this.pods.entries()].filter(([, p]) => match(((p.obj.metadata as JsonObject).labels ?? {}) as Record<string, string>));
    const run = (async (): Promise<void> => {
      for (const [oldName, old] of olds) {
        // One at a time (maxSurge 1, maxUnavailable 0): the new pod serves before the old one goes.
        const newName = kind === 'StatefulSet' ? oldName : `${name}-${randomUUID().slice(0, 5)}`;
        if (kind === 'StatefulSet') await this.deletePod(oldName);
        await this.addPod({
          name: newName,
          labels: ((old.obj.metadata as JsonObject).labels ?? {}) as Record<string, string>,
          secretName: old.secretName,
          container: old.container,
          mountPath: old.mountPath,
          subPath: old.subPath,
          owner: { kind, name },
        });
        if (kind === 'Deployment') await this.deletePod(oldName);
      }
    })();
    this.rollouts.add(run);
    void run.finally(() => this.rollouts.delete(run));
  }

  /** Resolves when every rollout started by a restart has replaced its pods. */
  async rolloutsDone(): Promise<void> {
    await Promise.allSettled([...this.rollouts]);
  }

  // --- exec ---------------------------------------------------------------------------------------

  private pickProtocol(offered: Set<string>): string | false {
    for (const p of this.execProtocols) if (offered.has(p)) return p;
    return false;
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://x');
    const what = { verb: req.method === 'GET' ? 'get' : 'create', resource: 'pods/exec' } as { verb: string; resource: string; name?: string };
    const fail = (s: Status): void => {
      this.requests.push({ method: req.method ?? '', path: url.pathname, verb: what.verb, resource: what.resource, ...(what.name ? { name: what.name } : {}), status: s.code });
      const text = JSON.stringify(statusBody(s));
      socket.end(`HTTP/1.1 ${s.code} ${s.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
    };
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
    try {
      if (!m) throw new ApiError({ code: 404, reason: 'NotFound', message: 'the server could not find the requested resource' });
      const [, ns, podName] = m as unknown as [string, string, string];
      what.name = podName;
      this.authenticate(req);
      for (const verb of this.execVerbs(req.method ?? 'GET')) {
        what.verb = verb;
        this.authorize(verb, 'pods/exec', ns, podName);
      }
      what.verb = req.method === 'GET' ? 'get' : 'create';
      if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
        throw new ApiError({ code: 400, reason: 'BadRequest', message: `unable to upgrade: the stand-in speaks only the WebSocket exec protocols, not ${req.headers.upgrade ?? '(none)'}` });
      }
      const pod = this.pods.get(podName);
      if (!pod) throw new ApiError({ code: 404, reason: 'NotFound', message: `pods "${podName}" not found`, details: { name: podName, kind: 'pods' } });
      const container = url.searchParams.get('container') ?? pod.container;
      if (container !== pod.container) {
        throw new ApiError({ code: 400, reason: 'BadRequest', message: `container ${container} is not valid for pod ${podName}` });
      }
      const argv = url.searchParams.getAll('command');
      if (argv.length === 0) throw new ApiError({ code: 400, reason: 'BadRequest', message: 'you must specify at least 1 command' });
      const offered = new Set((req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim()).filter(Boolean));
      if (this.pickProtocol(offered) === false) {
        throw new ApiError({ code: 400, reason: 'BadRequest', message: `unable to upgrade: none of the offered subprotocols ${[...offered].join(', ')} is supported (${this.execProtocols.join(', ')})` });
      }
      this.requests.push({ method: req.method ?? '', path: url.pathname, verb: what.verb, resource: 'pods/exec', name: podName, status: 101 });
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        void this.runExec(ws, pod, podName, container, argv);
      });
    } catch (e) {
      if (e instanceof ApiError) fail(e.status);
      else throw e;
    }
  }

  /** Runs one exec in the pod's context and streams it over the channel protocol. */
  private async runExec(ws: WebSocket, pod: PodState, podName: string, container: string, argv: string[]): Promise<void> {
    const record: ExecRecord = { pod: podName, container, argv, protocol: ws.protocol, exitCode: undefined, at: Date.now() };
    this.execs.push(record);
    const frame = (channel: number, data: Buffer | string): void => {
      if (ws.readyState !== ws.OPEN) return;
      const payload = typeof data === 'string' ? Buffer.from(data) : data;
      ws.send(Buffer.concat([Buffer.from([channel]), payload]));
    };
    const commands = this.translate(pod, argv);
    let exitCode = 0;
    let failure: string | undefined;
    for (const cmd of commands) {
      // Output names paths as the container sees them.
      const unmap = (c: Buffer): Buffer => Buffer.from(c.toString('utf8').split(pod.mountDir).join(pod.mountPath));
      const result = await this.spawnIn(pod, cmd, (c) => frame(1, unmap(c)), (c) => frame(2, unmap(c)));
      if (result.notFound) {
        failure = `exec: "${cmd[0] ?? ''}": executable file not found in $PATH`;
        break;
      }
      exitCode = result.code;
      if (exitCode !== 0) break;
    }
    record.exitCode = failure ? undefined : exitCode;
    const status: JsonObject =
      failure !== undefined
        ? { metadata: {}, status: 'Failure', message: `OCI runtime exec failed: exec failed: unable to start container process: ${failure}: unknown`, reason: 'InternalError', code: 500 }
        : exitCode === 0
          ? { metadata: {}, status: 'Success' }
          : {
              metadata: {},
              status: 'Failure',
              message: `command terminated with non-zero exit code: error executing command [${argv.join(' ')}], exit code ${exitCode}`,
              reason: 'NonZeroExitCode',
              details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
            };
    frame(3, JSON.stringify(status));
    ws.close(1000);
  }

  /** Maps a container command to local commands in the pod's context. */
  private translate(pod: PodState, argv: string[]): string[][] {
    const cmd = basename(argv[0] ?? '');
    const reload =
      ((cmd === 'apachectl' || cmd === 'apache2ctl') && (argv[1] === 'graceful' || argv[1] === '-k' && argv[2] === 'graceful')) ||
      (cmd === 'service' && argv[1] === 'apache2' && (argv[2] === 'reload' || argv[2] === 'graceful'));
    if (reload) return pod.apache.gracefulArgv();
    return [argv.map((a) => a.split(pod.mountPath).join(pod.mountDir))];
  }

  private spawnIn(pod: PodState, argv: string[], out: (c: Buffer) => void, err: (c: Buffer) => void): Promise<{ code: number; notFound: boolean }> {
    this.recordSpawn(argv);
    return new Promise((resolve) => {
      const child = spawn(argv[0] as string, argv.slice(1), { cwd: pod.root, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
      child.stdout.on('data', out);
      child.stderr.on('data', err);
      child.once('error', (e: NodeJS.ErrnoException) => resolve({ code: 127, notFound: e.code === 'ENOENT' }));
      child.once('close', (code) => resolve({ code: code ?? 1, notFound: false }));
    });
  }
}

/** Starts a {@link KubeStandin}. */
export function startKubeStandin(options: KubeStandinOptions = {}): Promise<KubeStandin> {
  return KubeStandin.start(options);
}

/** A {@link KubeStandin} for one test, stopped after it, and a kubeconfig that reaches it. */
export async function standinFor(t: TestContext, options: KubeStandinOptions = {}): Promise<{ standin: KubeStandin; kubeconfig: string }> {
  const standin = await startKubeStandin(options);
  t.after(() => standin.stop());
  return { standin, kubeconfig: await standin.writeKubeconfig() };
}
