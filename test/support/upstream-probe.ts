/**
 * An upstream for fault tests that counts what Limen holds open on it:
 * every socket, and every request whose response has not finished. Paths:
 * `/fast` answers at once; `/hold` sends headers only when `release()` is
 * called; `/stream` sends headers and a first chunk, then a chunk every
 * 50 ms until the client goes; `/stall` sends headers and a first chunk,
 * then nothing; `/slow?ms=N` answers after N ms; `/upload`
 * reads the whole body and answers with its length.
 */

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export interface ProbeUpstream {
  readonly url: string;
  /** Sockets open on the upstream right now. */
  openSockets(): number;
  /** Requests received whose response has not finished or closed. */
  busy(): number;
  /** Requests received, per path. */
  received(path: string): number;
  /** Answers every request held on `/hold`. */
  release(): void;
  close(): Promise<void>;
}

/** `tls`: serve HTTPS with this certificate and key (PEM). */
export async function startProbeUpstream(tls?: { cert: string; key: string }): Promise<ProbeUpstream> {
  const sockets = new Set<Socket>();
  let busy = 0;
  const counts = new Map<string, number>();
  let held: ServerResponse[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    counts.set(url.pathname, (counts.get(url.pathname) ?? 0) + 1);
    busy++;
    let done = false;
    const finish = (): void => { if (!done) { done = true; busy--; } };
    res.once('finish', finish);
    res.once('close', finish);
    switch (url.pathname) {
      case '/hold':
        held.push(res);
        return;
      case '/stream': {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first chunk\n');
        const timer = setInterval(() => res.write('more\n'), 50);
        res.once('close', () => clearInterval(timer));
        return;
      }
      case '/stall':
        // Headers and one chunk, then silence (for idle timeouts).
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first chunk\n');
        return;
      case '/slow': {
        const timer = setTimeout(() => res.end('slow done'), Number(url.searchParams.get('ms') ?? '1000'));
        res.once('close', () => clearTimeout(timer));
        return;
      }
      case '/upload': {
        let n = 0;
        req.on('data', (d: Buffer) => { n += d.length; });
        req.on('end', () => res.end(`got ${n}`));
        return;
      }
      default:
        res.end('ok');
    }
  };
  const server = tls ? createHttpsServer(tls, handler) : createServer(handler);
  // Like nginx (75 s) and most production upstreams, idle keep-alive
  // connections are kept long, so a connection Limen forgets is not
  // rescued by the upstream's timer within a test (Node's default is 5 s).
  server.keepAliveTimeout = 120_000;
  server.on('connection', (s: Socket) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    openSockets: () => sockets.size,
    busy: () => busy,
    received: (path) => counts.get(path) ?? 0,
    release() {
      const list = held;
      held = [];
      for (const res of list) if (!res.destroyed) res.end('released');
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `check` until it is true or `timeoutMs` passes; returns its last value. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}
