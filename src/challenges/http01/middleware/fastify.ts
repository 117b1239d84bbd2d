/**
 * The Fastify adapter for the http-01 responder: `app.register(fastifyChallengeResponder(responder))`.
 * It adds one route, `/.well-known/acme-challenge/*` for every method, whose handler passes the raw
 * request target (`request.raw.url`, not decoded, not normalised) to the responder and writes the
 * answer itself (`reply.hijack()`), so Fastify adds no header of its own. Typed structurally:
 * Fastify is not needed to import this module.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChallengeResponder } from '../responder.js';
import { CHALLENGE_PATH_PREFIX } from '../responder.js';

/** The part of a Fastify request the adapter reads. */
export interface FastifyLikeRequest {
  raw: IncomingMessage;
}

/** The part of a Fastify reply the adapter uses. */
export interface FastifyLikeReply {
  hijack(): unknown;
  raw: ServerResponse;
}

/** The part of a Fastify instance the adapter uses. */
export interface FastifyLikeInstance {
  route(options: {
    method: string[];
    url: string;
    exposeHeadRoute?: boolean;
    handler: (request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<void>;
  }): unknown;
}

/** A Fastify plug-in (callback style). */
export type FastifyLikePlugin = (instance: FastifyLikeInstance, options: unknown, done: (err?: Error) => void) => void;

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

/** Returns a Fastify plug-in that answers `/.well-known/acme-challenge/*` with `responder`. */
export function fastifyChallengeResponder(responder: ChallengeResponder): FastifyLikePlugin {
  return (instance, _options, done) => {
    instance.route({
      method: METHODS,
      url: `${CHALLENGE_PATH_PREFIX}*`,
      // HEAD is ours: the responder answers it with the GET headers and no body.
      exposeHeadRoute: false,
      handler: async (request, reply) => {
        reply.hijack();
        const raw = request.raw;
        const answer = await responder.handle({ method: raw.method ?? '', path: raw.url ?? '', host: raw.headers.host });
        reply.raw.writeHead(answer.status, answer.headers);
        reply.raw.end(answer.body);
      },
    });
    done();
  };
}
