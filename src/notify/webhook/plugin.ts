/** The `webhook` notifier plug-in: a signed JSON POST per lifecycle event. */
import { resolve } from 'node:path';
import { definePlugin } from '../../plugins/plugin.js';
import { webhookSchema } from './schema.js';

/** The plug-in definition the registry lists. */
export const plugin = definePlugin({
  id: 'webhook',
  kind: 'notifier',
  summary: 'POSTs each lifecycle event as JSON with a Slack/Mattermost `text` field, signed with HMAC-SHA256; retries with backoff.',
  dir: 'notify/webhook',
  schema: webhookSchema,
  // A Slack or Mattermost incoming-webhook URL is the credential (whoever has it can post).
  credentialOptions: { url: 'urlFile' },
  create: async (o, d) => {
    const { WebhookNotifier } = await import('./webhook-notifier.js');
    return new WebhookNotifier({
      name: d.name,
      ...(o.url !== undefined ? { url: o.url } : {}),
      ...(o.urlFile ? { urlFile: resolve(d.baseDir, o.urlFile) } : {}),
      ...(o.secretFile ? { secretFile: resolve(d.baseDir, o.secretFile) } : {}),
      ...(o.caFile ? { caFile: resolve(d.baseDir, o.caFile) } : {}),
      timeoutMs: o.timeoutSeconds * 1000,
      retries: o.retries,
      retryDelayMs: o.retryDelaySeconds * 1000,
      clock: d.clock,
      logger: d.logger,
    });
  },
});
