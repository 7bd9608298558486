/**
 * `limen serve` with `workers: 2` as real processes (issue 16), on SQLite
 * and on PostgreSQL: both workers serve (their pids in the access lines);
 * a group membership removed and a session revoked by the CLI (another
 * process) are honoured on the next request whichever worker serves it; a reload reaches every worker;
 * /metrics sums the workers; a worker killed with SIGKILL is replaced and
 * the group keeps serving; every line reaches standard output whole while
 * its reader stalls; SIGTERM drains a request in flight and the primary
 * exits 0. The memory store refuses more than one worker.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { startDevIdp, type DevIdp } from '../src/devidp/index.js';
import { COOKIE_SECRET, freePort, SHARED_SECRET } from './stack.js';
import { closeHttpAgents, CookieJar, REPO_ROOT, runCli, scriptedLogin } from './support/index.js';
import { eventually, startProbeUpstream, type ProbeUpstream } from './support/upstream-probe.js';

const ADMIN_URL = process.env.LIMEN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const dir = mkdtempSync(join(tmpdir(), 'limen-workers-'));
const database = `limen_workers_${process.pid}_${randomBytes(4).toString('hex')}`;
const POSTGRES_URL = (() => { const u = new URL(ADMIN_URL); u.pathname = `/${database}`; return u.href; })();

before(async () => {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  await admin.end();
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await closeHttpAgents();
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await admin.end();
});

interface Served {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  out(): string;
  /** JSON lines written so far. */
  lines(): Record<string, unknown>[];
}

function serve(config: string): Served {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--config', config], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child, exited, out: () => out,
    lines: () => out.split('\n').flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } }),
  };
}

/**
 * One request on a connection of its own (so the kernel or the primary
 * picks a worker afresh each time), with the jar's cookies.
 */
function fresh(port: number, host: string, path: string, jar?: CookieJar): Promise<{ status: number; requestId: string; body: string }> {
  const url = new URL(`http://${host}${path}`);
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1', port, path, method: 'GET', agent: false,
      headers: { host, accept: 'application/json', connection: 'close', ...(jar ? { cookie: jar.header(url) } : {}) },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, requestId: String(res.headers['x-request-id'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The pids of the workers whose access lines name these request ids (waits for the lines). */
async function servedBy(s: Served, ids: readonly string[]): Promise<Set<number>> {
  const want = new Set(ids);
  const found = (): Map<string, number> => new Map(s.lines()
    .filter((l) => l.message === 'http-request' && want.has(String(l['request-id'])))
    .map((l) => [String(l['request-id']), Number(l.pid)]));
  assert.ok(await eventually(() => found().size === want.size, 20_000), `access lines for ${ids.length} requests`);
  return new Set(found().values());
}

/**
 * Requests on fresh connections, each checked by `check`, until both
 * workers have served some (node:cluster alternates; SO_REUSEPORT hashes
 * the connection, so it can take a few more); returns their request ids.
 */
async function acrossWorkers(s: Served, send: () => Promise<{ status: number; requestId: string; body: string }>, check: (r: { status: number; body: string }, i: number) => void, min = 8): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < 64; i++) {
    const r = await send();
    check(r, i);
    ids.push(r.requestId);
    if (ids.length >= min && ids.length % 4 === 0 && (await servedBy(s, ids)).size === 2) return ids;
  }
  assert.fail(`${ids.length} requests on fresh connections were all served by one worker`);
}

const workerPids = (s: Served): number[] => s.lines().filter((l) => l.message === 'worker listening').map((l) => Number(l.pid));

for (const kind of ['file', 'postgres'] as const) {
  describe(`workers: 2 on ${kind === 'file' ? 'SQLite' : 'PostgreSQL'}`, () => {
    let idp: DevIdp;
    let upstream: ProbeUpstream;
    let s: Served;
    let port: number;
    let metricsPort: number;
    let healthPort: number;
    let configPath: string;
    let doc: Record<string, unknown>;
    const jar = new CookieJar();
    const host = (name: string): string => `${name}.localhost:${port}`;

    before(async () => {
      [port, metricsPort, healthPort] = [await freePort(), await freePort(), await freePort()];
      upstream = await startProbeUpstream();
      const clientSecret = randomBytes(16).toString('hex');
      const authOrigin = `http://authenticate.localhost:${port}`;
      idp = await startDevIdp({ clients: [{ clientId: 'limen-test', clientSecret, redirectUris: [`${authOrigin}/oauth2/callback`], postLogoutRedirectUris: [] }], log: () => {} });
      configPath = join(dir, `${kind}.yaml`);
      doc = {
        address: `127.0.0.1:${port}`,
        insecure_server: true,
        authenticate_service_url: authOrigin,
        idp_provider_url: idp.issuer,
        idp_client_id: 'limen-test',
        idp_client_secret: clientSecret,
        shared_secret: SHARED_SECRET,
        cookie_secret: COOKIE_SECRET,
        databroker_storage_type: kind,
        databroker_storage_connection_string: kind === 'file' ? join(dir, 'limen.db') : POSTGRES_URL,
        metrics_address: `127.0.0.1:${metricsPort}`,
        health_check_addr: `127.0.0.1:${healthPort}`,
        shutdown_timeout: '30s',
        workers: 2,
        routes: [
          { name: 'app', from: `http://app.localhost:${port}`, to: upstream.url, allow_any_authenticated_user: true },
          { name: 'pub', from: `http://pub.localhost:${port}`, to: upstream.url, allow_public_unauthenticated_access: true },
          { name: 'staff', from: `http://staff.localhost:${port}`, to: upstream.url, policy: { allow: { or: [{ groups: { has: 'staff' } }] } } },
        ],
      };
      writeFileSync(configPath, stringify(doc));
      s = serve(configPath);
      assert.ok(await eventually(() => s.out().includes('"limen listening"') || s.child.exitCode !== null, 120_000), s.out());
      assert.equal(s.child.exitCode, null, s.out());
      // The workers' own lines come through the primary's copy, a moment after its own.
      assert.ok(await eventually(() => workerPids(s).length === 2, 10_000), s.out());
    });
    after(async () => {
      if (s.child.exitCode === null) { s.child.kill('SIGKILL'); await s.exited; }
      await idp.close();
      await upstream.close();
    });

    test('two workers listen; health lists both', async () => {
      const listening = s.lines().find((l) => l.message === 'limen listening');
      assert.equal(listening?.workers, 2);
      assert.equal(workerPids(s).length, 2);
      const ready = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
      const report = await ready.json() as { status: string; checks: Record<string, { status: string }>; workers: { pid: number; status: string }[] };
      assert.equal(ready.status, 200, JSON.stringify(report));
      assert.equal(report.checks.workers?.status, 'ok');
      assert.deepEqual(report.workers.map((w) => w.pid).sort(), workerPids(s).sort());
    });

    test('a directory change and a session revoked by the CLI apply on the next request, in every worker', async () => {
      const added = await runCli(['users', 'add', '--email', 'dana@contractor.io', '--groups', 'staff', '--config', configPath]);
      assert.equal(added.code, 0, added.stderr);
      const signedIn = await scriptedLogin(`http://${host('app')}/fast`, 'dana@contractor.io', { jar });
      assert.equal(signedIn.response.status, 200);
      // Both workers serve the signed-in user, in the directory's group.
      await acrossWorkers(s, () => fresh(port, host('app'), '/fast', jar), (r) => assert.equal(r.status, 200, r.body));
      // Each route host has its cookie: the IdP session carries the browser through.
      assert.equal((await scriptedLogin(`http://${host('staff')}/fast`, 'dana@contractor.io', { jar })).response.status, 200);
      await acrossWorkers(s, () => fresh(port, host('staff'), '/fast', jar), (r) => assert.equal(r.status, 200, r.body));

      // A directory change by the CLI: both workers refuse the group's route from the next request on.
      const removed = await runCli(['groups', 'members', 'staff', '--remove', 'dana@contractor.io', '--config', configPath]);
      assert.equal(removed.code, 0, removed.stderr);
      await acrossWorkers(s, () => fresh(port, host('staff'), '/fast', jar), (r, i) => assert.equal(r.status, 403, `request ${i} after the change: ${r.body}`));

      const revoked = await runCli(['sessions', 'revoke', '--user', 'dana@contractor.io', '--config', configPath]);
      assert.equal(revoked.code, 0, revoked.stderr);

      // Both workers refuse it, from the first request on.
      await acrossWorkers(s, () => fresh(port, host('app'), '/fast', jar), (r, i) => assert.equal(r.status, 401, `request ${i} after the revocation: ${r.body}`));
    });

    /** The summed count of GET 2xx on the route pub. */
    const scrape = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const m = /^limen_http_requests_total\{route="pub",method="GET",status_class="2xx"\} (\d+)$/m.exec(text);
      return m ? Number(m[1]) : 0;
    };

    test('/metrics sums the workers', async () => {
      const before = await scrape();
      const ids = await acrossWorkers(s, () => fresh(port, host('pub'), '/fast'), (r) => assert.equal(r.status, 200));
      assert.equal(await scrape(), before + ids.length, 'one scrape counts the requests of both workers');
    });

    test('a config reload reaches every worker', async () => {
      const reloadedBefore = s.lines().filter((l) => l.message === 'config reloaded').length;
      writeFileSync(configPath, stringify({ ...doc, routes: [...(doc.routes as unknown[]), { name: 'new', from: `http://new.localhost:${port}`, to: upstream.url, allow_public_unauthenticated_access: true }] }));
      assert.ok(await eventually(() => s.lines().filter((l) => l.message === 'config reloaded').length === reloadedBefore + 2, 30_000), s.out());
      // Both workers serve the new route.
      await acrossWorkers(s, () => fresh(port, host('new'), '/fast'), (r) => assert.equal(r.status, 200, r.body));

      // An invalid file: the primary says so once; every worker keeps serving its config.
      writeFileSync(configPath, 'routes: [\n');
      assert.ok(await eventually(() => s.lines().some((l) => l.message === 'config reload failed; keeping the running config'), 30_000), s.out());
      const failed = s.lines().filter((l) => l.message === 'config reload failed; keeping the running config');
      assert.equal(failed.length, 1, 'logged once, by the primary');
      assert.equal(failed[0]?.worker, undefined);
      await acrossWorkers(s, () => fresh(port, host('new'), '/fast'), (r) => assert.equal(r.status, 200, r.body));

      // A file that parses but whose policy does not compile: refused once by the primary, never handed to the workers
      // (a worker replaced later would take it and fail to start).
      writeFileSync(configPath, stringify({ ...doc, routes: [...(doc.routes as unknown[]), { name: 'new', from: `http://new.localhost:${port}`, to: upstream.url, policy: { allow: { or: [{ emial: { is: 'x@example.com' } }] } } }] }));
      assert.ok(await eventually(() => s.lines().filter((l) => l.message === 'config reload failed; keeping the running config').length === 2, 30_000), s.out());
      const refused = s.lines().filter((l) => l.message === 'config reload failed; keeping the running config').at(-1)!;
      assert.equal(refused.worker, undefined, 'the primary refused it');
      assert.match(String(refused.error), /unknown criterion "emial"/);
      assert.match(String(refused.error), /\.yaml:\d+:\d+\)/, 'with its line, as limen config check gives it');
      await acrossWorkers(s, () => fresh(port, host('new'), '/fast'), (r) => assert.equal(r.status, 200, r.body));
      assert.equal(s.lines().filter((l) => l.message === 'config reload failed; keeping the running config').length, 2, 'no worker was asked to load it');

      // The file put back, then SIGHUP sent to one worker: the primary re-reads it for every worker.
      const reloads = (): number => s.lines().filter((l) => l.message === 'config reloaded').length;
      const fixedBefore = reloads();
      writeFileSync(configPath, stringify({ ...doc, routes: [...(doc.routes as unknown[]), { name: 'new', from: `http://new.localhost:${port}`, to: upstream.url, allow_public_unauthenticated_access: true }] }));
      // (The text is the one running, so the file change alone reloads nothing; SIGHUP forces it.)
      process.kill(workerPids(s)[0]!, 'SIGHUP');
      assert.ok(await eventually(() => reloads() === fixedBefore + 2, 30_000), s.out());
      assert.equal(workerPids(s).length, 2, 'SIGHUP ends no worker');
    });

    test('a worker killed with SIGKILL is replaced; the group keeps serving; no summed counter goes back', async () => {
      const [victim, survivor] = workerPids(s);
      // Both workers have counted requests on pub (above); the victim's, as this scrape saw them, stay in the sums.
      const counted = await scrape();
      assert.ok(counted > 0);
      process.kill(victim!, 'SIGKILL');
      assert.ok(await eventually(() => s.lines().some((l) => l.message === 'worker replaced'), 60_000), s.out());
      const exited = s.lines().find((l) => l.message === 'worker exited; starting another');
      assert.equal(exited?.pid, victim);
      assert.equal(exited?.signal, 'SIGKILL');
      assert.ok(await eventually(() => workerPids(s).length === 3, 10_000), 'the replacement\'s own line arrives');
      const replacement = workerPids(s).at(-1)!;
      assert.ok(replacement !== victim && replacement !== survivor);
      const ids = await acrossWorkers(s, () => fresh(port, host('pub'), '/fast'), (r) => assert.equal(r.status, 200));
      assert.deepEqual([...await servedBy(s, ids)].sort(), [survivor!, replacement].sort(), 'the survivor and the replacement serve');
      assert.equal(await scrape(), counted + ids.length, 'the killed worker\'s requests are still counted');
      // The replacement took the reloaded config from the primary.
      assert.equal((await fresh(port, host('new'), '/fast')).status, 200);

      // Regression: with every worker replaced, reloads stopped being counted (the largest worker's count, kept from the dead, hid them).
      const reloadsBefore = await reloadCounts();
      process.kill(survivor!, 'SIGKILL');
      assert.ok(await eventually(() => s.lines().filter((l) => l.message === 'worker replaced').length === 2, 60_000), s.out());
      const running = readFileSync(configPath, 'utf8');
      const failedBefore = s.lines().filter((l) => l.message === 'config reload failed; keeping the running config').length;
      writeFileSync(configPath, 'routes: [\n');
      assert.ok(await eventually(() => s.lines().filter((l) => l.message === 'config reload failed; keeping the running config').length === failedBefore + 1, 30_000), s.out());
      assert.deepEqual(await reloadCounts(), { success: reloadsBefore.success, failure: reloadsBefore.failure + 1 });
      writeFileSync(configPath, running); // the running text back: reloaded, counted as a success
      assert.ok(await eventually(async () => (await reloadCounts()).success === reloadsBefore.success + 1, 30_000), s.out());
    });

    /** limen_config_reloads_total as one scrape shows it. */
    const reloadCounts = async (): Promise<{ success: number; failure: number }> => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const count = (result: string): number => Number(new RegExp(`^limen_config_reloads_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
      return { success: count('success'), failure: count('failure') };
    };

    // Once is enough: the store plays no part in it.
    if (kind === 'file') test('under load with long lines, both workers\' lines reach standard output whole', async () => {
      // Lines of about 3 KB (the path is in the access, authorize and audit lines), many per batch from each worker at once.
      const pad = 'p'.repeat(3000);
      const sent = 480;
      let next = 0;
      const one = async (): Promise<void> => {
        while (next < sent) {
          next++;
          const r = await fresh(port, host('pub'), `/fast/${pad}`);
          assert.equal(r.status, 200);
        }
      };
      const before = s.out().length;
      // A reader that stops reading for a while (a stalled log shipper): the pipe fills and writes wait.
      s.child.stdout?.pause();
      const resume = setTimeout(() => s.child.stdout?.resume(), 1500);
      await Promise.all(Array.from({ length: 12 }, one));
      await new Promise((r) => setTimeout(r, 1600));
      clearTimeout(resume);
      s.child.stdout?.resume();
      const whole = (): { lines: Record<string, unknown>[]; torn: string[] } => {
        const text = s.out().slice(before);
        const lines: Record<string, unknown>[] = [];
        const torn: string[] = [];
        for (const l of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) {
          if (l === '') continue;
          try { lines.push(JSON.parse(l) as Record<string, unknown>); } catch { torn.push(l.slice(0, 120)); }
        }
        return { lines, torn };
      };
      const access = () => whole().lines.filter((l) => l.message === 'http-request' && String(l.path).endsWith(pad));
      assert.ok(await eventually(() => access().length >= sent, 20_000), `${access().length} of ${sent} access lines`);
      const { torn } = whole();
      assert.deepEqual(torn, [], 'every line parses as JSON');
      assert.equal(new Set(access().map((l) => l.pid)).size, 2, 'both workers served');
    });

    test('SIGTERM: a request in flight finishes, every worker exits, the primary exits 0', async () => {
      const before = upstream.received('/slow');
      const inFlight = fresh(port, host('pub'), '/slow?ms=1500');
      assert.ok(await eventually(() => upstream.received('/slow') === before + 1), 'the upstream has the request');
      s.child.kill('SIGTERM');
      const r = await inFlight;
      assert.equal(r.status, 200);
      assert.equal(r.body, 'slow done');
      assert.equal(await s.exited, 0, s.out());
      assert.equal(s.lines().filter((l) => l.message === 'shut down' && l.worker !== undefined).length, 2, 'both workers drained');
    });
  });
}

// Regression: with workers the primary copies the workers' lines to its standard output, and the lines it
// failed to write there (its reader gone: EPIPE) were counted nowhere; limen_log_lines_dropped_total stayed 0.
test('workers: 2, standard output closed by its reader: the lines lost are counted, and requests are still served', async () => {
  const upstream = await startProbeUpstream();
  const [port, metricsPort] = [await freePort(), await freePort()];
  const path = join(dir, 'stdout-closed.yaml');
  writeFileSync(path, stringify({
    address: `127.0.0.1:${port}`, insecure_server: true, authenticate_service_url: `http://authenticate.localhost:${port}`,
    idp_provider_url: 'http://127.0.0.1:9/', idp_client_id: 'x', shared_secret: SHARED_SECRET, cookie_secret: COOKIE_SECRET,
    databroker_storage_type: 'file', databroker_storage_connection_string: join(dir, 'stdout-closed.db'),
    metrics_address: `127.0.0.1:${metricsPort}`, workers: 2,
    routes: [{ name: 'pub', from: `http://pub.localhost:${port}`, to: upstream.url, allow_public_unauthenticated_access: true }],
  }));
  const s = serve(path);
  try {
    assert.ok(await eventually(() => workerPids(s).length === 2 || s.child.exitCode !== null, 120_000), s.out());
    const lost = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const m = /^limen_log_lines_dropped_total (\d+)$/m.exec(text);
      assert.ok(m, 'the counter is served');
      return Number(m[1]);
    };
    // The lines one request writes (its authorize, audit and access lines), read while standard output still is.
    const probe = await fresh(port, `pub.localhost:${port}`, '/fast');
    const linesOf = (): number => s.out().split('\n').filter((l) => l.includes(probe.requestId)).length;
    assert.ok(await eventually(() => linesOf() >= 3, 10_000), s.out());
    const perRequest = linesOf();
    const before = await lost();
    // The reader goes away: every write to the primary's standard output now fails (EPIPE).
    s.child.stdout?.destroy();
    const sent = 200;
    for (let i = 0; i < sent; i++) assert.equal((await fresh(port, `pub.localhost:${port}`, '/fast')).status, 200, `request ${i}`);
    const want = sent * perRequest; // at least: the primary's own log lines are lost too
    assert.ok(await eventually(async () => (await lost()) - before >= want, 20_000), `counted ${await lost() - before} lines lost, want at least ${want}`);
    assert.equal(s.child.exitCode, null, 'the primary is still running');
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0, 'and stops cleanly');
  } finally {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await s.exited;
    await upstream.close();
  }
});

test('the memory store refuses workers: 2, naming the key', async () => {
  const path = join(dir, 'memory.yaml');
  writeFileSync(path, stringify({
    address: '127.0.0.1:0', insecure_server: true, authenticate_service_url: 'http://authenticate.localhost',
    idp_provider_url: 'http://127.0.0.1:9/', idp_client_id: 'x', shared_secret: SHARED_SECRET, cookie_secret: COOKIE_SECRET,
    databroker_storage_type: 'memory', workers: 2,
  }));
  const r = await runCli(['serve', '--config', path]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^limen serve: .*workers: 2 worker processes cannot share the memory store .*set workers: 1, or databroker_storage_type: file or postgres/m);
});
