// The floor of scenario 1: what any Node 20 client that keeps certpilot's guarantees and uses the
// project's libraries does to issue one certificate, with none of the ACME protocol. bench/run.mjs
// bundles it the way scripts/bundle.mjs bundles certpilot (esbuild, ESM chunks, zod and pino
// tree-shaken and minified the same way) and runs it in the same run, on the same Pebble, through
// the same counting proxy, under the same GNU time: a figure certpilot can approach, not pass.
//
//   node one.mjs DIRECTORY_URL CA_FILE STATE_DIR REQUESTS
//
// It does, and only does:
// - validates its arguments with a zod/mini strict schema and writes one pino log line (stderr);
// - makes two P-256 keys (account, certificate), exports both as PKCS#8 PEM, and makes 8 ES256
//   signatures (the JWS of one issuance);
// - opens one keep-alive HTTPS agent trusting CA_FILE and sends REQUESTS requests to the CA (the
//   number certpilot sent in the same run), each a GET of the directory: Pebble's cheapest answer;
// - opens an http listener on 127.0.0.1 (the standalone http-01 responder; nobody calls it) and
//   closes it;
// - writes 15 files atomically (temporary file, write, fsync, rename) and fsyncs their 4 folders:
//   the account, the pending order, the archived version, the live set and the renewal state.
// Not done: a CSR, parsing the certificate, checking the key against it, reading any state,
// validating the CA's answers, locks, the disk probe, a second poll.
import { createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { getDirectory } from './ca.mjs';

const [directoryUrl, caFile, stateDir, requests] = process.argv.slice(2);
const { parseArguments } = await import('./one-schema.mjs');
const args = parseArguments({ directoryUrl, caFile, stateDir, requests: Number(requests) });
const { default: pino } = await import('pino');
const logger = pino({ base: undefined }, pino.destination({ dest: 2, sync: true }));
logger.info({ directoryUrl: args.directoryUrl }, 'floor: one certificate');

// generateKeyPairSync's KeyObjects can deadlock Node 20 when exported during a collection
// (src/acme/private-key-sync.ts): the job encodes the key, and a KeyObject is parsed from that.
const newKeyPem = () => generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } }).privateKey;
const pems = [0, 1].map(() => newKeyPem());
const keys = pems.map((pem) => createPrivateKey(pem));
for (let i = 0; i < 8; i++) sign('sha256', Buffer.from(`${'x'.repeat(300)}${i}`), { key: keys[0], dsaEncoding: 'ieee-p1363' });

const server = http.createServer((_req, res) => res.end());
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

const agent = new https.Agent({ keepAlive: true, ca: readFileSync(args.caFile, 'utf8') });
for (let i = 0; i < args.requests; i++) await getDirectory(args.directoryUrl, agent);
agent.destroy();
server.close();

const folders = ['accounts', 'pending', 'archive', 'live'].map((f) => `${args.stateDir}/${f}`);
for (const folder of folders) mkdirSync(folder, { recursive: true, mode: 0o700 });
const files = [
  [folders[0], 'private_key.pem', pems[0]], [folders[0], 'account.json', '{}'],
  [folders[1], 'privkey.pem', pems[1]], [folders[1], 'order.json', '{}'], [folders[1], 'order.json', '{}'],
  ...['cert1.pem', 'chain1.pem', 'fullchain1.pem', 'privkey1.pem', 'meta1.json'].map((f) => [folders[2], f, 'x'.repeat(1500)]),
  ...['cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem', 'README'].map((f) => [folders[3], f, 'x'.repeat(1500)]),
];
for (const [folder, name, text] of files) {
  const tmp = `${folder}/.${name}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  writeSync(fd, text);
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, `${folder}/${name}`);
}
for (const folder of folders) {
  const fd = openSync(folder, 'r');
  fsyncSync(fd);
  closeSync(fd);
}
