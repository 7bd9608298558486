import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { closeHttpAgents, request } from './support/index.js';
import { assertNoTokensLogged, runCli, startSharedStoreStack, type SharedStoreStack } from './service-accounts-helpers.js';

const JSON_ACCEPT = { accept: 'application/json' };

interface Failure { status: number; reasons: string[]; details?: Record<string, string> }
interface Echo { headers: Record<string, string | string[] | undefined> }

// global ─┬─ eng ── eng-ci
//         └─ sales
describe('namespaces: a service account works in its namespace and its descendants only', () => {
  let st: SharedStoreStack;
  const tokens: Record<string, string> = {};

  before(async () => {
    st = await startSharedStoreStack({
      routes: [
        { name: 'global-app', from: 'http://global.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, pass_identity_headers: true },
        { name: 'eng-app', from: 'http://eng.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, namespace: 'eng', pass_identity_headers: true },
        { name: 'ci-app', from: 'http://ci.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, namespace: 'eng-ci', pass_identity_headers: true },
        { name: 'sales-app', from: 'http://sales.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, namespace: 'sales', pass_identity_headers: true },
        { name: 'sales-public', from: 'http://sales-public.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true, namespace: 'sales', pass_identity_headers: true },
      ],
      config: { namespaces: [{ name: 'eng' }, { name: 'eng-ci', parent: 'eng' }, { name: 'sales', parent: 'global' }] },
    });
    for (const [user, ns] of [['bot-global', undefined], ['bot-eng', 'eng'], ['bot-ci', 'eng-ci']] as const) {
      const r = await runCli(['service-account', 'create', '--config', st.configPath, '--user', user, ...(ns ? ['--namespace', ns] : []), '--json']);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { token: string; service_account: { namespace: string } };
      assert.equal(out.service_account.namespace, ns ?? 'global');
      tokens[user] = out.token;
    }
  });
  after(async () => {
    await st.close();
    await closeHttpAgents();
  });

  const call = (host: string, user: string) => request(`${st.s.origin(host)}/`, { headers: { ...JSON_ACCEPT, authorization: `Bearer Pomerium-${tokens[user]}` } });

  test('each account against each route namespace', async () => {
    const table: { user: string; host: string; want: 200 | 403 }[] = [
      { user: 'bot-global', host: 'global', want: 200 },
      { user: 'bot-global', host: 'eng', want: 200 },
      { user: 'bot-global', host: 'ci', want: 200 },
      { user: 'bot-global', host: 'sales', want: 200 },
      { user: 'bot-eng', host: 'eng', want: 200 },
      { user: 'bot-eng', host: 'ci', want: 200 },
      { user: 'bot-eng', host: 'global', want: 403 },
      { user: 'bot-eng', host: 'sales', want: 403 },
      { user: 'bot-ci', host: 'ci', want: 200 },
      { user: 'bot-ci', host: 'eng', want: 403 },
      { user: 'bot-ci', host: 'global', want: 403 },
      { user: 'bot-ci', host: 'sales', want: 403 },
    ];
    for (const c of table) {
      const res = await call(c.host, c.user);
      assert.equal(res.status, c.want, `${c.user} on ${c.host}`);
      if (c.want === 403) {
        const body = res.json<Failure>();
        assert.deepEqual(body.reasons, ['namespace-unauthorized'], `${c.user} on ${c.host}`);
        assert.equal(body.details?.user, c.user, 'the 403 page says which account was refused');
      } else {
        const assertion = res.json<Echo>().headers['x-pomerium-jwt-assertion'] as string;
        assert.equal(decodeJwt(assertion).sub, c.user);
      }
    }
  });

  test('every header form and the cookie form get the same 403, never a redirect', async () => {
    const t = tokens['bot-eng']!;
    const forms: Record<string, string>[] = [
      { authorization: `Pomerium ${t}` }, { 'x-pomerium-authorization': t }, { authorization: `Bearer Pomerium-${t}` }, { cookie: `_pomerium=${t}` },
    ];
    for (const headers of forms) {
      const res = await request(`${st.s.origin('sales')}/`, { headers: { accept: 'text/html', ...headers } });
      assert.equal(res.status, 403, Object.keys(headers)[0]);
      assert.match(res.text(), /namespace-unauthorized/);
    }
  });

  test('on a public route outside its namespace the account is simply not used', async () => {
    const res = await call('sales-public', 'bot-eng');
    assert.equal(res.status, 200);
    assert.equal(res.json<Echo>().headers['x-pomerium-jwt-assertion'], undefined, 'no identity is asserted for an out-of-scope account');
  });

  test('refusals are audited with the account and the reason', async () => {
    await call('global', 'bot-ci');
    await st.s.limen.services.audit.flush();
    const events = await st.store.queryAudit({ kind: 'authorize', route: 'global-app', decision: 'deny' });
    const ev = events.find((e) => e.userId === 'bot-ci');
    assert.ok(ev);
    assert.equal(ev.details.credential_failure, 'namespace-unauthorized');
    assert.equal(ev.details.service_account_id, decodeJwt(tokens['bot-ci']!).jti);
  });

  test('the CLI refuses a namespace the config does not declare', async () => {
    const r = await runCli(['service-account', 'create', '--config', st.configPath, '--user', 'bot-x', '--namespace', 'marketing']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^limen service-account create: --namespace: namespace "marketing" is not declared in the config; namespaces: global, .*; see 'limen service-account create --help'\n$/);
    assert.equal(r.stdout, '', 'no token printed');
  });

  test('no token value appears in any log line', async () => {
    await assertNoTokensLogged(st, Object.values(tokens));
  });
});
