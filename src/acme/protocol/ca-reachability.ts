/**
 * What this run has seen of each CA's liveness: a CA that accepted a connection and then did not
 * answer a request within the request timeout (on a fresh connection, or again after the retry of
 * a read) is not asked again for a while. Every later request to that origin fails at once with
 * `ERR_ACME_NO_ANSWER` instead of waiting its own timeout, so a run against a silent CA ends within
 * about one request timeout, however many certificates and requests it has (a silent CA otherwise
 * held a `renew` for minutes: each request waited 30 s and was sent twice, for each certificate).
 *
 * Contract:
 * - Keyed by origin (scheme, host, port: RFC 6454), which every URL of one CA's directory shares.
 * - One instance is shared by every client of a run (the composition root makes it), so the account,
 *   the renewalInfo client and each certificate's issuer learn from each other.
 * - A mark lasts {@link NO_ANSWER_HOLD_MS} on the injected {@link Clock}, shorter than the daemon's
 *   retry of a local failure (5 minutes), so a long-running process asks again on its next try;
 *   any answer from that origin (a request sent before the mark, answered late) clears it at once.
 * - Nothing here sends anything; it never throws except from {@link CaReachability.check}.
 */
import { CertpilotError } from '../../errors.js';
import { systemClock, type Clock } from '../../clock.js';

/** How long an origin that did not answer is not asked again: 2 minutes. */
export const NO_ANSWER_HOLD_MS = 2 * 60_000;

interface Mark {
  /** When the request that got no answer gave up. */
  at: Date;
  /** What got no answer, e.g. `directory: GET https://ca.test/dir: no answer within 30 s`. */
  what: string;
}

/** The origins of this run that accepted a connection and then did not answer. */
export class CaReachability {
  private readonly marks = new Map<string, Mark>();
  private readonly clock: Clock;
  private readonly holdMs: number;

  constructor(options: { clock?: Clock; holdMs?: number } = {}) {
    this.clock = options.clock ?? systemClock;
    this.holdMs = options.holdMs ?? NO_ANSWER_HOLD_MS;
  }

  /** Records that a request to `url` got no answer (`what` says which, for the errors of later requests). */
  unanswered(url: string, what: string): void {
    const origin = originOf(url);
    if (origin !== undefined) this.marks.set(origin, { at: this.clock.now(), what });
  }

  /** Records that `url`'s origin answered: it is asked again at once. */
  answered(url: string): void {
    const origin = originOf(url);
    if (origin !== undefined) this.marks.delete(origin);
  }

  /** True while `url`'s origin is held (it did not answer within the hold). */
  isHeld(url: string): boolean {
    return this.heldMark(url) !== undefined;
  }

  /**
   * Throws `ERR_ACME_NO_ANSWER` when `url`'s origin did not answer a request within the hold; `label`
   * and `method` name the request that is not sent.
   */
  check(url: string, label: string, method: string): void {
    const mark = this.heldMark(url);
    if (!mark) return;
    throw new CertpilotError(
      'ERR_ACME_NO_ANSWER',
      `acme: ${label}: ${method} ${url} not sent: ${originOf(url) ?? url} accepted a connection and did not answer an earlier request of this run (${mark.what}, at ${mark.at.toISOString()}); it is not asked again before ${new Date(mark.at.getTime() + this.holdMs).toISOString()}`,
      { retryable: true },
    );
  }

  private heldMark(url: string): Mark | undefined {
    const origin = originOf(url);
    const mark = origin === undefined ? undefined : this.marks.get(origin);
    if (!mark || origin === undefined) return undefined;
    if (this.clock.now().getTime() - mark.at.getTime() >= this.holdMs) {
      this.marks.delete(origin);
      return undefined;
    }
    return mark;
  }
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}
