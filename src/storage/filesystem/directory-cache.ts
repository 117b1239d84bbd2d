/**
 * A small on-disk memo of what a CA's directory offers, so a nothing-due `renew` against a CA
 * without ARI does not fetch the directory on every run. Entries expire (default a day), so a CA
 * that adds ARI is noticed the next day. Losing or corrupting the file only costs one fetch.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from '../../logger.js';
import { join } from 'node:path';
import { atomicWrite, ensureDir, setAside } from '../../fs/atomic-write.js';
import { directoryFolderName } from './safe-name.js';

/** How long the facts are trusted before the directory is fetched again: a day. */
export const DIRECTORY_FACTS_MAX_AGE_MS = 86_400_000;

/** What certpilot remembers of a directory. */
export interface DirectoryFacts {
  directoryUrl: string;
  /** Whether the directory had a `renewalInfo` endpoint (RFC 9773). */
  renewalInfo: boolean;
  fetchedAt: string;
}

/** Reads and writes {@link DirectoryFacts} under `<stateDir>/cache/`. */
export class DirectoryCache {
  private readonly dir: string;
  private readonly logger: Logger | undefined;

  constructor(options: { stateDir: string; logger?: Logger }) {
    this.dir = join(options.stateDir, 'cache');
    this.logger = options.logger;
  }

  /** The remembered facts, or undefined when absent, unreadable or older than `maxAgeMs`. */
  async get(directoryUrl: string, now: Date, maxAgeMs = DIRECTORY_FACTS_MAX_AGE_MS): Promise<DirectoryFacts | undefined> {
    const file = this.file(directoryUrl);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      return undefined;
    }
    let facts: DirectoryFacts | undefined;
    try {
      facts = JSON.parse(text) as DirectoryFacts;
    } catch {
      facts = undefined;
    }
    if (typeof facts !== 'object' || facts === null || typeof facts.fetchedAt !== 'string') {
      // Derived data: set it aside (never delete what a human may want to look at); it is rebuilt.
      const aside = await setAside(file, now).catch(() => undefined);
      if (aside !== undefined) this.logger?.warn({ file, aside }, `storage: ${file} was unreadable; set aside as ${aside} and rebuilt`);
      return undefined;
    }
    const age = now.getTime() - Date.parse(facts.fetchedAt);
    if (facts.directoryUrl !== directoryUrl || !(age >= 0 && age < maxAgeMs)) return undefined;
    return facts;
  }

  /** Remembers the facts (atomically). */
  async put(facts: DirectoryFacts): Promise<void> {
    await ensureDir(this.dir);
    await atomicWrite(this.file(facts.directoryUrl), `${JSON.stringify(facts, null, 2)}\n`, { mode: 0o600 });
  }

  private file(directoryUrl: string): string {
    return join(this.dir, `directory-${directoryFolderName(directoryUrl)}.json`);
  }
}
