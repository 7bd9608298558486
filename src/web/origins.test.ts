import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { parseConfig } from '../config/index.js';
import { buildRuntime, type Runtime } from './runtime.js';
import { allowedRedirect, consoleReturn, cookieOptions, externalScheme, returnTarget } from './origins.js';
import type { RequestContext } from './context.js';

const secret = (): string => randomBytes(32).toString('base64');

async function runtime(extra: Record<string, unknown> = {}): Promise<Runtime> {
  return buildRuntime(parseConfig({
    insecure_server: true,
    authenticate_service_url: 'https://auth.example.com',
    idp_provider_url: 'https://idp.example.com',
    idp_client_id: 'c',
    shared_secret: secret(),
    cookie_secret: secret(),
    databroker_storage_type: 'memory',
    ...extra,
    routes: [
      { from: 'https://app.example.com', to: 'http://127.0.0.1:1' },
      { from: 'http://dev.example.com:8080', to: 'http://127.0.0.1:1' },
      { from: 'https://*.apps.example.com', to: 'http://127.0.0.1:1' },
      { from: 'https://both.example.com:8443', to: 'http://127.0.0.1:1' },
      { from: 'http://both.example.com:8080', to: 'http://127.0.0.1:1' },
    ],
  }, {}), () => 0);
}

describe('allowedRedirect: only the exact origin of a configured route', () => {
  let rt: Runtime;
  before(async () => { rt = await runtime(); });
  const cases: [target: string | null, ok: boolean][] = [
    ['https://app.example.com/x?y=1', true],
    ['https://app.example.com:443/x', true],
    ['https://APP.Example.com/x', true],
    ['http://app.example.com/x', false],
    ['https://app.example.com:8443/', false],
    ['http://dev.example.com:8080/', true],
    ['http://dev.example.com/', false],
    ['http://dev.example.com:8081/', false],
    ['https://dev.example.com:8080/', false],
    ['https://a.apps.example.com/', true],
    ['https://a.b.apps.example.com/', true],
    ['https://apps.example.com/', false],
    ['http://a.apps.example.com/', false],
    ['https://both.example.com:8443/', true],
    ['http://both.example.com:8080/', true],
    ['https://both.example.com:8080/', false],
    ['https://both.example.com/', false],
    ['https://auth.example.com/', false],
    ['https://user:pw@app.example.com/', false],
    ['https://app.example.com.evil.example/', false],
    ['javascript:alert(1)', false],
    ['//app.example.com/', false],
    ['', false],
    [null, false],
    [`https://app.example.com/${'x'.repeat(5000)}`, false],
  ];
  for (const [target, ok] of cases) {
    test(`${String(target).slice(0, 60)} → ${ok ? 'allowed' : 'refused'}`, () => {
      assert.equal(allowedRedirect(rt, target)?.href !== undefined, ok);
    });
  }
});

describe('consoleReturn: a console page on exactly the authenticate origin, nothing else there', () => {
  let rt: Runtime;
  before(async () => { rt = await runtime(); });
  const cases: [target: string | null, ok: boolean][] = [
    ['https://auth.example.com/.pomerium/admin/', true],
    ['https://auth.example.com/.pomerium/admin', true],
    ['https://auth.example.com/.pomerium/admin/users/x?notice=user-added', true],
    ['https://AUTH.example.com:443/.pomerium/admin/', true],
    ['https://auth.example.com/', false],
    ['https://auth.example.com/.pomerium/adminx', false],
    ['https://auth.example.com/.pomerium/sign_out', false],
    ['https://auth.example.com/.pomerium/admin/../sign_out', false],
    ['http://auth.example.com/.pomerium/admin/', false],
    ['https://auth.example.com:8443/.pomerium/admin/', false],
    ['https://user:pw@auth.example.com/.pomerium/admin/', false],
    ['https://app.example.com/.pomerium/admin/', false],
    ['//auth.example.com/.pomerium/admin/', false],
    ['', false],
    [null, false],
  ];
  for (const [target, ok] of cases) {
    test(`${String(target)} → ${ok ? 'allowed' : 'refused'}`, () => {
      assert.equal(consoleReturn(rt, target)?.href !== undefined, ok);
      // Sign-in and sign-out accept a route page or a console page, never anything else.
      assert.equal(returnTarget(rt, target)?.href !== undefined, ok || allowedRedirect(rt, target) !== undefined);
    });
  }
});

describe('externalScheme: from configuration, not the socket', () => {
  let rt: Runtime;
  before(async () => { rt = await runtime(); });
  const cases: [host: string, port: number | undefined, socket: 'http' | 'https', want: 'http' | 'https'][] = [
    ['app.example.com', undefined, 'http', 'https'],
    ['app.example.com', 8080, 'http', 'https'],
    ['dev.example.com', 8080, 'https', 'http'],
    ['dev.example.com', 9999, 'http', 'http'],
    ['dev.example.com', 9999, 'https', 'https'],
    ['x.apps.example.com', undefined, 'http', 'https'],
    ['both.example.com', 8443, 'http', 'https'],
    ['both.example.com', 8080, 'https', 'http'],
    // Configured origins disagree: https, so cookies stay Secure.
    ['both.example.com', undefined, 'http', 'https'],
    ['auth.example.com', undefined, 'http', 'https'],
    ['unknown.example.com', undefined, 'http', 'http'],
    ['unknown.example.com', undefined, 'https', 'https'],
  ];
  for (const [host, port, socket, want] of cases) {
    test(`${host}:${port ?? '-'} over ${socket} → ${want}`, () => assert.equal(externalScheme(rt, host, port, socket), want));
  }
});

describe('cookieOptions: Secure from the configured origin and cookie_secure; Domain only within cookie_domain', () => {
  const ctx = (rt: Runtime, host: string, port?: number): RequestContext => ({ rt, host, port, proto: 'http' }) as unknown as RequestContext;
  test('Secure for https origins reached over plain HTTP, never for http origins', async () => {
    const rt = await runtime();
    assert.equal(cookieOptions(ctx(rt, 'app.example.com'), 60).secure, true);
    assert.equal(cookieOptions(ctx(rt, 'auth.example.com'), 60).secure, true);
    assert.equal(cookieOptions(ctx(rt, 'dev.example.com', 8080), 60).secure, false);
  });
  test('cookie_secure: false turns Secure off everywhere', async () => {
    const rt = await runtime({ cookie_secure: false });
    assert.equal(cookieOptions(ctx(rt, 'app.example.com'), 60).secure, false);
  });
  test('cookie_domain applies to route hosts within it, never to the authenticate host or host-only cookies', async () => {
    const rt = await runtime({ cookie_domain: '.example.com' });
    assert.equal(cookieOptions(ctx(rt, 'app.example.com'), 60).domain, 'example.com');
    assert.equal(cookieOptions(ctx(rt, 'app.example.com'), 60, { hostOnly: true }).domain, undefined);
    assert.equal(cookieOptions(ctx(rt, 'auth.example.com'), 60).domain, undefined);
    assert.equal(cookieOptions(ctx(rt, 'app.other.example'), 60).domain, undefined);
  });
});
