import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:http';

/** One reply as a client sees it. */
export interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * Sends one request with the path exactly as given (no URL normalisation, unlike `fetch`), without
 * keep-alive, and collects the reply. For responder tests.
 */
export function rawGet(target: { host?: string; port: number }, path: string, options: { method?: string; host?: string } = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: target.host ?? '127.0.0.1', port: target.port, path, method: options.method ?? 'GET', headers: { host: options.host ?? 'www.example.com' }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
