/**
 * The session handle's audience at the identify step (CONTRACT §4): a
 * handle works only on the host it was issued for, also through the
 * remembered caller, and of two same-name cookies the one for this host wins.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { MemoryStore, ReadCachingStore } from '../store/index.js';
import { signSessionHandle } from '../identity/index.js';
import { Identifier } from './identify.js';
import { SessionStore } from './sessions.js';

const T0 = Date.UTC(2026, 10, 23, 12);
const HOUR = 3_600_000;

async function rig() {
  const now = (): number => T0;
  const store = new ReadCachingStore(new MemoryStore(), () => true);
  const sessions = new SessionStore(store, randomBytes(32), now);
  const secret = randomBytes(32);
  const identifier = new Identifier({
    sessions, sharedSecret: secret, cookieName: '_pomerium', oidc: undefined, now, tokenResolvers: [],
    generation: () => store.changeGeneration(),
    handleAudience: { authHost: 'auth.example.com', cookieDomain: undefined },
  });
  const session = await sessions.create({
    claims: { sub: 'u1', email: 'ada@example.com' }, idToken: undefined, accessToken: 'at', refreshToken: undefined, expiresAt: T0 + 10 * HOUR,
  }, 14 * HOUR);
  const handle = (aud: string): Promise<string> => signSessionHandle({ sid: session.id, sub: 'u1', iss: 'auth.example.com', aud }, secret, T0);
  return { identifier, handle };
}

const asCookie = (cookie: string): IncomingMessage => ({ headers: { cookie } }) as unknown as IncomingMessage;

describe('session handle audience at identify', () => {
  test('a handle for one host is refused on another, also after it was remembered on its own', async () => {
    const { identifier, handle } = await rig();
    const app = await handle('app.example.com');
    for (let i = 0; i < 2; i++) {
      assert.equal((await identifier.fromToken(app, 'app.example.com', 'global')).caller?.policy.email, 'ada@example.com');
      for (const host of ['staff.example.com', 'auth.example.com']) {
        const r = await identifier.fromToken(app, host, 'global');
        assert.equal(r.caller, null, host);
        assert.equal(r.failure, 'session-audience-mismatch', host);
      }
    }
  });

  test('of two cookies with the session cookie\'s name, the one issued for this host is used, whatever the order', async () => {
    const { identifier, handle } = await rig();
    const own = await handle('auth.example.com');
    const foreign = await handle('example.com');
    for (const cookie of [`_pomerium=${foreign}; _pomerium=${own}`, `_pomerium=${own}; _pomerium=${foreign}`]) {
      const r = await identifier.identify(asCookie(cookie), 'auth.example.com', 'global');
      assert.equal(r.caller?.policy.email, 'ada@example.com', cookie.slice(0, 30));
      assert.equal(r.credential, 'cookie');
    }
    const none = await identifier.identify(asCookie(`_pomerium=${foreign}`), 'auth.example.com', 'global');
    assert.deepEqual([none.caller, none.failure], [null, 'session-audience-mismatch']);
  });
});
