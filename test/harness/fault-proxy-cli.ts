/**
 * Command-line wrapper around {@link startFaultProxy}, used by the benchmarks to count the ACME
 * requests each client makes:
 *
 *   node dist/test/harness/fault-proxy-cli.js --upstream https://127.0.0.1:14000/dir [--port 0] [--upstream-ca ca.pem]
 *
 * Prints one JSON line when ready: `{"directoryUrl", "port", "caFile"}`. On SIGUSR2 prints the
 * counts so far as one JSON line and zeroes them; on SIGTERM or SIGINT prints the counts and exits.
 * The upstream CA defaults to the test CA of `scripts/setup.sh`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startFaultProxy, type RequestCounts } from './fault-proxy.js';
import { readTestPki } from './paths.js';

function counts(requests: RequestCounts): string {
  return JSON.stringify({ total: requests.total, byPath: requests.byPath, injected: requests.injected });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      upstream: { type: 'string' },
      port: { type: 'string', default: '0' },
      'upstream-ca': { type: 'string' },
    },
  });
  if (values.upstream === undefined) {
    console.error('usage: fault-proxy-cli --upstream <directory URL> [--port N] [--upstream-ca file]');
    process.exit(2);
  }
  const pki = readTestPki();
  const ca = values['upstream-ca'] !== undefined ? readFileSync(values['upstream-ca'], 'utf8') : pki.caPem;
  const proxy = await startFaultProxy({ directoryUrl: values.upstream, caCertificates: [ca] }, { port: Number(values.port) });
  console.log(JSON.stringify({ directoryUrl: proxy.directoryUrl, port: proxy.port, caFile: pki.caFile }));
  process.on('SIGUSR2', () => {
    console.log(counts(proxy.requests));
    proxy.resetCounts();
  });
  const finish = (): void => {
    console.log(counts(proxy.requests));
    void proxy.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', finish);
  process.once('SIGINT', finish);
}

main().catch((error: unknown) => {
  console.error(`fault-proxy-cli: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
