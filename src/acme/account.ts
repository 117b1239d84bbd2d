/**
 * The ACME account of one directory: its key kept in the {@link AccountStore}, registered with
 * the CA on first use.
 *
 * Accounts are written only once the CA may know them. A new key is generated in memory; nothing
 * is stored while the CA cannot be reached (the directory fetch fails first) or while our side
 * refuses (terms of service not agreed, EAB missing). The key is saved right before `newAccount`,
 * as a *pending* account (a record without `url`), because a registration whose answer was lost
 * may have created the account: that key must not be lost. The next run sends `newAccount` again
 * with the same key, which the CA answers with the existing account (RFC 8555 §7.3.1), and the
 * record gains its `url`. When the CA refused the registration outright (a 4xx problem document:
 * it created nothing), the pending entry is removed again.
 *
 * A CA may forget an account (Pebble keeps them in memory; a staging environment is reset now and
 * then): every request signed with the stored URL then fails `accountDoesNotExist`. `account
 * create` asks the CA (`askCa`) and registers the same key again, so the key, and with it the
 * thumbprint stateless http-01 responders answer with, stays; the forgotten URL is kept in the
 * record (`forgottenUrls`). A renewal does not do this by itself: the account URL changes, which
 * CAA `accounturi` and dns-persist-01 records name, and an EAB CA needs credentials to register.
 *
 * A deactivated account (RFC 8555 §7.3.6) is refused by the CA for good. `account deactivate`
 * marks the record (`deactivatedAt`): no request is signed with it again, and every command that
 * needs the account says so without asking the CA. `account create` then, or when the CA says the
 * stored account is deactivated (done by another client), registers a new account with a new key,
 * the old URL kept in `deactivatedUrls`; nothing does it unasked (a new account URL, new terms).
 */
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../clock.js';
import { CertpilotError, ConfigError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { AccountStore, KeyType, StoredAccount } from '../storage/certificate-store.js';
import { AcmeClient, type Directory } from './acme-client.js';
import type { AcmeRequestObserver } from './protocol/transport.js';
import type { CaReachability } from './protocol/ca-reachability.js';
import { AcmeProblemError } from './protocol/problem.js';
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
  /** Longest wait for the CA to answer one request, in ms (`acme.requestTimeoutSeconds`). */
  requestTimeoutMs?: number;
  /** The run's record of CAs that did not answer, shared by every client of the run. */
  reachability?: CaReachability | undefined;
  userAgent?: string;
  logger?: Logger;
  clock?: Clock;
  /** Told about each ACME request (metrics). */
  observer?: AcmeRequestObserver | undefined;
}

/** A client bound to a registered account. */
export interface OpenedAccount {
  client: AcmeClient;
  account: StoredAccount & { url: string };
  /** True when this call registered the account with the CA. */
  created: boolean;
  /** With `askCa`: the account URL the CA no longer knew, when this call registered the stored key again. */
  forgottenUrl?: string;
  /** With `askCa`: the deactivated account this call replaced with a new key and a new account. */
  deactivatedUrl?: string;
}

/** How {@link openAccount} treats a stored account. */
export interface OpenAccountCall {
  signal?: AbortSignal;
  /**
   * Ask the CA whether it still knows the stored account (`newAccount` with `onlyReturnExisting`,
   * RFC 8555 §7.3.1) instead of trusting the stored URL; when it does not (a test CA restarted, a
   * staging reset), register the same key again (`account create`).
   */
  askCa?: boolean;
  /**
   * Called with the CA's directory before an account is registered (never for a stored one): a
   * command that needs something of the CA that a new account cannot give (dns-persist's issuer
   * name) throws here, so a CA that cannot serve it gets no account and no key is stored.
   */
  beforeRegistering?: (directory: Directory) => void;
}

/** A client for the stored account key, without asking the CA anything (the URL may be unknown). */
export async function clientForStoredAccount(options: AccountOptions): Promise<{ client: AcmeClient; account: StoredAccount } | undefined> {
  const account = await options.store.loadAccount(options.directoryUrl);
  if (!account) return undefined;
  return { client: makeClient(options, importPrivateKey(account.privateKeyPem), account.url), account };
}

/** Loads the account for the directory, creating the key and registering it when needed. */
export async function openAccount(options: AccountOptions, call: OpenAccountCall = {}): Promise<OpenedAccount> {
  return openAccountOnce(options, call, false);
}

async function openAccountOnce(options: AccountOptions, call: OpenAccountCall, raced: boolean): Promise<OpenedAccount> {
  const logger = options.logger ?? silentLogger;
  let account = await options.store.loadAccount(options.directoryUrl);
  // Kept in memory until the CA may know it (see the module comment).
  let unsaved = false;
  if (!account) {
    const generated = await generatePrivateKey(options.accountKeyType);
    account = {
      directoryUrl: options.directoryUrl,
      privateKeyPem: generated.pem,
      ...(options.email ? { contact: [`mailto:${options.email}`] } : {}),
      createdAt: (options.clock?.now() ?? new Date()).toISOString(),
    };
    unsaved = true;
    logger.info({ directoryUrl: options.directoryUrl, keyType: options.accountKeyType }, 'account key created (stored once the CA is asked to register it)');
  }
  // `account create` replaces a deactivated account (the CA refuses it for good) with a new key.
  let replaced: string | undefined;
  const replace = async (stored: StoredAccount & { url: string }): Promise<void> => {
    replaced = stored.url;
    account = await replacingDeactivated(options, stored);
    unsaved = true;
  };
  if (account.deactivatedAt !== undefined && account.url !== undefined) {
    if (!call.askCa) {
      throw new CertpilotError('ERR_ACME_ACCOUNT_DEACTIVATED', `account: the account ${account.url} of ${options.directoryUrl} was deactivated on ${account.deactivatedAt}; nothing was sent to the CA`);
    }
    await replace({ ...account, url: account.url });
  }
  if (account.nextPrivateKeyPem !== undefined) account = await finishInterruptedRollover(options, account, call);
  let forgottenUrl: string | undefined;
  if (account.url && call.askCa) {
    // The stored URL is only what the CA said once: ask it again with the key alone. Deactivated
    // outside certpilot (another client with this key, the CA): replaced as above.
    const asking = makeClient(options, importPrivateKey(account.privateKeyPem), undefined);
    const found = await asking
      .findAccount(call)
      .catch((err: unknown) => {
        if (err instanceof AcmeProblemError && err.code === 'ERR_ACME_ACCOUNT_DEACTIVATED') return 'deactivated' as const;
        throw err;
      })
      .finally(() => asking.close());
    if (found === 'deactivated') {
      logger.warn({ directoryUrl: options.directoryUrl, account: account.url }, 'account: the CA says the stored account is deactivated; registering a new one with a new key');
      await replace({ ...account, url: account.url });
    } else if (found === undefined) {
      forgottenUrl = account.url;
      logger.warn({ directoryUrl: options.directoryUrl, account: account.url }, 'account: the CA no longer knows the stored account; registering the same key again');
      const { url: _forgotten, ...rest } = account;
      account = rest;
    } else if (found.url !== account.url) {
      account = { ...account, url: found.url };
      await options.store.saveAccount(account);
    }
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
    ], { hint: 'Read the terms, then pass --agree-tos or set acme.termsOfServiceAgreed: true. (config check cannot tell: only the CA\'s directory says it has terms.)' });
  }
  if (directory.meta?.externalAccountRequired && !options.eab) {
    const again = forgottenUrl ? `, and registering the stored key again after it forgot ${forgottenUrl} needs it too` : '';
    throw new CertpilotError('ERR_ACME_EAB_REQUIRED', `account: ${options.directoryUrl} requires external account binding${again}`);
  }
  call.beforeRegistering?.(directory);
  const contact = account.contact ?? (options.email ? [`mailto:${options.email}`] : undefined);
  // From here the CA may create the account even if its answer is lost: keep the key (pending).
  if (unsaved) {
    // Replacing a deactivated account's record: it is there, and overwritten.
    if (!options.store.createAccount || replaced !== undefined) await options.store.saveAccount(account);
    else if (!(await options.store.createAccount(account))) {
      // Another run (a second pod, a cron line) stored an account first: use that one, so both
      // share one account instead of one overwriting the other's key. Should that one vanish
      // again before we read it, ours is saved as before.
      if (!raced) {
        logger.info({ directoryUrl: options.directoryUrl }, 'account: another certpilot run stored an account first; using it');
        return openAccountOnce(options, call, true);
      }
      await options.store.saveAccount(account);
    }
  }
  let created: Awaited<ReturnType<AcmeClient['createAccount']>>;
  try {
    created = await client.createAccount(
      {
        termsOfServiceAgreed: options.termsOfServiceAgreed,
        ...(contact ? { contact } : {}),
        ...(options.eab ? { externalAccountBinding: { kid: options.eab.kid, hmacKey: Buffer.from(options.eab.hmacKey, 'base64url') } } : {}),
      },
      call,
    );
  } catch (err) {
    // A 4xx problem document: the CA refused and created nothing, so the pending key goes. Anything
    // else (a network error, a 5xx, an unreadable answer) may hide a created account: it stays.
    if (forgottenUrl !== undefined) {
      // Registering a key the CA forgot: nothing was changed in the store, the record stays as it was.
    } else if (err instanceof AcmeProblemError && err.status >= 400 && err.status < 500 && options.store.deleteAccount) {
      await options.store.deleteAccount(options.directoryUrl).catch((e: unknown) => logger.warn({ err: String(e) }, 'account: could not remove the pending account the CA refused'));
    } else {
      logger.warn({ directoryUrl: options.directoryUrl }, 'account: the registration got no answer; its key is kept (pending) and the next run asks again');
    }
    throw err;
  }
  const saved: StoredAccount & { url: string } = {
    ...account,
    url: created.url,
    ...(contact ? { contact } : {}),
    // The URL the CA forgot stays in the record (the key is the same one).
    ...(forgottenUrl ? { forgottenUrls: [...(account.forgottenUrls ?? []), forgottenUrl] } : {}),
  };
  await options.store.saveAccount(saved);
  logger.info({ account: created.url, ...(forgottenUrl ? { forgotten: forgottenUrl } : {}) }, forgottenUrl ? 'account registered again' : 'account registered');
  return { client, account: saved, created: true, ...(forgottenUrl ? { forgottenUrl } : {}), ...(replaced ? { deactivatedUrl: replaced } : {}) };
}

/**
 * The record that takes a deactivated account's place: a new key, not registered yet, with the
 * contact kept and the old URL in `deactivatedUrls`. Its key is stored before `newAccount`, as any
 * new account's is.
 */
async function replacingDeactivated(options: AccountOptions, account: StoredAccount): Promise<StoredAccount> {
  const generated = await generatePrivateKey(options.accountKeyType);
  const contact = options.email ? [`mailto:${options.email}`] : account.contact;
  return {
    directoryUrl: options.directoryUrl,
    privateKeyPem: generated.pem,
    ...(contact ? { contact } : {}),
    createdAt: (options.clock?.now() ?? new Date()).toISOString(),
    ...(account.forgottenUrls?.length ? { forgottenUrls: account.forgottenUrls } : {}),
    deactivatedUrls: [...(account.deactivatedUrls ?? []), ...(account.url ? [account.url] : [])],
  };
}

function makeClient(options: AccountOptions, key: KeyObject, url: string | undefined): AcmeClient {
  return new AcmeClient({
    directoryUrl: options.directoryUrl,
    accountKey: key,
    ...(url ? { accountUrl: url } : {}),
    ...(options.caCertificates?.length ? { caCertificates: options.caCertificates } : {}),
    ...(options.userAgent ? { userAgent: options.userAgent } : {}),
    ...(options.pollTimeoutMs ? { pollTimeoutMs: options.pollTimeoutMs } : {}),
    ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    ...(options.reachability ? { reachability: options.reachability } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
  });
}

/**
 * Replaces the account key (RFC 8555 §7.3.5). The new key is saved as the pending key before the CA
 * is asked and promoted after, so a crash at any point leaves a key the CA knows on disk.
 */
export async function rolloverAccountKey(options: AccountOptions, call: { signal?: AbortSignal } = {}): Promise<StoredAccount & { url: string }> {
  const { client, account } = await openAccount(options, call);
  const next = await generatePrivateKey(options.accountKeyType);
  await options.store.saveAccount({ ...account, nextPrivateKeyPem: next.pem });
  await client.rolloverKey(next.key, call);
  const { nextPrivateKeyPem: _done, ...rest } = account;
  const rolled = { ...rest, privateKeyPem: next.pem };
  await options.store.saveAccount(rolled);
  client.close();
  (options.logger ?? silentLogger).info({ account: account.url }, 'account key rolled over');
  return rolled;
}

/** A rollover died between saving the pending key and promoting it: keep whichever key the CA knows. */
async function finishInterruptedRollover(options: AccountOptions, account: StoredAccount, call: { signal?: AbortSignal }): Promise<StoredAccount> {
  const { nextPrivateKeyPem, ...rest } = account;
  if (nextPrivateKeyPem === undefined || account.url === undefined) return rest;
  const current = makeClient(options, importPrivateKey(account.privateKeyPem), undefined);
  const known = await current.findAccount(call).finally(() => current.close());
  const keep: StoredAccount = known ? rest : { ...rest, privateKeyPem: nextPrivateKeyPem };
  if (!known) {
    const next = makeClient(options, importPrivateKey(nextPrivateKeyPem), undefined);
    const found = await next.findAccount(call).finally(() => next.close());
    if (!found) {
      throw new CertpilotError('ERR_ACME_ACCOUNT_NOT_FOUND', `account: neither the stored key nor the pending rollover key is known to ${options.directoryUrl}`);
    }
  }
  await options.store.saveAccount(keep);
  (options.logger ?? silentLogger).warn({ account: account.url, kept: known ? 'old key' : 'new key' }, 'finished an interrupted account key rollover');
  return keep;
}
