#!/usr/bin/env node
/**
 * The `certpilot` executable: runs the CLI with the process's arguments and environment. SIGINT or
 * SIGTERM (what Kubernetes sends a Job's pod) aborts the work in progress: challenges are cleaned
 * up and locks released before the exit; a second signal exits at once.
 *
 * `certpilot --version` alone is answered here, before the CLI (argument table, help, errors) is
 * even loaded: it is what scripts and health checks run most, and it should cost no more than
 * Node's own start (issue 17: within 1.1× of `node -e 0`). Everything else imports ./main.js.
 */
import { setMaxListeners } from 'node:events';
import { VERSION } from '../version.js';

const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === '--version') {
  process.stdout.write(`${VERSION}\n`);
} else {
  const [{ CertpilotError }, { EXIT, main }] = await Promise.all([import('../errors.js'), import('./main.js')]);
  const controller = new AbortController();
  // Every request, poll and sleep of every certificate renewed at once listens on this one signal
  // (each removes its listener when it ends): more than ten at once is the design, not a leak, so
  // Node's MaxListenersExceededWarning (which --concurrency 11 would print) is turned off for it.
  setMaxListeners(0, controller.signal);
  for (const name of ['SIGINT', 'SIGTERM'] as const) {
    process.on(name, () => {
      if (controller.signal.aborted) process.exit(EXIT.interrupted);
      controller.abort(new CertpilotError('ERR_INTERRUPTED', `cli: interrupted by ${name}`));
    });
  }
  process.exitCode = await main(argv, process.env, undefined, controller.signal);
}
