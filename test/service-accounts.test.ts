import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { CookieJar, closeHttpAgents, csrfHeaders, request, scriptedLogin } from './support/index.js';
import { SHARED_SECRET } from './stack.js';
import { assertNoTokensLogged, runCli, startSharedStoreStack, type SharedStoreStack } from './service-accounts-helpers.js';
import { putDirectoryUser } from '../src/accounts/index.js';

const JSON_ACCEPT = { accept: 'application/json' };
const BROWSER_ACCEPT = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
const API = '/.pomerium/api/v1/service-accounts';
const HOUR = 3_600_000;

interface Echo { method: string; url: string; headers: Record<string, string | string[] | undefined> }
interface View { id: string; user_id: string; namespace: string; status: string; expires_at?: string; revoked_at?: string; accessed_at: string | null; roles?: string[]; acts_as_user?: boolean; description: string }
interface Failure { status: number; reasons: string[]; request_id: string; details?: Record<string, string> }

/** The three header forms of CONTRACT §5 / seed 000, in order. */
const HEADER_FORMS: readonly [string, (jwt: string) => Record<string, string>][] = [
  ['Authorization: Bearer Pomerium-', (jwt) => ({ authorization: `Bearer Pomerium-${jwt}` })],
  ['X-Pomerium-Authorization', (jwt) => ({ 'x-pomerium-authorization': jwt })],
  ['Authorization: Pomerium', (jwt) => ({ authorization: `Pomerium ${jwt}` })],
];

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

describe('service accounts, end to end (seed 000)', () => {
  let st: SharedStoreStack;
  const tokens: string[] = [];
  const adminJar = new CookieJar();

  before(async () => {
    st = await startSharedStoreStack({
      routes: [
        { name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, pass_identity_headers: true },
        { name: 'bots', from: 'http://bots.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ user: { is: 'bot-ci' } }, { user: { starts_with: 'bot-cli-' } }] } }, pass_identity_headers: true },
        { name: 'eng', from: 'http://eng.localhost:PORT', to: 'UPSTREAM', policy: { allow: { and: [{ groups: { has: 'eng' } }, { email: { ends_with: '@example.com' } }] } }, pass_identity_headers: true },
      ],
      config: { administrators: ['admin@example.com'], jwt_claims_headers: ['email', 'groups'] },
    });
    const flow = await scriptedLogin(`${st.s.origin('app')}/`, 'admin@example.com', { jar: adminJar });
    assert.equal(flow.response.status, 200);
  });
  after(async () => {
    await st.close();
    await closeHttpAgents();
  });

  async function createViaApi(body: Record<string, unknown>, auth: { jar?: CookieJar; headers?: Record<string, string> } = { jar: adminJar }) {
    const res = await request(`${st.s.authOrigin}${API}`, {
      method: 'POST', jar: auth.jar,
      headers: { ...JSON_ACCEPT, 'content-type': 'application/json', ...(auth.jar === adminJar ? await csrfHeaders(st.s.authOrigin, adminJar) : {}), ...auth.headers },
      body: JSON.stringify(body),
    });
    if (res.status === 201) tokens.push(res.json<{ token: string }>().token);
    return res;
  }

  async function create(body: Record<string, unknown>): Promise<{ account: View; token: string }> {
    const res = await createViaApi(body);
    assert.equal(res.status, 201, res.text());
    const out = res.json<{ service_account: View; token: string }>();
    return { account: out.service_account, token: out.token };
  }

  test('an administrator creates an account; the seed-000 curl line and the other two header forms get 200', async () => {
    const { account, token } = await create({ user_id: 'bot-ci', description: 'CI pipeline', expires_in: '30d' });
    assert.equal(account.user_id, 'bot-ci');
    assert.equal(account.namespace, 'global');
    assert.equal(account.status, 'active');
    const claims = decodeJwt(token);
    assert.equal(claims.jti, account.id);
    assert.equal(claims.sub, 'bot-ci');
    assert.equal(typeof claims.iat, 'number');
    assert.equal(claims.nbf, claims.iat);
    assert.equal(claims.exp, Date.parse(account.expires_at!) / 1000);

    const jwks = createLocalJWKSet(JSON.parse((await request(`${st.s.origin('bots')}/.well-known/pomerium/jwks.json`)).text()) as never);
    for (const [form, headers] of HEADER_FORMS) {
      const res = await request(`${st.s.origin('bots')}/api/deploy?x=1`, { headers: { ...JSON_ACCEPT, ...headers(token) } });
      assert.equal(res.status, 200, form);
      const echo = res.json<Echo>();
      assert.equal(echo.url, '/api/deploy?x=1');
      // The upstream never sees the token, in any header.
      assert.equal(echo.headers.authorization, undefined, form);
      assert.equal(echo.headers['x-pomerium-authorization'], undefined, form);
      assert.ok(!JSON.stringify(echo).includes(token.split('.')[2]!), `${form}: token reached the upstream`);
      const assertion = echo.headers['x-pomerium-jwt-assertion'] as string;
      const { payload } = await jwtVerify(assertion, jwks, { issuer: 'bots.localhost', audience: 'bots.localhost' });
      assert.equal(payload.sub, 'bot-ci');
      assert.equal(payload.user, 'bot-ci');
      assert.equal(payload.sid, account.id);
      assert.equal(payload.email, '');
      assert.deepEqual(payload.groups, []);
    }
    // The account shows when it was used.
    const shown = await request(`${st.s.authOrigin}${API}/${account.id}`, { jar: adminJar, headers: JSON_ACCEPT });
    assert.equal(shown.status, 200);
    assert.equal(typeof shown.json<{ service_account: View }>().service_account.accessed_at, 'string');
  });

  test('policy matches accounts by user: another account gets 403; a token request is never redirected', async () => {
    const { token } = await create({ user_id: 'bot-other' });
    const denied = await request(`${st.s.origin('bots')}/`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${token}` } });
    assert.equal(denied.status, 403);
    const body = denied.json<Failure>();
    assert.deepEqual(body.reasons, ['user-unauthorized']);
    assert.equal(body.details?.user, 'bot-other');
    // The same account is fine where any authenticated caller is allowed.
    const ok = await request(`${st.s.origin('app')}/`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${token}` } });
    assert.equal(ok.status, 200);
    // A browser-looking request with a bad token: 401, not a sign-in redirect.
    for (const [form, headers] of HEADER_FORMS) {
      const res = await request(`${st.s.origin('bots')}/`, { headers: { ...BROWSER_ACCEPT, ...headers(`${token.slice(0, -4)}AAAA`) } });
      assert.equal(res.status, 401, form);
      assert.equal(res.header('location'), undefined, form);
    }
  });

  test('malformed tokens of every kind are 401 with a reason, never 500', async () => {
    const { token } = await create({ user_id: 'bot-ci' });
    const [h, p, sig] = token.split('.') as [string, string, string];
    const secret = Buffer.from(SHARED_SECRET, 'base64');
    const hs = (header: object, payload: string, key: Buffer = secret) => {
      const input = `${b64(header)}.${payload}`;
      return `${input}.${createHmac(header && (header as { alg?: string }).alg === 'HS512' ? 'sha512' : 'sha256', key).update(input).digest('base64url')}`;
    };
    const claims = decodeJwt(token);
    const rs = await new SignJWT(claims as JWTPayload).setProtectedHeader({ alg: 'ES256' }).sign((await import('node:crypto')).generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const cases: { name: string; jwt: string; want: string }[] = [
      { name: 'truncated signature', jwt: token.slice(0, token.length - 10), want: 'token-malformed' },
      { name: 'truncated mid-payload', jwt: token.slice(0, h.length + 11), want: 'token-malformed' },
      { name: 'signature cut to a whole byte count', jwt: token.slice(0, token.length - 8), want: 'token-signature-invalid' },
      { name: 'two segments', jwt: `${h}.${p}`, want: 'token-malformed' },
      { name: 'signature of another secret', jwt: hs({ alg: 'HS256', typ: 'JWT' }, p, randomBytes(32)), want: 'token-signature-invalid' },
      { name: 'payload swapped', jwt: `${h}.${b64({ ...claims, sub: 'root' })}.${sig}`, want: 'token-signature-invalid' },
      { name: 'alg none', jwt: `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`, want: 'token-malformed' },
      { name: 'alg none with signature', jwt: `${b64({ alg: 'none' })}.${p}.${sig}`, want: 'token-malformed' },
      { name: 'wrong alg HS512', jwt: hs({ alg: 'HS512', typ: 'JWT' }, p), want: 'token-malformed' },
      { name: 'wrong alg ES256', jwt: rs, want: 'token-malformed' },
      { name: 'oversized', jwt: `${h}.${b64({ ...claims, pad: 'x'.repeat(9000) })}.${sig}`, want: 'token-too-large' },
      { name: 'non-JSON payload', jwt: hs({ alg: 'HS256' }, b64('not json {')), want: 'token-malformed' },
      { name: 'JSON array payload', jwt: hs({ alg: 'HS256' }, b64([1, 2])), want: 'token-malformed' },
      { name: 'non-JSON header', jwt: `${b64('{{')}.${p}.${sig}`, want: 'token-malformed' },
      { name: 'garbage', jwt: 'garbage', want: 'token-malformed' },
      { name: 'dots', jwt: '..', want: 'token-malformed' },
      { name: 'unicode', jwt: 'é.é.é', want: 'token-malformed' },
      { name: 'valid signature, unknown account', jwt: hs({ alg: 'HS256' }, b64({ ...claims, jti: 'no-such-account' })), want: 'service-account-unknown' },
      { name: 'valid signature, wrong subject', jwt: hs({ alg: 'HS256' }, b64({ ...claims, sub: 'root' })), want: 'token-claims-invalid' },
      { name: 'valid signature, not yet valid', jwt: hs({ alg: 'HS256' }, b64({ ...claims, nbf: Math.floor(Date.now() / 1000) + 3600 })), want: 'token-not-yet-valid' },
      { name: 'valid signature, no claims', jwt: hs({ alg: 'HS256' }, b64({})), want: 'token-unknown' },
    ];
    for (const c of cases) {
      for (const [form, headers] of HEADER_FORMS) {
        let sent: Record<string, string>;
        try { sent = headers(c.jwt); } catch { continue; }
        const res = await request(`${st.s.origin('bots')}/`, { headers: { ...JSON_ACCEPT, ...sent } });
        assert.equal(res.status, 401, `${c.name} via ${form}: ${res.status}`);
        assert.equal(res.json<Failure>().reasons[0], c.want, `${c.name} via ${form}`);
      }
    }
  });

  test('acting as a directory user: that user\'s email and groups, read on every request', async () => {
    await putDirectoryUser(st.store, { id: 'u-grace', email: 'grace@example.com', name: 'Grace', groups: ['eng', 'ops'], source: 'manual', lastSeen: undefined });
    const { account, token } = await create({ as_user: 'grace@example.com', description: 'Grace\'s scripts' });
    assert.equal(account.user_id, 'u-grace');
    assert.equal(account.acts_as_user, true);
    const res = await request(`${st.s.origin('eng')}/report`, { headers: { ...JSON_ACCEPT, 'x-pomerium-authorization': token } });
    assert.equal(res.status, 200);
    const echo = res.json<Echo>();
    assert.equal(echo.headers['x-pomerium-claim-email'], 'grace@example.com');
    assert.equal(echo.headers['x-pomerium-claim-groups'], 'eng,ops');
    const payload = decodeJwt(echo.headers['x-pomerium-jwt-assertion'] as string);
    assert.equal(payload.sub, 'u-grace');
    assert.equal(payload.sid, account.id);
    // Grace leaves eng: the account loses access on its next request.
    await putDirectoryUser(st.store, { id: 'u-grace', email: 'grace@example.com', name: 'Grace', groups: ['ops'], source: 'manual', lastSeen: undefined });
    const denied = await request(`${st.s.origin('eng')}/report`, { headers: { ...JSON_ACCEPT, 'x-pomerium-authorization': token } });
    assert.equal(denied.status, 403);
    assert.ok(denied.json<Failure>().reasons.includes('groups-unauthorized'));
    // As-user of someone not in the directory is refused at creation.
    const unknown = await createViaApi({ as_user: 'nobody@example.com' });
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.json<Failure>().reasons, ['as-user-unknown']);
  });

  test('expiry: refused from the expiry time on (frozen clock moved forward)', async () => {
    const { account, token } = await create({ user_id: 'bot-ci', expires_in: '1h' });
    const exp = Date.parse(account.expires_at!);
    const send = () => request(`${st.s.origin('bots')}/`, { headers: { ...JSON_ACCEPT, authorization: `Bearer Pomerium-${token}` } });
    try {
      assert.equal((await send()).status, 200);
      st.clock.offsetMs = exp - Date.now() - 5_000;
      assert.equal((await send()).status, 200, 'just before expiry');
      st.clock.offsetMs = exp - Date.now() + 1_000;
      let res = await send();
      assert.equal(res.status, 401);
      assert.deepEqual(res.json<Failure>().reasons.slice(0, 1), ['service-account-expired']);
      st.clock.offsetMs = exp - Date.now() + 5 * 60_000;
      res = await send();
      assert.equal(res.status, 401);
      assert.deepEqual(res.json<Failure>().reasons.slice(0, 1), ['token-expired']);
      const listed = await request(`${st.s.authOrigin}${API}/${account.id}`, { jar: adminJar, headers: JSON_ACCEPT });
      assert.equal(listed.json<{ service_account: View }>().service_account.status, 'expired');
    } finally {
      st.clock.reset();
    }
  });

  test('the CLI creates, lists, shows and revokes in the same SQLite file; revocation applies to the next request', async () => {
    const created = await runCli(['service-account', 'create', '--config', st.configPath, '--user', 'bot-cli-1', '--description', 'made by the CLI', '--expires-in', '7d']);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim();
    tokens.push(token);
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'stdout is just the token');
    assert.match(created.stderr, /shown only once/);
    assert.ok(!created.stderr.includes(token));
    const id = String(decodeJwt(token).jti);

    const send = () => request(`${st.s.origin('bots')}/`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${token}` } });
    assert.equal((await send()).status, 200, 'the running server sees an account the CLI made');

    const listed = await runCli(['service-account', 'list', '--config', st.configPath, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const all = JSON.parse(listed.stdout) as { service_accounts: View[] };
    const mine = all.service_accounts.find((a) => a.id === id);
    assert.ok(mine);
    assert.equal(mine.user_id, 'bot-cli-1');
    assert.equal(mine.status, 'active');
    assert.ok(!listed.stdout.includes(token.split('.')[2]!), 'list never shows tokens');
    const table = await runCli(['service-account', 'list', '--config', st.configPath]);
    assert.match(table.stdout, /^ID\s+USER\s+NAMESPACE\s+STATUS/);
    assert.match(table.stdout, new RegExp(`${id}\\s+bot-cli-1\\s+global\\s+active`));

    const shown = await runCli(['service-account', 'show', id, '--config', st.configPath]);
    assert.equal(shown.code, 0);
    assert.match(shown.stdout, /description\s+made by the CLI/);

    const revoked = await runCli(['service-account', 'revoke', id, '--config', st.configPath]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /Revoked service account/);
    const res = await send();
    assert.equal(res.status, 401, 'refused on the very next request');
    assert.deepEqual(res.json<Failure>().reasons.slice(0, 1), ['service-account-revoked']);

    const again = await runCli(['service-account', 'revoke', id, '--config', st.configPath, '--json']);
    assert.equal(again.code, 0);
    assert.equal((JSON.parse(again.stdout) as { service_account: View }).service_account.status, 'revoked');
    const missing = await runCli(['service-account', 'show', 'no-such-id', '--config', st.configPath]);
    assert.equal(missing.code, 1);
    const events = await st.store.queryAudit({ kind: 'service_account.revoke' });
    const ev = events.find((e) => e.details.service_account_id === id);
    assert.ok(ev, 'the CLI revocation is an audit event');
    assert.match(String(ev.actor), /^cli/);
    assert.equal(events.filter((e) => e.details.service_account_id === id).length, 1, 'revoking twice is one change');
  });

  test('the admin API: list, show, revoke (DELETE or POST), refusals, and audit events', async () => {
    const { account, token } = await create({ user_id: 'bot-api', namespace: 'global' });
    const list = await request(`${st.s.authOrigin}${API}`, { jar: adminJar, headers: JSON_ACCEPT });
    assert.equal(list.status, 200);
    assert.ok(list.json<{ service_accounts: View[] }>().service_accounts.some((a) => a.id === account.id));
    assert.ok(!list.text().includes(token.split('.')[2]!), 'list never returns tokens');

    const bad: { body: unknown; reason: string }[] = [
      { body: {}, reason: 'user-required' },
      { body: { user_id: 'a', as_user: 'b@example.com' }, reason: 'user-required' },
      { body: { user_id: 'a', expires_in: 'soon' }, reason: 'expiry-invalid' },
      { body: { user_id: 'a', expires_in: '1h', expires_at: '2099-01-01T00:00:00Z' }, reason: 'body-invalid' },
      { body: { user_id: 'a', namespace: 'nope' }, reason: 'namespace-unknown' },
      { body: { user_id: 'a', roles: ['root'] }, reason: 'role-unknown' },
      { body: { user_id: 'a', roles: 'admin' }, reason: 'body-invalid' },
      { body: { user_id: 'a', token: 'x' }, reason: 'body-invalid' },
      { body: { user_id: 5 }, reason: 'body-invalid' },
      { body: [], reason: 'body-invalid' },
      { body: 'x', reason: 'body-invalid' },
    ];
    for (const b of bad) {
      const res = await request(`${st.s.authOrigin}${API}`, { method: 'POST', jar: adminJar, headers: { ...JSON_ACCEPT, ...await csrfHeaders(st.s.authOrigin, adminJar), 'content-type': 'application/json' }, body: JSON.stringify(b.body) });
      assert.equal(res.status, 400, JSON.stringify(b.body));
      assert.deepEqual(res.json<Failure>().reasons, [b.reason], JSON.stringify(b.body));
    }
    const notJson = await request(`${st.s.authOrigin}${API}`, { method: 'POST', jar: adminJar, headers: { ...JSON_ACCEPT, ...await csrfHeaders(st.s.authOrigin, adminJar) }, body: 'user_id=a' });
    assert.equal(notJson.status, 400);

    const missing = await request(`${st.s.authOrigin}${API}/no-such-id`, { jar: adminJar, headers: JSON_ACCEPT });
    assert.equal(missing.status, 404);
    const del = await request(`${st.s.authOrigin}${API}/${account.id}`, { method: 'DELETE', jar: adminJar, headers: { ...JSON_ACCEPT, ...await csrfHeaders(st.s.authOrigin, adminJar) } });
    assert.equal(del.status, 200);
    assert.equal(del.json<{ service_account: View }>().service_account.status, 'revoked');
    const after = await request(`${st.s.origin('app')}/`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${token}` } });
    assert.equal(after.status, 401);
    assert.deepEqual(after.json<Failure>().reasons.slice(0, 1), ['service-account-revoked']);
    const second = await create({ user_id: 'bot-api' });
    const post = await request(`${st.s.authOrigin}${API}/${second.account.id}/revoke`, { method: 'POST', jar: adminJar, headers: { ...JSON_ACCEPT, ...await csrfHeaders(st.s.authOrigin, adminJar) } });
    assert.equal(post.status, 200);
    assert.equal(post.json<{ service_account: View }>().service_account.status, 'revoked');
    const revokeMissing = await request(`${st.s.authOrigin}${API}/no-such-id/revoke`, { method: 'POST', jar: adminJar, headers: { ...JSON_ACCEPT, ...await csrfHeaders(st.s.authOrigin, adminJar) } });
    assert.equal(revokeMissing.status, 404);

    await st.s.limen.services.audit.flush();
    const creates = await st.store.queryAudit({ kind: 'service_account.create' });
    const ev = creates.find((e) => e.details.service_account_id === account.id);
    assert.ok(ev);
    assert.equal(ev.actor, 'admin@example.com');
    assert.equal(ev.userId, 'bot-api');
    const revokes = await st.store.queryAudit({ kind: 'service_account.revoke' });
    assert.ok(revokes.some((e) => e.details.service_account_id === account.id && e.actor === 'admin@example.com'));
    assert.ok(revokes.some((e) => e.details.service_account_id === second.account.id));
  });

  test('the admin API is for administrators and admin-role accounts only', async () => {
    const userJar = new CookieJar();
    await scriptedLogin(`${st.s.origin('app')}/`, 'eve@example.com', { jar: userJar });
    const asUser = await request(`${st.s.authOrigin}${API}`, { jar: userJar, headers: JSON_ACCEPT });
    assert.equal(asUser.status, 403);
    assert.deepEqual(asUser.json<Failure>().reasons, ['not-administrator']);
    const anonymous = await request(`${st.s.authOrigin}${API}`, { headers: JSON_ACCEPT });
    assert.equal(anonymous.status, 401);

    const plain = await create({ user_id: 'bot-plain' });
    const byPlain = await createViaApi({ user_id: 'bot-x' }, { headers: { authorization: `Pomerium ${plain.token}` } });
    assert.equal(byPlain.status, 403);
    assert.deepEqual(byPlain.json<Failure>().reasons, ['not-administrator']);

    const admin = await create({ user_id: 'bot-admin', roles: ['admin'] });
    assert.deepEqual(admin.account.roles, ['admin']);
    const byAdmin = await createViaApi({ user_id: 'bot-made-by-bot' }, { headers: { authorization: `Bearer Pomerium-${admin.token}` } });
    assert.equal(byAdmin.status, 201);
    assert.equal(byAdmin.header('cache-control'), 'no-store');
    const made = byAdmin.json<{ service_account: View }>().service_account;
    await st.s.limen.services.audit.flush();
    const ev = (await st.store.queryAudit({ kind: 'service_account.create' })).find((e) => e.details.service_account_id === made.id);
    assert.equal(ev?.actor, `service_account:${admin.account.id}`);
    // Revoking the admin account ends its admin rights at once.
    await request(`${st.s.authOrigin}${API}/${admin.account.id}`, { method: 'DELETE', jar: adminJar, headers: { ...JSON_ACCEPT, ...await csrfHeaders(st.s.authOrigin, adminJar) } });
    const afterRevoke = await createViaApi({ user_id: 'bot-y' }, { headers: { authorization: `Bearer Pomerium-${admin.token}` } });
    assert.equal(afterRevoke.status, 401);
    assert.deepEqual(afterRevoke.json<Failure>().reasons, ['service-account-revoked']);
  });

  test('no token value appears in any log line or audit event of these scenarios', async () => {
    await assertNoTokensLogged(st, tokens);
  });
});
