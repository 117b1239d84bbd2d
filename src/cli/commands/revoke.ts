/** `certpilot revoke <name>`: revokes the live certificate, signed by the account or its own key. */
import { importPrivateKey } from '../../acme/csr.js';
import { CertpilotError } from '../../errors.js';
import { EXIT, type CommandContext } from '../main.js';
import { openRuntime } from '../runtime.js';

/** CRL reason codes accepted by Let's Encrypt (RFC 5280 §5.3.1). */
export const REVOCATION_REASONS: Readonly<Record<string, number>> = {
  unspecified: 0,
  keyCompromise: 1,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
};

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
    ctx.output.out(`         replace it now: certpilot renew --force --name ${name}`);
    return EXIT.ok;
  } finally {
    await runtime.close();
  }
}
