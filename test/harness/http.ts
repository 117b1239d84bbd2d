/** A small buffered HTTP(S) client for the harness and integration tests (node:http/https, custom CA). */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequestRaw } from 'node:https';

/** Options for {@link fetchBuffered}. */
export interface FetchOptions {
  /** HTTP method; GET by default. */
  method?: string;
  /** Request headers. */
  headers?: Record<string, string>;
  /** Request body (JSON callers pass a string). */
  body?: string | Buffer;
  /** PEM CA certificates to trust for https URLs (the test CA). */
  ca?: readonly string[];
  /** Give up after this many milliseconds (default 10 000). */
  timeoutMs?: number;
}

/** A fully read response. */
export interface FetchResult {
  status: number;
  headers: IncomingHttpHeaders;
  /** Raw header list as sent (keeps repeated headers such as Link apart). */
  rawHeaders: string[];
  body: Buffer;
  /** The body decoded as UTF-8. */
  text: string;
}

/** Performs one request and reads the whole response; rejects on network errors and timeouts only. */
export function fetchBuffered(url: string, options: FetchOptions = {}): Promise<FetchResult> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequestRaw : httpRequest;
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      {
        method: options.method ?? 'GET',
        // RFC 8555 §6.1: clients must send a User-Agent, and Pebble 2.10 refuses requests without one.
        headers: { 'User-Agent': 'certpilot-test-harness', ...options.headers },
        ...(target.protocol === 'https:' && options.ca !== undefined ? { ca: [...options.ca] } : {}),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body, text: body.toString('utf8') });
        });
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`harness: ${req.method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}
