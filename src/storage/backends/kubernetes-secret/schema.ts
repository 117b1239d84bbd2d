/** Options of the `kubernetes-secret` state store: accounts and certificates' state in Secrets. */
import { z } from 'zod';
import { kubernetesConnectionShape } from '../../../kubernetes/connection-options.js';

/** Builds the schema of `stateStore: { type: kubernetes-secret }` (a new one per call; the plug-in definition builds its own on first use). */
export const kubernetesSecretStateSchema = () => z.strictObject({
  ...kubernetesConnectionShape(),
  secretPrefix: z
    .string()
    .max(40)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'lowercase letters, digits and "-" (a DNS-1123 label)')
    .default('certpilot')
    .describe('Prefix of the Secrets\' names: `<prefix>-account-<hash>` and `<prefix>-cert-<name>`.'),
  keepVersions: z
    .number()
    .int()
    .min(0)
    .max(20)
    .default(3)
    .describe('Earlier certificate versions kept beside the live one in its Secret (each ~10 KiB; a Secret holds at most 1 MiB).'),
});

/** The parsed options. */
export type KubernetesSecretStateOptions = z.output<ReturnType<typeof kubernetesSecretStateSchema>>;
