// The floor of scenario 5: per certificate, what any Node 20 client that issues many certificates
// concurrently and keeps certpilot's guarantees does, with none of the ACME protocol. bench/run.mjs
// runs it in the same run as certpilot's issue of as many certificates, on the same Pebble, through
// the same counting proxy, under the same GNU time.
//
//   node many.mjs DIRECTORY_URL CA_FILE STATE_DIR CERTIFICATES CONCURRENCY REQUESTS_PER_CERTIFICATE
//
// Per certificate, CONCURRENCY at a time, it does and only does:
// - REQUESTS_PER_CERTIFICATE requests to the CA over one keep-alive HTTPS agent (certpilot's own
//   median in the same run, rounded), each a GET of the directory (Pebble's cheapest answer), each
//   after one ES256 signature with the account key (the JWS);
// - one P-256 certificate key, made and exported as PKCS#8 PEM;
// - 17 files written atomically (temporary file, write, fsync, rename) and 4 fsyncs of the
//   certificate's folder: the pending order, the archived version, the live set, the renewal state
//   (certpilot makes ~21 fsyncs per certificate; bench/findings.md).
// Writes go through libuv's thread pool, as they must for 16 orders to keep moving while one waits
// on the disk. Not done: a CSR, parsing the certificate, checking the key, the http-01 responder
// answering the CA, validating the CA's answers, locks, the disk probe, logging.
import { createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { close, fsync, mkdirSync, open, readFileSync, rename, write } from 'node:fs';
import https from 'node:https';
import { promisify } from 'node:util';
import { getDirectory } from './ca.mjs';

const [directoryUrl, caFile, stateDir, ...numbers] = process.argv.slice(2);
const [certificates, concurrency, requests] = numbers.map(Number);
if (!directoryUrl || !caFile || !stateDir || ![certificates, concurrency, requests].every((n) => Number.isInteger(n) && n > 0)) {
  console.error('usage: node many.mjs DIRECTORY_URL CA_FILE STATE_DIR CERTIFICATES CONCURRENCY REQUESTS_PER_CERTIFICATE');
  process.exit(2);
}
const [pOpen, pWrite, pFsync, pClose, pRename] = [open, write, fsync, close, rename].map((f) => promisify(f));
const agent = new https.Agent({ keepAlive: true, ca: readFileSync(caFile, 'utf8') });
// generateKeyPairSync's KeyObjects can deadlock Node 20 when exported during a collection
// (src/acme/private-key-sync.ts): the job encodes the key, and a KeyObject is parsed from that.
const newKeyPem = () => generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } }).privateKey;
const account = createPrivateKey(newKeyPem());

async function durable(folder, name, text) {
  const tmp = `${folder}/.${name}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = await pOpen(tmp, 'wx', 0o600);
  await pWrite(fd, text);
  await pFsync(fd);
  await pClose(fd);
  await pRename(tmp, `${folder}/${name}`);
}

async function syncFolder(folder) {
  const fd = await pOpen(folder, 'r');
  await pFsync(fd);
  await pClose(fd);
}

async function one(i) {
  const folder = `${stateDir}/c${i}`;
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const pem = newKeyPem();
  for (let r = 0; r < requests; r++) {
    sign('sha256', Buffer.from(`${'x'.repeat(400)}${r}`), { key: account, dsaEncoding: 'ieee-p1363' });
    await getDirectory(directoryUrl, agent);
  }
  for (let f = 0; f < 17; f++) await durable(folder, `f${f}`, f === 0 ? pem : 'x'.repeat(1500));
  for (let d = 0; d < 4; d++) await syncFolder(folder);
}

let next = 0;
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < certificates) await one(next++);
}));
agent.destroy();
