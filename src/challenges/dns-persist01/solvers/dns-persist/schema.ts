/** Options of the `dns-persist` solver: checks the standing dns-persist-01 record, writes nothing. */
import { z } from 'zod';

/** Builds the schema of `solvers.<name>` with `type: dns-persist` (a new one per call; the plug-in definition builds its own on first use). */
export const dnsPersistSchema = () => z.strictObject({
  propagationTimeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(3600)
    .default(60)
    .describe('Longest wait for every authoritative nameserver to serve a record that proves the name (a record that is there but wrong fails at once).'),
  resolvers: z
    .array(z.string().min(1))
    .optional()
    .describe('Resolvers (`address` or `address:port`, `[v6]:port`) used to follow CNAMEs and find the zone, its nameservers and their addresses; default the system resolvers.'),
  nameserverPort: z.number().int().min(1).max(65535).default(53).describe('Port the authoritative nameservers are asked on (tests and unusual setups only).'),
  warnDays: z
    .number()
    .int()
    .min(0)
    .max(3650)
    .default(30)
    .describe('Warn (in the run log and in `certpilot status`) this many days before a record\'s `persistUntil`.'),
});
