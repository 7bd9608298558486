/**
 * The child side of the benchmark's server processes (upstream, floor):
 * listen on a free loopback port, answer the parent's one start message
 * with `ready` (or `error`), and end when the parent goes away.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChildFailed, Ready } from './messages.js';

/** Listens on 127.0.0.1 at a free port, keeping idle keep-alive connections for a minute (proxies pool them between runs). */
export async function listenOnLoopback(server: Server): Promise<Ready> {
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { type: 'ready', url: `http://127.0.0.1:${port}`, port };
}

/** Runs `start` on the parent's start message and reports the outcome; the parent going away (normally or not) ends this process. */
export function onStartMessage<M>(start: (m: M) => Promise<Ready>): void {
  process.once('message', (m: M) => {
    start(m).then(
      (ready) => process.send?.(ready),
      (err: unknown) => process.send?.({ type: 'error', message: String((err as Error)?.message ?? err) } satisfies ChildFailed),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
