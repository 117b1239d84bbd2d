/**
 * `certpilot issue`: issues the configured certificates (or a one-off one from -d) that are
 * missing, changed or due — like `certbot certonly`; `--force` issues a new one anyway.
 */
import type { CommandContext } from '../main.js';
import { runRenewals } from './renew.js';

/** Entry point of `certpilot issue`. */
export async function run(ctx: CommandContext): Promise<number> {
  return runRenewals(ctx, { explicit: true });
}
