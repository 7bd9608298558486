/**
 * `limen users|groups|sessions|audit|scim` as an administrator runs them: a
 * separate process on the SQLite file a running server uses. Changes apply
 * to the server's next request; the audit query reads back a scripted
 * scenario in order with nothing missing; retention deletes old rows.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CookieJar, closeHttpAgents, request, runCli, scriptedLogin } from './support/index.js';
import { startSharedStoreStack, type SharedStoreStack } from './service-accounts-helpers.js';

const JSON_ACCEPT = { accept: 'application/json' };

describe('directory, sessions and audit CLI against a running server', () => {
  let st: SharedStoreStack;
  let cli: (...args: string[]) => ReturnType<typeof runCli>;
  before(async () => {
    st = await startSharedStoreStack({
      routes: [
        { name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true },
        { name: 'contractors', from: 'http://contractors.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ groups: { has: 'contractors' } }] } } },
      ],
      config: { administrators: ['admin@example.com'], audit_retention: '2h' },
    });
    cli = (...args) => runCli([...args, '--config', st.configPath]);
  });
  after(async () => {
    await st.close();
    await closeHttpAgents();
  });

  const status = async (host: string, jar: CookieJar): Promise<number> => (await request(`${st.s.origin(host)}/`, { jar, headers: JSON_ACCEPT })).status;

  test('a non-domain user added by hand gets their groups on their next request', async () => {
    const add = await cli('users', 'add', '--email', 'cara@contractor.io', '--name', 'Cara Contractor', '--groups', 'contractors');
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /^created group contractors \([0-9a-f-]{36}\)\nadded user cara@contractor\.io \([0-9a-f-]{36}\) in contractors\n$/);

    const dup = await cli('users', 'add', '--email', 'CARA@contractor.io');
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /already exists/);

    const list = JSON.parse((await cli('users', 'list', '--json')).stdout) as { users: { email: string; source: string; groups: { name: string }[] }[] };
    assert.deepEqual(list.users.map((u) => [u.email, u.source, u.groups.map((g) => g.name)]), [['cara@contractor.io', 'manual', ['contractors']]]);

    // She signs in through the IdP, which knows nothing of the group.
    const jar = new CookieJar();
    await scriptedLogin(`${st.s.origin('app')}/`, 'cara@contractor.io', { jar });
    assert.equal((await scriptedLogin(`${st.s.origin('contractors')}/`, 'cara@contractor.io', { jar })).response.status, 200);

    const removed = await cli('groups', 'members', 'contractors', '--remove', 'cara@contractor.io');
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, 'removed cara@contractor.io from contractors\n');
    assert.equal(await status('contractors', jar), 403, 'membership removed: refused on the next request');
    assert.equal((await cli('groups', 'members', 'contractors', '--add', 'cara@contractor.io')).code, 0);
    assert.equal(await status('contractors', jar), 200);
    assert.equal((await cli('groups', 'members', 'contractors')).stdout, 'cara@contractor.io (Cara Contractor)\n');

    const show = JSON.parse((await cli('users', 'show', 'cara@contractor.io', '--json')).stdout) as { user: { last_seen: string | null }; sessions: unknown[] };
    assert.notEqual(show.user.last_seen, null, 'sign-in recorded in the directory');
    assert.equal(show.sessions.length, 1);

    const groups = await cli('groups', 'list');
    assert.match(groups.stdout, /^NAME\s+MEMBERS\s+SOURCE\s+ID\ncontractors\s+1\s+manual\s+/);

    const gone = await cli('users', 'remove', 'cara@contractor.io');
    assert.equal(gone.code, 0, gone.stderr);
    assert.match(gone.stdout, /^removed user cara@contractor\.io .*; 1 session revoked\n$/);
    assert.equal(await status('app', jar), 401, 'removing a user ends their access at once');
  });

  test('sessions list and revoke (by id and by user) are refused on the next request', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${st.s.origin('app')}/`, 'dave@example.com', { jar });
    const other = new CookieJar();
    await scriptedLogin(`${st.s.origin('app')}/`, 'dave@example.com', { jar: other });
    const listed = JSON.parse((await cli('sessions', 'list', '--user', 'dave@example.com', '--json')).stdout) as { sessions: { id: string; email: string }[] };
    assert.equal(listed.sessions.length, 2);
    assert.ok(listed.sessions.every((x) => x.email === 'dave@example.com'));
    const table = await cli('sessions', 'list');
    assert.match(table.stdout, /^ID\s+EMAIL\s+USER ID\s+ISSUED\s+EXPIRES\s+IMPERSONATING\n/);

    const mine = (await request(`${st.s.origin('app')}/.pomerium/user`, { jar, headers: JSON_ACCEPT })).json<{ session_id: string }>().session_id;
    const one = await cli('sessions', 'revoke', mine);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, `revoked session ${mine} of dave@example.com\n`);
    assert.equal(await status('app', jar), 401);
    assert.equal(await status('app', other), 200, 'the other session is untouched');
    const again = await cli('sessions', 'revoke', mine);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no live session/);

    const all = await cli('sessions', 'revoke', '--user', 'dave@example.com');
    assert.equal(all.stdout, 'revoked 1 session of dave@example.com\n');
    assert.equal(await status('app', other), 401);
  });

  test('the audit query returns a scripted scenario in order, with nothing missing', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${st.s.origin('app')}/`, 'erin@example.com', { jar });
    assert.equal(await status('app', jar), 200);
    assert.equal((await scriptedLogin(`${st.s.origin('contractors')}/`, 'erin@example.com', { jar })).response.status, 403);
    assert.equal((await cli('groups', 'members', 'contractors', '--add', 'erin@example.com')).code, 0);
    assert.equal(await status('contractors', jar), 200);
    assert.equal((await cli('sessions', 'revoke', '--user', 'erin@example.com')).code, 0);
    await st.s.limen.services.audit.flush();

    const q = await cli('audit', 'query', '--user', 'erin@example.com', '--json');
    assert.equal(q.code, 0, q.stderr);
    const events = JSON.parse(q.stdout) as { seq: number; kind: string; decision?: string; route?: string; email?: string; actor?: string; details: Record<string, unknown> }[];
    assert.deepEqual(events.map((e) => [e.kind, e.decision ?? '', e.route ?? '']), [
      ['sign_in', '', ''],
      ['authorize', 'allow', 'app'],
      ['authorize', 'allow', 'app'],
      ['authorize', 'deny', 'contractors'],
      ['group.member_add', '', ''],
      ['authorize', 'allow', 'contractors'],
      ['session.revoke', '', ''],
    ]);
    assert.deepEqual(events.map((e) => e.seq), [...events.map((e) => e.seq)].sort((a, b) => a - b), 'in order');
    assert.match(events[4]!.actor ?? '', /^cli/);
    const deny = events[3]!;
    assert.deepEqual(deny.details.reasons, ['groups-unauthorized']);
    assert.equal(deny.details.method, 'GET');
    assert.equal(deny.details.path, '/');
    assert.equal(typeof deny.details.session_id, 'string');

    // Nothing missing: every stored event about erin is in the answer.
    const stored = (await st.store.queryAudit({ email: 'erin@example.com', limit: 100_000 })).map((e) => e.seq);
    assert.deepEqual(events.map((e) => e.seq).filter((x) => stored.includes(x)), stored);

    const denies = JSON.parse((await cli('audit', 'query', '--decision', 'deny', '--route', 'contractors', '--since', '1h', '--json')).stdout) as { decision: string; route: string }[];
    assert.ok(denies.length >= 1);
    assert.ok(denies.every((e) => e.decision === 'deny' && e.route === 'contractors'));
    const text = await cli('audit', 'query', '--user', 'erin@example.com', '--limit', '2');
    assert.equal(text.stdout.trim().split('\n').length, 2);
    assert.match(text.stdout, /authorize {2}allow {2}route=contractors {2}user=erin@example\.com/);
    assert.match(text.stderr, /only the newest 2 events/);
  });

  test('retention: audit prune deletes rows older than audit_retention', async () => {
    const now = Date.now();
    await st.store.appendAudit([
      { time: now - 3 * 3_600_000, kind: 'ancient', details: {} },
      { time: now - 3_600_000, kind: 'recent', details: {} },
    ]);
    const r = await cli('audit', 'prune');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'deleted 1 event older than the retention period\n');
    assert.equal((await st.store.queryAudit({ kind: 'ancient' })).length, 0);
    assert.equal((await st.store.queryAudit({ kind: 'recent' })).length, 1);
    // The server's own pruning uses the same setting.
    await st.store.appendAudit([{ time: now - 3 * 3_600_000, kind: 'ancient', details: {} }]);
    assert.equal(await st.s.limen.services.audit.prune(), 1);
  });

  test('SCIM tokens: created once, listed without their value, revoked', async () => {
    const created = await cli('scim', 'token', 'create', '--description', 'Okta');
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim();
    assert.match(token, /^lscim\.[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/);
    assert.match(created.stderr, /shown only this once.*SCIM base URL: http:\/\/authenticate\.localhost:\d+\/scim\/v2\//);
    const id = token.split('.')[1]!;
    const scim = async () => (await request(`${st.s.authOrigin}/scim/v2/Users`, { headers: { authorization: `Bearer ${token}` } })).status;
    assert.equal(await scim(), 200);
    const list = await cli('scim', 'token', 'list', '--json');
    assert.ok(!list.stdout.includes(token.split('.')[2]!), 'the token value is never shown again');
    assert.deepEqual((JSON.parse(list.stdout) as { tokens: { id: string; description: string; revoked_at: string | null }[] }).tokens.map((t) => [t.id, t.description, t.revoked_at]), [[id, 'Okta', null]]);
    assert.equal((await cli('scim', 'token', 'revoke', id)).stdout, `revoked SCIM token ${id}\n`);
    assert.equal(await scim(), 401);
    assert.equal((await cli('scim', 'token', 'revoke', 'ffffffffffffffff')).code, 1);
    // Stored hashed only.
    const stored = JSON.stringify(await st.store.list('scim_token'));
    assert.ok(!stored.includes(token.split('.')[2]!));
  });

  test('usage errors exit 2 and name the problem; unknown users exit 1', async () => {
    const cases: [string[], number, RegExp][] = [
      [['users', 'add'], 2, /--email E is required/],
      [['users', 'add', '--email', 'x@y.z', '--bogus'], 2, /bogus/],
      [['users', 'show', 'ghost@example.com'], 1, /no user with id or email "ghost@example\.com"/],
      [['users', 'add', '--email', 'not-an-email'], 1, /email must be an email address/],
      [['sessions', 'revoke'], 2, /give a session ID or --user/],
      [['audit', 'query', '--since', 'yesterday'], 2, /--since: expected a duration/],
    ];
    for (const [args, code, message] of cases) {
      const r = await cli(...args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
    const noConfig = await runCli(['users', 'list']);
    assert.equal(noConfig.code, 2);
    assert.match(noConfig.stderr, /--config FILE is required/);
  });
});
