/** Options of the `file` locker: one lock file per certificate. */
import * as z from 'zod/mini';
import '../../zod-english.js';

/** Builds the schema of `locker: { type: file }` (a new one per call; the plug-in definition builds its own on first use). */
export const fileLockerSchema = () => z.strictObject({
  dir: z.optional(z.string().check(z.minLength(1))).check(z.describe('Directory of the lock files (relative to the config file). Default: `locks` under stateDir. Every certpilot that may renew the same certificates must see the same directory.')),
});
