/**
 * The remembered session caller (IdentifyDeps.generation): whatever a
 * request could observe afresh, it observes through the memo too. Each case
 * identifies once (remembering the caller), changes one thing the caller
 * depends on, and identifies again. The clock is frozen and moved by hand.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { MemoryStore, ReadCachingStore, SqliteStore, type Store } from '../store/index.js';
import { signSessionHandle } from '../identity/index.js';
import { directoryEnricher, putDirectoryUser, type DirectoryUser } from '../accounts/index.js';
import type { IncomingMessage } from 'node:http';
import { Identifier } from './identify.js';
import { SessionStore, type SessionData } from './sessions.js';
import type { IdpTokens, OidcClient } from './oidc.js';

const T0 = Date.UTC(2026, 10, 23, 12);
const HOUR = 3_600_000;

interface Rig {
  clock: { t: number };
  store: ReadCachingStore;
  sessions: SessionStore;
  identifier: Identifier;
  session: SessionData;
  token: string;
  /** Identifies with the rig's token: the caller's email and groups, or the failure. */
  who(): Promise<string>;
  /** The same through the request path: `identifyCached` when it answers, else `identify`; says which answered. */
  whoByRequest(): Promise<{ answer: string; cached: boolean }>;
}

async function rig(inner: (now: () => number) => Store, opts: { tokenExpiresIn?: number; handleExpiresIn?: number; remember?: boolean } = {}): Promise<Rig> {
  const clock = { t: T0 };
  const now = (): number => clock.t;
  const store = new ReadCachingStore(inner(now), () => true);
  const sessions = new SessionStore(store, randomBytes(32), now);
  const secret = randomBytes(32);
  const identifier = new Identifier({
    sessions, sharedSecret: secret, cookieName: '_pomerium', oidc: undefined, now, tokenResolvers: [],
    enrich: directoryEnricher(store, now),
    mayImpersonate: (actor) => actor.groups.includes('admins') || actor.email === 'ada@example.com',
    generation: opts.remember === false ? undefined : () => store.changeGeneration(),
  });
  const session = await sessions.create({
    claims: { sub: 'u1', email: 'ada@example.com', groups: ['eng'] },
    idToken: undefined, accessToken: 'at', refreshToken: undefined,
    expiresAt: T0 + (opts.tokenExpiresIn ?? 10 * HOUR),
  }, 14 * HOUR);
  const token = await signSessionHandle({
    sid: session.id, sub: 'u1', iss: 'auth.example.com', aud: 'app.example.com',
    ...(opts.handleExpiresIn === undefined ? {} : { expiresAt: T0 + opts.handleExpiresIn }),
  }, secret, T0);
  const who = async (): Promise<string> => {
    const r = await identifier.fromToken(token, 'app.example.com', '');
    return r.caller ? `${r.caller.policy.email} [${r.caller.policy.groups.join(',')}]` : `failure: ${r.failure}`;
  };
  const req = { headers: { cookie: `other=1; _pomerium=${token}` } } as unknown as IncomingMessage;
  const whoByRequest = async (): Promise<{ answer: string; cached: boolean }> => {
    const known = identifier.identifyCached(req, 'app.example.com');
    const r = known ?? await identifier.identify(req, 'app.example.com', '');
    return { answer: r.caller ? `${r.caller.policy.email} [${r.caller.policy.groups.join(',')}]` : `failure: ${r.failure}`, cached: known !== undefined };
  };
  return { clock, store, sessions, identifier, session, token, who, whoByRequest };
}

const user = (extra: Partial<DirectoryUser>): DirectoryUser =>
  ({ id: 'u1', email: 'ada@example.com', name: 'Ada', groups: [], source: 'manual', lastSeen: undefined, ...extra });

const cases: { name: string; opts?: Parameters<typeof rig>[1]; change: (r: Rig) => Promise<void> | void; want: string }[] = [
  { name: 'nothing changed: the same caller', change: () => {}, want: 'ada@example.com [eng]' },
  { name: 'session revoked', change: async (r) => { await r.sessions.delete(r.session.id); }, want: 'failure: session-unknown' },
  { name: 'directory adds a group', change: async (r) => { await putDirectoryUser(r.store, user({ groups: ['ops'] })); }, want: 'ada@example.com [eng,ops]' },
  { name: 'directory deactivates the user', change: async (r) => { await putDirectoryUser(r.store, user({ active: false })); }, want: 'failure: user-deprovisioned' },
  {
    name: 'impersonation starts',
    change: async (r) => {
      await r.sessions.save({ ...r.session, impersonation: { user: 'u2', email: 'bob@example.com', name: 'Bob', groups: ['sales'], startedAt: r.clock.t } });
    },
    want: 'bob@example.com [sales]',
  },
  { name: 'session lifetime (cookie_expire) passes', change: (r) => { r.clock.t = T0 + 14 * HOUR; }, want: 'failure: session-unknown' },
  { name: 'handle expires (beyond the 60 s skew)', opts: { handleExpiresIn: HOUR }, change: (r) => { r.clock.t = T0 + HOUR + 60_000; }, want: 'failure: token-expired' },
  // No refresh token: the session ends when the IdP tokens expire.
  { name: 'IdP tokens expire without a refresh token', opts: { tokenExpiresIn: HOUR }, change: (r) => { r.clock.t = T0 + HOUR; }, want: 'failure: session-refresh-failed' },
  { name: 'clock set back', change: (r) => { r.clock.t = T0 - 10 * 60_000; }, want: 'ada@example.com [eng]' },
];

describe('remembered session callers follow every change on the next request', () => {
  for (const c of cases) {
    // Each case both ways: remembering callers must not change what a request observes.
    for (const remember of [true, false]) {
      test(`${c.name}${remember ? '' : ' (read afresh)'}`, async () => {
        const r = await rig((now) => new MemoryStore({ clock: now }), { ...c.opts, remember });
        assert.equal(await r.who(), 'ada@example.com [eng]');
        assert.equal(await r.who(), 'ada@example.com [eng]');
        await c.change(r);
        assert.equal(await r.who(), c.want);
        await r.store.close();
      });
    }
  }

  // The request path's synchronous answer (identifyCached) is the same answer, and gives way after any change.
  for (const c of cases) {
    test(`${c.name} (request path, remembered callers answered without I/O)`, async () => {
      const r = await rig((now) => new MemoryStore({ clock: now }), c.opts);
      assert.deepEqual(await r.whoByRequest(), { answer: 'ada@example.com [eng]', cached: false });
      assert.deepEqual(await r.whoByRequest(), { answer: 'ada@example.com [eng]', cached: true });
      await c.change(r);
      assert.equal((await r.whoByRequest()).answer, c.want);
      await r.store.close();
    });
  }

  test('identifyCached: no credential is known at once; a bearer token or a store without a generation is never answered from memory', async () => {
    const r = await rig((now) => new MemoryStore({ clock: now }));
    assert.deepEqual(r.identifier.identifyCached({ headers: {} } as IncomingMessage, 'app.example.com'), { caller: null, credential: 'none' });
    assert.deepEqual(r.identifier.identifyCached({ headers: { cookie: 'other=1' } } as IncomingMessage, 'app.example.com'), { caller: null, credential: 'none' });
    await r.whoByRequest();
    for (const headers of [{ authorization: 'Pomerium x', cookie: `_pomerium=${r.token}` }, { 'x-pomerium-authorization': 'x', cookie: `_pomerium=${r.token}` }]) {
      assert.equal(r.identifier.identifyCached({ headers } as unknown as IncomingMessage, 'app.example.com'), undefined);
    }
    assert.equal(r.identifier.identifyCached({ headers: { cookie: `_pomerium=${r.token}` } } as IncomingMessage, 'other.example.com'), undefined, 'another host: the audience is decided afresh');
    const fresh = await rig((now) => new MemoryStore({ clock: now }), { remember: false });
    await fresh.whoByRequest();
    assert.equal((await fresh.whoByRequest()).cached, false);
    await r.store.close();
    await fresh.store.close();
  });

  for (const remember of [true, false]) {
    test(`impersonation ends when the directory deactivates the impersonating administrator${remember ? '' : ' (read afresh)'}`, async () => {
      const r = await rig((now) => new MemoryStore({ clock: now }), { remember });
      await r.sessions.save({ ...r.session, impersonation: { user: 'u2', email: 'bob@example.com', name: 'Bob', groups: ['sales'], startedAt: r.clock.t } });
      assert.equal(await r.who(), 'bob@example.com [sales]');
      assert.equal(await r.who(), 'bob@example.com [sales]');
      await putDirectoryUser(r.store, user({ active: false }));
      // The request is the administrator's own again, and the directory refuses them.
      assert.equal(await r.who(), 'failure: user-deprovisioned');
      assert.equal((await r.sessions.get(r.session.id))?.data.impersonation, undefined, 'the stored session no longer impersonates');
      await putDirectoryUser(r.store, user({ active: true }));
      assert.equal(await r.who(), 'ada@example.com [eng]', 'reactivating the administrator does not bring the impersonation back');
      await r.store.close();
    });
  }

  test('a token that only ends like a remembered one is never answered with its caller', async () => {
    const r = await rig((now) => new MemoryStore({ clock: now }));
    assert.deepEqual(await r.whoByRequest(), { answer: 'ada@example.com [eng]', cached: false });
    assert.deepEqual(await r.whoByRequest(), { answer: 'ada@example.com [eng]', cached: true });
    // The same last characters (the signature's end), another beginning: a forgery, or a token that merely collides.
    const tail = r.token.slice(-40);
    const forgeries = [`x${r.token.slice(1)}`, `${r.token.slice(0, -41)}A${tail}`, tail, `${r.token}x`.slice(1)];
    for (const forged of forgeries) {
      const req = { headers: { cookie: `_pomerium=${forged}` } } as unknown as IncomingMessage;
      assert.equal(r.identifier.identifyCached(req, 'app.example.com'), undefined, `not answered from memory: ${forged.slice(0, 12)}…`);
      const full = await r.identifier.identify(req, 'app.example.com', '');
      assert.equal(full.caller, null, 'and refused when worked out');
      assert.equal((await r.identifier.fromToken(forged, 'app.example.com', '')).caller, null);
    }
    // The real token is still known, and a refused forgery did not take its place.
    assert.deepEqual(await r.whoByRequest(), { answer: 'ada@example.com [eng]', cached: true });
    await r.store.close();
  });

  test('SQLite: a revocation committed by another connection (a CLI process) applies to the next request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'limen-identify-'));
    try {
      const path = join(dir, 'limen.db');
      const r = await rig(() => SqliteStore.open({ path, pollIntervalMs: 60_000 }));
      assert.equal(await r.who(), 'ada@example.com [eng]');
      assert.equal(await r.who(), 'ada@example.com [eng]');
      const cli = SqliteStore.open({ path });
      await cli.delete('session', r.session.id);
      await cli.close();
      assert.equal(await r.who(), 'failure: session-unknown');
      await r.store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a session revoked while its IdP tokens are being refreshed stays revoked', async () => {
    const clock = { t: T0 };
    const now = (): number => clock.t;
    const store = new MemoryStore({ clock: now });
    const sessions = new SessionStore(store, randomBytes(32), now);
    let answer!: (t: IdpTokens) => void;
    let asked!: () => void;
    const refreshAsked = new Promise<void>((r) => { asked = r; });
    // The IdP answers only when the test says so, after the revocation.
    const oidc = { refresh: () => { asked(); return new Promise<IdpTokens>((r) => { answer = r; }); } } as unknown as OidcClient;
    const secret = randomBytes(32);
    const identifier = new Identifier({ sessions, sharedSecret: secret, cookieName: '_pomerium', oidc, now, tokenResolvers: [] });
    const session = await sessions.create({
      claims: { sub: 'u1', email: 'ada@example.com' }, idToken: undefined, accessToken: 'at', refreshToken: 'rt', expiresAt: T0 + 10_000,
    }, 14 * HOUR);
    const token = await signSessionHandle({ sid: session.id, sub: 'u1', iss: 'auth.example.com', aud: 'app.example.com' }, secret, T0);
    const identified = identifier.fromToken(token, 'app.example.com', '');
    await refreshAsked;
    await sessions.delete(session.id);
    answer({ claims: { sub: 'u1', email: 'ada@example.com' }, idToken: undefined, accessToken: 'at2', refreshToken: 'rt2', expiresAt: T0 + HOUR });
    const r = await identified;
    assert.equal(r.caller, null, 'the request that raced the revocation is refused');
    assert.equal(await sessions.get(session.id), null, 'the refresh did not bring the session back');
  });
});

describe('the identifier\'s memories are bounded, and an evicted caller is worked out again', () => {
  const bounds: { name: string; cacheBounds: { maxEntries?: number; verifiedMaxBytes?: number; callersMaxBytes?: number } }[] = [
    { name: 'by count', cacheBounds: { maxEntries: 3 } },
    { name: 'by bytes', cacheBounds: { verifiedMaxBytes: 3_000, callersMaxBytes: 6_000 } },
  ];
  for (const b of bounds) {
    test(b.name, async () => {
      const clock = { t: T0 };
      const now = (): number => clock.t;
      const store = new ReadCachingStore(new MemoryStore({ clock: now }), () => true);
      const sessions = new SessionStore(store, randomBytes(32), now);
      const secret = randomBytes(32);
      const identifier = new Identifier({
        sessions, sharedSecret: secret, cookieName: '_pomerium', oidc: undefined, now, tokenResolvers: [],
        generation: () => store.changeGeneration(), cacheBounds: b.cacheBounds,
      });
      const tokens: { sid: string; token: string; email: string }[] = [];
      for (let i = 0; i < 12; i++) {
        const s = await sessions.create({
          claims: { sub: `u${i}`, email: `user${i}@example.com`, groups: ['eng'], padding: 'x'.repeat(200) },
          idToken: undefined, accessToken: 'at', refreshToken: undefined, expiresAt: T0 + 10 * HOUR,
        }, 14 * HOUR);
        tokens.push({ sid: s.id, email: `user${i}@example.com`, token: await signSessionHandle({ sid: s.id, sub: `u${i}`, iss: 'auth.example.com', aud: 'app.example.com' }, secret, T0) });
      }
      for (const t of tokens) assert.equal((await identifier.fromToken(t.token, 'app.example.com', '')).caller?.policy.email, t.email);
      const sizes = identifier.cacheSizes;
      assert.ok(sizes.callers.entries < tokens.length && sizes.verified.entries < tokens.length, JSON.stringify(sizes));
      if (b.cacheBounds.maxEntries !== undefined) assert.ok(sizes.callers.entries <= 3 && sizes.verified.entries <= 3);
      if (b.cacheBounds.callersMaxBytes !== undefined) assert.ok(sizes.callers.bytes <= 6_000 && sizes.verified.bytes <= 3_000, JSON.stringify(sizes));
      // The first ones were evicted: identified again, the same answer.
      for (const t of tokens) assert.equal((await identifier.fromToken(t.token, 'app.example.com', '')).caller?.policy.email, t.email);
      // Revocation applies on the next request whether the caller was remembered or evicted.
      await sessions.delete(tokens[0]!.sid);
      await sessions.delete(tokens[11]!.sid);
      assert.equal((await identifier.fromToken(tokens[0]!.token, 'app.example.com', '')).failure, 'session-unknown');
      assert.equal((await identifier.fromToken(tokens[11]!.token, 'app.example.com', '')).failure, 'session-unknown');
      await store.close();
    });
  }
});
