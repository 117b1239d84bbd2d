/** Options of the `dns-persist` solver: checks the standing dns-persist-01 record, writes nothing. */
import * as z from 'zod/mini';
import '../../../../zod-english.js';

/** Builds the schema of `solvers.<name>` with `type: dns-persist` (a new one per call; the plug-in definition builds its own on first use). */
export const dnsPersistSchema = () => z.strictObject({
  propagationTimeoutSeconds: z
    ._default(z.number().check(z.int(), z.gte(1), z.lte(3600)), 60)
    .check(z.describe('Longest wait for every authoritative nameserver to serve a record that proves the name (a record that is there but wrong fails at once).')),
  resolvers: z
    .optional(z.array(z.string().check(z.minLength(1))))
    .check(z.describe('Resolvers (`address` or `address:port`, `[v6]:port`) used to follow CNAMEs and find the zone, its nameservers and their addresses; default the system resolvers.')),
  nameserverPort: z._default(z.number().check(z.int(), z.gte(1), z.lte(65535)), 53).check(z.describe('Port the authoritative nameservers are asked on (tests and unusual setups only).')),
  warnDays: z
    ._default(z.number().check(z.int(), z.gte(0), z.lte(3650)), 30)
    .check(z.describe('Warn (in the run log and in `certpilot status`) this many days before a record\'s `persistUntil`.')),
});
