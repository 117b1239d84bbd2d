/**
 * The one error type of certpilot, its stable codes, and the catalog that `docs/errors.md` is
 * generated from (a test keeps the two in step, like fastify's `lib/errors.js`).
 *
 * A message reads `<component>: <what failed>: <why>`; the hint is one actionable sentence. Never put
 * a secret (private key, TSIG secret, AWS key, EAB HMAC key) in a message, hint or cause.
 */

/** Every error code, with what happened and how to fix it. Codes are `ERR_<AREA>_<PROBLEM>`. */
export const ERROR_CATALOG = {
  // config
  ERR_CONFIG_INVALID: {
    title: 'The configuration has one or more problems',
    hint: 'Fix each field listed above, then run `certpilot config check`.',
  },
  ERR_CONFIG_NOT_FOUND: {
    title: 'The configuration file does not exist or cannot be read',
    hint: 'Pass an existing file with --config, or set CERTPILOT_CONFIG.',
  },
  ERR_CONFIG_PARSE: {
    title: 'The configuration file is not valid YAML',
    hint: 'Fix the YAML syntax at the line and column shown.',
  },
  ERR_CLI_USAGE: {
    title: 'The command line is not valid',
    hint: 'Run `certpilot --help` or `certpilot <command> --help`.',
  },
  ERR_CERT_UNKNOWN: {
    title: 'No certificate with that name is configured or stored',
    hint: 'Run `certpilot status` to see the names certpilot knows.',
  },

  // acme protocol
  ERR_ACME_NETWORK: {
    title: 'The ACME server could not be reached',
    hint: 'Check acme.directoryUrl, DNS and the network; for a private CA set acme.caBundle.',
  },
  ERR_ACME_BAD_RESPONSE: {
    title: 'The ACME server sent an answer that does not follow RFC 8555',
    hint: 'Check that acme.directoryUrl points at an ACME directory; run again with --verbose for details.',
  },
  ERR_ACME_PROBLEM: {
    title: 'The ACME server refused the request with a problem document',
    hint: 'Read the problem detail; run again with --verbose to see the request.',
  },
  ERR_ACME_RATE_LIMITED: {
    title: 'The ACME server rate-limited or asked us to come back later',
    hint: 'Nothing to do: certpilot saved the time it may try again and will not ask before then.',
  },
  ERR_ACME_BAD_NONCE: {
    title: 'The ACME server rejected our nonces too many times in a row',
    hint: 'Check that no proxy caches or rewrites the ACME responses.',
  },
  ERR_ACME_TIMEOUT: {
    title: 'An order or authorization did not reach a final state in time',
    hint: 'Raise acme.pollTimeoutSeconds, or check the CA status page.',
  },
  ERR_ACME_ACCOUNT_NOT_FOUND: {
    title: 'The ACME account for this key does not exist on the server',
    hint: 'Run `certpilot account create`, or let `certpilot issue` create one.',
  },
  ERR_ACME_ACCOUNT_DEACTIVATED: {
    title: 'The ACME account has been deactivated',
    hint: 'Move the old account key aside and create a new account.',
  },
  ERR_ACME_EAB_REQUIRED: {
    title: 'The CA requires external account binding',
    hint: 'Set acme.eab.kid and acme.eab.hmacKeyFile (or CERTPILOT_EAB_HMAC_KEY_FILE) from your CA account page.',
  },
  ERR_ACME_PROFILE_UNKNOWN: {
    title: 'The requested certificate profile is not offered by the CA',
    hint: 'Pick one of the profiles listed in the message, or remove the profile setting.',
  },
  ERR_ACME_AUTHORIZATION_FAILED: {
    title: 'The CA could not validate control of a name',
    hint: 'Read the validation error per name; check DNS, firewalls and the challenge type.',
  },
  ERR_ACME_ORDER_FAILED: {
    title: 'The order became invalid',
    hint: 'Read the order error; run again with --verbose to see each step.',
  },
  ERR_ACME_NO_CHAIN: {
    title: 'No certificate chain matches the preferred issuer',
    hint: 'Check acme.preferredChain against the issuer names listed in the message, or remove it.',
  },
  ERR_ACME_ARI_UNSUPPORTED: {
    title: 'The CA does not offer ACME Renewal Information',
    hint: 'Nothing to do: certpilot falls back to the lifetime rule.',
  },

  // challenges
  ERR_CHALLENGE_UNSUPPORTED: {
    title: 'No configured challenge solver can answer the challenges the CA offers',
    hint: 'Configure a solver for one of the challenge types listed in the message.',
  },
  ERR_CHALLENGE_LISTEN: {
    title: 'The standalone http-01 solver could not listen on its port',
    hint: 'Free the port, run as a user that may bind it, or use the webroot solver.',
  },
  ERR_CHALLENGE_SELF_CHECK: {
    title: 'A self-check URL did not serve the http-01 token before the CA was asked',
    hint: 'Fetch the URL named in the message: route /.well-known/acme-challenge/ on every pod to a responder reading the same store.',
  },
  ERR_TOKEN_STORE_UNAVAILABLE: {
    title: 'The http-01 token store (Redis) could not be reached or failed a command',
    hint: 'Check that Redis runs and that the solver\'s url (host, port, TLS) is right; the responder answers 503 until it is back.',
  },
  ERR_TOKEN_STORE_AUTH: {
    title: 'The http-01 token store refused the credentials, or the password file cannot be read',
    hint: 'Check the solver\'s username and passwordFile (the file must be readable and hold only the password).',
  },
  ERR_CHALLENGE_WEBROOT: {
    title: 'The webroot solver could not write the challenge file',
    hint: 'Check the webroot solver\'s `path` and that certpilot may write under it.',
  },

  // storage
  ERR_STORAGE_IO: {
    title: 'The state directory could not be read or written',
    hint: 'Check that the state directory exists on a persistent volume and certpilot may write it.',
  },
  ERR_STORAGE_CORRUPT: {
    title: 'A stored file could not be parsed',
    hint: 'Restore the state directory from backup, or remove the named file and run `certpilot renew --force`.',
  },
  ERR_STORAGE_NAME: {
    title: 'A certificate or account name is not safe as a file name',
    hint: 'Use letters, digits, dots, dashes and underscores only.',
  },

  // coordination
  ERR_LOCK_HELD: {
    title: 'Another certpilot process is renewing this certificate',
    hint: 'Nothing to do: the other run will finish it; run status later.',
  },

  // renewal
  ERR_RENEWAL_BACKOFF: {
    title: 'The certificate is in failure backoff',
    hint: 'Wait for the time shown, or use --force after fixing the cause.',
  },

  // deploy
  ERR_DEPLOY_FAILED: {
    title: 'A deployer failed; the certificate is saved, later deployers did not run',
    hint: 'Fix the cause named in the message, then run `certpilot deploy NAME` (or wait: the next `renew` retries the deploy without a new order).',
  },

  ERR_DEPLOY_NO_CERTIFICATE: {
    title: 'There is no stored certificate to deploy',
    hint: 'Run `certpilot issue` first; deploy only delivers a certificate already saved.',
  },

  // crypto
  ERR_KEY_INVALID: {
    title: 'A private key could not be parsed or has an unsupported type',
    hint: 'Use an ECDSA P-256/P-384 or RSA 2048/3072/4096 key in PEM form.',
  },
  ERR_INTERRUPTED: {
    title: 'certpilot was stopped by a signal (SIGINT or SIGTERM) in the middle of its work',
    hint: 'Nothing to do: challenges were cleaned up, locks released and the previous certificates stay live; run it again.',
  },
  ERR_INTERNAL: {
    title: 'An unexpected internal error',
    hint: 'Run again with --verbose and report the stack trace.',
  },
} as const satisfies Record<string, { title: string; hint: string }>;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CATALOG;

/** Options every certpilot error takes. */
export interface CertpilotErrorOptions {
  /** One actionable sentence; defaults to the catalog hint of the code. */
  hint?: string;
  /** The underlying error; kept for `--verbose`, never shown with secrets. */
  cause?: unknown;
  /** Whether running the same step again later can succeed. */
  retryable?: boolean;
}

/** The base error: a code, a message `<component>: <what failed>: <why>`, a hint and a cause. */
export class CertpilotError extends Error {
  /** Stable code from {@link ERROR_CATALOG}. */
  readonly code: ErrorCode;
  /** One actionable sentence. */
  readonly hint: string;
  /** Whether trying again later may succeed. */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: CertpilotErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint ?? ERROR_CATALOG[code].hint;
    this.retryable = options.retryable ?? false;
  }
}

/** One problem found in the configuration: the field path and what to do. */
export interface ConfigIssue {
  /** Dotted path of the field, e.g. `certificates[0].domains`. */
  path: string;
  /** What is wrong and how to fix it. */
  message: string;
}

/** The configuration is invalid; lists every problem found at once. */
export class ConfigError extends CertpilotError {
  /** Every problem, in file order. */
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options: CertpilotErrorOptions & { code?: ErrorCode; source?: string } = {}) {
    const where = options.source ? ` in ${options.source}` : '';
    const list = issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n');
    super(options.code ?? 'ERR_CONFIG_INVALID', `config: ${issues.length} problem(s)${where}:\n${list}`, options);
    this.issues = issues;
  }
}

/** Renders `docs/errors.md` from {@link ERROR_CATALOG}; a test keeps the file equal to it. */
export function renderErrorCatalog(): string {
  const lines = [
    '# Error catalog',
    '',
    '<!-- Generated from src/errors.ts by `npm run docs`; do not edit by hand. -->',
    '',
    'Every error certpilot prints starts with `error <CODE>: <component>: <what failed>: <why>` and is',
    'followed by a `hint:` line. `--verbose` adds the stack trace and the underlying causes. Exit codes:',
    '0 done, 1 failed, 2 usage or configuration error, 75 try again later (rate limit, Retry-After,',
    'backoff, another run holds the lock), 130 stopped by SIGINT or SIGTERM.',
    '',
    '| Code | What happened | What to do |',
    '| --- | --- | --- |',
  ];
  for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
    lines.push(`| \`${code}\` | ${entry.title}. | ${entry.hint.replace(/\|/g, '\\|')} |`);
  }
  return `${lines.join('\n')}\n`;
}
