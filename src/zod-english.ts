/**
 * Gives zod/mini zod's English messages. certpilot uses zod's tree-shakable functional API
 * (`zod/mini`): classic `zod` puts ~50 methods on every schema and loads ~290 KB of code, which
 * cost every command that reads a configuration ~0.07 s of CPU and ~7 MiB (bench/findings.md).
 * Classic sets English on first use; mini sets no locale, so every message would be a bare
 * "Invalid input". Every module that imports zod/mini imports this one for its effect (a test
 * holds to it), so no parse runs before it.
 *
 * It imports zod's core and the English locale directly: through `zod/mini`'s index (or a module
 * re-exporting it) esbuild would keep all of zod/mini, JSON Schema generator included, in the chunk
 * every command loads.
 */
import { config } from 'zod/v4/core';
import en from 'zod/v4/locales/en.js';

config(en());
