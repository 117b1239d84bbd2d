/** Options of the `rfc2136` DNS provider: DNS UPDATE (RFC 2136) signed with TSIG (RFC 8945). */
import { z } from 'zod';

/** Builds the schema of `solvers.<name>` with `type: rfc2136` (the dns-01 options of dns01-options.ts are merged in) (a new one per call; the plug-in definition builds its own on first use). */
export const rfc2136Schema = () => z.strictObject({
  server: z.string().min(1).describe('Address (IPv4 or IPv6) of the primary nameserver that accepts the updates.'),
  port: z.number().int().min(1).max(65535).default(53).describe('Port of the primary nameserver.'),
  keyName: z.string().min(1).describe('Name of the TSIG key as the server knows it (BIND `key "<name>"`).'),
  algorithm: z.enum(['hmac-sha256', 'hmac-sha512']).default('hmac-sha256').describe('TSIG algorithm of the key.'),
  secret: z.string().min(1).optional().describe('The TSIG secret, base64 (prefer secretFile; never logged).'),
  secretFile: z.string().min(1).optional().describe('File holding the base64 TSIG secret (a BIND key file with `secret "…";` works too).'),
  zone: z.string().min(1).optional().describe('Zone to update; default: found through SOA queries to the server.'),
  timeoutSeconds: z.number().int().min(1).max(60).default(5).describe('Time to wait for one answer of the server (UDP attempts, then TCP).'),
});
