/**
 * The read cache on PostgreSQL: a change made by one replica is honoured by
 * another within the freshness bound, whether or not its notification
 * arrives (listener killed and kept away, database link frozen), and a
 * replica that cannot confirm it is within the bound reads through or fails
 * closed instead of serving what it cached.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';

import { runStoreContract } from './contract.js';
import { PostgresStore, ReadCachingStore, type Store } from './index.js';

const POSTGRES_URL = process.env.LIMEN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const BOUND_MS = 400;

/** A TCP relay to PostgreSQL whose traffic can be frozen (a network partition that sends no RST). */
class FreezableLink {
  #server: Server;
  #sockets = new Set<Socket>();
  frozen = false;
  port = 0;

  constructor(target: URL) {
    this.#server = createServer((client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('error', () => { client.destroy(); upstream.destroy(); });
        s.on('close', () => { this.#sockets.delete(s); client.destroy(); upstream.destroy(); });
      }
      client.on('data', (d) => { if (!this.frozen) upstream.write(d); });
      upstream.on('data', (d) => { if (!this.frozen) client.write(d); });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as AddressInfo).port;
  }

  url(base: string): string {
    const u = new URL(base);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

const hot = (type: string): boolean => type === 'session';

describe('read cache on PostgreSQL (bounded)', () => {
  const run = `limen_cache_${process.pid}_${randomBytes(4).toString('hex')}`;
  const schemas: string[] = [];
  let n = 0;
  const newSchema = (): string => {
    const schema = `${run}_${++n}`;
    schemas.push(schema);
    return schema;
  };
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  admin.on('error', () => undefined);
  before(async () => { await admin.query('SELECT 1'); });
  after(async () => {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  const schemaOf = new WeakMap<Store, string>();
  runStoreContract('postgres behind the read cache', async () => {
    const schema = newSchema();
    const raw = await PostgresStore.open({ connectionString: POSTGRES_URL, schema });
    const s = new ReadCachingStore(raw, () => true);
    schemaOf.set(s, schema);
    // Reads are cached (and frozen) once the replica has confirmed its view.
    await raw.watching();
    await waitFor(() => s.isFresh(), 'the cache confirms its view');
    return s;
  }, {
    frozenReads: true,
    dedupesAuditIds: true,
    openPeer: async (s) => PostgresStore.open({ connectionString: POSTGRES_URL, schema: schemaOf.get(s)! }),
  });

  /** Replica A (cached, watching) and replica B (writes), on one fresh schema. */
  async function replicas(opts: { aUrl?: string; queryTimeoutMs?: number } = {}) {
    const schema = newSchema();
    const b = await PostgresStore.open({ connectionString: POSTGRES_URL, schema });
    const rawA = await PostgresStore.open({
      connectionString: opts.aUrl ?? POSTGRES_URL, schema, freshnessBoundMs: BOUND_MS, reconnectDelayMs: 20,
      queryTimeoutMs: opts.queryTimeoutMs ?? 2000, onListenerError: () => undefined,
    });
    const freshness: boolean[] = [];
    const a = new ReadCachingStore(rawA, hot, { onFreshnessChange: (fresh) => freshness.push(fresh) });
    await rawA.watching();
    await waitFor(() => a.isFresh(), 'replica A confirms its view after start');
    return { a, rawA, b, freshness, async close() { await a.close(); await b.close(); } };
  }

  test('a change on one replica is honoured on another within the bound, notifications working', async () => {
    const r = await replicas();
    try {
      await r.b.put('session', 's1', { user: 'ada' });
      assert.deepEqual((await r.a.get('session', 's1'))?.data, { user: 'ada' });
      const generation = r.a.changeGeneration();
      await r.b.delete('session', 's1');
      await new Promise((res) => setTimeout(res, BOUND_MS + 50));
      assert.equal(await r.a.get('session', 's1'), null, 'revocation honoured within the bound');
      assert.notEqual(r.a.changeGeneration(), generation, 'anything derived from the old state is dropped too');
    } finally {
      await r.close();
    }
  });

  test('a notification listener killed and kept away: revocation still honoured within the bound', async () => {
    const r = await replicas();
    let killing = true;
    try {
      await r.b.put('session', 's2', { user: 'grace' });
      assert.deepEqual((await r.a.get('session', 's2'))?.data, { user: 'grace' });
      // Kill A's listener over and over, so it never hears the delete.
      const killer = (async () => {
        while (killing) {
          await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'limen-watch' AND query = $1`, [`LISTEN ${r.rawA.channel}`]);
          await new Promise((res) => setTimeout(res, 5));
        }
      })();
      await new Promise((res) => setTimeout(res, 50));
      await r.b.delete('session', 's2');
      await new Promise((res) => setTimeout(res, BOUND_MS + 50));
      assert.equal(await r.a.get('session', 's2'), null, 'not served from the cache past the bound');
      killing = false;
      await killer;
      assert.ok(r.freshness.includes(false), 'the replica noticed it could not confirm its view');
      await waitFor(() => r.a.isFresh(), 'trusts its cache again once the listener is back');
    } finally {
      killing = false;
      await r.close();
    }
  });

  test('a frozen database link: cached reads within the bound, then fail closed with a timeout, then recover', async () => {
    const link = new FreezableLink(new URL(POSTGRES_URL));
    await link.start();
    const r = await replicas({ aUrl: link.url(POSTGRES_URL), queryTimeoutMs: 300 });
    try {
      await r.b.put('session', 's3', { user: 'lin' });
      assert.deepEqual((await r.a.get('session', 's3'))?.data, { user: 'lin' });
      link.frozen = true;
      await new Promise((res) => setTimeout(res, BOUND_MS + 100));
      await assert.rejects(r.a.get('session', 's3'), { code: 'ERR_STORE_UNAVAILABLE', message: /PostgreSQL: (timed out|a statement timed out|the connection was reset)/ });
      await assert.rejects(r.a.get('session', 'never-cached'), { code: 'ERR_STORE_UNAVAILABLE' });
      link.frozen = false;
      await r.b.put('session', 's3', { user: 'lin', revoked: true });
      await waitFor(async () => (await r.a.get('session', 's3').catch(() => null))?.data.revoked === true, 'reads the current state once the link is back');
    } finally {
      await r.close();
      await link.close();
    }
  });
});

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting: ${what}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}
