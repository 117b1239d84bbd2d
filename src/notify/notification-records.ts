/**
 * Keeps what each notifier last did in the renewal state of the certificate whose event it carried
 * (`RenewalState.notifications`), so the status snapshot, and with it `/metrics` and a
 * `--metrics-file` textfile written by a later cron run, still shows a notifier whose last attempt
 * failed (`certpilot_notifier_last_attempt_success`, the `CertpilotNotifierFailing` alert). A
 * counter of one run in a textfile cannot.
 *
 * A delivery a SIGINT/SIGTERM cut short (`summary.aborted`) is recorded nowhere: a stop is no
 * failure of the notifier, and the last real attempt's record stands. Neither is a notice not
 * repeated (`summary.suppressed`). The record also keeps what the notifier was told
 * (`told`, from `summary.told`), so the same notice is not sent again within its `repeatHours`
 * by a later run (the daemon's next cycle, the next cron line, after a restart). A record lost to
 * a held lock (below) costs at most one repeated notice, never a silenced one.
 *
 * Written under the certificate's lock, like every state write, after the run released it; when
 * another run holds it, the record waits for the next notification (never a wait, never a failure).
 */
import type { Logger } from '../logger.js';
import type { Locker } from '../coordination/locker.js';
import type { NotificationRecord, RenewalState, RenewalStateStore, RepeatedNotice } from '../storage/certificate-store.js';
import type { FencedWrites } from '../storage/state-store.js';
import type { DispatchSummary } from './notifier.js';

/** Records `summary` in each certificate's renewal state. Never throws. */
export async function recordNotifications(
  summary: DispatchSummary,
  deps: {
    store: RenewalStateStore & FencedWrites;
    locker: Locker;
    lockTtlSeconds: number;
    now: Date;
    logger: Logger;
    /**
     * This process's records that could not be written (a full volume, the lock held elsewhere), by
     * certificate: kept here so that a long-running process (the daemon) still knows what it told
     * (and does not repeat it every retry), read first by the dispatch, written with the next save.
     */
    unsaved?: Map<string, NonNullable<RenewalState['notifications']>>;
  },
): Promise<void> {
  const at = deps.now.toISOString();
  const byCertificate = new Map<string, Map<string, Change>>();
  const change = (certificate: string, notifier: string): Change => {
    const changes = byCertificate.get(certificate) ?? new Map<string, Change>();
    byCertificate.set(certificate, changes);
    const c = changes.get(notifier) ?? { remember: [] };
    changes.set(notifier, c);
    return c;
  };
  for (const s of summary.sent) {
    const c = change(s.certificate, s.notifier);
    // A failure of a notifier for one of several events of the certificate wins: it is the news.
    if (c.attempt?.result !== 'failed') c.attempt = { at, result: 'sent' };
  }
  for (const f of summary.failed) change(f.certificate, f.notifier).attempt = { at, result: 'failed', code: f.code };
  for (const t of summary.told) {
    const c = change(t.certificate, t.notifier);
    if ('clear' in t) c.clear = true;
    else c.remember.push(t.remember);
  }
  const merged = (base: RenewalState['notifications'], certificate: string, changes: Map<string, Change>): NonNullable<RenewalState['notifications']> => {
    const notifications = { ...base, ...deps.unsaved?.get(certificate) };
    for (const [notifier, c] of changes) {
      const record = applyChange(notifications[notifier], c, at);
      if (record) notifications[notifier] = record;
    }
    return notifications;
  };
  /** Not written: kept in this process (see `deps.unsaved`), over what the state holds. */
  const keep = async (certificate: string, changes: Map<string, Change>): Promise<void> => {
    if (!deps.unsaved) return;
    const base = await deps.store.loadState(certificate).then((s) => s.notifications, () => undefined);
    deps.unsaved.set(certificate, merged(base, certificate, changes));
  };
  await Promise.all(
    [...byCertificate].map(async ([certificate, changes]) => {
      try {
        const lock = await deps.locker.acquire(certificate, { ttlSeconds: deps.lockTtlSeconds });
        if (!lock) {
          deps.logger.debug({ certificate }, 'notification result not recorded: another run holds the certificate');
          await keep(certificate, changes);
          return;
        }
        try {
          const store = deps.store.fenced(lock.lost);
          const state = await store.loadState(certificate);
          await store.saveState(certificate, { ...state, notifications: merged(state.notifications, certificate, changes) });
          deps.unsaved?.delete(certificate);
        } finally {
          await lock.release();
        }
      } catch (err) {
        deps.logger.warn({ certificate, err: err instanceof Error ? err.message : String(err) }, 'notification result not recorded');
        await keep(certificate, changes);
      }
    }),
  );
}

/** What one dispatch changes in one notifier's record. */
interface Change {
  /** The delivery or failure (the status and metrics meaning of the record). */
  attempt?: Pick<NotificationRecord, 'at' | 'result' | 'code'>;
  /** A success: what it was told of is over (applied before `remember`). */
  clear?: true;
  /** Notices delivered, each remembered with the time of this record. */
  remember: { kind: RepeatedNotice; about: string }[];
}

/** `record` after `change`; undefined when there was none and there is nothing to keep. */
function applyChange(record: NotificationRecord | undefined, change: Change, at: string): NotificationRecord | undefined {
  const attempt = change.attempt ?? (record ? { at: record.at, result: record.result, ...(record.code ? { code: record.code } : {}) } : undefined);
  if (!attempt) return undefined;
  const told: NonNullable<NotificationRecord['told']> = change.clear ? {} : { ...record?.told };
  for (const r of change.remember) told[r.kind] = { about: r.about, at };
  return { ...attempt, ...(Object.keys(told).length > 0 ? { told } : {}) };
}
