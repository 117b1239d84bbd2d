/**
 * The one error type of certpilot, its stable codes, and the catalog that `docs/errors.md` is
 * generated from (a test keeps the two in step, like fastify's `lib/errors.js`).
 *
 * A message reads `<component>: <what failed>: <why>`; the hint is one actionable sentence. Never put
 * a secret (private key, TSIG secret, AWS key, EAB HMAC key) in a message, hint or cause.
 */

/**
 * Every error code, with what happened and how to fix it. Codes are `ERR_<AREA>_<PROBLEM>`.
 * `local: true` marks a failure that is ours to fix (documentation only: whether a failure holds
 * the next run back is decided by the CA's cost alone, in `renewal/failure-cost.ts`).
 */
export const ERROR_CATALOG = {
  // config
  ERR_CONFIG_INVALID: {
    title: 'The configuration has one or more problems',
    hint: 'Fix each field listed above, then run `certpilot config check`.',
    local: true,
  },
  ERR_CONFIG_NOT_FOUND: {
    title: 'The configuration file does not exist or cannot be read',
    hint: 'Pass an existing file with --config, or set CERTPILOT_CONFIG.',
    local: true,
  },
  ERR_CONFIG_PARSE: {
    title: 'The configuration file is not valid YAML',
    hint: 'Fix the YAML syntax at the line and column shown.',
    local: true,
  },
  ERR_CLI_USAGE: {
    title: 'The command line is not valid',
    hint: 'Run `certpilot --help` or `certpilot <command> --help`.',
    local: true,
  },
  ERR_CERT_UNKNOWN: {
    title: 'No certificate with that name is configured or stored',
    hint: 'Run `certpilot status` to see the names certpilot knows.',
    local: true,
  },
  ERR_ONE_OFF_INVALID: {
    title: 'The record of a one-off certificate (`issue -d`) that `renew` keeps renewing cannot be used',
    hint: 'Fix the field named in the record (`oneOff` in `<stateDir>/renewal-state/<name>.json`, or with state in Secrets in the data entry `renewal-state.state.json` of the Secret `<prefix>-cert-<name>`), or run the `certpilot issue -d … --name <name>` line again to write it anew, or `certpilot forget <name>` to stop renewing it; that certificate fails alone and its live files stay.',
    local: true,
  },

  // acme protocol
  ERR_ACME_NETWORK: {
    title: 'The ACME server could not be reached',
    hint: 'Check acme.directoryUrl, DNS and the network; for a private CA set acme.caBundle.',
  },
  ERR_ACME_NO_ANSWER: {
    title: 'The ACME server accepted the connection and did not answer within acme.requestTimeoutSeconds; the rest of the run did not ask it again',
    hint: 'The CA is down or overloaded (see its status page), or something between holds the connection (a proxy, a firewall): try again later (exit code 75); certificates already issued stay live and deployed. A slow CA may need a longer acme.requestTimeoutSeconds.',
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
    hint: 'The CA no longer knows the stored account (a test CA restarted, a staging reset): run `certpilot account create`, which asks the CA and registers the same key again (with acme.eab set when the CA requires external account binding), then run again.',
  },
  ERR_ACME_ACCOUNT_DEACTIVATED: {
    title: 'The ACME account has been deactivated',
    hint: 'The CA refuses a deactivated account for good. Run `certpilot account create`: it registers a new account with a new key (the old URL is kept in the record); then update CAA accounturi and dns-persist-01 records that name the old account.',
  },
  ERR_ACME_EAB_REQUIRED: {
    title: 'The CA requires external account binding',
    hint: 'Set acme.eab.kid and acme.eab.hmacKeyFile (or CERTPILOT_EAB_HMAC_KEY_FILE) from your CA account page.',
    local: true,
  },
  ERR_ACME_PROFILE_UNKNOWN: {
    title: 'The requested certificate profile is not offered by the CA',
    hint: 'Pick one of the profiles listed in the message, or remove the profile setting.',
    local: true,
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
    local: true,
  },
  ERR_CHALLENGE_LISTEN: {
    title: 'A standalone solver (http-01 `standalone`, tls-alpn-01 `tls-alpn`) could not listen on its port',
    hint: 'Free the port named in the message (stop the server there for the renewal), run as a user that may bind it, or set the solver\'s port and forward the CA\'s port to it.',
    local: true,
  },
  ERR_CHALLENGE_SELF_CHECK: {
    title: 'A self-check URL did not serve the http-01 token before the CA was asked',
    hint: 'Fetch the URL named in the message: route /.well-known/acme-challenge/ on every pod to a responder reading the same store.',
  },
  ERR_TOKEN_STORE_UNAVAILABLE: {
    title: 'The http-01 token store (Redis) could not be reached or failed a command',
    hint: 'Check that Redis runs and that the solver\'s url (host, port, TLS) is right; the responder answers 503 until it is back.',
  },
  ERR_TOKEN_STORE_VALUE: {
    title: 'The http-01 token store holds something at a token\'s key that is not a value certpilot wrote (a Redis hash or list: WRONGTYPE)',
    hint: 'Another application writes under the solver\'s key prefix: give certpilot a prefix of its own (`keyPrefix`) or remove the key named in the message; the responder answers 404 for it meanwhile.',
  },
  ERR_TOKEN_STORE_AUTH: {
    title: 'The http-01 token store refused the credentials, or the password file cannot be read',
    hint: 'Check the solver\'s username and passwordFile (the file must be readable and hold only the password).',
  },
  ERR_CHALLENGE_WEBROOT: {
    title: 'The webroot solver could not write the challenge file',
    hint: 'Check the webroot solver\'s `path` and that certpilot may write under it.',
    local: true,
  },

  ERR_DNS_NETWORK: {
    title: 'A DNS server did not answer',
    hint: 'Check the address and port of the DNS server named in the message (for rfc2136, the solver\'s `server` and `port`) and that UDP and TCP to that port are open to it.',
  },
  ERR_DNS_ZONE_NOT_FOUND: {
    title: 'No DNS zone holds the challenge record name (`_acme-challenge`, `_validation-persist`)',
    hint: "Check the solver's `resolvers` (they must answer for the name's zone), or set its zone (rfc2136) or hostedZoneId (route53).",
  },
  ERR_DNS_TSIG_REJECTED: {
    title: 'The DNS server rejected the TSIG key (BADKEY, BADSIG, BADTIME) or its answer was not signed',
    hint: 'Check keyName, algorithm and secret against the key on the DNS server, and the clocks.',
  },
  ERR_DNS_UPDATE_REFUSED: {
    title: 'The DNS server refused the update (REFUSED, NOTAUTH, NOTZONE, SERVFAIL)',
    hint: 'Allow the key to change TXT records of the `_acme-challenge` names in the zone update policy.',
  },
  ERR_DNS_PROPAGATION_TIMEOUT: {
    title: 'Not every authoritative nameserver served the TXT value in time',
    hint: 'Raise propagationTimeoutSeconds, or check zone transfers (NOTIFY) to the secondaries named in the message.',
  },
  ERR_DNS_PERSIST_RECORD: {
    title: 'No record at `_validation-persist.<name>` proves the name for this account and CA: missing, naming another issuer or account, in the old -01 form, without `policy=wildcard` for a wildcard, or past its `persistUntil`',
    hint: 'Publish the record `certpilot dns-persist record <name>` prints (add --apply --solver <a DNS solver> to write it once), replacing the one named in the message.',
    local: true,
  },
  ERR_DNS_PERSIST_UNSUPPORTED: {
    title: 'The CA names no issuer domain names for dns-persist-01 (directory `meta.issuerDomainNames` or `caaIdentities`)',
    hint: 'Check that the CA offers dns-persist-01: one that does names its issuer domain in its directory. Give --issuer only for a CA that documents its name elsewhere; a record for a CA without dns-persist-01 is never used. No account was registered.',
    local: true,
  },
  ERR_DNS_SECRET: {
    title: 'The secret file of a DNS solver could not be read',
    hint: 'Check that secretFile exists and is readable by certpilot.',
  },
  ERR_ROUTE53_ACCESS_DENIED: {
    title: 'Route 53 denied a call: the credentials lack a permission',
    hint: 'Add the permission named in the message; `certpilot route53 policy` prints the least-privilege policy.',
  },
  ERR_ROUTE53_API: {
    title: 'A Route 53 call failed',
    hint: 'Read the Route 53 error in the message; run again with --verbose for the request.',
  },

  // storage
  ERR_STORAGE_IO: {
    title: 'The state directory could not be read or written',
    hint: 'Check that the state directory exists on a persistent volume and certpilot may write it.',
    local: true,
  },
  ERR_STORAGE_FULL: {
    title: 'The state directory\'s volume is full (checked before each order: then no order was placed)',
    hint: 'Free space on the state directory\'s volume (or grow it), then run again; the live certificate is untouched and nothing half-written stays.',
    local: true,
  },
  ERR_STORAGE_CORRUPT: {
    title: 'A stored file could not be parsed',
    hint: 'Restore the named file (or the state) from a backup. A damaged live version of a certificate: move its `live/<name>` link out of the state directory and run `certpilot renew --force -n <name>` for a new version; archive/ keeps the older ones.',
    local: true,
  },
  ERR_STORAGE_MISSING: {
    title: 'The state directory does not exist (`status` on a machine where nothing ran, or a mistyped --state-dir)',
    hint: 'Check --state-dir (or stateDir in the configuration); a first `certpilot issue` creates it.',
    local: true,
  },
  ERR_STORAGE_CONFLICT: {
    title: 'A stored entry changed between the read and the write (another run wrote it); nothing was written',
    hint: 'Run again: the next run reads the new state. If it keeps happening, make sure only one certpilot writes this state at a time (a lock shared by every run).',
    local: true,
  },
  ERR_STORAGE_NAME: {
    title: 'A certificate or account name is not safe as a file name',
    hint: 'Use letters, digits, dots, dashes and underscores only.',
    local: true,
  },

  // notify and observe
  ERR_NOTIFY_FAILED: {
    title: 'A notifier could not deliver a lifecycle event (the renewal itself is not affected)',
    hint: 'Check the notifier\'s url or SMTP server named in the message, its credentials file and its TLS trust (caFile); the event is logged either way.',
  },
  ERR_NOTIFY_SECRET: {
    title: 'A notifier\'s secret file (webhook URL or signing key, SMTP password) could not be read, is empty or does not hold what it should',
    hint: 'Create the file named in the message, readable by certpilot only (chmod 600), holding the secret on one line (for `urlFile`, the whole https:// URL).',
    local: true,
  },
  ERR_METRICS_WRITE: {
    title: 'The metrics file (--metrics-file) could not be written; the command exits 1 even when its renewals succeeded, so monitoring does not go stale unnoticed',
    hint: 'Point --metrics-file at a file in a directory certpilot may write, e.g. node_exporter\'s textfile directory (/var/lib/prometheus/node-exporter); the message names the cause (a missing directory, a full disk, permissions) and the hint its fix.',
    local: true,
  },
  ERR_STATUS_PAGE_WRITE: {
    title: 'The status page (status --html FILE) could not be written',
    hint: 'Point --html at a file in a directory certpilot may write (your web server\'s document root, for instance).',
    local: true,
  },

  // import (certpilot import certbot | files)
  ERR_IMPORT_SOURCE: {
    title: 'The directory to import is not certbot\'s configuration directory, or a file of it cannot be read',
    hint: 'Give certbot\'s configuration directory with --config-dir (default /etc/letsencrypt), or for `import files` the directory holding cert.pem, chain.pem, fullchain.pem and privkey.pem.',
    local: true,
  },
  ERR_IMPORT_INVALID: {
    title: 'A lineage or certificate set is broken or unsafe to read (a broken live/ link, a link pointing outside its own archive/, a symbolic link or a directory another user may write inside, a key that does not match its certificate, a chain that does not parse); nothing of it was imported',
    hint: 'Repair or remove the named lineage in certbot\'s directory (`certbot certificates` shows it), then import again: the others are imported already.',
    local: true,
  },
  ERR_IMPORT_CONFLICT: {
    title: 'certpilot\'s state already holds a different certificate or account under that name; it was not overwritten (a certificate for the same names, e.g. one both certbot and certpilot renewed since the import, stays in the printed configuration)',
    hint: 'When both certbot and certpilot renewed it, stop certbot\'s renewals (its timer or cron line): certpilot\'s is kept. Otherwise import into another --state-dir, or move the named certificate (or account) out of certpilot\'s state first.',
    local: true,
  },
  ERR_IMPORT_SEVERAL_CAS: {
    title: 'certbot\'s lineages were issued by more than one CA (their renewal confs name different `server =` URLs), and a certpilot configuration renews with one CA; nothing was imported',
    hint: 'Name the CA to renew with: import again with --directory URL (every lineage is then imported; one issued by another CA gets a new certificate from this one at its first renewal, and is named in a `not mapped` line).',
    local: true,
  },
  ERR_IMPORT_ACCOUNT_SKIPPED: {
    title: 'A certbot account was not imported: it is for a CA certpilot is not configured for, or another account of that CA was chosen',
    hint: 'To keep it, import again with --directory set to its CA (certpilot keeps one account per CA).',
    local: true,
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
  ERR_FS_SHARED_DIR: {
    title: 'A directory certpilot would write into, or read as root (certbot\'s directory for `import`), or one of its parents can be written by another user',
    hint: 'Make the directory and its parents owned by root (or certpilot\'s user) and not writable by others, or set the plug-in\'s allowSharedDir: true if you accept the risk (docs/security.md).',
    local: true,
  },
  ERR_DEPLOY_FILES: {
    title: 'The files deployer could not write the certificate files into its directory',
    hint: 'Check that the deployer\'s `dir` exists or can be created and that certpilot may write it (and chown, when owner/group are set).',
  },
  ERR_DEPLOY_OWNER_UNKNOWN: {
    title: 'The owner or group of a files deployer does not exist on this machine',
    hint: 'Use a name `getent passwd`/`getent group` knows, or the numeric id (in a container: the uid/gid the web server runs as).',
  },
  ERR_DEPLOY_HOOK_FAILED: {
    title: 'A deploy hook exited with a non-zero status, was killed by a signal, or could not be started',
    hint: 'Read the hook\'s last stderr lines in the message (all its output is in the log); run the command by hand with the CERTPILOT_* variables set.',
  },
  ERR_DEPLOY_HOOK_TIMEOUT: {
    title: 'A deploy hook ran longer than its timeoutSeconds and was killed with its whole process group',
    hint: 'Make the hook finish sooner (background long work with setsid), or raise its timeoutSeconds.',
  },
  ERR_DEPLOY_NO_PODS: {
    title: 'A pod group\'s label selector matches no pod',
    hint: 'Check the selector and namespace of the kubernetes-reload group (`kubectl get pods -l <selector>`).',
  },
  ERR_DEPLOY_SUBPATH_MOUNT: {
    title: 'A pod mounts the certificate Secret with subPath, which the kubelet never updates',
    hint: 'Mount the Secret volume as a directory (no subPath) and point the server at files in it, or use a rollout restart for that group.',
  },
  ERR_DEPLOY_NOT_MOUNTED: {
    title: 'A pod does not mount the certificate Secret (or not the key certpilot checks)',
    hint: 'Check secretName and key of the kubernetes-reload deployer against the pod\'s volumes and volumeMounts.',
  },
  ERR_DEPLOY_SECRET_STALE: {
    title: 'The Secret does not hold the certificate being deployed, so nothing was reloaded',
    hint: 'Put a kubernetes-secret deployer for the same Secret before kubernetes-reload in the certificate\'s deploy list.',
  },
  ERR_DEPLOY_PROPAGATION_TIMEOUT: {
    title: 'A pod did not see the new Secret within the propagation timeout',
    hint: 'Check the pod\'s volume mount and the kubelet (syncFrequency); raise propagationTimeoutSeconds if the cluster is slow. Nothing was reloaded in that pod.',
  },
  ERR_DEPLOY_RELOAD_FAILED: {
    title: 'The reload command failed in a pod; the rollout stopped',
    hint: 'Read the command\'s output in the message, fix the pod, then run `certpilot deploy` again; the report lists which pods serve which serial.',
  },
  ERR_DEPLOY_VERIFY_FAILED: {
    title: 'A pod does not serve the new certificate after its reload; the rollout stopped',
    hint: 'Check that the server reads the mounted Secret files and that port and SNI are right; the report lists which pods serve which serial.',
  },

  // scheduling
  ERR_CRON_CRONTAB: {
    title: 'The crontab could not be read or written with the `crontab` command',
    hint: 'Install cron (`apt-get install cron`), check that the user may use cron (/etc/cron.allow), and that -u is used only as root.',
  },
  ERR_CRON_USER_ACCESS: {
    title: 'The user of `cron install -u USER` cannot read the configuration or write the state directory or log its line needs',
    hint: 'Give the paths to the user (`chown -R USER STATE_DIR`, a log file it may append to), or install the line in the crontab of the user that owns them; `cron install --force` installs it anyway.',
    local: true,
  },
  ERR_DAEMON_NO_CERTIFICATES: {
    title: '`certpilot daemon` was started (or sent SIGHUP) with a configuration that lists no certificates, and no one-off certificate (`issue -d`) in its state',
    hint: 'List the certificates to keep renewed under `certificates:` in the configuration file (see docs/daemon.md), or issue one with `certpilot issue -d` into the same state; on SIGHUP the previous configuration stays in use (a daemon that renewed only one-offs, all now forgotten, renews nothing instead).',
  },

  // coordination
  ERR_LOCK_HELD: {
    title: 'Another certpilot process is renewing this certificate',
    hint: 'Nothing to do: the other run will finish it; run status later.',
  },
  ERR_LOCK_LIVE: {
    title: '`certpilot unlock` refused a lock whose holder is still renewing it (a run is at work under it)',
    hint: 'Let that run finish (`certpilot status --name NAME` shows the lock); if you know its holder is gone (a frozen process, a node cut off), `certpilot unlock NAME --force` breaks it.',
  },
  ERR_LOCK_CHANGED: {
    title: '`certpilot unlock` did not break the lock: it changed after it was read (renewed by its holder, released, or taken by a new run)',
    hint: 'Run `certpilot status --name NAME` to see who holds it now, and unlock again if it is still stale.',
  },
  ERR_LOCK_LOST: {
    title: 'A run lost its certificate\'s lock to another certpilot process (it expired and was taken over, or could not be renewed in time)',
    hint: 'Nothing to do: the run stopped before writing anything more and the new holder finishes the work; if it recurs, raise renewal.lockTtlSeconds or check the lock backend (the lock directory, or the Kubernetes API server for the lease locker).',
  },

  // renewal
  ERR_RENEWAL_BACKOFF: {
    title: 'The certificate is in failure backoff',
    hint: 'Wait for the time shown, or use --force after fixing the cause.',
  },

  // kubernetes
  ERR_KUBERNETES_CONFIG: {
    title: 'The kubeconfig or the in-cluster service account files could not be read',
    hint: 'Check the deployer\'s kubeconfig and context, or that the pod mounts its service account token (automountServiceAccountToken).',
  },
  ERR_KUBERNETES_API: {
    title: 'The Kubernetes API server answered with an error, or its certificate could not be verified',
    hint: 'Check that the API server is healthy and its CA is the one configured; the next run tries again.',
  },
  ERR_KUBERNETES_UNREACHABLE: {
    title: 'The Kubernetes API server could not be reached: connection refused or reset, name not resolved, or no answer within requestTimeoutSeconds (exit code 75: try again later)',
    hint: 'Check that the API server named in the message is up and reachable from here; nothing is lost: the daemon keeps running and retries, and the next `renew` (cron line, CronJob) tries again.',
  },
  ERR_KUBERNETES_UNAUTHORIZED: {
    title: 'The Kubernetes API server refused the credentials (401)',
    hint: 'Check the kubeconfig user or the service account token; a deleted ServiceAccount invalidates its tokens.',
  },
  ERR_KUBERNETES_FORBIDDEN: {
    title: 'The service account lacks an RBAC permission (403)',
    hint: 'Add the verb and resource named in the message to the certpilot Role (docs/kubernetes.md lists each deployer\'s Role).',
  },
  ERR_KUBERNETES_NOT_FOUND: {
    title: 'A Kubernetes object named in the configuration does not exist',
    hint: 'Check the name and namespace in the deployer\'s options.',
  },
  ERR_KUBERNETES_CONFLICT: {
    title: 'The Kubernetes API server refused a write because of a conflict (409)',
    hint: 'Nothing to do usually: the next run tries again on the latest version.',
  },
  ERR_KUBERNETES_RBAC_MISSING: {
    title: 'The service account lacks Role rules the configured plug-ins need (`certpilot kubernetes check`)',
    hint: 'Add the rules `certpilot kubernetes check` lists as missing to the Role bound to certpilot\'s service account (docs/kubernetes.md shows each plug-in\'s Role).',
  },
  ERR_MANIFESTS_CONFIG: {
    title: 'The configuration asks for something the generated manifests cannot run (a file lock, a kubeconfig, state on disk with --state secret, --serve without a redis solver)',
    hint: 'Change the field the message names as its hint says, or pick the other --state; then generate again.',
  },
  ERR_KUBERNETES_EXEC: {
    title: 'A command could not be run in a pod',
    hint: 'Check the container name and that the command exists in the image; the message has the server\'s reason.',
  },

  // crypto
  ERR_KEY_INVALID: {
    title: 'A private key could not be parsed or has an unsupported type',
    hint: 'Use an ECDSA P-256/P-384 or RSA 2048/3072/4096 key in PEM form.',
    local: true,
  },
  ERR_INTERRUPTED: {
    title: 'certpilot was stopped by a signal (SIGINT or SIGTERM) in the middle of its work',
    hint: 'Nothing to do: challenges were cleaned up, locks released and the previous certificates stay live; run it again.',
  },
  ERR_INTERNAL: {
    title: 'An unexpected internal error',
    hint: 'Run again with --verbose and report the stack trace.',
    local: true,
  },
} as const satisfies Record<string, { title: string; hint: string; local?: true }>;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CATALOG;

/** The catalog's hint of `code`, for a code kept without its error's own hint (older renewal states); undefined for an unknown code. */
export function catalogHint(code: string | undefined): string | undefined {
  return code !== undefined && Object.hasOwn(ERROR_CATALOG, code) ? ERROR_CATALOG[code as ErrorCode].hint : undefined;
}

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
    'the CA not answering, backoff, a lock that no live run renews, `certpilot unlock` refused or raced,',
    'the Kubernetes API server could not be reached: `ERR_KUBERNETES_UNREACHABLE`), 130 stopped by SIGINT or SIGTERM',
    '(`daemon` and `serve`: 0, their normal way to stop).',
    '',
    '| Code | What happened | What to do |',
    '| --- | --- | --- |',
  ];
  for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
    lines.push(`| \`${code}\` | ${entry.title}. | ${entry.hint.replace(/\|/g, '\\|')} |`);
  }
  return `${lines.join('\n')}\n`;
}
