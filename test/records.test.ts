/**
 * External data end to end: records loaded at run time — by `limen data
 * load` in another process on the server's SQLite file, or through the admin
 * API — decide the very next request for a route with a `record` criterion,
 * with no restart or reload. The admin API is for administrators only, and
 * every change is an audit event with counts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CookieJar, closeHttpAgents, csrfHeaders, request, scriptedLogin } from './support/index.js';
import { runCli, startSharedStoreStack, type SharedStoreStack } from './service-accounts-helpers.js';

const JSON_ACCEPT = { accept: 'application/json' };

interface Failure { reasons: string[]; request_id: string }

describe('external data for the record criterion', () => {
  let st: SharedStoreStack;
  let adminJar: CookieJar;
  let adaJar: CookieJar;
  const dataFile = (name: string, records: unknown): string => {
    const path = join(dirname(st.configPath), name);
    writeFileSync(path, JSON.stringify(records));
    return path;
  };
  const dataApi = (type: string): string => `${st.s.authOrigin}/.pomerium/api/v1/data/${encodeURIComponent(type)}`;

  before(async () => {
    st = await startSharedStoreStack({
      routes: [
        // Posture by client address: no sign-in involved.
        {
          name: 'posture', from: 'http://posture.localhost:PORT', to: 'UPSTREAM',
          policy: { allow: { and: [{ record: { type: 'posture', key: 'ip', field: 'status', '=': 'ok' } }] } },
        },
        // A device's scan result by the signed-in user's id (the default key).
        {
          name: 'devices', from: 'http://devices.localhost:PORT', to: 'UPSTREAM',
          policy: [
            { allow: { and: [{ authenticated_user: true }, { record: { type: 'devices', field: 'scan.critical', '<': 1 } }] } },
            { deny: { or: [{ record: { type: 'quarantine', key: 'email', exists: true } }] } },
          ],
        },
        { name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true },
      ],
      config: { administrators: ['admin@example.com'] },
      users: { 'ada@example.com': { sub: 'u-ada' }, 'admin@example.com': { sub: 'u-admin' } },
    });
    adminJar = new CookieJar();
    adaJar = new CookieJar();
    await scriptedLogin(`${st.s.origin('app')}/`, 'admin@example.com', { jar: adminJar });
    await scriptedLogin(`${st.s.origin('devices')}/`, 'ada@example.com', { jar: adaJar });
  });
  after(async () => {
    await st.close();
    await closeHttpAgents();
  });

  test('limen data load into the server\'s SQLite file flips the next request, both ways', async () => {
    const url = `${st.s.origin('posture')}/check`;
    const before = await request(url, { headers: JSON_ACCEPT });
    assert.equal(before.status, 403);
    // Without a session the 403 does not reveal which requirement failed.
    assert.deepEqual(before.json<Failure>().reasons, []);
    await st.s.limen.services.audit.flush();
    const decided = (await st.store.queryAudit({ kind: 'authorize', route: 'posture' })).at(-1);
    assert.deepEqual(decided?.details.reasons, ['record-unauthorized'], 'the decision log has the reason');

    const ok = await runCli(['data', 'load', '--config', st.configPath, '--type', 'posture', dataFile('ok.json', [{ id: '127.0.0.1', status: 'ok' }])]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'loaded 1 record of type "posture" (sqlite store)\n');
    const allowed = await request(url, { headers: JSON_ACCEPT });
    assert.equal(allowed.status, 200, 'the record loaded by another process decides the next request');

    // From standard input, replacing the type: the scanner now flags this address.
    const flagged = await runCli(['data', 'load', '--config', st.configPath, '--type', 'posture', '--replace', '--json', '-'], {
      stdin: JSON.stringify([{ id: '127.0.0.2', status: 'ok' }, { id: '127.0.0.1', status: 'vulnerable' }]),
    });
    assert.equal(flagged.code, 0, flagged.stderr);
    assert.deepEqual(JSON.parse(flagged.stdout), { type: 'posture', loaded: 2, removed: 0 });
    const refused = await request(url, { headers: JSON_ACCEPT });
    assert.equal(refused.status, 403);

    // limen policy explain reads the same store for the record criterion.
    const explainConfig = join(dirname(st.configPath), 'explain.yaml');
    writeFileSync(explainConfig, `${readFileSync(st.configPath, 'utf8')}routes:
  - name: posture
    from: https://posture.example.com
    to: http://127.0.0.1:9
    policy: {allow: {and: [{record: {type: posture, key: ip, field: status, "=": ok}}]}}
`, { mode: 0o600 });
    const explain = (ip: string) => runCli(['policy', 'explain', '--config', explainConfig, '--url', 'https://posture.example.com/', '--no-identity', '--ip', ip, '--json']);
    const [vulnerable, fine] = await Promise.all([explain('127.0.0.1'), explain('127.0.0.2')]);
    assert.equal(vulnerable.code, 0, vulnerable.stderr);
    assert.deepEqual((JSON.parse(vulnerable.stdout) as { criteria: { reason: string }[] }).criteria.map((c) => c.reason), ['record-unauthorized']);
    assert.equal((JSON.parse(fine.stdout) as { result: string }).result, 'allow');

    const events = await st.store.queryAudit({ kind: 'data.load' });
    const cli = events.filter((e) => e.details.via === 'cli' && e.details.type === 'posture');
    assert.deepEqual(cli.map((e) => [e.details.loaded, e.details.removed, e.details.replace]), [[1, 0, false], [2, 0, true]]);
    assert.ok(cli.every((e) => typeof e.actor === 'string' && e.actor.startsWith('cli')));
  });

  test('a malformed data file loads nothing and says which item is wrong', async () => {
    const table: { records: unknown; raw?: string; want: RegExp }[] = [
      { records: [{ id: '127.0.0.1', status: 'ok' }, { status: 'ok' }], want: /records\[1\]\.id: expected a non-empty string; nothing was loaded/ },
      { records: [{ id: '127.0.0.1' }, 'x'], want: /records\[1\]: expected an object; nothing was loaded/ },
      { records: { id: 'x' }, want: /expected a JSON array of records/ },
      { records: null, raw: '[{"id": "127.0.0.1", "secret-ish": "do-not-print"', want: /^limen data load: .*bad-3\.json: not valid JSON/ },
    ];
    // Child processes are slow to start: run the table at once.
    const results = await Promise.all(table.map(({ records, raw }, i) => {
      const path = dataFile(`bad-${i}.json`, records);
      if (raw !== undefined) writeFileSync(path, raw);
      return runCli(['data', 'load', '--config', st.configPath, '--type', 'posture', path]);
    }));
    table.forEach(({ want }, i) => {
      const r = results[i]!;
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, want);
      assert.doesNotMatch(r.stderr, /do-not-print/, 'the data is not echoed');
    });
    // The last good state (127.0.0.1 vulnerable) is untouched.
    const res = await request(`${st.s.origin('posture')}/`, { headers: JSON_ACCEPT });
    assert.equal(res.status, 403);
  });

  test('the admin API loads, lists and deletes records; the next request follows', async () => {
    const url = `${st.s.origin('devices')}/`;
    const denied = await request(url, { jar: adaJar, headers: JSON_ACCEPT });
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.json<Failure>().reasons, ['record-unauthorized']);

    const put = await request(dataApi('devices'), {
      method: 'PUT', jar: adminJar,
      headers: { ...JSON_ACCEPT, ...await csrfHeaders(st.s.authOrigin, adminJar), 'content-type': 'application/json' },
      body: JSON.stringify([{ id: 'u-ada', scan: { critical: 0 } }, { id: 'u-other', scan: { critical: 3 } }]),
    });
    assert.equal(put.status, 200, put.text());
    assert.deepEqual(put.json(), { type: 'devices', loaded: 2, removed: 0 });
    assert.equal((await request(url, { jar: adaJar, headers: JSON_ACCEPT })).status, 200);

    const list = await request(dataApi('devices'), { jar: adminJar, headers: JSON_ACCEPT });
    assert.equal(list.status, 200);
    assert.deepEqual(list.json(), { type: 'devices', records: [{ id: 'u-ada', scan: { critical: 0 } }, { id: 'u-other', scan: { critical: 3 } }] });
    const limited = await request(`${dataApi('devices')}?limit=1`, { jar: adminJar, headers: JSON_ACCEPT });
    assert.equal(limited.json<{ records: unknown[] }>().records.length, 1);
    const one = await request(`${dataApi('devices')}/u-ada`, { jar: adminJar, headers: JSON_ACCEPT });
    assert.deepEqual(one.json(), { type: 'devices', record: { id: 'u-ada', scan: { critical: 0 } } });
    const missing = await request(`${dataApi('devices')}/u-nobody`, { jar: adminJar, headers: JSON_ACCEPT });
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json<Failure>().reasons, ['record-not-found']);

    // A deny rule on another type: quarantine by email.
    const quarantine = await request(dataApi('quarantine'), {
      method: 'PUT', jar: adminJar, headers: { ...JSON_ACCEPT, ...await csrfHeaders(st.s.authOrigin, adminJar), 'content-type': 'application/json' },
      body: JSON.stringify({ records: [{ id: 'ada@example.com', since: '2026-01-01' }] }),
    });
    assert.equal(quarantine.status, 200, quarantine.text());
    const quarantined = await request(url, { jar: adaJar, headers: JSON_ACCEPT });
    assert.equal(quarantined.status, 403);
    assert.deepEqual(quarantined.json<Failure>().reasons, ['record-ok']);

    const del = await request(`${dataApi('quarantine')}/${encodeURIComponent('ada@example.com')}`, { method: 'DELETE', jar: adminJar, headers: { ...JSON_ACCEPT, ...await csrfHeaders(st.s.authOrigin, adminJar) } });
    assert.equal(del.status, 200, del.text());
    assert.deepEqual(del.json(), { type: 'quarantine', id: 'ada@example.com', removed: 1 });
    assert.equal((await request(url, { jar: adaJar, headers: JSON_ACCEPT })).status, 200);
    const again = await request(`${dataApi('quarantine')}/${encodeURIComponent('ada@example.com')}`, { method: 'DELETE', jar: adminJar, headers: { ...JSON_ACCEPT, ...await csrfHeaders(st.s.authOrigin, adminJar) } });
    assert.equal(again.status, 404);
    assert.deepEqual(again.json<Failure>().reasons, ['record-not-found']);

    // replace=true drops what the body does not hold: ada's device record goes, she is refused.
    const replaced = await request(`${dataApi('devices')}?replace=true`, {
      method: 'PUT', jar: adminJar, headers: { ...JSON_ACCEPT, ...await csrfHeaders(st.s.authOrigin, adminJar), 'content-type': 'application/json' },
      body: JSON.stringify([{ id: 'u-other', scan: { critical: 0 } }]),
    });
    assert.deepEqual(replaced.json(), { type: 'devices', loaded: 1, removed: 1 });
    assert.equal((await request(url, { jar: adaJar, headers: JSON_ACCEPT })).status, 403);

    await st.s.limen.services.audit.flush();
    const loads = (await st.store.queryAudit({ kind: 'data.load' })).filter((e) => e.details.via === 'api');
    assert.deepEqual(loads.map((e) => [e.details.type, e.details.loaded, e.details.removed, e.details.replace, e.actor]), [
      ['devices', 2, 0, false, 'admin@example.com'],
      ['quarantine', 1, 0, false, 'admin@example.com'],
      ['devices', 1, 1, true, 'admin@example.com'],
    ]);
    const deletes = await st.store.queryAudit({ kind: 'data.delete' });
    assert.deepEqual(deletes.map((e) => [e.details.type, e.details.id, e.details.removed, e.actor]), [['quarantine', 'ada@example.com', 1, 'admin@example.com']]);
    const stored = JSON.stringify(await st.store.queryAudit({ limit: 100_000 }));
    assert.doesNotMatch(stored, /critical/, 'audit events carry counts, not the records');
  });

  test('only administrators may use the data API', async () => {
    const body = JSON.stringify([{ id: '127.0.0.1', status: 'ok' }]);
    const headers = { ...JSON_ACCEPT, 'content-type': 'application/json' };
    const anonymous = await request(dataApi('posture'), { method: 'PUT', headers, body });
    assert.equal(anonymous.status, 401);
    const ada = await request(dataApi('posture'), { method: 'PUT', jar: adaJar, headers, body });
    assert.equal(ada.status, 403);
    assert.deepEqual(ada.json<Failure>().reasons, ['not-administrator']);
    for (const method of ['GET', 'DELETE'] as const) {
      const path = method === 'GET' ? dataApi('posture') : `${dataApi('posture')}/127.0.0.1`;
      const r = await request(path, { method, jar: adaJar, headers: JSON_ACCEPT });
      assert.equal(r.status, 403, method);
    }
    // The route stays refused: nothing was loaded.
    assert.equal((await request(`${st.s.origin('posture')}/`, { headers: JSON_ACCEPT })).status, 403);
  });

  test('bad requests to the data API are refused with a reason and change nothing', async () => {
    const json = { ...JSON_ACCEPT, 'content-type': 'application/json' };
    const table: { name: string; url: string; method: string; headers: Record<string, string>; body?: string; status: number; reason: string }[] = [
      { name: 'not JSON', url: dataApi('posture'), method: 'PUT', headers: json, body: '[{"id":', status: 400, reason: 'body-invalid' },
      { name: 'not a list', url: dataApi('posture'), method: 'PUT', headers: json, body: '{"id":"x"}', status: 400, reason: 'body-invalid' },
      { name: 'item without id', url: dataApi('posture'), method: 'PUT', headers: json, body: '[{"status":"ok"}]', status: 400, reason: 'body-invalid' },
      { name: 'form post', url: dataApi('posture'), method: 'PUT', headers: { ...JSON_ACCEPT, 'content-type': 'application/x-www-form-urlencoded' }, body: 'id=127.0.0.1', status: 415, reason: 'unsupported-media-type' },
      { name: 'bad replace', url: `${dataApi('posture')}?replace=yes`, method: 'PUT', headers: json, body: '[]', status: 400, reason: 'query-invalid' },
      { name: 'bad type', url: dataApi('bad type!'), method: 'PUT', headers: json, body: '[]', status: 400, reason: 'record-type-invalid' },
      { name: 'bad limit', url: `${dataApi('posture')}?limit=0`, method: 'GET', headers: JSON_ACCEPT, status: 400, reason: 'query-invalid' },
      { name: 'too large', url: dataApi('posture'), method: 'PUT', headers: json, body: `[${'{"id":"x"},'.repeat(800_000)}{"id":"y"}]`, status: 413, reason: 'body-too-large' },
      { name: 'wrong method', url: dataApi('posture'), method: 'POST', headers: json, body: '[]', status: 405, reason: 'method-not-allowed' },
    ];
    for (const t of table) {
      const r = await request(t.url, { method: t.method, jar: adminJar, headers: { ...t.headers, ...await csrfHeaders(st.s.authOrigin, adminJar) }, ...(t.body !== undefined ? { body: t.body } : {}) });
      assert.equal(r.status, t.status, `${t.name}: ${r.text().slice(0, 200)}`);
      assert.deepEqual(r.json<Failure>().reasons, [t.reason], t.name);
      assert.match(r.json<Failure>().request_id, /^[0-9a-f]{24}$/, t.name);
    }
    const list = await request(dataApi('posture'), { jar: adminJar, headers: JSON_ACCEPT });
    assert.deepEqual(list.json<{ records: { id: string }[] }>().records.map((r) => r.id), ['127.0.0.1', '127.0.0.2']);
  });
});
