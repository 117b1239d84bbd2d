/**
 * `certpilot kubernetes manifests`: the Kubernetes objects that run certpilot in a cluster, built
 * from the configuration (DESIGN.md §1: the Role comes from the rules each configured plug-in
 * declares in its `plugin.ts`, through `plugins/platform-needs.ts`, never from a list here).
 *
 * Objects are typed with kubernetes-models' interfaces (type-only: nothing of it is bundled), so
 * a misspelt field fails the typecheck; the tests also validate each against the OpenAPI schemas.
 * Secrets are only ever referenced (volumes of Secrets the user creates), never written.
 */
import type { ICronJob, IJob } from 'kubernetes-models/batch/v1';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IIngress, INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IRole, IRoleBinding, IIoK8sApiRbacV1PolicyRule } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import type {
  IConfigMap,
  IIoK8sApiCoreV1Container,
  IIoK8sApiCoreV1PodSpec,
  IIoK8sApiCoreV1Volume,
  IIoK8sApiCoreV1VolumeMount,
  IPersistentVolumeClaim,
  IService,
  IServiceAccount,
} from 'kubernetes-models/v1';
import { CONFIG_SECTIONS } from '../../plugins/plugin-kinds.js';
import type { InstanceKubernetesNeeds } from '../../plugins/platform-needs.js';
import { scheduleFromSeed } from '../crontab.js';
import { CONFIG_DIR, CONFIG_FILE, SECRETS_DIR, STATE_DIR, type DeployedConfig, type StateMode } from './deployed-config.js';

/** `--mode`: a CronJob running `renew` (default), or a Deployment running `daemon` (issue 14). */
export type ManifestMode = 'cronjob' | 'daemon';

/** What the generator is asked for. */
export interface ManifestOptions {
  namespace: string;
  /** Name of every object (and label `app.kubernetes.io/instance`). */
  name: string;
  image: string;
  mode: ManifestMode;
  state: StateMode;
  /** Also the http-01 responder (`certpilot serve`) with its Service, PDB, Ingress. */
  serve: boolean;
  /** IRSA: the IAM role the ServiceAccount is annotated with (route53). */
  awsRoleArn?: string | undefined;
  /** The certificates' DNS names answered through the responder (the Ingress hosts). */
  http01Hosts: readonly string[];
  /** The configured kubernetes-reload pod groups: where the TLS check goes. */
  reloadTargets: readonly { namespace?: string | undefined; selector: string; port: number }[];
  /** The storage class and size of `--state pvc`. */
  pvcSize?: string;
}

/** Any of the typed objects emitted. */
export type KubernetesObject = IServiceAccount | IRole | IRoleBinding | IConfigMap | IPersistentVolumeClaim | ICronJob | IJob | IDeployment | IService | IPodDisruptionBudget | IIngress | INetworkPolicy;

/** One emitted object, with the comment printed above it and, for a Role, one comment per rule. */
export interface Manifest {
  object: KubernetesObject;
  comment: string;
  ruleComments?: string[];
  /** The file name in a kustomize directory. */
  file: string;
}

/** The generated set, and the lines for the user that do not belong in a manifest. */
export interface ManifestSet {
  manifests: Manifest[];
  /** What to do by hand: create the Secrets, the apache line, the daemon caveat. */
  notes: string[];
}

/** The standard labels of every object. */
function labels(name: string, component: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'certpilot', 'app.kubernetes.io/instance': name, 'app.kubernetes.io/component': component, 'app.kubernetes.io/managed-by': 'certpilot' };
}

/** The schedule, chosen once from a hash of namespace and name: environments do not call the CA at the same minute. */
export function scheduleFor(namespace: string, name: string): string {
  const s = scheduleFromSeed(`${namespace}/${name}`);
  return `${s.minute} ${s.hours.join(',')} * * *`;
}

/**
 * Why a rule is there, from what it grants (the rule itself comes from the plug-in's declaration).
 * `firstOnly`: the Secrets the rule's `create` is needed for only until they exist (none: needed always).
 */
function why(rule: IIoK8sApiRbacV1PolicyRule, firstOnly: readonly string[]): string {
  const r = rule.resources?.[0] ?? '';
  const verbs = rule.verbs.join(', ');
  const named = rule.resourceNames ? ` (only ${rule.resourceNames.join(', ')})` : '';
  if (r === 'secrets' && rule.verbs.includes('patch')) return `reads and server-side applies the certificate Secret${named}`;
  if (r === 'secrets' && !rule.resourceNames) {
    const list = rule.verbs.includes('list') ? 'list finds the state Secrets and returns every Secret\'s data in the namespace, ' : '';
    const limit = `${list ? 'neither can' : 'create cannot'} be limited by name`;
    if (firstOnly.length === 0) return `${verbs} Secrets: ${list}create makes new ones (${limit})`;
    return (
      `${verbs} Secrets: ${list}create makes Secret ${firstOnly.join(', ')} on the first deploy (${limit}; if you create the Secret yourself first, ` +
      'an overlay may drop this rule: `certpilot kubernetes check` asks for it only while the Secret is absent)'
    );
  }
  if (r === 'secrets') return `${verbs} Secrets${named}`;
  if (r === 'pods/exec') return 'runs the digest and reload commands in each pod: a WebSocket exec is authorized as get, and from Kubernetes 1.35 also as create';
  if (r === 'pods') return 'lists the pods of the configured selectors';
  if (r === 'leases' && rule.verbs.includes('create')) return 'creates a certificate\'s Lease the first time (create cannot be limited by name)';
  if (r === 'leases') return `holds, renews and releases the Lease of each certificate${named}`;
  if (r === 'deployments' || r === 'statefulsets') return `rollout restart of the workload${named}`;
  return `${verbs} ${r}${named}`;
}

/** The Role rules: every declared rule once (same groups, resources and names: verbs merged), with who needs it. */
export function roleRules(needs: readonly InstanceKubernetesNeeds[]): { rule: IIoK8sApiRbacV1PolicyRule; comment: string }[] {
  const out = new Map<string, { rule: IIoK8sApiRbacV1PolicyRule; instances: string[]; firstOnly: string[]; always: boolean }>();
  for (const n of needs) {
    for (const r of n.rules) {
      const key = JSON.stringify([r.apiGroups, r.resources, r.resourceNames ?? null]);
      const entry = out.get(key) ?? { rule: { apiGroups: [...r.apiGroups], resources: [...r.resources], ...(r.resourceNames ? { resourceNames: [...r.resourceNames] } : {}), verbs: [] }, instances: [], firstOnly: [], always: false };
      for (const v of r.verbs) if (!entry.rule.verbs.includes(v)) entry.rule.verbs.push(v);
      // Granted all the same: the manifests must work before the Secret exists.
      if (r.untilSecretExists === undefined) entry.always = true;
      else if (!entry.firstOnly.includes(r.untilSecretExists)) entry.firstOnly.push(r.untilSecretExists);
      const who = `${n.instance} (${n.type})`;
      if (!entry.instances.includes(who)) entry.instances.push(who);
      out.set(key, entry);
    }
  }
  return [...out.values()].map((e) => ({ rule: e.rule, comment: ` ${e.instances.join(', ')}: ${why(e.rule, e.always ? [] : e.firstOnly)}` }));
}

/** The field that sets an instance's namespace: `stateStore.namespace`, `deployers.<name>.namespace`. */
function namespaceField(instance: string): string {
  for (const [section, spec] of Object.entries(CONFIG_SECTIONS)) {
    if (instance === spec.noun) return `${section}.namespace`;
    if (instance.startsWith(`${spec.noun} `)) return `${section}.${instance.slice(spec.noun.length + 1)}.namespace`;
  }
  return `the namespace of ${instance}`;
}

/**
 * When one Role would let an instance read every Secret of a namespace (`list`, `watch`, or `get`
 * with no resourceNames: the kubernetes-secret state store's `list`) where other instances keep
 * the application's Secrets (a deployer's certificate Secret), the warning to print; else undefined.
 * A `list` of Secrets returns their data: a leaked certpilot token would read them all.
 */
function secretsExposed(namespace: string, group: readonly InstanceKubernetesNeeds[]): string | undefined {
  const readsAll = group.filter((n) => n.rules.some((r) => r.resources.includes('secrets') && r.resourceNames === undefined && r.verbs.some((v) => v === 'list' || v === 'watch' || v === 'get')));
  const named = group.filter((n) => !readsAll.includes(n)).flatMap((n) => n.rules.filter((r) => r.resources.includes('secrets')).flatMap((r) => (r.resourceNames ?? []).map((s) => ({ secret: s, instance: n.instance }))));
  if (readsAll.length === 0 || named.length === 0) return undefined;
  const secrets = [...new Set(named.map((x) => x.secret))];
  const readers = readsAll.map((n) => n.instance);
  return (
    `${readers.join(', ')} may list Secrets in namespace ${namespace}, and a list returns every Secret's data, ` +
    `including ${secrets.map((x) => `"${x}"`).join(', ')} (${[...new Set(named.map((x) => x.instance))].join(', ')}) and any other Secret there: ` +
    `give it a namespace of its own (set ${readsAll.map((n) => `\`${namespaceField(n.instance)}\``).join(', ')}, e.g. \`namespace: certpilot\`; create that namespace; generate again: its Role goes there).`
  );
}

/** The daemon's `--listen` port (`/metrics`, `/healthz`, the status page), the container port `metrics`. */
export const DAEMON_METRICS_PORT = 9464;
/** The daemon pod's terminationGracePeriodSeconds: SIGTERM aborts the run in flight (challenges cleaned up, Lease released). */
export const DAEMON_GRACE_SECONDS = 30;

/** Variables every certpilot container gets from the downward API: the configuration may read them (`${POD_NAME}`). */
export const POD_ENV: readonly (readonly [string, string])[] = [['POD_NAME', 'metadata.name'], ['POD_NAMESPACE', 'metadata.namespace']];

const RESTRICTED = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
} as const;

/** The pod spec of `renew` (CronJob), `daemon` and `serve`. */
function podSpec(o: ManifestOptions, config: DeployedConfig, args: string[], serviceAccount: boolean, extra: Partial<IIoK8sApiCoreV1Container> = {}): IIoK8sApiCoreV1PodSpec {
  const volumes: IIoK8sApiCoreV1Volume[] = [
    { name: 'config', configMap: { name: o.name } },
    { name: 'tmp', emptyDir: { sizeLimit: '16Mi' } },
  ];
  const mounts: IIoK8sApiCoreV1VolumeMount[] = [
    { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  for (const s of config.secrets) {
    if (!serviceAccount && ![...s.keys.values()].some((f) => config.redisSolvers.some((r) => f.startsWith(`solvers.${r}.`)))) continue; // the responder reads only Redis'
    volumes.push({ name: `secret-${s.name}`.slice(0, 63), secret: { secretName: s.name, defaultMode: 0o440 } });
    mounts.push({ name: `secret-${s.name}`.slice(0, 63), mountPath: `${SECRETS_DIR}/${s.name}`, readOnly: true });
  }
  if (serviceAccount) {
    // --state secret still needs a writable stateDir for scratch (the http-01 token journal, which
    // lets a later run remove tokens a killed one left): the root filesystem is read-only.
    volumes.push(o.state === 'pvc' ? { name: 'state', persistentVolumeClaim: { claimName: `${o.name}-state` } } : { name: 'state', emptyDir: { sizeLimit: '64Mi' } });
    mounts.push({ name: 'state', mountPath: STATE_DIR });
  }
  return {
    serviceAccountName: serviceAccount ? o.name : `${o.name}-serve`,
    automountServiceAccountToken: serviceAccount,
    securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      {
        name: 'certpilot',
        image: o.image,
        args,
        envFrom: [{ configMapRef: { name: `${o.name}-env` } }],
        // Per-pod values no ConfigMap can give (the Lease's `identity: ${POD_NAME}`): the downward API.
        env: POD_ENV.map(([envName, fieldPath]) => ({ name: envName, valueFrom: { fieldRef: { fieldPath } } })),
        volumeMounts: mounts,
        securityContext: { ...RESTRICTED, capabilities: { drop: ['ALL'] } },
        resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
        ...extra,
      },
    ],
    volumes,
  };
}

/** Builds every object for the configuration (`needs`: what the configured plug-ins declared). */
export function buildManifests(o: ManifestOptions, config: DeployedConfig, configFiles: Readonly<Record<string, string>>, needs: readonly InstanceKubernetesNeeds[]): ManifestSet {
  const manifests: Manifest[] = [];
  const notes: string[] = [];
  const meta = (name: string, component: string, namespace = o.namespace) => ({ name, namespace, labels: labels(o.name, component) });

  const sa: IServiceAccount = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { ...meta(o.name, 'renewer'), ...(o.awsRoleArn ? { annotations: { 'eks.amazonaws.com/role-arn': o.awsRoleArn } } : {}) },
  };
  manifests.push({ object: sa, file: 'serviceaccount.yaml', comment: ` The identity certpilot runs as; the Role below is bound to it.${o.awsRoleArn ? ' The annotation gives it the IAM role through IRSA (no AWS key in any manifest).' : ''}` });

  // One Role per namespace the plug-ins act in (a deployer may write a Secret in another namespace).
  const byNamespace = new Map<string, InstanceKubernetesNeeds[]>();
  for (const n of needs) {
    const ns = n.connection.namespace ?? o.namespace;
    byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), n]);
  }
  for (const [ns, group] of [...byNamespace.entries()].sort(([a], [b]) => (a === o.namespace ? -1 : b === o.namespace ? 1 : a.localeCompare(b)))) {
    const rules = roleRules(group);
    const suffix = ns === o.namespace ? '' : `-${ns}`;
    const role: IRole = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta(o.name, 'renewer', ns), rules: rules.map((r) => r.rule) };
    const exposed = secretsExposed(ns, group);
    if (exposed) notes.push(`warning: ${exposed}`);
    manifests.push({
      object: role,
      file: `role${suffix}.yaml`,
      comment: ` Exactly the rules the configured plug-ins declare (their plugin.ts), nothing else: \`certpilot kubernetes check\` asks the API server about the same list.${exposed ? ` WARNING: ${exposed}` : ''}`,
      ruleComments: rules.map((r) => r.comment),
    });
    const binding: IRoleBinding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(o.name, 'renewer', ns),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: o.name },
      subjects: [{ kind: 'ServiceAccount', name: o.name, namespace: o.namespace }],
    };
    manifests.push({ object: binding, file: `rolebinding${suffix}.yaml`, comment: ' Binds the Role to certpilot\'s ServiceAccount.' });
  }

  const cm: IConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(o.name, 'renewer'), data: { [CONFIG_FILE]: config.text, ...configFiles } };
  manifests.push({ object: cm, file: 'configmap.yaml', comment: ' The configuration, as the pods read it (state, locker and secret paths set for the cluster). No secret is in it: secrets are files of the Secrets listed in the notes.' });
  const env: IConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(`${o.name}-env`, 'renewer'),
    data: { CERTPILOT_CONFIG: `${CONFIG_DIR}/${CONFIG_FILE}`, CERTPILOT_LOG_FORMAT: 'json', HOME: '/tmp' },
  };
  manifests.push({ object: env, file: 'configmap-env.yaml', comment: ' The environment of every certpilot container (envFrom).' });

  if (o.state === 'pvc') {
    const pvc: IPersistentVolumeClaim = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: meta(`${o.name}-state`, 'renewer'),
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: o.pvcSize ?? '1Gi' } } },
    };
    manifests.push({ object: pvc, file: 'pvc.yaml', comment: ' The state directory (accounts, certificates, renewal state), the deck\'s way. `certpilot state copy` moves it to Secrets.' });
  }

  if (o.mode === 'cronjob') {
    const schedule = scheduleFor(o.namespace, o.name);
    const cron: ICronJob = {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: meta(o.name, 'renewer'),
      spec: {
        schedule,
        timeZone: 'Etc/UTC',
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: 3600,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          metadata: { labels: labels(o.name, 'renewer') },
          spec: {
            backoffLimit: 2,
            activeDeadlineSeconds: 3600,
            ttlSecondsAfterFinished: 86400,
            template: { metadata: { labels: labels(o.name, 'renewer') }, spec: { ...podSpec(o, config, ['renew'], true), restartPolicy: 'Never' } },
          },
        },
      },
    };
    manifests.push({ object: cron, file: 'cronjob.yaml', comment: ` \`certpilot renew\` twice a day at ${schedule} (UTC), a time chosen from a hash of namespace and name so environments do not call the CA at the same minute. Forbid: never two runs at once (the Lease also keeps two from renewing one certificate).` });
  } else {
    // Two replicas only with the Lease (one renewal per certificate across pods) and state every pod
    // shares (Secrets): with --state pvc the claim is ReadWriteOnce, which a second pod on another
    // node cannot mount, so one replica.
    const replicas = config.locker === 'lease' && o.state === 'secret' ? 2 : 1;
    const daemonSpec = podSpec(o, config, ['daemon', '--listen', `0.0.0.0:${DAEMON_METRICS_PORT}`], true, {
      ports: [{ name: 'metrics', containerPort: DAEMON_METRICS_PORT }],
      readinessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: 10 },
      livenessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, initialDelaySeconds: 10, periodSeconds: 20, failureThreshold: 3 },
    });
    const deployment: IDeployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(o.name, 'renewer'),
      spec: {
        replicas,
        // A rollout starts the new pod before stopping an old one: never zero daemons.
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        selector: { matchLabels: { 'app.kubernetes.io/instance': o.name, 'app.kubernetes.io/component': 'renewer' } },
        template: {
          metadata: { labels: labels(o.name, 'renewer') },
          spec: { ...daemonSpec, terminationGracePeriodSeconds: DAEMON_GRACE_SECONDS },
        },
      },
    };
    manifests.push({
      object: deployment,
      file: 'deployment.yaml',
      comment:
        ` \`certpilot daemon\`: renews each certificate at its time (inside its ARI window; see docs/daemon.md). ${replicas === 2 ? 'Two replicas are safe: every run takes the certificate\'s Lease, so exactly one replica renews it and the other logs it as locked; either keeps renewing while the other is rescheduled.' : 'One replica: the ReadWriteOnce claim of --state pvc is not shared across nodes (--state secret allows two, the Lease keeping one renewal per certificate).'}` +
        ' The rollout starts a new pod before stopping an old one (maxUnavailable 0); SIGTERM stops the work in flight and the daemon exits 0 well within the grace period, a finalized order left for the next pod to complete.' +
        ' /healthz on the metrics port answers the probes; /metrics is there for a ServiceMonitor or a scrape job you point at it (no prometheus.io annotations: they are a convention only some setups read, and scraping is yours to choose).',
    });
  }

  if (o.serve) {
    const [solver] = config.redisSolvers;
    const component = 'responder';
    const selector = { 'app.kubernetes.io/instance': o.name, 'app.kubernetes.io/component': component };
    const serveSa: IServiceAccount = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(`${o.name}-serve`, component), automountServiceAccountToken: false };
    manifests.push({ object: serveSa, file: 'serve-serviceaccount.yaml', comment: ' The responder calls no Kubernetes API: its own ServiceAccount, no token mounted, no Role.' });
    const serveSpec = podSpec(o, config, ['serve', '--listen', '0.0.0.0:8080', '--solver', solver ?? 'redis'], false, {
      ports: [{ name: 'http', containerPort: 8080 }],
      readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5 },
      livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 20, failureThreshold: 3 },
    });
    const dep: IDeployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(`${o.name}-serve`, component),
      spec: { replicas: 2, selector: { matchLabels: selector }, template: { metadata: { labels: labels(o.name, component) }, spec: serveSpec } },
    };
    manifests.push({ object: dep, file: 'serve-deployment.yaml', comment: ` The http-01 responder (\`certpilot serve\`), reading tokens from Redis (solver ${solver ?? 'redis'}): two replicas, so the CA reaches one while the other restarts.` });
    const svc: IService = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(`${o.name}-serve`, component),
      spec: { selector, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    };
    manifests.push({ object: svc, file: 'serve-service.yaml', comment: ' The responder behind one name, for the Ingress rule (or apache\'s ProxyPass).' });
    const pdb: IPodDisruptionBudget = { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: meta(`${o.name}-serve`, component), spec: { minAvailable: 1, selector: { matchLabels: selector } } };
    manifests.push({ object: pdb, file: 'serve-pdb.yaml', comment: ' A node drain keeps one responder up.' });
    const hosts = [...new Set(o.http01Hosts.filter((h) => !h.startsWith('*.')))];
    const path = { path: '/.well-known/acme-challenge/', pathType: 'Prefix' as const, backend: { service: { name: `${o.name}-serve`, port: { name: 'http' } } } };
    const ingress: IIngress = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: meta(`${o.name}-serve`, component),
      spec: { rules: hosts.length > 0 ? hosts.map((host) => ({ host, http: { paths: [path] } })) : [{ http: { paths: [path] } }] },
    };
    manifests.push({ object: ingress, file: 'serve-ingress.yaml', comment: ' Only /.well-known/acme-challenge/ of each name goes to the responder; the rest stays with your site\'s own Ingress.' });
    notes.push(`apache (the deck's setup): ProxyPass /.well-known/acme-challenge/ http://${o.name}-serve.${o.namespace}.svc.cluster.local/.well-known/acme-challenge/`);
  }

  // The TLS check of kubernetes-reload: certpilot's pods connect to each reloaded pod on its TLS port.
  o.reloadTargets.forEach((t, i) => {
    const ns = t.namespace ?? o.namespace;
    const matchLabels = Object.fromEntries(t.selector.split(',').map((kv) => kv.split('=').map((s) => s.trim()) as [string, string]).filter(([k, v]) => k && v !== undefined));
    const np: INetworkPolicy = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(`${o.name}-tls-check${o.reloadTargets.length > 1 ? `-${i + 1}` : ''}`, 'renewer', ns),
      spec: {
        podSelector: { matchLabels },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': o.name, 'app.kubernetes.io/component': 'renewer' } }, ...(ns !== o.namespace ? { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': o.namespace } } } : {}) }],
            ports: [{ protocol: 'TCP', port: t.port }],
          },
        ],
      },
    };
    manifests.push({ object: np, file: `networkpolicy-tls-check${i > 0 ? `-${i + 1}` : ''}.yaml`, comment: ` Lets certpilot's TLS check (kubernetes-reload) reach the pods ${t.selector} on port ${t.port}, under a default-deny policy. Adds to your own policies; allows nothing else.` });
  });

  for (const s of config.secrets) {
    notes.push(`create Secret ${s.name} in ${o.namespace} (keys: ${[...s.keys].map(([k, f]) => `${k} for ${f}`).join(', ')}): kubectl -n ${o.namespace} create secret generic ${s.name} ${[...s.keys.keys()].map((k) => `--from-file=${k}=FILE`).join(' ')}`);
  }
  return { manifests, notes };
}

/** The objects of a set that hold a pod template, for checks that walk every container. */
export function podTemplates(set: ManifestSet): { kind: string; name: string; spec: IIoK8sApiCoreV1PodSpec }[] {
  const out: { kind: string; name: string; spec: IIoK8sApiCoreV1PodSpec }[] = [];
  for (const { object } of set.manifests) {
    const name = object.metadata?.name ?? '';
    if (object.kind === 'CronJob') out.push({ kind: 'CronJob', name, spec: (object as unknown as ICronJob).spec.jobTemplate.spec?.template.spec as IIoK8sApiCoreV1PodSpec });
    if (object.kind === 'Job') out.push({ kind: 'Job', name, spec: (object as unknown as IJob).spec?.template.spec as IIoK8sApiCoreV1PodSpec });
    if (object.kind === 'Deployment') out.push({ kind: 'Deployment', name, spec: (object as unknown as IDeployment).spec?.template.spec as IIoK8sApiCoreV1PodSpec });
  }
  return out;
}
