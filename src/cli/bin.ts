#!/usr/bin/env node
/**
 * The `certpilot` executable: runs the CLI with the process's arguments and environment. SIGINT or
 * SIGTERM (what Kubernetes sends a Job's pod) aborts the work in progress: challenges are cleaned
 * up and locks released before the exit; a second signal exits at once.
 *
 * `certpilot --version` alone is answered here, before the CLI (argument table, help, errors) is
 * even loaded: it is what scripts and health checks run most, and it should cost no more than
 * Node's own start (issue 17: within 1.1× of `node -e 0`). Everything else imports ./main.js. In
 * the bundle, this file is `cli.mjs` behind a CommonJS launcher `certpilot.js` that answers
 * `--version` itself (scripts/bundle.mjs: a CommonJS main starts without Node's ESM loader).
 */

/** The version, built into the bundle by scripts/bundle.mjs (esbuild `define`); undefined in the tsc output. */
declare const __CERTPILOT_VERSION__: string | undefined;

/** When the optimizing compiler is turned back on (see below). */
const OPTIMIZING_COMPILER_AFTER_MS = 1000;

/**
 * Node's own modules a command loads, loaded before the V8 flags below are set. Node compiles its
 * built-in modules from a code cache built into the binary, and V8 takes a code cache only under
 * the flags it was made with: once any flag differs, every built-in module loaded after is
 * compiled from source, about twice the time (bench/findings.md, item 30). Every command reads a
 * configuration and logs (crypto, fs, util, stream; module for the bundled CommonJS libraries;
 * pino: os, diagnostics_channel, assert, worker_threads); those that talk to a CA or an API over
 * TLS load https (with http, tls, net and the streams) and dns; those that listen (`serve`, the
 * daemon's metrics page, `issue`'s own http-01 responder unless a solver is configured) load
 * cluster, which Node's `listen` requires (with child_process and dgram). prom-client's
 * perf_hooks and zlib (`serve`, the daemon's /metrics) are left out: preloaded, they cost `serve`
 * 0.6 MiB for no instruction count callgrind could tell apart. A module listed here that a run
 * does not use costs its cached compile only; `renew` is not a TLS command for
 * that reason: its usual run (nothing due) loads no TLS client, and preloading one cost it 1.4 MiB
 * of peak RSS.
 *
 * They are loaded with `import()`, not `require`: the CLI's ES modules import them, and Node's ES
 * module face of a built-in module reads every export once, which runs the module's lazy getters
 * (`crypto.webcrypto`, `fs.ReadStream`, `net.BlockList`, `util.parseArgs`…) and so loads the
 * internal modules behind them; made here, that happens under the cache too (item 31).
 */
const BUILTINS = ['crypto', 'fs', 'fs/promises', 'os', 'util', 'stream', 'events', 'module', 'diagnostics_channel', 'assert', 'worker_threads'];
const TLS_BUILTINS = ['https', 'http', 'tls', 'net', 'dns'];
const LISTENER_BUILTINS = ['cluster'];
const TLS_COMMANDS = new Set(['issue', 'revoke', 'account', 'daemon', 'deploy', 'serve', 'kubernetes', 'route53', 'dns-persist', 'state', 'import']);
const LISTENER_COMMANDS = new Set(['daemon', 'serve', 'issue']);

const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === '--version') {
  // The bundle answers from the entry file alone (no other file read, parsed or linked: each costs
  // as much as a third of the gap to `node -e 0`); the tsc output reads version.ts, which a test
  // keeps equal to package.json, as the bundle's constant is.
  process.stdout.write(`${typeof __CERTPILOT_VERSION__ === 'string' ? __CERTPILOT_VERSION__ : (await import('../version.js')).VERSION}\n`);
} else {
  const command = argv[0] ?? '';
  const preload = [
    ...BUILTINS,
    ...(TLS_COMMANDS.has(command) ? TLS_BUILTINS : []),
    ...(LISTENER_COMMANDS.has(command) ? LISTENER_BUILTINS : []),
  ];
  await Promise.all(preload.map((name) => import(`node:${name}`)));
  // The first read of `import.meta` in any module loads Node's module that builds it; the bundle's
  // chunks read it (createRequire for the CommonJS libraries), so read it once here.
  void import.meta.url;
  // Then the V8 flags, so that loading the CLI runs under them too.
  const { setFlagsFromString } = await import('node:v8');
  // The young generation stays at its first size instead of doubling to 16 MiB per semi-space:
  // most of a run's peak RSS was that growth (`status` of 1000 certificates 103 → 78 MiB, renew
  // 98 → 69 MiB, CPU unchanged within noise; bench/findings.md). A node flag would need
  // `node --max-semi-space-size` at every start, which a `#!/usr/bin/env node` line cannot pass;
  // this flag is read each time V8 would grow the space, so setting it now takes effect
  // (bundle-startup.test.ts checks that on the running Node).
  setFlagsFromString('--semi-space-growth-factor=1');
  // No optimizing compiler (TurboFan) in the first second: a one-shot command is over before code
  // it optimizes pays back, and the compiling cost a third of the CPU of a nothing-due `renew` or
  // `status` of 1000 certificates and ~5–9 MiB of peak RSS (bench/findings.md, item 29). Longer
  // runs (an issue of many, the daemon, `serve`) get it back after that second: an issue of 300
  // was ~8 % slower without it for its whole run. Read by V8 at each tier-up decision, so setting
  // it at run time takes effect (bundle-startup.test.ts checks that on the running Node).
  setFlagsFromString('--no-opt');
  // An `issue` of the configured certificates (not `-d`'s one) keeps many orders in flight, each
  // holding its responses, keys and files across several scavenges: what survives is promoted,
  // and V8 let the old generation grow to ~30 MiB before its first full collection (peak RSS of
  // an issue of 1000: 94–110 MiB in twelve runs). V8's memory-saving mode in the first second,
  // when it sets that first limit, brought it to 78–81 MiB in seven runs, CPU the same within the
  // noise (bench/findings.md, item 32); set at 0.25 s it worked in one run of two, at 1 s in
  // none. Off again with the optimizing compiler's return: kept on, the run's CPU grew. Not for
  // `-d` (one certificate: +0.02 s of CPU for 0.3 MiB), nor `renew` and `status`, which cannot know
  // at start whether they will issue (a nothing-due `status` of 1000 with it: +0.1 s, +1.8 MiB).
  const memorySaving = command === 'issue' && !argv.some((a) => a === '-d' || a === '--domain' || a.startsWith('--domain=') || /^-d./.test(a));
  if (memorySaving) setFlagsFromString('--optimize-for-size');
  setTimeout(() => {
    setFlagsFromString('--opt');
    if (memorySaving) setFlagsFromString('--no-optimize-for-size');
  }, OPTIMIZING_COMPILER_AFTER_MS).unref();
  const [{ EventEmitter }, { CertpilotError }, { EXIT, main }] = await Promise.all([import('node:events'), import('../errors.js'), import('./main.js')]);
  // A reader that went away (`certpilot status | head`, a closed log pipe) ends the output, not the
  // run: renewals in progress finish and the exit code still says how they went. Without this,
  // Node raises the EPIPE as an unhandled 'error' event and the run dies mid-way with a stack
  // trace; after it, writes to the closed stream are dropped (it is destroyed).
  const onOutputError = (err: NodeJS.ErrnoException): void => {
    if (err.code !== 'EPIPE') throw err;
  };
  process.stdout.on('error', onOutputError);
  process.stderr.on('error', onOutputError);
  const controller = new AbortController();
  // Every request, poll and sleep of every certificate renewed at once listens on this one signal
  // (each removes its listener when it ends): more than ten at once is the design, not a leak, so
  // Node's MaxListenersExceededWarning (which --concurrency 11 would print) is turned off for it.
  EventEmitter.setMaxListeners(0, controller.signal);
  for (const name of ['SIGINT', 'SIGTERM'] as const) {
    process.on(name, () => {
      if (controller.signal.aborted) process.exit(EXIT.interrupted);
      controller.abort(new CertpilotError('ERR_INTERRUPTED', `cli: interrupted by ${name}`));
    });
  }
  // The AWS SDK prints a 9-line NodeVersionSupportWarning on every Route 53 run under Node 20
  // (later SDK releases will need Node 22): the shipped SDK version runs on Node 20, so that is the
  // maintainers' to act on (docs/design-notes.md), not every cron mail's. The SDK's own switch.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const code = await main(argv, process.env, undefined, controller.signal);
  process.exitCode = code;
  // The command is over. A request a timeout gave up on (an API server that accepts and never
  // answers) may still hold a socket, and with it the process, past its result: a cron run or a
  // CronJob pod would never end. Whatever still runs after a moment for the logs to drain is cut.
  setTimeout(() => process.exit(code), 1000).unref();
}
