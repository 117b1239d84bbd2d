/**
 * The configuration as the generated pods read it, made from the user's file (its YAML document,
 * comments kept): state and locker set for the cluster (`--state`, the Lease), every secret
 * replaced by a file path inside a Secret the user creates (never its value), and CA files copied
 * into the ConfigMap. Nothing here reads files or the environment: the CLI hands in the text and
 * the CA files' contents.
 */
import { isMap, isScalar, isSeq, parseDocument, type Document, type YAMLMap } from 'yaml';
import { CertpilotError } from '../../errors.js';
import { CONFIG_SECTIONS, sectionSpec, type SectionName } from '../../plugins/plugin-kinds.js';
import { isSecretFieldName, redactText, SECRET_MAP_FIELD_NAMES } from '../../redact.js';

/** Where the ConfigMap with the configuration is mounted, and the file's name in it. */
export const CONFIG_DIR = '/etc/certpilot';
/** The configuration file inside {@link CONFIG_DIR}. */
export const CONFIG_FILE = 'certpilot.yaml';
/** The state directory in the pod (the image's volume path, and certpilot's default). */
export const STATE_DIR = '/var/lib/certpilot';
/** Where the Secrets the user creates are mounted, one directory per Secret. */
export const SECRETS_DIR = '/var/run/secrets/certpilot';

/** `--state`: Secrets in the namespace (no volume), or a PersistentVolumeClaim (the deck's way). */
export type StateMode = 'secret' | 'pvc';

/** A Secret the user creates and the pods mount: its name, and the keys certpilot reads. */
export interface SecretReference {
  name: string;
  /** key → the configuration field it stands for (for comments and docs). */
  keys: Map<string, string>;
}

/** A non-secret file the configuration names (a CA bundle), copied into the ConfigMap. */
export interface CopiedFile {
  /** The configuration field, e.g. `acme.caBundle`. */
  field: string;
  /** Its path as written (resolved by the CLI against the config file's directory). */
  path: string;
  /** The key in the ConfigMap. */
  key: string;
}

/** The adjusted configuration and what it needs from the cluster. */
export interface DeployedConfig {
  /** For the CLI's own use (computing the Role): state and locker adjusted, paths as the user wrote them. */
  platformText: string;
  /** The text the ConfigMap holds. */
  text: string;
  secrets: SecretReference[];
  files: CopiedFile[];
  /** Names of the `redis` solvers (what `serve` reads tokens from). */
  redisSolvers: string[];
  /** The locker the pods use: always `lease` (a file lock does not reach across pods; anything else is refused). */
  locker: 'lease';
}

/** Fields that hold a secret value, and the `…File` field certpilot reads it from instead. */
const SECRET_FIELDS: Readonly<Record<string, string>> = { password: 'passwordFile', secret: 'secretFile', hmacKey: 'hmacKeyFile' };
/** Fields that name a CA certificate file: copied into the ConfigMap (a CA certificate is public). */
const CA_FIELDS = new Set(['caBundle', 'caFile']);

const kebab = (s: string): string => s.replace(/File$/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const dnsLabel = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40) || 'x';

function conflict(field: string, message: string, hint: string): CertpilotError {
  return new CertpilotError('ERR_MANIFESTS_CONFIG', `kubernetes manifests: ${field}: ${message}`, { hint });
}

function mapAt(doc: Document, path: readonly string[]): YAMLMap | undefined {
  const node = doc.getIn(path, true);
  return isMap(node) ? node : undefined;
}

function typeOf(map: YAMLMap | undefined): string | undefined {
  const t = map?.get('type');
  return typeof t === 'string' ? t : undefined;
}

/**
 * Builds the configuration the pods read from the user's file text. `name` prefixes the Secrets
 * to create. Fails naming the field when the file asks for something the cluster setup cannot
 * honour (a file lock, a kubeconfig, state on disk with `--state secret`).
 */
export function deployedConfig(
  text: string,
  options: {
    name: string;
    state: StateMode;
    /** A plug-in type's own credential options and their file forms (`PluginDefinition.credentialOptions`). */
    credentialOptions?: (type: string) => Readonly<Record<string, string>> | undefined;
  },
): DeployedConfig {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw conflict('(file)', `not valid YAML: ${doc.errors[0]?.message ?? ''}`, 'Run `certpilot config check` on it first.');
  if (doc.contents === null) doc.contents = doc.createNode({}) as never;
  if (!isMap(doc.contents)) throw conflict('(file)', 'is not a mapping', 'Run `certpilot config check` on it first.');

  // State: Secrets (no volume) or the state directory on a claim.
  const store = mapAt(doc, ['stateStore']);
  const storeType = typeOf(store) ?? 'filesystem';
  if (options.state === 'secret') {
    if (store && storeType !== 'kubernetes-secret') throw conflict('stateStore', `is type ${storeType}, but --state secret keeps state in Secrets`, 'Remove `stateStore` (or set `type: kubernetes-secret`), or generate with --state pvc.');
    if (!store) doc.set('stateStore', doc.createNode({ type: 'kubernetes-secret' }));
  } else if (storeType !== 'filesystem') {
    throw conflict('stateStore', `is type ${storeType}, but --state pvc keeps state on the claim`, 'Remove `stateStore`, or generate with --state secret.');
  }
  doc.set('stateDir', STATE_DIR);

  // One renewal per certificate across pods and Jobs: the Lease (a file lock needs a shared volume).
  const locker = mapAt(doc, ['locker']);
  if (locker && typeOf(locker) !== 'lease') throw conflict('locker', `is type ${typeOf(locker) ?? '?'}: a file lock does not reach across pods`, 'Remove `locker` (the manifests use `type: lease`) or set `type: lease`.');
  if (!locker) doc.set('locker', doc.createNode({ type: 'lease' }));

  // In the cluster every Kubernetes plug-in uses the pod's service account. Every plug-in section
  // of the table of kinds: each named instance (`solvers.<name>`), or the single one (`locker`).
  const sections: [string, YAMLMap][] = [];
  for (const section of Object.keys(CONFIG_SECTIONS) as SectionName[]) {
    const m = mapAt(doc, [section]);
    if (!m) continue;
    if (sectionSpec(section).shape === 'single') sections.push([section, m]);
    else for (const item of m.items) if (isScalar(item.key) && isMap(item.value)) sections.push([`${section}.${String(item.key.value)}`, item.value]);
  }
  for (const [where, map] of sections) {
    for (const [key, path] of [['kubeconfig', [where]], ['kubeconfig', [where, 'selfCheck', 'pods']]] as const) {
      const inner = path.length === 1 ? map : (map.getIn(path.slice(1)) as unknown);
      if (isMap(inner) && inner.has(key)) throw conflict(`${path.join('.')}.${key}`, 'a kubeconfig in the cluster', 'Remove `kubeconfig` (and `context`): in the cluster certpilot uses the pod\'s service account, which the generated Role is bound to.');
    }
  }
  const platformText = doc.toString();

  // Secrets → files in Secrets the user creates; CA files → keys of the ConfigMap.
  const secrets = new Map<string, SecretReference>();
  const files: CopiedFile[] = [];
  const redisSolvers: string[] = [];
  const walk = (map: YAMLMap, path: string[], secretName: string, credentials: Readonly<Record<string, string>> = {}): void => {
    for (const item of [...map.items]) {
      if (!isScalar(item.key)) continue;
      const key = String(item.key.value);
      // The instance's own credential options apply to its top-level options only.
      const own = path.length === 2 ? credentials : {};
      if (isMap(item.value) && SECRET_MAP_FIELD_NAMES.has(key.toLowerCase()) && item.value.items.length > 0) {
        throw conflict([...path, key].join('.'), 'its values may be secrets, which would be written into the ConfigMap', 'Set them from a Secret in an overlay (env valueFrom on the container, then `passEnv`), then generate again.');
      }
      if (isMap(item.value)) {
        walk(item.value, [...path, key], secretName);
        continue;
      }
      const field = [...path, key].join('.');
      const fileField = SECRET_FIELDS[key] ?? own[key] ?? (Object.values(SECRET_FIELDS).includes(key) || Object.values(own).includes(key) ? key : undefined);
      if (fileField !== undefined) {
        // The path below the instance (`acme.eab`, `solvers.<name>`): `sentinel.password` → `sentinel-password`.
        const inner = path.slice(2);
        const secretKey = [...inner, kebab(fileField)].map(kebab).join('-');
        const ref = secrets.get(secretName) ?? { name: secretName, keys: new Map<string, string>() };
        const taken = ref.keys.get(secretKey);
        if (taken !== undefined && taken !== field) {
          // Two instances of one name in two sections (a solver and a notifier `main`) would share a key.
          throw conflict(field, `would be key ${secretKey} of Secret ${secretName}, which already holds ${taken}`, 'Give one of the two instances another name, then generate again.');
        }
        ref.keys.set(secretKey, field);
        secrets.set(secretName, ref);
        map.delete(key);
        map.set(fileField, `${SECRETS_DIR}/${secretName}/${secretKey}`);
      } else if (isSecretFieldName(key) && item.value !== null && !(isScalar(item.value) && (item.value.value === null || item.value.value === ''))) {
        // A secret (by the one list in redact.ts) with no file form: it would be a value in the ConfigMap.
        throw conflict(field, 'holds a secret value, which would be written into the ConfigMap', 'Move it out of the configuration (a file from a Secret you create, or an environment variable set from a Secret in an overlay), then generate again.');
      } else if (CA_FIELDS.has(key) && isScalar(item.value) && typeof item.value.value === 'string') {
        const cmKey = `${dnsLabel(field.replace(/\./g, '-'))}.pem`;
        files.push({ field, path: item.value.value, key: cmKey });
        map.set(key, `${CONFIG_DIR}/${cmKey}`);
      }
    }
  };
  const acme = mapAt(doc, ['acme']);
  if (acme) walk(acme, ['acme'], `${options.name}-eab`);
  // Every named section of the table (solvers, deployers, notifiers…): one Secret per instance.
  for (const section of Object.keys(CONFIG_SECTIONS) as SectionName[]) {
    if (sectionSpec(section).shape !== 'named') continue;
    for (const item of mapAt(doc, [section])?.items ?? []) {
      if (!isScalar(item.key) || !isMap(item.value)) continue;
      const instance = String(item.key.value);
      if (section === 'solvers' && typeOf(item.value) === 'redis') redisSolvers.push(instance);
      const type = typeOf(item.value);
      walk(item.value, [section, instance], `${options.name}-${dnsLabel(instance)}`, (type !== undefined ? options.credentialOptions?.(type) : undefined) ?? {});
    }
  }
  // Whatever the field's name: a URL with a password (`redis://:pw@host`, a hook's argument) or a
  // private key would be a value in the ConfigMap, which any reader of the namespace can read.
  const refuseInline = (node: unknown, path: string): void => {
    if (isMap(node)) {
      for (const item of node.items) if (isScalar(item.key)) refuseInline(item.value, path === '' ? String(item.key.value) : `${path}.${String(item.key.value)}`);
    } else if (isSeq(node)) {
      node.items.forEach((value, i) => refuseInline(value, `${path}[${i}]`));
    } else if (isScalar(node) && typeof node.value === 'string' && redactText(node.value) !== node.value) {
      throw conflict(path, 'holds a credential (a password in a URL or an argument, a token, an Authorization header, a private key), which would be written into the ConfigMap', "Write the value as ${NAME} and give the pods NAME from a Secret you create (an overlay's env valueFrom secretKeyRef), or use the plug-in's file option (passwordFile), then generate again.");
    }
  };
  refuseInline(doc.contents, '');
  return { platformText, text: doc.toString(), secrets: [...secrets.values()], files, redisSolvers, locker: 'lease' };
}
