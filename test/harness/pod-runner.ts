/**
 * Runs a generated pod spec's container as a kubelet would: in certpilot's container image
 * (built by scripts/image.sh, test/harness/container-image.ts), with `buildah run --isolation
 * chroot` as `runAsUser`:`runAsGroup` (65532), the root read-only when the container's
 * `securityContext.readOnlyRootFilesystem` says so (image.sh `run --read-only`: every top-level
 * directory of the image bound read-only onto itself), and the pod's volumes bind-mounted at their
 * `mountPath`s: ConfigMap keys and Secret keys as files (Secret files root:fsGroup with the volume's
 * `defaultMode`), emptyDirs as new directories owned by the pod's user, a claim as the test's
 * directory, and the service-account token, ca.crt and namespace at
 * /var/run/secrets/kubernetes.io/serviceaccount (read-only). The environment is `envFrom` the
 * ConfigMaps and `env` values, plus KUBERNETES_SERVICE_HOST/PORT; the command is the image's
 * ENTRYPOINT (`certpilot`, which image.test.ts checks) with the container's `args`.
 *
 * Network: chroot isolation shares the host's network namespace, so the container reaches the
 * stand-in, Pebble, Redis and the pods on the host's loopback as the host does. The pod finds
 * the API server as a kubelet tells it to: KUBERNETES_SERVICE_HOST/PORT (the stand-in's
 * 127.0.0.1 and port, which its certificate names), read by certpilot as client-go reads them;
 * the mounted configuration is the generated ConfigMap, unchanged. Every path is the pod's own.
 *
 * One container of the image serves every run of a test (`startPodRuntime`): with the root
 * read-only, nothing a run does outlives it but what it wrote to its volumes, and each
 * `preparePod` makes new volumes, so a run sees what a new Job's new container would. (A new
 * buildah container costs ~8 s with vfs storage, which copies the whole image.) Its name carries
 * the test's process id; a container whose test was killed before removing it is removed by the
 * next runtime started.
 *
 * Without buildah or root, and only then, `startPodRuntime` falls back to the host: the built CLI
 * as a host process with uid/gid 65532, the mounts under one temp root with every absolute path in
 * the environment and the mounted configuration mapped to it, /tmp through TMPDIR, the
 * service-account directory set on each Kubernetes plug-in, and NO read-only root. Such a run
 * proves nothing about the image: the runtime says so (`inImage: false`), tests mark themselves
 * todo, and with CERTPILOT_REQUIRE_SERVERS=1 the missing buildah is a failure instead.
 * `hostPodRuntime()` is that mode on purpose (the benchmark, which times the CLI, not the image).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { isMap, parseDocument } from 'yaml';
import type { IIoK8sApiCoreV1PodSpec } from 'kubernetes-models/v1';
import { cliPath, repoRoot } from './certpilot.js';
import { buildImage, imageCommand, imageScript } from './container-image.js';
import { resolveBinary } from './paths.js';
import { serversRequired } from './servers.js';

/** The name prefix of the containers pods run in (other tests tell them from their own by it). */
export const POD_CONTAINER_PREFIX = 'certpilot-pod-';

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

/** Where pods run: a container of the image, or (fallback) host processes. */
export interface PodRuntime {
  /** True when pods run in the image; false for the host fallback, which proves nothing about it. */
  readonly inImage: boolean;
  /** The image's tag (`localhost/certpilot:ctx-HASH`), when in the image. */
  readonly image?: string;
  /** Why the runtime is the host's, when it is. */
  readonly fallbackReason?: string;
  /** Removes the container. */
  stop(): Promise<void>;
}

interface ImageRuntime extends PodRuntime {
  readonly inImage: true;
  readonly image: string;
  readonly container: string;
}

/** The host fallback, chosen on purpose (see the header). */
export function hostPodRuntime(reason = 'chosen by the caller'): PodRuntime {
  return { inImage: false, fallbackReason: reason, stop: () => Promise.resolve() };
}

/**
 * Builds the image once (shared with every test of the run) and makes the container pods run in.
 * Without buildah or root: fails when CERTPILOT_REQUIRE_SERVERS is set, else says so loudly on
 * stderr and returns the host fallback.
 */
export async function startPodRuntime(): Promise<PodRuntime> {
  const missing =
    resolveBinary('buildah') === undefined
      ? 'missing buildah (Debian package buildah; run `bash scripts/setup.sh`)'
      : process.geteuid?.() !== 0
        ? 'not root (buildah with vfs storage and chroot isolation needs root here)'
        : undefined;
  if (missing) {
    if (serversRequired()) throw new Error(`pod runner: cannot run pods in the image: ${missing}; CERTPILOT_REQUIRE_SERVERS is set, so this is a failure`);
    console.error(`\n!!! pod runner: ${missing}: pods run as host processes, NOT in the image (no read-only root)\n`);
    return hostPodRuntime(missing);
  }
  const { tag } = await buildImage();
  await removeOrphanContainers();
  const made = await imageCommand(['container', `${POD_CONTAINER_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}`], tag);
  if (made.code !== 0) throw new Error(`scripts/image.sh container failed: ${made.stderr}`);
  const container = made.stdout.trim();
  const runtime: ImageRuntime = {
    inImage: true,
    image: tag,
    container,
    stop: async () => {
      const removed = await imageCommand(['buildah', 'rm', container]);
      if (removed.code !== 0) throw new Error(`buildah rm ${container}: ${removed.stderr}`);
    },
  };
  return runtime;
}

/**
 * Removes pod containers whose test process is gone (killed before its `stop`): their names carry
 * the process id. Another live test's container is left alone.
 */
async function removeOrphanContainers(): Promise<void> {
  const listed = await imageCommand(['buildah', 'containers', '--json']);
  if (listed.code !== 0) return;
  const all = (JSON.parse(listed.stdout || 'null') ?? []) as { containername: string }[];
  for (const { containername } of all) {
    const pid = new RegExp(`^${POD_CONTAINER_PREFIX}(\\d+)-`).exec(containername)?.[1];
    if (pid === undefined) continue;
    try {
      process.kill(Number(pid), 0);
      continue; // alive
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') continue;
    }
    await imageCommand(['buildah', 'rm', containername]);
  }
}

/** A prepared pod: run its container as many times as a Job's retries would. */
export interface PreparedPod {
  /** The host directory holding the pod's volumes. */
  root: string;
  /** The container's environment (`envFrom`, `env`, KUBERNETES_SERVICE_HOST/PORT). */
  env: Record<string, string>;
  args: string[];
  /** Runs the container: its command and `args`, then `extraArgs`. */
  run(extraArgs?: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Runs another command in a container like it (same image, user, volumes, environment). */
  exec(command: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Starts the container's command and `args` (then `extraArgs`) as a long-running pod (a Deployment's). */
  start(extraArgs?: string[]): RunningPod;
}

/** A long-running pod's container: its process, its output so far, and how a kubelet stops it. */
export interface RunningPod {
  /** The process started on the host (image.sh / buildah run, or the CLI itself on the host fallback). */
  readonly process: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): { stdout: string; stderr: string };
  /** Settles when the container exits, with its exit code (-1 when killed by a signal). */
  readonly exited: Promise<number>;
  /**
   * Stops it as a kubelet does: `signal` (SIGTERM) to the container's main process (certpilot's
   * node, found among the started process's descendants), then, if it has not exited within
   * `graceSeconds` (terminationGracePeriodSeconds), SIGKILL. `killed` says the grace ran out.
   */
  stop(signal?: NodeJS.Signals, graceSeconds?: number): Promise<{ code: number; killed: boolean; stdout: string; stderr: string }>;
}

/** The processes below `pid` (from /proc), nearest first. */
async function descendants(pid: number): Promise<{ pid: number; argv: string[] }[]> {
  const parents = new Map<number, number[]>();
  const argvOf = new Map<number, string[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
      argvOf.set(Number(entry), (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').filter(Boolean));
    } catch {
      // gone meanwhile
    }
  }
  const out: { pid: number; argv: string[] }[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of parents.get(queue.shift() as number) ?? []) {
      out.push({ pid: child, argv: argvOf.get(child) ?? [] });
      queue.push(child);
    }
  }
  return out;
}

const KUBERNETES_PLUGINS = new Set(['kubernetes-secret', 'kubernetes-reload', 'lease']);

/** Makes the pod's volumes under a new root and returns how to run its first container in `runtime`. */
export async function preparePod(spec: IIoK8sApiCoreV1PodSpec, cluster: PodCluster, runtime: PodRuntime): Promise<PreparedPod> {
  const root = await mkdtemp(join(tmpdir(), 'certpilot-pod-'));
  await chmod(root, 0o755);
  const container = spec.containers[0];
  if (!container) throw new Error('pod spec has no container');
  const uid = container.securityContext?.runAsUser ?? spec.securityContext?.runAsUser ?? 0;
  const gid = container.securityContext?.runAsGroup ?? spec.securityContext?.runAsGroup ?? 0;
  const fsGroup = spec.securityContext?.fsGroup ?? gid;
  if ((container.securityContext?.runAsNonRoot ?? spec.securityContext?.runAsNonRoot) && uid === 0) {
    throw new Error('container has runAsNonRoot and would run as root: the kubelet refuses to start it (CreateContainerConfigError)');
  }
  const readOnlyRoot = container.securityContext?.readOnlyRootFilesystem === true;
  const inImage = runtime.inImage;
  // mount path → [host dir, read-only]
  const mounts = new Map<string, [string, boolean]>();
  const hostPath = (p: string): string => {
    if (inImage) return p;
    let best: [string, string] | undefined;
    for (const [m, [h]] of mounts) if ((p === m || p.startsWith(`${m}/`)) && (!best || m.length > best[0].length)) best = [m, h];
    return best ? best[1] + p.slice(best[0].length) : p;
  };
  const configMap = (name: string): ManifestObject => {
    const cm = cluster.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name);
    if (!cm) throw new Error(`ConfigMap ${name} not in the manifests`);
    return cm;
  };
  const files: [string, string, number][] = [];
  for (const m of container.volumeMounts ?? []) {
    const volume = spec.volumes?.find((v) => v.name === m.name);
    if (!volume) throw new Error(`volumeMount ${m.name} names no volume of the pod`);
    const dir = join(root, m.mountPath);
    await mkdir(dir, { recursive: true });
    mounts.set(m.mountPath, [dir, m.readOnly === true]);
    if (volume.configMap) {
      for (const [k, v] of Object.entries(configMap(volume.configMap.name ?? '').data ?? {})) files.push([join(dir, k), v, volume.configMap.defaultMode ?? 0o644]);
    } else if (volume.secret) {
      const data = cluster.secrets[volume.secret.secretName ?? ''];
      if (!data) throw new Error(`Secret ${volume.secret.secretName} does not exist: the pod would not start (CreateContainerConfigError)`);
      for (const [k, v] of Object.entries(data)) files.push([join(dir, k), v, volume.secret.defaultMode ?? 0o644]);
    } else if (volume.persistentVolumeClaim) {
      const claim = cluster.claims[volume.persistentVolumeClaim.claimName];
      if (!claim) throw new Error(`claim ${volume.persistentVolumeClaim.claimName} not bound`);
      mounts.set(m.mountPath, [claim, m.readOnly === true]);
      await chown(claim, uid, fsGroup); // fsGroup
    } else if (volume.emptyDir) {
      await chmod(dir, 0o777); // the kubelet's emptyDir mode
      await chown(dir, uid, fsGroup);
    } else {
      throw new Error(`volume ${m.name}: only configMap, secret, persistentVolumeClaim and emptyDir volumes are modelled`);
    }
  }
  // The service account (automountServiceAccountToken).
  if (spec.automountServiceAccountToken !== false) {
    mounts.set(SA_DIR, [join(root, SA_DIR), true]);
    for (const f of await readdir(cluster.serviceAccountDir)) {
      files.push([join(root, SA_DIR, f), await readFile(join(cluster.serviceAccountDir, f), 'utf8'), 0o644]);
    }
  }
  const url = new URL(cluster.apiServer);
  for (const [file, content, mode] of files) {
    await mkdir(dirname(file), { recursive: true });
    let text = content;
    if (!inImage && file.endsWith('.yaml') && file.startsWith(join(root, '/etc'))) text = hostConfig(content, hostPath, hostPath(SA_DIR));
    await writeFile(file, text, { mode });
    await chmod(file, mode); // the umask does not apply to a volume's files
    await chown(file, 0, fsGroup);
  }
  const env: Record<string, string> = { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port };
  if (!inImage) Object.assign(env, { PATH: process.env.PATH ?? '/usr/bin:/bin', TMPDIR: hostPath('/tmp') });
  for (const from of container.envFrom ?? []) {
    if (from.secretRef) throw new Error('envFrom a Secret is not modelled');
    if (from.configMapRef) for (const [k, v] of Object.entries(configMap(from.configMapRef.name ?? '').data ?? {})) env[`${from.prefix ?? ''}${k}`] = hostPath(v);
  }
  // The downward API, as the kubelet fills it: the pod's own name (unique per pod, as a Job's or a
  // Deployment's generated name is) and namespace; any other source is not modelled.
  const podName = `certpilot-${basename(root).slice(-6).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
  const podNamespace = (await readFile(join(cluster.serviceAccountDir, 'namespace'), 'utf8')).trim();
  for (const e of container.env ?? []) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (e.value !== undefined) env[e.name] = hostPath(e.value);
    else if (field === 'metadata.name') env[e.name] = podName;
    else if (field === 'metadata.namespace') env[e.name] = podNamespace;
    else throw new Error(`env ${e.name}: only plain values and fieldRef metadata.name/metadata.namespace are modelled`);
  }
  const args = container.args ?? [];
  // The image's ENTRYPOINT, unless the container sets a command (image.test.ts checks it is this).
  const command = container.command ?? ['certpilot'];

  const spawnRun = (argv: string[], options: { cwd?: string; env: NodeJS.ProcessEnv; uid?: number; gid?: number }): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(argv[0] as string, argv.slice(1), { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });

  const runCommand = (argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    if (runtime.inImage) {
      const { image, container: ctr } = runtime as ImageRuntime;
      const volumes = [...mounts].flatMap(([path, [host, ro]]) => ['--volume', `${host}:${path}${ro ? ':ro' : ''}`]);
      const envArgs = Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
      return spawnRun(['bash', imageScript, 'run', ...(readOnlyRoot ? ['--read-only'] : []), '--in', ctr, '--user', `${uid}:${gid}`, ...volumes, ...envArgs, '--', ...argv], {
        cwd: repoRoot,
        env: { ...process.env, CERTPILOT_IMAGE: image },
      });
    }
    const hostArgv = argv[0] === 'certpilot' ? [process.execPath, cliPath, ...argv.slice(1)] : argv;
    return spawnRun(hostArgv, { cwd: root, env, uid, gid });
  };
  // The argv and options of a container process, in the image or (fallback) on the host.
  const commandLine = (argv: string[]): [string[], { cwd?: string; env: NodeJS.ProcessEnv; uid?: number; gid?: number }] => {
    if (runtime.inImage) {
      const { image, container: ctr } = runtime as ImageRuntime;
      const volumes = [...mounts].flatMap(([path, [host, ro]]) => ['--volume', `${host}:${path}${ro ? ':ro' : ''}`]);
      const envArgs = Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
      return [
        ['bash', imageScript, 'run', ...(readOnlyRoot ? ['--read-only'] : []), '--in', ctr, '--user', `${uid}:${gid}`, ...volumes, ...envArgs, '--', ...argv],
        { cwd: repoRoot, env: { ...process.env, CERTPILOT_IMAGE: image } },
      ];
    }
    return [argv[0] === 'certpilot' ? [process.execPath, cliPath, ...argv.slice(1)] : argv, { cwd: root, env, uid, gid }];
  };
  const start = (argv: string[]): RunningPod => {
    const [line, options] = commandLine(argv);
    const child = spawn(line[0] as string, line.slice(1), { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((resolve) => {
      child.once('error', () => resolve(-1));
      child.once('close', (code) => resolve(code ?? -1));
    });
    const mainProcess = async (): Promise<number | undefined> => {
      if (!runtime.inImage) return child.pid;
      // The container's PID 1 in a cluster: certpilot's node (`node /usr/local/bin/certpilot …`), below bash and buildah.
      const below = await descendants(child.pid ?? -1);
      return below.filter((p) => /(^|\/)node$/.test(p.argv[0] ?? '') && p.argv.some((a) => a.includes('certpilot'))).at(-1)?.pid;
    };
    return {
      process: child,
      output: () => ({ stdout, stderr }),
      exited,
      stop: async (signal = 'SIGTERM', graceSeconds = 30) => {
        const done = (killed: boolean) => exited.then((code) => ({ code, killed, stdout, stderr }));
        if (child.exitCode !== null || child.signalCode !== null) return done(false);
        const pid = await mainProcess();
        if (pid === undefined) throw new Error(`pod runner: no certpilot process below ${child.pid} to send ${signal} to`);
        process.kill(pid, signal);
        let timer: NodeJS.Timeout | undefined;
        const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceSeconds * 1000)))]);
        clearTimeout(timer);
        if (inTime) return done(false);
        for (const p of [...(await descendants(child.pid ?? -1)).reverse(), { pid: child.pid ?? -1 }]) {
          try {
            process.kill(p.pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
        return done(true);
      },
    };
  };
  return {
    root,
    env,
    args,
    start: (extraArgs = []) => start([...command, ...args, ...extraArgs]),
    run: (extraArgs = []) => runCommand([...command, ...args, ...extraArgs]),
    exec: (argv) => runCommand(argv),
  };
}

/**
 * The host fallback only (no image): container paths in the mounted configuration mapped to the
 * pod's root, and each Kubernetes plug-in given the pod's service-account directory.
 */
function hostConfig(text: string, hostPath: (p: string) => string, saDir: string): string {
  const doc = parseDocument(text.replace(/(?<=[\s:[,"'])(\/[A-Za-z0-9._/-]+)/g, (p) => hostPath(p)));
  const deployers = doc.get('deployers', true);
  const entries = [doc.get('locker', true), doc.get('stateStore', true), ...(isMap(deployers) ? deployers.items.map((i) => i.value) : [])];
  for (const e of entries) {
    if (!isMap(e)) continue;
    if (!KUBERNETES_PLUGINS.has(String(e.get('type')))) continue;
    e.set('serviceAccountDir', saDir);
  }
  return doc.toString();
}

export { repoRoot };
