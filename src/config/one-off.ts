/**
 * One-off certificates (`certpilot issue -d`) remembered in the state store, the way certbot keeps
 * a renewal configuration per lineage: {@link oneOffRecordOf} says how `issue -d` issued one (kept
 * as `RenewalState.oneOff`), and {@link resolveOneOff} turns such a record back into a certificate
 * of the run's configuration, so `renew` and the daemon renew it like a configured one. No I/O.
 *
 * A record is data a person may edit by hand: every field is checked, and a bad one fails that
 * certificate alone with `ERR_ONE_OFF_INVALID` naming the field and where the record is.
 */
import { createHash } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { CertpilotError, type ConfigIssue } from '../errors.js';
import type { KeyType, OneOffRecord } from '../storage/certificate-store.js';
import type { ResolvedCertificate, ResolvedConfig } from './load-config.js';
import { checkDomains, toIdentifier } from './rules.js';
import { schemasFor } from './schema.js';

const KEY_TYPES: readonly KeyType[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'];

/**
 * The record of a one-off certificate as `issue -d` issued it under `config` (the configuration
 * that run resolved: file, environment and flags). Paths are made absolute (a cron run starts
 * elsewhere). Nothing secret goes in: no key, no EAB key, no plug-in option but a port, an address
 * and a directory path, and only for the two http-01 solvers the flags make.
 */
export function oneOffRecordOf(config: ResolvedConfig, spec: ResolvedCertificate, now: Date): OneOffRecord {
  const solverName = [...new Set(Object.values(spec.solvers))][0] ?? 'default';
  const entry = config.solvers[solverName];
  let challenge: OneOffRecord['challenge'];
  if (entry?.type === 'standalone') {
    const { port, host } = entry.options as { port: number; host?: string };
    challenge = { type: 'standalone', port, ...(host ? { host } : {}) };
  } else if (entry?.type === 'webroot') {
    challenge = { type: 'webroot', path: resolve(config.baseDir, (entry.options as { path: string }).path) };
  } else {
    // A solver of the configuration file (`issue -d` with --config): renewed with that solver, by name.
    challenge = { solver: solverName };
  }
  return {
    domains: [...spec.domains],
    keyType: spec.keyType,
    ...(spec.profile ? { profile: spec.profile } : {}),
    reuseKey: spec.reuseKey,
    challenge,
    directoryUrl: config.acme.directoryUrl,
    ...(config.acme.caBundle ? { caBundle: config.acme.caBundle } : {}),
    ...(config.acme.email ? { email: config.acme.email } : {}),
    recordedAt: now.toISOString(),
  };
}

/** A remembered one-off, resolved against the run's configuration. */
export interface ResolvedOneOff {
  record: OneOffRecord;
  spec: ResolvedCertificate;
  /** A solver instance the configuration lacks (the record's http-01 way), to add under this name. */
  solver?: { name: string; entry: ResolvedConfig['solvers'][string] };
}

/**
 * Checks a stored record (`raw`, as read from the renewal state) and builds the certificate
 * `renew` runs for it: its names, key type, profile and key reuse as recorded, its http-01 way as a
 * solver instance (the configuration's own when it has one with the same options), and the
 * deployers and notifiers the configuration gives every certificate that lists none (what `issue
 * -d` with that configuration would use). `where` names the record in errors.
 * Throws `ERR_ONE_OFF_INVALID` listing every bad field.
 */
export function resolveOneOff(name: string, raw: unknown, config: ResolvedConfig, where: string): ResolvedOneOff {
  const issues: ConfigIssue[] = [];
  const bad = (field: string, message: string): void => void issues.push({ path: field ? `oneOff.${field}` : 'oneOff', message });
  const r = (raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
  if (r !== raw) bad('', 'is not an object');

  const given = Array.isArray(r.domains) ? r.domains : undefined;
  if (!given || !given.every((d) => typeof d === 'string')) bad('domains', 'must be a list of names, e.g. ["example.com"]');
  const domains = given ? checkDomains(given.filter((d): d is string => typeof d === 'string'), 'dns-01', 'oneOff.domains', issues) : [];
  const keyType = r.keyType as KeyType;
  if (!KEY_TYPES.includes(keyType)) bad('keyType', `${JSON.stringify(r.keyType)} is not one of ${KEY_TYPES.join(', ')}`);
  if (r.profile !== undefined && (typeof r.profile !== 'string' || r.profile === '')) bad('profile', 'must be a profile name, or left out');
  if (r.reuseKey !== undefined && typeof r.reuseKey !== 'boolean') bad('reuseKey', 'must be true or false');
  if (typeof r.directoryUrl !== 'string' || !/^https?:\/\/[^\s/]+/.test(r.directoryUrl)) bad('directoryUrl', `${JSON.stringify(r.directoryUrl)} is not an http(s) URL`);
  if (r.caBundle !== undefined && (typeof r.caBundle !== 'string' || !isAbsolute(r.caBundle))) bad('caBundle', 'must be an absolute path, or left out');
  if (r.email !== undefined && typeof r.email !== 'string') bad('email', 'must be an e-mail address, or left out');
  const solver = solverOf(r.challenge, config, bad);

  if (issues.length > 0) {
    throw new CertpilotError('ERR_ONE_OFF_INVALID', `renew ${name}: the one-off record in ${where} cannot be used: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, {
      hint: `Fix the field${issues.length > 1 ? 's' : ''} named (or run the \`certpilot issue -d … --name ${name}\` line again to write the record anew), or run \`certpilot forget ${name}\` to stop renewing it; its live files stay either way.`,
    });
  }
  const record = r as unknown as OneOffRecord;
  const deploy = [...new Set(config.defaults.deploy)];
  const spec: ResolvedCertificate = {
    name,
    domains,
    identifiers: domains.map(toIdentifier),
    keyType,
    reuseKey: record.reuseKey === true,
    ...(record.profile ? { profile: record.profile } : {}),
    solvers: Object.fromEntries(domains.map((d) => [d, solver.name])),
    deploy,
    notify: [...new Set(config.defaults.notify)],
    // The backoff fingerprint's digest: a changed record (a new CA, another webroot) is a fix worth trying at once.
    settings: digest({ directoryUrl: record.directoryUrl, caBundle: record.caBundle ?? null, solver: solver.entry ?? config.solvers[solver.name] ?? null, deploy }),
    oneOff: true,
    fromRecord: true,
  };
  return { record, spec, ...(solver.entry ? { solver: { name: solver.name, entry: solver.entry } } : {}) };
}

/** The solver a record's `challenge` names: a configured one, or a new instance of its http-01 way. */
function solverOf(raw: unknown, config: ResolvedConfig, bad: (field: string, message: string) => void): { name: string; entry?: ResolvedConfig['solvers'][string] } {
  const c = (raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? raw : undefined) as Record<string, unknown> | undefined;
  const shape = 'must be {"type": "standalone", "port": 80}, {"type": "webroot", "path": "/var/www/html"} or {"solver": "<a solver of the configuration>"}';
  if (!c) {
    bad('challenge', shape);
    return { name: 'default' };
  }
  if (c.solver !== undefined) {
    if (typeof c.solver !== 'string' || !config.solvers[c.solver]) {
      bad('challenge.solver', `${JSON.stringify(c.solver)} is not a solver of the configuration (${Object.keys(config.solvers).join(', ')}); add it back, or run the \`issue -d\` line again`);
    }
    return { name: String(c.solver) };
  }
  let options: Record<string, unknown>;
  if (c.type === 'standalone') {
    if (typeof c.port !== 'number' || !Number.isInteger(c.port) || c.port < 1 || c.port > 65535) bad('challenge.port', `${JSON.stringify(c.port)} is not a port from 1 to 65535`);
    if (c.host !== undefined && (typeof c.host !== 'string' || c.host === '')) bad('challenge.host', 'must be an address, or left out');
    options = { port: c.port, ...(c.host !== undefined ? { host: c.host } : {}) };
  } else if (c.type === 'webroot') {
    if (typeof c.path !== 'string' || !isAbsolute(c.path)) bad('challenge.path', `${JSON.stringify(c.path)} is not an absolute directory path`);
    options = { path: c.path };
  } else {
    bad('challenge.type', `${JSON.stringify(c.type)}: ${shape}`);
    return { name: 'default' };
  }
  const entry = { type: c.type, ...options };
  const parsed = schemasFor({ solvers: { one: entry } }).instances.solvers?.safeParse(entry);
  if (!parsed?.success) {
    for (const i of parsed?.error.issues ?? []) bad(`challenge.${i.path.join('.')}`, i.message);
    return { name: 'default' };
  }
  const instance = parsed.data as ResolvedConfig['solvers'][string];
  // The configuration's own instance with the same options (`default`, standalone on port 80, most
  // often): shared, so two certificates never open two listeners on one port.
  const same = Object.entries(config.solvers).find(([, e]) => digest(e) === digest(instance));
  if (same) return { name: same[0] };
  return { name: `one-off-${c.type}-${digest(instance).slice(0, 8)}`, entry: instance };
}

/** Why the run cannot renew this record against its own CA (the run holds one CA), or undefined when it can. */
export function otherCa(record: OneOffRecord, config: ResolvedConfig): string | undefined {
  if (record.directoryUrl !== config.acme.directoryUrl) return `it was issued from ${record.directoryUrl}, and this run uses ${config.acme.directoryUrl}`;
  if (record.caBundle && record.caBundle !== config.acme.caBundle) return `its CA is trusted through ${record.caBundle}, which this run does not use`;
  return undefined;
}

/** A short digest of `value` with object keys sorted. */
function digest(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canonical) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => [k, canonical(x)])) : v;
  return createHash('sha256').update(JSON.stringify(canonical(value))).digest('hex').slice(0, 32);
}
