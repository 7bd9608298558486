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
import { randomBytes } from 'node:crypto';
import { openSync, writeSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { generateKeyPair, SignJWT } from 'jose';
import { Agent, type Dispatcher } from 'undici';
import { cookieValue } from '../../src/http/index.js';
import { isoTime } from '../../src/log/index.js';
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

/**
 * `contract`: the floor plus the least a signed-in request must cost under
 * CONTRACT, each in its cheapest form: a request id
 * (to the upstream and the client), the caller found from the session
 * cookie (a map keyed by the token's end, the whole token compared), the
 * cookie kept from the upstream, the identity JWT (signed once at start,
 * of the claims and header Limen signs, as Limen caches it per identity)
 * and the claim headers, and the audit trail (CONTRACT §6): one JSON line
 * per decision, written in 64 KiB batches to /dev/null, and a row kept as
 * JSON text in pages of 256, as the memory store keeps it. Of Limen's
 * code only two text helpers (the cookie reader and the time format); what
 * Limen's signed-in request costs beyond this is Limen's own.
 */
interface Contract {
  readonly jwt: string;
  readonly callers: Map<string, { readonly token: string; readonly user: string; readonly email: string; readonly session: string }>;
  lines: string;
  page: string[];
  readonly pages: string[];
  readonly fd: number;
  next: number;
  readonly prefix: string;
}

async function contractOf(): Promise<Contract> {
  const { privateKey } = await generateKeyPair('ES256');
  const now = Math.floor(Date.now() / 1000);
  const jwt = await new SignJWT({
    iss: 'signed.localhost', aud: 'signed.localhost', jti: randomBytes(16).toString('hex'), sub: 'dev-0123456789abcdef', user: 'dev-0123456789abcdef',
    email: 'bench@example.com', groups: ['eng', 'staff'], sid: randomBytes(24).toString('base64url'), name: 'bench',
  }).setProtectedHeader({ alg: 'ES256', kid: randomBytes(32).toString('hex'), typ: 'JWT' }).setIssuedAt(now).setExpirationTime(now + 300).sign(privateKey);
  return { jwt, callers: new Map(), lines: '', page: [], pages: [], fd: openSync('/dev/null', 'a'), next: 0, prefix: randomBytes(6).toString('base64url') };
}

/** The upstream headers under the contract, and the audit line and row; the request id. */
function contractRequest(c: Contract, req: IncomingMessage, host: string): { headers: string[]; requestId: string } {
  const requestId = `${c.prefix}${(++c.next).toString(36)}`;
  const token = cookieValue(req.headers.cookie, '_pomerium') ?? '';
  const key = token.length > 32 ? token.slice(-32) : token;
  let caller = c.callers.get(key);
  if (caller === undefined || caller.token !== token) {
    // Worked out once (Limen verifies and reads the session), then remembered.
    caller = { token, user: 'dev-0123456789abcdef', email: 'bench@example.com', session: 'sess-0123456789' };
    c.callers.set(key, caller);
  }
  const out: string[] = ['host', host];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (!HOP_BY_HOP.has(lower) && lower !== 'cookie') out.push(raw[i]!, raw[i + 1]!);
  }
  out.push('x-request-id', requestId, 'x-pomerium-jwt-assertion', c.jwt, 'x-pomerium-claim-email', caller.email, 'x-pomerium-claim-groups', 'eng,staff');
  const time = isoTime(Date.now());
  const path = req.url ?? '/';
  const details = `{"method":"${req.method}","host":"signed.localhost","path":${JSON.stringify(path)},"ip":"127.0.0.1","reasons":["authenticated-user"],"rule":"rules[0].allow","session_id":"${caller.session}"}`;
  const eventId = `${c.prefix}.${c.next.toString(36)}`;
  c.lines += `{"time":"${time}","level":"info","message":"audit","audit":"authorize","eventId":"${eventId}","requestId":"${requestId}","decision":"allow","route":"signed","userId":"${caller.user}","email":"${caller.email}",${details.slice(1)}\n`;
  if (c.lines.length >= 65_536) { writeSync(c.fd, c.lines); c.lines = ''; }
  c.page.push(`[${c.next},${Date.now()},"authorize","${requestId}","allow","signed","${caller.user}","${caller.email}",null,"${eventId}",${details}]`);
  if (c.page.length === 256) {
    c.pages.push(`[${c.page.join(',')}]`);
    c.page = [];
    if (c.pages.length > 200) c.pages.shift();
  }
  return { headers: out, requestId };
}

async function serve(upstreamUrl: string, contract = false): Promise<Ready> {
  const upstream = new URL(upstreamUrl);
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 256 });
  const c = contract ? await contractOf() : undefined;
  if (c !== undefined) setInterval(() => { if (c.lines !== '') { writeSync(c.fd, c.lines); c.lines = ''; } }, 20).unref();
  const server = createServer((req, res) => {
    const under = c === undefined ? undefined : contractRequest(c, req, upstream.host);
    agent.dispatch({
      origin: upstream.origin,
      path: req.url ?? '/',
      method: req.method as Dispatcher.HttpMethod,
      headers: under === undefined ? requestHeaders(req, upstream.host) : under.headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
    }, {
      onRequestStart() {},
      onResponseStart(_c, status, headers) {
        const h: Record<string, string | string[]> = {};
        for (const k in headers) if (!HOP_BY_HOP.has(k)) h[k] = headers[k]!;
        if (under !== undefined) h['x-request-id'] = under.requestId;
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
  onStartMessage((m: FloorStart) => ((m.workers ?? 1) > 1 ? startWorkers(m.upstreamUrl, m.workers!) : serve(m.upstreamUrl, m.contract === true)));
} else {
  // In a cluster, listen(0) in every worker gives them all one port.
  void serve(process.env.FLOOR_UPSTREAM_URL ?? '').then((r) => process.send?.(r));
  process.on('disconnect', () => process.exit(0));
}
