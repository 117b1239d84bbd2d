/**
 * Keeps what each notifier last did in the renewal state of the certificate whose event it carried
 * (`RenewalState.notifications`), so the status snapshot, and with it `/metrics` and a
 * `--metrics-file` textfile written by a later cron run, still shows a notifier whose last attempt
 * failed (`certpilot_notifier_last_attempt_success`, the `CertpilotNotifierFailing` alert). A
 * counter of one run in a textfile cannot.
 *
 * A delivery a SIGINT/SIGTERM cut short (`summary.aborted`) is recorded nowhere: a stop is no
 * failure of the notifier, and the last real attempt's record stands.
 *
 * Written under the certificate's lock, like every state write, after the run released it; when
 * another run holds it, the record waits for the next notification (never a wait, never a failure).
 */
import type { Logger } from '../logger.js';
import type { Locker } from '../coordination/locker.js';
import type { NotificationRecord, RenewalStateStore } from '../storage/certificate-store.js';
import type { FencedWrites } from '../storage/state-store.js';
import type { DispatchSummary } from './notifier.js';

/** Records `summary` in each certificate's renewal state. Never throws. */
export async function recordNotifications(
  summary: DispatchSummary,
  deps: { store: RenewalStateStore & FencedWrites; locker: Locker; lockTtlSeconds: number; now: Date; logger: Logger },
): Promise<void> {
  const at = deps.now.toISOString();
  const byCertificate = new Map<string, Record<string, NotificationRecord>>();
  const add = (certificate: string, notifier: string, record: NotificationRecord): void => {
    const records = byCertificate.get(certificate) ?? {};
    // A failure of a notifier for one of several events of the certificate wins: it is the news.
    if (records[notifier]?.result !== 'failed') records[notifier] = record;
    byCertificate.set(certificate, records);
  };
  for (const s of summary.sent) add(s.certificate, s.notifier, { at, result: 'sent' });
  for (const f of summary.failed) add(f.certificate, f.notifier, { at, result: 'failed', code: f.code });
  await Promise.all(
    [...byCertificate].map(async ([certificate, records]) => {
      try {
        const lock = await deps.locker.acquire(certificate, { ttlSeconds: deps.lockTtlSeconds });
        if (!lock) {
          deps.logger.debug({ certificate }, 'notification result not recorded: another run holds the certificate');
          return;
        }
        try {
          const store = deps.store.fenced(lock.lost);
          const state = await store.loadState(certificate);
          await store.saveState(certificate, { ...state, notifications: { ...state.notifications, ...records } });
        } finally {
          await lock.release();
        }
      } catch (err) {
        deps.logger.warn({ certificate, err: err instanceof Error ? err.message : String(err) }, 'notification result not recorded');
      }
    }),
  );
}
