/**
 * From a certbot renewal conf to certpilot configuration: the solver (webroot path and per-name
 * map, standalone port and address, Route 53, the deck's certbot-redis plug-in), the key type and
 * key reuse, and the deploy hook as a `hook` deployer (after certbot's `renewal-hooks/deploy/`
 * ones, as certbot runs them). What has no certpilot equivalent comes back as a note with the
 * reason, never silently dropped; a hook that would deploy certbot's files rather than certpilot's
 * is rewritten or left out, never written as it is (see {@link mapRenewalConf}'s hook part).
 */
import type { KeyType } from '../../storage/certificate-store.js';
import type { ConfigDraft, DraftCertificate } from '../config-draft.js';
import type { ImportNote } from '../import-state.js';
import { boolValue, listValue, type RenewalConf } from './renewal-conf.js';


/** What {@link mapRenewalConf} needs to know besides the conf. */
export interface MappingContext {
  /** The certbot config directory, to recognise hooks that read certbot's own files. */
  configDir: string;
  /** The directory URL certpilot renews with. */
  directoryUrl: string;
  /** The key type of the live version (used when the conf names none certpilot issues). */
  liveKeyType: KeyType;
  /**
   * A `files` deployer already mapped for this lineage (the deck's copies at the volume root):
   * a hook that copies certbot's live files is then replaced by it rather than kept.
   */
  filesDeployer?: string;
  /**
   * certpilot's `live/` directory (`<stateDir>/live`, the same file names as certbot's), where a
   * hook's `<configDir>/live/<name>/` paths are rewritten to; absent when the state store keeps no
   * files (Secrets). Ignored when {@link inPlace}.
   */
  liveDir?: string;
  /** The state directory is certbot's own: certbot's `live/` files are certpilot's, nothing to rewrite. */
  inPlace?: boolean;
  /** The `hook` deployers of certbot's `renewal-hooks/deploy/` (run for every lineage, in order), already in the draft. */
  directoryHooks?: readonly string[];
  /** Their paths, to skip a deploy hook naming one of them, as certbot does. */
  directoryHookPaths?: readonly string[];
  /** What the import found of the program the deploy hook starts (its first word, an absolute path). */
  hookProgram?: HookProgram;
}

/** The program a deploy hook starts, as the import found it (see `shellHookProgram`). */
export interface HookProgram {
  path: string;
  /** Why it cannot run (`does not exist`, `is not executable`…), when it cannot. */
  problem?: string;
  /** Its text, when it is a script the import could read (to see whether it reads certbot's files). */
  text?: string;
}

/** The entry of one lineage and the deployers that already hold its live version (certbot ran them). */
export interface MappedLineage {
  certificate: DraftCertificate;
  notes: ImportNote[];
  /** The deployers of `certificate.deploy` that hold the live version (certbot ran them for it). */
  deployedBy: string[];
}

const HOOK_TIMEOUT_SECONDS = 300;

/** Maps one lineage's renewal conf into `draft`; returns its certificate entry and the notes. */
export function mapRenewalConf(name: string, domains: string[], conf: RenewalConf | undefined, draft: ConfigDraft, ctx: MappingContext): MappedLineage {
  const notes: ImportNote[] = [];
  const note = (setting: string, reason: string, level?: ImportNote['level']): void => void notes.push({ name, setting, reason, ...(level ? { level } : {}) });
  const certificate: DraftCertificate = { name, domains };
  const deploy: string[] = ctx.filesDeployer ? [ctx.filesDeployer] : [];
  if (!conf) {
    note('renewal/' + name + '.conf', 'missing: the solver and the deploy hook are unknown; the certificate uses the `default` solver (standalone http-01 on port 80) until you name one');
    certificate.keyType = ctx.liveKeyType;
    if (deploy.length) certificate.deploy = deploy;
    return { certificate, notes, deployedBy: [...deploy] };
  }
  const p = conf.params;

  if (p.server && sameServer(p.server, ctx.directoryUrl) === false) {
    note(`server = ${p.server}`, `certpilot renews with ${ctx.directoryUrl}; the first renewal there asks for a new certificate (a CA only accepts \`replaces\` for its own certificates)`);
  }

  // Key type: certbot's key_type / elliptic_curve / rsa_key_size (RSA 2048 before certbot 2.0).
  const keyType = mapKeyType(p);
  if (keyType === undefined) {
    note(`key_type = ${p.key_type ?? 'rsa'}${p.elliptic_curve ? `, elliptic_curve = ${p.elliptic_curve}` : ''}${p.rsa_key_size ? `, rsa_key_size = ${p.rsa_key_size}` : ''}`, `certpilot issues ec-p256, ec-p384, rsa-2048, rsa-3072 and rsa-4096 only; renewals use ${ctx.liveKeyType}`);
  }
  certificate.keyType = keyType ?? ctx.liveKeyType;
  if (boolValue(p.reuse_key) === true) certificate.reuseKey = true;

  mapAuthenticator(name, domains, conf, draft, certificate, note);

  if (p.installer && p.installer !== 'None') {
    note(`installer = ${p.installer}`, 'certpilot does not edit web server configurations: point the server at certpilot\'s live/ files once, and reload it with a `hook` deployer');
  }
  for (const key of ['pre_hook', 'post_hook'] as const) {
    if (p[key]) note(`${key} = ${p[key]}`, prePostHookReason(p.authenticator));
  }
  if (boolValue(p.must_staple) === true) note('must_staple = True', 'certpilot does not request OCSP Must-Staple (Let\'s Encrypt ended OCSP)');
  if (p.preferred_chain) note(`preferred_chain = ${p.preferred_chain}`, 'set acme.preferredChain for every certificate');

  const deployedBy = [...deploy];
  // certbot runs renewal-hooks/deploy/* for every lineage, before the lineage's own hook.
  for (const shared of ctx.directoryHooks ?? []) {
    deploy.push(shared);
    deployedBy.push(shared);
  }
  // The deploy hook (certbot keeps --deploy-hook as renew_hook); certbot skips it when it is one of
  // the directory's hooks, which already ran.
  const hook = p.renew_hook ?? p.deploy_hook;
  if (hook && !(ctx.directoryHookPaths ?? []).includes(hook.trim())) {
    mapDeployHook(name, hook, draft, ctx, deploy, deployedBy, note);
  }
  if (deploy.length) certificate.deploy = deploy;
  return { certificate, notes, deployedBy };
}

/**
 * The lineage's deploy hook: kept as a shell `hook` deployer, unless it reads certbot's own
 * `live/<name>/` files, which stop changing once certpilot renews (a separate state directory).
 * Then its `<configDir>/live/<name>/` paths are rewritten to certpilot's (same file names); a hook
 * that reads them otherwise (a relative path, `archive/`, inside the script it runs) is left out of
 * the configuration, printed commented out: written as is it would report `deployed` while the
 * service keeps certbot's last certificate.
 */
function mapDeployHook(
  name: string,
  hook: string,
  draft: ConfigDraft,
  ctx: MappingContext,
  deploy: string[],
  deployedBy: string[],
  note: (setting: string, reason: string, level?: ImportNote['level']) => void,
): void {
  const setting = `renew_hook = ${hook}`;
  const entry = (command: string): { type: string; command: string; shell: true; timeoutSeconds: number } => ({ type: 'hook', command, shell: true, timeoutSeconds: HOOK_TIMEOUT_SECONDS });
  const program = ctx.hookProgram;
  const scriptReads = program?.text !== undefined && readsCertbotFiles(program.text, name, ctx.configDir);
  if ((readsCertbotFiles(hook, name, ctx.configDir) || scriptReads) && ctx.filesDeployer) {
    note(setting, `it copies certbot's live/${name} files${ctx.inPlace === true ? '' : ', which stop changing once certpilot renews'}; the \`files\` deployer \`${ctx.filesDeployer}\` writes the same files from certpilot's state instead`);
    return;
  }
  if (ctx.inPlace === true) {
    // certbot's live/ files are certpilot's: a hook reading them reads each new version.
    addHook(entry(hook));
    return;
  }
  let command = hook;
  const certbotLive = `${ctx.configDir.replace(/\/+$/, '')}/live/${name}`;
  const ownLive = new RegExp(`${escapeRegExp(certbotLive)}(?![A-Za-z0-9_.-])`, 'g');
  const rewritable = ctx.liveDir !== undefined && /^[A-Za-z0-9_./-]+$/.test(ctx.liveDir);
  if (rewritable && hook.search(ownLive) >= 0) {
    const certpilotLive = `${ctx.liveDir}/${name}`;
    command = hook.replace(ownLive, certpilotLive);
    if (!readsCertbotFiles(command.split(certpilotLive).join(''), name, ctx.configDir) && !scriptReads) {
      note(setting, `it reads certbot's ${certbotLive}/ files, which stop changing once certpilot renews: written with certpilot's ${certpilotLive}/ instead (the same file names)`, 'changed');
      addHook(entry(command));
      return;
    }
  }
  if (readsCertbotFiles(hook, name, ctx.configDir) || scriptReads) {
    const where = scriptReads && program ? `${program.path}, which it runs, reads` : 'it reads';
    const why = `${where} certbot's own files (live/${name}, archive/${name} or ${ctx.configDir}), which stop changing once certpilot renews${
      rewritable ? '' : ctx.liveDir === undefined ? ' (and certpilot\'s state store keeps no files to read instead)' : ''
    }: written as is it would report each new version deployed while the service keeps certbot's last certificate`;
    const left = draft.leaveOut(`${name}-deploy-hook`, name, entry(command), why);
    note(
      setting,
      `NOT written: ${why}. Make it read $RENEWED_LINEAGE (certpilot's live directory for ${name}, the same file names) or use a \`files\` deployer, then add it: \`${left}\` is printed commented out at the end of the configuration`,
      'action',
    );
    return;
  }
  addHook(entry(hook));

  function addHook(instance: ReturnType<typeof entry>): void {
    const added = draft.addDeployer(`${name}-deploy-hook`, instance);
    deploy.push(added);
    if (program?.problem !== undefined) {
      // Written (config check names it too), but not recorded as holding the live version: the
      // first run tries it, rather than the first renewal.
      note(setting, `${program.path} ${program.problem}: certbot's hook for ${name} cannot have run from here, and certpilot's \`${added}\` would fail (exit ${program.problem === 'does not exist' ? 127 : 126}); restore it or fix the command (\`certpilot config check\` names it until then)`, 'action');
      return;
    }
    deployedBy.push(added);
  }
}

/** Whether `text` (a hook command or the script it runs) reads certbot's own files of lineage `name`. */
export function readsCertbotFiles(text: string, name: string, configDir: string): boolean {
  return text.includes(configDir) || new RegExp(`(^|[^A-Za-z0-9_.-])(live|archive)/${escapeRegExp(name)}([^A-Za-z0-9_.-]|$)`).test(text);
}

/**
 * What to do instead of a pre/post hook: certpilot runs deployers only after a new version, so no
 * deployer can stop a server before the challenge (certbot's `--pre-hook "systemctl stop nginx"`
 * around `--standalone`, to free port 80).
 */
export function prePostHookReason(authenticator: string | undefined): string {
  const standalone = authenticator === 'standalone';
  return `certpilot runs nothing before or after a renewal's challenge (deployers run only after a new version is saved)${
    standalone
      ? ': to free port 80 for standalone, use a webroot solver on the directory your web server serves (it keeps running), or a dns-01 solver (route53, rfc2136)'
      : '; if it stopped a server to free port 80, use a webroot solver instead (the server keeps running); a reload after a new version is a `hook` deployer'
  }`;
}

function mapAuthenticator(
  name: string,
  domains: string[],
  conf: RenewalConf,
  draft: ConfigDraft,
  certificate: DraftCertificate,
  note: (setting: string, reason: string) => void,
): void {
  const p = conf.params;
  const authenticator = p.authenticator ?? '';
  switch (authenticator) {
    case 'webroot': {
      // webroot_map says each name's webroot; webroot_path is the list given with -w.
      const byName = new Map<string, string>();
      const paths = listValue(p.webroot_path);
      for (const domain of domains) {
        const path = conf.webrootMap[domain] ?? paths[0];
        if (path !== undefined) byName.set(domain, path);
      }
      const distinct = [...new Set(byName.values())];
      if (distinct.length === 0) {
        note('authenticator = webroot', 'no webroot_path or webroot_map: give the certificate a webroot solver');
        return;
      }
      const solverOf = new Map(distinct.map((path) => [path, draft.addSolver('webroot', { type: 'webroot', path })]));
      if (distinct.length === 1 && byName.size === domains.length) {
        certificate.solver = solverOf.get(distinct[0] as string) as string;
        return;
      }
      certificate.solvers = distinct.map((path) => ({ names: domains.filter((d) => byName.get(d) === path), solver: solverOf.get(path) as string }));
      const unmapped = domains.filter((d) => !byName.has(d));
      if (unmapped.length) note('webroot_map', `no webroot for ${unmapped.join(', ')}: they use the \`default\` solver`);
      return;
    }
    case 'standalone': {
      const port = Number(p.http01_port ?? 80);
      const host = p.http01_address && p.http01_address !== '' ? p.http01_address : undefined;
      certificate.solver = draft.addSolver('standalone', { type: 'standalone', port: Number.isInteger(port) ? port : 80, ...(host ? { host } : {}) });
      return;
    }
    case 'dns-route53':
    case 'certbot-dns-route53:dns-route53':
      // Credentials are never options: the AWS SDK chain finds them, as certbot's boto3 did.
      certificate.solver = draft.addSolver('route53', { type: 'route53' });
      return;
    default: {
      // The deck's certbot-redis plug-in (`-a certbot-redis:redis`): http-01 tokens in Redis.
      const redisUrl = Object.entries(p).find(([k]) => /(^|[:_])redis_url$/.test(k) && k !== 'redis_url')?.[1] ?? (authenticator.includes('redis') ? p.redis_url : undefined);
      if (authenticator.includes('redis') && redisUrl) {
        const prefix = Object.entries(p).find(([k]) => /(^|[:_])redis_prefix$/.test(k))?.[1];
        const url = /^rediss?:\/\/[^@/]*:[^@/]*@/.test(redisUrl) ? undefined : redisUrl;
        if (!url) {
          note(`authenticator = ${authenticator}`, 'its Redis URL holds a password: set `url` without it and `passwordFile` in the printed redis solver');
        }
        certificate.solver = draft.addSolver('redis', { type: 'redis', ...(url ? { url } : {}), ...(prefix ? { prefix } : {}) });
        return;
      }
      if (authenticator === '') {
        note('authenticator', 'not recorded: the certificate uses the `default` solver (standalone http-01 on port 80) until you name one');
        return;
      }
      const why =
        authenticator === 'manual'
          ? 'manual challenges need a person; choose webroot, standalone, route53, rfc2136 or redis'
          : authenticator === 'nginx' || authenticator === 'apache'
            ? `certpilot does not edit ${authenticator}'s configuration: use a webroot solver on the directory ${authenticator} serves, or standalone behind it`
            : authenticator.includes('rfc2136')
              ? 'the TSIG secret is in certbot\'s credentials .ini: add an rfc2136 solver with server, keyName and secretFile (see docs/dns01.md)'
              : 'no certpilot solver does the same; choose one in docs/plugins.md';
      note(`authenticator = ${authenticator}`, `${why}; until then the certificate uses the \`default\` solver`);
      return;
    }
  }
}

function mapKeyType(p: Record<string, string>): KeyType | undefined {
  const type = (p.key_type ?? 'rsa').toLowerCase();
  if (type === 'ecdsa') {
    const curve = (p.elliptic_curve ?? 'secp256r1').toLowerCase();
    if (curve === 'secp256r1' || curve === 'prime256v1') return 'ec-p256';
    if (curve === 'secp384r1') return 'ec-p384';
    return undefined;
  }
  if (type === 'rsa') {
    const bits = Number(p.rsa_key_size ?? 2048);
    return bits === 2048 || bits === 3072 || bits === 4096 ? `rsa-${bits}` : undefined;
  }
  return undefined;
}

/** Whether two directory URLs name the same server; certbot folders carry no scheme. */
export function sameServer(a: string, b: string): boolean {
  const strip = (u: string): string => u.replace(/^https?:\/\//i, '').replace(/\/+$/, '').toLowerCase();
  return strip(a) === strip(b);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
