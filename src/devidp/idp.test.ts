import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as oidc from 'openid-client';
import { CookieJar } from '../../test/support/cookie-jar.js';
import { parseForms } from '../../test/support/html-form.js';
import { request } from '../../test/support/http.js';
import { followFlow, scriptedLogin, scriptedLogout } from '../../test/support/oidc-login.js';
import { DEV_IDP_NOTICE, LOGIN_FORM_ID, startDevIdp, subjectForEmail, type DevIdp } from './index.js';

// The relying party side: a loopback server that answers the redirect URIs, so
// a scripted flow has somewhere to land and the test can read the callback URL.
interface Rp {
  origin: string;
  callback: string;
  loggedOut: string;
  lastUrl: URL | undefined;
  server: Server;
}

async function startRp(): Promise<Rp> {
  const rp: Rp = { origin: '', callback: '', loggedOut: '', lastUrl: undefined, server: createServer() };
  rp.server.on('request', (req, res) => {
    rp.lastUrl = new URL(req.url ?? '/', rp.origin);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`rp saw ${rp.lastUrl.pathname}\n`);
  });
  await new Promise<void>((resolve) => rp.server.listen(0, '127.0.0.1', resolve));
  // A *.localhost name: test/support/http.ts maps every name to 127.0.0.1.
  rp.origin = `http://rp.localhost:${(rp.server.address() as AddressInfo).port}`;
  rp.callback = `${rp.origin}/oauth2/callback`;
  rp.loggedOut = `${rp.origin}/signed-out`;
  return rp;
}

const CLIENT_ID = 'limen-test';
const CLIENT_SECRET = 'test-secret-not-for-production';
const SCOPE = 'openid email profile offline_access';

let idp: DevIdp;
let rp: Rp;
const logLines: string[] = [];

before(async () => {
  rp = await startRp();
  idp = await startDevIdp({
    clients: [
      {
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        redirectUris: [rp.callback],
        postLogoutRedirectUris: [rp.loggedOut],
      },
    ],
    users: {
      'Carol@Corp.test': { sub: 'carol-fixed', name: 'Carol C', groups: ['admins'] },
    },
    idTokenTtl: 600,
    accessTokenTtl: 900,
    log: (line) => logLines.push(line),
  });
});

after(async () => {
  await idp.close();
  await new Promise<void>((resolve) => rp.server.close(() => resolve()));
  rp.server.closeAllConnections();
});

async function discover(auth: 'basic' | 'post' = 'basic', secret = CLIENT_SECRET): Promise<oidc.Configuration> {
  const method = auth === 'basic' ? oidc.ClientSecretBasic(secret) : oidc.ClientSecretPost(secret);
  return oidc.discovery(new URL(idp.issuer), CLIENT_ID, undefined, method, { execute: [oidc.allowInsecureRequests] });
}

interface Started {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

async function authorizationUrl(config: oidc.Configuration, extra: Record<string, string> = {}): Promise<Started> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: rp.callback,
    scope: SCOPE,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, verifier, state, nonce };
}

/** Signs in through the IdP with plain HTTP and redeems the code. */
async function signIn(
  config: oidc.Configuration,
  email: string,
  opts: { groups?: string; jar?: CookieJar } = {},
): Promise<{ tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers; jar: CookieJar }> {
  const started = await authorizationUrl(config);
  const flow = await scriptedLogin(started.url, email, { jar: opts.jar ?? new CookieJar(), ...(opts.groups !== undefined ? { groups: opts.groups } : {}) });
  assert.equal(flow.response.status, 200, 'the flow ends at the RP callback');
  assert.ok(rp.lastUrl?.pathname === '/oauth2/callback', 'the IdP redirected to the callback');
  const tokens = await oidc.authorizationCodeGrant(config, rp.lastUrl, {
    pkceCodeVerifier: started.verifier,
    expectedState: started.state,
    expectedNonce: started.nonce,
  });
  return { tokens, jar: flow.jar };
}

describe('startDevIdp', () => {
  test('logs a one-line development-only warning at start', () => {
    const warning = logLines.find((l) => l.includes(DEV_IDP_NOTICE));
    assert.ok(warning, 'a start-up line carries the notice');
    assert.ok(!warning.includes('\n'));
    assert.ok(warning.includes(idp.issuer));
    assert.ok(!logLines.join('\n').includes(CLIENT_SECRET), 'the client secret is never logged');
  });

  test('discovery advertises code+PKCE S256, refresh, both secret methods, logout and the claims', async () => {
    const res = await request(`${idp.issuer}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const doc = res.json<Record<string, unknown>>();
    assert.equal(doc.issuer, idp.issuer);
    assert.deepEqual(doc.code_challenge_methods_supported, ['S256']);
    for (const m of ['client_secret_basic', 'client_secret_post']) {
      assert.ok((doc.token_endpoint_auth_methods_supported as string[]).includes(m), m);
    }
    assert.ok((doc.grant_types_supported as string[]).includes('refresh_token'));
    assert.ok((doc.response_types_supported as string[]).includes('code'));
    assert.ok((doc.scopes_supported as string[]).includes('offline_access'));
    for (const claim of ['sub', 'email', 'email_verified', 'name', 'groups']) {
      assert.ok((doc.claims_supported as string[]).includes(claim), claim);
    }
    assert.equal(doc.end_session_endpoint, `${idp.issuer}/session/end`);
    const jwks = await request(String(doc.jwks_uri));
    const keys = jwks.json<{ keys: { kty: string; alg: string; d?: string }[] }>().keys;
    assert.equal(keys.length, 1);
    assert.equal(keys[0]?.alg, 'RS256');
    assert.equal(keys[0]?.d, undefined, 'only the public key is published');
  });

  test('authorization code + PKCE (client_secret_basic): ID token carries email, name, groups; refresh works', async () => {
    const config = await discover('basic');
    const { tokens } = await signIn(config, 'Alice@Example.com');
    const claims = tokens.claims();
    assert.ok(claims);
    assert.equal(claims.sub, subjectForEmail('alice@example.com'));
    assert.match(claims.sub, /^dev-[A-Za-z0-9_-]{16}$/);
    assert.equal(claims.email, 'alice@example.com');
    assert.equal(claims.email_verified, true);
    assert.equal(claims.name, 'alice');
    assert.deepEqual(claims.groups, ['everyone', 'staff']);
    assert.equal(claims.exp - claims.iat, 600, 'idTokenTtl applies');
    assert.equal(tokens.expires_in, 900, 'accessTokenTtl applies');
    assert.ok(tokens.refresh_token, 'a refresh token is issued without a consent prompt');

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    const again = refreshed.claims();
    assert.ok(again);
    assert.equal(again.sub, claims.sub);
    assert.equal(again.email, 'alice@example.com');
    assert.deepEqual(again.groups, ['everyone', 'staff']);
    assert.notEqual(refreshed.access_token, tokens.access_token);

    const info = await oidc.fetchUserInfo(config, refreshed.access_token, claims.sub);
    assert.equal(info.email, 'alice@example.com');
    assert.deepEqual(info.groups, ['everyone', 'staff']);
  });

  test('client_secret_post works too; groups default by domain, the form overrides them', async () => {
    const config = await discover('post');
    const cases = [
      { email: 'bob@elsewhere.test', groups: undefined, want: ['everyone'] },
      { email: 'dave@example.com', groups: undefined, want: ['everyone', 'staff'] },
      { email: 'erin@elsewhere.test', groups: 'ops, admins ops', want: ['ops', 'admins'] },
      { email: 'carol@corp.test', groups: undefined, want: ['admins'] },
      { email: 'carol@corp.test', groups: 'auditors', want: ['auditors'] },
    ];
    for (const c of cases) {
      const { tokens } = await signIn(config, c.email, c.groups === undefined ? {} : { groups: c.groups });
      assert.deepEqual(tokens.claims()?.groups, c.want, c.email);
    }
  });

  test('a configured user keeps its sub and name', async () => {
    const { tokens } = await signIn(await discover(), 'CAROL@corp.test');
    const claims = tokens.claims();
    assert.equal(claims?.sub, 'carol-fixed');
    assert.equal(claims?.name, 'Carol C');
    assert.equal(claims?.email, 'carol@corp.test');
  });

  test('a second authorization in the same browser session skips the login form', async () => {
    const config = await discover();
    const { jar, tokens } = await signIn(config, 'frank@example.com');
    const started = await authorizationUrl(config);
    const flow = await followFlow(started.url, { jar });
    assert.equal(flow.loginSubmitted, false);
    assert.equal(flow.response.status, 200);
    assert.ok(rp.lastUrl);
    const second = await oidc.authorizationCodeGrant(config, rp.lastUrl, {
      pkceCodeVerifier: started.verifier,
      expectedState: started.state,
      expectedNonce: started.nonce,
    });
    assert.equal(second.claims()?.sub, tokens.claims()?.sub);
  });

  test('PKCE is required, and only S256', async () => {
    const config = await discover();
    const cases: { name: string; url: URL }[] = [];
    const missing = await authorizationUrl(config);
    missing.url.searchParams.delete('code_challenge');
    missing.url.searchParams.delete('code_challenge_method');
    cases.push({ name: 'no code_challenge', url: missing.url });
    const plain = await authorizationUrl(config, { code_challenge_method: 'plain' });
    cases.push({ name: 'plain method', url: plain.url });
    for (const c of cases) {
      const res = await request(c.url);
      assert.equal(res.status, 303, c.name);
      const location = new URL(res.header('location') ?? '');
      assert.equal(`${location.origin}${location.pathname}`, rp.callback, c.name);
      assert.equal(location.searchParams.get('error'), 'invalid_request', c.name);
    }
  });

  test('the token endpoint refuses a wrong code_verifier and a wrong client secret', async () => {
    const config = await discover();
    const started = await authorizationUrl(config);
    await scriptedLogin(started.url, 'gina@example.com');
    assert.ok(rp.lastUrl);
    const callback = rp.lastUrl;
    await assert.rejects(
      oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: oidc.randomPKCECodeVerifier(),
        expectedState: started.state,
        expectedNonce: started.nonce,
      }),
      (err: unknown) => (err as { error?: string }).error === 'invalid_grant',
    );

    const wrong = await discover('basic', 'not-the-secret');
    const again = await authorizationUrl(wrong);
    await scriptedLogin(again.url, 'gina@example.com');
    assert.ok(rp.lastUrl);
    await assert.rejects(
      oidc.authorizationCodeGrant(wrong, rp.lastUrl, {
        pkceCodeVerifier: again.verifier,
        expectedState: again.state,
        expectedNonce: again.nonce,
      }),
      (err: unknown) => {
        // A 401 with `WWW-Authenticate: Basic error="invalid_client"` (RFC 6749 §5.2).
        const e = err as { status?: number; cause?: { scheme: string; parameters: { error?: string } }[] };
        return e.status === 401 && e.cause?.[0]?.scheme === 'basic' && e.cause[0].parameters.error === 'invalid_client';
      },
    );
  });

  test('the login form rejects bad emails and groups with 400 and shows the form again', async () => {
    const config = await discover();
    const bad: { email: string; groups?: string; want: RegExp }[] = [
      ...['', '   ', 'no-at-sign', 'a@', '@example.com', 'a b@example.com', '<x>@example.com', 'a@b..com', 'a@-b.com', `${'x'.repeat(250)}@example.com`].map(
        (email) => ({ email, want: /Enter an email address/ }),
      ),
      ...['a"b', '<script>', 'x'.repeat(101), Array.from({ length: 51 }, (_, i) => `g${i}`).join(',')].map((groups) => ({
        email: 'ok@example.com',
        groups,
        want: /Groups are names/,
      })),
    ];
    for (const c of bad) {
      const jar = new CookieJar();
      const started = await authorizationUrl(config);
      const first = await request(started.url, { jar });
      const formPage = await request(new URL(first.header('location') ?? '', started.url), { jar });
      const form = parseForms(formPage.text()).find((f) => f.id === LOGIN_FORM_ID);
      assert.ok(form);
      const res = await request(new URL(form.action, started.url), {
        method: 'POST',
        jar,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email: c.email, groups: c.groups ?? '' }).toString(),
      });
      const label = JSON.stringify(c).slice(0, 80);
      assert.equal(res.status, 400, label);
      assert.match(res.text(), c.want, label);
      assert.ok(res.text().includes(DEV_IDP_NOTICE), label);
      assert.ok(!res.text().includes('<script>'), `${label}: input is escaped`);
      assert.ok(parseForms(res.text()).some((f) => f.id === LOGIN_FORM_ID), `${label}: the form is shown again`);
    }
  });

  test('the login form refuses a non-form body and an oversized one', async () => {
    const config = await discover();
    const cases = [
      { type: 'application/json', body: '{"email":"a@example.com"}' },
      { type: 'application/x-www-form-urlencoded', body: `email=a%40example.com&pad=${'x'.repeat(17 * 1024)}` },
    ];
    for (const c of cases) {
      const jar = new CookieJar();
      const started = await authorizationUrl(config);
      const first = await request(started.url, { jar });
      const res = await request(new URL(`${first.header('location') ?? ''}/login`, started.url), {
        method: 'POST',
        jar,
        headers: { 'content-type': c.type },
        body: c.body,
      });
      assert.equal(res.status, 400, c.type);
      assert.match(res.text(), /x-www-form-urlencoded, under 16 KiB/);
    }
  });

  test('cancel ends the flow at the RP with access_denied', async () => {
    const config = await discover();
    const jar = new CookieJar();
    const started = await authorizationUrl(config);
    const first = await request(started.url, { jar });
    const abort = await request(new URL(`${first.header('location') ?? ''}/abort`, started.url), { jar });
    assert.equal(abort.status, 303);
    const flow = await followFlow(new URL(abort.header('location') ?? '', started.url), { jar });
    assert.equal(flow.response.status, 200);
    assert.equal(rp.lastUrl?.searchParams.get('error'), 'access_denied');
  });

  test('RP-initiated logout confirms itself, returns to the RP with state, and revokes the refresh token', async () => {
    const config = await discover();
    const { tokens, jar } = await signIn(config, 'henry@example.com');
    assert.ok(tokens.refresh_token && tokens.id_token);
    const endUrl = oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: rp.loggedOut,
      state: 'bye-123',
    });

    const page = await request(endUrl, { jar });
    assert.equal(page.status, 200);
    assert.ok(page.text().includes(DEV_IDP_NOTICE));
    const form = parseForms(page.text())[0];
    assert.ok(form && 'data-autosubmit' in form.attributes, 'the confirmation submits itself');
    assert.deepEqual(form.fields.map(([name]) => name).sort(), ['logout', 'xsrf']);

    const flow = await scriptedLogout(endUrl, { jar });
    assert.equal(flow.response.status, 200);
    assert.equal(rp.lastUrl?.pathname, '/signed-out');
    assert.equal(rp.lastUrl?.searchParams.get('state'), 'bye-123');

    await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token), (err: unknown) => (err as { error?: string }).error === 'invalid_grant');
    const again = await authorizationUrl(config);
    const relogin = await followFlow(again.url, { jar });
    assert.ok(parseForms(relogin.response.text()).some((f) => f.id === LOGIN_FORM_ID), 'signing in again asks for the email');
  });

  test('every page it renders says it is for development only', async () => {
    const config = await discover();
    const pages = [
      { name: 'root', url: `${idp.issuer}/`, status: 200 },
      { name: 'unknown path', url: `${idp.issuer}/nope`, status: 404 },
      { name: 'error (unknown client)', url: `${idp.issuer}/auth?client_id=nobody&response_type=code&scope=openid`, status: 400 },
      { name: 'expired interaction', url: `${idp.issuer}/interaction/abcdef`, status: 400 },
      { name: 'logout without a session', url: `${idp.issuer}/session/end`, status: 200 },
      { name: 'logout success', url: `${idp.issuer}/session/end/success`, status: 200 },
    ];
    const started = await authorizationUrl(config);
    const first = await request(started.url, { jar: new CookieJar() });
    pages.push({ name: 'login form', url: new URL(first.header('location') ?? '', idp.issuer).href, status: 200 });
    for (const p of pages) {
      const jar = new CookieJar();
      jar.store(idp.issuer, first.headers['set-cookie']);
      const res = await request(p.url, { jar });
      assert.equal(res.status, p.status, p.name);
      if (p.name === 'logout without a session') {
        // oidc-provider's own self-submitting form (no session to confirm): follow it.
        const flow = await scriptedLogout(p.url, { jar });
        assert.ok(flow.response.text().includes(DEV_IDP_NOTICE), `${p.name}: final page`);
        continue;
      }
      assert.ok(res.text().includes(DEV_IDP_NOTICE), p.name);
    }
  });

  test('bad options are a TypeError naming the option', async () => {
    const client = { clientId: 'c', clientSecret: 's', redirectUris: ['http://127.0.0.1/cb'] };
    const cases: [unknown, RegExp][] = [
      [{ clients: 'x' }, /clients must be an array/],
      [{ clients: [{ ...client, clientId: '' }] }, /clients\[0\]\.clientId/],
      [{ clients: [client, client] }, /duplicate/],
      [{ clients: [{ ...client, clientSecret: '' }] }, /clientSecret/],
      [{ clients: [{ ...client, redirectUris: [] }] }, /redirectUris/],
      [{ clients: [], port: -1 }, /port/],
      [{ clients: [], port: 70000 }, /port/],
      [{ clients: [], issuer: 'http://idp.test/path' }, /issuer/],
      [{ clients: [], issuer: 'ftp://idp.test' }, /issuer/],
      [{ clients: [], users: { 'not-an-email': {} } }, /users/],
      [{ clients: [{ ...client, redirectUris: ['not a url'] }] }, /clients\[0\]\.redirectUris/],
      [{ clients: [{ ...client, redirectUris: ['http://rp.test/cb#frag'] }] }, /clients\[0\]\.redirectUris/],
      [{ clients: [{ ...client, postLogoutRedirectUris: ['javascript:alert(1)'] }] }, /postLogoutRedirectUris/],
      ...(['idTokenTtl', 'accessTokenTtl', 'refreshTokenTtl'] as const).flatMap((k) =>
        [0, -1, 1.5].map((v): [unknown, RegExp] => [{ clients: [], [k]: v }, new RegExp(k)]),
      ),
    ];
    for (const [opts, want] of cases) {
      await assert.rejects(startDevIdp(opts as never), (err: unknown) => err instanceof TypeError && want.test(err.message), String(want));
    }
  });
});
