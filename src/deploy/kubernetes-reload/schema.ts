/** Options of the `kubernetes-reload` deployer: wait until pods see the new Secret, reload them one by one, verify each. */
import { z } from 'zod';
import { kubernetesConnectionShape } from '../../kubernetes/connection-options.js';

/** One group of pods reloaded the same way. */
export const podGroupSchema = z
  .strictObject({
    name: z.string().min(1).optional().describe('Name of the group in logs and reports (default: the selector).'),
    selector: z.string().min(1).describe('Label selector of the pods, e.g. `app=www`.'),
    container: z.string().min(1).optional().describe('Container to exec in and read the mounted Secret from (default: the pod\'s first container).'),
    command: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Reload command run in each pod, as argv (no shell), e.g. ["apachectl", "graceful"] or ["mongooseimctl", "restart"].'),
    rolloutRestart: z
      .union([z.literal('owner'), z.strictObject({ kind: z.enum(['Deployment', 'StatefulSet']), name: z.string().min(1) })])
      .optional()
      .describe('Instead of a command: restart the workload (`kubectl rollout restart`); `owner` finds the Deployment or StatefulSet from the pods.'),
    commandTimeoutSeconds: z.number().positive().default(120).describe('Longest wait for the reload command in one pod (`mongooseimctl restart` can take a while).'),
    port: z.number().int().min(1).max(65535).default(443).describe('Port the pods serve TLS on; each pod is verified by a handshake to its pod IP on it.'),
    serverName: z.string().min(1).optional().describe('SNI of the verifying handshake (default: the certificate\'s first DNS name).'),
    maxUnavailable: z.number().int().min(1).default(1).describe('Pods reloaded at once.'),
  })
  .refine((g) => (g.command === undefined) !== (g.rolloutRestart === undefined), { message: 'set exactly one of command and rolloutRestart' });

/** Builds the schema of `deployers.<name>` with `type: kubernetes-reload` (a new one per call; the plug-in definition builds its own on first use). */
export const kubernetesReloadSchema = () => z.strictObject({
  ...kubernetesConnectionShape(),
  secretName: z.string().min(1).describe('The Secret the pods mount (written by a kubernetes-secret deployer earlier in the chain).'),
  key: z.string().min(1).default('tls.crt').describe('The Secret key whose mounted file proves a pod sees the new Secret (its SHA-256 is compared).'),
  groups: z.array(podGroupSchema).min(1).describe('Pod groups, reloaded in order.'),
  propagationTimeoutSeconds: z.number().positive().default(300).describe('Longest wait for a pod to see the new Secret (the kubelet takes 30 to 100 s).'),
  pollIntervalSeconds: z.number().positive().default(2).describe('Pause between two reads of a pod\'s mounted file.'),
  verifyTimeoutSeconds: z.number().positive().default(30).describe('Longest wait for a pod to serve the new certificate after its reload.'),
  verifyChain: z.boolean().default(false).describe('Also require each pod to send the deployed chain after the leaf, certificate by certificate (SHA-256). The leaf itself is always verified by its SHA-256 fingerprint, never by its serial.'),
  digestCommand: z.array(z.string().min(1)).min(1).default(['sha256sum']).describe('Command printing the SHA-256 of the file given as its last argument (coreutils `sha256sum` output).'),
});
