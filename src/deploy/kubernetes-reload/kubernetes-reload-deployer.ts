/**
 * `kubernetes-reload`: after the Secret holds the new certificate, make every pod of each group
 * serve it, with proof — instead of the deck's `sleep 150` and a blind `kubectl exec` per pod.
 *
 * For each group, in order:
 * 1. The Secret must hold the certificate being deployed (its `certpilot.io/serial` annotation):
 *    otherwise nothing is reloaded (the Secret update failed or was skipped).
 * 2. Each pod's Secret mount is read from the pod spec; a `subPath` mount (which the kubelet never
 *    updates) fails at once, before any pod is touched.
 * 3. Each pod is polled through exec (`sha256sum <mounted file>`) until the file's digest is the
 *    Secret's, up to `propagationTimeoutSeconds`; a pod that never sees it fails naming the pod.
 * 4. As pods see it, at most `maxUnavailable` at a time run the reload command; each is then
 *    verified by a TLS handshake to its pod IP, port and SNI until the leaf it serves has the
 *    deployed certificate's SHA-256 fingerprint (and, with `verifyChain`, the deployed chain after
 *    it). A serial is public, so it is only reported, never taken as proof. A pod already serving
 *    the deployed certificate is not reloaded (idempotence).
 * 5. The first failure stops the rollout: no further pod is reloaded, and the error reports which
 *    pod serves which serial.
 * 6. The selector is listed again at the end: a pod that appeared or restarted meanwhile is checked
 *    (and reloaded if it must be) too.
 *
 * `rolloutRestart` groups restart their Deployment or StatefulSet instead (a pod-template
 * annotation, as `kubectl rollout restart`), wait for the replacement pods, and verify each.
 */
import { createHash } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import type { Clock } from '../../clock.js';
import { CertpilotError, type ErrorCode } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { isRunningPod, type KubernetesClient, type WorkloadKind } from '../../kubernetes/kubernetes-client.js';
import type { StoredCertificate } from '../../storage/certificate-store.js';
import type { DeployOptions, DeployResult, Deployer } from '../deployer.js';
import { SECRET_ANNOTATIONS } from '../kubernetes-secret/kubernetes-secret-deployer.js';
import { normalizeSerial, pemFingerprints, probeServedCertificate, servesDeployed, type ServedCertificate } from './tls-probe.js';

/** One pod group, as configured. */
export interface PodGroup {
  name?: string | undefined;
  selector: string;
  container?: string | undefined;
  command?: string[] | undefined;
  /** Longest wait for `command` in one pod (default 120 s). */
  commandTimeoutSeconds?: number | undefined;
  rolloutRestart?: 'owner' | { kind: WorkloadKind; name: string } | undefined;
  port: number;
  serverName?: string | undefined;
  maxUnavailable: number;
}

/** Options of {@link KubernetesReloadDeployer}. */
export interface KubernetesReloadDeployerOptions {
  id: string;
  client: KubernetesClient;
  secretName: string;
  key: string;
  groups: PodGroup[];
  propagationTimeoutSeconds: number;
  pollIntervalSeconds: number;
  verifyTimeoutSeconds: number;
  digestCommand: string[];
  logger: Logger;
  clock: Clock;
  /** Also require the served chain to be the deployed chain, certificate by certificate (default false). */
  verifyChain?: boolean;
  /** Connects the TLS probe somewhere else than the pod IP (tests, port-forwards). */
  probe?: typeof probeServedCertificate;
}

/** What happened to one pod. */
export interface PodOutcome {
  group: string;
  pod: string;
  ip?: string;
  /** `reloaded` and `restarted` were verified after; `serving` needed no reload; `failed` stopped the rollout. */
  outcome: 'reloaded' | 'restarted' | 'serving' | 'failed' | 'untouched';
  /** The serial the pod served at the end (undefined when the handshake failed). */
  servedSerial?: string;
}

interface PodTarget {
  name: string;
  uid: string;
  /** uid and container restarts: a pod that restarted is checked again. */
  incarnation: string;
  ip: string;
  container: string | undefined;
  file: string;
}

class StopRollout extends Error {}

/** Failures in the middle of a rollout, reported with the serial each pod serves. */
const ROLLOUT_FAILURES: readonly ErrorCode[] = ['ERR_DEPLOY_PROPAGATION_TIMEOUT', 'ERR_DEPLOY_RELOAD_FAILED', 'ERR_DEPLOY_VERIFY_FAILED'];
/** Listings of a group before a rollout that keeps finding new or restarted pods gives up (retryable). */
const MAX_ROUNDS = 5;

/** Reloads pod groups one pod at a time and verifies each serves the new certificate. */
export class KubernetesReloadDeployer implements Deployer {
  readonly id: string;
  private readonly probe: typeof probeServedCertificate;
  /** The deployed leaf's and chain's SHA-256 fingerprints, set at the start of each deploy. */
  private expected: { fingerprint: string; chain: string[] } = { fingerprint: '', chain: [] };

  constructor(private readonly o: KubernetesReloadDeployerOptions) {
    this.id = o.id;
    this.probe = o.probe ?? probeServedCertificate;
  }

  async deploy(certificate: StoredCertificate, { signal }: DeployOptions = {}): Promise<DeployResult> {
    const { client, secretName, key, logger } = this.o;
    signal?.throwIfAborted();
    const serial = normalizeSerial(certificate.metadata.serialNumber);
    const secret = await client.getSecret(secretName);
    const where = `${client.namespace}/${secretName}`;
    if (secret === undefined) {
      throw new CertpilotError('ERR_DEPLOY_SECRET_STALE', `kubernetes-reload: Secret ${where} does not exist: nothing reloaded`);
    }
    const held = secret.metadata?.annotations?.[SECRET_ANNOTATIONS.serial];
    if (held === undefined || normalizeSerial(held) !== serial) {
      throw new CertpilotError('ERR_DEPLOY_SECRET_STALE', `kubernetes-reload: Secret ${where} holds serial ${held ?? '(none)'}, not ${serial} (version ${certificate.version}): nothing reloaded`);
    }
    const [fingerprint] = pemFingerprints(certificate.certPem);
    if (fingerprint === undefined) throw new CertpilotError('ERR_DEPLOY_SECRET_STALE', `kubernetes-reload: version ${certificate.version} has no certificate to verify pods against: nothing reloaded`);
    this.expected = { fingerprint, chain: pemFingerprints(certificate.chainPem ?? '') };
    const heldFingerprint = secret.metadata?.annotations?.[SECRET_ANNOTATIONS.sha256];
    if (heldFingerprint !== undefined && heldFingerprint !== fingerprint) {
      throw new CertpilotError('ERR_DEPLOY_SECRET_STALE', `kubernetes-reload: Secret ${where} holds the certificate with SHA-256 ${heldFingerprint}, not ${fingerprint} (version ${certificate.version}): nothing reloaded`);
    }
    const data = secret.data?.[key];
    if (data === undefined) {
      throw new CertpilotError('ERR_DEPLOY_NOT_MOUNTED', `kubernetes-reload: Secret ${where} has no key ${key}`);
    }
    const digest = createHash('sha256').update(Buffer.from(data, 'base64')).digest('hex');
    const outcomes: PodOutcome[] = [];
    for (const group of this.o.groups) {
      signal?.throwIfAborted();
      await this.deployGroup(group, certificate, serial, digest, outcomes, signal);
    }
    const reloaded = outcomes.filter((p) => p.outcome === 'reloaded' || p.outcome === 'restarted').length;
    logger.info({ version: certificate.version, serial, pods: outcomes.length, reloaded }, 'kubernetes-reload: every pod serves the new certificate');
    return {
      message: `${outcomes.length} pod(s) serve version ${certificate.version} (serial ${serial}); ${reloaded} reloaded, ${outcomes.length - reloaded} already serving it`,
      details: { serial, version: certificate.version, pods: outcomes },
    };
  }

  private groupName(g: PodGroup): string {
    return g.name ?? g.selector;
  }

  private serverName(g: PodGroup, certificate: StoredCertificate): string | undefined {
    if (g.serverName !== undefined) return g.serverName;
    const first = certificate.metadata.domains[0];
    return first?.startsWith('*.') ? `certpilot-probe.${first.slice(2)}` : first;
  }

  /** The pods of a group that run now, with their Secret mount; a subPath mount fails at once. */
  private async targets(g: PodGroup): Promise<PodTarget[]> {
    const pods = (await this.o.client.listPods(g.selector)).filter(isRunningPod);
    return pods.map((p) => this.target(p, g));
  }

  private target(p: V1Pod, g: PodGroup): PodTarget {
    const name = p.metadata?.name ?? '?';
    const fail = (code: ErrorCode, why: string): never => {
      throw new CertpilotError(code, `kubernetes-reload: group ${this.groupName(g)}: pod ${name}: ${why}`);
    };
    const containers = p.spec?.containers ?? [];
    const container = g.container === undefined ? containers[0] : containers.find((c) => c.name === g.container);
    if (container === undefined) fail('ERR_DEPLOY_NOT_MOUNTED', `no container ${g.container ?? ''}`);
    const volume = (p.spec?.volumes ?? []).find((v) => v.secret?.secretName === this.o.secretName || v.projected?.sources?.some((s) => s.secret?.name === this.o.secretName));
    if (volume === undefined) fail('ERR_DEPLOY_NOT_MOUNTED', `mounts no volume of Secret ${this.o.secretName}`);
    const mounts = (container?.volumeMounts ?? []).filter((m) => m.name === volume?.name);
    const sub = mounts.find((m) => m.subPath !== undefined && m.subPath !== '');
    if (sub !== undefined) {
      throw new CertpilotError('ERR_DEPLOY_SUBPATH_MOUNT', `kubernetes-reload: group ${this.groupName(g)}: pod ${name} mounts Secret ${this.o.secretName} at ${sub.mountPath} with subPath ${sub.subPath ?? ''}, which the kubelet never updates: nothing reloaded`);
    }
    const mount = mounts[0];
    if (mount === undefined) fail('ERR_DEPLOY_NOT_MOUNTED', `container ${container?.name ?? ''} does not mount volume ${volume?.name ?? ''}`);
    const items = volume?.secret?.items ?? volume?.projected?.sources?.find((s) => s.secret?.name === this.o.secretName)?.secret?.items;
    const rel = items === undefined ? this.o.key : items.find((i) => i.key === this.o.key)?.path;
    if (rel === undefined) fail('ERR_DEPLOY_NOT_MOUNTED', `volume ${volume?.name ?? ''} does not project key ${this.o.key}`);
    const restarts = (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);
    const uid = p.metadata?.uid ?? name;
    return { name, uid, incarnation: `${uid}/${restarts}`, ip: p.status?.podIP ?? '', container: container?.name, file: `${(mount?.mountPath ?? '').replace(/\/$/, '')}/${rel ?? ''}` };
  }

  /** True when `s` is the deployed certificate (fingerprint, and chain with verifyChain). */
  private isDeployed(s: ServedCertificate | undefined): boolean {
    return servesDeployed(s, this.expected, this.o.verifyChain === true);
  }

  /** How a report shows what a pod serves. */
  private describe(s: ServedCertificate | undefined, serial: string): string {
    if (s === undefined) return '(no TLS answer)';
    if (this.isDeployed(s)) return `${s.serial} (new)`;
    if (s.fingerprint === this.expected.fingerprint) return `${s.serial} (new, but not the deployed chain)`;
    return s.serial === serial ? `${s.serial} (NOT the deployed certificate: SHA-256 ${s.fingerprint.slice(0, 16)}…)` : `${s.serial} (old)`;
  }

  private async served(t: PodTarget, g: PodGroup, certificate: StoredCertificate): Promise<ServedCertificate | undefined> {
    const sn = this.serverName(g, certificate);
    try {
      return await this.probe({ host: t.ip, port: g.port, ...(sn !== undefined ? { serverName: sn } : {}), timeoutMs: 5000 });
    } catch {
      return undefined;
    }
  }

  /** Polls the pod's mounted file until its digest is the Secret's; throws naming the pod on timeout. */
  private async waitProjected(t: PodTarget, g: PodGroup, digest: string, stop: AbortSignal): Promise<void> {
    const { clock, client } = this.o;
    const deadline = clock.now().getTime() + this.o.propagationTimeoutSeconds * 1000;
    let last = '';
    for (;;) {
      if (stop.aborted) throw new StopRollout();
      const r = await client.exec(t.name, t.container, [...this.o.digestCommand, t.file], { signal: stop });
      const seen = r.exitCode === 0 ? r.stdout.trim().split(/\s+/)[0] ?? '' : '';
      if (seen === digest) return;
      last = r.exitCode === 0 ? `digest ${seen.slice(0, 12)}…` : `exit ${r.exitCode}: ${r.stderr.trim().slice(0, 200)}`;
      if (clock.now().getTime() >= deadline) {
        throw new CertpilotError('ERR_DEPLOY_PROPAGATION_TIMEOUT', `kubernetes-reload: group ${this.groupName(g)}: pod ${t.name} did not see the new Secret in ${t.file} within ${this.o.propagationTimeoutSeconds} s (last read: ${last}): not reloaded`, { retryable: true });
      }
      await clock.sleep(this.o.pollIntervalSeconds * 1000, stop);
    }
  }

  /** Polls the pod's TLS endpoint until it serves the deployed certificate (by fingerprint). */
  private async verify(t: PodTarget, g: PodGroup, certificate: StoredCertificate, serial: string, signal?: AbortSignal): Promise<void> {
    const { clock } = this.o;
    const deadline = clock.now().getTime() + this.o.verifyTimeoutSeconds * 1000;
    for (;;) {
      const got = await this.served(t, g, certificate);
      if (this.isDeployed(got)) return;
      if (clock.now().getTime() >= deadline) {
        throw new CertpilotError('ERR_DEPLOY_VERIFY_FAILED', `kubernetes-reload: group ${this.groupName(g)}: pod ${t.name} (${t.ip}:${g.port}) serves serial ${this.describe(got, serial)} ${this.o.verifyTimeoutSeconds} s after its reload, not ${serial} (SHA-256 ${this.expected.fingerprint})`);
      }
      await clock.sleep(Math.min(500, this.o.pollIntervalSeconds * 1000), signal);
    }
  }

  /** Verifies a reloaded or restarted pod and records its outcome: `outcome` when it serves `serial`, else `failed`. */
  private async verifyAs(outcome: 'reloaded' | 'restarted', t: PodTarget, g: PodGroup, certificate: StoredCertificate, serial: string, done: Map<string, PodOutcome>, signal?: AbortSignal): Promise<void> {
    const group = this.groupName(g);
    try {
      await this.verify(t, g, certificate, serial, signal);
    } catch (e) {
      done.set(t.uid, { group, pod: t.name, ip: t.ip, outcome: 'failed' });
      throw e;
    }
    done.set(t.uid, { group, pod: t.name, ip: t.ip, outcome, servedSerial: serial });
  }

  private async deployGroup(g: PodGroup, certificate: StoredCertificate, serial: string, digest: string, outcomes: PodOutcome[], signal?: AbortSignal): Promise<void> {
    const group = this.groupName(g);
    const done = new Map<string, PodOutcome>();
    const checked = new Map<string, string>();
    for (let round = 0; ; round++) {
      const targets = await this.targets(g);
      if (round === 0 && targets.length === 0) {
        throw new CertpilotError('ERR_DEPLOY_NO_PODS', `kubernetes-reload: group ${group}: no running pod matches ${g.selector} in namespace ${this.o.client.namespace}`);
      }
      // Pods that appeared, and pods whose containers restarted since they were checked, are checked.
      const todo = targets.filter((t) => checked.get(t.uid) !== t.incarnation);
      if (todo.length === 0) break;
      if (round === MAX_ROUNDS) {
        // Pods keep appearing or restarting: say which were not proven rather than report success.
        const left = todo.map((t) => t.name).join(', ');
        throw await this.withReport(
          new CertpilotError('ERR_DEPLOY_RELOAD_FAILED', `kubernetes-reload: group ${group}: pods kept appearing or restarting; after ${MAX_ROUNDS} rounds ${left} not yet checked`, { retryable: true }),
          g,
          certificate,
          serial,
          done,
        );
      }
      for (const t of todo) checked.set(t.uid, t.incarnation);
      try {
        if (g.command !== undefined) await this.reloadPods(g, todo, certificate, serial, digest, done, signal);
        else await this.restartWorkload(g, todo, certificate, serial, done, signal);
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        throw await this.withReport(e, g, certificate, serial, done);
      }
      if (g.rolloutRestart !== undefined) break;
    }
    outcomes.push(...done.values());
  }

  private async reloadPods(g: PodGroup, todo: PodTarget[], certificate: StoredCertificate, serial: string, digest: string, done: Map<string, PodOutcome>, signal?: AbortSignal): Promise<void> {
    const group = this.groupName(g);
    const { client, logger } = this.o;
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const ready: PodTarget[] = [];
    let pending = todo.length;
    const waiters: (() => void)[] = [];
    const wake = (): void => {
      for (const w of waiters.splice(0)) w();
    };
    let failure: unknown;
    const fail = (e: unknown): void => {
      if (failure === undefined && !(e instanceof StopRollout)) failure = e;
      stop.abort(new StopRollout());
      wake();
    };
    const pollers = todo.map((t) =>
      this.waitProjected(t, g, digest, stop.signal).then(
        () => {
          ready.push(t);
          pending--;
          wake();
        },
        (e: unknown) => {
          pending--;
          fail(e);
          wake();
        },
      ),
    );
    const next = async (): Promise<PodTarget | undefined> => {
      for (;;) {
        if (stop.signal.aborted) return undefined;
        const t = ready.shift();
        if (t !== undefined) return t;
        if (pending === 0) return undefined;
        await new Promise<void>((r) => waiters.push(r));
      }
    };
    const worker = async (): Promise<void> => {
      for (let t = await next(); t !== undefined; t = await next()) {
        try {
          const before = await this.served(t, g, certificate);
          if (this.isDeployed(before)) {
            if (!done.has(t.uid)) done.set(t.uid, { group, pod: t.name, ip: t.ip, outcome: 'serving', servedSerial: serial });
            continue;
          }
          // The rollout may have failed while this pod's probe ran: then no further pod is reloaded.
          if (stop.signal.aborted) return;
          const argv = g.command ?? [];
          logger.info({ group, pod: t.name, command: argv[0] }, 'kubernetes-reload: reloading pod');
          // A reload once started runs to its end even when another pod fails meanwhile.
          let r;
          try {
            r = await client.exec(t.name, t.container, argv, { timeoutMs: (g.commandTimeoutSeconds ?? 120) * 1000, ...(signal ? { signal } : {}) });
          } catch (e) {
            if (signal?.aborted) throw e;
            done.set(t.uid, { group, pod: t.name, ip: t.ip, outcome: 'failed' });
            const why = e instanceof Error ? e.message : String(e);
            throw new CertpilotError('ERR_DEPLOY_RELOAD_FAILED', `kubernetes-reload: group ${group}: \`${argv.join(' ')}\` could not run in pod ${t.name}: ${why}`, { cause: e, ...(e instanceof CertpilotError ? { hint: e.hint } : {}) });
          }
          if (r.exitCode !== 0) {
            done.set(t.uid, { group, pod: t.name, ip: t.ip, outcome: 'failed' });
            // Never a private key in the report, whatever the command printed.
            const output = (r.stderr.trim() || r.stdout.trim())
              .replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, '[private key material hidden]')
              .split('\n')
              .slice(-3)
              .join(' / ')
              .slice(0, 300);
            throw new CertpilotError('ERR_DEPLOY_RELOAD_FAILED', `kubernetes-reload: group ${group}: \`${argv.join(' ')}\` exited ${r.exitCode} in pod ${t.name}${output ? `: ${output}` : ''}`);
          }
          await this.verifyAs('reloaded', t, g, certificate, serial, done, signal);
          logger.info({ group, pod: t.name, serial }, 'kubernetes-reload: pod verified');
        } catch (e) {
          fail(e);
          return;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(g.maxUnavailable, todo.length) }, () => worker()));
      stop.abort(new StopRollout());
      await Promise.allSettled(pollers);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (signal?.aborted) throw signal.reason;
    if (failure !== undefined) throw failure;
  }

  private async restartWorkload(g: PodGroup, todo: PodTarget[], certificate: StoredCertificate, serial: string, done: Map<string, PodOutcome>, signal?: AbortSignal): Promise<void> {
    const group = this.groupName(g);
    const { client, clock, logger } = this.o;
    const serving = await Promise.all(todo.map((t) => this.served(t, g, certificate)));
    if (serving.every((s) => this.isDeployed(s))) {
      todo.forEach((t) => done.set(t.uid, { group, pod: t.name, ip: t.ip, outcome: 'serving', servedSerial: serial }));
      return;
    }
    const workload = g.rolloutRestart === 'owner' ? await this.owner(g, todo) : g.rolloutRestart;
    if (workload === undefined) return;
    logger.info({ group, workload: `${workload.kind}/${workload.name}` }, 'kubernetes-reload: rollout restart');
    await client.restartWorkload(workload.kind, workload.name, clock.now());
    const old = new Set(todo.map((t) => t.uid));
    const deadline = clock.now().getTime() + this.o.propagationTimeoutSeconds * 1000;
    for (;;) {
      const now = await this.targets(g);
      if (now.length >= todo.length && now.every((t) => !old.has(t.uid))) {
        for (const t of now) {
          await this.verifyAs('restarted', t, g, certificate, serial, done, signal);
        }
        return;
      }
      if (clock.now().getTime() >= deadline) {
        const left = now.filter((t) => old.has(t.uid)).map((t) => t.name);
        throw new CertpilotError('ERR_DEPLOY_RELOAD_FAILED', `kubernetes-reload: group ${group}: rollout restart of ${workload.kind}/${workload.name} did not replace ${left.join(', ') || 'all pods'} within ${this.o.propagationTimeoutSeconds} s`, { retryable: true });
      }
      await clock.sleep(this.o.pollIntervalSeconds * 1000, signal);
    }
  }

  private async owner(g: PodGroup, todo: PodTarget[]): Promise<{ kind: WorkloadKind; name: string }> {
    const pods = await this.o.client.listPods(g.selector);
    const owners = new Set<string>();
    for (const p of pods.filter((x) => todo.some((t) => t.uid === (x.metadata?.uid ?? x.metadata?.name)))) {
      const ref = p.metadata?.ownerReferences?.find((r) => r.controller === true);
      const hash = p.metadata?.labels?.['pod-template-hash'];
      if (ref?.kind === 'StatefulSet') owners.add(`StatefulSet/${ref.name}`);
      else if (ref?.kind === 'ReplicaSet') owners.add(`Deployment/${hash !== undefined && ref.name.endsWith(`-${hash}`) ? ref.name.slice(0, -hash.length - 1) : ref.name.replace(/-[a-z0-9]{5,10}$/, '')}`);
      else owners.add('(none)');
    }
    const [only, ...rest] = [...owners];
    if (only === undefined || only === '(none)' || rest.length > 0) {
      throw new CertpilotError('ERR_DEPLOY_RELOAD_FAILED', `kubernetes-reload: group ${this.groupName(g)}: rolloutRestart: owner needs all pods owned by one Deployment or StatefulSet, found ${[...owners].join(', ') || 'none'}`, {
        hint: 'Name the workload: rolloutRestart: { kind: Deployment, name: <name> }.',
      });
    }
    const [kind, name] = only.split('/') as [WorkloadKind, string];
    return { kind, name };
  }

  /** Adds "which pod serves which serial" to a rollout failure. */
  private async withReport(e: unknown, g: PodGroup, certificate: StoredCertificate, serial: string, done: Map<string, PodOutcome>): Promise<unknown> {
    if (!(e instanceof CertpilotError)) return e;
    // Before any pod was touched (a subPath mount, an API error) there is nothing to report.
    if (done.size === 0 && !ROLLOUT_FAILURES.includes(e.code)) return e;
    let targets: PodTarget[] = [];
    try {
      targets = await this.targets(g);
    } catch {
      return e;
    }
    const lines = await Promise.all(
      targets.map(async (t) => {
        const s = await this.served(t, g, certificate);
        const o = done.get(t.uid)?.outcome ?? 'untouched';
        return `${t.name} ${o}, serves ${this.describe(s, serial)}`;
      }),
    );
    return new CertpilotError(e.code, `${e.message}; rollout stopped: ${lines.join('; ')}`, { cause: e, hint: e.hint, retryable: e.retryable });
  }
}
