/** Options of the `standalone` solver: certpilot answers http-01 on its own listener. */
import * as z from 'zod/mini';
import '../../../../zod-english.js';

/** Builds the schema of `solvers.<name>` with `type: standalone` (a new one per call; the plug-in definition builds its own on first use). */
export const standaloneSchema = () => z.strictObject({
  port: z._default(z.number().check(z.int(), z.gte(1), z.lte(65535)), 80).check(z.describe('Port of the listener. The CA always connects to port 80; map or forward it when certpilot listens elsewhere.')),
  host: z.optional(z.string()).check(z.describe('Address of the listener; default all interfaces.')),
});
