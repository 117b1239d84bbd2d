// A baseline for bench/http01-responder.mjs, not a product server: answers every request with one
// fixed text/plain body (a key authorization's length), with no routing, store or logging, so the
// benchmark shows what node itself costs per request.
//   node bench/baseline-server.mjs http PORT BODY   node:http, the server `certpilot serve` is built on
//   node bench/baseline-server.mjs net PORT BODY    node:net with a canned response: no HTTP parsing at all
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';

const [mode, port, body] = process.argv.slice(2);
const headers = { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store' };
if (mode === 'http') {
  createHttpServer((_req, res) => {
    res.writeHead(200, headers);
    res.end(body);
  }).listen(Number(port), '127.0.0.1');
} else if (mode === 'net') {
  // Reads nothing past the first chunk and closes after one answer: only fair with Connection: close.
  const canned = Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`);
  createNetServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.end(canned));
  }).listen(Number(port), '127.0.0.1');
} else {
  console.error('usage: baseline-server.mjs http|net PORT BODY');
  process.exit(2);
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
