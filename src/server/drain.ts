/**
 * Graceful drain of an HTTP(S) listener, as a load balancer needs it: stop
 * accepting, let requests in flight finish, tell keep-alive clients to go
 * (`Connection: close` on their next response), close idle connections
 * with a FIN rather than a reset, and only cut what is still open when the
 * bound has passed. Any listener (the proxy, a metrics or health server)
 * can be tracked and drained the same way.
 */

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { markCutAtShutdown } from '../observe/index.js';

/** The responses in flight on a connection (more than one only when requests are pipelined). */
const IN_FLIGHT = Symbol('limen.drain.inFlight');
type RequestSocket = IncomingMessage['socket'] & { [IN_FLIGHT]?: ServerResponse[] };

export interface DrainResult {
  /** Connections still open at the bound and therefore cut. */
  readonly cut: number;
  /** Upgraded connections (websocket tunnels) closed at the start of the drain. */
  readonly upgradesClosed: number;
}

export interface DrainableServer {
  /** Call for every request, before anything is written. */
  trackRequest(req: IncomingMessage, res: ServerResponse): void;
  /** Call for every upgraded connection (its lifetime is not a request's). */
  trackUpgrade(socket: Duplex): void;
  /** Requests that have started and not yet finished. */
  inFlight(): number;
  /**
   * Stops accepting and waits up to `timeoutMs` for open requests to
   * finish; then cuts what is left. Resolves once every connection is closed.
   */
  drain(timeoutMs: number): Promise<DrainResult>;
}

/** Starts tracking `server`'s connections and requests for a later drain. */
export function drainable(server: Server): DrainableServer {
  const sockets = new Set<Socket>();
  const upgrades = new Set<Duplex>();
  /**
   * Responses in flight are kept per connection, on the connection, not in
   * one Set of responses. A Set that gained and lost an entry per request
   * made V8's scavenges keep whole finished requests alive and promote
   * them (measured with --trace-gc-nvp under the bench: 2.6 MB promoted
   * per scavenge with the Set, 0.3 MB without it, the bare proxy 0.2 MB;
   * the likely cause is the Set's discarded hash tables, once promoted,
   * still pointing at finished responses). Connections churn far less than
   * requests. A separate Set from `sockets`: over TLS, a request's socket
   * is not the one the 'connection' event gave.
   */
  const busy = new Set<RequestSocket>();
  let inFlight = 0;
  let draining = false;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });

  const closeIdle = (): void => { server.closeIdleConnections(); };

  return {
    trackRequest(req, res) {
      const socket = req.socket as RequestSocket;
      let list = socket[IN_FLIGHT];
      if (list === undefined) {
        list = [];
        socket[IN_FLIGHT] = list;
        busy.add(socket);
        socket.once('close', () => busy.delete(socket));
      }
      list.push(res);
      inFlight++;
      // While draining, every response (including one to a request that
      // arrives on a kept-alive connection) closes its connection after it.
      if (draining) res.shouldKeepAlive = false;
      res.once('close', () => {
        inFlight--;
        const i = list.indexOf(res);
        if (i >= 0) list.splice(i, 1);
        // A response sent with keep-alive before the drain began leaves its
        // connection idle now: close it (FIN) instead of waiting.
        if (draining) setImmediate(closeIdle);
      });
    },
    trackUpgrade(socket) {
      if (draining) { socket.end(); return; }
      upgrades.add(socket);
      socket.once('close', () => upgrades.delete(socket));
    },
    inFlight: () => inFlight,
    async drain(timeoutMs) {
      draining = true;
      for (const socket of busy) for (const res of socket[IN_FLIGHT] ?? []) if (!res.headersSent) res.shouldKeepAlive = false;
      // Tunnels last as long as their clients want; they are ended now
      // rather than holding the drain to its bound.
      const upgradesClosed = upgrades.size;
      for (const s of upgrades) s.end();
      let cut = 0;
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          cut = sockets.size;
          for (const s of sockets) { markCutAtShutdown(s); s.destroy(); }
          for (const s of upgrades) { markCutAtShutdown(s); s.destroy(); }
        }, timeoutMs);
        force.unref();
        // close() stops accepting and (Node >= 19) closes idle connections;
        // its callback runs when the last connection has closed.
        server.close(() => { clearTimeout(force); resolve(); });
        closeIdle();
      });
      return { cut, upgradesClosed };
    },
  };
}

/**
 * How long a shutdown waits for standard output to take the log lines still
 * waiting: a reader that stopped (a stalled log shipper) must not keep a
 * stopped proxy alive. What it has not taken by then is lost.
 */
export const LOG_DRAIN_LIMIT_MS = 5_000;

/** Whether `p` settles within `ms`. */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => { timer = setTimeout(resolve, ms, false); });
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
