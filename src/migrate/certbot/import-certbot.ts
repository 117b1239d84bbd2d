/**
 * `certpilot import certbot`: certbot's accounts and lineages into certpilot's state, and the
 * `certpilot.yaml` that renews them the way certbot did — with no request to the CA. The first
 * renewal then uses the imported account (no new registration) and sends `replaces` with the ARI
 * id of the imported live certificate.
 *
 * The CA is the one the lineages were issued by (their renewal confs' `server =`, as `certbot
 * renew` uses it), unless the run names one (`--directory`, a configuration file): a configuration
 * has one CA, so lineages of several CAs are refused (`ERR_IMPORT_SEVERAL_CAS`) until the run names
 * it. The contact is the run's `--email`, else the imported account's (certbot 2.x keeps none in its
 * files: a note says so). A lineage that is skipped, on reading or on writing (a full disk), is left
 * out of the printed configuration, with the solvers and deployers only it used, unless certpilot's
 * state holds a certificate of that name for the same names (one both certbot and certpilot renewed
 * since the import): certpilot renews that one, so it stays.
 *
 * certbot's `renewal-hooks/deploy/` scripts become `hook` deployers of every certificate; a hook
 * that would deploy certbot's stale files is rewritten to certpilot's `live/` or left out (printed
 * commented out, an `action` note: the CLI exits 1), see `certbot-mapping.ts`.
 */
import { constants } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Clock } from '../../clock.js';
import { CertpilotError } from '../../errors.js';
import { LETSENCRYPT_DIRECTORY, LETSENCRYPT_STAGING_DIRECTORY } from '../../config/schema.js';
import { certificateFingerprint, keyTypeOfPem, metadataFromCertificate } from '../../storage/certificate-facts.js';
import { ConfigDraft, type DraftInstance } from '../config-draft.js';
import { applyPlans, planAccount, planCertificate, type ImportItem, type ImportNote, type ImportReport, type ImportStores, type PlannedImport } from '../import-state.js';
import { bundleOrder } from '../pem-bundle.js';
import { mapRenewalConf, prePostHookReason, readsCertbotFiles, sameServer, type HookProgram } from './certbot-mapping.js';
import { shellHookProgram } from '../../deploy/hook/shell-program.js';
import type { DirHandle } from '../../fs/dir-handle.js';
import { importAccount, isCertbotDir, openImportSource, preferredAccount, readCertbotState, readHookScripts, readInside, type CertbotAccount, type CertbotLineage } from './certbot-reader.js';

/** Options of {@link importCertbot}. */
export interface CertbotImportOptions {
  /** certbot's configuration directory (`--config-dir`, default /etc/letsencrypt). */
  configDir: string;
  stores: ImportStores;
  /**
   * The CA certpilot renews with (`acme.directoryUrl`), and the one of dry runs: used as given when
   * `caNamed`, else only when no lineage names its CA (see the module comment).
   */
  directoryUrl: string;
  stagingDirectoryUrl: string;
  /** The run named the CA (--directory, CERTPILOT_DIRECTORY_URL, a configuration file): it overrides the lineages' `server =`. */
  caNamed?: boolean;
  /** The contact the run names (--email, acme.email): printed instead of the imported account's. */
  email?: string;
  /** For the printed configuration. */
  stateDir: string;
  /** The configured state store, for the printed configuration (the import writes into it). */
  stateStore?: DraftInstance;
  caBundle?: string;
  /**
   * `REQUESTS_CA_BUNDLE` of the import's environment (certbot trusted a private CA through it): when
   * no `caBundle` is given, a note says how to print it.
   */
  requestsCaBundle?: string;
  /** Read and plan only: write nothing. */
  dryRun: boolean;
  clock: Clock;
}


/**
 * Runs the import (see the module comment). Throws only when the directory is not certbot's or
 * cannot be opened safely (`certbot-reader.ts`: read through directory descriptors, no symlink
 * followed outside a lineage's own `archive/<name>/`).
 */
export async function importCertbot(options: CertbotImportOptions): Promise<ImportReport> {
  const configDir = resolve(options.configDir);
  const root = await openImportSource(configDir);
  try {
    if (!(await isCertbotDir(root))) {
      throw new CertpilotError('ERR_IMPORT_SOURCE', `import: reading ${configDir} failed: it has no live/, accounts/ or renewal/ folder of certbot`, {
        hint: 'Give certbot\'s configuration directory with --config-dir (certbot\'s own --config-dir, default /etc/letsencrypt).',
      });
    }
    return await importFrom(root, configDir, options);
  } finally {
    await root.close();
  }
}

async function importFrom(root: DirHandle, configDir: string, options: CertbotImportOptions): Promise<ImportReport> {
  const { stores, clock } = options;
  const state = await readCertbotState(root, configDir);
  const { directoryUrl, stagingDirectoryUrl } = caOf(state.lineages, options);
  const plans: PlannedImport[] = [];
  const notes: ImportNote[] = [];
  const draft = new ConfigDraft();
  const skippedBeforePlan: ImportItem[] = [];

  // Accounts: one per configured CA (certpilot keeps one account per directory).
  const configured = [...new Set([directoryUrl, stagingDirectoryUrl])];
  const renewalAccounts = state.lineages.map((l) => l.renewal?.params.account);
  const chosen = new Map<string, CertbotAccount>();
  for (const directoryUrl of configured) {
    const best = preferredAccount(state.accounts.filter((a) => sameServer(a.directoryUrl, directoryUrl)), renewalAccounts);
    if (best) chosen.set(directoryUrl, best);
  }
  for (const account of state.accounts) {
    const target = [...chosen.entries()].find(([, a]) => a === account)?.[0];
    if (target !== undefined) {
      plans.push(await planAccount(stores, importAccount(account, target), clock));
      continue;
    }
    const sameCa = configured.find((d) => sameServer(account.directoryUrl, d));
    skippedBeforePlan.push({
      kind: 'account',
      name: account.path,
      status: 'skipped',
      code: 'ERR_IMPORT_ACCOUNT_SKIPPED',
      detail: sameCa
        ? `another certbot account for ${sameCa} is imported (${chosen.get(sameCa)?.path ?? '?'}): certpilot keeps one account per CA`
        : `it is for ${account.directoryUrl}, which certpilot is not configured for (acme.directoryUrl is ${directoryUrl}); to keep it, import again with --directory ${account.directoryUrl}`,
    });
  }

  // certbot's renewal-hooks/deploy/ scripts run after each renewal of every lineage, in name order,
  // with RENEWED_LINEAGE and RENEWED_DOMAINS (as the hook deployer gives them): one hook deployer
  // each, first in every certificate's chain. One that reads certbot's own files is left out.
  const inPlace = resolve(options.stateDir) === configDir;
  const liveDir = options.stateStore === undefined || options.stateStore.type === 'filesystem' ? join(resolve(options.stateDir), 'live') : undefined;
  const directoryHooks: string[] = [];
  const directoryHookPaths: string[] = [];
  for (const script of await readHookScripts(root, 'deploy')) {
    const path = join(configDir, 'renewal-hooks', 'deploy', script.name);
    const setting = `renewal-hooks/deploy/${script.name}`;
    if (!script.runs) {
      notes.push({ name: '*', setting, reason: script.skipped ?? 'certbot does not run it' });
      continue;
    }
    directoryHookPaths.push(path);
    const entry = { type: 'hook', command: [path], timeoutSeconds: 300 };
    const reads = !inPlace && script.text !== undefined && state.lineages.some((l) => readsCertbotFiles(script.text as string, l.name, configDir));
    if (reads) {
      const why = `it reads certbot's own live/ or archive/ files (or ${configDir}), which stop changing once certpilot renews: written as is it would report each new version deployed while the service keeps certbot's last certificate`;
      const left = draft.leaveOut(`certbot-deploy-${script.name}`, '*', entry, why);
      notes.push({ name: '*', setting, level: 'action', reason: `NOT written: ${why}. Make it read $RENEWED_LINEAGE (certpilot's live directory of the certificate renewed, the same file names), then add it: \`${left}\` is printed commented out at the end of the configuration` });
      continue;
    }
    directoryHooks.push(draft.addDeployer(`certbot-deploy-${script.name}`, entry));
    notes.push({ name: '*', setting, level: 'changed', reason: `certbot ran it after each renewal of every certificate: the \`hook\` deployer \`${directoryHooks.at(-1)}\` runs it for every imported certificate (before its own deploy hook, as certbot), with RENEWED_LINEAGE and RENEWED_DOMAINS` });
  }

  // Lineages.
  const rootCopies = await readRootCopies(root);
  for (const lineage of state.lineages) {
    const live = lineage.versions.at(-1);
    if (!live) continue;
    const facts = metadataFromCertificate(live.certPem, live.privateKeyPem);
    const server = lineage.renewal?.params.server;
    const account = state.accounts.find((a) => a.id === lineage.renewal?.params.account && (server === undefined || sameServer(a.directoryUrl, server)));
    let filesDeployer: string | undefined;
    if (rootCopies !== undefined && rootCopies.fingerprint === certificateFingerprint(live.certPem)) {
      // The deck's dev volume: its hook copies the live files to the volume root.
      filesDeployer = draft.addDeployer('volume', {
        type: 'files',
        dir: configDir,
        bundle: rootCopies.bundle ?? 'cert-chain-key',
        ...(rootCopies.bundle === undefined ? { files: { 'fullbundle.pem': false } } : {}),
      });
    }
    const hook = lineage.renewal?.params.renew_hook ?? lineage.renewal?.params.deploy_hook;
    const hookProgram = hook === undefined ? undefined : await inspectHookProgram(hook);
    const mapped = mapRenewalConf(lineage.name, facts.domains, lineage.renewal, draft, {
      configDir,
      directoryUrl,
      liveKeyType: keyTypeOfPem(live.privateKeyPem) ?? facts.keyType,
      ...(filesDeployer ? { filesDeployer } : {}),
      inPlace,
      ...(liveDir !== undefined ? { liveDir } : {}),
      directoryHooks,
      directoryHookPaths,
      ...(hookProgram ? { hookProgram } : {}),
    });
    draft.certificates.push(mapped.certificate);
    notes.push(...mapped.notes);
    const renewsWith = server === undefined ? undefined : chosen.get(configured.find((d) => sameServer(d, server)) ?? '');
    if (account && renewsWith && renewsWith !== account) {
      notes.push({ name: lineage.name, setting: `account = ${account.id}`, reason: `certpilot keeps one account per CA and renews with ${renewsWith.path}; the CA may then refuse \`replaces\` (certpilot orders without it)` });
    }
    plans.push(
      await planCertificate(
        stores,
        {
          name: lineage.name,
          versions: lineage.versions,
          ...(server ? { directoryUrl: server } : {}),
          ...(account ? { accountUrl: account.url } : {}),
          // certbot ran the deploy hook for its live version; the volume's copies are that version.
          deployedBy: mapped.deployedBy,
          source: `live/${lineage.name}`,
        },
        clock,
      ),
    );
  }
  // certbot's pre and post hook directories run around every renewal: certpilot has no such step.
  for (const kind of ['pre', 'post'] as const) {
    for (const script of await readHookScripts(root, kind)) {
      if (!script.runs) continue;
      notes.push({ name: '*', setting: `renewal-hooks/${kind}/${script.name}`, reason: prePostHookReason(undefined) });
    }
  }
  const items = [...(await applyPlans(plans, options.dryRun)), ...skippedBeforePlan];
  for (const problem of state.problems) {
    if (problem.kind === 'renewal' && state.lineages.some((l) => l.name === problem.name)) {
      notes.push({ name: problem.name, setting: `renewal/${problem.name}.conf`, reason: problem.reason });
      continue;
    }
    items.push({
      kind: problem.kind === 'account' ? 'account' : 'certificate',
      name: problem.name,
      status: 'skipped',
      code: problem.kind === 'account' ? 'ERR_IMPORT_ACCOUNT_SKIPPED' : 'ERR_IMPORT_INVALID',
      detail: problem.kind === 'lineage' ? `${problem.reason}; nothing of it was imported` : problem.reason,
    });
  }
  // A lineage skipped on reading or on writing (a full disk, a conflict) is not renewed by this
  // configuration: its entry goes, with the solvers and deployers only it used, and its notes.
  const left = items.filter((i) => i.kind === 'certificate' && i.status === 'skipped' && i.keptInConfig !== true).map((i) => i.name);
  draft.removeCertificates(left);
  const kept = notes.filter((n) => !left.includes(n.name));
  // The run's --email first, then the account's own (the renewing CA's before the staging one's).
  const accountEmail = [chosen.get(directoryUrl), ...chosen.values()].flatMap((a) => a?.contact ?? []).find((c) => c.startsWith('mailto:'))?.slice('mailto:'.length);
  const email = options.email ?? accountEmail;
  if (email === undefined) {
    kept.push({
      name: '*',
      setting: 'account contact',
      reason: chosen.size > 0
        ? "certbot 2.x keeps no contact e-mail in its files (regr.json holds only the account URL): the CA still has the one the account was registered with; to print it as acme.email (used when certpilot registers an account itself, e.g. renew --dry-run's at the staging CA), import again with --email ADDRESS"
        : 'no account was imported, so the first renewal registers one: import again with --email ADDRESS (or set acme.email) for its contact',
    });
  }
  if (options.caBundle === undefined && options.requestsCaBundle) {
    kept.push({
      name: '*',
      setting: `REQUESTS_CA_BUNDLE=${options.requestsCaBundle}`,
      reason: `certbot trusted the CA through this file; certpilot does not read REQUESTS_CA_BUNDLE: import again with --ca-bundle ${options.requestsCaBundle} to print it as acme.caBundle (or set acme.caBundle yourself)`,
    });
  }
  const config = draft.toYaml(
    // An imported account exists: its holder agreed to the CA's terms when certbot registered it.
    { stateDir: options.stateDir, ...(options.stateStore ? { stateStore: options.stateStore } : {}), directoryUrl, termsOfServiceAgreed: chosen.size > 0, ...(email ? { email } : {}), ...(options.caBundle ? { caBundle: options.caBundle } : {}) },
    [
      `certpilot configuration for the certificates imported from certbot's ${configDir}`,
      ...(left.length > 0 ? [`Not in it, skipped by the import (see its report): ${left.join(', ')}`] : []),
      'Check it with `certpilot config check -c FILE`, then stop certbot\'s renewals (docs/migrating.md).',
    ],
  );
  return { items, notes: kept, config };
}

/**
 * The program a deploy hook starts, when its command begins with an absolute path (see
 * `shellHookProgram`): whether it can run, and its text when it is a readable script of at most
 * 1 MiB (to see whether it reads certbot's own files; nothing of it is printed).
 */
async function inspectHookProgram(hook: string): Promise<HookProgram | undefined> {
  const path = shellHookProgram(hook);
  if (path === undefined) return undefined;
  const { access, readFile, stat } = await import('node:fs/promises');
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => err);
  if (info instanceof Error) return { path, problem: info.code === 'ENOENT' ? 'does not exist' : `cannot be read (${info.code ?? 'error'})` };
  if (!info.isFile()) return { path, problem: 'is not a file' };
  if (await access(path, constants.X_OK).then(() => false, () => true)) return { path, problem: 'is not executable' };
  const text = info.size <= 1 << 20 ? await readFile(path, 'utf8').catch(() => undefined) : undefined;
  return { path, ...(text !== undefined ? { text } : {}) };
}

/**
 * The CA of the import: the run's when it named one; else the one the lineages' renewal confs name
 * (`server =`), with its dry-run CA as the configuration would resolve it; the run's default when
 * none names one. Lineages of several CAs are refused (`ERR_IMPORT_SEVERAL_CAS`): one configuration
 * renews with one CA, and which one is the user's choice.
 */
function caOf(lineages: readonly CertbotLineage[], options: CertbotImportOptions): { directoryUrl: string; stagingDirectoryUrl: string } {
  const given = { directoryUrl: options.directoryUrl, stagingDirectoryUrl: options.stagingDirectoryUrl };
  if (options.caNamed === true) return given;
  const servers: { url: string; names: string[] }[] = [];
  for (const lineage of lineages) {
    const server = lineage.renewal?.params.server;
    if (server === undefined || server === '') continue;
    const same = servers.find((s) => sameServer(s.url, server));
    if (same) same.names.push(lineage.name);
    else servers.push({ url: server, names: [lineage.name] });
  }
  const [only, ...others] = servers.sort((a, b) => b.names.length - a.names.length);
  if (only === undefined) return given;
  if (others.length > 0) {
    throw new CertpilotError(
      'ERR_IMPORT_SEVERAL_CAS',
      `import: certbot's lineages were issued by ${servers.length} CAs (${servers.map((s) => `${s.url}: ${s.names.join(', ')}`).join('; ')}), and a certpilot configuration renews with one CA; nothing was imported`,
      {
        hint: `Name the CA to renew every lineage with: import again with ${servers.map((s) => `--directory ${s.url}`).join(' or ')}. Those issued by another CA then get a new certificate from it at their first renewal (each is named in a \`not mapped\` line).`,
      },
    );
  }
  if (sameServer(only.url, options.directoryUrl)) return given;
  return { directoryUrl: only.url, stagingDirectoryUrl: sameServer(only.url, LETSENCRYPT_DIRECTORY) ? LETSENCRYPT_STAGING_DIRECTORY : only.url };
}

/** The deck's copies at the volume root (`cp -aL live/<name>/* .`), when present: the leaf's fingerprint and the bundle order. */
async function readRootCopies(root: DirHandle): Promise<{ fingerprint: string; bundle?: 'cert-chain-key' | 'key-cert-chain' } | undefined> {
  // Regular files only (the deck's hook copies with `cp -aL`): a symbolic link is not followed.
  const read = async (file: string): Promise<string | undefined> => {
    const text = await readInside(root, file, file);
    return typeof text === 'string' ? text : undefined;
  };
  const [cert, chain, key, bundle] = await Promise.all([read('cert.pem'), read('chain.pem'), read('privkey.pem'), read('fullbundle.pem')]);
  if (cert === undefined || key === undefined) return undefined;
  let fingerprint: string;
  try {
    fingerprint = certificateFingerprint(cert);
  } catch {
    return undefined;
  }
  const order = bundle === undefined ? undefined : bundleOrder(bundle, cert, chain ?? '', key);
  return { fingerprint, ...(order ? { bundle: order } : {}) };
}
