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
 *   in `File`, at any depth) must exist and be readable.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ConfigIssue } from '../errors.js';
import type { ResolvedConfig } from './load-config.js';

/** Option names whose string value is a file a plug-in reads when it is built. */
const FILE_OPTION = /(?:File|^kubeconfig|^caBundle)$/;

/**
 * Every cross-plug-in problem of `config`, each naming the field and the fix; with `certificate`,
 * only those of the solvers and deployers that certificate uses.
 */
export async function crossPluginIssues(
  config: Pick<ResolvedConfig, 'baseDir' | 'solvers' | 'deployers' | 'certificates'>,
  certificate?: ResolvedConfig['certificates'][number],
): Promise<ConfigIssue[]> {
  const issues: ConfigIssue[] = [];
  if (certificate === undefined) {
    reloadKeys(config, issues);
    await readableFiles(config, issues);
    return issues;
  }
  const index = config.certificates.findIndex((c) => c.name === certificate.name);
  const used = <T>(all: Readonly<Record<string, T>>, names: Iterable<string>): Record<string, T> =>
    Object.fromEntries([...new Set(names)].filter((n) => Object.hasOwn(all, n)).map((n) => [n, all[n] as T]));
  reloadKeys({ deployers: config.deployers, certificates: index >= 0 ? config.certificates.map((c, i) => (i === index ? c : { ...c, deploy: [] })) : [certificate] }, issues);
  await readableFiles({ baseDir: config.baseDir, solvers: used(config.solvers, Object.values(certificate.solvers)), deployers: used(config.deployers, certificate.deploy) }, issues);
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
  config.certificates.forEach((cert, index) => {
    cert.deploy.forEach((name, position) => {
      const reload = config.deployers[name];
      if (reload?.type !== 'kubernetes-reload') return;
      const secretName = reload.secretName;
      const key = typeof reload.key === 'string' ? reload.key : 'tls.crt';
      const writers = cert.deploy
        .slice(0, position)
        .map((n) => ({ name: n, options: config.deployers[n] }))
        .filter((d) => d.options?.type === 'kubernetes-secret' && d.options.secretName === secretName && (d.options.namespace === reload.namespace || d.options.namespace === undefined || reload.namespace === undefined));
      if (writers.length === 0) {
        const others = cert.deploy.filter((n) => config.deployers[n]?.type === 'kubernetes-secret');
        issues.push({
          path: `certificates[${index}].deploy[${position}]`,
          message: `kubernetes-reload "${name}" reads Secret "${String(secretName)}", which no kubernetes-secret deployer before it in this chain writes${
            others.length ? ` (${others.map((o) => `"${o}" writes "${String(config.deployers[o]?.secretName)}"`).join(', ')})` : ''
          }; list a kubernetes-secret deployer with secretName: ${String(secretName)} before it in deploy`,
        });
        return;
      }
      if (writers.some((w) => secretKeys(w.options as Options).includes(key))) return;
      const at = `deployers.${name}.key`;
      if (reported.has(at)) return;
      reported.add(at);
      const written = [...new Set(writers.flatMap((w) => secretKeys(w.options as Options)))];
      issues.push({
        path: at,
        message: `"${key}" is not a key that ${writers.map((w) => `"${w.name}"`).join(', ')} writes into Secret "${String(secretName)}" (it writes ${written.join(', ')}); set key to one of them, or add "${key}" to that deployer's keys`,
      });
    });
  });
}

async function readableFiles(config: Pick<ResolvedConfig, 'baseDir' | 'solvers' | 'deployers'>, issues: ConfigIssue[]): Promise<void> {
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
  for (const [section, instances] of [['solvers', config.solvers], ['deployers', config.deployers]] as const) {
    for (const [name, options] of Object.entries(instances)) walk(options, `${section}.${name}`);
  }
  await Promise.all(checks);
}

async function checkFile(file: string, path: string, issues: ConfigIssue[]): Promise<void> {
  try {
    await access(file, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    issues.push({ path, message: `cannot read ${file} (${code}); ${code === 'ENOENT' ? 'check the path (relative paths start at the configuration file)' : 'check its permissions'}` });
  }
}
