/** Options of the `hook` deployer: a command run after each new version is saved. */
import * as z from 'zod/mini';
import '../../zod-english.js';

const envName = z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'must be an environment variable name like MY_VAR' }));

/** The variables of certpilot's own environment a hook gets by default (never a secret). */
export const DEFAULT_PASS_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'USER', 'LOGNAME', 'TMPDIR', 'DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_CONFIG'] as const;

/** Builds the schema of `deployers.<name>` with `type: hook` (a new one per call; the plug-in definition builds its own on first use). */
export const hookSchema = () => z
  .strictObject({
    command: z
      .union([z.array(z.string().check(z.minLength(1))).check(z.minLength(1)), z.string().check(z.minLength(1))])
      .check(z.describe('The program and its arguments as a list, run without a shell: `["docker", "compose", "exec", "-T", "web", "apache2ctl", "graceful"]`. With `shell: true`, one string run by `/bin/sh -c` (pipes, `&&`, `$RENEWED_LINEAGE`), e.g. a certbot `--deploy-hook` unchanged.')),
    shell: z._default(z.boolean(), false).check(z.describe('Run `command` (then one string) with `/bin/sh -c`.')),
    timeoutSeconds: z
      ._default(z.number().check(z.positive(), z.lte(86_400)), 120)
      .check(z.describe('Longest run; past it the hook\'s whole process group gets SIGTERM, then SIGKILL 5 s later, and the deploy fails.')),
    cwd: z.optional(z.string().check(z.minLength(1))).check(z.describe('Working directory of the hook (relative to the config file); default the config file\'s directory.')),
    env: z
      ._default(z.record(envName, z.string()), {})
      .check(z.describe('Extra environment variables for the hook, e.g. `{ COMPOSE_PROJECT_NAME: dev }`. Besides these it gets CERTPILOT_NAME, CERTPILOT_DOMAINS, CERTPILOT_LIVE_DIR, CERTPILOT_VERSION, certbot\'s RENEWED_LINEAGE and RENEWED_DOMAINS, and the `passEnv` variables.')),
    passEnv: z
      ._default(z.array(envName), [...DEFAULT_PASS_ENV])
      .check(z.describe('Variables of certpilot\'s own environment passed on to the hook; nothing else is (no secrets).')),
  })
  .check(z.superRefine((o, ctx) => {
    if (o.shell && typeof o.command !== 'string') {
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'with `shell: true` the command is one string for /bin/sh -c' });
    }
    if (!o.shell && typeof o.command === 'string') {
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'must be a list like ["apache2ctl", "graceful"]; set `shell: true` to run one string with /bin/sh -c' });
    }
  }));

/** The parsed options. */
export type HookOptions = z.output<ReturnType<typeof hookSchema>>;
