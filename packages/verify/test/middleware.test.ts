// Each middleware behind a real server of its framework on loopback: 200 with the verified claims, 401 with the code.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { serve } from '@hono/node-server';
import expressApp from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { createVerifier, express, fastify, fastifyHook, hono, nodeMiddleware, type LimenEnv, type LimenIdentity, type Verifier } from '../src/index.js';
import { HOST, limenClaims, makeKey, mint, startJwksServer, T0, type JwksServer, type TestKey } from './fixtures.js';

const FIRST_HOP = 'web.example.com';

let key: TestKey;
let stranger: TestKey;
let jwks: JwksServer;
let verifier: Verifier;

before(async () => {
  key = await makeKey('ES256');
  stranger = await makeKey('ES256');
  jwks = await startJwksServer([key.publicJwk]);
  verifier = createVerifier({ jwksUrl: jwks.url, audience: HOST, now: () => T0 });
});
after(() => jwks.close());

/** What every test app answers once the middleware lets a request through. */
function whoami(identity: LimenIdentity | null | undefined): { email: string | undefined; original: string | undefined } {
  return { email: identity?.claims.email, original: identity?.originalUser?.email };
}

interface Running {
  readonly url: string;
  close(): Promise<void>;
}

function listening(server: Server): Promise<Running> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/`,
        close: () => new Promise<void>((done, fail) => server.close((err) => (err ? fail(err) : done()))),
      });
    });
  });
}

const frameworks: Record<string, () => Promise<Running>> = {
  'node:http': async () => {
    const mw = nodeMiddleware(verifier);
    const server = createServer((req, res) => {
      mw(req, res, (err) => {
        if (err !== undefined) {
          res.statusCode = 500;
          res.end();
          return;
        }
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(whoami((req as typeof req & { limen?: LimenIdentity }).limen)));
      });
    });
    return listening(server);
  },
  express: async () => {
    const app = expressApp();
    app.use(express(verifier));
    app.get('/', (req, res) => {
      res.json(whoami(req.limen));
    });
    return listening(createServer(app));
  },
  'fastify plugin': async () => {
    const app = Fastify();
    await app.register(fastify(verifier));
    app.get('/', async (request) => whoami((request as typeof request & { limen?: LimenIdentity | null }).limen));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}/`, close: () => app.close() };
  },
  'fastify preHandler': async () => {
    const app = Fastify();
    app.decorateRequest('limen', null);
    app.get('/', { preHandler: fastifyHook(verifier) }, async (request) =>
      whoami((request as typeof request & { limen?: LimenIdentity | null }).limen),
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}/`, close: () => app.close() };
  },
  hono: async () => {
    const app = new Hono<LimenEnv>();
    app.use(hono(verifier));
    app.get('/', (c) => c.json(whoami(c.get('limen'))));
    return new Promise((resolve) => {
      const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
        resolve({
          url: `http://127.0.0.1:${info.port}/`,
          close: () => new Promise<void>((done, fail) => server.close((err) => (err ? fail(err) : done()))),
        });
      });
    });
  },
};

interface Case {
  readonly name: string;
  readonly headers: () => Promise<Record<string, string>>;
  readonly status: number;
  readonly body: unknown;
}

const cases: Case[] = [
  {
    name: 'valid assertion',
    headers: async () => ({ 'x-pomerium-jwt-assertion': await mint(key, limenClaims(T0)) }),
    status: 200,
    body: { email: 'ada@example.com' },
  },
  {
    name: 'valid assertion and original user',
    headers: async () => ({
      'x-pomerium-jwt-assertion': await mint(key, { ...limenClaims(T0), sub: 'sa-1', user: 'sa-1', email: '' }),
      'x-pomerium-jwt-assertion-for': await mint(key, { ...limenClaims(T0, FIRST_HOP), email: 'grace@example.com' }),
    }),
    status: 200,
    body: { email: '', original: 'grace@example.com' },
  },
  { name: 'no assertion', headers: async () => ({}), status: 401, body: { error: 'ERR_ASSERTION_MISSING' } },
  { name: 'empty assertion', headers: async () => ({ 'x-pomerium-jwt-assertion': '' }), status: 401, body: { error: 'ERR_ASSERTION_MISSING' } },
  { name: 'garbage', headers: async () => ({ 'x-pomerium-jwt-assertion': 'garbage' }), status: 401, body: { error: 'ERR_MALFORMED' } },
  {
    name: 'unpublished key',
    headers: async () => ({ 'x-pomerium-jwt-assertion': await mint(stranger, limenClaims(T0)) }),
    status: 401,
    body: { error: 'ERR_KID_UNKNOWN' },
  },
  {
    name: 'expired',
    headers: async () => ({ 'x-pomerium-jwt-assertion': await mint(key, limenClaims(T0 - 3_600_000)) }),
    status: 401,
    body: { error: 'ERR_EXPIRED' },
  },
  {
    name: 'other audience',
    headers: async () => ({ 'x-pomerium-jwt-assertion': await mint(key, limenClaims(T0, 'other.example.com')) }),
    status: 401,
    body: { error: 'ERR_AUDIENCE_INVALID' },
  },
  {
    name: 'forged original user',
    headers: async () => ({
      'x-pomerium-jwt-assertion': await mint(key, limenClaims(T0)),
      'x-pomerium-jwt-assertion-for': await mint({ ...stranger, kid: key.kid }, limenClaims(T0, FIRST_HOP)),
    }),
    status: 401,
    body: { error: 'ERR_SIGNATURE_INVALID' },
  },
  {
    name: 'expired original user',
    headers: async () => ({
      'x-pomerium-jwt-assertion': await mint(key, limenClaims(T0)),
      'x-pomerium-jwt-assertion-for': await mint(key, limenClaims(T0 - 3_600_000, FIRST_HOP)),
    }),
    status: 401,
    body: { error: 'ERR_EXPIRED' },
  },
  {
    name: 'garbage original user',
    headers: async () => ({ 'x-pomerium-jwt-assertion': await mint(key, limenClaims(T0)), 'x-pomerium-jwt-assertion-for': 'x' }),
    status: 401,
    body: { error: 'ERR_MALFORMED' },
  },
  {
    name: 'alg none',
    headers: async () => ({ 'x-pomerium-jwt-assertion': `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify(limenClaims(T0))).toString('base64url')}.` }),
    status: 401,
    body: { error: 'ERR_ALG_NOT_ALLOWED' },
  },
];

for (const [framework, start] of Object.entries(frameworks)) {
  describe(framework, () => {
    let app: Running;
    before(async () => {
      app = await start();
    });
    after(() => app.close());

    for (const c of cases) {
      test(`${c.name} → ${c.status}`, async () => {
        const res = await fetch(app.url, { headers: await c.headers() });
        assert.equal(res.status, c.status);
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
        if (c.status === 401) assert.equal(res.headers.get('cache-control'), 'no-store');
        assert.deepEqual(await res.json(), c.body);
      });
    }

    test('a repeated assertion header is refused', async () => {
      const token = await mint(key, limenClaims(T0));
      const headers = new Headers();
      headers.append('x-pomerium-jwt-assertion', token);
      headers.append('x-pomerium-jwt-assertion', token);
      const res = await fetch(app.url, { headers });
      assert.equal(res.status, 401);
      assert.deepEqual(await res.json(), { error: 'ERR_MALFORMED' });
    });
  });
}
