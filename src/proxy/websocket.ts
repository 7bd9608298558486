import { createHash } from 'node:crypto';
import { request as httpRequest, ServerResponse, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RouteConfig, Upstream } from '../config/index.js';
import { upstreamPath, upstreamTlsOptions } from './forward.js';
import { buildResponseHeaders } from './headers.js';

// RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key.
const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** How long a connection closed after a response still drains what the client sends. */
const LINGER_MS = 5_000;

/** The only protocol Limen tunnels (CONTRACT §1 `allow_websockets`). */
export const TUNNELLED_PROTOCOL = 'websocket';

/** Why a client's websocket opening handshake is refused before anything is sent upstream. */
export type HandshakeRefusal = 'websocket-handshake-not-get' | 'upgrade-with-body' | 'websocket-key-invalid' | 'upgrade-protocol-not-supported';

/** Why no tunnel was opened although the client's handshake was acceptable. */
export type TunnelFailure = 'upstream-unreachable' | 'upstream-timeout' | 'upstream-bad-switch';

/** The tokens of a comma-separated header, lower-case. */
function tokens(v: string | string[] | undefined): string[] {
  const s = Array.isArray(v) ? v.join(',') : (v ?? '');
  return s.split(',').map((t) => t.trim().toLowerCase()).filter((t) => t !== '');
}

/** True when the request declares a body (a body's bytes cannot be told apart from tunnel bytes). */
export function declaresBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return (cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** The protocols a request asks to upgrade to (`Upgrade`, RFC 9110 §7.8), lower-case. */
export function upgradeProtocols(req: IncomingMessage): string[] {
  return tokens(req.headers.upgrade);
}

/**
 * Checks a client's websocket opening handshake (RFC 6455 §4.2.1) before it
 * goes anywhere: a GET without a body, `Upgrade: websocket` alone, and a
 * 16-byte base64 `Sec-WebSocket-Key`. Returns why not, or `undefined`.
 */
export function checkClientHandshake(req: IncomingMessage): HandshakeRefusal | undefined {
  const protocols = upgradeProtocols(req);
  if (protocols.length !== 1 || protocols[0] !== TUNNELLED_PROTOCOL) return 'upgrade-protocol-not-supported';
  if (req.method !== 'GET') return 'websocket-handshake-not-get';
  if (declaresBody(req)) return 'upgrade-with-body';
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !/^[A-Za-z0-9+/]{22}==$/.test(key)) return 'websocket-key-invalid';
  return undefined;
}

/** `Sec-WebSocket-Accept` for a client key (RFC 6455 §4.2.2 step 5.4). */
export function websocketAccept(clientKey: string): string {
  return createHash('sha1').update(clientKey + HANDSHAKE_GUID).digest('base64');
}

/**
 * Decides whether an upstream's `101` really switched to the protocol the
 * client asked for (RFC 6455 §4.1, the client's checks of the server's
 * answer): `Upgrade` is exactly `websocket`, `Connection` lists `upgrade`,
 * and `Sec-WebSocket-Accept` matches the client's key. Returns why not.
 */
export function checkSwitch(status: number, headers: IncomingMessage['headers'], clientKey: string): string | undefined {
  if (status !== 101) return `status ${status}`;
  const upgrade = tokens(headers.upgrade);
  if (upgrade.length !== 1 || upgrade[0] !== TUNNELLED_PROTOCOL) return `Upgrade is "${String(headers.upgrade ?? '')}"`;
  if (!tokens(headers.connection).includes('upgrade')) return 'Connection does not list upgrade';
  if (headers['sec-websocket-accept'] !== websocketAccept(clientKey)) return 'Sec-WebSocket-Accept does not match the key';
  return undefined;
}

/**
 * A response written on a socket that Node's server has handed over (after
 * an `upgrade` event): framing, `Date` and `Connection: close` as for any
 * response; the socket is ended once the response is sent, never reused.
 */
export function responseOnSocket(req: IncomingMessage, socket: Duplex): ServerResponse {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as Socket);
  res.once('finish', () => {
    res.detachSocket(socket as Socket);
    // Lingering close: whatever the client still sends is read and dropped
    // (never parsed), so closing does not reset the connection before the
    // client has read the response; a client that never closes is cut off.
    socket.on('data', () => undefined);
    socket.once('end', () => socket.destroy());
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  });
  return res;
}

/** What the caller hears back from `tunnelUpgrade`, exactly one of them. */
export interface TunnelEvents {
  /** The upstream switched to websocket: the sockets are joined. */
  onOpen(): void;
  /** The upstream answered with an ordinary response: relayed, then the connection closed. */
  onRelayed(status: number): void;
  /** Nothing was relayed: the caller answers the client (502/504) on `res`. */
  onFailed(reason: TunnelFailure, detail: string): void;
}

/**
 * Asks the upstream to switch to websocket and opens a tunnel only when it
 * did (`checkSwitch`). `res` is the client's `responseOnSocket`, used for
 * any answer that is not a switch. Guarantees: no client byte reaches the upstream
 * before a verified `101` (bytes the client sent early are held, and
 * dropped when no tunnel opens); any other answer is relayed to the client
 * as an ordinary response on a connection that is then closed, so nothing
 * the client writes afterwards is ever read as a request; a `101` for
 * anything else closes both sides. The handshake wait is bounded by the
 * route timeout; the tunnel itself has none (CONTRACT §1).
 * Upstream `Set-Cookie` for `ownCookies` is dropped from either answer.
 * Returns a handle that closes the tunnel (continuous re-evaluation).
 */
export function tunnelUpgrade(
  req: IncomingMessage, client: Duplex, res: ServerResponse, head: Buffer, route: RouteConfig, upstream: Upstream,
  headers: string[], requestId: string, events: TunnelEvents, ownCookies: ReadonlySet<string>,
): { close(): void } {
  const url = upstream.url;
  const https = url.protocol === 'https:';
  const clientKey = req.headers['sec-websocket-key'] as string;
  let done = false;
  const once = (f: () => void): void => {
    if (done) return;
    done = true;
    f();
  };
  const upReq = (https ? httpsRequest : httpRequest)({
    host: url.hostname,
    port: Number(url.port) || (https ? 443 : 80),
    method: 'GET',
    path: upstreamPath(route, upstream, req.url ?? '/'),
    headers,
    setHost: false,
    agent: false,
    ...(https ? {
      servername: route.tlsServerName ?? url.hostname,
      ...upstreamTlsOptions(route),
    } : {}),
  });
  const onClientGone = (): void => { upReq.destroy(); };
  client.once('close', onClientGone);
  if (route.timeoutMs > 0) {
    upReq.setTimeout(route.timeoutMs, () => {
      once(() => events.onFailed('upstream-timeout', 'no answer to the upgrade in time'));
      upReq.destroy();
    });
  }
  upReq.on('error', (e) => once(() => events.onFailed('upstream-unreachable', e.message)));
  upReq.on('upgrade', (upRes, upSocket, upHead) => {
    upReq.setTimeout(0);
    const why = checkSwitch(upRes.statusCode ?? 0, upRes.headers, clientKey);
    if (why !== undefined) {
      upSocket.destroy();
      once(() => events.onFailed('upstream-bad-switch', why));
      return;
    }
    once(() => {
      client.off('close', onClientGone);
      // From here on the socket carries the tunnel, not an HTTP response.
      res.detachSocket(client as Socket);
      const out = buildResponseHeaders(upRes.rawHeaders, route, requestId, ownCookies);
      let lines = 'HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: websocket\r\n';
      for (let i = 0; i < out.length; i += 2) lines += `${out[i]}: ${out[i + 1]}\r\n`;
      client.write(`${lines}\r\n`);
      if (upHead.length > 0) client.write(upHead);
      if (head.length > 0) upSocket.write(head);
      upSocket.pipe(client);
      client.pipe(upSocket);
      const end = (): void => { upSocket.destroy(); client.destroy(); };
      upSocket.on('error', end);
      client.on('error', end);
      upSocket.on('close', end);
      client.on('close', end);
      events.onOpen();
    });
  });
  upReq.on('response', (upRes) => {
    upReq.setTimeout(0);
    const status = upRes.statusCode ?? 502;
    if (status < 200) {
      // A 101 Node did not take as an upgrade (no Upgrade field): never relayed.
      upReq.destroy();
      once(() => events.onFailed('upstream-bad-switch', `status ${status} without a protocol switch`));
      return;
    }
    once(() => {
      // Not a switch: an ordinary answer. Relayed as such on a closing
      // connection; whatever the client sent or sends next is discarded.
      res.writeHead(status, buildResponseHeaders(upRes.rawHeaders, route, requestId, ownCookies));
      upRes.pipe(res);
      upRes.once('error', () => client.destroy());
      res.once('finish', () => upReq.destroy());
      events.onRelayed(status);
    });
  });
  upReq.end();
  return { close: () => { upReq.destroy(); client.destroy(); } };
}
