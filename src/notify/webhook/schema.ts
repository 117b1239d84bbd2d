/** Options of the `webhook` notifier: a JSON POST per lifecycle event, signed with HMAC-SHA256. */
import * as z from 'zod/mini';
import '../../zod-english.js';

/** Builds the schema of `notifiers.<name>` with `type: webhook` (a new one per call; the plug-in definition builds its own on first use). */
export const webhookSchema = () => z.strictObject({
  url: z
    .optional(z.string().check(z.regex(/^https?:\/\/[^\s]+$/, { message: 'must be an http(s) URL like https://hooks.example.com/certpilot' })))
    .check(z.describe('Where each event is POSTed as JSON. The body has a Slack/Mattermost-compatible `text` field and the whole `event`. Use https: the certificate is verified (no option turns that off). A Slack or Mattermost URL is itself the credential: give it with `urlFile` instead. Set exactly one of `url` and `urlFile`.')),
  urlFile: z
    .optional(z.string().check(z.minLength(1)))
    .check(z.describe('File holding the URL on one line, for a URL that is a credential (Slack, Mattermost: whoever has it can post): it stays out of the configuration, and `certpilot kubernetes manifests` moves a `url` into a Secret this way. Read when the first event is sent; messages name the URL by its origin only.')),
  secretFile: z
    .optional(z.string().check(z.minLength(1)))
    .check(z.describe('File holding the signing key: each request carries `X-Certpilot-Signature-256: sha256=<hex HMAC-SHA256 of the body>` (GitHub\'s scheme), so the receiver can tell it came from you. Never put the key itself in the configuration.')),
  caFile: z.optional(z.string().check(z.minLength(1))).check(z.describe('PEM roots to trust for the receiver\'s TLS besides the system ones (a private CA).')),
  timeoutSeconds: z._default(z.number().check(z.positive(), z.lte(120)), 10).check(z.describe('Longest wait for one attempt.')),
  retries: z._default(z.number().check(z.int(), z.gte(0), z.lte(10)), 3).check(z.describe('Attempts after the first when the receiver is unreachable, times out or answers 429 or 5xx.')),
  retryDelaySeconds: z._default(z.number().check(z.positive(), z.lte(600)), 2).check(z.describe('Wait before the first retry; doubles for each next one.')),
}).check(z.refine((o) => (o.url === undefined) !== (o.urlFile === undefined), { message: 'set exactly one of url and urlFile' }));
