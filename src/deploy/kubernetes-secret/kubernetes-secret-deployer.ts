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
 * - The private key goes to the API server in the request body only: never argv, a log line or an
 *   error message.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { Logger } from '../../logger.js';
import type { KubernetesClient } from '../../kubernetes/kubernetes-client.js';
import type { StoredCertificate } from '../../storage/certificate-store.js';
import { pemFingerprints } from '../kubernetes-reload/tls-probe.js';
import type { DeployOptions, DeployResult, Deployer } from '../deployer.js';
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
export class KubernetesSecretDeployer implements Deployer {
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
}

function holds(secret: V1Secret, data: Record<string, string>, annotations: Record<string, string>, labels: Record<string, string>): boolean {
  const same = (have: Record<string, string> | undefined, want: Record<string, string>): boolean => Object.entries(want).every(([k, v]) => have?.[k] === v);
  return same(secret.data, data) && same(secret.metadata?.annotations, annotations) && same(secret.metadata?.labels, labels);
}
