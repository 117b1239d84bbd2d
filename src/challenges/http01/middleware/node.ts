/**
 * The `node:http` adapter for the http-01 responder: a request listener for `http.createServer`,
 * or a wrapper in front of an existing listener.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChallengeResponder } from '../responder.js';

/** A `node:http` request listener. */
export type NodeRequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Returns a listener that answers paths under `/.well-known/acme-challenge` with `responder` and
 * hands every other request to `next` (or answers 404 when there is no `next`). The path given to
 * the responder is `req.url` as received, so nothing is decoded or normalised first.
 */
export function challengeRequestListener(responder: ChallengeResponder, next?: NodeRequestListener): NodeRequestListener {
  return (req, res) => {
    const path = req.url ?? '';
    if (next !== undefined && !responder.matches(path)) {
      next(req, res);
      return;
    }
    // Without `next` the responder answers everything: its 404 for paths outside the prefix.
    responder
      .handle({ method: req.method ?? '', path, host: req.headers.host })
      .then((answer) => send(res, answer.status, answer.headers, answer.body))
      // handle() never rejects by contract; this only keeps a surprise from leaving the socket open.
      .catch(() => {
        if (res.headersSent) res.destroy();
        else send(res, 503, { 'content-type': 'text/plain', 'cache-control': 'no-store', 'content-length': '0' }, '');
      });
  };
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, headers);
  res.end(body);
}
