/** Options of the `kubernetes-secret` state store: accounts and certificates' state in Secrets. */
import * as z from 'zod/mini';
import '../../../zod-english.js';
import { kubernetesConnectionShape } from '../../../kubernetes/connection-options.js';

/** Builds the schema of `stateStore: { type: kubernetes-secret }` (a new one per call; the plug-in definition builds its own on first use). */
export const kubernetesSecretStateSchema = () => z.strictObject({
  ...kubernetesConnectionShape(),
  secretPrefix: z
    ._default(z.string().check(z.maxLength(40), z.regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'lowercase letters, digits and "-" (a DNS-1123 label)')), 'certpilot')
    .check(z.describe('Prefix of the Secrets\' names: `<prefix>-account-<hash>` and `<prefix>-cert-<name>`.')),
  keepVersions: z
    ._default(z.number().check(z.int(), z.gte(0), z.lte(20)), 3)
    .check(z.describe('Earlier certificate versions kept beside the live one in its Secret (each ~10 KiB; a Secret holds at most 1 MiB).')),
});

/** The parsed options. */
export type KubernetesSecretStateOptions = z.output<ReturnType<typeof kubernetesSecretStateSchema>>;
