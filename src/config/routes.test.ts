import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors/index.js';
import { parseConfig, type Config, type RouteConfig } from './index.js';

const SECRET = Buffer.alloc(32, 7).toString('base64');
/** Test-only self-signed certificate (src/config/testdata), also usable as a CA file. */
const TLS_CA = fileURLToPath(new URL('./testdata/tls.pem', import.meta.url));

function configWith(routes: unknown, extra: Record<string, unknown> = {}): Config {
  const tls = extra.insecure_server === true ? {} : {
    certificate_file: fileURLToPath(new URL('./testdata/tls.pem', import.meta.url)),
    certificate_key_file: fileURLToPath(new URL('./testdata/tls.key', import.meta.url)),
  };
  return parseConfig({
    ...tls,
    shared_secret: SECRET,
    cookie_secret: SECRET,
    idp_provider_url: 'https://idp.example.com',
    idp_client_id: 'limen',
    authenticate_service_url: 'https://authenticate.example.com',
    routes,
    ...extra,
  }, {});
}

/** Parses one route (merged over a valid from/to) and returns it. */
function route(keys: Record<string, unknown>, extra: Record<string, unknown> = {}): RouteConfig {
  const r = configWith([{ from: 'https://app.example.com', to: 'http://127.0.0.1:9000', ...keys }], extra).routes[0];
  assert.ok(r);
  return r;
}

function routeError(keys: Record<string, unknown>, extra: Record<string, unknown> = {}): ConfigError {
  try {
    route(keys, extra);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.ok(error.message.startsWith(`${error.key}: `));
    return error;
  }
  assert.fail('expected a ConfigError');
}

describe('route defaults', () => {
  const r = route({});
  const want: Partial<Record<keyof RouteConfig, unknown>> = {
    index: 0,
    name: 'https://app.example.com',
    description: '',
    from: 'https://app.example.com',
    fromScheme: 'https',
    fromHost: 'app.example.com',
    fromPort: undefined,
    prefix: undefined,
    path: undefined,
    regex: undefined,
    policy: undefined,
    allowPublicUnauthenticatedAccess: false,
    allowAnyAuthenticatedUser: false,
    corsAllowPreflight: false,
    allowedUsers: [],
    allowedDomains: [],
    allowedIdpClaims: {},
    passIdentityHeaders: false,
    setRequestHeaders: {},
    removeRequestHeaders: [],
    setResponseHeaders: {},
    preserveHostHeader: false,
    hostRewrite: undefined,
    prefixRewrite: undefined,
    allowWebsockets: false,
    timeoutMs: 30_000,
    idleTimeoutMs: 300_000,
    tlsSkipVerify: false,
    tlsCustomCaFile: undefined,
    tlsCustomCa: undefined,
    tlsClientCertFile: undefined,
    tlsClientCert: undefined,
    tlsClientKeyFile: undefined,
    tlsClientKey: undefined,
    tlsServerName: undefined,
    namespace: 'global',
  };
  for (const [field, value] of Object.entries(want)) {
    test(`${field} defaults to ${JSON.stringify(value)}`, () => {
      assert.deepEqual(r[field as keyof RouteConfig], value);
    });
  }

  test('every RouteConfig field has a default row above (besides to)', () => {
    assert.deepEqual(Object.keys(r).filter((k) => !(k in want) && k !== 'to'), []);
  });

  test('timeout falls back to default_upstream_timeout; pass_identity_headers to the global', () => {
    const r2 = route({}, { default_upstream_timeout: '1m', pass_identity_headers: true });
    assert.equal(r2.timeoutMs, 60_000);
    assert.equal(r2.passIdentityHeaders, true);
    assert.equal(route({ pass_identity_headers: false }, { pass_identity_headers: true }).passIdentityHeaders, false);
    assert.equal(route({ pass_identity_headers: true }).passIdentityHeaders, true);
    assert.equal(route({ timeout: '0' }, { default_upstream_timeout: '1m' }).timeoutMs, 0);
  });
});

describe('from', () => {
  const good: { from: string; insecure?: boolean; host: string; port?: number; scheme?: string }[] = [
    { from: 'https://app.example.com', host: 'app.example.com' },
    { from: 'https://App.Example.COM:8443/', host: 'app.example.com', port: 8443 },
    { from: 'https://*.example.com', host: '*.example.com' },
    { from: 'https://*.apps.Example.com:443', host: '*.apps.example.com', port: 443 },
    { from: 'http://app.localhost:8080', insecure: true, host: 'app.localhost', port: 8080, scheme: 'http' },
    { from: 'https://app.localhost', insecure: true, host: 'app.localhost' },
    { from: 'https://127.0.0.1:8443', host: '127.0.0.1', port: 8443 },
    { from: 'https://[::1]:8443', host: '[::1]', port: 8443 },
    { from: 'https://bücher.example', host: 'xn--bcher-kva.example' },
  ];
  for (const { from, insecure, host, port, scheme } of good) {
    test(`${from} → ${host}`, () => {
      const r = route({ from }, { insecure_server: insecure === true });
      assert.equal(r.fromHost, host);
      assert.equal(r.fromPort, port);
      assert.equal(r.fromScheme, scheme ?? 'https');
      assert.equal(r.from, from);
    });
  }

  const bad: { from: unknown; want: RegExp }[] = [
    { from: 'http://app.example.com', want: /http:\/\/ routes need insecure_server: true/ },
    { from: 'https://app.example.com/app', want: /no path, query or fragment, got "\/app"; match paths with prefix, path or regex/ },
    { from: 'https://app.example.com?x=1', want: /no path, query or fragment/ },
    { from: 'https://app.example.com#top', want: /no path, query or fragment/ },
    { from: 'ftp://app.example.com', want: /scheme "ftp"/ },
    { from: 'tcp+https://db.example.com:5432', want: /TCP tunnel \(tcp\+https:\/\/\), a Pomerium feature Limen does not implement yet/ },
    { from: 'app.example.com', want: /expected a URL like/ },
    { from: 'https://', want: /expected a URL like/ },
    { from: 'https://a.*.example.com', want: /wildcard must be the whole first label/ },
    { from: 'https://*example.com', want: /wildcard must be the whole first label/ },
    { from: 'https://user:pw@app.example.com', want: /no user name or password/ },
    { from: 'https://app.example.com:0', want: /port from 1 to 65535/ },
    { from: 'https://app.example.com:70000', want: /port from 1 to 65535/ },
    { from: 'https://app example.com', want: /expected a host name/ },
  ];
  for (const { from, want } of bad) {
    test(`rejects ${String(from)}`, () => {
      const err = routeError({ from });
      assert.equal(err.key, 'routes[0].from');
      assert.match(err.message, want);
    });
  }

  test('is required', () => {
    const err = (() => { try { configWith([{ to: 'http://b' }]); } catch (e) { return e; } })();
    assert.ok(err instanceof ConfigError);
    assert.equal(err.key, 'routes[0].from');
    assert.match(err.message, /required/);
  });
});

describe('to', () => {
  test('one URL, weight 1; a path stays in the URL', () => {
    const r = route({ to: 'http://127.0.0.1:9000/api' });
    assert.equal(r.to.length, 1);
    assert.equal(r.to[0]?.url.href, 'http://127.0.0.1:9000/api');
    assert.equal(r.to[0]?.url.pathname, '/api');
    assert.equal(r.to[0]?.weight, 1);
  });

  test('a list with weights', () => {
    const r = route({ to: ['http://a.internal:8080,3', 'https://b.internal, 1', 'http://c.internal'] });
    assert.deepEqual(r.to.map((u) => [u.url.host, u.weight]), [['a.internal:8080', 3], ['b.internal', 1], ['c.internal', 1]]);
  });

  const bad: { to: unknown; key: string; want: RegExp }[] = [
    { to: [], key: 'routes[0].to', want: /at least one upstream/ },
    { to: 'ftp://files.internal', key: 'routes[0].to', want: /http or https/ },
    { to: 'files.internal:80', key: 'routes[0].to', want: /expected an|http or https/ },
    { to: ['http://a', 'http://b,0'], key: 'routes[0].to[1]', want: /weight from 1 to 4294967295 after the comma, got "0"/ },
    { to: ['http://a,heavy'], key: 'routes[0].to[0]', want: /weight .* got "heavy"/ },
    { to: ['http://a,-1'], key: 'routes[0].to[0]', want: /weight/ },
    { to: ['http://a,'], key: 'routes[0].to[0]', want: /weight/ },
    { to: ['http://a,99999999999'], key: 'routes[0].to[0]', want: /weight/ },
    { to: 'http://u:p@a', key: 'routes[0].to', want: /without user name or password/ },
    { to: 'http://a/?q=1', key: 'routes[0].to', want: /without query or fragment/ },
    { to: [{ url: 'http://a' }], key: 'routes[0].to[0]', want: /expected a string/ },
    { to: null, key: 'routes[0].to', want: /expected a string/ },
  ];
  for (const { to, key, want } of bad) {
    test(`rejects ${JSON.stringify(to)}`, () => {
      const err = routeError({ to });
      assert.equal(err.key, key);
      assert.match(err.message, want);
    });
  }

  test('is required', () => {
    try {
      configWith([{ from: 'https://a.example.com' }]);
      assert.fail('expected an error');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.key, 'routes[0].to');
    }
  });
});

describe('prefix, path, regex', () => {
  test('prefix and path are kept as written', () => {
    assert.equal(route({ prefix: '/api/' }).prefix, '/api/');
    assert.equal(route({ path: '/health' }).path, '/health');
  });

  const matches: { regex: string; yes: string[]; no: string[] }[] = [
    { regex: '/api/.*', yes: ['/api/', '/api/x/y'], no: ['/api', '/v1/api/x', 'x/api/'] },
    { regex: '/a|/b', yes: ['/a', '/b'], no: ['/ab', '/a/b', 'x/b'] },
    { regex: '/users/[0-9]+', yes: ['/users/42'], no: ['/users/42/edit', '/users/'] },
    // RE2 syntax, as Pomerium: inline flags and escaped slashes work.
    { regex: '(?i)/Admin/.*', yes: ['/admin/x', '/ADMIN/'], no: ['/admins'] },
    { regex: '\\/files\\/[a-z]+', yes: ['/files/abc'], no: ['/files/ABC'] },
  ];
  for (const { regex, yes, no } of matches) {
    test(`regex ${regex} matches the whole path`, () => {
      const r = route({ regex });
      assert.ok(r.regex);
      for (const p of yes) assert.ok(r.regex.test(p), p);
      for (const p of no) assert.ok(!r.regex.test(p), p);
    });
  }

  test('a backtracking-prone regex is decided in linear time on an adversarial path', () => {
    // Regression: `/files/([a-z0-9]+/?)*` with a 37-byte path took ~24 s on
    // a backtracking engine. Input lengths grow 1000-fold; the work must not
    // explode (asserted by finishing at all, not by timing).
    const r = route({ regex: '/files/([a-z0-9]+/?)*' });
    for (const n of [29, 290, 29_000]) assert.equal(r.regex!.test(`/files/${'a'.repeat(n)}!`), false);
    assert.equal(r.regex!.test('/files/abc/def/'), true);
  });

  const bad: { keys: Record<string, unknown>; key: string; want: RegExp }[] = [
    { keys: { regex: '/api/(' }, key: 'routes[0].regex', want: /expected a regular expression, got "\/api\/\(" \(/ },
    { keys: { regex: '[z-a]' }, key: 'routes[0].regex', want: /expected a regular expression/ },
    { keys: { regex: '/(a)\\1' }, key: 'routes[0].regex', want: /backreferences .* not supported/ },
    { keys: { regex: '/(?<n>a)\\k<n>' }, key: 'routes[0].regex', want: /backreferences .* not supported/ },
    { keys: { regex: '/(?=admin).*' }, key: 'routes[0].regex', want: /lookahead and lookbehind .* not supported/ },
    { keys: { regex: '/(?!admin).*' }, key: 'routes[0].regex', want: /lookahead and lookbehind .* not supported/ },
    { keys: { regex: '/x(?<=x)' }, key: 'routes[0].regex', want: /lookahead and lookbehind .* not supported/ },
    { keys: { prefix: 'api' }, key: 'routes[0].prefix', want: /starting with "\/"/ },
    { keys: { path: '' }, key: 'routes[0].path', want: /non-empty/ },
    { keys: { prefix_rewrite: 'v2/' }, key: 'routes[0].prefix_rewrite', want: /starting with "\/"/ },
  ];
  for (const { keys, key, want } of bad) {
    test(`rejects ${JSON.stringify(keys)}`, () => {
      const err = routeError(keys);
      assert.equal(err.key, key);
      assert.match(err.message, want);
    });
  }
});

describe('policy and shortcuts', () => {
  test('policy is kept raw (authz compiles it), even when it is not valid PPL', () => {
    const policy = [{ allow: { and: [{ email: { is: 'a@example.com' } }] } }, { nonsense: true }];
    assert.deepEqual(route({ policy }).policy, policy);
  });

  test('shortcuts are read', () => {
    const r = route({
      allow_public_unauthenticated_access: true,
      allow_any_authenticated_user: true,
      cors_allow_preflight: true,
      allowed_users: ['ada@example.com', 'u-1'],
      allowed_domains: ['Example.com'],
      allowed_idp_claims: { groups: ['admins', 'ops'], department: 'eng', level: 3 },
    });
    assert.equal(r.allowPublicUnauthenticatedAccess, true);
    assert.equal(r.allowAnyAuthenticatedUser, true);
    assert.equal(r.corsAllowPreflight, true);
    assert.deepEqual(r.allowedUsers, ['ada@example.com', 'u-1']);
    assert.deepEqual(r.allowedDomains, ['example.com']);
    assert.deepEqual(r.allowedIdpClaims, { groups: ['admins', 'ops'], department: ['eng'], level: [3] });
  });

  const bad: { keys: Record<string, unknown>; key: string }[] = [
    { keys: { allow_any_authenticated_user: 'yes' }, key: 'routes[0].allow_any_authenticated_user' },
    { keys: { allowed_users: [{}] }, key: 'routes[0].allowed_users[0]' },
    { keys: { allowed_users: 'a@example.com' }, key: 'none' },
    { keys: { allowed_domains: null }, key: 'routes[0].allowed_domains' },
    { keys: { allowed_idp_claims: ['groups'] }, key: 'routes[0].allowed_idp_claims' },
    { keys: { allowed_idp_claims: { groups: [{ a: 1 }] } }, key: 'routes[0].allowed_idp_claims.groups[0]' },
    { keys: { allowed_idp_claims: { groups: null } }, key: 'routes[0].allowed_idp_claims.groups' },
  ];
  for (const { keys, key } of bad) {
    test(`${JSON.stringify(keys)} ${key === 'none' ? 'is accepted' : `→ ${key}`}`, () => {
      if (key === 'none') {
        // A single string is a one-item list, as in the environment.
        assert.deepEqual(route(keys).allowedUsers, ['a@example.com']);
        return;
      }
      assert.equal(routeError(keys).key, key);
    });
  }
});

describe('__proto__ keys', () => {
  test('are refused in maps Limen copies, and kept as plain data in a policy', () => {
    const headers = JSON.parse('{"__proto__": {"polluted": "yes"}}') as unknown;
    const err = routeError({ set_request_headers: headers });
    assert.equal(err.key, 'routes[0].set_request_headers.__proto__');
    const claims = JSON.parse('{"__proto__": ["a"]}') as unknown;
    assert.equal(routeError({ allowed_idp_claims: claims }).key, 'routes[0].allowed_idp_claims.__proto__');

    const policy = JSON.parse('{"allow": {"__proto__": {"or": [{"accept": true}]}}}') as { allow: object };
    const kept = route({ policy }).policy as { allow: object };
    assert.equal(Object.getPrototypeOf(kept.allow), Object.prototype);
    assert.ok(Object.hasOwn(kept.allow, '__proto__'));
    assert.equal(({} as { polluted?: string }).polluted, undefined);
  });
});

describe('headers', () => {
  test('set and remove', () => {
    const r = route({
      set_request_headers: { 'X-Team': 'eng', 'X-Num': 5, 'X-Flag': true, 'X-Empty': '' },
      remove_request_headers: ['X-Debug', 'Cookie'],
      set_response_headers: { 'Strict-Transport-Security': 'max-age=31536000' },
      host_rewrite: 'internal.example.com:8080',
    });
    assert.deepEqual(r.setRequestHeaders, { 'X-Team': 'eng', 'X-Num': '5', 'X-Flag': 'true', 'X-Empty': '' });
    assert.deepEqual(r.removeRequestHeaders, ['x-debug', 'cookie']);
    assert.deepEqual(r.setResponseHeaders, { 'Strict-Transport-Security': 'max-age=31536000' });
    assert.equal(r.hostRewrite, 'internal.example.com:8080');
    assert.equal(route({ preserve_host_header: true }).preserveHostHeader, true);
  });

  const bad: { keys: Record<string, unknown>; key: string; want: RegExp }[] = [
    { keys: { set_request_headers: { 'X-A': 'a\r\nX-Injected: 1' } }, key: 'routes[0].set_request_headers.X-A', want: /line breaks/ },
    { keys: { set_response_headers: { 'Bad Header': 'x' } }, key: 'routes[0].set_response_headers["Bad Header"]', want: /HTTP header name/ },
    { keys: { set_response_headers: { 'X-Request-ID': 'fixed' } }, key: 'routes[0].set_response_headers.X-Request-ID', want: /request id Limen logs/ },
    { keys: { set_request_headers: ['X-A'] }, key: 'routes[0].set_request_headers', want: /mapping/ },
    { keys: { set_request_headers: { 'X-A': { b: 1 } } }, key: 'routes[0].set_request_headers.X-A', want: /string/ },
    { keys: { remove_request_headers: ['X A'] }, key: 'routes[0].remove_request_headers[0]', want: /HTTP header name/ },
    { keys: { host_rewrite: 'http://internal' }, key: 'routes[0].host_rewrite', want: /host name/ },
  ];
  for (const { keys, key, want } of bad) {
    test(`rejects ${JSON.stringify(keys)}`, () => {
      const err = routeError(keys);
      assert.equal(err.key, key);
      assert.match(err.message, want);
    });
  }
});

describe('other route keys', () => {
  test('are read', () => {
    const r = route({
      name: 'App', description: 'The app', allow_websockets: true, timeout: '10s', idle_timeout: '1h',
      to: 'https://10.0.0.1:8443', tls_skip_verify: true, tls_custom_ca_file: TLS_CA, tls_server_name: 'app.internal', prefix_rewrite: '/v2/',
    });
    assert.equal(r.name, 'App');
    assert.equal(r.description, 'The app');
    assert.equal(r.allowWebsockets, true);
    assert.equal(r.timeoutMs, 10_000);
    assert.equal(r.idleTimeoutMs, 3_600_000);
    assert.equal(r.tlsSkipVerify, true);
    assert.equal(r.tlsCustomCaFile, TLS_CA);
    assert.equal(r.tlsServerName, 'app.internal');
    assert.equal(r.prefixRewrite, '/v2/');
  });

  test('namespace must be listed in namespaces', () => {
    const namespaces = [{ name: 'eng' }, { name: 'payments', parent: 'eng' }];
    assert.equal(route({ namespace: 'payments' }, { namespaces }).namespace, 'payments');
    const err = routeError({ namespace: 'payment' }, { namespaces });
    assert.equal(err.key, 'routes[0].namespace');
    assert.match(err.message, /unknown namespace "payment"; add it to namespaces or use "payments"/);
  });

  test('indexes count from 0 and errors name the route', () => {
    const config = configWith([
      { from: 'https://a.example.com', to: 'http://a' },
      { from: 'https://b.example.com', to: 'http://b' },
    ]);
    assert.deepEqual(config.routes.map((r) => r.index), [0, 1]);
    try {
      configWith([{ from: 'https://a.example.com', to: 'http://a' }, { from: 'https://b.example.com', to: 'http://b', timeout: 'soon' }]);
      assert.fail('expected an error');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.key, 'routes[1].timeout');
    }
  });
});

describe('unknown route keys', () => {
  const cases: [string, string][] = [
    ['allowed_user', 'allowed_users'],
    ['allow_websocket', 'allow_websockets'],
    ['pass_identity_header', 'pass_identity_headers'],
    ['prefx', 'prefix'],
    ['set_request_header', 'set_request_headers'],
    ['tls_skip_verfiy', 'tls_skip_verify'],
    ['Timeout', 'timeout'],
  ];
  for (const [key, suggestion] of cases) {
    test(`${key} → ${suggestion}`, () => {
      try {
        configWith([{ from: 'https://a.example.com', to: 'http://a' }, { from: 'https://b.example.com', to: 'http://b', [key]: [] }]);
        assert.fail('expected an error');
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.key, `routes[1].${key}`);
        assert.equal(error.message, `routes[1].${key}: unknown key; did you mean "${suggestion}"?`);
      }
    });
  }
});

describe('policy: Pomerium\'s older name for routes', () => {
  test('is read as the routes list', () => {
    const config = parseConfig({
      insecure_server: true,
      shared_secret: SECRET, cookie_secret: SECRET, idp_provider_url: 'https://idp.example.com', idp_client_id: 'c',
      authenticate_service_url: 'https://authenticate.example.com',
      policy: [{ from: 'https://a.example.com', to: 'http://a' }],
    }, {});
    assert.equal(config.routes[0]?.fromHost, 'a.example.com');
  });

  test('errors name policy[i]; routes and policy together are an error', () => {
    const base = { insecure_server: true, shared_secret: SECRET, cookie_secret: SECRET, idp_provider_url: 'https://idp.example.com', idp_client_id: 'c', authenticate_service_url: 'https://authenticate.example.com' };
    for (const [doc, key] of [
      [{ ...base, policy: [{ from: 'ftp://a', to: 'http://a' }] }, 'policy[0].from'],
      [{ ...base, policy: [], routes: [] }, 'policy'],
    ] as const) {
      try {
        parseConfig(doc, {});
        assert.fail('expected an error');
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.key, key);
      }
    }
  });
});

describe('bad values in route keys name the key', () => {
  const ALL = [0, -1, '', null, [], {}];
  const cases: { key: string; bad: unknown[] }[] = [
    { key: 'from', bad: ALL },
    { key: 'to', bad: ALL },
    { key: 'prefix', bad: ALL },
    { key: 'path', bad: ALL },
    { key: 'regex', bad: ['', null, [], {}, '(', '*'] },
    { key: 'allow_public_unauthenticated_access', bad: ALL },
    { key: 'allowed_domains', bad: [0, -1, null, {}] },
    { key: 'allowed_idp_claims', bad: [0, -1, '', null, []] },
    { key: 'pass_identity_headers', bad: ALL },
    { key: 'set_request_headers', bad: [0, -1, '', null, []] },
    { key: 'remove_request_headers', bad: [0, -1, null, {}] },
    { key: 'preserve_host_header', bad: ALL },
    { key: 'host_rewrite', bad: [-1, '', null, [], {}] },
    { key: 'prefix_rewrite', bad: ALL },
    { key: 'allow_websockets', bad: ALL },
    { key: 'timeout', bad: [-1, '', null, [], {}, 30] },
    { key: 'idle_timeout', bad: [-1, '', null, [], {}] },
    { key: 'tls_skip_verify', bad: ALL },
    { key: 'tls_custom_ca_file', bad: ['', null, [], {}] },
    { key: 'tls_server_name', bad: ['', null, [], {}] },
    { key: 'name', bad: ['', null, [], {}] },
    { key: 'description', bad: [null, [], {}] },
    { key: 'namespace', bad: ALL },
  ];
  for (const { key, bad } of cases) {
    test(key, () => {
      for (const value of bad) {
        const err = routeError({ [key]: value });
        const at = `routes[0].${key}`;
        assert.ok(err.key === at || err.key.startsWith(`${at}[`) || err.key.startsWith(`${at}.`), `${JSON.stringify(value)} gave ${err.key}`);
      }
    });
  }
});

describe('upstream client certificate (tls_client_cert / tls_client_key)', () => {
  const file = (name: string): string => fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));
  const b64 = (name: string): string => readFileSync(file(name)).toString('base64');
  const https = { to: 'https://10.0.0.1:8443' };
  test('file and inline forms load; files stay paths, inline values become PEM text', () => {
    const f = route({ ...https, tls_client_cert_file: file('tls.pem'), tls_client_key_file: file('tls.key') });
    assert.equal(f.tlsClientCertFile, file('tls.pem'));
    assert.equal(f.tlsClientKeyFile, file('tls.key'));
    const i = route({ ...https, tls_client_cert: b64('tls.pem'), tls_client_key: b64('tls.key') });
    assert.match(i.tlsClientCert ?? '', /-----BEGIN CERTIFICATE-----/);
    assert.match(i.tlsClientKey ?? '', /PRIVATE KEY-----/);
    const mixed = route({ ...https, tls_client_cert_file: file('tls.pem'), tls_client_key: b64('tls.key') });
    assert.equal(mixed.tlsClientCertFile, file('tls.pem'));
  });
  const cases: { name: string; keys: Record<string, unknown>; key: string; want: RegExp }[] = [
    { name: 'both cert forms', keys: { tls_client_cert_file: file('tls.pem'), tls_client_cert: b64('tls.pem'), tls_client_key_file: file('tls.key') }, key: 'routes[0].tls_client_cert', want: /set tls_client_cert or tls_client_cert_file, not both/ },
    { name: 'both key forms', keys: { tls_client_cert_file: file('tls.pem'), tls_client_key_file: file('tls.key'), tls_client_key: b64('tls.key') }, key: 'routes[0].tls_client_key', want: /set tls_client_key or tls_client_key_file, not both/ },
    { name: 'a certificate without its key', keys: { tls_client_cert: b64('tls.pem') }, key: 'routes[0].tls_client_key_file', want: /required when tls_client_cert is set/ },
    { name: 'a key without its certificate', keys: { tls_client_key_file: file('tls.key') }, key: 'routes[0].tls_client_cert_file', want: /required when tls_client_key_file is set/ },
    { name: 'a key that does not belong to the certificate', keys: { tls_client_cert_file: file('tls.pem'), tls_client_key_file: file('other.key') }, key: 'routes[0].tls_client_key_file', want: /does not belong to the certificate/ },
    { name: 'a missing certificate file', keys: { tls_client_cert_file: file('nope.pem'), tls_client_key_file: file('tls.key') }, key: 'routes[0].tls_client_cert_file', want: /cannot read the certificate file .*ENOENT/ },
    { name: 'a key file that holds a certificate', keys: { tls_client_cert_file: file('tls.pem'), tls_client_key_file: file('tls.pem') }, key: 'routes[0].tls_client_key_file', want: /holds no readable PEM private key/ },
    { name: 'a cert file that holds a key', keys: { tls_client_cert_file: file('tls.key'), tls_client_key_file: file('tls.key') }, key: 'routes[0].tls_client_cert_file', want: /holds no PEM certificate/ },
    { name: 'inline value that is not base64', keys: { tls_client_cert: 'not base64!', tls_client_key_file: file('tls.key') }, key: 'routes[0].tls_client_cert', want: /not valid base64/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const err = routeError({ ...https, ...c.keys });
      assert.equal(err.key, c.key, err.message);
      assert.match(err.message, c.want);
      assert.doesNotMatch(err.message, /MII|KEY-----/, 'never quotes the material');
    });
  }
  test('an http upstream refuses them: they would do nothing', () => {
    const err = routeError({ tls_client_cert_file: file('tls.pem'), tls_client_key_file: file('tls.key') });
    assert.equal(err.key, 'routes[0].tls_client_cert_file');
    assert.match(err.message, /applies only to https upstreams/);
  });
});
