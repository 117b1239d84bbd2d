/**
 * The ACME account of one directory: its key kept in the {@link AccountStore}, registered with
 * the CA on first use. The key is saved before the CA is asked, so a crash between the two loses
 * nothing: the next run finds the account again with `onlyReturnExisting` semantics.
 */
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../clock.js';
import { CertpilotError, ConfigError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { AccountStore, KeyType, StoredAccount } from '../storage/certificate-store.js';
import { AcmeClient } from './acme-client.js';
import { generatePrivateKey, importPrivateKey } from './csr.js';

/** How to reach the CA and register with it. */
export interface AccountOptions {
  store: AccountStore;
  directoryUrl: string;
  caCertificates?: string[];
  email?: string;
  termsOfServiceAgreed: boolean;
  eab?: { kid: string; hmacKey: string };
  accountKeyType: KeyType;
  pollTimeoutMs?: number;
  userAgent?: string;
  logger?: Logger;
  clock?: Clock;
}

/** A client bound to a registered account. */
export interface OpenedAccount {
  client: AcmeClient;
  account: StoredAccount & { url: string };
  /** True when this call registered the account with the CA. */
  created: boolean;
}

/** A client for the stored account key, without asking the CA anything (the URL may be unknown). */
export async function clientForStoredAccount(options: AccountOptions): Promise<{ client: AcmeClient; account: StoredAccount } | undefined> {
  const account = await options.store.loadAccount(options.directoryUrl);
  if (!account) return undefined;
  return { client: makeClient(options, importPrivateKey(account.privateKeyPem), account.url), account };
}

/** Loads the account for the directory, creating the key and registering it when needed. */
export async function openAccount(options: AccountOptions, call: { signal?: AbortSignal } = {}): Promise<OpenedAccount> {
  const logger = options.logger ?? silentLogger;
  let account = await options.store.loadAccount(options.directoryUrl);
  if (!account) {
    const generated = await generatePrivateKey(options.accountKeyType);
    account = {
      directoryUrl: options.directoryUrl,
      privateKeyPem: generated.pem,
      ...(options.email ? { contact: [`mailto:${options.email}`] } : {}),
      createdAt: (options.clock?.now() ?? new Date()).toISOString(),
    };
    await options.store.saveAccount(account);
    logger.info({ directoryUrl: options.directoryUrl, keyType: options.accountKeyType }, 'account key created');
  }
  const client = makeClient(options, importPrivateKey(account.privateKeyPem), account.url);
  if (account.url) return { client, account: { ...account, url: account.url }, created: false };

  const directory = await client.getDirectory(call);
  if (directory.meta?.termsOfService && !options.termsOfServiceAgreed) {
    throw new ConfigError([
      {
        path: 'acme.termsOfServiceAgreed',
        message: `the CA requires agreeing to its terms of service (${directory.meta.termsOfService}); read them, then set it to true or pass --agree-tos`,
      },
    ]);
  }
  if (directory.meta?.externalAccountRequired && !options.eab) {
    throw new CertpilotError('ERR_ACME_EAB_REQUIRED', `account: ${options.directoryUrl} requires external account binding`);
  }
  const contact = account.contact ?? (options.email ? [`mailto:${options.email}`] : undefined);
  const created = await client.createAccount(
    {
      termsOfServiceAgreed: options.termsOfServiceAgreed,
      ...(contact ? { contact } : {}),
      ...(options.eab ? { externalAccountBinding: { kid: options.eab.kid, hmacKey: Buffer.from(options.eab.hmacKey, 'base64url') } } : {}),
    },
    call,
  );
  const saved: StoredAccount & { url: string } = { ...account, url: created.url, ...(contact ? { contact } : {}) };
  await options.store.saveAccount(saved);
  logger.info({ account: created.url }, 'account registered');
  return { client, account: saved, created: true };
}

function makeClient(options: AccountOptions, key: KeyObject, url: string | undefined): AcmeClient {
  return new AcmeClient({
    directoryUrl: options.directoryUrl,
    accountKey: key,
    ...(url ? { accountUrl: url } : {}),
    ...(options.caCertificates?.length ? { caCertificates: options.caCertificates } : {}),
    ...(options.userAgent ? { userAgent: options.userAgent } : {}),
    ...(options.pollTimeoutMs ? { pollTimeoutMs: options.pollTimeoutMs } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
}
