/**
 * Issue 12: `/readyz` turns unhealthy while the store is unreachable and
 * healthy again after. The test runs its own PostgreSQL server (initdb +
 * pg_ctl in a temporary directory, on its own port), stops it under a
 * running Limen, and starts it again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { closeHttpAgents, request, runCli } from './support/index.js';
import { freePort, startStack, type Stack } from './stack.js';
import { PostgresStore } from '../src/store/index.js';

const PG_BIN = existsSync('/usr/lib/postgresql')
  ? readdirSync('/usr/lib/postgresql').map((v) => join('/usr/lib/postgresql', v, 'bin')).find((d) => existsSync(join(d, 'pg_ctl')))
  : undefined;

/** initdb refuses to run as root: run the server as the postgres user then. */
function pg(tool: string, args: string[]): void {
  const bin = join(PG_BIN!, tool);
  if (userInfo().uid === 0) execFileSync('runuser', ['-u', 'postgres', '--', bin, ...args], { stdio: 'pipe', timeout: 120_000 });
  else execFileSync(bin, args, { stdio: 'pipe', timeout: 120_000 });
}

interface Report { status: string; checks: Record<string, { status: string; error?: string }> }

describe('readyz follows the store', { skip: PG_BIN === undefined ? 'no PostgreSQL server binaries' : false }, () => {
  let dir: string;
  let port: number;
  let s: Stack;
  let store: PostgresStore;
  const start = () => pg('pg_ctl', ['-D', join(dir, 'data'), '-l', join(dir, 'log'), '-w', '-t', '60', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, 'start']);
  const stop = () => pg('pg_ctl', ['-D', join(dir, 'data'), '-w', '-t', '60', '-m', 'fast', 'stop']);
  const readyz = async () => {
    const r = await request(`${s.limen.observability.healthUrl}/readyz`);
    return { status: r.status, body: r.json<Report>() };
  };
  const until = async (want: number) => {
    const end = Date.now() + 60_000;
    for (;;) {
      const r = await readyz();
      if (r.status === want || Date.now() > end) return r;
      await new Promise((res) => setTimeout(res, 250));
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'limen-readyz-'));
    if (userInfo().uid === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
      chownSync(dir, uid, gid);
    }
    port = await freePort();
    pg('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
    start();
    store = await PostgresStore.open({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`, schema: 'limen_readyz' });
    s = await startStack({ store, config: { health_check_addr: '127.0.0.1:0', metrics_address: '127.0.0.1:0' }, routes: [{ name: 'public', from: 'http://public.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true }] });
  });
  after(async () => {
    await s?.close();
    await store?.close().catch(() => undefined);
    try { stop(); } catch { /* already stopped */ }
    rmSync(dir, { recursive: true, force: true });
    await closeHttpAgents();
  });

  const scrape = async (): Promise<{ status: number; storeErrors: number }> => {
    const r = await request(`${s.limen.observability.metricsUrl}/metrics`);
    const errors = [...r.text().matchAll(/^limen_store_operation_errors_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    return { status: r.status, storeErrors: errors };
  };

  test('ready, unready while PostgreSQL is stopped, ready again once it is back; /metrics answers throughout', async () => {
    const up = await readyz();
    assert.equal(up.status, 200);
    assert.equal((await scrape()).status, 200, 'a scrape while the store is up counts the sessions');
    assert.equal(up.body.checks['store-reachable']!.status, 'ok');

    stop();
    const down = await until(503);
    assert.equal(down.status, 503);
    assert.equal(down.body.status, 'unhealthy');
    assert.equal(down.body.checks['store-reachable']!.status, 'failed');
    assert.equal(down.body.checks['config-loaded']!.status, 'ok');
    assert.doesNotMatch(JSON.stringify(down.body), /postgres:\/\/[^<]*@/, 'no connection string in the report');
    // Liveness does not depend on the store: restarting Limen would not bring PostgreSQL back.
    assert.equal((await request(`${s.limen.observability.healthUrl}/healthz`)).status, 200);
    const cli = await runCli(['health', '--address', new URL(s.limen.observability.healthUrl!).host]);
    assert.equal(cli.code, 1, 'limen health fails while not ready');
    // The session count behind limen_active_sessions fails now: the scrape must still answer, with the store errors.
    const during = await scrape();
    assert.equal(during.status, 200);
    assert.ok(during.storeErrors > 0, 'the failed store operations are counted');

    start();
    const back = await until(200);
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(back.body.checks['store-reachable']!.status, 'ok');
    assert.equal((await scrape()).status, 200, 'and after: a failed count is not kept');
  });
});
