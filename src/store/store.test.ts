/**
 * Runs the Store contract against every backend (memory, an SQLite file in a
 * temporary directory, the real PostgreSQL), plus what is particular to each:
 * SQLite shared with another OS process, PostgreSQL replicas migrating at
 * once and the watch connection reconnecting, and password redaction.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import Database from 'better-sqlite3';
import pg from 'pg';

import { compareCodePoints } from './common.js';
import { runStoreContract } from './contract.js';
import {
  MemoryStore,
  PostgresStore,
  SqliteStore,
  StoreError,
  openStore,
  redactConnectionString,
  type AuditEvent,
  type ChangeEvent,
  type Store,
} from './index.js';

const POSTGRES_URL = process.env.LIMEN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

describe('helpers', () => {
  test('redactConnectionString hides passwords and keeps the rest', () => {
    const table: { input: string; want: string }[] = [
      { input: 'postgres://user:pass@host:5432/db', want: 'postgres://user:***@host:5432/db' },
      { input: 'postgresql://user:p@ss/w:rd@host/db', want: 'postgresql://user:***@host/db' },
      { input: 'postgres://:pass@host/db', want: 'postgres://:***@host/db' },
      { input: 'postgres://user@host/db', want: 'postgres://user@host/db' },
      { input: 'postgres://host/db?sslmode=require', want: 'postgres://host/db?sslmode=require' },
      { input: 'postgres://u:pw@host/db?sslmode=require&password=pw2', want: 'postgres://u:***@host/db?sslmode=require&password=***' },
      { input: 'postgres://host/db?password=pw&x=1', want: 'postgres://host/db?password=***&x=1' },
      { input: 'host=h user=u password=secret dbname=d', want: 'host=h user=u password=*** dbname=d' },
      { input: "host=h password='se cret' dbname=d", want: 'host=h password=*** dbname=d' },
      { input: './data/limen.db', want: './data/limen.db' },
    ];
    for (const { input, want } of table) assert.equal(redactConnectionString(input), want, input);
  });

  test('compareCodePoints orders like UTF-8 bytes', () => {
    const ids = ['\u{1F600}', '\uFFFF', '\uE000', 'z', 'a', '', '\u00e9', '\uD7FF', 'ab', 'a'];
    const byBytes = [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual([...ids].sort(compareCodePoints), byBytes);
  });
});

runStoreContract('memory', async () => new MemoryStore());

describe('SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'limen-store-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const paths = new WeakMap<Store, string>();
  const openFresh = (): SqliteStore => {
    const path = join(dir, `contract-${++n}`, 'limen.db');
    const s = SqliteStore.open({ path, pollIntervalMs: 50 });
    paths.set(s, path);
    return s;
  };

  runStoreContract('sqlite', async () => openFresh(), {
    dedupesAuditIds: true,
    openPeer: async (s) => SqliteStore.open({ path: paths.get(s) as string, pollIntervalMs: 50 }),
  });

  test('opening creates the directory, uses WAL and records the schema version; reopening is idempotent', async () => {
    const path = join(dir, 'nested', 'deeper', 'x.db');
    const first = await openStore({ type: 'file', connectionString: path });
    assert.equal(first.kind, 'sqlite');
    await first.put('t', 'kept', { v: 1 });
    await first.close();
    const second = await openStore({ type: 'file', connectionString: path });
    assert.deepEqual((await second.get('t', 'kept'))?.data, { v: 1 });
    await second.close();
    const db = new Database(path, { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.deepEqual(db.prepare('SELECT version FROM schema_version').pluck().all(), [1, 2]);
    } finally {
      db.close();
    }
  });

  test('a database from a newer Limen is refused with ERR_STORE_SCHEMA', async () => {
    const path = join(dir, 'newer.db');
    await (await openStore({ type: 'file', connectionString: path })).close();
    const db = new Database(path);
    db.prepare('INSERT INTO schema_version (version) VALUES (99)').run();
    db.close();
    await assert.rejects(openStore({ type: 'file', connectionString: path }), { name: 'StoreError', code: 'ERR_STORE_SCHEMA' });
  });

  test('a path that cannot be opened is ERR_STORE_UNAVAILABLE', async () => {
    // A directory cannot be opened as a database file.
    await assert.rejects(openStore({ type: 'file', connectionString: dir }), { name: 'StoreError', code: 'ERR_STORE_UNAVAILABLE' });
  });

  test('a change made by another OS process (a CLI command) is seen by a watching server', async () => {
    const path = join(dir, 'shared', 'limen.db');
    const server = SqliteStore.open({ path, pollIntervalMs: 50 });
    try {
      const events: ChangeEvent[] = [];
      const heard = new Promise<void>((resolve) =>
        server.watch((e) => {
          events.push(e);
          if (e.id === 'from-cli') resolve();
        }),
      );
      const script = [
        `import { SqliteStore } from ${JSON.stringify(new URL('./sqlite.ts', import.meta.url).href)};`,
        `const s = SqliteStore.open({ path: process.argv[1] });`,
        `const r = await s.put('user', 'from-cli', { by: 'cli' }, { index: 'cli' });`,
        `await s.appendAudit([{ time: 1, kind: 'user.create', actor: 'cli', details: { id: r.id } }]);`,
        `await s.close();`,
        `process.stdout.write(String(r.version));`,
      ].join('\n');
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, path], {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 0);
      // The poll timer is unref'd (it must not keep a server alive), so wait on
      // a timer of our own or the test would end with the promise pending.
      let deadline: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => (deadline = setTimeout(() => resolve('timeout'), 5000)));
      const outcome = await Promise.race([heard.then(() => 'heard' as const), timedOut]);
      clearTimeout(deadline);
      assert.equal(outcome, 'heard', 'the change from the other process was reported');
      assert.deepEqual(events, [{ type: 'user', id: 'from-cli', version: Number(out) }]);
      assert.deepEqual((await server.get('user', 'from-cli'))?.data, { by: 'cli' });
      assert.deepEqual((await server.queryAudit({ kind: 'user.create' })).map((e) => e.actor), ['cli']);
    } finally {
      await server.close();
    }
  });

  test('two writers on one file never lose a write', async () => {
    const path = join(dir, 'writers.db');
    const a = SqliteStore.open({ path });
    const b = SqliteStore.open({ path });
    try {
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 100; i++) writes.push((i % 2 === 0 ? a : b).put('t', `k${i}`, { i }));
      const results = (await Promise.all(writes)) as { version: number }[];
      assert.equal(new Set(results.map((r) => r.version)).size, 100);
      assert.equal((await a.list('t')).length, 100);
    } finally {
      await a.close();
      await b.close();
    }
  });
  test('an audit write that cannot get the lock fails alone: ERR_STORE_UNAVAILABLE, and the next batch is stored', async () => {
    const path = join(dir, 'audit-writer.db');
    const s = SqliteStore.open({ path, busyTimeoutMs: 100 });
    const other = new Database(path);
    try {
      const ev = (n: number): AuditEvent => ({ time: 1000 + n, kind: 'test', details: { n } });
      await s.appendAudit([ev(1)]);
      // Another connection holds the write lock longer than the busy timeout.
      other.exec('BEGIN IMMEDIATE');
      await assert.rejects(s.appendAudit([ev(2)]), (e: Error & { code?: string }) =>
        e.name === 'StoreError' && e.code === 'ERR_STORE_UNAVAILABLE' && /audit write failed: database is locked/.test(e.message));
      // Records are written by the main connection, not held up by the audit writer.
      other.exec('ROLLBACK');
      await s.appendAudit([ev(3), ev(4)]);
      assert.deepEqual((await s.queryAudit({ kind: 'test' })).map((e) => e.details.n), [1, 3, 4]);
    } finally {
      other.close();
      await s.close();
    }
  });
});

describe('PostgreSQL', () => {
  const run = `limen_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const schemas: string[] = [];
  const schemaOf = new WeakMap<Store, string>();
  let n = 0;
  const newSchema = (): string => {
    const schema = `${run}_${++n}`;
    schemas.push(schema);
    return schema;
  };
  const openFresh = async (): Promise<PostgresStore> => {
    const schema = newSchema();
    const s = await PostgresStore.open({ connectionString: POSTGRES_URL, schema });
    schemaOf.set(s, schema);
    return s;
  };
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  admin.on('error', () => undefined);

  before(async () => {
    // Fail clearly rather than with thirty connection errors.
    await admin.query('SELECT 1');
  });
  after(async () => {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  runStoreContract('postgres', openFresh, {
    dedupesAuditIds: true,
    openPeer: async (s) => PostgresStore.open({ connectionString: POSTGRES_URL, schema: schemaOf.get(s) as string }),
  });

  test('replicas starting together on a new schema all migrate cleanly', async () => {
    const schema = newSchema();
    const stores = await Promise.all(
      Array.from({ length: 6 }, () => openStore({ type: 'postgres', connectionString: POSTGRES_URL, schema })),
    );
    try {
      const versions = await admin.query(`SELECT version FROM "${schema}".limen_schema_version`);
      assert.deepEqual(versions.rows, [{ version: 1 }, { version: 2 }]);
      const puts = await Promise.all(stores.map((s, i) => s.put('t', `r${i}`, { i })));
      assert.equal(new Set(puts.map((r) => r.version)).size, stores.length);
      assert.equal((await stores[0]?.list('t'))?.length, stores.length);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('a schema from a newer Limen is refused with ERR_STORE_SCHEMA', async () => {
    const schema = newSchema();
    await (await PostgresStore.open({ connectionString: POSTGRES_URL, schema })).close();
    await admin.query(`INSERT INTO "${schema}".limen_schema_version (version) VALUES (99)`);
    await assert.rejects(PostgresStore.open({ connectionString: POSTGRES_URL, schema }), {
      name: 'StoreError',
      code: 'ERR_STORE_SCHEMA',
    });
  });

  test('an unusable schema name is a TypeError', async () => {
    for (const schema of ['', 'has space', 'quote"d', '1starts_with_digit', 'x'.repeat(64), 'semi;colon']) {
      await assert.rejects(PostgresStore.open({ connectionString: POSTGRES_URL, schema }), TypeError, schema);
    }
  });

  test('an unreachable or malformed database is ERR_STORE_UNAVAILABLE and never shows the password', async () => {
    const password = 'hunter2-s3cret';
    for (const connectionString of [
      `postgres://postgres:${password}@127.0.0.1:1/test`,
      `postgres://postgres:${password}@[not-an-address/test`,
    ]) {
      const err = await PostgresStore.open({ connectionString }).then(
        () => assert.fail('opened'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof StoreError, String(err));
      assert.equal(err.code, 'ERR_STORE_UNAVAILABLE');
      assert.match(err.message, /postgres:\*\*\*@/);
      const everything = `${err.message} ${err.stack ?? ''} ${JSON.stringify(err.cause)}`;
      assert.ok(!everything.includes(password), everything);
    }
  });

  test('a database that cannot be used says why: refused, missing database, unknown user', async () => {
    const table = [
      { connectionString: 'postgres://postgres@127.0.0.1:1/test', want: /: connection refused/ },
      { connectionString: POSTGRES_URL.replace(/\/[^/]*$/, '/limen_no_such_database'), want: /: the database does not exist/ },
      { connectionString: POSTGRES_URL.replace('postgres@', 'limen_no_such_role@'), want: /: the server refused this user or address|password authentication failed/ },
    ];
    for (const { connectionString, want } of table) {
      await assert.rejects(PostgresStore.open({ connectionString }), (e: Error) => {
        assert.match(e.message, want, connectionString);
        return true;
      });
    }
  });

  test('LISTEN goes to listenConnectionString (a direct connection beside a transaction pooler)', async () => {
    const errors: unknown[] = [];
    const s = await PostgresStore.open({
      connectionString: POSTGRES_URL, schema: newSchema(), reconnectDelayMs: 20,
      listenConnectionString: 'postgres://postgres@127.0.0.1:1/test',
      onListenerError: (err) => errors.push(err),
    });
    try {
      s.watch(() => undefined);
      await s.put('t', 'x', {});
      assert.deepEqual((await s.get('t', 'x'))?.data, {}, 'queries use the pool');
      const deadline = Date.now() + 10_000;
      while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal((errors[0] as { code?: string } | undefined)?.code, 'ECONNREFUSED', 'the listener dialled the other address');
    } finally {
      await s.close();
    }
  });

  test('the watch connection reconnects after the server drops it', async () => {
    const errors: unknown[] = [];
    const schema = newSchema();
    const s = await PostgresStore.open({
      connectionString: POSTGRES_URL,
      schema,
      reconnectDelayMs: 20,
      onListenerError: (err) => errors.push(err),
    });
    const peer = await PostgresStore.open({ connectionString: POSTGRES_URL, schema });
    try {
      const seen = new Set<string>();
      s.watch((e) => seen.add(e.id));
      await s.watching();
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'limen-watch' AND query = $1`,
        [`LISTEN ${s.channel}`],
      );
      assert.equal(killed.rowCount, 1);
      // Keep writing from the peer until one write is heard on the new connection.
      const deadline = Date.now() + 5000;
      for (let i = 0; !seen.has(`after-${i - 1}`); i++) {
        assert.ok(Date.now() < deadline, 'no change heard after the watch connection was dropped');
        await peer.put('t', `after-${i}`, {});
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(errors.length >= 1, 'the dropped connection was reported');
      assert.equal((errors[0] as { code?: string }).code, '57P01');
    } finally {
      await peer.close();
      await s.close();
    }
  });

  test('openStore with type postgres keeps its tables in the given schema', async () => {
    const schema = newSchema();
    const s = await openStore({ type: 'postgres', connectionString: POSTGRES_URL, schema });
    try {
      assert.equal(s.kind, 'postgres');
      await s.put('t', 'x', {});
      const res = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".limen_records`);
      assert.deepEqual(res.rows, [{ n: 1 }]);
    } finally {
      await s.close();
    }
  });
});

describe('openStore', () => {
  test('memory', async () => {
    const s = await openStore({ type: 'memory', connectionString: '' });
    assert.equal(s.kind, 'memory');
    await s.close();
  });

  test('an unknown type is a TypeError', async () => {
    for (const type of ['redis', '', 'sqlite', undefined]) {
      await assert.rejects(openStore({ type: type as 'memory', connectionString: '' }), TypeError, String(type));
    }
  });
});
