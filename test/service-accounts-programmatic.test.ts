import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { CookieJar, closeHttpAgents, request, scriptedLogin } from './support/index.js';
import { assertNoTokensLogged, startSharedStoreStack, type SharedStoreStack } from './service-accounts-helpers.js';

const JSON_ACCEPT = { accept: 'application/json' };

interface Echo { headers: Record<string, string | string[] | undefined> }

/**
 * Programmatic login for command-line tools used by people (issue 5 §6):
 * the tool asks `/.pomerium/api/v1/login` for a sign-in URL, the person
 * signs in, and the tool's local redirect receives `pomerium_jwt`, which it
 * then sends with the header forms.
 */
describe('programmatic login', () => {
  let st: SharedStoreStack;
  let cli: Server;
  let cliPort: number;
  const received: URL[] = [];
  const tokens: string[] = [];

  before(async () => {
    st = await startSharedStoreStack({
      routes: [
        { name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, pass_identity_headers: true },
        { name: 'staff', from: 'http://staff.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ domain: { is: 'example.com' } }] } } },
      ],
    });
    // The command-line tool's local callback listener.
    cli = createServer((req, res) => {
      received.push(new URL(req.url ?? '/', `http://localhost:${cliPort}`));
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('You may close this window.');
    });
    await new Promise<void>((resolve) => cli.listen(0, '127.0.0.1', resolve));
    cliPort = (cli.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => cli.close(() => resolve()));
    await st.close();
    await closeHttpAgents();
  });

  test('the login URL, a sign-in, and pomerium_jwt at the redirect, usable with every header form', async () => {
    const redirect = `http://localhost:${cliPort}/cb`;
    const res = await request(`${st.s.origin('app')}/.pomerium/api/v1/login?pomerium_redirect_uri=${encodeURIComponent(redirect)}`);
    assert.equal(res.status, 200);
    const signIn = new URL(res.text().trim());
    assert.equal(signIn.origin, st.s.authOrigin);
    assert.equal(signIn.pathname, '/.pomerium/sign_in');

    const flow = await scriptedLogin(signIn, 'dev@example.com', { jar: new CookieJar() });
    assert.equal(flow.response.status, 200);
    const got = received.at(-1);
    assert.ok(got, 'the redirect was reached');
    assert.equal(`${got.origin}${got.pathname}`, redirect);
    const jwt = got.searchParams.get('pomerium_jwt');
    assert.ok(jwt, 'the redirect carries pomerium_jwt');
    tokens.push(jwt);
    assert.equal(typeof decodeJwt(jwt).jti, 'string');

    // CONTRACT §4: the handle is for the route host that asked for the login URL, and only that one.
    assert.equal(decodeJwt(jwt).aud, 'app.localhost');
    for (const headers of [{ authorization: `Bearer Pomerium-${jwt}` }, { 'x-pomerium-authorization': jwt }, { authorization: `Pomerium ${jwt}` }]) {
      for (const [host, want] of [['app', 200], ['staff', 401]] as const) {
        const r = await request(`${st.s.origin(host)}/`, { headers: { ...JSON_ACCEPT, ...headers } });
        assert.equal(r.status, want, `${Object.keys(headers)[0]} on ${host}`);
      }
    }
    const echo = (await request(`${st.s.origin('app')}/`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${jwt}` } })).json<Echo>();
    assert.equal(decodeJwt(echo.headers['x-pomerium-jwt-assertion'] as string).email, 'dev@example.com');
    const me = await request(`${st.s.origin('app')}/.pomerium/user`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${jwt}` } });
    assert.equal(me.json<{ email: string }>().email, 'dev@example.com');
  });

  test('redirect hosts outside programmatic_redirect_domain_whitelist are refused', async () => {
    for (const target of ['http://evil.example/cb', 'https://localhost.evil.example/cb', 'javascript:alert(1)', '', `http://user:pw@localhost:${cliPort}/cb`]) {
      const res = await request(`${st.s.origin('app')}/.pomerium/api/v1/login?pomerium_redirect_uri=${encodeURIComponent(target)}`, { headers: JSON_ACCEPT });
      assert.equal(res.status, 400, target);
      assert.deepEqual(res.json<{ reasons: string[] }>().reasons, ['redirect-uri-invalid'], target);
    }
  });

  test('no pomerium_jwt value appears in any log line', async () => {
    await assertNoTokensLogged(st, tokens);
  });
});
