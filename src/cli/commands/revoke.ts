/** `certpilot revoke <name>`: revokes the live certificate, signed by the account or its own key. */
import { importPrivateKey } from '../../acme/csr.js';
import { CertpilotError } from '../../errors.js';
import { EXIT, type CommandContext } from '../main.js';
import { openRuntime } from '../runtime.js';
import { updateStateUnderLock } from '../locks.js';
import type { Runtime } from '../compose.js';
import type { StoredCertificate } from '../../storage/certificate-store.js';
import { certificateFingerprint } from '../../storage/certificate-facts.js';

/** CRL reason codes accepted by Let's Encrypt (RFC 5280 §5.3.1). */
export const REVOCATION_REASONS: Readonly<Record<string, number>> = {
  unspecified: 0,
  keyCompromise: 1,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
};

/**
 * Records in the renewal state that the live `stored` version is revoked, so the planner renews it
 * (reason `revoked`). Under the certificate's lock, as every state write; false when that lock is
 * held by another run or the write failed (said on stderr).
 */
async function recordRevocation(runtime: Runtime, ctx: CommandContext, name: string, stored: StoredCertificate, reason: string): Promise<boolean> {
  const revoked = { version: stored.version, fingerprint: certificateFingerprint(stored.certPem), at: runtime.clock.now().toISOString(), reason };
  try {
    if (await updateStateUnderLock(runtime, name, (state) => ({ ...state, revoked }), ctx.signal)) return true;
    ctx.output.err(`revoke: warning: ${name} is being renewed by another certpilot run; the revocation is not recorded here`);
  } catch (err) {
    ctx.output.err(`revoke: warning: the revocation is not recorded in the renewal state: ${err instanceof Error ? err.message : String(err)}`);
  }
  return false;
}

/** Entry point of `certpilot revoke`. */
export async function run(ctx: CommandContext): Promise<number> {
  const name = ctx.positionals[0] ?? ctx.values.name?.[0];
  if (!name) throw new CertpilotError('ERR_CLI_USAGE', 'cli: revoke needs the certificate name: certpilot revoke <name>');
  const reasonName = ctx.values.reason ?? 'unspecified';
  const reason = REVOCATION_REASONS[reasonName];
  if (reason === undefined) {
    throw new CertpilotError('ERR_CLI_USAGE', `cli: unknown --reason "${reasonName}"`, { hint: `Use one of: ${Object.keys(REVOCATION_REASONS).join(', ')}.` });
  }
  const runtime = await openRuntime(ctx, false);
  try {
    const stored = await runtime.store.load(name);
    if (!stored) throw new CertpilotError('ERR_CERT_UNKNOWN', `revoke: no stored certificate named "${name}"`);
    const { client } = await runtime.openAccount(stored.metadata.directoryUrl || undefined);
    await client.revokeCertificate(stored.certPem, {
      reason,
      ...(ctx.values['with-certificate-key'] ? { certificateKey: importPrivateKey(stored.privateKeyPem) } : {}),
    });
    ctx.output.out(`revoked  ${name}: serial ${stored.metadata.serialNumber} (reason ${reasonName}), signed by the ${ctx.values['with-certificate-key'] ? 'certificate key' : 'account key'}`);
    const recorded = await recordRevocation(runtime, ctx, name, stored, reasonName);
    ctx.output.out(
      recorded
        ? `         the next \`certpilot renew\` (or the daemon's next look) replaces it; now: certpilot renew --name ${name}`
        : `         replace it now: certpilot renew --force --name ${name} (the revocation could not be recorded, so a plain renew does not know it is due)`,
    );
    return EXIT.ok;
  } finally {
    await runtime.close();
  }
}
