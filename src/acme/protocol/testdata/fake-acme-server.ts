/**
 * Test helper: a tiny ACME server on loopback HTTP. It serves a directory and newNonce itself,
 * records every request (decoded JWS header and payload) and lets each test answer POSTs.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the server saw. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Decoded JWS protected header, for POSTs. */
  protected?: Record<string, unknown>;
  /** Raw base64url payload, for POSTs ('' for POST-as-GET). */
  rawPayload?: string;
  /** Decoded JSON payload, when not empty. */
  payload?: unknown;
  /** The flattened JWS as sent. */
  jws?: { protected: string; payload: string; signature: string };
}

/** What a handler answers. */
export interface FakeReply {
  status?: number;
  headers?: Record<string, string | string[]>;
  body?: unknown;
}

/** A running fake ACME server. */
export interface FakeAcmeServer {
  base: string;
  directoryUrl: string;
  seen: SeenRequest[];
  /** Answers POSTs (and GETs other than the directory); default 404. */
  handler: (req: SeenRequest, base: string) => FakeReply | Promise<FakeReply>;
  close(): Promise<void>;
}

/** Starts the server; `directoryExtra` is merged into the directory. */
export async function startFakeAcmeServer(directoryExtra: Record<string, unknown> = {}): Promise<FakeAcmeServer> {
  let nonceCounter = 0;
  const state: FakeAcmeServer = {
    base: '',
    directoryUrl: '',
    seen: [],
    handler: () => ({ status: 404, body: { type: 'about:blank', detail: 'not found' } }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const seen: SeenRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers };
        const body = Buffer.concat(chunks).toString('utf8');
        if (req.method === 'POST' && body) {
          const jws = JSON.parse(body) as { protected: string; payload: string; signature: string };
          seen.jws = jws;
          seen.protected = JSON.parse(Buffer.from(jws.protected, 'base64url').toString('utf8')) as Record<string, unknown>;
          seen.rawPayload = jws.payload;
          if (jws.payload) seen.payload = JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8'));
        }
        state.seen.push(seen);
        let reply: FakeReply;
        if (req.url === '/dir') {
          reply = {
            body: {
              newNonce: `${state.base}/nonce`,
              newAccount: `${state.base}/new-account`,
              newOrder: `${state.base}/new-order`,
              revokeCert: `${state.base}/revoke`,
              keyChange: `${state.base}/key-change`,
              ...directoryExtra,
            },
          };
        } else if (req.url === '/nonce') {
          reply = { status: 200 };
        } else {
          reply = await state.handler(seen, state.base);
        }
        res.statusCode = reply.status ?? 200;
        res.setHeader('Replay-Nonce', `nonce${++nonceCounter}`);
        for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
        if (reply.body === undefined) {
          res.end();
        } else if (typeof reply.body === 'string') {
          res.end(reply.body);
        } else {
          res.setHeader('Content-Type', res.statusCode >= 400 ? 'application/problem+json' : 'application/json');
          res.end(JSON.stringify(reply.body));
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.directoryUrl = `${state.base}/dir`;
  return state;
}

/** A problem document reply. */
export function problem(type: string, status: number, detail = type, headers: Record<string, string> = {}): FakeReply {
  return { status, headers, body: { type: `urn:ietf:params:acme:error:${type}`, detail, status } };
}
