/** The options every notifier instance takes besides its plug-in's own: which events it is sent. */
import { z } from 'zod';

/** Spread into each `notifiers.<name>` entry by the config schema (like the dns-01 options). */
export const notifyOptionsShape = {
  on: z
    .array(z.enum(['failure', 'success', 'expiring']))
    .min(1)
    .default(['failure'])
    .describe('Which events this notifier gets: `failure` (a renewal or a deploy failed; the default), `success` (issued, renewed, deployed), `expiring` (the certificate expires within `expiringDays` and this run did not renew it).'),
  expiringDays: z
    .number()
    .int()
    .min(1)
    .max(365)
    .default(14)
    .describe('With `on: [expiring]`: notify when the live certificate expires in fewer than this many days and was not renewed.'),
} as const;
