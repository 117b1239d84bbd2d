/** Options of the `file` locker: one lock file per certificate. */
import { z } from 'zod';

/** Builds the schema of `locker: { type: file }` (a new one per call; the plug-in definition builds its own on first use). */
export const fileLockerSchema = () => z.strictObject({
  dir: z.string().min(1).optional().describe('Directory of the lock files (relative to the config file). Default: `locks` under stateDir. Every certpilot that may renew the same certificates must see the same directory.'),
});
