/**
 * One meaning per request, end to end (CONTRACT §7, docs/security.md): raw
 * requests an attacker would send, against a real upstream that echoes
 * what it received. Each is refused with 400 and its reason, or the route
 * Limen chose is the route of the path the upstream got, under every way
 * common frameworks read a path; no underscore twin and no restated path
 * or method reaches the upstream.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mintRouteToken } from '../src/accounts/index.js';
import { closeHttpAgents } from './support/index.js';
import { UPSTREAM_READINGS } from './support/readings.js';
import { SHARED_SECRET, startStack, type Stack } from './stack.js';

interface Echo { method: string; url: string; headers: Record<string, string>; raw_headers: [string, string][] }
interface Page { status: number; request_id: string; reasons?: string[]; explanations?: string[]; message: string }
interface Raw { status: number; headers: Record<string, string>; body: string }

/** Sends bytes as they are (an HTTP client would clean the path first) and reads the whole answer. */
function raw(port: number, text: string): Promise<Raw> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    sock.on('data', (d) => { data += d.toString('latin1'); });
    sock.on('close', () => {
      const end = data.indexOf('\r\n\r\n');
      const head = data.slice(0, end < 0 ? data.length : end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0), headers, body: end < 0 ? '' : data.slice(end + 4) });
    });
    sock.on('error', () => undefined);
    sock.write(text);
  });
}

const ROUTES = [
  { name: 'admin-exact', from: 'http://app.localhost:PORT', path: '/admin', to: 'UPSTREAM', allow_public_unauthenticated_access: true, set_request_headers: { 'X-Route': 'admin-exact' } },
  { name: 'admin', from: 'http://app.localhost:PORT', prefix: '/admin/', to: 'UPSTREAM', allow_public_unauthenticated_access: true, set_request_headers: { 'X-Route': 'admin' } },
  { name: 'public', from: 'http://app.localhost:PORT', prefix: '/public/', to: 'UPSTREAM', allow_public_unauthenticated_access: true, set_request_headers: { 'X-Route': 'public' } },
  { name: 'default', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true, set_request_headers: { 'X-Route': 'default' } },
  // A protected route with a public one beside it: the bypasses of the issue.
  { name: 'locked', from: 'http://locked.localhost:PORT', prefix: '/admin', to: 'UPSTREAM', allowed_users: ['nobody@example.com'] },
  { name: 'open', from: 'http://locked.localhost:PORT', prefix: '/', to: 'UPSTREAM', allow_public_unauthenticated_access: true },
  { name: 'machines', from: 'http://machines.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true },
];

describe('one meaning per request', () => {
  let s: Stack;
  let host: string;
  const get = (target: string, extra = '', hostHeader = host): Promise<Raw> =>
    raw(s.port, `GET ${target} HTTP/1.1\r\nHost: ${hostHeader}\r\nAccept: application/json\r\n${extra}Connection: close\r\n\r\n`);
  const routeOf = (path: string): string | undefined => s.limen.runtime().table.match('app.localhost', s.port, path)?.config.name;

  before(async () => {
    s = await startStack({ routes: ROUTES, config: { jwt_claims_headers: ['email'] } });
    host = `app.localhost:${s.port}`;
  });
  after(async () => {
    await s.close();
    await closeHttpAgents();
  });

  // Each target: the reason it is refused for, or the route it must reach.
  const TARGETS: [target: string, want: string][] = [
    // Encoded separators (Pomerium: path_with_escaped_slashes_action reject_request).
    ['/admin%2fx', 'path-encoded-slash'],
    ['/%2fadmin/x', 'path-encoded-slash'],
    ['/%2Fadmin', 'path-encoded-slash'],
    ['/public/..%2fadmin', 'path-encoded-slash'],
    ['/public/..%2Fadmin/', 'path-encoded-slash'],
    ['/public/..%5cadmin', 'path-encoded-slash'],
    ['/public/..%5Cadmin', 'path-encoded-slash'],
    ['/public\\..\\admin', 'path-backslash'],
    ['/public/..\\admin', 'path-backslash'],
    // Path parameters.
    ['/admin;x=1/y', 'path-parameter'],
    ['/public/..;/admin', 'path-parameter'],
    ['/public/..;/headers', 'path-parameter'],
    ['/admin;', 'path-parameter'],
    ['/public/%3b/../admin', 'path-parameter'],
    // Escapes.
    ['/%zz', 'path-invalid-escape'],
    ['/public/%', 'path-invalid-escape'],
    ['/public/%c0%af..%c0%afadmin', 'path-invalid-utf8'],
    ['/public/%e0%80%afadmin', 'path-invalid-utf8'],
    ['/public/%252e%252e/admin', 'path-double-encoded'],
    ['/public/..%252fadmin', 'path-double-encoded'],
    ['/public/..%25%32%66admin', 'path-double-encoded'],
    ['/admin%00.html', 'path-control-character'],
    ['/public/%0d%0aX-Injected:%201', 'path-control-character'],
    // Target forms.
    ['/admin#frag', 'target-fragment'],
    ['http://other.localhost/admin', 'host-mismatch'],
    // Accepted: one meaning, the normalized path is what the upstream receives.
    ['/public/%2e%2e/admin', 'admin-exact'],
    ['/public/.%2e/admin/x', 'admin'],
    ['/public/%2E%2E/admin/', 'admin'],
    ['//admin', 'admin-exact'],
    ['/%61dmin', 'admin-exact'],
    ['/%61dmin/%2e/x', 'admin'],
    ['/public/./x/../y', 'public'],
    ['/public/a%20b', 'public'],
    ['/public/caf%C3%A9', 'public'],
    ['/public/%3F/x', 'public'],
    ['/public/a"b{c}', 'public'],
    ['/publicity', 'default'],
    ['/public', 'default'],
    ['/x/../../admin/', 'admin'],
    ['/public/x?next=/admin%2f..', 'public'],
  ];

  test('ambiguous targets are refused; accepted ones reach the route every upstream reading selects', async () => {
    for (const [target, want] of TARGETS) {
      const res = await get(target);
      if (want.includes('-') && !['admin-exact'].includes(want)) {
        assert.equal(res.status, 400, `${target}: ${res.status} ${res.body}`);
        const page = JSON.parse(res.body) as Page;
        assert.deepEqual(page.reasons, [want], target);
        assert.ok(page.explanations?.[0] && !page.explanations[0].includes(want), target);
        assert.equal(res.headers['x-request-id'], page.request_id);
        continue;
      }
      assert.equal(res.status, 200, `${target}: ${res.status} ${res.body}`);
      const echo = JSON.parse(res.body) as Echo;
      const chosen = echo.headers['x-route'];
      assert.equal(chosen, want, target);
      const received = echo.url.split('?')[0]!;
      for (const [reading, read] of Object.entries(UPSTREAM_READINGS)) {
        assert.equal(routeOf(read(received)), chosen, `${target}: the upstream got ${received}; ${reading} → ${read(received)}`);
      }
    }
  });

  test('absolute-form for the same host is the origin-form request; Host is passed on in one spelling', async () => {
    const res = await get(`http://APP.localhost:${s.port}/public/../admin`, '', `App.LocalHost:${s.port}`);
    assert.equal(res.status, 200, res.body);
    const echo = JSON.parse(res.body) as Echo;
    assert.equal(echo.url, '/admin');
    assert.equal(echo.headers['x-route'], 'admin-exact');
    assert.equal(echo.headers['x-forwarded-host'], `app.localhost:${s.port}`);
  });

  test('Host confusion is refused', async () => {
    const cases: [string, string][] = [
      [`GET / HTTP/1.1\r\nHost: ${host}\r\nHost: locked.localhost:${s.port}\r\n`, 'host-duplicate'],
      [`GET / HTTP/1.1\r\nHost: user@${host}\r\n`, 'host-invalid'],
      [`GET / HTTP/1.1\r\nHost: app.localhost.:${s.port}\r\n`, 'host-invalid'],
      ['GET / HTTP/1.1\r\n', 'host-missing'],
      ['GET / HTTP/1.0\r\n', 'host-missing'],
      [`OPTIONS * HTTP/1.1\r\nHost: ${host}\r\n`, 'target-asterisk-form'],
    ];
    for (const [head, want] of cases) {
      const res = await raw(s.port, `${head}Accept: application/json\r\nConnection: close\r\n\r\n`);
      assert.equal(res.status, 400, head);
      assert.deepEqual((JSON.parse(res.body) as Page).reasons, [want], head);
    }
  });

  test('the bypasses of the issue: a public route never leads into a protected one', async () => {
    for (const target of ['/admin%2fx', '/%2fadmin/x', '/x/..%2fadmin', '/x/..%5cadmin', '/admin;x=1/y', '/x/..;/admin', '/x\\..\\admin']) {
      const res = await get(target, '', `locked.localhost:${s.port}`);
      assert.equal(res.status, 400, target);
    }
    for (const target of ['/admin', '/x/../admin', '/x/%2e%2e/admin', '//admin', '/%61dmin']) {
      assert.equal((await get(target, '', `locked.localhost:${s.port}`)).status, 401, target);
    }
  });

  const TWINS = [
    'X_Pomerium_Claim_Email: evil@example.com', 'X_Pomerium_Jwt_Assertion: forged', 'X-Pomerium_Jwt_Assertion_For: forged',
    'X-Forwarded_For: 10.0.0.1', 'X_Forwarded_Host: admin.internal', 'X_Forwarded_Proto: https', 'X_Request_Id: chosen',
    'X_Original_URL: /admin', 'X_Route: forged', 'Proxy_Authorization: x', 'Transfer_Encoding: chunked',
  ];

  test('a header name with _ is refused by default', async () => {
    for (const twin of [...TWINS, 'X_Custom: 1']) {
      const res = await get('/public/x', `${twin}\r\n`);
      assert.equal(res.status, 400, twin);
      assert.deepEqual((JSON.parse(res.body) as Page).reasons, ['header-name-underscore'], twin);
    }
  });

  test('headers that restate the path, method, host or client never reach the upstream', async () => {
    const restating = ['X-Original-URL: /admin', 'X-Rewrite-URL: /admin', 'X-Original-URI: /admin', 'X-HTTP-Method-Override: DELETE',
      'X-HTTP-Method: DELETE', 'X-Method-Override: DELETE', 'X-Forwarded-Prefix: /admin', 'X-Forwarded-Path: /admin', 'X-Forwarded-Uri: /admin',
      'X-Forwarded-Port: 8443', 'X-Forwarded-Scheme: https', 'Forwarded: for=10.0.0.1;host=admin.internal;proto=https', 'X-Real-IP: 10.0.0.1',
      'True-Client-IP: 10.0.0.1', 'X-Envoy-Original-Path: /admin'];
    const res = await get('/public/x', `${restating.join('\r\n')}\r\n`);
    assert.equal(res.status, 200, res.body);
    const echo = JSON.parse(res.body) as Echo;
    assert.equal(echo.method, 'GET');
    for (const h of restating) {
      const name = h.slice(0, h.indexOf(':')).toLowerCase();
      assert.equal(echo.headers[name], undefined, name);
    }
  });

  describe('each rule relaxed in config does what docs/security.md says', () => {
    const withConfig = async (extra: Record<string, unknown>, fn: () => Promise<void>): Promise<void> => {
      await s.limen.reload(s.configWith(ROUTES, { jwt_claims_headers: ['email'], ...extra }));
      try {
        await fn();
      } finally {
        await s.limen.reload(s.config);
      }
    };

    test('headers_with_underscores_action: drop_header forwards none of them', () => withConfig({ headers_with_underscores_action: 'drop_header' }, async () => {
      const res = await get('/public/x', `${[...TWINS, 'X_Custom: 1'].join('\r\n')}\r\n`);
      assert.equal(res.status, 200, res.body);
      const echo = JSON.parse(res.body) as Echo;
      assert.deepEqual(echo.raw_headers.filter(([n]) => n.includes('_')), []);
      assert.equal(echo.headers['x-route'], 'public');
      assert.equal(echo.headers['x-pomerium-claim-email'], '');
    }));

    test('headers_with_underscores_action: allow forwards them, except twins of headers Limen sets or strips', () => withConfig({ headers_with_underscores_action: 'allow' }, async () => {
      const res = await get('/public/x', `${[...TWINS, 'X_Custom: 1'].join('\r\n')}\r\n`);
      assert.equal(res.status, 200, res.body);
      const echo = JSON.parse(res.body) as Echo;
      assert.deepEqual(echo.raw_headers.filter(([n]) => n.includes('_')), [['X_Custom', '1']]);
    }));

    test('path_with_escaped_slashes_action', async () => {
      await withConfig({ path_with_escaped_slashes_action: 'unescape_and_forward' }, async () => {
        const res = await get('/public/..%2fadmin%5Cx');
        assert.equal(res.status, 200, res.body);
        const echo = JSON.parse(res.body) as Echo;
        assert.deepEqual([echo.url, echo.headers['x-route']], ['/admin/x', 'admin']);
      });
      await withConfig({ path_with_escaped_slashes_action: 'unescape_and_redirect' }, async () => {
        const res = await get('/public/..%2fadmin?q=1');
        assert.deepEqual([res.status, res.headers.location], [307, '/admin?q=1']);
      });
      await withConfig({ path_with_escaped_slashes_action: 'keep_unchanged' }, async () => {
        const res = await get('/public/..%2fadmin');
        assert.equal(res.status, 200, res.body);
        const echo = JSON.parse(res.body) as Echo;
        assert.deepEqual([echo.url, echo.headers['x-route']], ['/public/..%2Fadmin', 'public']);
      });
    });

    test('allow_* keys each accept what they name, and only that', async () => {
      const cases: [Record<string, unknown>, string, string, string][] = [
        [{ allow_backslash_in_path: true }, '/public/a\\b', '/public/a\\b', '/public/a;b'],
        [{ allow_path_parameters: true }, '/public/a;b=1', '/public/a;b=1', '/public/a\\b'],
        [{ allow_invalid_path_encoding: true }, '/public/%zz', '/public/%25zz', '/public/%252f'],
        [{ allow_double_encoded_path: true }, '/public/%252f', '/public/%252f', '/public/%zz'],
        [{ allow_encoded_control_characters: true }, '/public/a%00', '/public/a%00', '/public/%zz'],
      ];
      for (const [extra, target, forwarded, stillRefused] of cases) {
        await withConfig(extra, async () => {
          const res = await get(target);
          assert.equal(res.status, 200, `${JSON.stringify(extra)} ${target}: ${res.body}`);
          assert.equal((JSON.parse(res.body) as Echo).url, forwarded);
          assert.equal((await get(stillRefused)).status, 400, `${JSON.stringify(extra)} ${stillRefused}`);
        });
      }
    });
  });

  describe('every refusal explained', () => {
    test('parser-level errors get Limen\'s page: negotiated, request id, security headers, reasons', async () => {
      const cases: [string, number, string][] = [
        [`GET / HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'request-headers-too-large'],
        [`POST / HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400, 'request-malformed'],
        [`GET / HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nBad Header: x\r\n\r\n`, 400, 'request-malformed'],
      ];
      for (const [text, status, reason] of cases) {
        const res = await raw(s.port, text);
        assert.equal(res.status, status, reason);
        assert.equal(res.headers['content-type'], 'application/json');
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
        assert.equal(res.headers['cache-control'], 'no-store');
        const page = JSON.parse(res.body) as Page;
        assert.deepEqual(page.reasons, [reason]);
        assert.equal(page.request_id, res.headers['x-request-id']);
        assert.match(page.request_id, /^[0-9a-f]{24}$/);
        assert.ok(page.explanations?.[0] && !page.explanations[0].includes(reason));
      }
      const html = await raw(s.port, `GET / HTTP/1.1\r\nHost: ${host}\r\nAccept: text/html\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      assert.equal(html.status, 431);
      assert.match(html.headers['content-type'] ?? '', /^text\/html/);
      assert.match(html.body, /request-headers-too-large/);
      assert.match(html.body, /Request id/);
    });

    test('a machine request with a bad token is told what is wrong with it, not to sign in; the audit keeps the reason', async () => {
      const secret = new Uint8Array(Buffer.from(SHARED_SECRET, 'base64'));
      const machines = `machines.localhost`;
      const now = Date.now();
      const expired = (await mintRouteToken({ audience: [machines], expiryMs: 60_000, email: 'ci@example.com' }, secret, now - 3_600_000)).token;
      const elsewhere = (await mintRouteToken({ audience: ['other.localhost'], expiryMs: 60_000, email: 'ci@example.com' }, secret, now)).token;
      const valid = (await mintRouteToken({ audience: [machines], expiryMs: 60_000, email: 'ci@example.com' }, secret, now)).token;
      const forged = `${valid.slice(0, valid.lastIndexOf('.') + 1)}${'A'.repeat(43)}`;
      const cases: [string, string][] = [[expired, 'token-expired'], [elsewhere, 'token-audience-mismatch'], [forged, 'token-signature-invalid'], ['not.a.jwt', 'token-malformed']];
      for (const [token, reason] of cases) {
        for (const accept of ['application/json', 'text/html']) {
          const res = await raw(s.port, `GET /x HTTP/1.1\r\nHost: ${machines}:${s.port}\r\nAccept: ${accept}\r\nAuthorization: Pomerium ${token}\r\nConnection: close\r\n\r\n`);
          assert.equal(res.status, 401, `${reason} ${accept}`);
          if (accept === 'application/json') {
            const page = JSON.parse(res.body) as Page;
            assert.deepEqual(page.reasons, [reason]);
            assert.ok(!/sign in/i.test(page.explanations!.join(' ')), page.explanations!.join(' '));
          } else {
            assert.match(res.body, new RegExp(reason));
            assert.doesNotMatch(res.body, /user-unauthenticated/);
          }
        }
      }
      await s.limen.services.audit.flush();
      const events = await s.store.queryAudit({ route: 'machines', kind: 'authorize' });
      const failures = new Set(events.map((e) => (e.details as { credential_failure?: string }).credential_failure));
      for (const [, reason] of cases) assert.ok(failures.has(reason), `audit lacks ${reason}`);
    });
  });
});
