/**
 * The floor: the least any Node.js reverse proxy built like Limen can cost
 * here. A node:http server that hands every request to an undici Agent with
 * the dispatch API (Limen's own forwarding path) and streams the answer back,
 * with no routing, identity, policy, headers policy or audit. Limen can only
 * approach this figure; where a target asks for more than the floor reaches,
 * no amount of work on Limen's own code meets it in one Node process.
 *
 * With `workers` > 1 it is the floor on every core: this process becomes a
 * node:cluster primary and forks that many workers, each the same server,
 * sharing one port by the cluster's round robin (as `limen serve` with
 * `workers` does on Node.js 20). It bounds what Limen's `workers: auto` can
 * reach against a peer on the same machine.
 */
import cluster from 'node:cluster';
import { createServer, type IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
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

function serve(upstreamUrl: string): Promise<Ready> {
  const upstream = new URL(upstreamUrl);
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

/** The primary: forks `workers` servers and is ready when every one listens (all on the same port). */
async function startWorkers(upstreamUrl: string, workers: number): Promise<Ready> {
  cluster.setupPrimary({ exec: fileURLToPath(import.meta.url), execArgv: process.execArgv });
  const ready = Array.from({ length: workers }, () => {
    // Told through its environment: a message sent before the worker has loaded would be lost.
    const w = cluster.fork({ FLOOR_UPSTREAM_URL: upstreamUrl });
    return new Promise<Ready>((resolve, reject) => {
      w.once('message', (r: Ready) => resolve(r));
      w.once('exit', (code) => reject(new Error(`a floor worker exited with ${code} before listening`)));
    });
  });
  const all = await Promise.all(ready);
  if (new Set(all.map((r) => r.port)).size !== 1) throw new Error('floor workers listen on different ports');
  return all[0]!;
}

if (cluster.isPrimary) {
  onStartMessage((m: FloorStart) => ((m.workers ?? 1) > 1 ? startWorkers(m.upstreamUrl, m.workers!) : serve(m.upstreamUrl)));
} else {
  // In a cluster, listen(0) in every worker gives them all one port.
  void serve(process.env.FLOOR_UPSTREAM_URL ?? '').then((r) => process.send?.(r));
  process.on('disconnect', () => process.exit(0));
}
