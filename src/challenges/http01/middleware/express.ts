/**
 * The Express adapter for the http-01 responder: `app.use(expressChallengeResponder(responder))`,
 * mounted first. It answers every path under `/.well-known/acme-challenge` itself (a 404 included)
 * and calls `next()` for everything else. Typed on `node:http` only: Express is not needed to
 * import this module, and its request and response are `node:http` objects underneath.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChallengeResponder } from '../responder.js';

/** The request as Express hands it over: `originalUrl` is the target before any mount path was stripped. */
export type ExpressLikeRequest = IncomingMessage & { originalUrl?: string };

/** An Express (or Connect) middleware function. */
export type ExpressLikeMiddleware = (req: ExpressLikeRequest, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * Returns an Express/Connect middleware over `responder`. The path given to the responder is the
 * raw `originalUrl` (not decoded, not normalised), so mounting it under a path does not widen it.
 */
export function expressChallengeResponder(responder: ChallengeResponder): ExpressLikeMiddleware {
  return (req, res, next) => {
    const path = req.originalUrl ?? req.url ?? '';
    if (!path.startsWith('/') && targetsChallengeDir(path)) {
      // An absolute-form target (RFC 9112 §3.2.2) under the challenge path: Express would hand it to
      // the app with req.path rewritten to the origin-form path (a static handler could then serve
      // it), and the responder answers origin-form only. Answered here, never passed on.
      res.writeHead(400, { 'content-type': 'text/plain', 'cache-control': 'no-store', 'content-length': String(ABSOLUTE_FORM_BODY.length), connection: 'close' });
      res.end(req.method === 'HEAD' ? '' : ABSOLUTE_FORM_BODY);
      return;
    }
    if (!responder.matches(path)) {
      next();
      return;
    }
    responder.handle({ method: req.method ?? '', path, host: req.headers.host }).then(
      (answer) => {
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
      },
      // handle() never rejects by contract; hand a surprise to Express's error handling.
      (err: unknown) => next(err),
    );
  };
}

const ABSOLUTE_FORM_BODY = 'Bad Request: use an origin-form request target for ACME challenges\n';
const CHALLENGE_DIR = '/.well-known/acme-challenge';

/** True when a target that is not origin-form names (or may name, when it cannot be decoded) the challenge directory. */
function targetsChallengeDir(target: string): boolean {
  const path = target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '');
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return true;
  }
  return decoded.replace(/\/{2,}/g, '/').toLowerCase().startsWith(CHALLENGE_DIR) || decoded.toLowerCase().includes(CHALLENGE_DIR);
}
