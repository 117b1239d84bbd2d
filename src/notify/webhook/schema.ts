/** Options of the `webhook` notifier: a JSON POST per lifecycle event, signed with HMAC-SHA256. */
import { z } from 'zod';

/** Builds the schema of `notifiers.<name>` with `type: webhook` (a new one per call; the plug-in definition builds its own on first use). */
export const webhookSchema = () => z.strictObject({
  url: z
    .string()
    .regex(/^https?:\/\/[^\s]+$/, { message: 'must be an http(s) URL like https://hooks.example.com/certpilot' })
    .describe('Where each event is POSTed as JSON. The body has a Slack/Mattermost-compatible `text` field and the whole `event`. Use https: the certificate is verified (no option turns that off).'),
  secretFile: z
    .string()
    .min(1)
    .optional()
    .describe('File holding the signing key: each request carries `X-Certpilot-Signature-256: sha256=<hex HMAC-SHA256 of the body>` (GitHub\'s scheme), so the receiver can tell it came from you. Never put the key itself in the configuration.'),
  caFile: z.string().min(1).optional().describe('PEM roots to trust for the receiver\'s TLS besides the system ones (a private CA).'),
  timeoutSeconds: z.number().positive().max(120).default(10).describe('Longest wait for one attempt.'),
  retries: z.number().int().min(0).max(10).default(3).describe('Attempts after the first when the receiver is unreachable, times out or answers 429 or 5xx.'),
  retryDelaySeconds: z.number().positive().max(600).default(2).describe('Wait before the first retry; doubles for each next one.'),
});
