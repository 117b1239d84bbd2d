/**
 * A real Prometheus (Debian's `prometheus` package) on loopback, in its own temp dir on a free
 * port, scraping the targets a test gives it every second. `query` runs an instant PromQL query
 * through the HTTP API.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchBuffered } from './http.js';
import { freePort } from './ports.js';
import { startServerProcess } from './server-process.js';

/** One instant-vector sample of the query API. */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** A running Prometheus. */
export interface PrometheusServer {
  url: string;
  query(promql: string): Promise<PromSample[]>;
  /** Polls `query` until `check` holds for its result (or throws after `timeoutMs`). */
  waitFor(promql: string, check: (samples: PromSample[]) => boolean, timeoutMs?: number): Promise<PromSample[]>;
  stop(): Promise<void>;
}

/** Starts Prometheus scraping `jobs` (job name → host:port targets) at 1 s. */
export async function startPrometheus(jobs: Record<string, string[]>): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'certpilot-prometheus-'));
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    ...Object.entries(jobs).flatMap(([job, targets]) => [`  - job_name: ${JSON.stringify(job)}`, '    static_configs:', `      - targets: ${JSON.stringify(targets)}`]),
    '',
  ].join('\n');
  await writeFile(join(dir, 'prometheus.yml'), config);
  const url = `http://127.0.0.1:${port}`;
  const server = await startServerProcess(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { label: 'prometheus', dir, logFile: join(dir, 'prometheus.log'), timeoutMs: 30_000, ready: async () => (await fetchBuffered(`${url}/-/ready`)).status === 200 },
  );
  const query = async (promql: string): Promise<PromSample[]> => {
    const res = await fetchBuffered(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = JSON.parse(res.text) as { status: string; data?: { result: PromSample[] }; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus: ${promql}: ${body.error ?? res.text}`);
    return body.data?.result ?? [];
  };
  return {
    url,
    query,
    waitFor: async (promql, check, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      let last: PromSample[] = [];
      while (Date.now() < deadline) {
        last = await query(promql);
        if (check(last)) return last;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`prometheus: ${promql} never satisfied the check; last result ${JSON.stringify(last)}\n${await server.logs()}`);
    },
    stop: () => server.stop(),
  };
}
