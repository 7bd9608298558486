/**
 * A replica whose PostgreSQL goes away and comes back, on a server of the
 * test's own: started before the database, it waits (logging why) instead of
 * exiting; with the database stopped mid-traffic it keeps serving what needs
 * no database, refuses the rest with 503, and recovers by itself.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeHttpAgents, request } from './support/index.js';
import { createOwnPostgres, type OwnPostgres } from './support/postgres-server.js';
import { freePort, startStack, type Stack } from './stack.js';
import { startLimen, type RunningLimen } from '../src/server/index.js';
import { createLogger } from '../src/log/index.js';
import { createServiceAccount } from '../src/accounts/service-accounts.js';
import { PostgresStore } from '../src/store/index.js';

const JSON_ACCEPT = { accept: 'application/json' };

describe('PostgreSQL outage', () => {
  let pgServer: OwnPostgres;
  let idpStack: Stack;

  before(async () => {
    pgServer = createOwnPostgres(await freePort());
    // A stack only for its IdP and upstream; the replica under test is started below.
    idpStack = await startStack({ routes: [] });
  });
  after(async () => {
    await idpStack?.close();
    pgServer?.destroy();
    await closeHttpAgents();
  });

  test('started while the database is down: retries with the cause logged, serves once it is up, then survives a stop and a start mid-traffic', async () => {
    const lines: string[] = [];
    const port = await freePort();
    const routes = [
      { name: 'public', from: 'http://public.localhost', to: idpStack.upstreamUrl, allow_public_unauthenticated_access: true },
      { name: 'api', from: 'http://api.localhost', to: idpStack.upstreamUrl, policy: { allow: { or: [{ user: { is: 'bot-outage' } }] } } },
    ];
    const config = idpStack.configWith(routes, {
      address: `127.0.0.1:${port}`,
      databroker_storage_type: 'postgres',
      databroker_storage_connection_string: pgServer.url,
      databroker_storage_query_timeout: '500ms',
      databroker_storage_max_staleness: '300ms',
      metrics_address: '127.0.0.1:0',
    });
    let limen: RunningLimen | undefined;
    const starting = startLimen({ config, logger: createLogger('info', (l) => { lines.push(l); }) }).then((l) => { limen = l; return l; });
    try {
      const deadline = Date.now() + 30_000;
      while (!lines.some((l) => l.includes('store unavailable; retrying'))) {
        assert.ok(Date.now() < deadline, 'the replica says the store is unavailable');
        await new Promise((r) => setTimeout(r, 50));
      }
      const retry = JSON.parse(lines.find((l) => l.includes('store unavailable; retrying'))!) as { error: string };
      assert.match(retry.error, /connection refused/, 'the cause is named');
      assert.equal(limen, undefined, 'not serving without its store');

      pgServer.start();
      const l = await starting;
      const origin = (name: string) => `http://${name}.localhost:${l.port}`;
      assert.equal((await request(`${origin('public')}/`, { headers: JSON_ACCEPT })).status, 200);

      const store = await PostgresStore.open({ connectionString: pgServer.url });
      const { token } = await createServiceAccount({ user: 'bot-outage' }, { store, sharedSecret: config.sharedSecret, namespaces: config.namespaces, now: Date.now() });
      await store.close();
      const api = () => request(`${origin('api')}/`, { headers: { ...JSON_ACCEPT, authorization: `Bearer Pomerium-${token}` } });
      assert.equal((await api()).status, 200);

      pgServer.stop();
      assert.equal((await request(`${origin('public')}/`, { headers: JSON_ACCEPT })).status, 200, 'what needs no database is served');
      // Past the bound the cached identity is no longer trusted: fail closed, with a reason.
      await new Promise((r) => setTimeout(r, 400));
      const down = await api();
      assert.equal(down.status, 503);
      assert.deepEqual(down.json<{ reasons: string[] }>().reasons, ['store-unavailable']);
      // Counted under the route it was refused on, where an operator's alert on that route's 5xx looks.
      const metrics = await (await fetch(`${l.observability.metricsUrl}/metrics`)).text();
      assert.match(metrics, /^limen_http_requests_total\{route="api",method="GET",status_class="5xx"\} 1$/m);
      assert.doesNotMatch(metrics, /^limen_http_requests_total\{route="\(limen\)"[^}]*status_class="5xx"\}/m);

      pgServer.start();
      const back = Date.now() + 30_000;
      let status = 0;
      while (status !== 200 && Date.now() < back) {
        status = (await api()).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status, 200, 'recovered without a restart');
      assert.ok(lines.some((l) => l.includes('store read cache not trusted')), 'the log says when the cache stopped being trusted');
    } finally {
      if (limen) await limen.close();
      else { pgServer.start(); await (await starting).close(); }
    }
  });
});
