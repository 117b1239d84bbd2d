/** `certpilot account show|create|update|rollover|deactivate`: the ACME account of the configured CA. */
import { createHash, createPublicKey } from 'node:crypto';
import { importPrivateKey, keyTypeOf } from '../../acme/csr.js';
import { jwkThumbprint } from '../../acme/protocol/jws.js';
import { apacheStatelessSnippet, nginxStatelessSnippet } from '../../challenges/http01/stateless.js';
import { CertpilotError } from '../../errors.js';
import { EXIT, type CommandContext } from '../main.js';
import { openRuntime } from '../runtime.js';

/** Entry point of `certpilot account`. */
export async function run(ctx: CommandContext): Promise<number> {
  const action = ctx.positionals[0] ?? 'show';
  const runtime = await openRuntime(ctx, false);
  try {
    const options = runtime.accountOptions(runtime.config.acme.directoryUrl);
    switch (action) {
      case 'show': {
        const account = await runtime.store.loadAccount(options.directoryUrl);
        if (!account) {
          ctx.output.out(`No account for ${options.directoryUrl} yet; \`certpilot account create\` or the first issue makes one.`);
          return EXIT.ok;
        }
        const key = importPrivateKey(account.privateKeyPem);
        const info = {
          directoryUrl: account.directoryUrl,
          url: account.url ?? null,
          contact: account.contact ?? [],
          keyType: keyTypeOf(key) ?? 'unknown',
          publicKeySha256: fingerprint(key),
          // RFC 7638: what stateless http-01 responders append to each token (RFC 8555 §8.1).
          thumbprint: jwkThumbprint(key),
          createdAt: account.createdAt,
          ...(account.deactivatedAt !== undefined ? { deactivatedAt: account.deactivatedAt } : {}),
          ...(account.deactivatedUrls?.length ? { deactivatedUrls: account.deactivatedUrls } : {}),
        };
        const stateless = { nginx: nginxStatelessSnippet(info.thumbprint), apache: apacheStatelessSnippet(info.thumbprint) };
        if (ctx.values.json) ctx.output.out(JSON.stringify({ ...info, stateless }, null, 2));
        else {
          for (const [k, v] of Object.entries(info)) ctx.output.out(`${k.padEnd(16)} ${Array.isArray(v) ? v.join(', ') || '-' : (v ?? '-')}`);
          ctx.output.out(`\nStateless http-01 (docs/http01-many-pods.md): certpilot serve --thumbprint=${info.thumbprint}\n  or nginx:\n${nginxStatelessSnippet(info.thumbprint)}\n  or apache (mod_rewrite, mod_headers):\n${stateless.apache.join('\n')}`);
        }
        return EXIT.ok;
      }
      case 'create': {
        // Asks the CA rather than trusting the stored URL: a CA that forgot the account (a test CA
        // restarted, a staging reset) gets the same key registered again.
        const { account, created, forgottenUrl, deactivatedUrl } = await runtime.openAccount(undefined, { askCa: true });
        if (deactivatedUrl !== undefined) {
          ctx.output.out(`created  ${account.url}`);
          ctx.output.out(
            `The stored account ${deactivatedUrl} is deactivated: registered a new account with a new key (the old URL is kept in the account record).\n` +
              'The account and its key changed: update CAA accounturi and dns-persist-01 records that name the old one (`certpilot dns-persist record`), and stateless http-01 responders (`certpilot account show`: the new thumbprint).',
          );
        } else if (forgottenUrl !== undefined) {
          ctx.output.out(`created  ${account.url}`);
          ctx.output.out(
            `${options.directoryUrl} no longer knew the stored account ${forgottenUrl}: registered the same key again (the key and its thumbprint are unchanged; the old URL is kept in the account record).\n` +
              'The account URL changed: update CAA accounturi and dns-persist-01 records that name the old one (`certpilot dns-persist record`).',
          );
        } else ctx.output.out(`${created ? 'created ' : 'exists  '} ${account.url}${created ? '' : ' (the CA knows it)'}`);
        return EXIT.ok;
      }
      case 'update': {
        if (!options.email) throw new CertpilotError('ERR_CLI_USAGE', 'cli: account update needs --email (or acme.email in the configuration)');
        const { client, account } = await runtime.openAccount();
        const contact = [`mailto:${options.email}`];
        await client.updateAccount({ contact });
        await runtime.store.saveAccount({ ...account, contact });
        ctx.output.out(`updated  ${account.url}: contact ${contact.join(', ')}`);
        return EXIT.ok;
      }
      case 'rollover': {
        const url = await runtime.rolloverAccountKey();
        ctx.output.out(`rolled over ${url} to a new ${options.accountKeyType} key`);
        return EXIT.ok;
      }
      case 'deactivate': {
        const { client, account } = await runtime.openAccount();
        await client.deactivateAccount();
        // For good (RFC 8555 §7.3.6): the record says so, so nothing signs with it again.
        await runtime.store.saveAccount({ ...account, deactivatedAt: runtime.clock.now().toISOString() });
        ctx.output.out(`deactivated ${account.url}: the CA refuses it from now on, and issue and renew stop with ERR_ACME_ACCOUNT_DEACTIVATED until \`certpilot account create\` registers a new account with a new key`);
        return EXIT.ok;
      }
      default:
        throw new CertpilotError('ERR_CLI_USAGE', `cli: unknown account action "${action}"`, { hint: 'Use show, create, update, rollover or deactivate.' });
    }
  } finally {
    await runtime.close();
  }
}

/** SHA-256 of the account's public key (SPKI DER), to recognise the key without showing it. */
function fingerprint(key: ReturnType<typeof importPrivateKey>): string {
  return `sha256:${createHash('sha256').update(createPublicKey(key).export({ type: 'spki', format: 'der' })).digest('hex')}`;
}
