import type { Clock } from '../clock.js';

/** A clock for tests: time moves only when {@link FakeClock.advance} is called, or by `sleep`. */
export class FakeClock implements Clock {
  private current: number;
  /** Every `sleep` duration requested, in order, for assertions on backoff. */
  readonly sleeps: number[] = [];

  constructor(start: Date | string | number = '2026-01-01T00:00:00Z') {
    this.current = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  /** Moves time forward by `ms`. */
  advance(ms: number): void {
    this.current += ms;
  }

  /** Sets the time. */
  set(to: Date | string | number): void {
    this.current = new Date(to).getTime();
  }

  /** Records the wait and moves time forward at once; never really sleeps. */
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    this.sleeps.push(ms);
    this.current += Math.max(0, ms);
  }
}
