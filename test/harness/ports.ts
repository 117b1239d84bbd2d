/**
 * Free loopback ports for test servers. A port is picked at random *below* the kernel's ephemeral
 * range (`/proc/sys/net/ipv4/ip_local_port_range`), checked free by binding it, closed and handed
 * out. The kernel never gives a port below that range to a socket that did not ask for it: an
 * outgoing connection's source port and a `listen(0)` are both taken from the range. A port from
 * the range itself (what `listen(0)` used to choose here) could be taken, between our close and
 * the server's bind, by another test's server listening on port 0 or by an outgoing connection,
 * and a server that cannot choose another port (certpilot's own http-01 listener on the port
 * Pebble validates) then failed with EADDRINUSE (seen once in CI). A port is never handed out
 * twice in one process; across parallel test files a clash of two random picks is unlikely but
 * not impossible, so server starters retry on "address in use".
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const handedOut = new Set<number>();

function listenTcp(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      const address = server.address();
      const chosen = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(chosen));
    });
  });
}

function bindUdp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.unref();
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ address: '127.0.0.1', port, exclusive: true }, () => socket.close(() => resolve(true)));
  });
}

/** Options for {@link freePort}. */
export interface FreePortOptions {
  /** Also require the UDP port of the same number to be free (DNS servers bind both). */
  udp?: boolean;
}

/** The lowest port we pick; below it are the fixed ports of services a machine may run. */
const LOWEST = 20_000;

/** Where random picks come from: [LOWEST, the ephemeral range's start); undefined when that is too narrow. */
function pickRange(): [number, number] | undefined {
  let start = 32_768;
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && Number.isInteger(low)) start = low;
  } catch {
    // Not Linux: keep the common default.
  }
  return start - LOWEST >= 4096 ? [LOWEST, start] : undefined;
}
const range = pickRange();

/** A random port of {@link range} that binds now, or 0 when it is taken (or the kernel's own choice without a range). */
async function candidate(): Promise<number> {
  if (!range) return listenTcp(0);
  const port = range[0] + Math.floor(Math.random() * (range[1] - range[0]));
  return listenTcp(port).catch(() => 0);
}

/** Returns a loopback TCP port (and UDP, when asked) that is free now and not yet handed out here. */
export async function freePort(options: FreePortOptions = {}): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await candidate();
    if (port === 0 || handedOut.has(port)) continue;
    if (options.udp === true && !(await bindUdp(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('harness: no free loopback port found after 100 attempts');
}
