/**
 * `certpilot import certbot [--config-dir DIR] [--dry-run]` and `certpilot import files DIR --name
 * NAME [--dry-run]`: bring an existing certificate (and certbot's account) into certpilot's state
 * without asking the CA for anything. The report goes to standard error, the `certpilot.yaml` for
 * the imported certificates to standard output (`> certpilot.yaml`), or both as one JSON object.
 */
import { CertpilotError } from '../../errors.js';
import type { ImportReport } from '../../migrate/import-state.js';
import { EXIT, type CommandContext } from '../main.js';
import { configFile, openRuntime } from '../runtime.js';

/** certbot's default configuration directory. */
export const CERTBOT_CONFIG_DIR = '/etc/letsencrypt';

/**
 * Whether the configuration file sets `acme.directoryUrl` (its default is no choice: the lineages'
 * own CA is then used). An empty or unreadable file names nothing (loading it has reported it).
 */
async function fileNamesCa(file: string | undefined): Promise<boolean> {
  if (file === undefined) return false;
  const [{ readFile }, { parseYaml }] = await Promise.all([import('node:fs/promises'), import('../../config/parse-yaml.js')]);
  try {
    const raw = (await parseYaml(await readFile(file, 'utf8'), file)) as { acme?: { directoryUrl?: unknown } } | null;
    return raw?.acme?.directoryUrl !== undefined;
  } catch {
    return false;
  }
}

/** Entry point of `certpilot import`. */
export async function run(ctx: CommandContext): Promise<number> {
  const [source, ...args] = ctx.positionals;
  if (source !== 'certbot' && source !== 'files') {
    throw new CertpilotError('ERR_CLI_USAGE', `cli: import needs what to import: certbot or files, not ${source === undefined ? 'nothing' : JSON.stringify(source)}`, {
      hint: 'Run `certpilot import certbot --config-dir /etc/letsencrypt` or `certpilot import files DIR --name NAME`.',
    });
  }
  const names = ctx.values.name ?? [];
  if (source === 'certbot' && (args.length > 0 || names.length > 0)) {
    throw new CertpilotError('ERR_CLI_USAGE', 'cli: import certbot takes no directory argument and no --name', {
      hint: 'Give certbot\'s directory with --config-dir DIR; every lineage keeps its certbot name.',
    });
  }
  if (source === 'files' && (args.length !== 1 || names.length !== 1 || ctx.values['config-dir'] !== undefined)) {
    throw new CertpilotError('ERR_CLI_USAGE', 'cli: import files takes one directory and one --name (and no --config-dir)', {
      hint: 'Run `certpilot import files /path/to/volume --name NAME`.',
    });
  }
  const dryRun = ctx.values['dry-run'] === true;
  const runtime = await openRuntime(ctx, false);
  try {
    const { config, store, clock } = runtime;
    const stores = { certificates: store, accounts: store };
    let report: ImportReport;
    if (source === 'certbot') {
      const { importCertbot } = await import('../../migrate/certbot/import-certbot.js');
      report = await importCertbot({
        configDir: ctx.values['config-dir'] ?? CERTBOT_CONFIG_DIR,
        stores,
        directoryUrl: config.acme.directoryUrl,
        stagingDirectoryUrl: config.acme.stagingDirectoryUrl,
        // Named by the run, the CA overrides the lineages' own `server =`.
        caNamed: Boolean(ctx.values.directory || ctx.env.CERTPILOT_DIRECTORY_URL) || (await fileNamesCa(configFile(ctx))),
        ...(config.acme.email ? { email: config.acme.email } : {}),
        stateDir: config.stateDir,
        stateStore: { type: config.stateStore.type, ...config.stateStore.options },
        ...(config.acme.caBundle ? { caBundle: config.acme.caBundle } : {}),
        ...(ctx.env.REQUESTS_CA_BUNDLE ? { requestsCaBundle: ctx.env.REQUESTS_CA_BUNDLE } : {}),
        dryRun,
        clock,
      });
    } else {
      const { importFiles } = await import('../../migrate/files/import-files.js');
      report = await importFiles({
        dir: args[0] as string,
        name: names[0] as string,
        stores,
        directoryUrl: config.acme.directoryUrl,
        stateDir: config.stateDir,
        stateStore: { type: config.stateStore.type, ...config.stateStore.options },
        ...(config.acme.caBundle ? { caBundle: config.acme.caBundle } : {}),
        ...(config.acme.email ? { email: config.acme.email } : {}),
        termsOfServiceAgreed: config.acme.termsOfServiceAgreed,
        dryRun,
        clock,
      });
    }
    const skipped = report.items.filter((i) => i.status === 'skipped');
    // A hook the import could not carry over truthfully (left out, or naming a missing program).
    const actions = report.notes.filter((n) => n.level === 'action');
    if (ctx.values.json) {
      ctx.output.out(JSON.stringify({ dryRun, items: report.items, notes: report.notes, config: report.config }, null, 2));
    } else {
      ctx.output.out(report.config.trimEnd());
      for (const item of report.items) {
        const status = dryRun && item.status === 'imported' ? 'would import' : item.status;
        ctx.output.err(`${status.padEnd(12)} ${item.kind} ${item.name}: ${item.detail}${item.code ? ` (${item.code})` : ''}`);
      }
      const label = { changed: 'changed', action: 'ACTION NEEDED' } as const;
      for (const n of report.notes) ctx.output.err(`${(n.level ? label[n.level] : 'not mapped').padEnd(12)} ${n.name}: ${n.setting}: ${n.reason}`);
      const imported = report.items.filter((i) => i.status === 'imported').length;
      const left = skipped.filter((i) => i.kind === 'certificate' && i.keptInConfig !== true).map((i) => i.name);
      const leftOut = left.length > 0 ? ` ${left.length} certificate(s) skipped, not in the printed configuration: ${left.join(', ')}.` : '';
      ctx.output.err(
        dryRun
          ? `Dry run: nothing was written; ${imported} item(s) would be imported into the state ${store.backend.description}.${leftOut}`
          : `${imported} imported, ${report.items.length - imported - skipped.length} unchanged, ${skipped.length} skipped, into the state ${store.backend.description}. No request was sent to the CA.${leftOut}`,
      );
      if (skipped.length) ctx.output.err(`  hint: fix what each skipped line names and run the import again: what was imported stays, and nothing is imported twice.`);
      if (actions.length) ctx.output.err(`  ${actions.length} hook(s) need your action before certpilot takes over (the ACTION NEEDED lines): a hook left out is printed commented out at the end of the configuration.`);
    }
    return skipped.length || actions.length ? EXIT.failed : EXIT.ok;
  } finally {
    await runtime.close();
  }
}
