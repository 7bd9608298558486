import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createVerifier } from '@limen/verify';
import { CookieJar, request, scriptedLogin, closeHttpAgents } from './support/index.js';
import { startStack, type Stack } from './stack.js';
import { createServiceAccount } from '../src/accounts/service-accounts.js';

/**
 * Seed 002, "Original user context": user → App → API → API2, each behind
 * Limen; App and API call onward with their own service-account tokens and
 * forward the identity headers they received. API2 must learn the original
 * user from X-Pomerium-Jwt-Assertion-For, and a forged -For must not reach it.
 */

interface Service { url: string; close(): Promise<void> }

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function serve(handler: (req: IncomingMessage) => Promise<unknown>): Promise<Service & { server: Server }> {
  const server = createServer((req, res) => {
    handler(req).then((body) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    }, (e: Error) => { res.writeHead(500); res.end(e.message); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

describe('original user context across three hops', () => {
  let s: Stack;
  const services: (Service & { server: Server })[] = [];
  let appToken = '';
  let apiToken = '';
  /** What App sends onward as -For (undefined: forward what it received). */
  let forgeFor: string | undefined;

  before(async () => {
    // Upstream apps; their URLs are known only after they listen, so routes point at them by reload.
    const api2 = await serve(async (req) => {
      const verifier = createVerifier({ jwksUrl: `http://127.0.0.1:${s.port}/.well-known/pomerium/jwks.json`, audience: `api2.localhost`, issuer: 'api2.localhost' });
      const caller = await verifier.verify(header(req, 'x-pomerium-jwt-assertion')!);
      const forRaw = header(req, 'x-pomerium-jwt-assertion-for');
      const original = forRaw ? await verifier.verifyFor(forRaw) : undefined;
      return { caller: caller.sub, original: original?.email ?? null, originalSub: original?.sub ?? null };
    });
    const api = await serve(async (req) => {
      const forward: Record<string, string> = { accept: 'application/json', authorization: `Bearer Pomerium-${apiToken}` };
      for (const h of ['x-pomerium-jwt-assertion', 'x-pomerium-jwt-assertion-for']) {
        const v = header(req, h);
        if (v) forward[h] = v;
      }
      const res = await request(`${s.origin('api2')}/data`, { headers: forward });
      return { status: res.status, api2: res.status === 200 ? res.json() : res.text() };
    });
    const app = await serve(async (req) => {
      const forward: Record<string, string> = { accept: 'application/json', 'x-pomerium-authorization': appToken };
      const mine = header(req, 'x-pomerium-jwt-assertion');
      if (mine) forward['x-pomerium-jwt-assertion'] = mine;
      if (forgeFor !== undefined) forward['x-pomerium-jwt-assertion-for'] = forgeFor;
      const res = await request(`${s.origin('api')}/lookup`, { headers: forward });
      return { status: res.status, api: res.status === 200 ? res.json() : res.text() };
    });
    services.push(api2, api, app);
    const routes = [
      { name: 'App', from: 'http://app.localhost:PORT', to: app.url, pass_identity_headers: true, policy: { allow: { or: [{ domain: { is: 'example.com' } }] } } },
      { name: 'API', from: 'http://api.localhost:PORT', to: api.url, pass_identity_headers: true, policy: { allow: { or: [{ user: { is: 'svc-app' } }] } } },
      { name: 'API2', from: 'http://api2.localhost:PORT', to: api2.url, pass_identity_headers: true, policy: { allow: { or: [{ user: { is: 'svc-api' } }] } } },
    ];
    s = await startStack({ routes });
    const ctx = { store: s.store, sharedSecret: s.config.sharedSecret, namespaces: s.config.namespaces, now: Date.now() };
    appToken = (await createServiceAccount({ user: 'svc-app', description: 'App calling API' }, ctx)).token;
    apiToken = (await createServiceAccount({ user: 'svc-api', description: 'API calling API2' }, ctx)).token;
  });
  after(async () => {
    await s.close();
    for (const svc of services) await svc.close();
    await closeHttpAgents();
  });

  test('API2 sees the original user, verified, while the caller is API\'s service account', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'ada@example.com', { jar });
    const res = await request(`${s.origin('app')}/page`, { jar, headers: { accept: 'application/json' } });
    assert.equal(res.status, 200, res.text());
    const body = res.json<{ status: number; api: { status: number; api2: { caller: string; original: string | null } } }>();
    assert.equal(body.status, 200, JSON.stringify(body));
    assert.equal(body.api.status, 200, JSON.stringify(body));
    assert.equal(body.api.api2.caller, 'svc-api');
    assert.equal(body.api.api2.original, 'ada@example.com');
  });

  test('a forged -For from App is dropped by Limen and never reaches API2', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'grace@example.com', { jar });
    const fake = [
      Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'x', typ: 'JWT' })).toString('base64url'),
      Buffer.from(JSON.stringify({ email: 'ceo@example.com', aud: 'app.localhost', iss: 'app.localhost', exp: 9999999999, iat: 1 })).toString('base64url'),
      'c2lnbmF0dXJl',
    ].join('.');
    forgeFor = fake;
    try {
      const res = await request(`${s.origin('app')}/page`, { jar, headers: { accept: 'application/json' } });
      const body = res.json<{ api: { api2: { caller: string; original: string | null; originalSub: string | null } } }>();
      // The forged -For was dropped at the API hop, so API's own incoming
      // assertion (App's service account) became the context API2 sees.
      assert.equal(body.api.api2.caller, 'svc-api');
      assert.notEqual(body.api.api2.original, 'ceo@example.com');
      assert.equal(body.api.api2.originalSub, 'svc-app');
    } finally {
      forgeFor = undefined;
    }
    await s.limen.services.audit.flush();
    const events = await s.store.queryAudit({ route: 'API', kind: 'authorize' });
    assert.ok(events.some((e) => e.details.carried_assertion_dropped === 'assertion-signature-invalid' || e.details.carried_assertion_dropped === 'assertion-unknown-key'),
      'the decision log says why the carried assertion was dropped');
  });

  test('the service tokens never reach the upstream apps', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'alan@example.com', { jar });
    const seen: string[] = [];
    const listener = (req: IncomingMessage) => { seen.push(JSON.stringify(req.headers)); };
    for (const svc of services) svc.server.on('request', listener);
    await request(`${s.origin('app')}/page`, { jar, headers: { accept: 'application/json' } });
    for (const svc of services) svc.server.off('request', listener);
    assert.equal(seen.length, 3);
    for (const h of seen) {
      assert.ok(!h.includes(appToken) && !h.includes(apiToken), 'no service-account token upstream');
      assert.ok(!h.includes('x-pomerium-authorization'));
    }
  });
});
