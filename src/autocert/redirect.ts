/**
 * The plain-HTTP listener (`http_redirect_addr`): answers ACME HTTP-01
 * challenges (RFC 8555 §8.3) at `/.well-known/acme-challenge/<token>` and
 * sends every other request to the same host and path over HTTPS with a 301.
 * Nothing else is served on it: no route, no sign-in, no cookie.
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
// A DNS name or a bracketed IPv6 literal, with an optional port.
const HOST_HEADER = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\]|[0-9.]+)(?::\d{1,5})?$/;

export interface RedirectListenerOptions {
  readonly address: { readonly host: string; readonly port: number };
  /** The key authorization for a token, or undefined. */
  readonly challengeAnswer: (token: string) => string | undefined;
  /** The HTTPS port the configured URLs give for `host` (443 when none does). */
  readonly httpsPort: (host: string) => number;
}

export interface RedirectListener {
  readonly port: number;
  close(): Promise<void>;
}

export async function startRedirectListener(o: RedirectListenerOptions): Promise<RedirectListener> {
  const server: Server = createServer({ maxHeaderSize: 8 * 1024, requireHostHeader: false }, (req, res) => {
    const target = req.url ?? '/';
    const send = (status: number, body: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (target.startsWith(CHALLENGE_PREFIX) && (req.method === 'GET' || req.method === 'HEAD')) {
      const answer = o.challengeAnswer(target.slice(CHALLENGE_PREFIX.length));
      if (answer === undefined) { send(404, 'No such ACME challenge.\n'); return; }
      send(200, answer);
      return;
    }
    const host = req.headers.host ?? '';
    if (!HOST_HEADER.test(host) || !target.startsWith('/')) { send(400, 'Bad request: a Host header and an origin-form target are required.\n'); return; }
    const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
    const port = o.httpsPort(name.toLowerCase());
    const location = `https://${name}${port === 443 ? '' : `:${port}`}${target}`;
    send(301, `Moved to ${location}\n`, { location });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.address.port, o.address.host || undefined, () => { server.off('error', reject); resolve(); });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
