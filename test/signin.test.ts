import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { CookieJar, followFlow, parseForms, request, scriptedLogin, closeHttpAgents, type TestResponse } from './support/index.js';
import { startStack, type Stack } from './stack.js';

const JSON_ACCEPT = { accept: 'application/json' };
const BROWSER_ACCEPT = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
}

describe('sign-in, policy and signed identity, end to end', () => {
  let s: Stack;
  const lines: string[] = [];
  before(async () => {
    s = await startStack({
      logLines: lines,
      routes: [
        { name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, pass_identity_headers: true },
        { name: 'staff', from: 'http://staff.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ domain: { is: 'example.com' } }] } }, pass_identity_headers: true },
        { name: 'public', from: 'http://public.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true },
        // Pomerium's header templates; this route passes no identity headers of its own.
        { name: 'tmpl', from: 'http://tmpl.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, pass_identity_headers: false,
          set_request_headers: { 'X-Jwt': '${pomerium.jwt}', 'Authorization': 'Bearer ${pomerium.access_token}', 'X-Id-Token': '${pomerium.id_token}', 'X-Price': '$$5' } },
      ],
      config: { jwt_claims_headers: ['email', 'groups'] },
    });
  });
  after(async () => {
    await s.close();
    await closeHttpAgents();
  });

  test('an unauthenticated browser is sent to sign-in; other clients get 401', async () => {
    const browser = await request(`${s.origin('app')}/some/page?x=1`, { headers: BROWSER_ACCEPT });
    assert.equal(browser.status, 302);
    const loc = new URL(browser.header('location')!);
    assert.equal(loc.origin, s.authOrigin);
    assert.equal(loc.pathname, '/.pomerium/sign_in');
    assert.equal(loc.searchParams.get('pomerium_redirect_uri'), `${s.origin('app')}/some/page?x=1`);

    const api = await request(`${s.origin('app')}/api`, { headers: JSON_ACCEPT });
    assert.equal(api.status, 401);
    const body = api.json<{ request_id: string; reasons: string[] }>();
    assert.match(body.request_id, /^[0-9a-f]{24}$/);
    assert.ok(body.reasons.includes('user-unauthenticated'));

    const curl = await request(`${s.origin('app')}/api`, { headers: { accept: '*/*' } });
    assert.equal(curl.status, 401);
  });

  test('a user signs in through the IdP and returns to the page they asked for', async () => {
    const jar = new CookieJar();
    const flow = await scriptedLogin(`${s.origin('app')}/welcome?from=test`, 'ada@example.com', { jar });
    assert.equal(flow.response.status, 200);
    assert.equal(new URL(flow.url).href, `${s.origin('app')}/welcome?from=test`);
    assert.ok(flow.loginSubmitted);
    const res = await request(`${s.origin('app')}/echo`, { jar, headers: JSON_ACCEPT });
    assert.equal(res.status, 200);
    const echo = res.json<Echo>();
    assert.equal(echo.url, '/echo');
  });

  test('the upstream receives an ES256 assertion that verifies against the JWKS', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'grace@example.com', { jar, groups: ['eng', 'staff'] });
    const res = await request(`${s.origin('app')}/headers`, { jar, headers: JSON_ACCEPT });
    const echo = res.json<Echo>();
    const token = echo.headers['x-pomerium-jwt-assertion'] as string;
    assert.ok(token, 'assertion header present');
    const jwksUrl = new URL('/.well-known/pomerium/jwks.json', s.origin('app'));
    const jwksRes = await request(jwksUrl);
    assert.equal(jwksRes.status, 200);
    assert.equal(jwksRes.header('cache-control'), 'max-age=60');
    assert.equal(jwksRes.header('access-control-allow-origin'), '*');
    const keys = jwksRes.json<{ keys: { kid: string; alg: string }[] }>().keys;
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, 'ES256');
    assert.equal(header.typ, 'JWT');
    assert.match(String(header.kid), /^[0-9a-f]{64}$/);
    assert.ok(keys.some((k) => k.kid === header.kid));
    const local = createLocalJWKSet({ keys: keys as never });
    const { payload } = await jwtVerify(token, local, { issuer: `app.localhost`, audience: 'app.localhost', algorithms: ['ES256'] });
    assert.equal(payload.exp! - payload.iat!, 300);
    assert.equal(payload.email, 'grace@example.com');
    assert.deepEqual(payload.groups, ['eng', 'staff']);
    assert.equal(payload.sub, payload.user);
    assert.equal(typeof payload.sid, 'string');
    assert.equal(typeof payload.jti, 'string');
    assert.equal(echo.headers['x-pomerium-claim-email'], 'grace@example.com');
    assert.equal(echo.headers['x-pomerium-claim-groups'], 'eng,staff');

    const etag = jwksRes.header('etag')!;
    const again = await request(jwksUrl, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });

  test('policy: a non-example.com user is refused on the staff route with reasons', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'mallory@other.org', { jar });
    const ok = await request(`${s.origin('app')}/`, { jar, headers: JSON_ACCEPT });
    assert.equal(ok.status, 200);
    const denied = await request(`${s.origin('staff')}/`, { jar, headers: JSON_ACCEPT });
    // Session cookies are per host: staff needs its own hand-off, which the flow does.
    const flow = await scriptedLogin(`${s.origin('staff')}/`, 'mallory@other.org', { jar });
    assert.equal(flow.response.status, 403);
    const res = await request(`${s.origin('staff')}/`, { jar, headers: JSON_ACCEPT });
    assert.equal(res.status, 403);
    const body = res.json<{ reasons: string[]; request_id: string; details: Record<string, string> }>();
    assert.deepEqual(body.reasons, ['domain-unauthorized']);
    assert.equal(body.details.email, 'mallory@other.org');
    assert.equal(body.details.route, 'staff');
    assert.ok(body.request_id);
    assert.ok([302, 401].includes(denied.status) || denied.status === 403);

    const staffJar = new CookieJar();
    const flow2 = await scriptedLogin(`${s.origin('staff')}/x`, 'alan@example.com', { jar: staffJar });
    assert.equal(flow2.response.status, 200);
  });

  test('public routes need no sign-in; unknown hosts are 404', async () => {
    const res = await request(`${s.origin('public')}/anything`, { headers: JSON_ACCEPT });
    assert.equal(res.status, 200);
    assert.equal(res.json<Echo>().headers['x-pomerium-jwt-assertion'], undefined);
    const nf = await request(`${s.origin('nowhere')}/`, { headers: JSON_ACCEPT });
    assert.equal(nf.status, 404);
    assert.ok(nf.json<{ request_id: string }>().request_id);
  });

  test('tampered, foreign and garbage cookies mean "not signed in", never a 500', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'tamper@example.com', { jar });
    const good = jar.header(`${s.origin('app')}/`)!;
    const value = /_pomerium=([^;]+)/.exec(good)![1]!;
    const [h, p, sig] = value.split('.');
    const variants = [
      `${h}.${p}.${sig!.slice(0, -2)}AA`,
      `${h}.${Buffer.from('{"jti":"x","sub":"y"}').toString('base64url')}.${sig}`,
      'garbage', '', '..', 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJqdGkiOiJ4In0.', 'x'.repeat(10000),
    ];
    for (const v of variants) {
      const res = await request(`${s.origin('app')}/`, { headers: { ...JSON_ACCEPT, cookie: `_pomerium=${v}` } });
      assert.equal(res.status, 401, `cookie variant ${v.slice(0, 20)} → ${res.status}`);
    }
  });

  test('sign-in refuses redirect targets that are not route hosts (no open redirect)', async () => {
    for (const target of ['https://evil.example/', 'http://evil.localhost/', 'javascript:alert(1)', '//evil.com', '', `http://user:pw@app.localhost:${s.port}/`]) {
      const res = await request(`${s.authOrigin}/.pomerium/sign_in?pomerium_redirect_uri=${encodeURIComponent(target)}`, { headers: JSON_ACCEPT });
      assert.equal(res.status, 400, target);
      assert.deepEqual(res.json<{ reasons: string[] }>().reasons, ['redirect-uri-invalid']);
    }
  });

  test('the OAuth callback rejects a missing or mismatched state', async () => {
    const res = await request(`${s.authOrigin}/oauth2/callback?code=abc&state=nope`, { headers: JSON_ACCEPT });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json<{ reasons: string[] }>().reasons, ['csrf-cookie-missing']);
  });

  // Regression: a forged `error=` was audited and counted as the IdP refusing (idp-error), and a
  // forged callback cleared the CSRF cookie of the sign-in the browser had under way.
  test('forged callbacks are refused on their state, and do not break the sign-in under way', async () => {
    const forged: [string, string][] = [];
    const jar = new CookieJar();
    const flow = await followFlow(`${s.origin('app')}/`, {
      login: { email: 'forged-at@example.com' },
      beforeRequest: async (url) => {
        if (url.pathname !== '/oauth2/callback' || forged.length > 0) return;
        // Sent with this browser's cookies, just before the IdP's real answer arrives.
        for (const query of ['error=access_denied&state=attacker', 'code=attacker-code&state=attacker', 'error=access_denied']) {
          const r = await request(`${s.authOrigin}/oauth2/callback?${query}`, { jar: jar, headers: JSON_ACCEPT });
          forged.push([query, `${r.status} ${r.json<{ reasons: string[] }>().reasons.join()}`]);
        }
      },
      jar: jar,
    });
    assert.deepEqual(forged, [
      ['error=access_denied&state=attacker', '400 state-mismatch'],
      ['code=attacker-code&state=attacker', '400 state-mismatch'],
      ['error=access_denied', '400 state-mismatch'],
    ]);
    assert.equal(flow.response.status, 200, 'the real sign-in completed');
    assert.equal(new URL(flow.url).origin, s.origin('app'));
  });

  // The IdP's ?error= is the browser's to write: only an OAuth error code (RFC 6749's characters, bounded) is
  // audited, as at the code exchange; it was any text of up to 100 characters.
  test('the IdP refusing: its error code is audited, only as an OAuth error code', async () => {
    const cases: { error: string; want: string | undefined }[] = [
      { error: 'access_denied', want: 'access_denied' },
      { error: 'access_denied\n{"forged":"line"}', want: 'access_denied{forged:line}' },
      { error: 'é\u0000', want: undefined },
      { error: 'x'.repeat(500), want: 'x'.repeat(64) },
    ];
    for (const c of cases) {
      let answer: TestResponse | undefined;
      const jar = new CookieJar();
      await followFlow(`${s.origin('app')}/`, {
        login: { email: 'refused@example.com' }, jar,
        beforeRequest: async (url) => {
          if (url.pathname !== '/oauth2/callback' || answer !== undefined) return;
          const state = url.searchParams.get('state') ?? '';
          answer = await request(`${s.authOrigin}/oauth2/callback?${new URLSearchParams({ error: c.error, state })}`, { jar, headers: JSON_ACCEPT });
        },
      }).catch(() => undefined); // the real callback that follows fails: this sign-in has ended
      assert.equal(answer?.status, 401, c.error);
      const id = answer!.header('x-request-id');
      const event = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.audit === 'sign_in_failed' && l.requestId === id);
      assert.ok(event, c.error);
      assert.equal(event.reason, 'idp-error');
      assert.equal(event.idp_error, c.want, JSON.stringify(c.error));
    }
  });

  // Regression: a claim beyond Latin-1 (a group named 日本) made every request of its members fail with a 502.
  test('claims beyond ASCII reach the upstream as their UTF-8 bytes, as Envoy sends them', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'kenji@example.com', { jar, groups: ['engineering', '日本', '€'] });
    const res = await request(`${s.origin('app')}/headers`, { jar, headers: JSON_ACCEPT });
    assert.equal(res.status, 200);
    const groups = res.json<Echo>().headers['x-pomerium-claim-groups'] as string;
    assert.equal(Buffer.from(groups, 'latin1').toString('utf8'), 'engineering,日本,€');
  });

  test('set_request_headers templates: the assertion, the IdP tokens, $$', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('tmpl')}/`, 'tmpl@example.com', { jar });
    const echo = (await request(`${s.origin('tmpl')}/headers`, { jar, headers: JSON_ACCEPT })).json<Echo>();
    assert.equal(echo.headers['x-pomerium-jwt-assertion'], undefined, 'no identity headers on this route');
    const jwt = echo.headers['x-jwt'] as string;
    const jwks = createLocalJWKSet((await request(new URL('/.well-known/pomerium/jwks.json', s.origin('tmpl')))).json());
    const { payload } = await jwtVerify(jwt, jwks, { audience: `tmpl.localhost` });
    assert.equal(payload.email, 'tmpl@example.com', 'a real assertion for this route');
    assert.match(String(echo.headers.authorization), /^Bearer \S{10,}$/, 'the IdP access token');
    assert.equal((echo.headers['x-id-token'] as string).split('.').length, 3, 'the IdP ID token, a JWT');
    assert.equal(echo.headers['x-price'], '$5');
  });

  test('signed in at the authenticate host, a second route host gets a single-use hand-off', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'once@example.com', { jar });
    const first = await request(`${s.origin('staff')}/page`, { jar, headers: BROWSER_ACCEPT });
    assert.equal(first.status, 302);
    const toAuth = await request(first.header('location')!, { jar, headers: BROWSER_ACCEPT });
    assert.equal(toAuth.status, 302, 'no IdP round trip: the authenticate host knows the session');
    const handoff = new URL(toAuth.header('location')!);
    assert.equal(handoff.origin, s.origin('staff'));
    assert.equal(handoff.pathname, '/.pomerium/callback/');
    const used = await request(handoff, { jar, headers: BROWSER_ACCEPT });
    assert.equal(used.status, 302);
    assert.equal(used.header('location'), `${s.origin('staff')}/page`);
    assert.match(used.header('set-cookie') ?? '', /^_pomerium=[^;]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax/);
    const replay = await request(handoff, { headers: JSON_ACCEPT });
    assert.equal(replay.status, 400);
    assert.deepEqual(replay.json<{ reasons: string[] }>().reasons, ['handoff-replayed']);
    // A hand-off for one host is useless on another.
    const elsewhere = new URL(handoff.pathname + handoff.search, s.origin('app'));
    const moved = await request(elsewhere, { headers: JSON_ACCEPT });
    assert.equal(moved.status, 400);
    assert.deepEqual(moved.json<{ reasons: string[] }>().reasons, ['handoff-invalid']);
  });

  test('/.pomerium/user and sign-out', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'leaver@example.com', { jar });
    const me = await request(`${s.origin('app')}/.pomerium/user`, { jar, headers: JSON_ACCEPT });
    assert.equal(me.status, 200);
    const user = me.json<{ email: string; session_id: string; groups: string[] }>();
    assert.equal(user.email, 'leaver@example.com');
    const page = await request(`${s.origin('app')}/.pomerium/sign_out`, { jar, headers: BROWSER_ACCEPT });
    const form = parseForms(page.text()).find((f) => f.id === 'sign-out');
    assert.ok(form, 'a GET asks for confirmation');
    const out = await request(`${s.origin('app')}/.pomerium/sign_out`, {
      method: 'POST', jar, body: new URLSearchParams(form.fields).toString(),
      headers: { ...BROWSER_ACCEPT, 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(out.status, 303);
    assert.equal(new URL(out.header('location')!).origin, s.authOrigin);
    const after = await request(`${s.origin('app')}/`, { jar, headers: JSON_ACCEPT });
    assert.equal(after.status, 401);
    // The session is gone from the store: replaying the old cookie does not work either.
    const replay = await request(`${s.origin('app')}/`, { headers: { ...JSON_ACCEPT, cookie: `_pomerium=${user.session_id}` } });
    assert.equal(replay.status, 401);
  });
});
