/** Options of the `webroot` solver: certpilot writes the token file under a served directory. */
import { z } from 'zod';

/** `solvers.<name>` with `type: webroot`. */
export const webrootSchema = z.strictObject({
  path: z.string().min(1).describe('Directory your web server serves at the site root; `.well-known/acme-challenge/` is created under it.'),
});
