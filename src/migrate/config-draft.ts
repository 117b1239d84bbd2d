/**
 * The `certpilot.yaml` an import prints: named solvers and deployers (one per distinct setting,
 * shared by the certificates that use the same one) and one entry per imported certificate, in
 * the shape of `config/schema.ts`, so `certpilot config check` accepts it as printed.
 */
import { stringify } from 'yaml';
import type { KeyType } from '../storage/certificate-store.js';

/** One certificate entry of the draft (the fields of `certificates[]` an import can know). */
export interface DraftCertificate {
  name: string;
  domains: string[];
  keyType?: KeyType;
  reuseKey?: boolean;
  solver?: string;
  solvers?: { names: string[]; solver: string }[];
  deploy?: string[];
}

/** A plug-in instance entry: `type` and its options. */
export type DraftInstance = { type: string } & Record<string, unknown>;

/** What the file's head says: where the state is and which CA and account it renews with. */
export interface DraftHead {
  stateDir: string;
  /** The configured state store when it is not the default (`filesystem` in stateDir): printed as is. */
  stateStore?: DraftInstance;
  directoryUrl: string;
  email?: string;
  caBundle?: string;
  /** True when the account exists already (its holder agreed when it was registered). */
  termsOfServiceAgreed: boolean;
}

/** A deployer the draft leaves out: printed commented out at the end, with why, for the certificate named. */
export interface LeftOutDeployer {
  name: string;
  certificate: string;
  entry: DraftInstance;
  reason: string;
}

/** Builds the printed configuration. */
export class ConfigDraft {
  readonly solvers: Record<string, DraftInstance> = {};
  readonly deployers: Record<string, DraftInstance> = {};
  readonly certificates: DraftCertificate[] = [];
  readonly leftOut: LeftOutDeployer[] = [];

  /**
   * Records a deployer that must not run as it is (e.g. a hook that would deploy certbot's stale
   * files): printed commented out, never in a certificate's `deploy`; returns its name.
   */
  leaveOut(base: string, certificate: string, entry: DraftInstance, reason: string): string {
    const stem = instanceNameFrom(base);
    const taken = (n: string): boolean => Object.hasOwn(this.deployers, n) || this.leftOut.some((l) => l.name === n);
    let name = stem;
    for (let i = 2; taken(name); i++) name = `${stem}-${i}`;
    this.leftOut.push({ name, certificate, entry, reason });
    return name;
  }

  /** Adds a solver (or finds the same one already added); returns its name. */
  addSolver(base: string, entry: DraftInstance): string {
    return addInstance(this.solvers, base, entry);
  }

  /**
   * Removes the certificates named, and every solver and deployer that no certificate left names
   * (the others keep their names: deploy records written under them stay true).
   */
  removeCertificates(names: readonly string[]): void {
    if (names.length === 0) return;
    const kept = this.certificates.filter((c) => !names.includes(c.name));
    this.leftOut.splice(0, this.leftOut.length, ...this.leftOut.filter((l) => !names.includes(l.certificate)));
    this.certificates.splice(0, this.certificates.length, ...kept);
    const solvers = new Set(kept.flatMap((c) => [...(c.solver ? [c.solver] : []), ...(c.solvers ?? []).map((s) => s.solver)]));
    const deployers = new Set(kept.flatMap((c) => c.deploy ?? []));
    for (const name of Object.keys(this.solvers)) if (!solvers.has(name)) delete this.solvers[name];
    for (const name of Object.keys(this.deployers)) if (!deployers.has(name)) delete this.deployers[name];
  }

  /** Adds a deployer (or finds the same one already added); returns its name. */
  addDeployer(base: string, entry: DraftInstance): string {
    return addInstance(this.deployers, base, entry);
  }

  /** The YAML text, with `comments` as `#` lines on top. */
  toYaml(head: DraftHead, comments: readonly string[] = []): string {
    const doc: Record<string, unknown> = {
      stateDir: head.stateDir,
      ...(head.stateStore && head.stateStore.type !== 'filesystem' ? { stateStore: head.stateStore } : {}),
      acme: {
        directoryUrl: head.directoryUrl,
        ...(head.email ? { email: head.email } : {}),
        ...(head.termsOfServiceAgreed ? { termsOfServiceAgreed: true } : {}),
        ...(head.caBundle ? { caBundle: head.caBundle } : {}),
      },
      ...(Object.keys(this.solvers).length ? { solvers: this.solvers } : {}),
      ...(Object.keys(this.deployers).length ? { deployers: this.deployers } : {}),
      certificates: this.certificates,
    };
    const top = comments.map((c) => `# ${c}`.trimEnd()).join('\n');
    return `${top ? `${top}\n` : ''}${stringify(doc, { lineWidth: 0 })}${this.leftOutYaml()}`;
  }

  /** The left-out deployers as commented-out YAML, each with its reason ('' when none). */
  private leftOutYaml(): string {
    if (this.leftOut.length === 0) return '';
    const lines = [
      '',
      'NOT WRITTEN: deployers that would not deploy what certpilot renews (see the import\'s `action needed` lines).',
      'Fix each, then move it under `deployers:` and add its name to the certificate\'s `deploy:` list.',
    ];
    for (const l of this.leftOut) {
      lines.push('', `${l.name} (certificate ${l.certificate}): ${l.reason}`);
      for (const line of stringify({ [l.name]: l.entry }, { lineWidth: 0 }).trimEnd().split('\n')) lines.push(`  ${line}`);
    }
    return `${lines.map((l) => `# ${l}`.trimEnd()).join('\n')}\n`;
  }
}

/** A valid instance name from free text (lineage names may hold dots). */
export function instanceNameFrom(text: string): string {
  const cleaned = text.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^[-_]+/, '').slice(0, 50);
  return cleaned === '' ? 'imported' : cleaned;
}

function addInstance(into: Record<string, DraftInstance>, base: string, entry: DraftInstance): string {
  const key = JSON.stringify(entry);
  for (const [name, existing] of Object.entries(into)) if (JSON.stringify(existing) === key) return name;
  const stem = instanceNameFrom(base);
  let name = stem;
  for (let i = 2; Object.hasOwn(into, name); i++) name = `${stem}-${i}`;
  into[name] = entry;
  return name;
}
