/**
 * Options of the `route53` DNS provider. Credentials are never options: the AWS SDK's default
 * chain finds them (environment, shared profile, web identity / IRSA, container and instance
 * metadata).
 */
import { z } from 'zod';

/** Builds the schema of `solvers.<name>` with `type: route53` (the dns-01 options of dns01-options.ts are merged in) (a new one per call; the plug-in definition builds its own on first use). */
export const route53Schema = () => z.strictObject({
  hostedZoneId: z
    .string()
    .min(1)
    .optional()
    .describe('Hosted zone to write in (e.g. `Z0123456789ABC`); then the key needs no `route53:ListHostedZonesByName`. Default: the longest zone name that is a suffix of the record name.'),
  region: z.string().min(1).default('us-east-1').describe('AWS region for the SDK (Route 53 is global; this only picks the signing region).'),
  endpoint: z.string().url().optional().describe('Route 53 API endpoint override (an emulator in tests).'),
  profile: z.string().min(1).optional().describe('Shared-config profile to take credentials from (default: the SDK chain, `AWS_PROFILE`).'),
  changeTimeoutSeconds: z.number().int().min(1).max(3600).default(180).describe('Longest wait for a change to reach INSYNC (GetChange).'),
  maxRetries: z.number().int().min(0).max(20).default(8).describe('Attempts after Throttling or PriorRequestNotComplete, with exponential backoff.'),
});
