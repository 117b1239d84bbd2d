/** Options of the `kubernetes-secret` deployer: the certificate into one Secret, by server-side apply. */
import * as z from 'zod/mini';
import '../../zod-english.js';
import { kubernetesConnectionShape } from '../../kubernetes/connection-options.js';

/** What a Secret key holds. `fullbundle` is the full chain followed by the private key (the deck's). */
export const SECRET_CONTENTS = ['cert', 'chain', 'fullchain', 'key', 'fullbundle'] as const;

/** The orders of a `fullbundle` key (the same names as the files deployer's `bundle`). */
export const SECRET_BUNDLE_ORDERS = ['cert-chain-key', 'key-cert-chain'] as const;

/** The order of a `fullbundle` key. */
export type SecretBundleOrder = (typeof SECRET_BUNDLE_ORDERS)[number];

/** A Secret key's content. */
export type SecretContent = (typeof SECRET_CONTENTS)[number];

/** The keys written by default: the `kubernetes.io/tls` pair plus the certbot-named files the deck mounts. */
export const DEFAULT_SECRET_KEYS: Readonly<Record<string, SecretContent>> = Object.freeze({
  'tls.crt': 'fullchain',
  'tls.key': 'key',
  'cert.pem': 'cert',
  'fullchain.pem': 'fullchain',
  'privkey.pem': 'key',
  'fullbundle.pem': 'fullbundle',
});

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const secretKey = /^[-._a-zA-Z0-9]+$/;

/** Builds the schema of `deployers.<name>` with `type: kubernetes-secret` (a new one per call; the plug-in definition builds its own on first use). */
export const kubernetesSecretSchema = () => z.strictObject({
  ...kubernetesConnectionShape(),
  secretName: z.string().check(z.maxLength(253), z.regex(dns1123Subdomain, 'a DNS-1123 subdomain: lowercase letters, digits, "-" and "."'), z.describe('Name of the Secret to create or update.')),
  keys: z
    ._default(z.record(z.string().check(z.maxLength(253), z.regex(secretKey, 'letters, digits, "-", "_" and "."')), z.enum(SECRET_CONTENTS)), { ...DEFAULT_SECRET_KEYS })
    .check(z.describe('Secret key → content (cert, chain, fullchain, key, fullbundle). Default: tls.crt, tls.key, cert.pem, fullchain.pem, privkey.pem, fullbundle.pem.')),
  bundle: z
    ._default(z.enum(SECRET_BUNDLE_ORDERS), 'cert-chain-key')
    .check(z.describe('Order of every `fullbundle` key, as the files deployer\'s `bundle`: `cert-chain-key` (MongooseIM, the deck) or `key-cert-chain` (HAProxy, ejabberd, cert-manager `tls-combined.pem`).')),
  labels: z._default(z.record(z.string(), z.string()), {}).check(z.describe('Labels certpilot sets (and owns) on the Secret; labels others set are kept.')),
  fieldManager: z._default(z.string().check(z.minLength(1), z.maxLength(128)), 'certpilot').check(z.describe('Server-side apply field manager certpilot writes under.')),
});
