/**
 * `kubernetes-secret`: writes the live certificate version into one Secret by server-side apply
 * under certpilot's own field manager (cert-manager's `issuing/internal/secret.go`, DESIGN.md
 * §6.10). It needs only `get` and `patch` on that one Secret when the Secret exists (the deck's
 * Role), and `create` on secrets to make it the first time.
 *
 * - The apply names only certpilot's keys, labels and annotations, so keys, labels and annotations
 *   other managers own stay; ownership of certpilot's own keys is forced (a previous `kubectl
 *   patch` of `tls.crt` is taken over, not a conflict).
 * - A new Secret gets `type: kubernetes.io/tls` when it holds `tls.crt` and `tls.key` (`Opaque`
 *   otherwise); an existing Secret keeps its type (the field is immutable).
 * - Annotations record the certificate name, version and serial: the `kubernetes-reload` deployer
 *   and a human (`kubectl describe secret`) can tell which certificate the Secret holds.
 * - Idempotent: when the Secret already holds this version, nothing is written.
 * - {@link KubernetesSecretDeployer.verify} (a nothing-due run, `status`, the metrics) reads the
 *   Secret once (`get`, which the deploy needs too) and says when it no longer holds the live
 *   version: deleted (`kubectl delete secret`, a namespace made again), a key missing, or another
 *   certificate or key in it (another tool overwrote it). Certificates are compared by the
 *   leaf's SHA-256 fingerprint (never the serial or the annotations, which another writer may keep),
 *   keys by belonging to the certificate. An API server that does not answer or forbids the read
 *   rejects (the caller keeps the record and warns), never "lost".
 * - The private key goes to the API server in the request body only: never argv, a log line or an
 *   error message.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { Logger } from '../../logger.js';
import type { KubernetesClient } from '../../kubernetes/kubernetes-client.js';
import type { StoredCertificate } from '../../storage/certificate-store.js';
import { pemFingerprints } from '../kubernetes-reload/tls-probe.js';
import type { DeployOptions, DeployResult, DeployVerifier, Deployer } from '../deployer.js';
import type { SecretBundleOrder, SecretContent } from './schema.js';

/** Annotation keys the deployer writes. */
export const SECRET_ANNOTATIONS = {
  certificate: 'certpilot.io/certificate',
  version: 'certpilot.io/version',
  serial: 'certpilot.io/serial',
  /** SHA-256 of the leaf certificate (lowercase hex): what `kubernetes-reload` verifies pods against. */
  sha256: 'certpilot.io/sha256',
  notAfter: 'certpilot.io/not-after',
} as const;

/** Options of {@link KubernetesSecretDeployer}. */
export interface KubernetesSecretDeployerOptions {
  id: string;
  client: KubernetesClient;
  secretName: string;
  keys: Record<string, SecretContent>;
  labels: Record<string, string>;
  fieldManager: string;
  logger: Logger;
  /** Order of `fullbundle` keys; default `cert-chain-key`. */
  bundle?: SecretBundleOrder;
}

/** The PEM text one Secret key holds; `bundle` orders a `fullbundle` (default cert, chain, key). */
export function secretContent(certificate: StoredCertificate, content: SecretContent, bundle: SecretBundleOrder = 'cert-chain-key'): string {
  switch (content) {
    case 'cert':
      return certificate.certPem;
    case 'chain':
      return certificate.chainPem;
    case 'fullchain':
      return certificate.fullchainPem;
    case 'key':
      return certificate.privateKeyPem;
    case 'fullbundle':
      return bundle === 'key-cert-chain' ? certificate.privateKeyPem + certificate.fullchainPem : certificate.fullchainPem + certificate.privateKeyPem;
  }
}

/** Creates or updates one Secret with the certificate. */
export class KubernetesSecretDeployer implements Deployer, DeployVerifier {
  readonly id: string;

  constructor(private readonly options: KubernetesSecretDeployerOptions) {
    this.id = options.id;
  }

  async deploy(certificate: StoredCertificate, { signal }: DeployOptions = {}): Promise<DeployResult> {
    const { client, secretName, keys, labels, fieldManager, logger, bundle } = this.options;
    signal?.throwIfAborted();
    const where = `${client.namespace}/${secretName}`;
    const serial = certificate.metadata.serialNumber;
    const data: Record<string, string> = {};
    for (const [key, content] of Object.entries(keys)) data[key] = Buffer.from(secretContent(certificate, content, bundle)).toString('base64');
    const annotations = {
      [SECRET_ANNOTATIONS.certificate]: certificate.name,
      [SECRET_ANNOTATIONS.version]: String(certificate.version),
      [SECRET_ANNOTATIONS.serial]: serial,
      [SECRET_ANNOTATIONS.sha256]: pemFingerprints(certificate.certPem)[0] ?? '',
      [SECRET_ANNOTATIONS.notAfter]: certificate.metadata.notAfter,
    };
    const existing = await client.getSecret(secretName);
    signal?.throwIfAborted();
    const keyNames = Object.keys(keys);
    const details = { namespace: client.namespace, secret: secretName, keys: keyNames, version: certificate.version, serial };
    if (existing !== undefined && holds(existing, data, annotations, labels)) {
      logger.info({ secretName: where, version: certificate.version }, 'kubernetes-secret: already holds this version');
      return {
        message: `Secret ${where} already holds version ${certificate.version} (serial ${serial})`,
        details: { ...details, resourceVersion: existing.metadata?.resourceVersion, changed: false },
      };
    }
    const type = keyNames.includes('tls.crt') && keyNames.includes('tls.key') ? 'kubernetes.io/tls' : 'Opaque';
    const body: V1Secret & { metadata: { name: string } } = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: secretName, annotations, ...(Object.keys(labels).length > 0 ? { labels } : {}) },
      data,
      ...(existing === undefined ? { type } : {}),
    };
    const applied = await client.applySecret(body, fieldManager);
    const resourceVersion = applied.metadata?.resourceVersion;
    logger.info({ secretName: where, version: certificate.version, serial, resourceVersion, created: existing === undefined }, 'kubernetes-secret: applied');
    return {
      message: `${existing === undefined ? 'created' : 'updated'} Secret ${where} with version ${certificate.version} (serial ${serial}; keys ${keyNames.join(', ')})`,
      details: { ...details, resourceVersion, changed: true, created: existing === undefined },
    };
  }

  /**
   * One GET of the Secret: undefined when every key the deployer writes holds `certificate` (the
   * leaf by SHA-256 fingerprint, the chain by its certificates' fingerprints, a key by belonging to
   * the leaf), else why not. Rejects with the client's `CertpilotError` when the API server cannot
   * be asked (unreachable, 403 naming the `get` the Role lacks): not a lost Secret.
   */
  async verify(certificate: StoredCertificate, { signal }: DeployOptions = {}): Promise<string | undefined> {
    const { client, secretName, keys } = this.options;
    signal?.throwIfAborted();
    const where = `Secret ${client.namespace}/${secretName}`;
    const secret = await client.getSecret(secretName, signal);
    signal?.throwIfAborted();
    if (secret === undefined) return `${where} not found`;
    const [leaf] = pemFingerprints(certificate.certPem);
    for (const [key, content] of Object.entries(keys)) {
      const encoded = secret.data?.[key];
      if (encoded === undefined) return `${where} has no key ${key}`;
      const pem = Buffer.from(encoded, 'base64').toString('utf8');
      if (content === 'chain') {
        const have = pemFingerprints(pem);
        if (have.join() !== pemFingerprints(certificate.chainPem).join()) return `${where} holds another chain in ${key}`;
        continue;
      }
      if (content !== 'key') {
        // cert, fullchain, fullbundle: the leaf is the first certificate in either bundle order.
        const [held] = pemFingerprints(pem);
        if (held === undefined) return `${where} holds no certificate in ${key}`;
        if (held !== leaf) return `${where} holds another certificate in ${key}, SHA-256 ${held.slice(0, 16)}…`;
      }
      if ((content === 'key' || content === 'fullbundle') && !holdsKeyOf(pem, certificate)) return `${where} holds another private key in ${key}`;
    }
    return undefined;
  }
}

/** The first `-----BEGIN … PRIVATE KEY-----` block of `pem` (PKCS#8, PKCS#1 or SEC 1), or undefined. */
function privateKeyBlock(pem: string): string | undefined {
  return /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/.exec(pem)?.[0];
}

/** True when the key in `pem` is the private key of `certificate` (no key material leaves this function). */
function holdsKeyOf(pem: string, certificate: StoredCertificate): boolean {
  const block = privateKeyBlock(pem);
  if (block === undefined) return false;
  // The same text as stored needs no parsing; another encoding of the same key is checked by crypto.
  if (block.replace(/\s+/g, '') === (privateKeyBlock(certificate.privateKeyPem) ?? '').replace(/\s+/g, '')) return true;
  try {
    return new X509Certificate(certificate.certPem).checkPrivateKey(createPrivateKey(block));
  } catch {
    return false;
  }
}

function holds(secret: V1Secret, data: Record<string, string>, annotations: Record<string, string>, labels: Record<string, string>): boolean {
  const same = (have: Record<string, string> | undefined, want: Record<string, string>): boolean => Object.entries(want).every(([k, v]) => have?.[k] === v);
  return same(secret.data, data) && same(secret.metadata?.annotations, annotations) && same(secret.metadata?.labels, labels);
}
