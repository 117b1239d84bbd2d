/**
 * The `kubernetes-secret` state backend: state keys in Secrets, so a CronJob or a daemon runs on
 * any node of any zone with no volume.
 *
 * - The account of each ACME directory is one Secret, `<prefix>-account-<hash>`; each
 *   certificate's state (live version, earlier versions, renewal state with its deploy records,
 *   pending order) is one Secret, `<prefix>-cert-<name>`. Both are labelled
 *   `app.kubernetes.io/managed-by: certpilot` and `certpilot.io/state: account|certificate`.
 * - Inside a Secret each key's fields are data entries `<part>.<field>` (`versions.3.cert.pem`,
 *   `live.version`); the annotation `certpilot.io/state-index` lists, per key, its fields and its
 *   version (a random token set on every write), and `certpilot.io/state-key` names the key prefix
 *   the Secret holds (a hashed name is checked against it).
 * - Every write is a create (409 AlreadyExists when another run created it first) or a replace with
 *   the `resourceVersion` read (409 Conflict when another run wrote since, whatever key it wrote).
 *   On a 409 the Secret is read again and the key's own precondition checked again: a write to
 *   another key of the same Secret is merged, never lost nor overwritten; a change of this key is
 *   a {@link StateConflictError}. Deleting a Secret's last key deletes the Secret with a
 *   `resourceVersion` precondition.
 * - Size: the API server refuses a Secret whose data exceeds 1 MiB (422). {@link keepVersions}
 *   bounds the earlier versions kept (the domain store prunes older ones after each save), and
 *   {@link checkWritable} refuses, before an order, a version that would not fit.
 */
import { randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { CertpilotError } from '../../../errors.js';
import type { KubernetesClient } from '../../../kubernetes/kubernetes-client.js';
import { StateConflictError, type ReadSnapshots, type StateBackend, type StateEntry, type StateNames, type StateValue, type VersionRetention, type WritableProbe, type WriteOptions } from '../../state-backend.js';
import { dataKey, locateStateKey, type SecretLocation } from './secret-name.js';

/** The label every state Secret carries (and `list` selects by, with {@link STATE_LABEL}). */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** `account` or `certificate`: tells state Secrets from those the `kubernetes-secret` deployer writes. */
export const STATE_LABEL = 'certpilot.io/state';
/** The JSON index of a state Secret: per key, its fields and version. */
export const INDEX_ANNOTATION = 'certpilot.io/state-index';
/** The key prefix a state Secret holds. */
export const KEY_ANNOTATION = 'certpilot.io/state-key';

/** The API server's limit on a Secret's data (`MaxSecretSize`, 1 MiB). */
export const MAX_SECRET_BYTES = 1024 * 1024;
/** Room kept free below the limit for metadata and the next renewal state. */
const HEADROOM_BYTES = 64 * 1024;
/** Re-reads after a 409 before giving up (each one means another writer won a race). */
const MAX_ATTEMPTS = 10;
const FIELD_MANAGER = 'certpilot-state';

type Index = Record<string, { version: string; fields: string[] }>;

/** Options of {@link KubernetesSecretStateBackend}. */
export interface KubernetesSecretStateBackendOptions {
  client: KubernetesClient;
  /** Prefix of the Secrets' names (default `certpilot`). */
  secretPrefix?: string;
  /** Earlier versions kept per certificate (default 3). */
  keepVersions?: number;
}

function decode(secret: V1Secret | undefined, dataKey: string): string | undefined {
  const v = secret?.data?.[dataKey];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

/** The bytes the API server counts against the limit: the decoded data values. */
export function secretDataBytes(data: Record<string, string> | undefined): number {
  let n = 0;
  for (const v of Object.values(data ?? {})) n += Buffer.from(v, 'base64').length;
  return n;
}

/** How long a listing from {@link KubernetesSecretStateBackend.stateNames} stands in for GETs in snapshot views. */
const LISTING_FRESH_MS = 30_000;

/** State keys in Secrets of one namespace. */
export class KubernetesSecretStateBackend implements StateBackend, VersionRetention, WritableProbe, ReadSnapshots, StateNames {
  readonly description: string;
  readonly keepVersions: number;
  private readonly client: KubernetesClient;
  private readonly prefix: string;
  /** In a {@link snapshot} view: each Secret as first read (a write drops its entry). */
  private cache: Map<string, Promise<V1Secret | undefined>> | undefined;
  /**
   * The Secrets the last {@link stateNames} listed, and when: a {@link snapshot} view taken within
   * {@link LISTING_FRESH_MS} reads a listed Secret from here instead of a GET (a run that looks for
   * one-offs and then plans 20 certificates makes one LIST, not a LIST and 20 GETs). A write drops
   * the Secret's entry; a snapshot's reads may be stale anyway (the run reads again under its lock).
   */
  private listed: { at: number; secrets: Map<string, V1Secret> } | undefined;

  constructor(options: KubernetesSecretStateBackendOptions) {
    this.client = options.client;
    this.prefix = options.secretPrefix ?? 'certpilot';
    this.keepVersions = options.keepVersions ?? 3;
    this.description = `Secrets in namespace ${this.client.namespace}`;
  }

  /** See {@link ReadSnapshots}: a view reading each Secret once (a plan's four reads of a certificate are one GET). */
  snapshot(): StateBackend {
    const view = Object.create(this) as KubernetesSecretStateBackend;
    view.cache = new Map();
    return view;
  }

  /** Where a key lives: the Secret's name, the key prefix it holds, and the key's part within it. */
  locate(key: string): SecretLocation {
    return locateStateKey(this.prefix, key);
  }

  async get(key: string): Promise<StateEntry | undefined> {
    const at = this.locate(key);
    const secret = await this.readCached(at);
    const entry = this.indexOf(secret, at.secret)[at.part];
    if (secret === undefined || entry === undefined) return undefined;
    const value: Record<string, string> = {};
    for (const field of entry.fields) {
      const text = decode(secret, dataKey(at.part, field));
      if (text === undefined) throw this.corrupt(at.secret, `its index names ${dataKey(at.part, field)}, which is missing`);
      value[field] = text;
    }
    return { value, version: entry.version };
  }

  async put(key: string, value: StateValue, options: WriteOptions = {}): Promise<string> {
    const version = randomBytes(8).toString('hex');
    await this.update(key, options, (data, index, part) => {
      for (const [field, text] of Object.entries(value)) data[dataKey(part, field)] = Buffer.from(text, 'utf8').toString('base64');
      index[part] = { version, fields: Object.keys(value).sort() };
    });
    return version;
  }

  async delete(key: string, options: WriteOptions = {}): Promise<void> {
    await this.update(key, options, (_data, index, part) => {
      delete index[part];
    });
  }

  async list(prefix: string): Promise<string[]> {
    return this.keysOf(await this.client.listSecrets(`${MANAGED_BY_LABEL}=certpilot,${STATE_LABEL}`), prefix);
  }

  /** {@link StateNames}: one LIST, whose Secrets the next snapshot views read instead of a GET each. */
  async stateNames(): Promise<string[]> {
    const secrets = await this.client.listSecrets(`${MANAGED_BY_LABEL}=certpilot,${STATE_LABEL}`);
    this.listed = { at: Date.now(), secrets: new Map(secrets.flatMap((s) => (s.metadata?.name ? [[s.metadata.name, s] as const] : []))) };
    const names = new Set<string>();
    for (const key of this.keysOf(secrets, 'certificates/')) {
      const m = /^certificates\/([^/]+)\/renewal-state$/.exec(key);
      if (m?.[1] !== undefined) names.add(m[1]);
    }
    return [...names].sort();
  }

  /** The state keys `secrets` hold under `prefix`, sorted. */
  private keysOf(secrets: readonly V1Secret[], prefix: string): string[] {
    const keys: string[] = [];
    for (const secret of secrets) {
      const holds = secret.metadata?.annotations?.[KEY_ANNOTATION];
      // Another prefix is another store (secretPrefix keeps stores apart in one namespace).
      if (holds === undefined || !secret.metadata?.name?.startsWith(`${this.prefix}-`)) continue;
      for (const part of Object.keys(this.indexOf(secret, secret.metadata?.name ?? '?'))) keys.push(part === '' ? holds : `${holds}/${part}`);
    }
    return keys.filter((k) => k.startsWith(prefix)).sort();
  }

  /** Refuses, before an order, a new version that would take the certificate's Secret near the 1 MiB limit. */
  async checkWritable(name: string, bytes: number): Promise<void> {
    const at = this.locate(`certificates/${name}/live`);
    const current = secretDataBytes((await this.read(at))?.data);
    // The new version, plus the earlier ones kept: a Secret pruned to keepVersions stays below this.
    if (current + bytes / 3 > MAX_SECRET_BYTES - HEADROOM_BYTES) {
      throw new CertpilotError('ERR_STORAGE_FULL', `storage: Secret ${at.secret} in namespace ${this.client.namespace} has no room for a new certificate version (${current} of ${MAX_SECRET_BYTES} bytes used); no order was placed`, {
        hint: 'Lower stateStore.keepVersions, or remove old versions from the Secret, then run again.',
      });
    }
  }

  /** Read, check the key's precondition, change, write with the resourceVersion read; on a 409 start again. */
  private async update(key: string, { ifVersion }: WriteOptions, change: (data: Record<string, string>, index: Index, part: string) => void): Promise<void> {
    const at = this.locate(key);
    this.cache?.delete(at.secret);
    this.listed?.secrets.delete(at.secret);
    for (let attempt = 1; ; attempt++) {
      const secret = await this.read(at);
      const index = this.indexOf(secret, at.secret);
      const current = index[at.part]?.version ?? null;
      if (ifVersion !== undefined && current !== ifVersion) {
        throw new StateConflictError(key, current === null ? 'it is absent' : ifVersion === null ? 'it exists already' : 'it changed since it was read');
      }
      const data: Record<string, string> = { ...(secret?.data ?? {}) };
      for (const field of index[at.part]?.fields ?? []) delete data[dataKey(at.part, field)];
      change(data, index, at.part);
      try {
        if (secret === undefined) {
          if (Object.keys(index).length === 0) return;
          await this.client.createSecret(this.build(at, undefined, data, index), FIELD_MANAGER);
        } else {
          const resourceVersion = secret.metadata?.resourceVersion ?? '';
          if (Object.keys(index).length === 0) await this.client.deleteSecret(at.secret, resourceVersion);
          else {
            const body = this.build(at, secret, data, index);
            await this.client.replaceSecret({ ...body, metadata: { ...body.metadata, resourceVersion } }, FIELD_MANAGER);
          }
        }
        return;
      } catch (err) {
        if (err instanceof CertpilotError && err.code === 'ERR_KUBERNETES_CONFLICT' && attempt < MAX_ATTEMPTS) continue;
        if (err instanceof CertpilotError && err.code === 'ERR_KUBERNETES_API' && /Too long/i.test(err.message)) {
          throw new CertpilotError('ERR_STORAGE_FULL', `storage: writing ${key} to Secret ${at.secret} refused: the Secret would exceed the API server's 1 MiB limit`, {
            cause: err,
            hint: 'Lower stateStore.keepVersions, or remove old versions from the Secret, then run again.',
          });
        }
        throw err;
      }
    }
  }

  private build(at: ReturnType<KubernetesSecretStateBackend['locate']>, live: V1Secret | undefined, data: Record<string, string>, index: Index): V1Secret & { metadata: { name: string } } {
    const md = { ...(live?.metadata ?? {}) };
    delete md.managedFields;
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      type: live?.type ?? 'Opaque',
      metadata: {
        ...md,
        name: at.secret,
        labels: { ...(md.labels ?? {}), [MANAGED_BY_LABEL]: 'certpilot', [STATE_LABEL]: at.kind },
        annotations: { ...(md.annotations ?? {}), [KEY_ANNOTATION]: at.holds, [INDEX_ANNOTATION]: JSON.stringify(index) },
      },
      data,
    };
  }

  /** {@link read}, or in a snapshot view the Secret as first read. */
  private readCached(at: { secret: string; holds: string }): Promise<V1Secret | undefined> {
    if (!this.cache) return this.read(at);
    let secret = this.cache.get(at.secret);
    if (!secret) {
      const listed = this.listed && Date.now() - this.listed.at <= LISTING_FRESH_MS ? this.listed.secrets.get(at.secret) : undefined;
      // A listed Secret that is not this key's (another store's) is read again, for read()'s error.
      secret = listed?.metadata?.annotations?.[KEY_ANNOTATION] === at.holds ? Promise.resolve(listed) : this.read(at);
      this.cache.set(at.secret, secret);
      secret.catch(() => this.cache?.delete(at.secret));
    }
    return secret;
  }

  private async read(at: { secret: string; holds: string }): Promise<V1Secret | undefined> {
    const secret = await this.client.getSecret(at.secret);
    if (secret === undefined) return undefined;
    const holds = secret.metadata?.annotations?.[KEY_ANNOTATION];
    if (holds !== at.holds || secret.metadata?.labels?.[MANAGED_BY_LABEL] !== 'certpilot') {
      throw new CertpilotError('ERR_STORAGE_CORRUPT', `storage: Secret ${at.secret} in namespace ${this.client.namespace} is not certpilot's state of ${at.holds}${holds ? ` (it holds ${holds})` : ''}`, {
        hint: `Move that Secret away, or set stateStore.secretPrefix so certpilot's Secrets get other names.`,
      });
    }
    return secret;
  }

  private indexOf(secret: V1Secret | undefined, name: string): Index {
    if (secret === undefined) return {};
    const text = secret.metadata?.annotations?.[INDEX_ANNOTATION];
    if (text === undefined) return {};
    try {
      const index = JSON.parse(text) as unknown;
      if (typeof index !== 'object' || index === null || Array.isArray(index)) throw new Error('not an object');
      return index as Index;
    } catch {
      throw this.corrupt(name, `its ${INDEX_ANNOTATION} annotation is not valid JSON`);
    }
  }

  private corrupt(secret: string, why: string): CertpilotError {
    return new CertpilotError('ERR_STORAGE_CORRUPT', `storage: reading Secret ${secret} in namespace ${this.client.namespace} failed: ${why}`, {
      hint: 'Restore the Secret from a backup (or `certpilot state copy` from one), or delete it and run `certpilot renew --force`.',
    });
  }
}

