// The floor's one request to the CA (bench/floor/one.mjs, many.mjs): a GET of the ACME directory,
// Pebble's cheapest answer, over the caller's keep-alive agent, its JSON body read and parsed.
import https from 'node:https';

export function getDirectory(directoryUrl, agent) {
  return new Promise((resolve, reject) => {
    https.get(directoryUrl, { agent }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`floor: HTTP ${res.statusCode}`))));
    }).on('error', reject);
  });
}
