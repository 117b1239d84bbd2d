/** A web server serving a directory over plain HTTP on loopback: the user's server for webroot tests. */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join, normalize } from 'node:path';

/** A running static server. */
export interface StaticServer {
  /** Every path that was served with 200, in order. */
  readonly served: string[];
  close(): Promise<void>;
}

/** Serves `root` on `host`:`port` (GET only; 404 for anything missing or outside `root`). */
export async function serveDirectory(root: string, port: number, host = '127.0.0.1'): Promise<StaticServer> {
  const served: string[] = [];
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/'));
    readFile(join(root, path)).then(
      (body) => {
        served.push(path);
        res.end(body);
      },
      () => {
        res.statusCode = 404;
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return { served, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
