/** Options of the `webroot` solver: certpilot writes the token file under a served directory. */
import * as z from 'zod/mini';
import '../../../../zod-english.js';
import { tokenStoreSolverOptionsShape } from '../../token-store-options.js';

/** Builds the schema of `solvers.<name>` with `type: webroot` (a new one per call; the plug-in definition builds its own on first use). */
export const webrootSchema = () => z.strictObject({
  path: z.string().check(z.minLength(1), z.describe('Directory your web server serves at the site root; `.well-known/acme-challenge/` is created under it.')),
  allowSharedDir: z
    ._default(z.boolean(), false)
    .check(z.describe('Write under `path` even when it or one of its parents can be written by another user (not root or certpilot\'s user; sticky directories such as /tmp are fine). Default false: such a docroot is refused, like sshd\'s StrictModes. certpilot never follows a symlinked `.well-known` or `acme-challenge` and writes the token through a descriptor either way, but with this on a symlink in a shared parent of `path` is followed and that user can make validations fail; see docs/security.md.')),
  // The same self-check as the token stores and `stateless` (off unless urls or pods are given).
  selfCheck: tokenStoreSolverOptionsShape().selfCheck,
});
