/**
 * A small HTTPS load generator for zero-downtime tests: `concurrency` loops, each sending GET
 * requests with `Connection: close` (a graceful reload keeps serving new connections but resets
 * idle keep-alive ones, DESIGN.md §5) round-robin to the targets, until stopped. Every request
 * that does not end in a 200 with the expected body is a failure, with its error kept.
 */
import { request } from 'node:https';
import { normalizeSerial } from '../../src/deploy/kubernetes-reload/tls-probe.js';

/** One HTTPS endpoint. */
export interface LoadTarget {
  host: string;
  port: number;
  serverName: string;
}

/** What a run saw. */
export interface LoadReport {
  requests: number;
  failures: number;
  /** The first few failures, as `target: error`. */
  errors: string[];
  /** Serial (normalized: lowercase, no leading zeros) → number of responses served with it. */
  serials: Record<string, number>;
}

function once(t: LoadTarget): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: t.host, port: t.port, servername: t.serverName, path: '/', method: 'GET', headers: { Connection: 'close', Host: t.serverName }, rejectUnauthorized: false, agent: false, timeout: 5000 },
      (res) => {
        const serial = (res.socket as unknown as { getPeerCertificate(): { serialNumber?: string } }).getPeerCertificate().serialNumber ?? '';
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => (res.statusCode === 200 && body.length > 0 ? resolve(normalizeSerial(serial)) : reject(new Error(`HTTP ${res.statusCode ?? 0}`))));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Starts the load; `stop()` ends it and returns the report. */
export function startLoad(targets: LoadTarget[], concurrency = 4): { stop: () => Promise<LoadReport> } {
  const report: LoadReport = { requests: 0, failures: 0, errors: [], serials: {} };
  let running = true;
  let next = 0;
  const loop = async (): Promise<void> => {
    while (running) {
      const t = targets[next++ % targets.length] as LoadTarget;
      report.requests++;
      try {
        const serial = await once(t);
        report.serials[serial] = (report.serials[serial] ?? 0) + 1;
      } catch (e) {
        report.failures++;
        if (report.errors.length < 10) report.errors.push(`${t.host}:${t.port}: ${(e as Error).message}`);
      }
    }
  };
  const loops = Array.from({ length: concurrency }, () => loop());
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return report;
    },
  };
}
