/**
 * A client that goes away at any moment releases everything Limen holds for
 * it, the upstream connection included. Regression: on PostgreSQL a client
 * that closed while Limen was still authorizing left the upstream request
 * Limen then opened paused on a dead socket; after about 250 such aborts the
 * upstream pool was exhausted and every route stopped answering.
 *
 * Each stage is forced rather than raced: the store read made during
 * authorization waits on a gate the test opens after the client has gone,
 * and the upstream holds its answer until the client has gone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { MemoryStore, PostgresStore, SqliteStore, type Store } from '../src/store/index.js';
import { startStack, type Stack } from './stack.js';
import { closeHttpAgents, request } from './support/index.js';
import { eventually, startProbeUpstream, type ProbeUpstream } from './support/upstream-probe.js';

const POSTGRES_URL = process.env.LIMEN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ROUNDS = 30;

/** A store whose reads of `record:gate` wait, while armed, until the test opens the gate. */
function gatedStore(inner: Store): { store: Store; arm(): Promise<void>; open(): void } {
  let armed = false;
  let waiting: (() => void) | undefined;
  let opened: Promise<void> = Promise.resolve();
  let openGate: () => void = () => {};
  let reached: Promise<void> = Promise.resolve();
  const store = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'get') {
        return async (type: string, id: string, now?: number) => {
          if (type === 'record:gate' && armed) {
            armed = false;
            waiting?.();
            await opened;
          }
          return target.get(type, id, now);
        };
      }
      // The target as receiver: getters may read private fields.
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    store,
    /** Arms the gate; resolves once a request's authorization is waiting on it. */
    arm() {
      armed = true;
      opened = new Promise((r) => { openGate = r; });
      reached = new Promise((r) => { waiting = r; });
      return reached;
    },
    open: () => openGate(),
  };
}

/** A raw client connection to Limen, so a test can close it at an exact point. */
function rawClient(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d: Buffer) => { data += d.toString('latin1'); });
    socket.on('error', () => undefined);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

function runAbortSuite(name: string, openStore: () => Promise<{ store: Store; cleanup(): Promise<void> }>): void {
  describe(`client aborts on the ${name} store`, () => {
    let upstream: ProbeUpstream;
    let s: Stack;
    let gate: ReturnType<typeof gatedStore>;
    let cleanup: () => Promise<void>;
    let host = 0;
    // A fresh host per request: the record read is keyed by host, so no cache answers it.
    const nextHost = (): string => `r${++host}.open.localhost:${s.port}`;

    before(async () => {
      upstream = await startProbeUpstream();
      const opened = await openStore();
      cleanup = opened.cleanup;
      gate = gatedStore(opened.store);
      s = await startStack({
        store: gate.store,
        routes: [{
          name: 'open', from: 'http://*.open.localhost:PORT', to: upstream.url,
          // `record` makes authorization read the store (the window the regression needed).
          policy: { allow: { or: [{ accept: true }, { record: { type: 'gate', key: 'host', exists: true } }] } },
        }],
      });
    });
    after(async () => {
      await s?.close();
      await upstream?.close();
      await cleanup?.();
      await closeHttpAgents();
    });

    const stages: { stage: string; run(): Promise<void> }[] = [
      {
        stage: 'before the request is complete (half-sent headers)',
        async run() {
          const c = await rawClient(s.port);
          c.socket.write(`GET /fast HTTP/1.1\r\nHost: ${nextHost()}\r\n`);
          c.socket.destroy();
          await c.closed;
        },
      },
      {
        stage: 'during authorization (the store read has not answered)',
        async run() {
          const reached = gate.arm();
          const c = await rawClient(s.port);
          c.socket.write(`GET /fast HTTP/1.1\r\nHost: ${nextHost()}\r\n\r\n`);
          await reached;
          c.socket.destroy();
          await c.closed;
          // Let Limen see the close before authorization resumes (not a timing assertion:
          // if it has not seen it yet, the close arrives during forwarding, also covered).
          await delay(20);
          gate.open();
        },
      },
      {
        stage: 'after authorization, waiting for the upstream\'s headers',
        async run() {
          const before = upstream.received('/hold');
          const c = await rawClient(s.port);
          c.socket.write(`GET /hold HTTP/1.1\r\nHost: ${nextHost()}\r\n\r\n`);
          assert.ok(await eventually(() => upstream.received('/hold') > before), 'the upstream got the request');
          c.socket.destroy();
          await c.closed;
        },
      },
      {
        stage: 'mid request body',
        async run() {
          const before = upstream.received('/upload');
          const c = await rawClient(s.port);
          c.socket.write(`POST /upload HTTP/1.1\r\nHost: ${nextHost()}\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(1000)}`);
          assert.ok(await eventually(() => upstream.received('/upload') > before), 'the upstream got the request');
          c.socket.destroy();
          await c.closed;
        },
      },
      {
        stage: 'mid response',
        async run() {
          const c = await rawClient(s.port);
          c.socket.write(`GET /stream HTTP/1.1\r\nHost: ${nextHost()}\r\n\r\n`);
          assert.ok(await eventually(() => c.received().includes('first chunk')), 'the first chunk arrived');
          c.socket.destroy();
          await c.closed;
        },
      },
      {
        stage: 'after the response (keep-alive connection dropped)',
        async run() {
          const c = await rawClient(s.port);
          c.socket.write(`GET /fast HTTP/1.1\r\nHost: ${nextHost()}\r\n\r\n`);
          assert.ok(await eventually(() => c.received().endsWith('ok')), 'the response arrived');
          c.socket.destroy();
          await c.closed;
        },
      },
    ];

    for (const { stage, run } of stages) {
      test(`${ROUNDS} clients gone ${stage}: the upstream pool is back to its size and a request succeeds`, async () => {
        for (let i = 0; i < ROUNDS; i++) await run();
        upstream.release();
        const settled = await eventually(() => upstream.busy() === 0 && upstream.openSockets() <= 2);
        assert.ok(settled, `upstream still holds ${upstream.busy()} unfinished requests on ${upstream.openSockets()} sockets`);
        const res = await request(`http://${nextHost()}/fast`, { headers: { accept: 'application/json' } });
        assert.equal(res.status, 200, res.text());
        assert.equal(res.text(), 'ok');
      });
    }
  });
}

runAbortSuite('memory', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});

runAbortSuite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'limen-aborts-'));
  const store = SqliteStore.open({ path: join(dir, 'limen.db') });
  return { store, async cleanup() { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
});

runAbortSuite('PostgreSQL', async () => {
  const schema = `limen_aborts_${process.pid}_${randomBytes(4).toString('hex')}`;
  const store = await PostgresStore.open({ connectionString: POSTGRES_URL, schema });
  return {
    store,
    async cleanup() {
      await store.close();
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    },
  };
});
