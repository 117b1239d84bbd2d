/**
 * Self-check before telling the CA (issue 7): after `present`, fetch the token through every
 * configured URL (each pod, or the public name) and resolve only when all of them answer the key
 * authorization exactly, so the CA is asked to validate only what every responder can already
 * serve. A {@link ChallengeWaiter}: the issuer calls `wait` between `present` and its
 * `respondToChallenge` (RFC 8555 §7.5.1).
 *
 * Each URL is a base (`http://10.0.0.5:8080`, `http://www.example.com`); `{name}` in it is replaced
 * by the identifier being validated. The request is `GET <base>/.well-known/acme-challenge/<token>`
 * with `Host: <identifier>`, as the CA sends it, so pods behind a Host allow-list answer too.
 * Answers are polled (once a second) until `timeoutSeconds`; a mismatch then is
 * `ERR_CHALLENGE_SELF_CHECK`, naming the URL and what it returned (status and the start of the body).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ChallengeWaiter, PendingChallenge, SolverCallOptions } from '../challenge-solver.js';
import { systemClock, type Clock } from '../../clock.js';
import { CertpilotError } from '../../errors.js';
import { silentLogger, type Logger } from '../../logger.js';
import { CHALLENGE_PATH_PREFIX } from './responder.js';

/** Options for {@link Http01SelfCheck}. */
export interface Http01SelfCheckOptions {
  /** Base URLs to check, `{name}` replaced by the identifier. */
  urls: readonly string[];
  /**
   * More base URLs, found anew for every challenge: every pod of a label selector (through the
   * Kubernetes adapter), so a pod that appeared since the last order is checked too.
   */
  discover?: (signal?: AbortSignal) => Promise<string[]>;
  /** How long to keep trying before giving up (default 60). */
  timeoutSeconds?: number;
  /** Pause between rounds (default 1000 ms). */
  intervalMs?: number;
  clock?: Clock;
  logger?: Logger;
}

interface Answer {
  url: string;
  status: number | string;
  body: string;
}

/** Checks that every configured URL serves a challenge's key authorization. */
export class Http01SelfCheck implements ChallengeWaiter {
  private readonly urls: readonly string[];
  private readonly discover: ((signal?: AbortSignal) => Promise<string[]>) | undefined;
  private readonly timeoutMs: number;
  private readonly intervalMs: number;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(options: Http01SelfCheckOptions) {
    this.urls = options.urls;
    this.discover = options.discover;
    this.timeoutMs = (options.timeoutSeconds ?? 60) * 1000;
    this.intervalMs = options.intervalMs ?? 1000;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
  }

  /** Resolves once every URL answers the key authorization; rejects naming the first that does not. */
  async wait(challenge: PendingChallenge, options: SolverCallOptions = {}): Promise<void> {
    const deadline = this.clock.now().getTime() + this.timeoutMs;
    const bases = [...this.urls, ...(this.discover ? await this.discover(options.signal) : [])];
    let pending = bases.map((u) => targetUrl(u, challenge));
    for (;;) {
      options.signal?.throwIfAborted();
      const answers = await Promise.all(pending.map((url) => fetchAnswer(url, challenge.identifier.value, options.signal)));
      const wrong = answers.filter((a) => a.status !== 200 || a.body !== challenge.keyAuthorization);
      if (wrong.length === 0) {
        this.logger.debug({ identifier: challenge.identifier.value, urls: bases.length }, 'http-01 self-check passed');
        return;
      }
      pending = wrong.map((a) => a.url);
      if (this.clock.now().getTime() + this.intervalMs > deadline) {
        const first = wrong[0] as Answer;
        throw new CertpilotError(
          'ERR_CHALLENGE_SELF_CHECK',
          `http-01 self-check: ${first.url} does not serve the token for ${challenge.identifier.value}: ${describe(first)}${wrong.length > 1 ? ` (and ${wrong.length - 1} more URL(s) failed)` : ''}; the CA was not asked to validate`,
          { retryable: true },
        );
      }
      await this.clock.sleep(this.intervalMs, options.signal);
    }
  }
}

function targetUrl(base: string, challenge: PendingChallenge): string {
  const filled = base.replaceAll('{name}', challenge.identifier.value).replace(/\/+$/, '');
  return `${filled}${CHALLENGE_PATH_PREFIX}${challenge.token}`;
}

/** What the URL did, as the end of a sentence: `it answered HTTP 404 "…"` or `no answer (ECONNREFUSED)`. */
function describe(a: Answer): string {
  if (typeof a.status === 'string') return a.status;
  const body = a.body.slice(0, 120).replace(/[^\x20-\x7e]/g, '?');
  return `it answered HTTP ${a.status} ${JSON.stringify(body)}${a.body.length > 120 ? '…' : ''}`;
}

/** One GET with the identifier as Host; never rejects (network errors become the answer). */
function fetchAnswer(url: string, host: string, signal?: AbortSignal): Promise<Answer> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      resolve({ url, status: 'the URL is not valid', body: '' });
      return;
    }
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method: 'GET', headers: { host }, agent: false, timeout: 5000, ...(signal ? { signal } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size <= 4096) chunks.push(d);
      });
      res.on('end', () => resolve({ url, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => resolve({ url, status: `its answer broke off (${err.message})`, body: '' }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 5 s')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ url, status: `nothing answered (${err.code ?? err.message})`, body: '' }));
    req.end();
  });
}
