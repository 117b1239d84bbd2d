/**
 * The journal of presented challenges: what a solver wrote outside this process (a Redis token, a
 * TXT record, a webroot token file) is recorded durably under the state directory *before* it is
 * written, and dropped once it is removed again. A run killed in between (`kill -9`, an OOM kill,
 * a power cut) leaves its journal file behind, and the next run of the same solver on this host
 * removes what it lists ({@link ChallengeJournal.sweep}). One mechanism for every solver that
 * writes elsewhere: the `redis` token store, the dns-01 solver over any DNS provider, `webroot`.
 *
 * Layout: one JSON file per process, `<dir>/<hostname>~<pid>~<run id>.json`, holding the array of
 * its entries (the older `<hostname>~<pid>.json` is read the same way). The state directory may be
 * shared by several hosts: only files of this host whose process is gone are swept (a live process,
 * or another host's, is never raced); files of other processes whose entries have all expired are
 * deleted. Writes are atomic and fsynced (`fs/atomic-write.ts`), one at a time per journal.
 */
import { randomUUID } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CertpilotError } from '../errors.js';
import { atomicWrite, ensureDir, fsyncDir, removeFile } from '../fs/atomic-write.js';
import { silentLogger, type Logger } from '../logger.js';

/** Every journal entry may say when it stops mattering (a Redis token's TTL); without it, never. */
export interface JournalEntry {
  /** Epoch milliseconds after which the entry needs no removal. */
  expiresAt?: number;
}

/** Options of {@link ChallengeJournal}. */
export interface ChallengeJournalOptions<T extends JournalEntry> {
  /** The directory of this solver's journal files (`<stateDir>/<kind>/<solver name>`). */
  dir: string;
  /** Names the solver in messages, e.g. `redis token store`, `dns-01`. */
  component: string;
  /** Whether a parsed entry of a journal file is one of ours (others are ignored). */
  accept: (entry: unknown) => entry is T;
  logger?: Logger;
}

/** A durable list of what this process presented and has not yet removed. */
export class ChallengeJournal<T extends JournalEntry> {
  /** Per process start, so a restarted run with the same hostname and pid never takes a dead run's journal for its own. */
  private readonly runId = randomUUID().slice(0, 8);
  private readonly entries = new Map<string, T>();
  private writes: Promise<void> = Promise.resolve();
  private readonly options: ChallengeJournalOptions<T>;
  private readonly logger: Logger;

  constructor(options: ChallengeJournalOptions<T>) {
    this.options = options;
    this.logger = options.logger ?? silentLogger;
  }

  /** The journal directory. */
  get dir(): string {
    return this.options.dir;
  }

  /** Records `entry` under `id` (replacing an entry of that id); resolves once it is durable. */
  add(id: string, entry: T): Promise<void> {
    this.entries.set(id, entry);
    return this.save();
  }

  /**
   * Drops the entry `id` (nothing when absent) once what it names is removed. Never throws: a
   * journal that cannot be rewritten only makes a later run remove the same thing again (removals
   * are idempotent), so the failure is logged.
   */
  async remove(id: string): Promise<void> {
    if (!this.entries.delete(id)) return this.writes;
    await this.save().catch((err: unknown) => this.logger.warn({ journal: this.options.dir, err: messageOf(err) }, `${this.options.component}: cannot update the journal of presented challenges; a later run removes the entry again`));
  }

  /**
   * Removes what dead processes of this host journalled: `removeLeftover` is called for each of
   * their unexpired entries (it must remove only what the entry names, and not throw for something
   * already gone). A journal whose entries are all removed is deleted; one with entries that could
   * not be removed keeps those for the next run. Files of other processes whose entries all
   * expired are deleted. Resolves to the number of entries removed; never throws (a failed sweep
   * is logged: it must not fail this run's own work).
   */
  async sweep(removeLeftover: (entry: T) => Promise<void>): Promise<number> {
    const { dir } = this.options;
    let files: string[];
    try {
      files = (await readdir(dir)).filter((f) => f.endsWith('.json') && f !== this.fileName());
    } catch {
      return 0;
    }
    const host = hostname();
    let removed = 0;
    for (const file of files) {
      const path = join(dir, file);
      try {
        const [fileHost, pidText, runId] = file.slice(0, -'.json'.length).split('~');
        const pid = Number(pidText);
        // Our own pid with another run id: an earlier run that had this pid (PID 1 in a container
        // restarted under a fixed hostname) is dead.
        const dead = fileHost === host && Number.isInteger(pid) && (!processAlive(pid) || (pid === process.pid && runId !== this.runId));
        let parsed: unknown;
        try {
          parsed = JSON.parse(await readFile(path, 'utf8'));
        } catch {
          await removeFile(path);
          continue;
        }
        const now = Date.now();
        const live = (Array.isArray(parsed) ? parsed : []).filter((e): e is T => this.options.accept(e) && (e.expiresAt === undefined || e.expiresAt > now));
        if (!dead) {
          if (live.length === 0) await removeFile(path);
          continue;
        }
        const kept: T[] = [];
        for (const e of live) {
          try {
            await removeLeftover(e);
            removed += 1;
          } catch (err) {
            kept.push(e);
            this.logger.warn({ journal: path, err: messageOf(err) }, `${this.options.component}: cannot remove what a stopped run left; the next run tries again`);
          }
        }
        if (kept.length === 0) await removeFile(path);
        else await atomicWrite(path, JSON.stringify(kept), { mode: 0o600 });
      } catch (err) {
        this.logger.warn({ journal: path, err: messageOf(err) }, `${this.options.component}: sweep of a stopped run's journal failed`);
      }
    }
    if (removed > 0) this.logger.info({ removed, journal: dir }, `${this.options.component}: removed what a stopped run left`);
    return removed;
  }

  /** Waits for the writes in flight. */
  async settled(): Promise<void> {
    await this.writes;
  }

  private fileName(): string {
    return `${hostname()}~${process.pid}~${this.runId}.json`;
  }

  private save(): Promise<void> {
    const { dir, component } = this.options;
    const next = this.writes.then(async () => {
      const path = join(dir, this.fileName());
      if (this.entries.size === 0) {
        await removeFile(path);
        await fsyncDir(dir).catch(() => undefined);
        return;
      }
      await ensureDir(dir);
      await atomicWrite(path, JSON.stringify([...this.entries.values()]), { mode: 0o600 });
    });
    // One failed write must not poison the chain; the caller still sees it.
    this.writes = next.catch(() => undefined);
    return next.catch((err: unknown) => {
      const cause = err instanceof CertpilotError && err.cause !== undefined ? err.cause : err;
      const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
      if (errno === 'ENOSPC' || errno === 'EDQUOT') {
        throw new CertpilotError('ERR_STORAGE_FULL', `${component}: cannot write the journal of presented challenges in ${dir}: ${errno} (the volume is full)`, {
          cause,
          hint: `Free space on the volume of ${dir} (the state directory).`,
          retryable: true,
        });
      }
      throw new CertpilotError('ERR_STORAGE_IO', `${component}: cannot write the journal of presented challenges in ${dir}: ${errno ?? messageOf(cause)}`, { cause });
    });
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
