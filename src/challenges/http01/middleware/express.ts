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
