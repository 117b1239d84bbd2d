/** Loads the configuration for a command from file, environment and flags, then composes. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type ConfigOverrides, type ResolvedConfig } from '../config/load-config.js';
import { CertpilotError } from '../errors.js';
import { createLogger } from '../logger.js';
import { compose, type Runtime } from './compose.js';
import type { CommandContext } from './main.js';

/** The configuration file to read: --config, CERTPILOT_CONFIG, else ./certpilot.yaml when present. */
export function configFile(ctx: CommandContext): string | undefined {
  const explicit = ctx.values.config ?? ctx.env.CERTPILOT_CONFIG;
  if (explicit) return explicit;
  const local = join(ctx.cwd, 'certpilot.yaml');
  return existsSync(local) ? local : undefined;
}

function intFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new CertpilotError('ERR_CLI_USAGE', `cli: --${flag} must be a whole number, not "${value}"`);
  return n;
}

/** The overrides the shared flags give. */
export function overridesFrom(ctx: CommandContext, withCertificate: boolean): ConfigOverrides {
  const v = ctx.values;
  const o: ConfigOverrides = {};
  if (v['state-dir']) o.stateDir = v['state-dir'];
  if (v.directory) o.directoryUrl = v.directory;
  if (v.email) o.email = v.email;
  if (v['agree-tos']) o.termsOfServiceAgreed = true;
  if (v['ca-bundle']) o.caBundle = v['ca-bundle'];
  const level = v.verbose ? 'debug' : v['log-level'];
  if (level) o.logLevel = level;
  const port = intFlag(v['http-01-port'], 'http-01-port');
  if (port !== undefined) o.http01Port = port;
  if (v['http-01-address']) o.http01Host = v['http-01-address'];
  if (v.webroot) o.webroot = v.webroot;
  if (withCertificate && v.domain?.length) {
    if ((v.name?.length ?? 0) > 1) throw new CertpilotError('ERR_CLI_USAGE', 'cli: -d makes one certificate, so give at most one --name');
    o.certificate = {
      domains: v.domain,
      ...(v.name?.[0] ? { name: v.name[0] } : {}),
      ...(v['key-type'] ? { keyType: v['key-type'] } : {}),
      ...(v.profile ? { profile: v.profile } : {}),
      ...(v['reuse-key'] ? { reuseKey: true } : {}),
    };
  }
  return o;
}

/** Loads the configuration only. */
export async function loadCommandConfig(ctx: CommandContext, withCertificate = true): Promise<ResolvedConfig> {
  const file = configFile(ctx);
  return loadConfig({ ...(file ? { file } : {}), env: ctx.env, cwd: ctx.cwd, overrides: overridesFrom(ctx, withCertificate) });
}

/** Loads the configuration and composes the runtime; the caller must `close()` it. */
export async function openRuntime(ctx: CommandContext, withCertificate = true): Promise<Runtime> {
  const config = await loadCommandConfig(ctx, withCertificate);
  return compose(config, { logger: createLogger({ level: config.logLevel }), env: ctx.env });
}

/** The configured certificates selected by --name (all when none given). */
export function selectCertificates(ctx: CommandContext, config: ResolvedConfig): ResolvedConfig['certificates'] {
  const names = ctx.values.domain?.length ? undefined : ctx.values.name;
  if (!names?.length) return config.certificates;
  const unknown = names.filter((n) => !config.certificates.some((c) => c.name === n));
  if (unknown.length > 0) {
    throw new CertpilotError('ERR_CERT_UNKNOWN', `cli: no configured certificate named ${unknown.map((n) => `"${n}"`).join(', ')}`, {
      hint: `Configured names: ${config.certificates.map((c) => c.name).join(', ') || 'none'}.`,
    });
  }
  return config.certificates.filter((c) => names.includes(c.name));
}
