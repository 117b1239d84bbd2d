#!/usr/bin/env node
/**
 * The `certpilot` executable: runs the CLI with the process's arguments and environment. SIGINT or
 * SIGTERM (what Kubernetes sends a Job's pod) aborts the work in progress: challenges are cleaned
 * up and locks released before the exit; a second signal exits at once.
 */
import { setMaxListeners } from 'node:events';
import { CertpilotError } from '../errors.js';
import { EXIT, main } from './main.js';

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

void main(process.argv.slice(2), process.env, undefined, controller.signal).then((code) => {
  process.exitCode = code;
});
