/** Options of the `tls-alpn` solver: certpilot answers tls-alpn-01 on its own TLS listener. */
import { z } from 'zod';

/** Builds the schema of `solvers.<name>` with `type: tls-alpn` (a new one per call; the plug-in definition builds its own on first use). */
export const tlsAlpnSchema = () => z.strictObject({
  port: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(443)
    .describe('Port of the TLS listener. The CA always connects to port 443; map or forward it when certpilot listens elsewhere. The port must be free during the renewal.'),
  host: z.string().optional().describe('Address of the listener; default all interfaces.'),
});
