/**
 * The admin API for the users-and-groups directory: users (list, add by
 * hand, show with sessions, change, remove), groups (list, add, show,
 * rename, remove) and memberships. Changes go through src/operations.
 */
import {
  DirectoryError, findGroup, findUserByIdOrEmail, groupLookup, groupMembers, groupView, listDirectoryUsers, listGroups, userView,
  type DirectoryGroup, type DirectoryUser, type UserChanges,
} from '../../accounts/index.js';
import { listSessions, sessionView } from '../../authn/index.js';
import { sendJson } from '../../http/index.js';
import { createGroup, createUser, deleteGroup, deleteUser, renameGroup, setMembership, updateUser } from '../../operations/index.js';
import type { Store } from '../../store/index.js';
import type { Services } from '../context.js';
import { actorOf } from '../admins.js';
import { API, endpoint, jsonObject, operationContext, optBool, optString, optStrings, type AdminEndpoint } from './endpoint.js';

async function userOr404(store: Store, ref: string): Promise<DirectoryUser> {
  const u = await findUserByIdOrEmail(store, ref);
  if (!u) throw new DirectoryError('ERR_USER_NOT_FOUND', 'no such user', 'id');
  return u;
}

async function groupOr404(store: Store, ref: string): Promise<DirectoryGroup> {
  const g = await findGroup(store, ref);
  if (!g) throw new DirectoryError('ERR_GROUP_NOT_FOUND', 'no such group', 'id');
  return g;
}

/** The user endpoints. */
export function userEndpoints(svc: Services): AdminEndpoint[] {
  const store = svc.store;
  return [
    endpoint('GET', `${API}/users`, async (ctx) => {
      const email = ctx.query.get('email')?.toLowerCase();
      const groupRef = ctx.query.get('group');
      const group = groupRef ? await groupOr404(store, groupRef) : undefined;
      const users = group ? await groupMembers(store, group) : await listDirectoryUsers(store);
      const groups = await groupLookup(store);
      sendJson(ctx.res, 200, { users: users.filter((u) => email === undefined || u.email.toLowerCase() === email).map((u) => userView(u, groups)) });
    }),
    endpoint('POST', `${API}/users`, async (ctx, admin) => {
      const b = await jsonObject(ctx, ['id', 'email', 'name', 'groups']);
      const { user } = await createUser(operationContext(ctx, svc), actorOf(admin), {
        id: optString(b, 'id'), email: optString(b, 'email') ?? '', name: optString(b, 'name'), groups: optStrings(b, 'groups'),
      });
      sendJson(ctx.res, 201, { user: userView(user, await groupLookup(store)) });
    }),
    endpoint('GET', `${API}/users/:id`, async (ctx, _admin, p) => {
      const u = await userOr404(store, p.id!);
      const sessions = await listSessions(store, svc.now(), { id: u.id, email: u.email });
      sendJson(ctx.res, 200, { user: userView(u, await groupLookup(store)), sessions: sessions.map(sessionView) });
    }),
    endpoint('PATCH', `${API}/users/:id`, async (ctx, admin, p) => {
      const u = await userOr404(store, p.id!);
      const b = await jsonObject(ctx, ['email', 'name', 'groups', 'active']);
      const changes: UserChanges = { email: optString(b, 'email'), name: optString(b, 'name'), groups: optStrings(b, 'groups'), active: optBool(b, 'active') };
      const { user } = await updateUser(operationContext(ctx, svc), actorOf(admin), u.id, changes, Object.keys(b));
      sendJson(ctx.res, 200, { user: userView(user, await groupLookup(store)) });
    }),
    endpoint('DELETE', `${API}/users/:id`, async (ctx, admin, p) => {
      const u = await userOr404(store, p.id!);
      const { sessionsRevoked } = await deleteUser(operationContext(ctx, svc), actorOf(admin), u.id);
      sendJson(ctx.res, 200, { deleted: u.id, sessions_revoked: sessionsRevoked });
    }),
  ];
}

/** The group and membership endpoints. */
export function groupEndpoints(svc: Services): AdminEndpoint[] {
  const store = svc.store;
  const membership = (member: boolean): AdminEndpoint['handle'] => async (ctx, admin, p) => {
    const g = await groupOr404(store, p.id!);
    const u = await userOr404(store, p.user!);
    const changed = await setMembership(operationContext(ctx, svc), actorOf(admin), g, u, member);
    sendJson(ctx.res, 200, { group_id: g.id, user_id: u.id, member, changed });
  };
  return [
    endpoint('GET', `${API}/groups`, async (ctx) => {
      const users = await listDirectoryUsers(store);
      const groups = await listGroups(store);
      sendJson(ctx.res, 200, {
        groups: groups.map((g) => ({ ...groupView(g), member_count: users.filter((u) => u.groups.includes(g.id) || u.groups.includes(g.name)).length })),
      });
    }),
    endpoint('POST', `${API}/groups`, async (ctx, admin) => {
      const b = await jsonObject(ctx, ['id', 'name']);
      const g = await createGroup(operationContext(ctx, svc), actorOf(admin), { id: optString(b, 'id'), name: optString(b, 'name') ?? '' });
      sendJson(ctx.res, 201, { group: groupView(g, []) });
    }),
    endpoint('GET', `${API}/groups/:id`, async (ctx, _admin, p) => {
      const g = await groupOr404(store, p.id!);
      sendJson(ctx.res, 200, { group: groupView(g, await groupMembers(store, g)) });
    }),
    endpoint('PATCH', `${API}/groups/:id`, async (ctx, admin, p) => {
      const g0 = await groupOr404(store, p.id!);
      const b = await jsonObject(ctx, ['name']);
      const group = await renameGroup(operationContext(ctx, svc), actorOf(admin), g0.id, optString(b, 'name'));
      sendJson(ctx.res, 200, { group: groupView(group) });
    }),
    endpoint('DELETE', `${API}/groups/:id`, async (ctx, admin, p) => {
      const g0 = await groupOr404(store, p.id!);
      const { group, membersUpdated } = await deleteGroup(operationContext(ctx, svc), actorOf(admin), g0.id);
      sendJson(ctx.res, 200, { deleted: group.id, members_updated: membersUpdated });
    }),
    endpoint('PUT', `${API}/groups/:id/members/:user`, membership(true)),
    endpoint('DELETE', `${API}/groups/:id/members/:user`, membership(false)),
  ];
}
