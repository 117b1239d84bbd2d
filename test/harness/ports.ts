/**
 * Free loopback ports for test servers. The kernel picks a port (listen on 0), we close it and
 * hand it out. A port is never handed out twice in one process; across parallel test files the
 * kernel's randomized choice makes a clash unlikely but not impossible, and there is a window
 * between our close and the server's bind, so server starters retry on "address in use".
 */
import { createSocket } from 'node:dgram';
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

/** Returns a loopback TCP port (and UDP, when asked) that is free now and not yet handed out here. */
export async function freePort(options: FreePortOptions = {}): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await listenTcp(0);
    if (port === 0 || handedOut.has(port)) continue;
    if (options.udp === true && !(await bindUdp(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('harness: no free loopback port found after 100 attempts');
}
