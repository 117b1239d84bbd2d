/**
 * Runs a generated pod spec's container as a kubelet would, on this host (no container runtime
 * here): its volumes made (ConfigMap keys and Secret keys as files, emptyDirs, a claim as a
 * directory, the service-account token, ca.crt and namespace), its environment (`envFrom` the
 * ConfigMap, plus KUBERNETES_SERVICE_HOST/PORT), its `args` given to the built CLI (the image's
 * ENTRYPOINT is `certpilot`), as user and group 65532 (`runAsUser`, `runAsGroup`).
 *
 * What a host process cannot be given is simulated, and only this: each mount lives under one
 * temp root, so every absolute path under a mount (in the environment and in the mounted
 * configuration) is mapped to the root; `/tmp` is the `tmp` emptyDir through TMPDIR; and the
 * pod's API server address (`kubernetes.default.svc`, which cluster DNS resolves) and the
 * service-account directory are set on each Kubernetes plug-in of the mounted configuration.
 * The read-only root is not enforced: nothing outside the root is writable to uid 65532 anyway.
 */
import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isMap, parseDocument } from 'yaml';
import type { IIoK8sApiCoreV1PodSpec } from 'kubernetes-models/v1';
import { cliPath, repoRoot } from './certpilot.js';

/** The service-account directory every pod gets. */
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** An object of the generated manifests, loosely typed. */
export interface ManifestObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  [k: string]: unknown;
}

/** What the pod gets from the "cluster". */
export interface PodCluster {
  objects: readonly ManifestObject[];
  /** Secrets the user created: name → key → value. */
  secrets: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Claim name → host directory (persistent across runs). */
  claims: Readonly<Record<string, string>>;
  /** The stand-in's URL and a service-account directory it wrote (token, ca.crt, namespace). */
  apiServer: string;
  serviceAccountDir: string;
}

/** A prepared pod: run its container as many times as a Job's retries would. */
export interface PreparedPod {
  root: string;
  env: Record<string, string>;
  args: string[];
  run(extraArgs?: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

const KUBERNETES_PLUGINS = new Set(['kubernetes-secret', 'kubernetes-reload', 'lease']);

/** Makes the pod's volumes under a new root and returns how to run its first container. */
export async function preparePod(spec: IIoK8sApiCoreV1PodSpec, cluster: PodCluster): Promise<PreparedPod> {
  const root = await mkdtemp(join(tmpdir(), 'certpilot-pod-'));
  await chmod(root, 0o755);
  const container = spec.containers[0];
  if (!container) throw new Error('pod spec has no container');
  const uid = spec.securityContext?.runAsUser ?? 0;
  const gid = spec.securityContext?.runAsGroup ?? 0;
  const mounts = new Map<string, string>(); // mount path → host dir
  const hostPath = (p: string): string => {
    let best: [string, string] | undefined;
    for (const [m, h] of mounts) if ((p === m || p.startsWith(`${m}/`)) && (!best || m.length > best[0].length)) best = [m, h];
    return best ? best[1] + p.slice(best[0].length) : p;
  };
  const configMap = (name: string): ManifestObject => {
    const cm = cluster.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
    if (!cm) throw new Error(`ConfigMap ${name} not in the manifests`);
    return cm;
  };
  for (const m of container.volumeMounts ?? []) mounts.set(m.mountPath, join(root, m.mountPath));
  mounts.set(SA_DIR, join(root, SA_DIR));
  const files: [string, string, number][] = [];
  for (const m of container.volumeMounts ?? []) {
    const volume = spec.volumes?.find((v) => v.name === m.name);
    const dir = join(root, m.mountPath);
    await mkdir(dir, { recursive: true });
    if (volume?.configMap) {
      for (const [k, v] of Object.entries(configMap(volume.configMap.name ?? '').data ?? {})) files.push([join(dir, k), v, 0o444]);
    } else if (volume?.secret) {
      const data = cluster.secrets[volume.secret.secretName ?? ''];
      if (!data) throw new Error(`Secret ${volume.secret.secretName} does not exist: the pod would not start (CreateContainerConfigError)`);
      for (const [k, v] of Object.entries(data)) files.push([join(dir, k), v, volume.secret.defaultMode ?? 0o644]);
    } else if (volume?.persistentVolumeClaim) {
      const claim = cluster.claims[volume.persistentVolumeClaim.claimName];
      if (!claim) throw new Error(`claim ${volume.persistentVolumeClaim.claimName} not bound`);
      mounts.set(m.mountPath, claim);
      await chown(claim, uid, gid); // fsGroup
    } else if (volume?.emptyDir) {
      await chown(dir, uid, gid);
    }
  }
  // The service account (automountServiceAccountToken).
  if (spec.automountServiceAccountToken !== false) {
    for (const f of await readdir(cluster.serviceAccountDir)) {
      files.push([join(root, SA_DIR, f), await readFile(join(cluster.serviceAccountDir, f), 'utf8'), 0o444]);
    }
  }
  const url = new URL(cluster.apiServer);
  for (const [file, content, mode] of files) {
    await mkdir(dirname(file), { recursive: true });
    let text = content;
    if (file.endsWith('.yaml') && file.startsWith(join(root, '/etc'))) text = podConfig(content, hostPath, cluster.apiServer, hostPath(SA_DIR));
    await writeFile(file, text, { mode });
    await chown(file, 0, gid);
  }
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port, TMPDIR: hostPath('/tmp') };
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) for (const [k, v] of Object.entries(configMap(from.configMapRef.name ?? '').data ?? {})) env[k] = hostPath(v);
  }
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = hostPath(e.value);
  const args = container.args ?? [];
  return {
    root,
    env,
    args,
    run: (extraArgs = []) =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [cliPath, ...args, ...extraArgs], { cwd: root, env, uid, gid, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('error', reject);
        child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      }),
  };
}

/**
 * The mounted configuration with container paths mapped to the root, and each Kubernetes plug-in
 * given the address cluster DNS would resolve and the service-account directory.
 */
function podConfig(text: string, hostPath: (p: string) => string, apiServer: string, saDir: string): string {
  const doc = parseDocument(text.replace(/(?<=[\s:[,"'])(\/[A-Za-z0-9._/-]+)/g, (p) => hostPath(p)));
  const entries = [doc.get('locker', true), doc.get('stateStore', true), ...Object.values((doc.toJS() as { deployers?: object }).deployers ?? {}).map((_, i) => (doc.get('deployers', true) as { items: { value: unknown }[] }).items[i]?.value)];
  for (const e of entries) {
    if (!isMap(e)) continue;
    if (!KUBERNETES_PLUGINS.has(String(e.get('type')))) continue;
    e.set('apiServer', apiServer);
    e.set('serviceAccountDir', saDir);
  }
  return doc.toString();
}

export { repoRoot };
