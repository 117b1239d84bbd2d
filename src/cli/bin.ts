#!/usr/bin/env node
/**
 * The `certpilot` executable: runs the CLI with the process's arguments and environment. SIGINT or
 * SIGTERM (what Kubernetes sends a Job's pod) aborts the work in progress: challenges are cleaned
 * up and locks released before the exit; a second signal exits at once.
 */
import { CertpilotError } from '../errors.js';
import { EXIT, main } from './main.js';

const controller = new AbortController();
for (const name of ['SIGINT', 'SIGTERM'] as const) {
  process.on(name, () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort(new CertpilotError('ERR_INTERRUPTED', `cli: interrupted by ${name}`));
  });
}

void main(process.argv.slice(2), process.env, undefined, controller.signal).then((code) => {
  process.exitCode = code;
});
