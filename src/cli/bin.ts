#!/usr/bin/env node
/** The `certpilot` executable: runs the CLI with the process's arguments and environment. */
import { main } from './main.js';

void main(process.argv.slice(2), process.env).then((code) => {
  process.exitCode = code;
});
