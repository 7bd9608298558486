/**
 * Session binding and sign-in/sign-out CSRF, end to end with the real dev
 * IdP, upstream and Limen (security review, issue 17 items 2, 3, 8, 10, 15):
 * a hand-off goes only to the exact origin of a route and completes only in
 * the browser that started the sign-in; a session handle works only for its
 * audience; an upstream cannot set Limen's cookies; sign-out is a confirmed
 * POST and always sends `id_token_hint` to the IdP.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { CookieJar, closeHttpAgents, followFlow, parseForms, request, scriptedLogin, type TestResponse } from './support/index.js';
import { freePort, startStack, type Stack } from './stack.js';
import { getDirectoryUser, putDirectoryUser } from '../src/accounts/index.js';

const JSON_ACCEPT = { accept: 'application/json' };
const BROWSER_ACCEPT = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
const FORM = { ...BROWSER_ACCEPT, 'content-type': 'application/x-www-form-urlencoded' };
const ADMIN = 'admin@example.com';

/** Whatever else listens on a port of a route host: records what reaches it. */
async function startRecorder(): Promise<{ server: Server; port: number; seen: URL[] }> {
  const seen: URL[] = [];
  const server = createServer((req, res) => {
    seen.push(new URL(req.url ?? '/', 'http://recorder.invalid'));
    res.writeHead(200, { 'content-type': 'text/plain' }).end('recorded');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

/** An upstream that tries to set Limen's cookies (and two of its own). */
async function startCookieSetter(): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, {
      'content-type': 'text/plain',
      'set-cookie': [
        '_pomerium=planted; Path=/', '_POMERIUM=planted; Path=/', '__Host-_pomerium=planted; Path=/; Secure',
        '__secure-_pomerium=planted; Secure', '_pomerium_csrf=planted', '__Secure-_Pomerium_Csrf=planted; Secure',
        '_pomerium_signin=planted; Path=/.pomerium/', ' _pomerium = planted', 'app_pref=dark; Path=/', 'not_pomerium=1',
      ],
    }).end('cookies');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A second way into Limen on another port (a port-forwarding load balancer), so one host has two origins. */
async function startForwarder(listenPort: number, limenPort: number): Promise<TcpServer> {
  const server = createTcpServer((client) => {
    const upstream = connect(limenPort, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  return server;
}

function reasons(res: TestResponse): string[] {
  return res.json<{ reasons?: string[] }>().reasons ?? [];
}

/** The sign-out confirmation form on `url`'s page (a GET never signs out). */
async function signOutForm(url: string, jar: CookieJar): Promise<URLSearchParams> {
  const page = await request(url, { jar, headers: BROWSER_ACCEPT });
  assert.equal(page.status, 200, `${url} shows a confirmation page`);
  const form = parseForms(page.text()).find((f) => f.id === 'sign-out');
  assert.ok(form, `${url} has the sign-out form`);
  assert.equal(form.method, 'POST');
  return new URLSearchParams(form.fields);
}

describe('session binding and sign-in/sign-out CSRF', () => {
  let s: Stack;
  let stray: Awaited<ReturnType<typeof startRecorder>>;
  let setter: Awaited<ReturnType<typeof startCookieSetter>>;
  let forwardPort: number;
  let forwarder: TcpServer;
  let idpKeys: ReturnType<typeof createLocalJWKSet>;

  before(async () => {
    stray = await startRecorder();
    setter = await startCookieSetter();
    forwardPort = await freePort();
    s = await startStack({
      routes: [
        { name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true },
        { name: 'app-forwarded', from: `http://app.localhost:${forwardPort}`, to: 'UPSTREAM', allow_any_authenticated_user: true },
        { name: 'staff', from: 'http://staff.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true },
        { name: 'cookies', from: 'http://cookies.localhost:PORT', to: setter.url, allow_public_unauthenticated_access: true },
        { name: 'public', from: 'http://public.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true },
      ],
      config: { administrators: [ADMIN] },
    });
    forwarder = await startForwarder(forwardPort, s.port);
    const discovery = (await request(`${s.config.idpProviderUrl}/.well-known/openid-configuration`)).json<{ jwks_uri: string }>();
    idpKeys = createLocalJWKSet((await request(discovery.jwks_uri)).json());
  });
  after(async () => {
    await s.close();
    await new Promise<void>((resolve) => forwarder.close(() => resolve()));
    await new Promise<void>((resolve) => stray.server.close(() => resolve()));
    await new Promise<void>((resolve) => setter.server.close(() => resolve()));
    await closeHttpAgents();
  });

  /** The hand-off URL the authenticate host mints for `jar` on the way to `page` (not followed). */
  async function mintHandoff(page: string, jar: CookieJar): Promise<URL> {
    const toSignIn = await request(page, { jar, headers: BROWSER_ACCEPT });
    assert.equal(toSignIn.status, 302);
    const toHandoff = await request(toSignIn.header('location')!, { jar, headers: BROWSER_ACCEPT });
    assert.equal(toHandoff.status, 302, 'signed in at the authenticate host: straight to the hand-off');
    const handoff = new URL(toHandoff.header('location')!);
    assert.equal(handoff.pathname, '/.pomerium/callback/');
    return handoff;
  }

  test('a hand-off cannot be sent to another port of a route host, nor to http for another scheme', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, ADMIN, { jar });
    const binding = 'A'.repeat(43);
    for (const target of [`http://app.localhost:${stray.port}/`, `https://app.localhost:${s.port}/`, 'http://app.localhost/']) {
      for (const extra of ['', `&limen_binding=${binding}`]) {
        const res = await request(`${s.authOrigin}/.pomerium/sign_in?pomerium_redirect_uri=${encodeURIComponent(target)}${extra}`, { jar, headers: JSON_ACCEPT });
        assert.equal(res.status, 400, `${target}${extra}`);
        assert.deepEqual(reasons(res), ['redirect-uri-invalid']);
      }
    }
    assert.equal(stray.seen.length, 0, 'nothing was handed to the other listener');
  });

  test('a hand-off minted for one origin is refused on another origin of the same host', async () => {
    const jar = new CookieJar();
    // Signed in on staff: browsers share app.localhost's cookie across its ports, so app itself stays out.
    await scriptedLogin(`${s.origin('staff')}/`, 'ports@example.com', { jar });
    const handoff = await mintHandoff(`http://app.localhost:${forwardPort}/wanted`, jar);
    assert.equal(handoff.origin, `http://app.localhost:${forwardPort}`);
    const elsewhere = new URL(handoff.pathname + handoff.search, s.origin('app'));
    const moved = await request(elsewhere, { jar, headers: JSON_ACCEPT });
    assert.equal(moved.status, 400);
    assert.deepEqual(reasons(moved), ['handoff-invalid']);
    const used = await request(handoff, { jar, headers: BROWSER_ACCEPT });
    assert.equal(used.status, 302, 'on its own origin it completes');
    assert.equal(used.header('location'), `http://app.localhost:${forwardPort}/wanted`);
  });

  test('a session cookie issued for one route host does not work on another, nor on the admin API', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, ADMIN, { jar });
    const appHandle = jar.get('_pomerium', `${s.origin('app')}/`)!;
    const authHandle = jar.get('_pomerium', `${s.authOrigin}/`)!;
    assert.equal(decodeJwt(appHandle).aud, 'app.localhost');
    assert.equal(decodeJwt(authHandle).aud, 'authenticate.localhost');
    assert.equal(decodeJwt(appHandle).jti, decodeJwt(authHandle).jti, 'one session, two handles');

    const onStaff = await request(`${s.origin('staff')}/`, { headers: { ...JSON_ACCEPT, cookie: `_pomerium=${appHandle}` } });
    assert.equal(onStaff.status, 401);
    assert.ok(reasons(onStaff).includes('session-audience-mismatch'), reasons(onStaff).join());

    const api = `${s.authOrigin}/.pomerium/api/v1/service-accounts`;
    for (const headers of [{ authorization: `Pomerium ${appHandle}` }, { 'x-pomerium-authorization': appHandle }, { cookie: `_pomerium=${appHandle}` }]) {
      const res = await request(api, { headers: { ...JSON_ACCEPT, ...headers } });
      assert.equal(res.status, 401, Object.keys(headers)[0]);
      assert.deepEqual(reasons(res), ['session-audience-mismatch']);
    }
    assert.equal((await request(api, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${authHandle}` } })).status, 200, 'the authenticate host\'s own handle is the administrator');
    const authOnApp = await request(`${s.origin('app')}/`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${authHandle}` } });
    assert.equal(authOnApp.status, 401, 'and it is no route credential');
    assert.equal((await request(`${s.origin('app')}/`, { jar, headers: JSON_ACCEPT })).status, 200);
  });

  test('a programmatic pomerium_jwt works only on the route host that asked for the login URL', async () => {
    const before = stray.seen.length;
    const redirect = `http://localhost:${stray.port}/cb`;
    const login = await request(`${s.origin('staff')}/.pomerium/api/v1/login?pomerium_redirect_uri=${encodeURIComponent(redirect)}`);
    assert.equal(login.status, 200);
    await scriptedLogin(login.text().trim(), 'cli@example.com', { jar: new CookieJar() });
    const got = stray.seen.slice(before).find((u) => u.pathname === '/cb');
    const jwt = got?.searchParams.get('pomerium_jwt');
    assert.ok(jwt, 'the CLI listener received pomerium_jwt');
    assert.equal(decodeJwt(jwt).aud, 'staff.localhost');
    assert.equal((await request(`${s.origin('staff')}/`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${jwt}` } })).status, 200);
    for (const url of [`${s.origin('app')}/`, `${s.authOrigin}/.pomerium/api/v1/service-accounts`]) {
      const res = await request(url, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${jwt}` } });
      assert.equal(res.status, 401, url);
      assert.ok(reasons(res).includes('session-audience-mismatch'), url);
    }
  });

  test('a hand-off minted for one browser does not sign in another (login CSRF)', async () => {
    const attacker = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'mallory@example.com', { jar: attacker });

    // The victim's browser has never started a sign-in.
    const victim = new CookieJar();
    const first = await mintHandoff(`${s.origin('staff')}/`, attacker);
    const refused = await request(first, { jar: victim, headers: JSON_ACCEPT });
    assert.equal(refused.status, 400);
    assert.deepEqual(reasons(refused), ['handoff-browser-mismatch']);
    assert.equal(victim.get('_pomerium', `${s.origin('staff')}/`), undefined, 'no session cookie for the victim');
    const burnt = await request(first, { jar: attacker, headers: JSON_ACCEPT });
    assert.deepEqual(reasons(burnt), ['handoff-replayed'], 'shown to the wrong browser, it is used up');

    // The victim's browser started its own sign-in: its nonce is not the attacker's.
    assert.equal((await request(`${s.origin('staff')}/`, { jar: victim, headers: BROWSER_ACCEPT })).status, 302);
    assert.ok(victim.get('_pomerium_signin', `${s.origin('staff')}/`), 'the victim holds a nonce of its own');
    const second = await mintHandoff(`${s.origin('staff')}/`, attacker);
    const refusedAgain = await request(second, { jar: victim, headers: JSON_ACCEPT });
    assert.deepEqual(reasons(refusedAgain), ['handoff-browser-mismatch']);
    assert.equal((await request(`${s.origin('staff')}/`, { jar: victim, headers: JSON_ACCEPT })).status, 401);

    // In the browser that asked, a hand-off completes, and its nonce is then spent.
    const own = await mintHandoff(`${s.origin('staff')}/mine`, attacker);
    const done = await request(own, { jar: attacker, headers: BROWSER_ACCEPT });
    assert.equal(done.status, 302);
    assert.equal(done.header('location'), `${s.origin('staff')}/mine`);
    assert.equal((await request(`${s.origin('staff')}/`, { jar: attacker, headers: JSON_ACCEPT })).status, 200);
  });

  test('sign-ins started in several tabs of one browser each complete', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'tabs@example.com', { jar });
    const first = await mintHandoff(`${s.origin('staff')}/one`, jar);
    const second = await mintHandoff(`${s.origin('staff')}/two`, jar);
    for (const [handoff, page] of [[first, 'one'], [second, 'two']] as const) {
      const done = await request(handoff, { jar, headers: BROWSER_ACCEPT });
      assert.equal(done.status, 302, page);
      assert.equal(done.header('location'), `${s.origin('staff')}/${page}`);
    }
    assert.equal(jar.get('_pomerium_signin', `${s.origin('staff')}/`), undefined, 'every nonce spent, the cookie is gone');
  });

  test('a sign-in link without a binding (Pomerium style) is bounced through the route host and completes', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'link@example.com', { jar });
    const link = `${s.authOrigin}/.pomerium/sign_in?pomerium_redirect_uri=${encodeURIComponent(`${s.origin('staff')}/from-link`)}`;
    const bounce = await request(link, { jar, headers: BROWSER_ACCEPT });
    assert.equal(bounce.status, 302);
    const toRoute = new URL(bounce.header('location')!);
    assert.equal(`${toRoute.origin}${toRoute.pathname}`, `${s.origin('staff')}/.pomerium/sign_in`);
    const flow = await followFlow(link, { jar });
    assert.equal(flow.response.status, 200);
    assert.equal(flow.url, `${s.origin('staff')}/from-link`);
    // The route host's sign_in only starts sign-ins for its own origin.
    const foreign = await request(`${s.origin('staff')}/.pomerium/sign_in?pomerium_redirect_uri=${encodeURIComponent(`${s.origin('app')}/`)}`, { headers: JSON_ACCEPT });
    assert.equal(foreign.status, 400);
  });

  test('an upstream\'s Set-Cookie for Limen\'s cookies never reaches the client', async () => {
    const res = await request(`${s.origin('cookies')}/`, { headers: JSON_ACCEPT });
    assert.equal(res.status, 200);
    const set = res.headers['set-cookie'];
    const lines = Array.isArray(set) ? set : set === undefined ? [] : [set];
    assert.deepEqual(lines, ['app_pref=dark; Path=/', 'not_pomerium=1']);
  });

  test('the sign-in nonce cookie never reaches the upstream', async () => {
    const jar = new CookieJar();
    assert.equal((await request(`${s.origin('staff')}/`, { jar, headers: BROWSER_ACCEPT })).status, 302);
    const nonce = jar.get('_pomerium_signin', `${s.origin('staff')}/`);
    assert.ok(nonce);
    const echo = await request(`${s.origin('public')}/headers`, { headers: { ...JSON_ACCEPT, cookie: `_pomerium_signin=${nonce}; kept=1` } });
    assert.equal(echo.json<{ headers: Record<string, string> }>().headers.cookie, 'kept=1');
  });

  test('a GET to sign_out from another site does not end the session; a POST needs the CSRF token', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'stays@example.com', { jar });
    const crossSite = { ...BROWSER_ACCEPT, 'sec-fetch-site': 'cross-site', referer: 'http://evil.example/' };
    for (const url of [`${s.origin('app')}/.pomerium/sign_out`, `${s.authOrigin}/.pomerium/sign_out`, `${s.origin('app')}/.pomerium/sign_out?pomerium_redirect_uri=${encodeURIComponent(`${s.origin('app')}/`)}`]) {
      const res = await request(url, { jar, headers: crossSite });
      assert.equal(res.status, 200, url);
      assert.equal(res.headers['set-cookie'], undefined, `${url} clears no cookie`);
    }
    const other = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'other@example.com', { jar: other });
    const othersToken = (await signOutForm(`${s.origin('app')}/.pomerium/sign_out`, other)).get('csrf')!;
    for (const [name, body, headers, want] of [
      ['no token', '', FORM, 'csrf-invalid'],
      ['another session\'s token', `csrf=${encodeURIComponent(othersToken)}`, FORM, 'csrf-invalid'],
      ['not a form', 'csrf=x', { ...BROWSER_ACCEPT, 'content-type': 'text/plain' }, 'form-invalid'],
    ] as const) {
      for (const origin of [s.origin('app'), s.authOrigin]) {
        const res = await request(`${origin}/.pomerium/sign_out`, { method: 'POST', jar, body, headers: { ...headers, accept: 'application/json' } });
        assert.deepEqual(reasons(res), [want], `${name} at ${origin}`);
      }
    }
    assert.equal((await request(`${s.origin('app')}/.pomerium/user`, { jar, headers: JSON_ACCEPT })).status, 200, 'still signed in');
    const again = await request(`${s.authOrigin}/.pomerium/sign_in?pomerium_redirect_uri=${encodeURIComponent(`${s.origin('staff')}/`)}&limen_binding=${'B'.repeat(43)}`, { jar, headers: BROWSER_ACCEPT });
    assert.equal(new URL(again.header('location')!).pathname, '/.pomerium/callback/', 'still signed in at the authenticate host');
  });

  /** Checks an IdP end-session URL carries a genuine ID token for `email` as its hint. */
  async function assertEndSessionHint(location: string, email: string): Promise<void> {
    const end = new URL(location);
    assert.equal(`${end.origin}${end.pathname}`, `${s.config.idpProviderUrl}/session/end`);
    const hint = end.searchParams.get('id_token_hint');
    assert.ok(hint, 'the end-session request carries id_token_hint');
    const { payload } = await jwtVerify(hint, idpKeys, { issuer: s.config.idpProviderUrl!, audience: 'limen-test' });
    assert.equal(payload.email, email);
    assert.equal(end.searchParams.get('post_logout_redirect_uri'), `${s.authOrigin}/.pomerium/signed_out`);
  }

  test('sign-out started on a route host sends id_token_hint to the IdP (and the IdP session ends)', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'hint@example.com', { jar });
    const fields = await signOutForm(`${s.origin('app')}/.pomerium/sign_out`, jar);
    const posted = await request(`${s.origin('app')}/.pomerium/sign_out`, { method: 'POST', jar, body: fields.toString(), headers: FORM });
    assert.equal(posted.status, 303);
    const carried = posted.header('location')!;
    assert.equal(new URL(carried).origin, s.authOrigin);
    assert.equal((await request(`${s.origin('app')}/.pomerium/user`, { jar, headers: JSON_ACCEPT })).status, 401, 'the session ended at once');

    const toIdp = await request(carried, { jar, headers: BROWSER_ACCEPT });
    assert.equal(toIdp.status, 303);
    await assertEndSessionHint(toIdp.header('location')!, 'hint@example.com');
    assert.equal(jar.get('_pomerium', `${s.authOrigin}/`), undefined, 'the authenticate host\'s cookie is cleared');
    const replay = await request(carried, { headers: JSON_ACCEPT });
    assert.deepEqual(reasons(replay), ['sign-out-replayed']);
    const tampered = await request(`${carried.slice(0, -4)}AAAA`, { headers: JSON_ACCEPT });
    assert.deepEqual(reasons(tampered), ['sign-out-invalid']);

    const done = await followFlow(toIdp.header('location')!, { jar });
    assert.equal(done.response.status, 200);
    assert.equal(new URL(done.url).pathname, '/.pomerium/signed_out');
    const back = await scriptedLogin(`${s.origin('app')}/`, 'hint@example.com', { jar });
    assert.ok(back.loginSubmitted, 'the IdP asked to sign in again: its session ended');
  });

  test('a user the directory has deactivated can still sign out', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'deactivated@example.com', { jar });
    const me = (await request(`${s.origin('app')}/.pomerium/user`, { jar, headers: JSON_ACCEPT })).json<{ sub: string; session_id: string }>();
    const user = await getDirectoryUser(s.store, me.sub);
    assert.ok(user);
    await putDirectoryUser(s.store, { ...user, active: false });
    assert.equal((await request(`${s.origin('app')}/`, { jar, headers: JSON_ACCEPT })).status, 403);
    const fields = await signOutForm(`${s.origin('app')}/.pomerium/sign_out`, jar);
    const posted = await request(`${s.origin('app')}/.pomerium/sign_out`, { method: 'POST', jar, body: fields.toString(), headers: FORM });
    assert.equal(posted.status, 303);
    assert.equal(await s.store.get('session', me.session_id), null, 'the session is gone');
  });

  test('a sign-out link lifted from another browser\'s sign-out ends nothing (cross-site sign-out)', async () => {
    const attacker = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'lifter@example.com', { jar: attacker });
    const fields = await signOutForm(`${s.origin('app')}/.pomerium/sign_out`, attacker);
    const posted = await request(`${s.origin('app')}/.pomerium/sign_out`, { method: 'POST', jar: attacker, body: fields.toString(), headers: FORM });
    const lifted = posted.header('location')!;
    const victim = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'target@example.com', { jar: victim });
    const res = await request(lifted, { jar: victim, headers: BROWSER_ACCEPT });
    assert.equal(res.status, 200, 'only the confirmation page');
    assert.equal(res.headers['set-cookie'], undefined);
    assert.ok(parseForms(res.text()).some((f) => f.id === 'sign-out'));
    assert.equal((await request(`${s.origin('app')}/.pomerium/user`, { jar: victim, headers: JSON_ACCEPT })).status, 200, 'the victim is still signed in');
    const again = await request(`${s.authOrigin}/.pomerium/sign_in?pomerium_redirect_uri=${encodeURIComponent(`${s.origin('staff')}/`)}&limen_binding=${'C'.repeat(43)}`, { jar: victim, headers: BROWSER_ACCEPT });
    assert.equal(new URL(again.header('location')!).pathname, '/.pomerium/callback/', 'and still signed in at the authenticate host');
  });

  test('sign_out on the authenticate host with pomerium_redirect_uri confirms by POST, then sends the hint (Pomerium compatibility)', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'compat@example.com', { jar });
    const back = `${s.origin('app')}/after`;
    const fields = await signOutForm(`${s.authOrigin}/.pomerium/sign_out?pomerium_redirect_uri=${encodeURIComponent(back)}`, jar);
    assert.equal(fields.get('pomerium_redirect_uri'), back);
    assert.ok(fields.get('csrf'));
    const posted = await request(`${s.authOrigin}/.pomerium/sign_out`, { method: 'POST', jar, body: fields.toString(), headers: FORM });
    assert.equal(posted.status, 303);
    await assertEndSessionHint(posted.header('location')!, 'compat@example.com');
    assert.equal((await request(`${s.origin('app')}/.pomerium/user`, { jar, headers: JSON_ACCEPT })).status, 401, 'the route host\'s handle names the same, now ended, session');
  });
});
