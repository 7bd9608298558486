/**
 * The floor: the least any Node.js reverse proxy built like Limen can cost
 * here. A node:http server that hands every request to an undici Agent with
 * the dispatch API (Limen's own forwarding path) and streams the answer back,
 * with no routing, identity, policy, headers policy or audit. Limen can only
 * approach this figure; where a target asks for more than the floor reaches,
 * no amount of work on Limen's own code meets it in one Node process.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
import { listenOnLoopback, onStartMessage } from './child.js';
import type { FloorStart, Ready } from './messages.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);

function requestHeaders(req: IncomingMessage, host: string): string[] {
  const out: string[] = ['host', host];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

function start(m: FloorStart): Promise<Ready> {
  const upstream = new URL(m.upstreamUrl);
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 256 });
  const server = createServer((req, res) => {
    agent.dispatch({
      origin: upstream.origin,
      path: req.url ?? '/',
      method: req.method as Dispatcher.HttpMethod,
      headers: requestHeaders(req, upstream.host),
      body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
    }, {
      onRequestStart() {},
      onResponseStart(_c, status, headers) {
        const h: Record<string, string | string[]> = {};
        for (const k in headers) if (!HOP_BY_HOP.has(k)) h[k] = headers[k]!;
        res.writeHead(status, h);
      },
      onResponseData(_c, chunk) { res.write(chunk); },
      onResponseEnd() { res.end(); },
      onResponseError() { if (!res.headersSent) res.writeHead(502); res.end(); },
    });
  });
  return listenOnLoopback(server);
}

onStartMessage(start);
