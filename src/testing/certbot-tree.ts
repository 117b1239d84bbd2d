/**
 * Builds certbot configuration directories (`/etc/letsencrypt`) for tests, in certbot's own layout
 * (`certbot-reader.ts` names it): lineages with their archive, live links and renewal conf, and
 * accounts as certbot writes them (a JWK, regr.json, meta.json).
 */
import { newPrivateKeySync } from '../acme/private-key-sync.js';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CertificateBundle } from '../storage/certificate-store.js';

/** The CA the trees name by default (host with a port: certbot's folder is `acme.test:14000/dir`). */
export const CERTBOT_TEST_SERVER = 'https://acme.test:14000/dir';

/** Writes a lineage in certbot's layout (archive N = bundles[N-1], live -> the last) and its renewal conf (account `abc`). */
export function writeCertbotLineage(root: string, name: string, bundles: readonly CertificateBundle[], params: readonly string[] = [], server = CERTBOT_TEST_SERVER): void {
  mkdirSync(join(root, 'archive', name), { recursive: true });
  mkdirSync(join(root, 'live', name), { recursive: true });
  mkdirSync(join(root, 'renewal'), { recursive: true });
  bundles.forEach((b, i) => {
    const files = { cert: b.certPem, chain: b.chainPem, fullchain: b.fullchainPem, privkey: b.privateKeyPem };
    for (const [f, pem] of Object.entries(files)) writeFileSync(join(root, 'archive', name, `${f}${i + 1}.pem`), pem);
  });
  for (const f of ['cert', 'chain', 'fullchain', 'privkey']) symlinkSync(`../../archive/${name}/${f}${bundles.length}.pem`, join(root, 'live', name, `${f}.pem`));
  writeFileSync(join(root, 'renewal', `${name}.conf`), `version = 2.1.0\n[renewalparams]\naccount = abc\nserver = ${server}\nauthenticator = webroot\nwebroot_path = /srv/www,\nkey_type = ecdsa\n${params.join('\n')}\n`);
}

/** One certbot account to write; every field has a default. */
export interface CertbotTestAccount {
  /** certbot's account id (the folder name). */
  id?: string;
  /** The CA; the account's folder is its URL without the scheme. */
  server?: string;
  /** The account URL (regr.json `uri`). */
  url?: string;
  /** regr.json's `body.contact`, as older certbot wrote it; `null`: `"body": {}`, as certbot 2.x writes it. */
  contact?: string[] | null;
  /** meta.json's `register_to_eff` (certbot 2.x keeps -m there until the EFF subscription is sent). */
  registerToEff?: string;
}

/** Writes a certbot account under `accounts/<server without scheme>/<id>/`; returns its folder. */
export function writeCertbotAccount(root: string, account: CertbotTestAccount = {}): string {
  const server = account.server ?? CERTBOT_TEST_SERVER;
  const dir = join(root, 'accounts', ...server.replace(/^https?:\/\//, '').split('/'), account.id ?? 'abc');
  mkdirSync(dir, { recursive: true });
  const jwk = newPrivateKeySync({ type: 'rsa', modulusLength: 2048 }).export({ format: 'jwk' });
  writeFileSync(join(dir, 'private_key.json'), JSON.stringify(jwk));
  const url = account.url ?? `${new URL(server).origin}/my-account/1`;
  const body = account.contact === null ? {} : { contact: account.contact ?? ['mailto:ops@example.com'] };
  writeFileSync(join(dir, 'regr.json'), JSON.stringify({ body, uri: url }));
  writeFileSync(join(dir, 'meta.json'), JSON.stringify({ creation_dt: '2025-01-02T03:04:05Z', creation_host: 'h', ...(account.registerToEff ? { register_to_eff: account.registerToEff } : {}) }));
  return dir;
}
