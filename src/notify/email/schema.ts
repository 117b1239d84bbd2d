/** Options of the `email` notifier: one e-mail per lifecycle event, over SMTP with STARTTLS. */
import { z } from 'zod';

const address = z.string().regex(/^[^\s@<>]+@[^\s@<>]+$/, { message: 'must be an e-mail address like ops@example.com' });

/** Builds the schema of `notifiers.<name>` with `type: email` (a new one per call; the plug-in definition builds its own on first use). */
export const emailSchema = () => z.strictObject({
  host: z.string().min(1).describe('SMTP server (submission), e.g. smtp.example.com.'),
  port: z.number().int().min(1).max(65535).default(587).describe('SMTP port: 587 (submission with STARTTLS, the default) or 465 with `tls: implicit`.'),
  tls: z
    .enum(['starttls', 'implicit', 'none'])
    .default('starttls')
    .describe('`starttls` (default): upgrade with STARTTLS and refuse to send if the server does not offer it; `implicit`: TLS from the first byte (port 465); `none`: plain text, only for a relay on the same host. The server certificate is always verified.'),
  caFile: z.string().min(1).optional().describe('PEM roots to trust for the SMTP server\'s TLS besides the system ones (a private CA).'),
  username: z.string().min(1).optional().describe('SMTP user, when the server wants authentication.'),
  passwordFile: z.string().min(1).optional().describe('File holding the SMTP password (with `username`). Never put the password itself in the configuration.'),
  from: address.describe('Sender address.'),
  to: z.array(address).min(1).describe('Recipients.'),
  timeoutSeconds: z.number().positive().max(300).default(30).describe('Longest wait for the connection, the greeting and each command.'),
});
