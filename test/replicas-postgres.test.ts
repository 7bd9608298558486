/**
 * Three Limen replicas on one PostgreSQL schema, as behind a load balancer:
 * a credential works on every replica; a revocation made through one is
 * honoured on the others within databroker_storage_max_staleness; every
 * database connection cut twenty times during traffic fails no request whose
 * identity was cached and loses or duplicates no audit event.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { closeHttpAgents, request } from './support/index.js';
import { freePort, startStack, type Stack } from './stack.js';
import { startLimen, type RunningLimen } from '../src/server/index.js';
import { PostgresStore } from '../src/store/index.js';
import { createLogger } from '../src/log/index.js';
import { createServiceAccount, revokeServiceAccount } from '../src/accounts/service-accounts.js';
import { decodeJwt } from 'jose';

const POSTGRES_URL = process.env.LIMEN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const JSON_ACCEPT = { accept: 'application/json' };
const STALENESS_MS = 500;

describe('three replicas on PostgreSQL', () => {
  const schema = `limen_replicas_${process.pid}_${randomBytes(4).toString('hex')}`;
  const applicationName = `limen-test-${randomBytes(4).toString('hex')}`;
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  admin.on('error', () => undefined);
  let a: Stack;
  const others: { limen: RunningLimen; store: PostgresStore; port: number }[] = [];
  const stores: PostgresStore[] = [];
  const logLines: string[] = [];

  const openReplicaStore = async (): Promise<PostgresStore> => {
    // Its own application name, so the connection cuts below hit only this test's replicas.
    const s = await PostgresStore.open({ connectionString: POSTGRES_URL, schema, applicationName, freshnessBoundMs: STALENESS_MS, reconnectDelayMs: 20, onListenerError: () => undefined });
    stores.push(s);
    return s;
  };

  before(async () => {
    const routes = [{ name: 'api', from: 'http://api.localhost', to: 'UPSTREAM', policy: { allow: { or: [{ user: { starts_with: 'bot-' } }] } } }];
    const config = { databroker_storage_type: 'postgres', databroker_storage_connection_string: POSTGRES_URL, databroker_storage_max_staleness: `${STALENESS_MS}ms` };
    a = await startStack({ routes, store: await openReplicaStore(), config, logLines });
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const store = await openReplicaStore();
      const limen = await startLimen({
        config: a.configWith(routes, { ...config, address: `127.0.0.1:${port}` }),
        store, logger: createLogger('error', (l) => { logLines.push(l); }),
      });
      others.push({ limen, store, port });
    }
  });
  after(async () => {
    for (const o of others) await o.limen.close();
    await a?.close();
    for (const s of stores) await s.close();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    await closeHttpAgents();
  });

  const origins = (): string[] => [`http://api.localhost:${a.port}`, ...others.map((o) => `http://api.localhost:${o.port}`)];
  const call = (origin: string, token: string) => request(`${origin}/`, { headers: { ...JSON_ACCEPT, authorization: `Bearer Pomerium-${token}` } });
  const newAccount = async (user: string) => createServiceAccount({ user }, { store: a.store, sharedSecret: a.config.sharedSecret, namespaces: a.config.namespaces, now: Date.now() });

  test('a service account works on every replica; revoked through C, refused on A and B within the bound', async () => {
    const { token } = await newAccount(`bot-${randomBytes(3).toString('hex')}`);
    for (const origin of origins()) assert.equal((await call(origin, token)).status, 200, origin);
    const id = String(decodeJwt(token).jti);
    await revokeServiceAccount(others[1]!.store, id, Date.now());
    const revokedAt = Date.now();
    await new Promise((r) => setTimeout(r, STALENESS_MS + 100));
    for (const origin of origins()) {
      const res = await call(origin, token);
      assert.equal(res.status, 401, `${origin}, ${Date.now() - revokedAt} ms after the revocation`);
      assert.equal(res.json<{ reasons: string[] }>().reasons[0], 'service-account-revoked');
    }
  });

  test('every connection cut twenty times during traffic: no failed request with a cached identity, no audit event lost or duplicated', async () => {
    const { token } = await newAccount(`bot-${randomBytes(3).toString('hex')}`);
    for (const origin of origins()) assert.equal((await call(origin, token)).status, 200, 'warm every replica\'s cache');
    const statuses: number[] = [];
    const requestIds: string[] = [];
    const failures: string[] = [];
    let cutting = true;
    // Four clients per replica, each sending one request after another.
    const traffic = Promise.all(origins().flatMap((o) => Array.from({ length: 4 }, async () => {
      while (cutting) {
        const res = await call(o, token);
        statuses.push(res.status);
        if (res.status !== 200) failures.push(`${o}: ${res.status} ${res.text()}`);
        requestIds.push(String(res.headers['x-request-id']));
      }
    })));
    for (let cut = 0; cut < 20; cut++) {
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name IN ($1, $2)`, [applicationName, `${applicationName}-watch`]);
      await new Promise((r) => setTimeout(r, 100));
    }
    cutting = false;
    await traffic;
    const failed = statuses.filter((s) => s !== 200);
    assert.ok(statuses.length >= 20, `traffic flowed during the cuts (${statuses.length} requests)`);
    assert.deepEqual(failed, [], `${failed.length} of ${statuses.length} requests failed: ${failures.slice(0, 3).join('\n')}\n${logLines.filter((l) => l.includes('request failed')).slice(0, 3).join('')}`);
    // Every decision reaches the store exactly once: flush every replica, then count by request id and event id.
    await Promise.all([a.limen, ...others.map((o) => o.limen)].map((l) => l.services.audit.flush()));
    const deadline = Date.now() + 20_000;
    let rows: { request_id: string; event_id: string }[] = [];
    for (;;) {
      const res = await admin.query<{ request_id: string; event_id: string }>(
        `SELECT request_id, event_id FROM "${schema}".limen_audit WHERE kind = 'authorize' AND request_id = ANY($1)`, [requestIds]);
      rows = res.rows;
      if (rows.length >= requestIds.length || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(new Set(rows.map((r) => r.request_id)).size, requestIds.length, 'no audit event lost');
    assert.equal(rows.length, requestIds.length, 'no audit event stored twice');
    assert.equal(new Set(rows.map((r) => r.event_id)).size, rows.length, 'event ids are unique');
  });
});
