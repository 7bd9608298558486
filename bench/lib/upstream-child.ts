/**
 * The benchmark's upstream, in its own process so that it never competes
 * with the proxy under test for an event loop: either a minimal node:http
 * server answering a small fixed body (the default: it is several times
 * faster than the demo upstream, so it is not the bottleneck), or the demo
 * upstream from src/devidp.
 */
import { createServer } from 'node:http';
import { startDemoUpstream } from '../../src/devidp/index.js';
import { listenOnLoopback, onStartMessage } from './child.js';
import { ECHO_PATH, MINIMAL_BODY, type Ready, type UpstreamStart } from './messages.js';

const body = Buffer.from(MINIMAL_BODY);

function startMinimal(): Promise<Ready> {
  const server = createServer((req, res) => {
    if (req.url === ECHO_PATH) {
      const json = JSON.stringify({ headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
      res.end(json);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
    res.end(body);
  });
  return listenOnLoopback(server);
}

async function start(m: UpstreamStart): Promise<Ready> {
  if (m.kind === 'minimal') return startMinimal();
  const demo = await startDemoUpstream({ host: '127.0.0.1', port: 0 });
  return { type: 'ready', url: demo.url, port: demo.port };
}

onStartMessage(start);
