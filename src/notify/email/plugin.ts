/** The `email` notifier plug-in: SMTP with STARTTLS through nodemailer. */
import { resolve } from 'node:path';
import { definePlugin } from '../../plugins/plugin.js';
import { emailSchema } from './schema.js';

/** The plug-in definition the registry lists. */
export const plugin = definePlugin({
  id: 'email',
  kind: 'notifier',
  summary: 'Sends each lifecycle event as a plain-text e-mail over SMTP (STARTTLS required by default; password from a file) through nodemailer.',
  dir: 'notify/email',
  schema: emailSchema,
  create: async (o, d) => {
    const { EmailNotifier } = await import('./email-notifier.js');
    return new EmailNotifier({
      name: d.name,
      host: o.host,
      port: o.port,
      tls: o.tls,
      ...(o.caFile ? { caFile: resolve(d.baseDir, o.caFile) } : {}),
      ...(o.username ? { username: o.username } : {}),
      ...(o.passwordFile ? { passwordFile: resolve(d.baseDir, o.passwordFile) } : {}),
      from: o.from,
      to: o.to,
      timeoutMs: o.timeoutSeconds * 1000,
      logger: d.logger,
    });
  },
});
