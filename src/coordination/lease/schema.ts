/** Options of the `lease` locker: one coordination.k8s.io/v1 Lease per certificate. */
import * as z from 'zod/mini';
import '../../zod-english.js';
import { kubernetesConnectionShape } from '../../kubernetes/connection-options.js';

/** Builds the schema of `locker: { type: lease }` (a new one per call; the plug-in definition builds its own on first use). */
export const leaseLockerSchema = () => z.strictObject({
  ...kubernetesConnectionShape(),
  leasePrefix: z
    ._default(z.string().check(z.regex(/^[a-z0-9]([-a-z0-9.]*[-a-z0-9.])?$/, 'lowercase letters, digits, "-" and "." (a DNS-1123 prefix)'), z.maxLength(200)), 'certpilot-')
    .check(z.describe('Prefix of the Lease names: the Lease of certificate `www` is `certpilot-www` (a name that is not a DNS-1123 subdomain gets a hash suffix).')),
  identity: z
    .optional(z.string().check(z.minLength(1), z.maxLength(200)))
    .check(z.describe('Holder identity written in the Lease, e.g. `${POD_NAME}`. Default: the host name (the pod name in a cluster). A random suffix tells two runs of one identity apart.')),
});
