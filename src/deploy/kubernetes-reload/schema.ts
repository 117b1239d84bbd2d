/** Options of the `kubernetes-reload` deployer: wait until pods see the new Secret, reload them one by one, verify each. */
import * as z from 'zod/mini';
import '../../zod-english.js';
import { kubernetesConnectionShape } from '../../kubernetes/connection-options.js';

/** One group of pods reloaded the same way. */
export const podGroupSchema = z
  .strictObject({
    name: z.optional(z.string().check(z.minLength(1))).check(z.describe('Name of the group in logs and reports (default: the selector).')),
    selector: z.string().check(z.minLength(1), z.describe('Label selector of the pods, e.g. `app=www`.')),
    container: z.optional(z.string().check(z.minLength(1))).check(z.describe('Container to exec in and read the mounted Secret from (default: the pod\'s first container).')),
    command: z
      .optional(z.array(z.string().check(z.minLength(1))).check(z.minLength(1)))
      .check(z.describe('Reload command run in each pod, as argv (no shell), e.g. ["apachectl", "graceful"] or ["mongooseimctl", "restart"].')),
    rolloutRestart: z
      .optional(z.union([z.literal('owner'), z.strictObject({ kind: z.enum(['Deployment', 'StatefulSet']), name: z.string().check(z.minLength(1)) })]))
      .check(z.describe('Instead of a command: restart the workload (`kubectl rollout restart`); `owner` finds the Deployment or StatefulSet from the pods.')),
    commandTimeoutSeconds: z._default(z.number().check(z.positive()), 120).check(z.describe('Longest wait for the reload command in one pod (`mongooseimctl restart` can take a while).')),
    port: z._default(z.number().check(z.int(), z.gte(1), z.lte(65535)), 443).check(z.describe('Port the pods serve TLS on; each pod is verified by a handshake to its pod IP on it.')),
    serverName: z.optional(z.string().check(z.minLength(1))).check(z.describe('SNI of the verifying handshake (default: the certificate\'s first DNS name).')),
    maxUnavailable: z._default(z.number().check(z.int(), z.gte(1)), 1).check(z.describe('Pods reloaded at once.')),
  })
  .check(z.refine((g) => (g.command === undefined) !== (g.rolloutRestart === undefined), { message: 'set exactly one of command and rolloutRestart' }));

/** Builds the schema of `deployers.<name>` with `type: kubernetes-reload` (a new one per call; the plug-in definition builds its own on first use). */
export const kubernetesReloadSchema = () => z.strictObject({
  ...kubernetesConnectionShape(),
  secretName: z.string().check(z.minLength(1), z.describe('The Secret the pods mount (written by a kubernetes-secret deployer earlier in the chain).')),
  key: z._default(z.string().check(z.minLength(1)), 'tls.crt').check(z.describe('The Secret key whose mounted file proves a pod sees the new Secret (its SHA-256 is compared).')),
  groups: z.array(podGroupSchema).check(z.minLength(1), z.describe('Pod groups, reloaded in order.')),
  propagationTimeoutSeconds: z._default(z.number().check(z.positive()), 300).check(z.describe('Longest wait for a pod to see the new Secret (the kubelet takes 30 to 100 s).')),
  pollIntervalSeconds: z._default(z.number().check(z.positive()), 2).check(z.describe('Pause between two reads of a pod\'s mounted file.')),
  verifyTimeoutSeconds: z._default(z.number().check(z.positive()), 30).check(z.describe('Longest wait for a pod to serve the new certificate after its reload.')),
  verifyChain: z._default(z.boolean(), false).check(z.describe('Also require each pod to send the deployed chain after the leaf, certificate by certificate (SHA-256). The leaf itself is always verified by its SHA-256 fingerprint, never by its serial.')),
  digestCommand: z._default(z.array(z.string().check(z.minLength(1))).check(z.minLength(1)), ['sha256sum']).check(z.describe('Command printing the SHA-256 of the file given as its last argument (coreutils `sha256sum` output).')),
});
