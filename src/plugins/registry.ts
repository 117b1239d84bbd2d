/**
 * The one list of plug-ins (DESIGN.md §1; lego's provider index, renovate's datasource index).
 * Adding a plug-in is adding one folder and one line here: its schema is imported eagerly (zod
 * only), its implementation on first use. `registry.test.ts` keeps this list, the plug-in folders
 * and `docs/plugins.md` the same set.
 */
import { resolve } from 'node:path';
import { standaloneSchema } from '../challenges/http01/solvers/standalone/schema.js';
import { webrootSchema } from '../challenges/http01/solvers/webroot/schema.js';
import { statelessSchema } from '../challenges/http01/solvers/stateless/schema.js';
import { redisSchema } from '../challenges/http01/token-stores/redis/schema.js';
import { rfc2136Schema } from '../challenges/dns01/providers/rfc2136/schema.js';
import { route53Schema } from '../challenges/dns01/providers/route53/schema.js';
import { filesSchema } from '../deploy/files/schema.js';
import { hookSchema } from '../deploy/hook/schema.js';
import { kubernetesReloadSchema } from '../deploy/kubernetes-reload/schema.js';
import { kubernetesSecretSchema } from '../deploy/kubernetes-secret/schema.js';
import { plugin as webhookNotifier } from '../notify/webhook/plugin.js';
import { plugin as emailNotifier } from '../notify/email/plugin.js';
import { definePlugin, type PluginDefinition, type PluginKind } from './plugin.js';

/** Every plug-in, in docs order. */
export const PLUGINS = [
  definePlugin({
    id: 'standalone',
    kind: 'challenge-solver',
    challengeType: 'http-01',
    summary: 'http-01 answered by certpilot on its own listener (port 80 by default); the embedded default.',
    dir: 'challenges/http01/solvers/standalone',
    schema: standaloneSchema,
    create: async (o, d) => {
      const { StandaloneHttp01Solver } = await import('../challenges/http01/solvers/standalone/standalone-solver.js');
      return new StandaloneHttp01Solver({ port: o.port, ...(o.host ? { host: o.host } : {}), logger: d.logger, clock: d.clock });
    },
  }),
  definePlugin({
    id: 'webroot',
    kind: 'challenge-solver',
    challengeType: 'http-01',
    summary: 'http-01 answered by writing the token file under a directory your web server already serves.',
    dir: 'challenges/http01/solvers/webroot',
    schema: webrootSchema,
    create: async (o, d) => {
      const { WebrootHttp01Solver } = await import('../challenges/http01/solvers/webroot/webroot-solver.js');
      return new WebrootHttp01Solver({ webroot: resolve(d.baseDir, o.path), logger: d.logger });
    },
  }),
  definePlugin({
    id: 'stateless',
    kind: 'challenge-solver',
    challengeType: 'http-01',
    summary: 'http-01 with nothing stored: every responder answers <token>.<account thumbprint> (`certpilot serve --thumbprint`, or the nginx/apache lines of `certpilot account show`).',
    dir: 'challenges/http01/solvers/stateless',
    schema: statelessSchema,
    create: async (o, d) => {
      const [{ StatelessHttp01Solver }, { createSelfCheck }] = await Promise.all([import('../challenges/http01/solvers/stateless/stateless-solver.js'), import('../challenges/http01/token-store-options.js')]);
      const waiter = await createSelfCheck(o.selfCheck, { baseDir: d.baseDir, logger: d.logger, clock: d.clock });
      return new StatelessHttp01Solver(waiter ? { waiter } : {});
    },
  }),
  definePlugin({
    id: 'redis',
    kind: 'token-store',
    summary: 'http-01 tokens in a shared Redis (standalone, Sentinel, Cluster; TLS) that every pod\'s responder reads: `certpilot serve`, the middleware, or your own app.',
    dir: 'challenges/http01/token-stores/redis',
    schema: redisSchema,
    create: async (o, d) => {
      const { RedisTokenStore } = await import('../challenges/http01/token-stores/redis/redis-token-store.js');
      return new RedisTokenStore({
        ...o,
        ...(o.passwordFile ? { passwordFile: resolve(d.baseDir, o.passwordFile) } : {}),
        ...(o.tls?.caFile ? { tls: { ...o.tls, caFile: resolve(d.baseDir, o.tls.caFile) } } : {}),
        ...(o.sentinel?.passwordFile ? { sentinel: { ...o.sentinel, passwordFile: resolve(d.baseDir, o.sentinel.passwordFile) } } : {}),
        journalDir: resolve(d.stateDir, 'http01-tokens', d.name),
        logger: d.logger,
      });
    },
  }),
  definePlugin({
    id: 'rfc2136',
    kind: 'dns-provider',
    summary: 'dns-01 through DNS UPDATE (RFC 2136) signed with a TSIG key (hmac-sha256, hmac-sha512): BIND, Knot, PowerDNS.',
    dir: 'challenges/dns01/providers/rfc2136',
    schema: rfc2136Schema,
    create: async (o, d) => {
      const { createRfc2136DnsProvider } = await import('../challenges/dns01/providers/rfc2136/rfc2136-dns-provider.js');
      return createRfc2136DnsProvider(o, d);
    },
  }),
  definePlugin({
    id: 'route53',
    kind: 'dns-provider',
    summary: 'dns-01 in an Amazon Route 53 hosted zone; credentials from the AWS SDK chain; `certpilot route53 policy` prints a least-privilege IAM policy.',
    dir: 'challenges/dns01/providers/route53',
    schema: route53Schema,
    create: async (o, d) => {
      const { createRoute53DnsProvider } = await import('../challenges/dns01/providers/route53/route53-dns-provider.js');
      return createRoute53DnsProvider(o, d);
    },
  }),
  definePlugin({
    id: 'files',
    kind: 'deployer',
    summary: 'Writes cert.pem, chain.pem, fullchain.pem, privkey.pem and fullbundle.pem into a directory (a docker volume), switched atomically.',
    dir: 'deploy/files',
    schema: filesSchema,
    create: async (o, d) => {
      const { FilesDeployer, fileSet, parseMode } = await import('../deploy/files/files-deployer.js');
      return new FilesDeployer({
        id: d.name,
        dir: resolve(d.baseDir, o.dir),
        layout: o.layout,
        files: fileSet(o),
        ...(o.owner !== undefined ? { owner: o.owner } : {}),
        ...(o.group !== undefined ? { group: o.group } : {}),
        keyMode: parseMode(o.keyMode),
        certMode: parseMode(o.certMode),
        dirMode: parseMode(o.dirMode),
        clock: d.clock,
        logger: d.logger,
      });
    },
  }),
  definePlugin({
    id: 'hook',
    kind: 'deployer',
    summary: 'Runs a command after each new version (reload a server, a certbot deploy hook unchanged), with a timeout that kills its process group.',
    dir: 'deploy/hook',
    schema: hookSchema,
    create: async (o, d) => {
      const { HookDeployer } = await import('../deploy/hook/hook-deployer.js');
      return new HookDeployer({
        id: d.name,
        command: o.command,
        shell: o.shell,
        timeoutSeconds: o.timeoutSeconds,
        cwd: resolve(d.baseDir, o.cwd ?? '.'),
        env: o.env,
        passEnv: o.passEnv,
        ...(d.env ? { processEnv: d.env } : {}),
        logger: d.logger,
      });
    },
  }),
  definePlugin({
    id: 'kubernetes-secret',
    kind: 'deployer',
    summary: 'Creates or updates a Secret (tls.crt, tls.key and the certbot-named files) by server-side apply, keeping what others own.',
    dir: 'deploy/kubernetes-secret',
    schema: kubernetesSecretSchema,
    create: async (o, d) => {
      const [{ KubernetesClient }, { KubernetesSecretDeployer }] = await Promise.all([
        import('../kubernetes/kubernetes-client.js'),
        import('../deploy/kubernetes-secret/kubernetes-secret-deployer.js'),
      ]);
      const client = new KubernetesClient(o, d.baseDir);
      return new KubernetesSecretDeployer({ id: d.name, client, secretName: o.secretName, keys: o.keys, labels: o.labels, fieldManager: o.fieldManager, logger: d.logger });
    },
  }),
  definePlugin({
    id: 'kubernetes-reload',
    kind: 'deployer',
    summary: 'Waits until each pod sees the new Secret, reloads pods one by one (or restarts their workload) and verifies each serves the new certificate over TLS.',
    dir: 'deploy/kubernetes-reload',
    schema: kubernetesReloadSchema,
    create: async (o, d) => {
      const [{ KubernetesClient }, { KubernetesReloadDeployer }] = await Promise.all([
        import('../kubernetes/kubernetes-client.js'),
        import('../deploy/kubernetes-reload/kubernetes-reload-deployer.js'),
      ]);
      const client = new KubernetesClient(o, d.baseDir);
      return new KubernetesReloadDeployer({
        id: d.name,
        client,
        secretName: o.secretName,
        key: o.key,
        groups: o.groups,
        propagationTimeoutSeconds: o.propagationTimeoutSeconds,
        pollIntervalSeconds: o.pollIntervalSeconds,
        verifyTimeoutSeconds: o.verifyTimeoutSeconds,
        digestCommand: o.digestCommand,
        logger: d.logger,
        clock: d.clock,
      });
    },
  }),
  webhookNotifier,
  emailNotifier,
] as const satisfies readonly PluginDefinition[];

/** A registered plug-in id. */
export type PluginId = (typeof PLUGINS)[number]['id'];

/** The plug-ins of some kinds. */
export function pluginsOfKind(...kinds: PluginKind[]): PluginDefinition[] {
  return (PLUGINS as readonly PluginDefinition[]).filter((p) => kinds.includes(p.kind));
}

/** The plug-in with this id, or undefined. */
export function findPlugin(id: string): PluginDefinition | undefined {
  return (PLUGINS as readonly PluginDefinition[]).find((p) => p.id === id);
}
