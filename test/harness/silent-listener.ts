/**
 * A TCP listener on loopback that accepts every connection and never answers: a CA or an API
 * server down behind its load balancer, a proxy holding the connection. No real server can be
 * made to do this on purpose, so the tests that need one use this. `held` is every connection it
 * accepted (tests count them); all are closed when the test ends.
 */
import { createServer, type Socket } from 'node:net';

export interface SilentListener {
  port: number;
  /** Every connection accepted so far, still open. */
  held: Socket[];
}

/** Starts a {@link SilentListener}; `t.after` closes it and every connection it holds. */
export async function startSilentListener(t: { after(fn: () => void): void }): Promise<SilentListener> {
  const held: Socket[] = [];
  const silent = createServer((socket) => void held.push(socket));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of held) s.destroy();
    silent.close();
  });
  return { port: (silent.address() as { port: number }).port, held };
}
