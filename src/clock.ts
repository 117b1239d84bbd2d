/**
 * Time as a dependency: renewal policies, backoff, polling and the daemon take a {@link Clock} so
 * unit tests never sleep (DESIGN.md §4).
 */

/** A source of the current time and of cancellable waits. */
export interface Clock {
  /** The current time. */
  now(): Date;
  /** Resolves after `ms` milliseconds; rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/**
 * Milliseconds on a monotonic clock, for measuring durations. `process.hrtime` loads nothing; the
 * global `performance` loads Node's perf_hooks and seven modules of its own at first use, compiled
 * from source once the CLI has set its V8 flags (bench/findings.md, item 31).
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
