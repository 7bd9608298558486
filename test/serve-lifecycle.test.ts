/**
 * `limen serve` as a real process, as an orchestrator runs it: a port in
 * use ends it at once with exit code 1 and one line; SIGTERM drains
 * (requests in flight finish, keep-alive clients are told to go and see no
 * reset, the audit trail is flushed, the store closed) and exits 0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { openStore } from '../src/store/index.js';
import { COOKIE_SECRET, freePort, SHARED_SECRET } from './stack.js';
import { REPO_ROOT, request, runCli } from './support/index.js';
import { eventually, startProbeUpstream, type ProbeUpstream } from './support/upstream-probe.js';

const ADMIN_URL = process.env.LIMEN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const dir = mkdtempSync(join(tmpdir(), 'limen-lifecycle-'));
// A `limen serve` process uses the connection string's database as it is,
// so each run gets a database of its own (fresh schema, nothing shared).
const database = `limen_lifecycle_${process.pid}_${randomBytes(4).toString('hex')}`;
const POSTGRES_URL = (() => { const u = new URL(ADMIN_URL); u.pathname = `/${database}`; return u.href; })();
before(async () => {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  await admin.end();
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await admin.end();
});

type StoreKind = 'memory' | 'file' | 'postgres';
const storage = (kind: StoreKind, name: string): Record<string, string> => ({
  databroker_storage_type: kind,
  ...(kind === 'file' ? { databroker_storage_connection_string: join(dir, `${name}.db`) } : {}),
  ...(kind === 'postgres' ? { databroker_storage_connection_string: POSTGRES_URL } : {}),
});

function writeConfig(name: string, port: number, extra: Record<string, unknown>): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, stringify({
    address: `127.0.0.1:${port}`,
    insecure_server: true,
    authenticate_service_url: `http://authenticate.localhost:${port}`,
    // Never contacted: the routes here are public.
    idp_provider_url: 'http://127.0.0.1:9/',
    idp_client_id: 'limen-test',
    shared_secret: SHARED_SECRET,
    cookie_secret: COOKIE_SECRET,
    ...extra,
  }));
  return path;
}

/** Holds a port so that Limen cannot bind it; rejects if it is taken already. */
async function occupy(port: number): Promise<Server> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, '127.0.0.1', resolve);
  });
  return s;
}

/**
 * A held port whose next port is free, both below the kernel's ephemeral
 * range (32768 and up on Linux). The quickstart binds its identity provider
 * on port + 1; in the ephemeral range another test's `listen(0)` or outbound
 * socket can take that port at any moment (a CI run failed that way), below
 * it nothing is handed out by the kernel.
 */
async function occupyBelowEphemeral(): Promise<{ port: number; blocker: Server }> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const next = await occupy(port + 1).catch(() => undefined);
    if (!next) continue;
    await new Promise((r) => next.close(r));
    const blocker = await occupy(port).catch(() => undefined);
    if (blocker) return { port, blocker };
  }
  throw new Error('no free port pair below 32000 after 100 tries');
}

describe('a port already in use ends limen serve with exit code 1 and one line', () => {
  let port: number;
  let blocker: Server;
  before(async () => {
    ({ port, blocker } = await occupyBelowEphemeral());
  });
  after(async () => { await new Promise((r) => blocker.close(r)); });

  for (const kind of ['memory', 'file', 'postgres'] as const) {
    test(`--config on the ${kind} store`, async () => {
      const config = writeConfig(`busy-${kind}`, port, storage(kind, `busy-${kind}`));
      const r = await runCli(['serve', '--config', config]);
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0] ?? '', new RegExp(`^limen serve: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use$`));
    });
  }

  // Regression: the error named neither key, and a host that does not resolve read "getaddrinfo ENOTFOUND".
  test('metrics_address or health_check_addr that cannot be bound: the error names the key', async () => {
    const own = await freePort();
    const cases: { key: string; value: string; want: string }[] = [
      { key: 'metrics_address', value: `127.0.0.1:${port}`, want: `cannot listen on 127.0.0.1:${port} (metrics_address): address already in use` },
      { key: 'health_check_addr', value: 'nosuchhost.invalid:9999', want: 'cannot listen on nosuchhost.invalid:9999 (health_check_addr): the host name does not resolve' },
    ];
    for (const c of cases) {
      const config = writeConfig(`busy-${c.key}`, own, { ...storage('memory', `busy-${c.key}`), [c.key]: c.value });
      const r = await runCli(['serve', '--config', config]);
      assert.equal(r.code, 1, r.stderr);
      assert.deepEqual(r.stderr.trim().split('\n'), [`limen serve: ${c.want}`], c.key);
    }
  });

  // oidc-provider (the quickstart's identity provider) warns about the Node
  // version when it loads; that line is the library's, not Limen's.
  const ownLines = (stderr: string): string[] => stderr.trim().split('\n').filter((l) => !l.startsWith('oidc-provider WARNING'));

  test('the quickstart, its own port taken', async () => {
    const r = await runCli(['serve', '--port', String(port), '--data', join(dir, 'qs1')]);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(ownLines(r.stderr), [`limen serve: cannot listen on 127.0.0.1:${port}: address already in use`]);
  });

  test('the quickstart, its identity provider\'s port taken', async () => {
    const r = await runCli(['serve', '--port', String(port - 1), '--data', join(dir, 'qs2')]);
    assert.equal(r.code, 1, r.stderr);
    const lines = ownLines(r.stderr);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] ?? '', new RegExp(`^limen serve: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));
  });
});

describe('a policy that does not compile ends limen serve with exit code 1, naming its line', () => {
  for (const [kind, workers] of [['memory', 1], ['file', 2]] as const) {
    test(`${kind} store, workers: ${workers}`, async () => {
      const port = await freePort();
      const config = writeConfig(`bad-policy-${kind}`, port, {
        ...storage(kind, `bad-policy-${kind}`), workers,
        routes: [
          { name: 'fine', from: `http://fine.localhost:${port}`, to: 'http://127.0.0.1:9', allow_public_unauthenticated_access: true },
          { name: 'bad', from: `http://bad.localhost:${port}`, to: 'http://127.0.0.1:9', policy: { allow: { or: [{ emial: { is: 'x@example.com' } }] } } },
        ],
      });
      const line = readFileSync(config, 'utf8').split('\n').findIndex((l) => l.includes('emial')) + 1;
      const r = await runCli(['serve', '--config', config]);
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `said once: ${r.stderr}`);
      assert.match(lines[0]!, new RegExp(`^limen serve: routes\\[1\\]\\.policy\\.allow\\.or\\[0\\]: unknown criterion "emial" .*in route "bad" \\(${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}:\\d+\\)$`));
    });
  }
});

describe('limen config check reads the TLS files', () => {
  const cert = join(REPO_ROOT, 'src/config/testdata/tls.pem');
  const key = join(REPO_ROOT, 'src/config/testdata/tls.key');
  const base = { authenticate_service_url: 'https://auth.example.com', idp_provider_url: 'https://idp.example.com', idp_client_id: 'x', shared_secret: SHARED_SECRET, cookie_secret: COOKIE_SECRET, databroker_storage_type: 'memory' };
  const cases: { name: string; doc: Record<string, unknown>; code: number; want: RegExp }[] = [
    { name: 'no certificate', doc: {}, code: 1, want: /certificate_file: required: Limen serves HTTPS/ },
    { name: 'mismatched key', doc: { certificate_file: cert, certificate_key_file: join(REPO_ROOT, 'src/config/testdata/other.key') }, code: 1, want: /certificate_key_file: the key in .* does not belong to the certificate/ },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const path = join(dir, `check-${c.name.replace(/ /g, '-')}.yaml`);
      writeFileSync(path, stringify({ ...base, ...c.doc }));
      const r = await runCli(['config', 'check', '--config', path]);
      assert.equal(r.code, c.code, r.stdout + r.stderr);
      assert.match(r.stdout + r.stderr, c.want);
      assert.ok(!(r.stdout + r.stderr).includes('PRIVATE KEY'), 'no key material in the output');
    });
  }
});

interface ServeProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stdout(): string;
}

/** Starts `limen serve --config` and waits until it listens. */
async function serve(config: string): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--config', config], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = await eventually(() => out.includes('limen listening') || child.exitCode !== null, 60_000);
  assert.ok(listening && child.exitCode === null, `limen serve did not start:\n${out}`);
  return { child, exited, stdout: () => out };
}

/** One HTTP/1.1 keep-alive connection whose every byte and ending is recorded. */
interface KeepAliveClient {
  send(path: string): void;
  received(): string;
  /** 'end' for an orderly close (FIN), 'reset' for ECONNRESET or similar. */
  readonly ended: Promise<'end' | 'reset'>;
}

function keepAliveClient(port: number, host: string): Promise<KeepAliveClient> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d: Buffer) => { data += d.toString('latin1'); });
    const ended = new Promise<'end' | 'reset'>((r) => {
      socket.once('end', () => { socket.end(); r('end'); });
      socket.once('error', () => r('reset'));
    });
    socket.once('error', reject);
    socket.once('connect', () => resolve({
      send: (path) => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\n\r\n`),
      received: () => data,
      ended,
    }));
  });
}

/** Status and headers of every complete response on a connection. */
function responses(raw: string): { status: number; headers: Record<string, string>; requestId: string }[] {
  const out: { status: number; headers: Record<string, string>; requestId: string }[] = [];
  for (const part of raw.split(/(?=HTTP\/1\.1 \d{3})/)) {
    const m = /^HTTP\/1\.1 (\d{3})/.exec(part);
    if (!m) continue;
    const headers: Record<string, string> = {};
    for (const line of part.split('\r\n\r\n')[0]?.split('\r\n').slice(1) ?? []) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    out.push({ status: Number(m[1]), headers, requestId: headers['x-request-id'] ?? '' });
  }
  return out;
}

for (const kind of ['file', 'postgres'] as const) {
  describe(`SIGTERM drains limen serve on the ${kind === 'file' ? 'SQLite' : 'PostgreSQL'} store`, () => {
    let upstream: ProbeUpstream;
    before(async () => { upstream = await startProbeUpstream(); });
    after(async () => { await upstream.close(); });

    test('requests in flight finish with their status, keep-alive clients see no reset, audit rows are stored, exit 0', async () => {
      const port = await freePort();
      const route = `drain-${kind}-${randomBytes(4).toString('hex')}`;
      const host = `drain.localhost:${port}`;
      const config = writeConfig(`drain-${kind}`, port, {
        ...storage(kind, `drain-${kind}`),
        shutdown_timeout: '60s',
        routes: [{ name: route, from: `http://drain.localhost:${port}`, to: upstream.url, allow_public_unauthenticated_access: true }],
      });
      const p = await serve(config);
      try {
        // An idle keep-alive connection (a load balancer's pool) ...
        const idle = await keepAliveClient(port, host);
        idle.send('/fast');
        assert.ok(await eventually(() => responses(idle.received()).length === 1), idle.received());
        // ... and three requests in flight on a slow upstream.
        const busy = await Promise.all([1, 2, 3].map(() => keepAliveClient(port, host)));
        const before = upstream.received('/slow');
        for (const c of busy) c.send('/slow?ms=1500');
        assert.ok(await eventually(() => upstream.received('/slow') === before + 3), 'the upstream has all three requests');

        p.child.kill('SIGTERM');

        assert.equal(await idle.ended, 'end', 'the idle connection is closed without a reset');
        for (const c of busy) {
          assert.equal(await c.ended, 'end', 'no reset after the response');
          const [res] = responses(c.received());
          assert.equal(res?.status, 200, c.received());
          assert.ok(c.received().endsWith('slow done'), c.received());
          assert.equal(res?.headers.connection, 'close', 'the client is told the connection closes');
        }
        assert.equal(await p.exited, 0, p.stdout());

        const store = await openStore({ type: kind, connectionString: kind === 'file' ? join(dir, `drain-${kind}.db`) : POSTGRES_URL });
        try {
          const rows = await store.queryAudit({ route, kind: 'authorize' });
          const ids = new Set(rows.map((r) => r.requestId));
          for (const c of [idle, ...busy]) {
            const id = responses(c.received())[0]?.requestId ?? '';
            assert.ok(id !== '' && ids.has(id), `audit row for request ${id}`);
          }
        } finally {
          await store.close();
        }
      } finally {
        if (p.child.exitCode === null) p.child.kill('SIGKILL');
      }
    });
  });
}

// Regression: a reader that stopped taking standard output (a stalled log shipper on the container's
// pipe) held a stopped limen serve for ever: the thread-pool write blocked on the full pipe, the drain
// at shutdown waited for it, and Node.js waits for that thread at exit. Standard output here is a
// real FIFO (a container runtime's), opened read-write by the test and never read.
describe('SIGTERM ends limen serve within its bounds while nobody reads its standard output', () => {
  let upstream: ProbeUpstream;
  before(async () => { upstream = await startProbeUpstream(); });
  after(async () => { await upstream.close(); });

  for (const workers of [1, 2]) {
    test(`workers: ${workers}`, async () => {
      const port = await freePort();
      const fifo = join(dir, `stalled-${workers}.fifo`);
      execFileSync('mkfifo', [fifo]);
      const out = openSync(fifo, constants.O_RDWR); // a reader that never reads: the pipe fills
      const config = writeConfig(`stalled-${workers}`, port, {
        ...(workers === 1 ? storage('memory', 'stalled') : storage('file', `stalled-${workers}`)), workers, shutdown_timeout: '1s',
        routes: [{ name: 'pub', from: `http://pub.localhost:${port}`, to: upstream.url, allow_public_unauthenticated_access: true }],
      });
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--config', config], {
        cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, stdio: ['ignore', out, 'pipe'],
      });
      let err = '';
      child.stderr?.setEncoding('utf8').on('data', (d: string) => { err += d; });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        // Read until it says it listens (its stop signal handled from then on), then never again.
        const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
        let seen = '';
        const listening = (): boolean => {
          const b = Buffer.alloc(1 << 16);
          try { seen += b.toString('utf8', 0, readSync(reader, b)); } catch { /* EAGAIN: nothing yet */ }
          return seen.includes('limen listening') || child.exitCode !== null;
        };
        const started = await eventually(listening, 120_000);
        closeSync(reader);
        assert.ok(started && child.exitCode === null, `limen serve did not start: ${err}${seen}`);
        // Far more lines than the pipe holds (64 KiB): each request writes three, long with its user agent.
        const agent = 'a'.repeat(2000);
        for (let i = 0; i < 400; i++) assert.equal((await request(`http://pub.localhost:${port}/fast?i=${i}`, { headers: { 'user-agent': agent } })).status, 200);
        child.kill('SIGTERM');
        // Bounds: shutdown_timeout, then at most LOG_DRAIN_LIMIT_MS (5 s) per process for the lines; generous for a loaded machine.
        const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(r, 60_000, 'hung').unref())]);
        assert.equal(code, 0, `exit status (or hung), signal ${child.signalCode}; stderr: ${err}`);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
        closeSync(out);
      }
    });
  }
});
