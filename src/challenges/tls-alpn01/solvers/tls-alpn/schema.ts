/** Options of the `tls-alpn` solver: certpilot answers tls-alpn-01 on its own TLS listener. */
import * as z from 'zod/mini';
import '../../../../zod-english.js';

/** Builds the schema of `solvers.<name>` with `type: tls-alpn` (a new one per call; the plug-in definition builds its own on first use). */
export const tlsAlpnSchema = () => z.strictObject({
  port: z
    ._default(z.number().check(z.int(), z.gte(1), z.lte(65535)), 443)
    .check(z.describe('Port of the TLS listener. The CA always connects to port 443; map or forward it when certpilot listens elsewhere. The port must be free during the renewal.')),
  host: z.optional(z.string()).check(z.describe('Address of the listener; default all interfaces.')),
});
