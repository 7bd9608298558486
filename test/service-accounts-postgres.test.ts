import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { closeHttpAgents, request } from './support/index.js';
import { SHARED_SECRET } from './stack.js';
import { assertNoTokensLogged, runCli, startSharedStoreStack, type SharedStoreStack } from './service-accounts-helpers.js';

const JSON_ACCEPT = { accept: 'application/json' };

/**
 * On PostgreSQL a change is honoured by a replica within
 * databroker_storage_max_staleness (1 s by default), usually at once: ask
 * until `done`, and fail if the bound (with room for a loaded machine) passes.
 */
async function withinStalenessBound<R>(send: () => Promise<R>, done: (r: R) => boolean): Promise<R> {
  const deadline = Date.now() + 1000 + 2000;
  for (;;) {
    const r = await send();
    if (done(r) || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** The CLI and a running server sharing PostgreSQL: changes apply to the server's next request. */
describe('service accounts on PostgreSQL: CLI and server share the store', () => {
  let st: SharedStoreStack;
  const tokens: string[] = [];

  before(async () => {
    st = await startSharedStoreStack({
      postgres: true,
      routes: [{ name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ user: { starts_with: 'pg-bot-' } }] } } }],
    });
  });
  after(async () => {
    await st.close();
    await closeHttpAgents();
  });

  test('create with the CLI, use, revoke with the CLI, refused on the next request', async () => {
    const user = `pg-bot-${Date.now()}`;
    const created = await runCli(['service-account', 'create', '--config', st.configPath, '--user', user, '--expires-in', '1h', '--json']);
    assert.equal(created.code, 0, created.stderr);
    const { token, service_account: account } = JSON.parse(created.stdout) as { token: string; service_account: { id: string } };
    tokens.push(token);
    assert.equal(decodeJwt(token).jti, account.id);
    const send = () => request(`${st.s.origin('app')}/`, { headers: { ...JSON_ACCEPT, authorization: `Bearer Pomerium-${token}` } });
    assert.equal((await send()).status, 200);
    const revoked = await runCli(['service-account', 'revoke', account.id, '--config', st.configPath]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const res = await withinStalenessBound(send, (r) => r.status !== 200);
    assert.equal(res.status, 401);
    assert.deepEqual(res.json<{ reasons: string[] }>().reasons.slice(0, 1), ['service-account-revoked']);

    const minted = await runCli(['token', '-aud', 'app.localhost', '-user', `${user}-t`], { env: { LIMEN_SHARED_SECRET: SHARED_SECRET } });
    assert.equal(minted.code, 0, minted.stderr);
    const jwt = minted.stdout.trim();
    tokens.push(jwt);
    const sendToken = () => request(`${st.s.origin('app')}/`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${jwt}` } });
    assert.equal((await sendToken()).status, 200);
    const r = await runCli(['token', 'revoke', String(decodeJwt(jwt).jti), '--config', st.configPath, '--expires-at', String(decodeJwt(jwt).exp)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await withinStalenessBound(sendToken, (x) => x.status !== 200)).status, 401);
  });

  test('no token value appears in any log line', async () => {
    await assertNoTokensLogged(st, tokens);
  });
});
