/**
 * TLS is verified on every client certpilot opens (ACME, Kubernetes, Redis, Route 53, webhooks),
 * whatever the environment says: `rejectUnauthorized: true` is set explicitly, so Node's
 * `NODE_TLS_REJECT_UNAUTHORIZED=0` (which only changes the *default*) cannot turn verification off.
 * A private CA is trusted by configuring it (`acme.caBundle`, a Redis `tls.caFile`, the kubeconfig's
 * certificate-authority), never by switching checks off.
 *
 * Nothing here reads `process.env`: the CLI passes its environment to {@link insecureTlsEnvironment}
 * and logs the warning it returns.
 */
import type { AgentOptions } from 'node:https';

/** The one TLS client setting every certpilot client spreads into its options. */
export const STRICT_TLS = Object.freeze({ rejectUnauthorized: true as const });

/** `options` with certificate verification forced on (for https.Agent, tls.connect, ioredis `tls`, undici). */
export function strictTls<T extends object>(options: T = {} as T): T & { rejectUnauthorized: true } {
  return { ...options, ...STRICT_TLS };
}

/** https.Agent options with verification forced on; for SDKs that take an agent (AWS, webhooks). */
export function strictAgentOptions(options: AgentOptions = {}): AgentOptions & { rejectUnauthorized: true } {
  return strictTls(options);
}

/**
 * The environment variables that try to turn TLS verification off, with a warning naming them
 * (certpilot ignores them); undefined when there is none.
 */
export function insecureTlsEnvironment(env: Readonly<Record<string, string | undefined>>): { variables: string[]; message: string } | undefined {
  const variables: string[] = [];
  if (env.NODE_TLS_REJECT_UNAUTHORIZED !== undefined && env.NODE_TLS_REJECT_UNAUTHORIZED !== '1') variables.push('NODE_TLS_REJECT_UNAUTHORIZED');
  if (variables.length === 0) return undefined;
  return {
    variables,
    message: `${variables.map((v) => `${v}=${env[v] ?? ''}`).join(', ')} is set to turn TLS certificate verification off; certpilot ignores it and verifies every server (trust a private CA with acme.caBundle or the plug-in's CA file instead)`,
  };
}
