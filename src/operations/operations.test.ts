/**
 * Every operation records exactly one audit event for a change, naming the
 * actor as CONTRACT §6 asks (`email`, `service_account:<id>`, `cli:<user>`),
 * with `via` and the request id, and none for a change that changed nothing.
 * Table-driven over the operations, on the memory store with a frozen clock.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEventInput, AuditSink } from '../audit/index.js';
import { MemoryStore } from '../store/index.js';
import { findUserByIdOrEmail, findGroup } from '../accounts/index.js';
import {
  actorName, createGroup, createScimToken, createServiceAccount, createUser, deleteGroup, deleteRecord, deleteUser, loadRecords,
  renameGroup, revokeRouteToken, revokeScimToken, revokeServiceAccount, revokeSession, revokeUserSessions, setMembership, updateUser,
  type Actor, type OperationContext,
} from './index.js';

const NOW = Date.UTC(2026, 11, 5, 9);
const ADMIN: Actor = { kind: 'administrator', user: 'u-ada', email: 'ada@example.com' };
const ROBOT: Actor = { kind: 'service_account', id: 'sa-1', user: 'robot', email: '' };
const CLI: Actor = { kind: 'cli', osUser: 'ops' };

function context(via: OperationContext['via'] = 'api'): { ctx: OperationContext; events: AuditEventInput[] } {
  const events: AuditEventInput[] = [];
  const audit: AuditSink = { emit: (e) => { events.push(e); } };
  return { ctx: { store: new MemoryStore(), audit, now: () => NOW, via, requestId: 'req-1' }, events };
}

describe('actors', () => {
  test('each kind of actor is named as the audit trail names it', () => {
    for (const [actor, want] of [
      [ADMIN, 'ada@example.com'], [{ kind: 'administrator', user: 'u-bob', email: '' }, 'u-bob'],
      [ROBOT, 'service_account:sa-1'], [CLI, 'cli:ops'], [{ kind: 'cli', osUser: '' }, 'cli'],
    ] as const) assert.equal(actorName(actor), want);
  });
});

describe('operations', () => {
  const secret = new Uint8Array(32).fill(3);
  const cases: { name: string; run: (ctx: OperationContext, actor: Actor) => Promise<unknown>; kind: string; details: Record<string, unknown> }[] = [
    { name: 'create a user', kind: 'user.create', details: { groups: [] }, run: (c, a) => createUser(c, a, { email: 'x@example.org' }) },
    {
      name: 'deactivate a user', kind: 'user.deactivate', details: { changed: ['active'] },
      run: async (c, a) => { const { user } = await createUser(c, a, { email: 'x@example.org' }); return updateUser(c, a, user.id, { active: false }); },
    },
    {
      name: 'delete a user', kind: 'user.delete', details: { sessions_revoked: 0 },
      run: async (c, a) => { const { user } = await createUser(c, a, { email: 'x@example.org' }); return deleteUser(c, a, user.id); },
    },
    { name: 'create a group', kind: 'group.create', details: { group: 'ops' }, run: (c, a) => createGroup(c, a, { name: 'ops' }) },
    {
      name: 'rename a group', kind: 'group.update', details: { group: 'sre', previous_name: 'ops' },
      run: async (c, a) => renameGroup(c, a, (await createGroup(c, a, { name: 'ops' })).id, 'sre'),
    },
    {
      name: 'delete a group', kind: 'group.delete', details: { group: 'ops', members_updated: 0 },
      run: async (c, a) => deleteGroup(c, a, (await createGroup(c, a, { name: 'ops' })).id),
    },
    {
      name: 'add a membership', kind: 'group.member_add', details: { group: 'ops' },
      run: async (c, a) => {
        await createUser(c, a, { email: 'x@example.org' });
        await createGroup(c, a, { name: 'ops' });
        return setMembership(c, a, (await findGroup(c.store, 'ops'))!, (await findUserByIdOrEmail(c.store, 'x@example.org'))!, true);
      },
    },
    { name: 'revoke a user\'s sessions', kind: 'session.revoke', details: { scope: 'user', sessions_revoked: 0 }, run: (c, a) => revokeUserSessions(c, a, { email: 'x@example.org' }) },
    {
      name: 'create a service account', kind: 'service_account.create', details: { namespace: 'global', roles: [] },
      run: (c, a) => createServiceAccount(c, a, { user: 'robot-2' }, { sharedSecret: secret, namespaces: [] }),
    },
    {
      name: 'revoke a service account', kind: 'service_account.revoke', details: { namespace: 'global' },
      run: async (c, a) => revokeServiceAccount(c, a, (await createServiceAccount(c, a, { user: 'robot-2' }, { sharedSecret: secret, namespaces: [] })).account.id),
    },
    { name: 'load records', kind: 'data.load', details: { type: 'devices', loaded: 1, removed: 0, replace: false }, run: (c, a) => loadRecords(c, a, 'devices', [{ id: 'd1' }], false) },
    {
      name: 'delete a record', kind: 'data.delete', details: { type: 'devices', id: 'd1', removed: 1 },
      run: async (c, a) => { await loadRecords(c, a, 'devices', [{ id: 'd1' }], false); return deleteRecord(c, a, 'devices', 'd1'); },
    },
    { name: 'create a SCIM token', kind: 'scim_token.create', details: { description: 'okta' }, run: (c, a) => createScimToken(c, a, 'okta') },
    {
      name: 'revoke a SCIM token', kind: 'scim_token.revoke', details: {},
      run: async (c, a) => revokeScimToken(c, a, (await createScimToken(c, a, 'okta')).record.id),
    },
    { name: 'revoke a route token', kind: 'route_token.revoke', details: { token_id: 'j1', expires_at: null }, run: (c, a) => revokeRouteToken(c, a, 'j1', undefined) },
  ];
  for (const actor of [ADMIN, ROBOT, CLI]) {
    for (const c of cases) {
      test(`${c.name}, by ${actorName(actor)}: its event is last, with the actor, via and request id`, async () => {
        const { ctx, events } = context(actor.kind === 'cli' ? 'cli' : 'api');
        await c.run(ctx, actor);
        const e = events.at(-1)!;
        assert.equal(e.kind, c.kind);
        assert.equal(e.actor, actorName(actor));
        assert.equal(e.requestId, 'req-1');
        assert.equal(e.details.via, ctx.via);
        for (const [k, v] of Object.entries(c.details)) assert.deepEqual(e.details[k], v, `${c.kind}: ${k}`);
      });
    }
  }

  test('a change that changes nothing records nothing', async () => {
    for (const run of [
      (c: OperationContext) => revokeSession(c, ADMIN, 'no-such-session'),
      (c: OperationContext) => deleteRecord(c, ADMIN, 'devices', 'none'),
      (c: OperationContext) => revokeScimToken(c, ADMIN, 'none'),
    ]) {
      const { ctx, events } = context();
      await run(ctx);
      assert.deepEqual(events, []);
    }
    const { ctx, events } = context();
    const { account } = await createServiceAccount(ctx, ADMIN, { user: 'robot-3' }, { sharedSecret: new Uint8Array(32), namespaces: [] });
    await revokeServiceAccount(ctx, ADMIN, account.id);
    await revokeServiceAccount(ctx, ADMIN, account.id);
    assert.deepEqual(events.map((e) => e.kind), ['service_account.create', 'service_account.revoke'], 'revoking twice is one event');
  });

  test('a data load names who loaded: the administrator or service account, not the CLI', async () => {
    for (const [actor, userId] of [[ADMIN, 'u-ada'], [ROBOT, 'robot'], [CLI, undefined]] as const) {
      const { ctx, events } = context();
      await loadRecords(ctx, actor, 'devices', [{ id: 'd1' }], true);
      assert.equal(events[0]!.userId, userId);
    }
  });
});
