/**
 * The options every notifier instance takes besides its plug-in's own (which events it is sent),
 * and the event filter certpilot wraps around each notifier: the `notifier` row of the table of
 * kinds (`plugins/plugin-kinds.ts`), as the dns-01 solver is the `dns-provider` row's wrapper.
 */
import * as z from 'zod/mini';
import '../zod-english.js';
import { lazy } from '../lazy.js';
import type { LifecycleEvent } from './lifecycle-event.js';
import type { Notifier } from './notifier.js';

/** Taken by each `notifiers.<name>` entry beside its plug-in's options (no key may be in both). */
export const notifyOptionsShape = lazy(() => ({
  on: z
    ._default(z.array(z.enum(['failure', 'success', 'expiring'])).check(z.minLength(1)), ['failure'])
    .check(z.describe('Which events this notifier gets: `failure` (a renewal or a deploy failed; the default; also a run stopped by SIGINT/SIGTERM, said as `INTERRUPTED`, never counted as a failure), `success` (issued, renewed, deployed), `expiring` (this run did not renew the certificate and it has less left than the smaller of `expiringDays` and a fifth of its lifetime).')),
  expiringDays: z
    ._default(z.number().check(z.int(), z.gte(1), z.lte(365)), 14)
    .check(z.describe('With `on: [expiring]`: notify when the live certificate was not renewed and expires in fewer than this many days, or in less than a fifth of its lifetime if that is sooner (the `CertpilotCertificateExpiringNoRenewal` alert\'s rule: 29 h of a 6-day certificate, 2 days of a 10-day one, 14 days of a 90-day one), so a short-lived certificate inside its normal renewal time is not reported.')),
  repeatHours: z
    ._default(z.number().check(z.int(), z.gte(0), z.lte(8760)), 24)
    .check(z.describe('Do not send the same notice for the same certificate again within this many hours: the same kind (failure, expiring, interrupted) with the same substance (the failure\'s error code, or the failed deployers and version; the live version for expiring). A changed one (another error code, a new version) and a success are sent at once; a delivery that failed is tried again by the next run. A notifier told of a failure is told when the certificate next succeeds (`RESOLVED`), even without `success` in `on`. `0`: every run sends its notice.')),
} as const));

/** The notify options of an instance, defaults applied (the wrapper's options in the resolved configuration). */
export type NotifyOptions = z.output<z.ZodMiniObject<ReturnType<typeof notifyOptionsShape>>>;

/**
 * Wraps a notifier in its event filter: events its `on` / `expiringDays` do not ask for are
 * dropped here, so a notifier plug-in only ever sees what it was configured for, and the
 * resolution of a failure it was told of (`resolved`, which the dispatch alone decides). (The
 * dispatch asks the same question first, so a notifier no event wants is never even loaded.)
 */
export async function createFilteredNotifier(inner: Notifier, options: NotifyOptions): Promise<Notifier> {
  const { wants } = await import('./notifier.js');
  // The inner notifier is closed by compose (it holds the SMTP connection), not through this.
  return {
    notify: async (event: LifecycleEvent, o?: { signal?: AbortSignal }) => {
      if (event.resolved !== undefined || wants(options, event)) await inner.notify(event, o);
    },
  };
}
