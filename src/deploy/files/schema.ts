/** Options of the `files` deployer: the live set written into a directory (a docker volume, /etc/ssl/…). */
import * as z from 'zod/mini';
import '../../zod-english.js';

/** The pieces a file can be made of, concatenated in the order listed. */
export const FILE_PARTS = ['cert', 'chain', 'fullchain', 'key'] as const;

/** One piece of a written file. */
export type FilePart = (typeof FILE_PARTS)[number];

/** The named orders of `fullbundle.pem`. */
export const BUNDLE_ORDERS = {
  /** cert + chain + key: the deck's MongooseIM `fullbundle.pem` (`cat cert.pem chain.pem privkey.pem`). */
  'cert-chain-key': ['cert', 'chain', 'key'],
  /** key + cert + chain: cert-manager's `tls-combined.pem`, ejabberd, HAProxy `crt`. */
  'key-cert-chain': ['key', 'cert', 'chain'],
} as const satisfies Record<string, readonly FilePart[]>;

const mode = z
  .string({ error: 'quote it, like "0640": unquoted YAML 0640 is the decimal number 640' })
  .check(z.regex(/^0?[0-7]{3}$/, { message: 'must be an octal mode in quotes, like "0640" (unquoted YAML 0640 is the decimal number 640)' }));

const id = z.union([
  z.number().check(z.int(), z.gte(0), z.lte(2 ** 32 - 2)),
  z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/, { message: 'must be a user/group name or a numeric id' })),
]);

const fileName = z.string().check(
  z.regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, {
    message: 'must be a plain file name (letters, digits, ".", "-", "_"; no "/", not starting with ".")',
  }),
);

/** Builds the schema of `deployers.<name>` with `type: files` (a new one per call; the plug-in definition builds its own on first use). */
export const filesSchema = () => z.strictObject({
  dir: z.string().check(z.minLength(1), z.describe('Directory to write into (created if missing), e.g. a docker named volume mounted read-only into the web container. Relative paths are resolved against the config file. `{name}` is replaced by the certificate\'s name (`/certs/{name}`), for a deployer shared by several certificates; without it a directory holds one certificate.')),
  layout: z
    ._default(z.enum(['atomic', 'plain']), 'atomic')
    .check(z.describe('`atomic` (default): the kubelet Secret-volume layout — files are symlinks into `..data`, a link to a versioned directory switched by one rename(), so the set changes at one instant. `plain`: regular files, each replaced atomically on its own, for consumers that refuse symlinks; between the first and the last rename (microseconds) a reader can pair the new key with the old certificate.')),
  bundle: z
    ._default(z.enum(Object.keys(BUNDLE_ORDERS) as [keyof typeof BUNDLE_ORDERS, ...(keyof typeof BUNDLE_ORDERS)[]]), 'cert-chain-key')
    .check(z.describe('Order of `fullbundle.pem`: `cert-chain-key` (MongooseIM, the deck) or `key-cert-chain` (HAProxy, ejabberd, cert-manager `tls-combined.pem`).')),
  files: z
    .optional(z.record(fileName, z.union([z.array(z.enum(FILE_PARTS)).check(z.minLength(1)), z.literal(false)])))
    .check(z.describe('Extra files, or changes to the five standard ones (cert.pem, chain.pem, fullchain.pem, privkey.pem, fullbundle.pem): file name → the parts it holds, in order (`cert`, `chain`, `fullchain`, `key`), e.g. `{ "combined.pem": [key, fullchain] }`; `false` leaves a standard file out, e.g. `{ "chain.pem": false }`.')),
  owner: z.optional(id).check(z.describe('Owner of the written files: a user name or numeric uid (default: the user certpilot runs as). Changing it needs root.')),
  group: z.optional(id).check(z.describe('Group of the written files: a group name or numeric gid. With `keyMode: "0640"` the group (e.g. `www-data`, `ssl-cert`, or the gid the web container runs as) can read the key.')),
  keyMode: z._default(mode, '0600').check(z.describe('Mode of every file holding the private key (privkey.pem, fullbundle.pem, custom files with `key`). Use "0640" with `group` for a web server group.')),
  certMode: z._default(mode, '0644').check(z.describe('Mode of the files holding only certificates.')),
  allowSharedDir: z
    ._default(z.boolean(), false)
    .check(z.describe('Write into `dir` even when it or one of its parents can be written by another user (not root, not certpilot\'s user, not `owner`/`group`; sticky directories such as /tmp are fine). Default false: such a directory is refused, like sshd\'s StrictModes, because that user could plant links or names there. certpilot still works through file descriptors without following links, but with this on a symlink in a shared parent is followed and that user can make deploys fail; see docs/security.md.')),
  dirMode: z._default(mode, '0755').check(z.describe('Mode of the versioned directory (atomic layout) and of `dir` when certpilot creates it. Use "0750" with `group` to hide the file names from others.')),
});

/** The parsed options. */
export type FilesOptions = z.output<ReturnType<typeof filesSchema>>;
