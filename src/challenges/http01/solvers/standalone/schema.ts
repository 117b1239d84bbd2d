/** Options of the `standalone` solver: certpilot answers http-01 on its own listener. */
import { z } from 'zod';

/** Builds the schema of `solvers.<name>` with `type: standalone` (a new one per call; the plug-in definition builds its own on first use). */
export const standaloneSchema = () => z.strictObject({
  port: z.number().int().min(0).max(65535).default(80).describe('Port of the listener. The CA always connects to port 80; map or forward it when certpilot listens elsewhere.'),
  host: z.string().optional().describe('Address of the listener; default all interfaces.'),
});
