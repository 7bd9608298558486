// The SDK against real assertions from a running Limen: an Express upstream
// behind two Limen routes verifies what Limen sends, including the original
// user that Limen carries in X-Pomerium-Jwt-Assertion-For.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import expressApp from 'express';
import { startStack, type Stack } from '../../../test/stack.js';
import { closeHttpAgents, CookieJar, request, scriptedLogin } from '../../../test/support/index.js';
import { createServiceAccount } from '../../../src/accounts/index.js';
import { createVerifier, express, type LimenClaims, type Verifier } from '../src/index.js';

const JSON_ACCEPT = { accept: 'application/json' };

interface Seen {
  claims: LimenClaims;
  originalUser: LimenClaims | null;
  /** The raw assertion, echoed so the test can forward it as a calling service would. */
  assertion: string;
}

/** fetch over the test client, which resolves *.localhost to 127.0.0.1. */
const loopbackFetch: typeof fetch = async (input) => {
  const res = await request(String(input), { headers: JSON_ACCEPT });
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') headers.set(name, value);
  return new Response(res.status === 304 ? null : new Uint8Array(res.body), { status: res.status, headers });
};

describe('against a running Limen', () => {
  let stack: Stack;
  let upstream: Server;
  let verifier: Verifier | undefined;

  before(async () => {
    // The upstream exists before Limen (its URL goes into the routes); the verifier needs Limen's port.
    const app = expressApp();
    app.use((req, res, next) => {
      if (verifier === undefined) return void res.status(503).end();
      express(verifier)(req, res, next);
    });
    app.get('/whoami', (req, res) => {
      res.json({
        claims: req.limen?.claims,
        originalUser: req.limen?.originalUser ?? null,
        assertion: req.header('x-pomerium-jwt-assertion'),
      });
    });
    upstream = createServer(app);
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const { port } = upstream.address() as AddressInfo;
    const to = `http://127.0.0.1:${port}`;

    stack = await startStack({
      routes: [
        { name: 'app', from: 'http://app.localhost:PORT', to, allow_any_authenticated_user: true, pass_identity_headers: true },
        { name: 'api', from: 'http://api.localhost:PORT', to, allow_any_authenticated_user: true, pass_identity_headers: true },
      ],
    });
    verifier = createVerifier({
      jwksUrl: `${stack.origin('app')}/.well-known/pomerium/jwks.json`,
      audience: ['app.localhost', 'api.localhost'],
      fetch: loopbackFetch,
    });
  });

  after(async () => {
    await stack?.close();
    await closeHttpAgents();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  test('a signed-in user reaches the upstream with an assertion the SDK verifies', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${stack.origin('app')}/whoami`, 'grace@example.com', { jar, groups: ['eng', 'staff'] });
    const res = await request(`${stack.origin('app')}/whoami`, { jar, headers: JSON_ACCEPT });
    assert.equal(res.status, 200, res.text());
    const seen = res.json<Seen>();
    assert.equal(seen.claims.email, 'grace@example.com');
    assert.deepEqual(seen.claims.groups, ['eng', 'staff']);
    assert.equal(seen.claims.aud, 'app.localhost');
    assert.equal(seen.claims.iss, 'app.localhost');
    assert.equal(seen.claims.exp - seen.claims.iat, 300);
    assert.equal(seen.claims.sub, seen.claims.user);
    assert.equal(seen.originalUser, null);
  });

  test('an assertion forwarded to a second route arrives as the verified original user', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${stack.origin('app')}/whoami`, 'ada@example.com', { jar });
    const fromApp = (await request(`${stack.origin('app')}/whoami`, { jar, headers: JSON_ACCEPT })).json<Seen>();
    // App calls API as its own service account, forwarding the assertion it received (seed 002);
    // Limen passes a carried assertion on only from a service (docs/security.md).
    const { token } = await createServiceAccount({ user: 'svc-app' }, {
      store: stack.store, sharedSecret: stack.config.sharedSecret, namespaces: stack.config.namespaces, now: Date.now(),
    });
    const res = await request(`${stack.origin('api')}/whoami`, {
      headers: { ...JSON_ACCEPT, authorization: `Pomerium ${token}`, 'x-pomerium-jwt-assertion': fromApp.assertion },
    });
    assert.equal(res.status, 200, res.text());
    const seen = res.json<Seen>();
    assert.equal(seen.claims.aud, 'api.localhost');
    assert.equal(seen.claims.user, 'svc-app');
    assert.ok(seen.originalUser, 'the original user is exposed');
    assert.equal(seen.originalUser.aud, 'app.localhost');
    assert.equal(seen.originalUser.email, 'ada@example.com');
  });

  test('a forged original user never reaches the handler', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${stack.origin('api')}/whoami`, 'eve@example.com', { jar });
    const good = (await request(`${stack.origin('api')}/whoami`, { jar, headers: JSON_ACCEPT })).json<Seen>().assertion;
    const [h, , s] = good.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ iss: 'app.localhost', aud: 'app.localhost', sub: 'root', email: 'root@example.com', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 300 })).toString('base64url')}.${s}`;
    const res = await request(`${stack.origin('api')}/whoami`, {
      jar,
      headers: { ...JSON_ACCEPT, 'x-pomerium-jwt-assertion-for': forged },
    });
    // Limen drops a -For value that does not verify; if it ever passed one on, the SDK would refuse the request.
    if (res.status === 200) assert.equal(res.json<Seen>().originalUser, null);
    else assert.deepEqual(res.json(), { error: 'ERR_SIGNATURE_INVALID' });
  });

  test('bypassing Limen, the upstream refuses the request', async () => {
    const { port } = upstream.address() as AddressInfo;
    const res = await request(`http://127.0.0.1:${port}/whoami`, { headers: JSON_ACCEPT });
    assert.equal(res.status, 401);
    assert.deepEqual(res.json(), { error: 'ERR_ASSERTION_MISSING' });
  });
});
