/**
 * Checks across plug-ins: each plug-in's schema sees only its own options, so a mistake that only
 * shows when two of them meet, or when a file they name is read, would otherwise fail after the CA
 * issued a certificate. `config check` reports them all (exit 2); `issue` and `renew` check each
 * certificate's own plug-ins before its order (that certificate fails, the others go on).
 *
 * - A `kubernetes-reload` deployer proves pods see the new Secret by the file of its `key`: a
 *   `kubernetes-secret` deployer before it in the certificate's chain must write that Secret and
 *   that key.
 * - Files plug-ins read (`secretFile`, `passwordFile`, `caFile`, `kubeconfig`, any option ending
 *   in `File`, at any depth) must exist and be readable. The whole-file check includes the
 *   notifiers' files (a webhook's `urlFile`, an SMTP `passwordFile`): a notifier that cannot read
 *   its file fails only when it has something to say. A certificate's own check before its order
 *   leaves them out, since a notifier never stops a renewal.
 * - A webhook's `urlFile` must hold an http(s) URL (whole-file check; its content is never quoted).
 * - A `files` deployer's `owner` and `group` names must exist on this machine (`getent`, as the
 *   deployer itself looks them up), or the deploy fails after the CA issued.
 * - A `files` deployer's `dir` (for each certificate it serves, `{name}` filled in) must not sit in a
 *   directory another user can write, unless `allowSharedDir` is set: the deployer's own walk and
 *   rule ({@link FilesDeployer.probe}), run without creating anything; a `dir` that does not exist
 *   yet passes when the directories the deploy would make pass.
 * - An `rfc2136` solver's `secretFile` must hold a TSIG secret (whole-file and per-certificate).
 * - A `hook` deployer's program written as a path must be an executable file: an argv hook's first
 *   word, and a shell hook's when its command starts with an absolute path written plainly
 *   (`/usr/local/bin/reload.sh && …`: {@link shellHookProgram}); other shell commands are left to the run.
 * - Two certificates whose `files` deployers resolve to the same directory (absolute, `{name}`
 *   filled in) would replace each other's files on every deploy (and the deployer refuses the
 *   second one): reported naming both, with the fix. Likewise two `files` deployers of one
 *   certificate writing one directory. A certificate's own check reports the clashes it is in.
 * - An `rfc2136` solver's `zone` must hold the TXT record of every name it proves: the name itself
 *   or a parent of it. With `followCname` (the default) a name outside the zone passes when its
 *   `_acme-challenge` CNAME ends inside it (one lookup through the solver's `resolvers`, made only
 *   for such a name; when the lookup fails the run's own check names it instead).
 */
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ConfigIssue } from '../errors.js';
import type { FilesOptions } from '../deploy/files/schema.js';
import { isWebhookUrl } from '../notify/webhook/webhook-url.js';
import { shellHookProgram } from '../deploy/hook/shell-program.js';
import type { ResolvedConfig } from './load-config.js';

/** Option names whose string value is a file a plug-in reads when it is built. */
const FILE_OPTION = /(?:File|^kubeconfig|^caBundle)$/;

/**
 * Every cross-plug-in problem of `config`, each naming the field and the fix; with `certificate`,
 * only those of the solvers and deployers that certificate uses.
 */
export async function crossPluginIssues(
  config: Pick<ResolvedConfig, 'baseDir' | 'solvers' | 'deployers' | 'certificates'> & Partial<Pick<ResolvedConfig, 'notifiers'>>,
  certificate?: ResolvedConfig['certificates'][number],
): Promise<ConfigIssue[]> {
  const issues: ConfigIssue[] = [];
  if (certificate === undefined) {
    reloadKeys(config, issues);
    await Promise.all([readableFiles(config, issues), webhookUrlFiles(config, issues), tsigSecretFiles(config, issues), hookPrograms(config, issues), knownOwners(config.deployers, issues), unsharedDirs(config.baseDir, config.deployers, config.certificates, issues), oneCertificatePerDir(config.baseDir, config.deployers, config.certificates, issues), zonesHoldNames(config.solvers, config.certificates, issues)]);
    return issues;
  }
  const index = config.certificates.findIndex((c) => c.name === certificate.name);
  const used = <T>(all: Readonly<Record<string, T>>, names: Iterable<string>): Record<string, T> =>
    Object.fromEntries([...new Set(names)].filter((n) => Object.hasOwn(all, n)).map((n) => [n, all[n] as T]));
  reloadKeys({ deployers: config.deployers, certificates: index >= 0 ? config.certificates.map((c, i) => (i === index ? c : { ...c, deploy: [] })) : [certificate] }, issues);
  const deployers = used(config.deployers, certificate.deploy);
  const solvers = used(config.solvers, Object.values(certificate.solvers));
  const all = index >= 0 ? config.certificates.map((c, i) => (i === index ? certificate : c)) : [...config.certificates, certificate];
  await Promise.all([
    readableFiles({ baseDir: config.baseDir, solvers, deployers }, issues),
    tsigSecretFiles({ baseDir: config.baseDir, solvers }, issues),
    hookPrograms({ baseDir: config.baseDir, deployers }, issues),
    knownOwners(deployers, issues),
    unsharedDirs(config.baseDir, deployers, [certificate], issues),
    oneCertificatePerDir(config.baseDir, config.deployers, all, issues, certificate.name),
    zonesHoldNames(config.solvers, [certificate], issues),
  ]);
  return issues;
}

/**
 * The problems found from the configuration alone, with no file read, no user looked up and no
 * lookup made: what holds wherever it runs. `kubernetes manifests` checks these, since the Role it
 * derives from the configuration (a reload's `secretName`) would carry the same mistake.
 */
export function configOnlyIssues(config: Pick<ResolvedConfig, 'deployers' | 'certificates'>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  reloadKeys(config, issues);
  return issues;
}

type Options = Readonly<Record<string, unknown>>;

/** The Secret keys a kubernetes-secret deployer writes (its `keys`, or the defaults). */
function secretKeys(options: Options): string[] {
  const keys = options.keys;
  return keys && typeof keys === 'object' ? Object.keys(keys) : ['tls.crt', 'tls.key', 'cert.pem', 'fullchain.pem', 'privkey.pem', 'fullbundle.pem'];
}

function reloadKeys(config: Pick<ResolvedConfig, 'deployers' | 'certificates'>, issues: ConfigIssue[]): void {
  const reported = new Set<string>();
  const secretDeployer = (n: string): { name: string; options: Options & { secretName?: string; namespace?: string } } | undefined => {
    const d = config.deployers[n];
    return d?.type === 'kubernetes-secret' ? { name: n, options: d.options } : undefined;
  };
  config.certificates.forEach((cert, index) => {
    cert.deploy.forEach((name, position) => {
      const instance = config.deployers[name];
      if (instance?.type !== 'kubernetes-reload') return;
      const reload = instance.options;
      const secretName = reload.secretName;
      const key = typeof reload.key === 'string' ? reload.key : 'tls.crt';
      const writers = cert.deploy
        .slice(0, position)
        .map(secretDeployer)
        .filter((d): d is NonNullable<typeof d> => d !== undefined)
        .filter((d) => d.options.secretName === secretName && (d.options.namespace === reload.namespace || d.options.namespace === undefined || reload.namespace === undefined));
      if (writers.length === 0) {
        const others = cert.deploy.map(secretDeployer).filter((d): d is NonNullable<typeof d> => d !== undefined);
        issues.push({
          path: `certificates[${index}].deploy[${position}]`,
          message: `kubernetes-reload "${name}" reads Secret "${String(secretName)}", which no kubernetes-secret deployer before it in this chain writes${
            others.length ? ` (${others.map((o) => `"${o.name}" writes "${String(o.options.secretName)}"`).join(', ')})` : ''
          }; list a kubernetes-secret deployer with secretName: ${String(secretName)} before it in deploy`,
        });
        return;
      }
      if (writers.some((w) => secretKeys(w.options).includes(key))) return;
      const at = `deployers.${name}.key`;
      if (reported.has(at)) return;
      reported.add(at);
      const written = [...new Set(writers.flatMap((w) => secretKeys(w.options)))];
      issues.push({
        path: at,
        message: `"${key}" is not a key that ${writers.map((w) => `"${w.name}"`).join(', ')} writes into Secret "${String(secretName)}" (it writes ${written.join(', ')}); set key to one of them, or add "${key}" to that deployer's keys`,
      });
    });
  });
}

async function readableFiles(config: Pick<ResolvedConfig, 'baseDir' | 'solvers' | 'deployers'> & Partial<Pick<ResolvedConfig, 'notifiers'>>, issues: ConfigIssue[]): Promise<void> {
  const checks: Promise<void>[] = [];
  const walk = (value: unknown, path: string): void => {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`));
    else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (typeof v === 'string' && FILE_OPTION.test(k)) checks.push(checkFile(resolve(config.baseDir, v), `${path}.${k}`, issues));
        else walk(v, `${path}.${k}`);
      }
    }
  };
  for (const [section, instances] of [['solvers', config.solvers], ['deployers', config.deployers], ['notifiers', config.notifiers ?? {}]] as const) {
    // The file names the user wrote: the plug-in's own options and its wrapper's (one level in the file).
    for (const [name, instance] of Object.entries(instances)) {
      walk(instance.options, `${section}.${name}`);
      if (instance.wrapper) walk(instance.wrapper, `${section}.${name}`);
    }
  }
  await Promise.all(checks);
}

/**
 * Each `rfc2136` solver's readable `secretFile` must hold a TSIG secret (bare, or a BIND key file's
 * `secret "…";`), by the factory's own rule: an empty or mangled file would otherwise pass here and
 * fail the run. The secret is never quoted. An unreadable file is {@link readableFiles}' issue.
 */
async function tsigSecretFiles(config: Pick<ResolvedConfig, 'baseDir' | 'solvers'>, issues: ConfigIssue[]): Promise<void> {
  const withFile = Object.entries(config.solvers).filter(([, s]) => s.type === 'rfc2136' && typeof (s.options as { secretFile?: unknown }).secretFile === 'string');
  if (withFile.length === 0) return;
  const { isTsigSecret, parseSecretFile } = await import('../challenges/dns01/providers/rfc2136/rfc2136-dns-provider.js');
  await Promise.all(
    withFile.map(async ([name, s]) => {
      const file = resolve(config.baseDir, (s.options as { secretFile: string }).secretFile);
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text === undefined || isTsigSecret(parseSecretFile(text))) return;
      issues.push({
        path: `solvers.${name}.secretFile`,
        message: `${file} holds no base64 TSIG secret${text.trim() === '' ? ' (it is empty)' : ''}; write the \`secret\` of the key exactly as tsig-keygen printed it, alone or as the key file tsig-keygen wrote`,
      });
    }),
  );
}

/**
 * Each argv `hook` deployer's program, when written as a path (`./reload.sh`, `/usr/local/bin/x`;
 * a bare name is looked up on the hook's PATH when it runs), must be a file certpilot can execute:
 * a typo or a script without its execute bit would otherwise fail after the CA issued.
 */
async function hookPrograms(config: Pick<ResolvedConfig, 'baseDir' | 'deployers'>, issues: ConfigIssue[]): Promise<void> {
  const { stat } = await import('node:fs/promises');
  await Promise.all(
    Object.entries(config.deployers).map(async ([name, d]) => {
      const options = d.options as { command?: unknown; shell?: unknown; cwd?: unknown };
      if (d.type !== 'hook') return;
      // A shell hook: the program its simple command starts, when written as an absolute path
      // (a certbot --deploy-hook naming a script; a missing one would fail with exit 127 at the first renewal).
      const shellProgram = options.shell === true && typeof options.command === 'string' ? shellHookProgram(options.command) : undefined;
      const program = shellProgram ?? (options.shell !== true && Array.isArray(options.command) ? options.command[0] : undefined);
      if (typeof program !== 'string' || !program.includes('/')) return;
      // The hook runs in its cwd (relative to the config file; default the config file's directory).
      const file = resolve(config.baseDir, typeof options.cwd === 'string' ? options.cwd : '.', program);
      const path = shellProgram === undefined ? `deployers.${name}.command[0]` : `deployers.${name}.command`;
      const info = await stat(file).catch((err: NodeJS.ErrnoException) => err);
      if (info instanceof Error) {
        issues.push({ path, message: `${file} ${info.code === 'ENOENT' ? 'does not exist' : `cannot be read (${info.code ?? 'error'})`}; check the path (relative paths start at the hook's cwd, by default the configuration file's directory)` });
        return;
      }
      if (!info.isFile()) {
        issues.push({ path, message: `${file} is not a file; name the program to run` });
        return;
      }
      await access(file, constants.X_OK).catch(() =>
        issues.push({
          path,
          message: shellProgram === undefined
            ? `${file} is not executable: \`chmod +x ${file}\` (a script also needs its #! line), or name its interpreter first (command: [sh, ${program}])`
            : `${file} is not executable (the shell would fail with exit 126): \`chmod +x ${file}\` (a script also needs its #! line), or name its interpreter first (sh ${program} …)`,
        }),
      );
    }),
  );
}

/** Each webhook notifier's URL as it will read it (`url`, or the one line of a readable `urlFile`), by field path. */
async function webhookUrls(config: Partial<Pick<ResolvedConfig, 'notifiers' | 'baseDir'>>): Promise<{ path: string; url: string | undefined; fromFile: boolean }[]> {
  const webhooks = Object.entries(config.notifiers ?? {}).filter(([, n]) => n.type === 'webhook');
  return Promise.all(
    webhooks.map(async ([name, n]) => {
      const options = n.options as { url?: string; urlFile?: string };
      if (options.urlFile === undefined) return { path: `notifiers.${name}.url`, url: options.url, fromFile: false };
      // An unreadable file is readableFiles' issue; here only what a readable one holds.
      const text = await readFile(resolve(config.baseDir ?? '.', options.urlFile), 'utf8').catch(() => undefined);
      return { path: `notifiers.${name}.urlFile`, url: text?.trim(), fromFile: true };
    }),
  );
}

/**
 * A webhook's `urlFile` must hold an http(s) URL on one line, as the notifier checks when it first
 * has an event to send (else every event fails, unseen). The message never quotes the file's
 * content: the URL is a credential.
 */
async function webhookUrlFiles(config: Partial<Pick<ResolvedConfig, 'notifiers' | 'baseDir'>>, issues: ConfigIssue[]): Promise<void> {
  for (const { path, url, fromFile } of await webhookUrls(config)) {
    if (!fromFile || url === undefined || isWebhookUrl(url)) continue;
    issues.push({ path, message: `the file does not hold an http(s) URL on one line (like https://hooks.example.com/certpilot), so every event would fail to send; write the receiver's URL alone into it` });
  }
}

/** The field paths of webhook notifiers whose URL is plain `http://` (events and their signature travel unencrypted). */
export async function plainHttpWebhooks(config: Partial<Pick<ResolvedConfig, 'notifiers' | 'baseDir'>>): Promise<string[]> {
  return (await webhookUrls(config)).filter((w) => w.url !== undefined && /^http:\/\//i.test(w.url)).map((w) => w.path);
}

/** Per process: whether `getent <database> <name>` finds it (an issue of many asks once per name). */
const lookups = new Map<string, Promise<boolean | undefined>>();

function exists(database: 'passwd' | 'group', name: string): Promise<boolean | undefined> {
  const key = `${database}:${name}`;
  let found = lookups.get(key);
  if (found === undefined) {
    // Loaded here (it loads node:child_process), not for every command that reads a configuration.
    // Without getent, or on another failure, undefined: the deployer reports it itself.
    found = import('../fs/getent.js').then(({ lookupId }) => lookupId(database, name)).then(
      (id) => id !== undefined,
      () => undefined,
    );
    lookups.set(key, found);
  }
  return found;
}

async function knownOwners(deployers: Readonly<Record<string, { type: string; options: unknown }>>, issues: ConfigIssue[]): Promise<void> {
  const checks: Promise<void>[] = [];
  for (const [name, deployer] of Object.entries(deployers)) {
    if (deployer.type !== 'files') continue;
    const options = deployer.options as { owner?: unknown; group?: unknown };
    for (const [field, database, what] of [['owner', 'passwd', 'user'], ['group', 'group', 'group']] as const) {
      const value = options[field];
      if (typeof value !== 'string' || /^\d+$/.test(value)) continue;
      checks.push(
        exists(database, value).then((found) => {
          if (found === false) issues.push({ path: `deployers.${name}.${field}`, message: `no ${what} named "${value}" on this machine (getent ${database}); give an existing ${what} name or a numeric ${field === 'owner' ? 'uid' : 'gid'}` });
        }),
      );
    }
  }
  await Promise.all(checks);
}

async function unsharedDirs(
  baseDir: string,
  deployers: Readonly<Record<string, { type: string; options: unknown }>>,
  certificates: readonly { name: string; deploy: readonly string[] }[],
  issues: ConfigIssue[],
): Promise<void> {
  const files = Object.entries(deployers).filter(([, d]) => d.type === 'files');
  if (files.length === 0) return;
  // Loaded here, only for a configuration with a files deployer.
  const { FilesDeployer, filesDeployerOptions, NAME_PLACEHOLDER } = await import('../deploy/files/files-deployer.js');
  const found = new Map<string, string>();
  await Promise.all(
    files.map(async ([name, d]) => {
      const options = filesDeployerOptions(d.options as FilesOptions, name, baseDir);
      const deployer = new FilesDeployer(options);
      const served = certificates.filter((c) => c.deploy.includes(name)).map((c) => c.name);
      // Without {name} every certificate meets the same directory: one walk.
      const names = options.dir.includes(NAME_PLACEHOLDER) ? served : served.slice(0, 1);
      for (const certificate of names) {
        const err = await deployer.probe(certificate);
        if (err?.code !== 'ERR_FS_SHARED_DIR') continue;
        const what = err.message.replace(/^files deployer "[^"]*": /, '');
        const hint = err.hint ? `; ${err.hint.charAt(0).toLowerCase()}${err.hint.slice(1)}` : '';
        const key = `${name}\u0000${what}`;
        if (found.has(key)) continue;
        found.set(key, certificate);
        issues.push({ path: `deployers.${name}.dir`, message: `${options.dir.includes(NAME_PLACEHOLDER) ? `for certificate ${certificate}: ` : ''}${what}${hint}` });
      }
    }),
  );
}

/**
 * Two certificates (or two deployers of one) whose `files` deployers write one directory: the
 * resolved absolute `dir` with `{name}` filled in, as the deployer computes it. With `only`, just
 * the clashes that certificate is in.
 */
async function oneCertificatePerDir(
  baseDir: string,
  deployers: Readonly<Record<string, { type: string; options: unknown }>>,
  certificates: readonly { name: string; deploy: readonly string[] }[],
  issues: ConfigIssue[],
  only?: string,
): Promise<void> {
  if (!Object.values(deployers).some((d) => d.type === 'files')) return;
  const { NAME_PLACEHOLDER } = await import('../deploy/files/files-deployer.js');
  const writers = new Map<string, { certificate: string; deployer: string; path: string }[]>();
  certificates.forEach((certificate, index) => {
    certificate.deploy.forEach((name, position) => {
      const d = deployers[name];
      if (d?.type !== 'files' || typeof (d.options as { dir?: unknown }).dir !== 'string') return;
      const dir = resolve(resolve(baseDir, (d.options as { dir: string }).dir).split(NAME_PLACEHOLDER).join(certificate.name));
      const list = writers.get(dir) ?? [];
      if (!list.some((w) => w.certificate === certificate.name && w.deployer === name)) list.push({ certificate: certificate.name, deployer: name, path: `certificates[${index}].deploy[${position}]` });
      writers.set(dir, list);
    });
  });
  for (const [dir, list] of writers) {
    if (list.length < 2 || (only !== undefined && !list.some((w) => w.certificate === only))) continue;
    const certs = [...new Set(list.map((w) => w.certificate))];
    const used = [...new Set(list.map((w) => w.deployer))];
    const quoted = (names: string[]): string => names.map((n) => `"${n}"`).join(' and ');
    if (certs.length === 1) {
      issues.push({
        path: (list[1] ?? list[0])?.path ?? `deployers.${used[0] ?? ''}.dir`,
        message: `files deployers ${quoted(used)} of certificate "${certs[0] ?? ''}" both write ${dir}, each replacing the other's files on every deploy; give one of them another dir, or list only one`,
      });
      continue;
    }
    const path = used.length === 1 ? `deployers.${used[0] ?? ''}.dir` : ((list.find((w) => w.certificate !== list[0]?.certificate) ?? list[0])?.path ?? '');
    issues.push({
      path,
      message: `certificates ${quoted(certs)} both deploy into ${dir} (${used.length === 1 ? 'files deployer' : 'files deployers'} ${quoted(used)}), but a directory holds one certificate's files and the deployer refuses a second one; put ${NAME_PLACEHOLDER} in dir (e.g. ${join(dirname(dir), NAME_PLACEHOLDER)}) so each certificate gets its own directory, or give each certificate its own files deployer with its own dir`,
    });
  }
}

/** Whether `name` is `zone` or below it (both lowercase, no trailing dot). */
export function inZone(name: string, zone: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  const z = zone.toLowerCase().replace(/\.$/, '');
  return z === '' || n === z || n.endsWith(`.${z}`);
}

async function zonesHoldNames(
  solvers: ResolvedConfig['solvers'],
  certificates: readonly { name: string; solvers: Readonly<Record<string, string>> }[],
  issues: ConfigIssue[],
): Promise<void> {
  const outside = new Map<string, { solver: string; zone: string; names: string[]; certificates: Set<string> }>();
  const lookups: Promise<void>[] = [];
  for (const certificate of certificates) {
    for (const [name, solverName] of Object.entries(certificate.solvers)) {
      const solver = solvers[solverName];
      const zone = (solver?.options as { zone?: unknown } | undefined)?.zone;
      if (solver?.type !== 'rfc2136' || typeof zone !== 'string') continue;
      const base = name.replace(/^\*\./, '');
      if (inZone(base, zone)) continue;
      const dns01 = solver.wrapper as { followCname?: boolean; challenge?: string; resolvers?: string[] } | undefined;
      const note = (): void => {
        const key = `${solverName}\u0000${base}`;
        const entry = outside.get(key) ?? { solver: solverName, zone, names: [base], certificates: new Set<string>() };
        entry.certificates.add(certificate.name);
        outside.set(key, entry);
      };
      if (dns01?.followCname === false) {
        note();
        continue;
      }
      // dns-account-01's record name needs the account URL: the run's own check names it.
      if (dns01?.challenge === 'dns-account-01') continue;
      lookups.push(
        cnameTarget(`_acme-challenge.${base}.`, dns01?.resolvers).then((target) => {
          if (target !== undefined && !inZone(target, zone)) note();
        }),
      );
    }
  }
  await Promise.all(lookups);
  for (const { solver, zone, names, certificates: certs } of outside.values()) {
    issues.push({
      path: `solvers.${solver}.zone`,
      message: `zone "${zone}" does not hold ${names.join(', ')} (certificate ${[...certs].join(', ')}): its TXT record _acme-challenge.${names[0] ?? ''} is outside that zone${
        solvers[solver]?.wrapper && (solvers[solver]?.wrapper as { followCname?: boolean }).followCname === false ? '' : ' and is no CNAME into it'
      }; set zone to the zone that holds the name (the name or a parent of it), or leave zone out to find it through SOA`,
    });
  }
}

/** Where `fqdn`'s CNAME chain ends, through `resolvers` (the system's when none); undefined when the lookup fails. */
async function cnameTarget(fqdn: string, resolvers: readonly string[] | undefined): Promise<string | undefined> {
  const [{ PropagationChecker }, { parseDnsServer }, { systemClock }] = await Promise.all([
    import('../challenges/dns01/propagation.js'),
    import('../challenges/dns01/dns-client.js'),
    import('../clock.js'),
  ]);
  const checker = new PropagationChecker({ ...(resolvers ? { resolvers: resolvers.map((r) => parseDnsServer(r)) } : {}), timeoutMs: 0, queryTimeoutMs: 2000, clock: systemClock });
  try {
    return await checker.resolveTarget(fqdn);
  } catch {
    return undefined;
  }
}

async function checkFile(file: string, path: string, issues: ConfigIssue[]): Promise<void> {
  try {
    await access(file, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    issues.push({ path, message: `cannot read ${file} (${code}); ${code === 'ENOENT' ? 'check the path (relative paths start at the configuration file)' : 'check its permissions'}` });
  }
}
