/**
 * The `certpilot` library entry (package `exports` "."): the version, the error types every
 * certpilot failure is (with the catalog of stable codes, docs/errors.md), and the http-01
 * responder of `certpilot/responder`. The CLI is the `certpilot` bin; this is for code that embeds
 * the responder or branches on certpilot's error codes. Bundled into `dist/bundle/lib/index.mjs`.
 */
export { VERSION } from './version.js';
export { CertpilotError, ConfigError, ERROR_CATALOG } from './errors.js';
export type { CertpilotErrorOptions, ConfigIssue, ErrorCode } from './errors.js';
export * from './responder.js';
