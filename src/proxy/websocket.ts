import type { IncomingMessage } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { RouteConfig, Upstream } from '../config/index.js';
import { upstreamPath } from './forward.js';

/**
 * Tunnels an HTTP/1.1 Upgrade (websocket) request to an upstream: opens a
 * connection, replays the request head with Limen's headers, then splices
 * the two sockets. Websockets get no route timeout (CONTRACT §1).
 * Returns a handle to close the tunnel (for continuous re-evaluation).
 */
export function tunnelUpgrade(
  req: IncomingMessage, client: Duplex, head: Buffer, route: RouteConfig, upstream: Upstream,
  headers: string[], onError: (e: Error) => void,
): { close(): void } {
  const url = upstream.url;
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  const upstreamSocket: Socket = url.protocol === 'https:'
    ? tlsConnect({
      host: url.hostname, port,
      servername: route.tlsServerName ?? url.hostname,
      rejectUnauthorized: !route.tlsSkipVerify,
      ...(route.tlsCustomCaFile ? { ca: readFileSync(route.tlsCustomCaFile) } : {}),
    })
    : netConnect({ host: url.hostname, port });
  const path = upstreamPath(route, upstream, req.url ?? '/');
  let lines = `${req.method ?? 'GET'} ${path} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) {
    const v = headers[i + 1]!;
    if (/[\r\n]/.test(v)) continue;
    lines += `${headers[i]}: ${v}\r\n`;
  }
  lines += '\r\n';
  let settled = false;
  const fail = (e: Error): void => {
    if (settled) return;
    settled = true;
    onError(e);
    upstreamSocket.destroy();
  };
  upstreamSocket.once('error', fail);
  upstreamSocket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
    settled = true;
    upstreamSocket.off('error', fail);
    upstreamSocket.write(lines);
    if (head.length > 0) upstreamSocket.write(head);
    upstreamSocket.pipe(client);
    client.pipe(upstreamSocket);
    const end = (): void => { upstreamSocket.destroy(); client.destroy(); };
    upstreamSocket.on('error', end);
    client.on('error', end);
    upstreamSocket.on('close', end);
    client.on('close', end);
  });
  return { close: () => { upstreamSocket.destroy(); client.destroy(); } };
}
