/**
 * Does the run cadence fit the certificate? A `renew` that runs every N hours can only act at those
 * runs: when the CA's ARI window (RFC 9773 §4.2) is narrower than N, some runs fall before the
 * window and the next one after it, so certpilot renews early (the planner's "due before the next
 * run") or late, never at the time the CA chose. A 6-day `shortlived` certificate has a window of a
 * few hours; a cron line twice a day cannot hit it. Pure functions, for `status` and `cron install`.
 */
import { formatDuration } from '../duration.js';

/** What the cadence check looks at, for one certificate. */
export interface CadenceInput {
  name: string;
  /** Validity bounds of the live certificate (ISO 8601), when there is one. */
  notBefore?: string | undefined;
  notAfter?: string | undefined;
  /** The CA's current ARI window, when one was fetched. */
  ariWindow?: { start: string; end: string } | undefined;
  /** The configured ACME profile (a `shortlived` one has a window of hours even before ARI was fetched). */
  profile?: string | undefined;
}

/** A cadence that cannot land inside the certificate's renewal window, and what to do. */
export interface CadenceWarning {
  name: string;
  /** How wide the window is (ms), and whether it is the CA's answer or an estimate. */
  windowMs: number;
  windowSource: 'ari' | 'estimate';
  runIntervalMs: number;
  /** The longest interval that lands at least twice inside the window. */
  suggestedIntervalMs: number;
  /** A cron schedule (minute hour fields onwards) that would fit. */
  suggestedCron: string;
  /** One sentence for humans: the problem and the fix. */
  message: string;
}

/** Lifetimes below this are short-lived: their ARI windows are hours, not days. */
const SHORT_LIFETIME_MS = 10 * 24 * 3600 * 1000;
/** Let's Encrypt's window for 6-day certificates is about 1/45 of the lifetime (~3.2 h); used only when no window was fetched yet. */
const SHORT_WINDOW_FRACTION = 1 / 45;

/** The renewal window to plan against: the CA's ARI window, or an estimate for short-lived certificates. */
export function renewalWindowMs(input: CadenceInput): { ms: number; source: 'ari' | 'estimate' } | undefined {
  if (input.ariWindow) {
    const ms = Date.parse(input.ariWindow.end) - Date.parse(input.ariWindow.start);
    if (Number.isFinite(ms) && ms >= 0) return { ms, source: 'ari' };
  }
  const lifetime = input.notBefore && input.notAfter ? Date.parse(input.notAfter) - Date.parse(input.notBefore) : undefined;
  if (lifetime !== undefined && Number.isFinite(lifetime) && lifetime > 0 && lifetime < SHORT_LIFETIME_MS) return { ms: lifetime * SHORT_WINDOW_FRACTION, source: 'estimate' };
  if (lifetime === undefined && input.profile === 'shortlived') return { ms: 6 * 24 * 3600 * 1000 * SHORT_WINDOW_FRACTION, source: 'estimate' };
  return undefined;
}

/** A cron schedule that runs at least every `intervalMs` (hourly steps, else minute steps). */
export function cronScheduleFor(intervalMs: number): string {
  const hours = Math.floor(intervalMs / 3_600_000);
  if (hours >= 1) return hours === 1 ? '17 * * * *' : `17 */${Math.min(hours, 12)} * * *`;
  const minutes = Math.max(5, Math.floor(intervalMs / 60_000));
  return `*/${Math.min(minutes, 30)} * * * *`;
}

/**
 * The warning for one certificate, or undefined when runs every `runIntervalMs` land at least
 * once inside its window (or nothing is known about its window).
 */
export function checkCadence(input: CadenceInput, runIntervalMs: number | undefined): CadenceWarning | undefined {
  if (runIntervalMs === undefined || !(runIntervalMs > 0)) return undefined;
  const window = renewalWindowMs(input);
  if (!window || runIntervalMs <= window.ms) return undefined;
  // Two runs inside the window: one can fail (or the CA can be busy) and the next still lands.
  const suggestedIntervalMs = Math.max(5 * 60_000, Math.floor(window.ms / 2));
  const suggestedCron = cronScheduleFor(suggestedIntervalMs);
  const what = window.source === 'ari' ? "the CA's ARI window" : `its renewal window (about ${formatDuration(window.ms)}, estimated for a short-lived certificate until ARI is fetched)`;
  return {
    name: input.name,
    windowMs: window.ms,
    windowSource: window.source,
    runIntervalMs,
    suggestedIntervalMs,
    suggestedCron,
    message:
      `${input.name}: renew runs every ${formatDuration(runIntervalMs)} but ${what} is ${formatDuration(window.ms)} wide, so a run may never land inside it ` +
      `(certpilot then renews before the window opens or after it closed); run renew at least every ${formatDuration(suggestedIntervalMs)} ` +
      `(cron "${suggestedCron}", and set renewal.runIntervalHours to match), or run \`certpilot daemon\`, which wakes inside each window (docs/daemon.md)`,
  };
}
