/**
 * What the dns-persist solver last saw of each name's standing record, kept under
 * `<stateDir>/dns-persist/` so `certpilot status` can show `persistUntil` (and warn ahead of it)
 * without a DNS lookup or loading any solver.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One name's last checked record. */
export interface PersistNote {
  /** The name proved (`*.example.com` for a wildcard). */
  name: string;
  /** `_validation-persist.<name>.` */
  record: string;
  /** The TXT value that proved it. */
  value: string;
  /** ISO time of the check. */
  checkedAt: string;
  /** ISO time after which the CA refuses the record; absent when it has none. */
  persistUntil?: string;
}

/** The note file of `name` (a wildcard's `*` spelled `_wildcard`). */
export function persistNoteFile(stateDir: string, name: string): string {
  return join(stateDir, 'dns-persist', `${name.replace(/^\*\./, '_wildcard.').replace(/[^a-z0-9._-]/gi, '_')}.json`);
}

/** The note of `name`, or undefined when none was written (or it cannot be read). */
export async function readPersistNote(stateDir: string, name: string): Promise<PersistNote | undefined> {
  try {
    const parsed = JSON.parse(await readFile(persistNoteFile(stateDir, name), 'utf8')) as PersistNote;
    return typeof parsed.name === 'string' && typeof parsed.record === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}
