/**
 * Why a certificate is due: a chain of small policies, each looking at the configured spec, the
 * stored certificate, its renewal state and the time, and returning `{reason, message}` when it
 * wants a new certificate (cert-manager `certificates/policies`, DESIGN.md §6.5). The first policy
 * that fires wins. Policies are pure: time comes in as `now`, never from the system clock.
 */
import { formatDuration } from '../duration.js';
import type { KeyType, RenewalState, StoredCertificate } from '../storage/certificate-store.js';

/** What the configuration asks for one certificate. */
export interface CertificateSpec {
  name: string;
  domains: string[];
  keyType: KeyType;
  profile?: string;
  /** The solver of each name, when known (part of the configuration fingerprint). */
  solvers?: Readonly<Record<string, string>>;
  /** A digest of the directory URL and the solvers' and deployers' settings (part of the configuration fingerprint). */
  settings?: string;
}

/** Why a certificate is (or would be) renewed. */
export type RenewalReason =
  | 'missing'
  | 'domains-changed'
  | 'key-type-changed'
  | 'profile-changed'
  | 'expired'
  | 'ari-window'
  | 'lifetime'
  | 'forced'
  | 'resume-order'
  | 'revoked';

/** What every policy looks at. */
export interface PolicyInput {
  spec: CertificateSpec;
  stored: StoredCertificate | undefined;
  state: RenewalState;
  now: Date;
}

/** A policy's verdict that the certificate is due. */
export interface PolicyResult {
  reason: RenewalReason;
  /** One human sentence for logs and `certpilot status`. */
  message: string;
  /** Since when it has been due (defaults to `now`). */
  dueAt?: Date;
}

/** One link of the chain: a verdict when the certificate is due for this policy's reason, else `undefined`. */
export type RenewalPolicy = (input: PolicyInput) => PolicyResult | undefined;

/** Without ARI, renew when this fraction of the lifetime is left (certbot and lego renew at about 1/3). */
export const LIFETIME_FRACTION_LEFT = 1 / 3;
/** For short-lived certificates, renew when this fraction is left, so one missed daily run is survivable. */
export const SHORT_LIFETIME_FRACTION_LEFT = 1 / 2;
/** Lifetimes under this count as short-lived (Let's Encrypt's 6-day profile, Pebble `shortlived`). */
export const SHORT_LIFETIME_MS = 10 * 24 * 3600 * 1000;

const DAY_MS = 24 * 3600 * 1000;

/** The leaf's lifetime in milliseconds (notAfter − notBefore). */
export function lifetimeMs(stored: StoredCertificate): number {
  return Date.parse(stored.metadata.notAfter) - Date.parse(stored.metadata.notBefore);
}

/** When the lifetime rule makes `stored` due: 1/3 of the lifetime left (1/2 under 10 days). */
export function lifetimeRenewalTime(stored: StoredCertificate): Date {
  const lifetime = lifetimeMs(stored);
  const fraction = lifetime < SHORT_LIFETIME_MS ? SHORT_LIFETIME_FRACTION_LEFT : LIFETIME_FRACTION_LEFT;
  return new Date(Date.parse(stored.metadata.notAfter) - lifetime * fraction);
}

/**
 * The ARI answer that applies to the live certificate: one for its certId (RFC 9773 §4.1) whose
 * selected time falls before expiry. An answer for a previous certificate, or a window past expiry
 * (a broken answer), does not count, and the lifetime rule applies instead.
 */
export function currentRenewalInfo(stored: StoredCertificate, state: RenewalState): NonNullable<RenewalState['ari']> | undefined {
  const ari = state.ari;
  if (!ari || !stored.metadata.ariCertId || ari.certId !== stored.metadata.ariCertId) return undefined;
  const selected = Date.parse(ari.selectedTime);
  if (!Number.isFinite(selected) || selected >= Date.parse(stored.metadata.notAfter)) return undefined;
  return ari;
}

/** The time `stored` is or will be due: the ARI selected time when there is a current answer, else the lifetime rule. */
export function renewalTime(stored: StoredCertificate, state: RenewalState): Date {
  const ari = currentRenewalInfo(stored, state);
  return ari ? new Date(ari.selectedTime) : lifetimeRenewalTime(stored);
}

function normalizeIdentifier(id: string): string {
  return id.trim().toLowerCase().replace(/\.$/, '');
}

/** Due when nothing is stored under the name. */
export const missingPolicy: RenewalPolicy = ({ spec, stored }) =>
  stored ? undefined : { reason: 'missing', message: `no certificate is stored for ${spec.name}` };

/** Due when the live version is one `certpilot revoke` revoked: clients that check revocation refuse it. */
export const revokedPolicy: RenewalPolicy = ({ stored, state }) =>
  stored && state.revoked?.version === stored.version
    ? { reason: 'revoked', message: `version ${stored.version} was revoked on ${state.revoked.at} (reason ${state.revoked.reason}): replacing it` }
    : undefined;

/** Due when the configured names differ from the stored ones (as sets, case-insensitive). */
export const domainsChangedPolicy: RenewalPolicy = ({ spec, stored }) => {
  if (!stored) return undefined;
  const want = new Set(spec.domains.map(normalizeIdentifier));
  const have = new Set(stored.metadata.domains.map(normalizeIdentifier));
  const added = [...want].filter((d) => !have.has(d));
  const removed = [...have].filter((d) => !want.has(d));
  if (added.length === 0 && removed.length === 0) return undefined;
  const parts = [added.length ? `added ${added.join(', ')}` : '', removed.length ? `removed ${removed.join(', ')}` : ''].filter(Boolean);
  return { reason: 'domains-changed', message: `the configured names changed: ${parts.join('; ')}` };
};

/** Due when the configured key type differs from the stored key's. */
export const keyTypeChangedPolicy: RenewalPolicy = ({ spec, stored }) =>
  stored && stored.metadata.keyType !== spec.keyType
    ? { reason: 'key-type-changed', message: `the key type changed from ${stored.metadata.keyType} to ${spec.keyType}` }
    : undefined;

/** Due when the configured ACME profile differs from the one the stored certificate was ordered with. */
export const profileChangedPolicy: RenewalPolicy = ({ spec, stored }) => {
  if (!stored) return undefined;
  const want = spec.profile || undefined;
  const have = stored.metadata.profile || undefined;
  if (want === have) return undefined;
  return { reason: 'profile-changed', message: `the profile changed from ${have ?? '(CA default)'} to ${want ?? '(CA default)'}` };
};

/** Due when the stored certificate has expired. */
export const expiredPolicy: RenewalPolicy = ({ stored, now }) => {
  if (!stored) return undefined;
  const notAfter = new Date(stored.metadata.notAfter);
  if (now.getTime() < notAfter.getTime()) return undefined;
  return { reason: 'expired', message: `the certificate expired ${formatDuration(now.getTime() - notAfter.getTime())} ago`, dueAt: notAfter };
};

/** Due once the selected time inside the CA's ARI window has passed (RFC 9773 §4.2). */
export const ariWindowPolicy: RenewalPolicy = ({ stored, state, now }) => {
  if (!stored) return undefined;
  const ari = currentRenewalInfo(stored, state);
  if (!ari) return undefined;
  const selected = new Date(ari.selectedTime);
  if (now.getTime() < selected.getTime()) return undefined;
  const why = ari.explanationUrl ? ` (explanation: ${ari.explanationUrl})` : '';
  return {
    reason: 'ari-window',
    message: `the CA's renewal window ${ari.windowStart} – ${ari.windowEnd} is open; the selected time ${ari.selectedTime} has passed${why}`,
    dueAt: selected,
  };
};

/** Without a current ARI answer: due when 1/3 of the lifetime is left (1/2 for lifetimes under 10 days). */
export const lifetimePolicy: RenewalPolicy = ({ stored, state, now }) => {
  if (!stored || currentRenewalInfo(stored, state)) return undefined;
  const due = lifetimeRenewalTime(stored);
  if (now.getTime() < due.getTime()) return undefined;
  const left = Date.parse(stored.metadata.notAfter) - now.getTime();
  const lifetime = lifetimeMs(stored);
  const fraction = lifetime < SHORT_LIFETIME_MS ? '1/2' : '1/3';
  const days = Math.round((lifetime / DAY_MS) * 10) / 10;
  return { reason: 'lifetime', message: `${formatDuration(left)} of its ${days}-day lifetime left (renews at ${fraction} left)`, dueAt: due };
};

/** The default chain, most fundamental first. */
export const DEFAULT_POLICY_CHAIN: readonly RenewalPolicy[] = [
  missingPolicy,
  revokedPolicy,
  domainsChangedPolicy,
  keyTypeChangedPolicy,
  profileChangedPolicy,
  expiredPolicy,
  ariWindowPolicy,
  lifetimePolicy,
];

/** Runs the chain; returns the first verdict, or `undefined` when no policy wants a renewal. */
export function evaluatePolicies(input: PolicyInput, chain: readonly RenewalPolicy[] = DEFAULT_POLICY_CHAIN): PolicyResult | undefined {
  for (const policy of chain) {
    const result = policy(input);
    if (result) return result;
  }
  return undefined;
}
