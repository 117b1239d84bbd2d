/**
 * dns-persist-01 (draft-ietf-acme-dns-persist-02) as a solver that writes nothing: the record at
 * `_validation-persist.<name>` is published once (`certpilot dns-persist record --apply`, or by
 * hand), and renewals need no DNS credentials at all.
 *
 * - `present` writes nothing.
 * - `wait` (a {@link ChallengeWaiter}) asks every authoritative nameserver of the record's zone
 *   (the dns-01 propagation check, CNAMEs followed) until each serves a record that proves the
 *   name for this account and CA; a record that is there but wrong (another issuer, another
 *   account, the -01 plain form where the CA wants -02's hash, no `policy=wildcard` for a
 *   wildcard, `persistUntil` passed) fails at once with `ERR_DNS_PERSIST_RECORD` naming the
 *   record and the fix, before the CA is told, so no authorization is spent on it. It warns when
 *   `persistUntil` is near and notes what it saw under `<stateDir>/dns-persist/` for `status`.
 * - `cleanUp` removes nothing: the record is meant to stay.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CertpilotError } from '../../../../errors.js';
import { silentLogger, type Logger } from '../../../../logger.js';
import type { Clock } from '../../../../clock.js';
import type { ChallengeSolver, ChallengeWaiter, PendingChallenge, SolverCallOptions } from '../../../challenge-solver.js';
import type { PropagationChecker, TxtJudgement } from '../../../dns01/propagation.js';
import { judgePersistRecords, lastsLonger, persistRecordName, shellName } from '../../record.js';
import { persistNoteFile, type PersistNote } from '../../persist-notes.js';

/** Options of {@link DnsPersistSolver}. */
export interface DnsPersistSolverOptions {
  propagation: PropagationChecker;
  /** The checker's timeout, for messages. */
  timeoutSeconds: number;
  clock: Clock;
  /** Warn this many days before `persistUntil` (default 30). */
  warnDays?: number;
  /** Where notes for `status` go (`<stateDir>/dns-persist/`); none when absent. */
  stateDir?: string;
  logger?: Logger;
}

/** Checks that every authoritative nameserver serves a dns-persist-01 record proving the name. */
export class DnsPersistSolver implements ChallengeSolver, ChallengeWaiter {
  readonly type = 'dns-persist-01' as const;
  private readonly propagation: PropagationChecker;
  private readonly clock: Clock;
  private readonly timeoutSeconds: number;
  private readonly warnMs: number;
  private readonly stateDir: string | undefined;
  private readonly logger: Logger;

  constructor(options: DnsPersistSolverOptions) {
    this.propagation = options.propagation;
    this.clock = options.clock;
    this.timeoutSeconds = options.timeoutSeconds;
    this.warnMs = (options.warnDays ?? 30) * 86_400_000;
    this.stateDir = options.stateDir;
    this.logger = options.logger ?? silentLogger;
  }

  /** Writes nothing: the record is published once, beforehand. */
  async present(): Promise<void> {}

  async wait(challenge: PendingChallenge, options: SolverCallOptions): Promise<void> {
    const persist = challenge.persist;
    if (!persist) throw new CertpilotError('ERR_CHALLENGE_UNSUPPORTED', `dns-persist-01: challenge ${challenge.url} carries no issuer names or accounturi`);
    const name = `${challenge.wildcard ? '*.' : ''}${challenge.identifier.value}`;
    const recordName = persistRecordName(challenge.identifier.value);
    const target = await this.propagation.resolveTarget(recordName, options.signal);
    let proving: { value: string; persistUntil?: Date } | undefined;
    const judge = (values: string[]): TxtJudgement => {
      const verdict = judgePersistRecords(values, { ...persist, wildcard: challenge.wildcard, now: this.clock.now() });
      if (verdict.ok) {
        // Nameservers that disagree: the earliest of their records is what every one of them proves.
        if (!proving || lastsLonger(proving.persistUntil, verdict.persistUntil)) proving = verdict;
        return { ok: true };
      }
      return { ok: false, why: verdict.why, final: verdict.kind !== 'missing' };
    };
    const result = await this.propagation.waitForTxt(target, judge, options.signal, recordName);
    if (result.waiting.length > 0) {
      const first = result.waiting[0];
      const servers = result.waiting.map((w) => `${w.server.nameserver} ${w.server.server.host}:${w.server.server.port}`).join(', ');
      const final = result.waiting.every((w) => w.final);
      const at = target === recordName ? recordName : `${recordName} (CNAME → ${target})`;
      throw new CertpilotError(
        'ERR_DNS_PERSIST_RECORD',
        `dns-persist-01: TXT ${at} does not prove ${name} for this account: ${first?.why ?? 'no record'}${final ? '' : ` after ${this.timeoutSeconds} s`} (nameserver(s) ${servers})`,
        {
          hint: `Publish the record \`certpilot dns-persist record ${shellName(name)}\` prints (with --apply --solver <a route53 or rfc2136 solver> to write it once), replacing the old one.`,
          retryable: !final,
        },
      );
    }
    if (proving?.persistUntil) {
      const left = proving.persistUntil.getTime() - this.clock.now().getTime();
      if (left < this.warnMs) {
        this.logger.warn({ name, record: recordName, persistUntil: proving.persistUntil.toISOString(), days: Math.floor(left / 86_400_000) }, 'dns-persist-01: the record expires soon; publish a new one (certpilot dns-persist record)');
      }
    }
    this.logger.info({ name, record: recordName }, 'dns-persist-01: every authoritative nameserver serves a record proving the name');
    await this.note({ name, record: recordName, value: proving?.value ?? '', checkedAt: this.clock.now().toISOString(), ...(proving?.persistUntil ? { persistUntil: proving.persistUntil.toISOString() } : {}) });
  }

  /** Removes nothing: the record stays for the next renewal. */
  async cleanUp(): Promise<void> {}

  private async note(note: PersistNote): Promise<void> {
    if (!this.stateDir) return;
    try {
      const file = persistNoteFile(this.stateDir, note.name);
      await mkdir(join(file, '..'), { recursive: true, mode: 0o700 });
      await writeFile(file, `${JSON.stringify(note)}\n`, { mode: 0o600 });
    } catch (err) {
      this.logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'dns-persist-01: note for status not written');
    }
  }
}
