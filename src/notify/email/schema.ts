/** Options of the `email` notifier: one e-mail per lifecycle event, over SMTP with STARTTLS. */
import * as z from 'zod/mini';
import '../../zod-english.js';

const address = z.string().check(z.regex(/^[^\s@<>]+@[^\s@<>]+$/, { message: 'must be an e-mail address like ops@example.com' }));

/** Builds the schema of `notifiers.<name>` with `type: email` (a new one per call; the plug-in definition builds its own on first use). */
export const emailSchema = () => z.strictObject({
  host: z
    .string()
    .check(
      z.minLength(1),
      // A URL here may carry a password: refused without echoing it.
      z.refine((h) => !/[/@]/.test(h), { message: 'must be a host name like smtp.example.com, not a URL: give port, tls, username and passwordFile as their own fields (a password never goes in the configuration)' }),
      z.describe('SMTP server (submission), e.g. smtp.example.com.'),
    ),
  port: z._default(z.number().check(z.int(), z.gte(1), z.lte(65535)), 587).check(z.describe('SMTP port: 587 (submission with STARTTLS, the default) or 465 with `tls: implicit`.')),
  tls: z
    ._default(z.enum(['starttls', 'implicit', 'none']), 'starttls')
    .check(z.describe('`starttls` (default): upgrade with STARTTLS and refuse to send if the server does not offer it; `implicit`: TLS from the first byte (port 465); `none`: plain text, only for a relay on the same host. The server certificate is always verified.')),
  caFile: z.optional(z.string().check(z.minLength(1))).check(z.describe('PEM roots to trust for the SMTP server\'s TLS besides the system ones (a private CA).')),
  username: z.optional(z.string().check(z.minLength(1))).check(z.describe('SMTP user, when the server wants authentication.')),
  passwordFile: z.optional(z.string().check(z.minLength(1))).check(z.describe('File holding the SMTP password (with `username`). Never put the password itself in the configuration.')),
  from: address.check(z.describe('Sender address.')),
  to: z.array(address).check(z.minLength(1), z.describe('Recipients.')),
  timeoutSeconds: z._default(z.number().check(z.positive(), z.lte(300)), 30).check(z.describe('Longest wait for the connection, the greeting and each command.')),
});
