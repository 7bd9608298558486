import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { compileRoutePolicy, type ClientCertificateInfo, type CompiledPolicy, type IdentityInfo } from '../authz/index.js';
import type { Caller, IdentifyResult } from '../authn/index.js';
import { parseConfig, type Config } from '../config/index.js';
import { RouteTable, type TableRoute } from '../proxy/index.js';
import { loadRecords } from '../records/index.js';
import { MemoryStore } from '../store/index.js';
import { decideRoute, policyRequest, requestTarget } from './index.js';

const NOW = Date.parse('2026-11-23T10:00:00Z');

const testdata = (name: string): string => fileURLToPath(new URL(`../config/testdata/${name}`, import.meta.url));

/** A config; with `downstream_mtls`, one that serves TLS and names a CA, as config check requires. */
function config(routes: Record<string, unknown>[], extra: Record<string, unknown> = {}): Config {
  const mtls = extra.downstream_mtls as Record<string, unknown> | undefined;
  return parseConfig({
    authenticate_service_url: 'https://authenticate.example.com',
    idp_provider_url: 'https://idp.example.com', idp_client_id: 'x', idp_client_secret: 'y',
    shared_secret: randomBytes(32).toString('base64'), cookie_secret: randomBytes(32).toString('base64'),
    ...(mtls === undefined
      ? { insecure_server: true }
      : { certificate_file: testdata('tls.pem'), certificate_key_file: testdata('tls.key'), downstream_mtls: { ca_file: testdata('tls.pem'), ...mtls } }),
    ...(mtls === undefined ? extra : {}),
    routes,
  }, {});
}

function table(c: Config): RouteTable<{ policy: CompiledPolicy }> {
  return new RouteTable(c.routes.map((r) => ({ config: r, compiled: { policy: compileRoutePolicy(r) } })));
}

const ada: IdentityInfo = { user: 'u-ada', email: 'ada@example.com', groups: ['eng'], claims: {}, sessionId: 's-1' };
function caller(policy: IdentityInfo): Caller {
  return { kind: 'session', policy, assertion: { cacheKey: 'k', user: policy.user, email: policy.email, name: '', groups: policy.groups, sid: policy.sessionId, claims: {} } };
}
const signedIn: IdentifyResult = { caller: caller(ada), credential: 'cookie' };
const anonymous: IdentifyResult = { caller: null, credential: 'none' };
const cert = (presented: boolean, valid: boolean): ClientCertificateInfo => ({ presented, valid, fingerprint: '', spkiHash: '', sanEmail: [], sanDns: [], sanUri: [] });

describe('requestTarget: what a request addresses, in the order the server serves it', () => {
  const c = config([
    { name: 'app', from: 'https://app.example.com', to: 'http://127.0.0.1:9', allow_any_authenticated_user: true },
    { name: 'docs', from: 'https://docs.example.com', to: 'http://127.0.0.1:9', prefix: '/docs/', allow_public_unauthenticated_access: true },
    { name: 'wild', from: 'https://*.apps.example.com', to: 'http://127.0.0.1:9', allow_public_unauthenticated_access: true },
  ]);
  const site = { table: table(c), authHost: 'authenticate.example.com' };
  const cases: { host: string; path: string; want: string }[] = [
    { host: 'app.example.com', path: '/', want: 'app' },
    { host: 'app.example.com', path: '/ping', want: 'health' },
    { host: 'nowhere.example.com', path: '/healthz', want: 'health' },
    { host: 'nowhere.example.com', path: '/.well-known/pomerium/jwks.json', want: 'jwks' },
    { host: 'app.example.com', path: '/.pomerium/', want: 'route-host' },
    { host: 'app.example.com', path: '/.pomerium', want: 'route-host' },
    { host: 'app.example.com', path: '/.pomerium/user', want: 'route-host' },
    { host: 'app.example.com', path: '/.well-known/pomerium', want: 'route-host' },
    { host: 'app.example.com', path: '/.pomerium/sign_in', want: 'route-host' },
    // A route host whose routes do not cover the path still owns /.pomerium/.
    { host: 'docs.example.com', path: '/.pomerium/', want: 'route-host' },
    { host: 'docs.example.com', path: '/other', want: 'no-route' },
    { host: 'docs.example.com', path: '/docs/x', want: 'docs' },
    { host: 'x.apps.example.com', path: '/.pomerium/', want: 'route-host' },
    { host: 'x.apps.example.com', path: '/', want: 'wild' },
    { host: 'nowhere.example.com', path: '/.pomerium/', want: 'no-route' },
    { host: 'nowhere.example.com', path: '/', want: 'no-route' },
    { host: 'app.example.com', path: '/.pomeriumx', want: 'app' },
    { host: 'authenticate.example.com', path: '/.pomerium/sign_in', want: 'authenticate' },
    { host: 'authenticate.example.com', path: '/oauth2/callback', want: 'authenticate' },
    { host: 'authenticate.example.com', path: '/.pomerium/sign_out', want: 'authenticate' },
    { host: 'authenticate.example.com', path: '/.pomerium/signed_out', want: 'authenticate' },
    { host: 'authenticate.example.com', path: '/scim/v2', want: 'authenticate' },
    { host: 'authenticate.example.com', path: '/scim/v2/Users', want: 'authenticate' },
    { host: 'authenticate.example.com', path: '/.pomerium/api/v1/users', want: 'authenticate' },
    { host: 'authenticate.example.com', path: '/.pomerium/api/v1/nothing-here', want: 'authenticate' },
    // The admin console, on the authenticate host only.
    { host: 'authenticate.example.com', path: '/.pomerium/admin', want: 'authenticate' },
    { host: 'authenticate.example.com', path: '/.pomerium/admin/', want: 'authenticate' },
    { host: 'authenticate.example.com', path: '/.pomerium/admin/service-accounts', want: 'authenticate' },
    { host: 'authenticate.example.com', path: '/.pomerium/adminx', want: 'no-route' },
    { host: 'app.example.com', path: '/.pomerium/admin/', want: 'route-host' },
    // Programmatic login is a route-host endpoint; the authenticate host has no routes here.
    { host: 'authenticate.example.com', path: '/.pomerium/api/v1/login', want: 'no-route' },
    { host: 'authenticate.example.com', path: '/', want: 'no-route' },
    { host: 'app.example.com', path: '/oauth2/callback', want: 'app' },
    { host: 'app.example.com', path: '/scim/v2/Users', want: 'app' },
  ];
  for (const { host, path, want } of cases) {
    test(`${host}${path} → ${want}`, () => {
      const t = requestTarget(site, host, undefined, path);
      assert.equal(typeof t === 'string' ? t : t.config.name, want);
    });
  }

  test('without an authenticate service URL, its paths are routed like any other', () => {
    const t = requestTarget({ table: site.table, authHost: undefined }, 'app.example.com', undefined, '/.pomerium/api/v1/users');
    assert.equal(t, 'route-host');
    const u = requestTarget({ table: site.table, authHost: undefined }, 'app.example.com', undefined, '/oauth2/callback');
    assert.equal(typeof u === 'string' ? u : u.config.name, 'app');
  });
});

describe('policyRequest: the request as policy sees it', () => {
  test('method upper-cased, GET when absent; a preflight is OPTIONS with Origin and Access-Control-Request-Method', () => {
    const table: { method: string | undefined; headers: Record<string, string>; want: [string, boolean] }[] = [
      { method: undefined, headers: {}, want: ['GET', false] },
      { method: 'post', headers: {}, want: ['POST', false] },
      { method: 'OPTIONS', headers: { origin: 'https://a', 'access-control-request-method': 'PUT' }, want: ['OPTIONS', true] },
      { method: 'options', headers: { origin: 'https://a', 'access-control-request-method': 'PUT' }, want: ['OPTIONS', true] },
      { method: 'OPTIONS', headers: { origin: 'https://a' }, want: ['OPTIONS', false] },
      { method: 'OPTIONS', headers: { 'access-control-request-method': 'PUT' }, want: ['OPTIONS', false] },
      { method: 'GET', headers: { origin: 'https://a', 'access-control-request-method': 'PUT' }, want: ['GET', false] },
    ];
    for (const { method, headers, want } of table) {
      const r = policyRequest(method, 'app.example.com', '/x', '10.0.0.1', headers, undefined);
      assert.deepEqual([r.method, r.corsPreflight], want, JSON.stringify({ method, headers }));
      assert.deepEqual([r.host, r.path, r.ip, r.clientCertificate], ['app.example.com', '/x', '10.0.0.1', undefined]);
    }
  });
});

describe('decideRoute: records, evaluation and the two overrides', () => {
  const routes = [
    { name: 'staff', from: 'https://staff.example.com', to: 'http://127.0.0.1:9', policy: { allow: { and: [{ domain: { is: 'example.com' } }] } } },
    { name: 'devices', from: 'https://devices.example.com', to: 'http://127.0.0.1:9', policy: { allow: { and: [{ authenticated_user: true }, { record: { type: 'devices', field: 'ok', '=': true } }] } } },
    { name: 'posture', from: 'https://posture.example.com', to: 'http://127.0.0.1:9', policy: { allow: { and: [{ record: { type: 'posture', key: 'ip', exists: true } }] } } },
    { name: 'public', from: 'https://public.example.com', to: 'http://127.0.0.1:9', allow_public_unauthenticated_access: true },
  ];
  const policyOf = (c: Config, name: string): CompiledPolicy => {
    const r = table(c).match(`${name}.example.com`, undefined, '/') as TableRoute<{ policy: CompiledPolicy }>;
    return r.compiled.policy;
  };
  const plain = config(routes);
  const request = (host: string, certificate?: ClientCertificateInfo, ip = '10.0.0.1') => policyRequest('GET', `${host}.example.com`, '/', ip, {}, certificate);

  test('allow, deny and login with their reasons and rule', async () => {
    const store = new MemoryStore();
    const services = { store, now: () => NOW };
    const bob: IdentityInfo = { ...ada, user: 'u-bob', email: 'bob@other.example' };
    const table: { who: IdentifyResult; want: [string, string[], string | undefined] }[] = [
      { who: signedIn, want: ['allow', ['domain-ok'], 'routes[0].policy.allow.and'] },
      { who: { caller: caller(bob), credential: 'cookie' }, want: ['deny', ['domain-unauthorized'], undefined] },
      { who: anonymous, want: ['login', ['user-unauthenticated'], 'routes[0].policy.allow.and'] },
    ];
    for (const { who, want } of table) {
      const a = await decideRoute({ config: plain }, services, policyOf(plain, 'staff'), request('staff'), who);
      assert.deepEqual([a.decision.result, a.decision.reasons, a.decision.rule], want);
      assert.equal(a.who, who, 'the identifier result is passed through');
      assert.equal(a.decision.trace.length, 1);
    }
    await store.close();
  });

  test('records are read by user id and by client address before evaluation; unknown ids read as absent', async () => {
    const store = new MemoryStore();
    await loadRecords(store, 'devices', [{ id: 'u-ada', ok: true }, { id: 'u-bob', ok: false }]);
    await loadRecords(store, 'posture', [{ id: '10.0.0.1' }]);
    const services = { store, now: () => NOW };
    const as = (user: string): IdentifyResult => ({ caller: caller({ ...ada, user }), credential: 'cookie' });
    const results = await Promise.all([
      decideRoute({ config: plain }, services, policyOf(plain, 'devices'), request('devices'), as('u-ada')),
      decideRoute({ config: plain }, services, policyOf(plain, 'devices'), request('devices'), as('u-bob')),
      decideRoute({ config: plain }, services, policyOf(plain, 'devices'), request('devices'), as('u-nobody')),
      decideRoute({ config: plain }, services, policyOf(plain, 'posture'), request('posture'), anonymous),
      decideRoute({ config: plain }, services, policyOf(plain, 'posture'), request('posture', undefined, '10.0.0.2'), anonymous),
    ]);
    assert.deepEqual(results.map((a) => [a.decision.result, a.decision.reasons]), [
      ['allow', ['user-ok', 'record-ok']],
      ['deny', ['record-unauthorized']],
      ['deny', ['record-unauthorized']],
      ['allow', ['record-ok']],
      ['deny', ['record-unauthorized']],
    ]);
    await store.close();
  });

  test('downstream mTLS: enforcement other than policy denies any request without a valid certificate', async () => {
    const store = new MemoryStore();
    const services = { store, now: () => NOW };
    const withMtls = (enforcement: string) => config(routes, { downstream_mtls: { enforcement } });
    const table: { c: Config; cert: ClientCertificateInfo | undefined; want: string }[] = [
      { c: withMtls('policy_with_default_deny'), cert: cert(false, false), want: 'deny' },
      { c: withMtls('policy_with_default_deny'), cert: cert(true, false), want: 'deny' },
      // No certificate could be read at all (a plain-HTTP listener): not a valid one either.
      { c: withMtls('policy_with_default_deny'), cert: undefined, want: 'deny' },
      { c: withMtls('policy_with_default_deny'), cert: cert(true, true), want: 'allow' },
      { c: withMtls('reject_connection'), cert: cert(true, false), want: 'deny' },
      { c: withMtls('policy'), cert: cert(true, false), want: 'allow' },
      { c: plain, cert: undefined, want: 'allow' },
    ];
    for (const { c, cert: certificate, want } of table) {
      const a = await decideRoute({ config: c }, services, policyOf(c, 'public'), request('public', certificate), anonymous);
      const label = `${c.downstreamMtls?.enforcement ?? 'no mtls'} ${JSON.stringify(certificate)}`;
      assert.equal(a.decision.result, want, label);
      if (want === 'deny') {
        assert.deepEqual([a.decision.reasons, a.decision.rule], [['invalid-client-certificate'], 'downstream_mtls'], label);
        assert.equal(a.decision.trace.length, 1, 'the policy\'s own trace is kept');
      }
    }
    await store.close();
  });

  test('a credential outside its scope is refused with its reason, unless the route admits the request anyway', async () => {
    const store = new MemoryStore();
    const services = { store, now: () => NOW };
    const bot = caller({ ...ada, user: 'bot-eng', email: '' });
    const outside: IdentifyResult = { caller: null, credential: 'bearer', failure: 'namespace-unauthorized', outOfScope: bot };
    const staff = await decideRoute({ config: plain }, services, policyOf(plain, 'staff'), request('staff'), Promise.resolve(outside));
    assert.deepEqual([staff.decision.result, staff.decision.reasons, staff.decision.rule], ['deny', ['namespace-unauthorized'], undefined]);
    assert.equal(staff.who.caller, bot, 'the refused account is named on the 403 and in the audit');
    assert.equal(staff.who.failure, 'namespace-unauthorized');

    const open = await decideRoute({ config: plain }, services, policyOf(plain, 'public'), request('public'), outside);
    assert.equal(open.decision.result, 'allow');
    assert.equal(open.who.caller, null, 'the out-of-scope credential is not used');

    // The mTLS refusal comes first; the credential's own reason is what the client is told.
    const mtls = config(routes, { downstream_mtls: {} });
    const both = await decideRoute({ config: mtls }, services, policyOf(mtls, 'staff'), request('staff', cert(false, false)), outside);
    assert.deepEqual(both.decision.reasons, ['namespace-unauthorized']);
    await store.close();
  });

  test('the clock is read for evaluation, not taken from the wall', async () => {
    const c = config([{ name: 'hours', from: 'https://hours.example.com', to: 'http://127.0.0.1:9', policy: { allow: { and: [{ time_of_day: { timezone: 'UTC', after: '09:00', before: '17:00' } }] } } }]);
    const store = new MemoryStore();
    const at = (iso: string) => decideRoute({ config: c }, { store, now: () => Date.parse(iso) }, policyOf(c, 'hours'), request('hours'), anonymous);
    assert.equal((await at('2026-11-23T10:00:00Z')).decision.result, 'allow');
    assert.equal((await at('2026-11-23T20:00:00Z')).decision.result, 'deny');
    await store.close();
  });
});
