/** Options of the `rfc2136` DNS provider: DNS UPDATE (RFC 2136) signed with TSIG (RFC 8945). */
import * as z from 'zod/mini';
import '../../../../zod-english.js';

/** Builds the schema of `solvers.<name>` with `type: rfc2136` (the dns-01 options of dns01-options.ts are merged in) (a new one per call; the plug-in definition builds its own on first use). */
export const rfc2136Schema = () => z.strictObject({
  server: z.string().check(z.minLength(1), z.describe('Address (IPv4 or IPv6) of the primary nameserver that accepts the updates.')),
  port: z._default(z.number().check(z.int(), z.gte(1), z.lte(65535)), 53).check(z.describe('Port of the primary nameserver.')),
  keyName: z.string().check(z.minLength(1), z.describe('Name of the TSIG key as the server knows it (BIND `key "<name>"`).')),
  algorithm: z._default(z.enum(['hmac-sha256', 'hmac-sha512']), 'hmac-sha256').check(z.describe('TSIG algorithm of the key.')),
  secret: z.optional(z.string().check(z.minLength(1))).check(z.describe('The TSIG secret, base64 (prefer secretFile; never logged).')),
  secretFile: z.optional(z.string().check(z.minLength(1))).check(z.describe('File holding the base64 TSIG secret (a BIND key file with `secret "…";` works too).')),
  zone: z.optional(z.string().check(z.minLength(1))).check(z.describe('Zone to update: the names the solver proves (or their `_acme-challenge` CNAME targets) must be in it, which `config check` checks; default: found through SOA queries to the server.')),
  timeoutSeconds: z._default(z.number().check(z.int(), z.gte(1), z.lte(60)), 5).check(z.describe('Time to wait for one answer of the server (UDP attempts, then TCP).')),
});
