/**
 * Options of the `route53` DNS provider. Credentials are never options: the AWS SDK's default
 * chain finds them (environment, shared profile, web identity / IRSA, container and instance
 * metadata).
 */
import * as z from 'zod/mini';
import '../../../../zod-english.js';

/** Builds the schema of `solvers.<name>` with `type: route53` (the dns-01 options of dns01-options.ts are merged in) (a new one per call; the plug-in definition builds its own on first use). */
export const route53Schema = () => z.strictObject({
  hostedZoneId: z
    .optional(z.string().check(z.minLength(1)))
    .check(z.describe('Hosted zone to write in (e.g. `Z0123456789ABC`); then the key needs no `route53:ListHostedZonesByName`. Default: the longest zone name that is a suffix of the record name.')),
  region: z._default(z.string().check(z.minLength(1)), 'us-east-1').check(z.describe('AWS region for the SDK (Route 53 is global; this only picks the signing region).')),
  endpoint: z.optional(z.string().check(z.url())).check(z.describe('Route 53 API endpoint override (an emulator in tests).')),
  profile: z.optional(z.string().check(z.minLength(1))).check(z.describe('Shared-config profile to take credentials from (default: the SDK chain, `AWS_PROFILE`).')),
  changeTimeoutSeconds: z._default(z.number().check(z.int(), z.gte(1), z.lte(3600)), 180).check(z.describe('Longest wait for a change to reach INSYNC (GetChange).')),
  maxRetries: z._default(z.number().check(z.int(), z.gte(0), z.lte(20)), 8).check(z.describe('Attempts after Throttling or PriorRequestNotComplete, with exponential backoff.')),
});
