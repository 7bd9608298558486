import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeJwt, jwtVerify } from 'jose';
import { closeHttpAgents, request } from './support/index.js';
import { SHARED_SECRET } from './stack.js';
import { assertNoTokensLogged, runCli, startSharedStoreStack, type SharedStoreStack } from './service-accounts-helpers.js';
import { putDirectoryUser } from '../src/accounts/index.js';
import { runCliInProcess as cliInProcess } from './support/index.js';

const JSON_ACCEPT = { accept: 'application/json' };
const SECRET_BYTES = Buffer.from(SHARED_SECRET, 'base64');

interface Echo { url: string; headers: Record<string, string | string[] | undefined> }
interface Failure { reasons: string[] }


describe('limen token: route-scoped tokens (seed 001), as a user runs it', () => {
  let st: SharedStoreStack;
  const tokens: string[] = [];
  let app: string;
  let other: string;

  before(async () => {
    st = await startSharedStoreStack({
      routes: [
        { name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, pass_identity_headers: true },
        { name: 'other', from: 'http://other.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true },
        { name: 'finance', from: 'http://finance.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ groups: { has: 'finance' } }] } }, pass_identity_headers: true },
      ],
      config: { jwt_claims_headers: ['email', 'groups'] },
    });
    app = st.s.origin('app');
    other = st.s.origin('other');
  });
  after(async () => {
    await st.close();
    await closeHttpAgents();
  });

  /** Mints a token with the CLI: in a child process as a user would, or in this process where the flow, not the process, is under test. */
  async function mint(args: string[], opts: { stdin?: string; env?: Record<string, string>; inProcess?: boolean } = {}): Promise<string> {
    const io = { stdin: opts.stdin ?? (opts.env ? undefined : `${SHARED_SECRET}\n`), ...(opts.env ? { env: opts.env } : {}) };
    const r = opts.inProcess ? await cliInProcess(['token', ...args], io) : await runCli(['token', ...args], io);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'nothing but the token is printed');
    const jwt = r.stdout.trim();
    assert.match(jwt, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(r.stdout, `${jwt}\n`);
    tokens.push(jwt);
    return jwt;
  }

  test('the seed-001 flow: secret on stdin, `Authorization: Pomerium $jwt` works on its aud host and fails on another', async () => {
    const jwt = await mint(['-email', 'bob@example.com', '-aud', 'app.localhost', '-sub', 'bob', '-user', 'bob', '-expiry', '1h', '-iss', 'authenticate.localhost']);
    const { payload } = await jwtVerify(jwt, SECRET_BYTES, { algorithms: ['HS256'] });
    assert.equal(payload.iss, 'authenticate.localhost');
    assert.equal(payload.sub, 'bob');
    assert.equal(payload.user, 'bob');
    assert.equal(payload.email, 'bob@example.com');
    assert.deepEqual(payload.aud, ['app.localhost']);
    assert.equal(payload.exp! - payload.nbf!, 3600);
    assert.equal(payload.iat, payload.nbf);
    assert.equal(typeof payload.jti, 'string');

    const res = await request(`${app}/headers`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${jwt}` } });
    assert.equal(res.status, 200);
    const echo = res.json<Echo>();
    assert.equal(echo.headers.authorization, undefined, 'the token never reaches the upstream');
    const assertion = decodeJwt(echo.headers['x-pomerium-jwt-assertion'] as string);
    assert.equal(assertion.sub, 'bob');
    assert.equal(assertion.email, 'bob@example.com');
    assert.equal(assertion.sid, payload.jti);

    const elsewhere = await request(`${other}/`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${jwt}` } });
    assert.equal(elsewhere.status, 401);
    assert.deepEqual(elsewhere.json<Failure>().reasons.slice(0, 1), ['token-audience-mismatch']);
  });

  test('usable with every header form and as the _pomerium cookie value', async () => {
    const jwt = await mint(['-email', 'carol@example.com', '-aud', 'app.localhost,other.localhost'], { inProcess: true });
    const forms: Record<string, string>[] = [
      { authorization: `Bearer Pomerium-${jwt}` }, { 'x-pomerium-authorization': jwt }, { authorization: `Pomerium ${jwt}` }, { cookie: `_pomerium=${jwt}` },
    ];
    for (const headers of forms) {
      for (const origin of [app, other]) {
        const res = await request(`${origin}/`, { headers: { ...JSON_ACCEPT, ...headers } });
        assert.equal(res.status, 200, `${Object.keys(headers)[0]} on ${origin}`);
      }
    }
  });

  test('the secret from POMERIUM_SHARED_KEY or LIMEN_SHARED_SECRET; long flag aliases', async () => {
    for (const env of [{ POMERIUM_SHARED_KEY: SHARED_SECRET }, { LIMEN_SHARED_SECRET: SHARED_SECRET }] as Record<string, string>[]) {
      const jwt = await mint(['--aud=app.localhost', '--email', 'dan@example.com', '--groups', 'a,b', '--groups=c', '--expiry=30m', '--issuer', 'auth'], { env });
      const c = decodeJwt(jwt);
      assert.deepEqual(c.groups, ['a', 'b', 'c']);
      assert.equal(c.iss, 'auth');
      assert.equal(c.exp! - c.iat!, 1800);
      const res = await request(`${app}/`, { headers: { ...JSON_ACCEPT, 'x-pomerium-authorization': jwt } });
      assert.equal(res.status, 200, Object.keys(env)[0]);
    }
  });

  test('a secret given as an argument is refused unless --secret-from-arg', async () => {
    const refused = await runCli(['token', '-aud', 'app.localhost', '-email', 'e@example.com', SHARED_SECRET]);
    assert.equal(refused.code, 2);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, /refusing to take the shared secret from the command line/);
    assert.ok(!refused.stderr.includes(SHARED_SECRET), 'the refusal does not repeat the secret');
    const allowed = await mint(['-aud', 'app.localhost', '-email', 'e@example.com', '--secret-from-arg', SHARED_SECRET], { env: {} });
    const res = await request(`${app}/`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${allowed}` } });
    assert.equal(res.status, 200);
  });

  test('a token from another secret is refused by the server; a malformed secret by the CLI', async () => {
    const foreign = await mint(['-aud', 'app.localhost', '-email', 'f@example.com'], { stdin: randomBytes(32).toString('base64'), inProcess: true });
    const res = await request(`${app}/`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${foreign}` } });
    assert.equal(res.status, 401);
    assert.deepEqual(res.json<Failure>().reasons.slice(0, 1), ['token-signature-invalid']);
    for (const stdin of ['', 'not base64!', randomBytes(16).toString('base64'), 'a'.repeat(5)]) {
      const r = await cliInProcess(['token', '-aud', 'app.localhost', '-email', 'f@example.com'], { stdin });
      assert.equal(r.code, 1, JSON.stringify(stdin));
      assert.match(r.stderr, /shared secret must be base64 of 32 bytes/);
      assert.equal(r.stdout, '');
    }
  });

  test('flag errors are usage errors (exit 2) in Go flag style', async () => {
    const cases: { argv: string[]; want: RegExp }[] = [
      { argv: ['-email', 'x@example.com'], want: /-aud is required/ },
      { argv: ['-aud', 'app.localhost'], want: /needs an identity/ },
      { argv: ['-aud', 'app.localhost', '-email', 'x', '-expiry', 'forever'], want: /-expiry: expected a positive duration/ },
      { argv: ['-aud', 'app.localhost', '-email', 'x', '-expiry', '-1h'], want: /-expiry: expected a positive duration/ },
      { argv: ['-aud', 'app.localhost', '-email', 'x', '-bogus', '1'], want: /flag provided but not defined: -bogus/ },
      { argv: ['-aud'], want: /flag needs an argument: -aud/ },
      { argv: ['-aud', 'a', '-email', 'x', '--secret-from-arg=maybe'], want: /invalid boolean value/ },
      { argv: ['-aud', 'a', '-email', 'x', '--secret-from-arg', 'one', 'two'], want: /at most one argument/ },
    ];
    for (const c of cases) {
      const r = await cliInProcess(['token', ...c.argv], { stdin: SHARED_SECRET });
      assert.equal(r.code, 2, c.argv.join(' '));
      assert.match(r.stderr, c.want, c.argv.join(' '));
      assert.equal(r.stdout, '');
    }
  });

  test('every command has --help', async () => {
    const commands = [['token'], ['token', 'revoke'], ['service-account', 'create'], ['service-account', 'list'], ['service-account', 'show'], ['service-account', 'revoke']];
    for (const c of commands) {
      for (const flag of ['--help', '-h']) {
        const r = await cliInProcess([...c, flag]);
        assert.equal(r.code, 0, `${c.join(' ')} ${flag}`);
        assert.match(r.stdout, new RegExp(`^Usage: limen ${c.join(' ')}`), c.join(' '));
      }
    }
    const goStyle = await cliInProcess(['token', '-help']);
    assert.equal(goStyle.code, 0);
    assert.match(goStyle.stdout, /-impersonate_email string/);
    const top = await cliInProcess(['--help']);
    assert.match(top.stdout, /service-account create/);
    assert.match(top.stdout, /token revoke/);
  });

  test('-impersonate_email / -impersonate_groups: the token acts as that identity', async () => {
    await putDirectoryUser(st.store, { id: 'u-ann', email: 'ann@example.com', name: 'Ann', groups: ['finance'], source: 'manual', lastSeen: undefined });
    const asAnn = await mint(['-aud', 'finance.localhost', '-email', 'admin@example.com', '-user', 'admin', '-impersonate_email', 'ann@example.com'], { inProcess: true });
    let res = await request(`${st.s.origin('finance')}/`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${asAnn}` } });
    assert.equal(res.status, 200);
    const echo = res.json<Echo>();
    assert.equal(echo.headers['x-pomerium-claim-email'], 'ann@example.com');
    const assertion = decodeJwt(echo.headers['x-pomerium-jwt-assertion'] as string);
    assert.equal(assertion.sub, 'u-ann');
    assert.deepEqual(assertion.act, { sub: 'admin', email: 'admin@example.com' }, 'the real identity is kept as the actor');

    const plain = await mint(['-aud', 'finance.localhost', '-email', 'admin@example.com', '-groups', 'admins'], { inProcess: true });
    res = await request(`${st.s.origin('finance')}/`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${plain}` } });
    assert.equal(res.status, 403);
    const asGroup = await mint(['-aud', 'finance.localhost', '-email', 'admin@example.com', '-groups', 'admins', '--impersonate-groups', 'finance'], { inProcess: true });
    res = await request(`${st.s.origin('finance')}/`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${asGroup}` } });
    assert.equal(res.status, 200);
    assert.equal(res.json<Echo>().headers['x-pomerium-claim-groups'], 'finance');
  });

  test('expiry: refused from exp on (clock moved forward)', async () => {
    const jwt = await mint(['-aud', 'app.localhost', '-email', 'g@example.com', '-expiry', '2m'], { inProcess: true });
    const exp = decodeJwt(jwt).exp! * 1000;
    const send = () => request(`${app}/`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${jwt}` } });
    try {
      assert.equal((await send()).status, 200);
      st.clock.offsetMs = exp - Date.now() - 2_000;
      assert.equal((await send()).status, 200);
      for (const past of [0, 30_000, 10 * 60_000]) {
        st.clock.offsetMs = exp - Date.now() + past;
        const res = await send();
        assert.equal(res.status, 401, `${past} ms after exp`);
        assert.deepEqual(res.json<Failure>().reasons.slice(0, 1), ['token-expired']);
      }
    } finally {
      st.clock.reset();
    }
  });

  test('limen token revoke JTI (and - with the token on stdin): refused from the next request on', async () => {
    const first = await mint(['-aud', 'app.localhost', '-email', 'h@example.com']);
    const send = (jwt: string) => request(`${app}/`, { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${jwt}` } });
    assert.equal((await send(first)).status, 200);
    await st.s.limen.services.audit.flush();
    // The jti is in the audit log of the decision, which is how an operator finds it.
    const decided = (await st.store.queryAudit({ kind: 'authorize', email: 'h@example.com' }))[0];
    const jti = String(decodeJwt(first).jti);
    assert.equal(decided?.details.token_id, jti);
    const r = await runCli(['token', 'revoke', jti, '--config', st.configPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Revoked token/);
    let res = await send(first);
    assert.equal(res.status, 401);
    assert.deepEqual(res.json<Failure>().reasons.slice(0, 1), ['token-revoked']);

    const second = await mint(['-aud', 'app.localhost', '-email', 'i@example.com'], { inProcess: true });
    assert.equal((await send(second)).status, 200);
    const r2 = await runCli(['token', 'revoke', '-', '--config', st.configPath, '--json'], { stdin: `${second}\n` });
    assert.equal(r2.code, 0, r2.stderr);
    const out = JSON.parse(r2.stdout) as { revoked_token: { jti: string; expires_at: string } };
    assert.equal(out.revoked_token.jti, decodeJwt(second).jti);
    assert.equal(Date.parse(out.revoked_token.expires_at), decodeJwt(second).exp! * 1000, 'kept until the token would expire');
    res = await send(second);
    assert.equal(res.status, 401);
    assert.deepEqual(res.json<Failure>().reasons.slice(0, 1), ['token-revoked']);
    // Still good elsewhere: only that token is revoked.
    const third = await mint(['-aud', 'app.localhost', '-email', 'i@example.com'], { inProcess: true });
    assert.equal((await send(third)).status, 200);

    const forged = await runCli(['token', 'revoke', '-', '--config', st.configPath], { stdin: `${third.slice(0, -4)}AAAA` });
    assert.equal(forged.code, 1);
    assert.match(forged.stderr, /not a token signed with this config's shared_secret/);
    const events = await st.store.queryAudit({ kind: 'route_token.revoke' });
    assert.deepEqual(events.map((e) => e.details.token_id).sort(), [jti, out.revoked_token.jti].sort());
    assert.equal((await cliInProcess(['token', 'revoke', jti])).code, 2, '--config is required');
  });

  test('no token value appears in any log line or audit event', async () => {
    await assertNoTokensLogged(st, tokens);
  });
});
