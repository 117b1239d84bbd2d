/** Fixtures for the Kubernetes tests: stored certificate versions, and a stand-in with apache pods. */
import type { TestContext } from 'node:test';
import { makeTestBundle } from '../../src/testing/certificate-fixtures.js';
import type { StoredCertificate } from '../../src/storage/certificate-store.js';
import { APACHE_BINARY } from './apache-pod.js';
import { startKubeStandin, type KubeStandin, type KubeStandinOptions } from './kube-standin.js';
import { requireServer } from './servers.js';

/** A stored certificate version (real key and chain) for `domains`. */
export function storedCertificate(version: number, domains = ['www.example.test'], name = 'www'): StoredCertificate {
  const bundle = makeTestBundle({ domains });
  const dir = `/nonexistent/live/${name}`;
  return { ...bundle, name, version, paths: { dir, cert: `${dir}/cert.pem`, chain: `${dir}/chain.pem`, fullchain: `${dir}/fullchain.pem`, privkey: `${dir}/privkey.pem` } };
}

/** Skips (or, in CI, fails) when apache2 is missing. */
export function requireApache(t: TestContext): boolean {
  return requireServer(t, APACHE_BINARY, 'Debian package `apache2`; run `bash scripts/setup.sh`');
}

/** Options of {@link startStandinWithPods}. */
export interface StandinWithPodsOptions extends KubeStandinOptions {
  pods: number;
  secretName?: string;
  labels?: Record<string, string>;
  /** The certificate the Secret holds before the test (what the pods serve at start). */
  initial: StoredCertificate;
  subPath?: boolean;
}

/** A stand-in holding a `kubernetes.io/tls` Secret with `initial` and `pods` apache pods mounting it. */
export async function startStandinWithPods(o: StandinWithPodsOptions): Promise<KubeStandin> {
  const standin = await startKubeStandin(o);
  const secretName = o.secretName ?? 'www-certificate';
  try {
    standin.putSecret(secretName, { 'tls.crt': o.initial.fullchainPem, 'tls.key': o.initial.privateKeyPem, other: 'kept' }, { type: 'kubernetes.io/tls', labels: { team: 'web' } });
    for (let i = 0; i < o.pods; i++) {
      await standin.addPod({ name: `www-${i}`, labels: o.labels ?? { app: 'www' }, secretName, subPath: o.subPath === true && i === o.pods - 1 });
    }
  } catch (e) {
    await standin.stop();
    throw e;
  }
  return standin;
}

/** The reloads (`apachectl …` execs) that started before their pod saw the Secret's latest projection. */
export function reloadsBeforeProjection(standin: KubeStandin): string[] {
  const bad: string[] = [];
  for (const e of standin.execs.filter((x) => x.argv[0] === 'apachectl')) {
    const seen = standin.projections.some((p) => p.pod === e.pod && p.at <= e.at);
    if (!seen) bad.push(`${e.pod} at ${e.at}`);
  }
  return bad;
}

/** Resolves once `check` holds (polled every 25 ms; gives up after `timeoutMs`). */
export async function until(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('harness: condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
