/**
 * Fuzzing the claims behind every credential: tokens correctly signed with
 * the shared secret but carrying any claims at all (a `jti` that is a
 * number, an `aud` list of objects, `groups` as a string, ...), presented as
 * a cookie or in any of the three bearer forms. The Identifier with the
 * real resolvers (session handles, stored service accounts, route-scoped
 * tokens) and the directory answers with a caller or a failure reason; it
 * never throws, and a caller only comes from claims that name a live
 * session, an account whose subject matches, or a route token for this host.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { SignJWT, type JWTPayload } from 'jose';
import { awkwardJson, fuzzAsync, mutatedJson } from '../../test/support/fuzz.js';
import { MemoryStore } from '../store/index.js';
import { Identifier, SessionStore } from '../authn/index.js';
import { createServiceAccount, serviceAccountResolver } from './service-accounts.js';
import { revokeRouteToken, routeTokenResolver } from './route-tokens.js';
import { putDirectoryUser } from './directory.js';
import { directoryEnricher } from './enrich.js';

const NOW = Date.UTC(2026, 10, 23, 12);
const NOW_S = NOW / 1000;
const HOST = 'app.example.com';

test('Identifier: any claims in a validly signed token yield a caller or a reason, and a caller only for a credential that is one', async () => {
  const secret = randomBytes(32);
  const now = (): number => NOW;
  const store = new MemoryStore({ clock: now });
  const sessions = new SessionStore(store, randomBytes(32), now);
  const session = await sessions.create({ claims: { sub: 'u1', email: 'ada@example.com', groups: ['eng'] }, idToken: undefined, accessToken: 'at', refreshToken: undefined, expiresAt: NOW + 3_600_000 }, 3_600_000);
  await putDirectoryUser(store, { id: 'u2', email: 'bob@example.com', name: 'Bob', groups: ['ops'], source: 'manual', lastSeen: undefined });
  await putDirectoryUser(store, { id: 'u3', email: 'gone@example.com', name: 'Gone', groups: [], source: 'manual', lastSeen: undefined, active: false });
  const namespaces = [{ name: 'global' }, { name: 'team', parent: 'global' }] as never;
  const ctx = { store, sharedSecret: secret, namespaces, now: NOW };
  const bot = (await createServiceAccount({ user: 'bot', namespace: 'team' }, ctx)).account;
  const asBob = (await createServiceAccount({ asUser: 'bob@example.com' }, ctx)).account;
  await revokeRouteToken(store, 'rt-revoked', NOW);
  const identifier = new Identifier({
    sessions, sharedSecret: secret, cookieName: '_pomerium', oidc: undefined, now,
    tokenResolvers: [serviceAccountResolver({ store, now, namespaces: () => namespaces }), routeTokenResolver({ store, now })],
    enrich: directoryEnricher(store, now),
  });

  const seeds: JWTPayload[] = [
    { jti: session.id, sub: 'u1', iat: NOW_S, iss: 'auth.example.com', aud: HOST },
    { jti: bot.id, sub: 'bot', iat: NOW_S, nbf: NOW_S },
    { jti: asBob.id, sub: asBob.user_id, iat: NOW_S, nbf: NOW_S },
    { aud: [HOST, 'other.example.com'], exp: NOW_S + 3600, nbf: NOW_S, iat: NOW_S, jti: 'rt-1', email: 'ada@example.com', groups: ['eng'] },
    { aud: `https://${HOST}:443/x`, exp: NOW_S + 60, nbf: NOW_S, jti: 'rt-revoked', sub: 'svc', impersonate_email: 'bob@example.com', impersonate_groups: 'a,b' },
    { aud: [HOST], exp: NOW_S + 60, nbf: NOW_S, user: 'u3', impersonate_email: 'gone@example.com' },
  ];
  // jose itself refuses exp/nbf/iat that are not numbers; keep most of those
  // numeric so the resolvers see the odd values of everything else.
  const claims = fc.tuple(fc.oneof(fc.constantFrom<unknown>(...seeds), mutatedJson(...seeds), mutatedJson(...seeds)), fc.record({ exp: fc.option(fc.oneof(fc.constant(NOW_S - 1), fc.constant(NOW_S + 30), awkwardJson), { nil: undefined }) }, { requiredKeys: [] }))
    .map(([c, extra]) => ({ ...(typeof c === 'object' && c !== null && !Array.isArray(c) ? c as JWTPayload : {}), ...extra }) as JWTPayload);
  const presentation = fc.constantFrom('cookie', 'x-pomerium-authorization', 'authorization-pomerium', 'authorization-bearer-pomerium');
  const host = fc.constantFrom(HOST, 'APP.example.com', 'other.example.com', 'evil.example.com');
  const namespace = fc.constantFrom('global', 'team', 'nowhere', '');

  await fuzzAsync('identifier-claims', 400, [claims, presentation, host, namespace], async (c, how, h, ns) => {
    const token = await new SignJWT(c).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret);
    const headers: Record<string, string> = how === 'cookie' ? { cookie: `a=b; _pomerium=${token}` }
      : how === 'x-pomerium-authorization' ? { 'x-pomerium-authorization': token }
      : how === 'authorization-pomerium' ? { authorization: `Pomerium ${token}` }
      : { authorization: `Bearer Pomerium-${token}` };
    const r = await identifier.identify({ headers } as IncomingMessage, h, ns);
    assert.equal(r.credential, how === 'cookie' ? 'cookie' : 'bearer');
    if (r.caller === null) {
      assert.equal(typeof r.failure, 'string', 'no caller and no reason');
      return;
    }
    const who = r.caller;
    assert.equal(typeof who.policy.user, 'string');
    assert.ok(Array.isArray(who.policy.groups) && who.policy.groups.every((g) => typeof g === 'string'), 'groups are strings');
    assert.ok(c.exp === undefined || (typeof c.exp === 'number' && c.exp + 60 > NOW_S), 'an expired token was accepted');
    if (who.kind === 'session') {
      assert.equal(c.jti, session.id);
      assert.ok(c.sub === undefined || c.sub === 'u1');
    } else if (who.kind === 'service_account') {
      assert.ok((c.jti === bot.id && c.sub === 'bot' && ns === 'team') || (c.jti === asBob.id && c.sub === asBob.user_id));
      assert.equal(c.aud, undefined);
    } else {
      assert.ok(typeof c.exp === 'number' && c.exp * 1000 > NOW, 'route token past exp');
      assert.notEqual(c.jti, 'rt-revoked');
      const aud = (Array.isArray(c.aud) ? c.aud : [c.aud]).map((a) => String(a).toLowerCase());
      assert.ok(aud.some((a) => a.includes(h.toLowerCase())), 'route token for another host');
      assert.notEqual(who.policy.user, '');
    }
  });
  await store.close();
});
