/**
 * The directory as plugged into the server (issue 6): identity enrichment
 * before policy (groups by id and name, deactivated users refused) and the
 * admin API under `/.pomerium/api/v1/` for users, groups, sessions and the
 * audit trail. SCIM is served by `handleScim` (see scim.ts). Every change is
 * an audit event naming the administrator.
 */
import type { Caller } from '../authn/index.js';
import { fail, readJson, type AdminEndpoint, type RequestContext, type Services, type StartOptions } from '../server/index.js';
import { sendJson } from '../http/index.js';
import { auditEventJson, parseTimeBound, readAuditTrail, type AuditKind } from '../audit/index.js';
import {
  DirectoryError, createDirectoryUser, createGroup, deleteDirectoryUser, deleteGroup, directoryEnricher, findGroup,
  findUserByIdOrEmail, groupLookup, groupMembers, groupView, listDirectoryUsers, listGroups, listSessions, revokeSession,
  revokeUserSessions, sessionView, setMembership, updateDirectoryUser, updateGroup, userRef, userView,
  type DirectoryGroup, type DirectoryUser, type UserChanges,
} from './directory.js';

const API = '/.pomerium/api/v1';

/** Who made an admin change, for the audit log. */
function actorOf(c: Caller): string {
  if (c.kind === 'service_account') return `service_account:${c.policy.serviceAccountId ?? c.policy.sessionId}`;
  return c.policy.email || c.policy.user;
}

/** A malformed request body or query. */
class BodyError extends Error {}

function reasonOf(e: DirectoryError): string {
  switch (e.code) {
    case 'ERR_USER_EXISTS': return 'user-exists';
    case 'ERR_USER_NOT_FOUND': return 'user-not-found';
    case 'ERR_GROUP_EXISTS': return 'group-exists';
    case 'ERR_GROUP_NOT_FOUND': return 'group-not-found';
    default: return 'body-invalid';
  }
}

/** Runs a handler, mapping directory and body errors to Limen error responses. */
function endpoint(method: AdminEndpoint['method'], path: string, handle: (ctx: RequestContext, admin: Caller, params: Readonly<Record<string, string>>) => Promise<void>): AdminEndpoint {
  return {
    method, path,
    async handle(ctx, admin, params) {
      try {
        await handle(ctx, admin, params);
      } catch (e) {
        if (e instanceof DirectoryError) { fail(ctx, e.status, e.message, { reasons: [reasonOf(e)] }); return; }
        if (e instanceof BodyError) { fail(ctx, 400, e.message, { reasons: ['body-invalid'] }); return; }
        throw e;
      }
    },
  };
}

async function body(ctx: RequestContext, known: readonly string[]): Promise<Record<string, unknown>> {
  const b = await readJson(ctx);
  if (b === null || typeof b !== 'object' || Array.isArray(b)) throw new BodyError('expected a JSON object (content-type: application/json)');
  const extra = Object.keys(b).filter((k) => !known.includes(k));
  if (extra.length > 0) throw new BodyError(`unknown field "${extra[0]!.slice(0, 40)}"; known: ${known.join(', ')}`);
  return b as Record<string, unknown>;
}

function optString(b: Record<string, unknown>, k: string): string | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new BodyError(`"${k}" must be a string`);
  return v;
}

function optStrings(b: Record<string, unknown>, k: string): string[] | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new BodyError(`"${k}" must be a list of strings`);
  return v as string[];
}

function optBool(b: Record<string, unknown>, k: string): boolean | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new BodyError(`"${k}" must be true or false`);
  return v;
}

async function userOr404(ctx: RequestContext, ref: string): Promise<DirectoryUser> {
  const u = await findUserByIdOrEmail(ctx.svc.store, ref);
  if (!u) throw new DirectoryError('ERR_USER_NOT_FOUND', 'no such user', 'id');
  return u;
}

async function groupOr404(ctx: RequestContext, ref: string): Promise<DirectoryGroup> {
  const g = await findGroup(ctx.svc.store, ref);
  if (!g) throw new DirectoryError('ERR_GROUP_NOT_FOUND', 'no such group', 'id');
  return g;
}

function audit(ctx: RequestContext, admin: Caller, kind: AuditKind, who: { id?: string | undefined; email?: string | undefined }, details: Record<string, unknown>): void {
  ctx.svc.audit.emit({ kind, requestId: ctx.requestId, userId: who.id, email: who.email, actor: actorOf(admin), details: { via: 'api', ...details } });
}

function groupsCreated(created: readonly DirectoryGroup[]): Record<string, unknown> {
  return created.length > 0 ? { groups_created: created.map((g) => g.name) } : {};
}

/** The admin API endpoints for users, groups, sessions and the audit trail. */
export function directoryAdminEndpoints(svc: Services): AdminEndpoint[] {
  const store = svc.store;
  return [
    endpoint('GET', `${API}/users`, async (ctx) => {
      const email = ctx.query.get('email')?.toLowerCase();
      const groupRef = ctx.query.get('group');
      const group = groupRef ? await groupOr404(ctx, groupRef) : undefined;
      const users = group ? await groupMembers(store, group) : await listDirectoryUsers(store);
      const groups = await groupLookup(store);
      sendJson(ctx.res, 200, { users: users.filter((u) => email === undefined || u.email.toLowerCase() === email).map((u) => userView(u, groups)) });
    }),
    endpoint('POST', `${API}/users`, async (ctx, admin) => {
      const b = await body(ctx, ['id', 'email', 'name', 'groups']);
      const { user, createdGroups, adopted } = await createDirectoryUser(store, {
        id: optString(b, 'id'), email: optString(b, 'email') ?? '', name: optString(b, 'name'), groups: optStrings(b, 'groups'), source: 'manual',
      }, svc.now());
      audit(ctx, admin, 'user.create', user, { groups: user.groups, ...groupsCreated(createdGroups), ...(adopted ? { adopted_from: 'idp' } : {}) });
      sendJson(ctx.res, 201, { user: userView(user, await groupLookup(store)) });
    }),
    endpoint('GET', `${API}/users/:id`, async (ctx, _admin, p) => {
      const u = await userOr404(ctx, p.id!);
      const sessions = await listSessions(store, svc.now(), { id: u.id, email: u.email });
      sendJson(ctx.res, 200, { user: userView(u, await groupLookup(store)), sessions: sessions.map(sessionView) });
    }),
    endpoint('PATCH', `${API}/users/:id`, async (ctx, admin, p) => {
      const u = await userOr404(ctx, p.id!);
      const b = await body(ctx, ['email', 'name', 'groups', 'active']);
      const changes: UserChanges = { email: optString(b, 'email'), name: optString(b, 'name'), groups: optStrings(b, 'groups'), active: optBool(b, 'active') };
      const { user, before, createdGroups } = await updateDirectoryUser(store, u.id, changes, svc.now());
      const kind = before.active !== false && user.active === false ? 'user.deactivate' : before.active === false && user.active !== false ? 'user.activate' : 'user.update';
      audit(ctx, admin, kind, user, { changed: Object.keys(b), ...groupsCreated(createdGroups) });
      sendJson(ctx.res, 200, { user: userView(user, await groupLookup(store)) });
    }),
    endpoint('DELETE', `${API}/users/:id`, async (ctx, admin, p) => {
      const u = await userOr404(ctx, p.id!);
      const { sessionsRevoked } = await deleteDirectoryUser(store, u.id, svc.now());
      audit(ctx, admin, 'user.delete', u, { sessions_revoked: sessionsRevoked });
      sendJson(ctx.res, 200, { deleted: u.id, sessions_revoked: sessionsRevoked });
    }),

    endpoint('GET', `${API}/groups`, async (ctx) => {
      const users = await listDirectoryUsers(store);
      const groups = await listGroups(store);
      sendJson(ctx.res, 200, {
        groups: groups.map((g) => ({ ...groupView(g), member_count: users.filter((u) => u.groups.includes(g.id) || u.groups.includes(g.name)).length })),
      });
    }),
    endpoint('POST', `${API}/groups`, async (ctx, admin) => {
      const b = await body(ctx, ['id', 'name']);
      const g = await createGroup(store, { id: optString(b, 'id'), name: optString(b, 'name') ?? '', source: 'manual' }, svc.now());
      audit(ctx, admin, 'group.create', {}, { group_id: g.id, group: g.name });
      sendJson(ctx.res, 201, { group: groupView(g, []) });
    }),
    endpoint('GET', `${API}/groups/:id`, async (ctx, _admin, p) => {
      const g = await groupOr404(ctx, p.id!);
      sendJson(ctx.res, 200, { group: groupView(g, await groupMembers(store, g)) });
    }),
    endpoint('PATCH', `${API}/groups/:id`, async (ctx, admin, p) => {
      const g0 = await groupOr404(ctx, p.id!);
      const b = await body(ctx, ['name']);
      const { group, before } = await updateGroup(store, g0.id, { name: optString(b, 'name') }, svc.now());
      audit(ctx, admin, 'group.update', {}, { group_id: group.id, group: group.name, previous_name: before.name });
      sendJson(ctx.res, 200, { group: groupView(group) });
    }),
    endpoint('DELETE', `${API}/groups/:id`, async (ctx, admin, p) => {
      const g0 = await groupOr404(ctx, p.id!);
      const { group, membersUpdated } = await deleteGroup(store, g0.id, svc.now());
      audit(ctx, admin, 'group.delete', {}, { group_id: group.id, group: group.name, members_updated: membersUpdated });
      sendJson(ctx.res, 200, { deleted: group.id, members_updated: membersUpdated });
    }),
    endpoint('PUT', `${API}/groups/:id/members/:user`, async (ctx, admin, p) => {
      const g = await groupOr404(ctx, p.id!);
      const u = await userOr404(ctx, p.user!);
      const changed = await setMembership(store, g.id, u.id, true, svc.now());
      if (changed) audit(ctx, admin, 'group.member_add', u, { group_id: g.id, group: g.name });
      sendJson(ctx.res, 200, { group_id: g.id, user_id: u.id, member: true, changed });
    }),
    endpoint('DELETE', `${API}/groups/:id/members/:user`, async (ctx, admin, p) => {
      const g = await groupOr404(ctx, p.id!);
      const u = await userOr404(ctx, p.user!);
      const changed = await setMembership(store, g.id, u.id, false, svc.now());
      if (changed) audit(ctx, admin, 'group.member_remove', u, { group_id: g.id, group: g.name });
      sendJson(ctx.res, 200, { group_id: g.id, user_id: u.id, member: false, changed });
    }),

    endpoint('GET', `${API}/sessions`, async (ctx) => {
      const who = ctx.query.get('user');
      const sessions = await listSessions(store, svc.now(), who ? await userRef(store, who) : undefined);
      sendJson(ctx.res, 200, { sessions: sessions.map(sessionView) });
    }),
    endpoint('DELETE', `${API}/sessions`, async (ctx, admin) => {
      const who = ctx.query.get('user');
      if (!who) throw new BodyError('give ?user=EMAIL_OR_ID to revoke every session of a user, or DELETE /sessions/ID');
      const ref = await userRef(store, who);
      const n = await revokeUserSessions(store, ref, svc.now());
      audit(ctx, admin, 'session.revoke', ref, { sessions_revoked: n, scope: 'user' });
      sendJson(ctx.res, 200, { revoked: n });
    }),
    endpoint('DELETE', `${API}/sessions/:id`, async (ctx, admin, p) => {
      const s = await revokeSession(store, p.id!, svc.now());
      if (!s) { fail(ctx, 404, 'No such session.', { reasons: ['session-not-found'] }); return; }
      audit(ctx, admin, 'session.revoke', { id: s.userId, email: s.email }, { session_id: s.id, sessions_revoked: 1, scope: 'session' });
      sendJson(ctx.res, 200, { revoked: 1, session_id: s.id });
    }),

    endpoint('GET', `${API}/audit`, async (ctx) => {
      const q = ctx.query;
      const now = svc.now();
      const bound = (name: string): number | undefined => {
        const v = q.get(name);
        if (v === null) return undefined;
        const t = parseTimeBound(v, now);
        if (t === undefined) throw new BodyError(`${name}: expected a duration back from now (1h, 7d), an ISO-8601 time or ms since epoch`);
        return t;
      };
      const limitText = q.get('limit') ?? '1000';
      const limit = /^\d{1,6}$/.test(limitText) ? Number(limitText) : Number.NaN;
      if (!(limit >= 1 && limit <= 100_000)) throw new BodyError('limit: expected 1 to 100000');
      const user = q.get('user');
      const ref = user ? await userRef(store, user) : undefined;
      // Events of this very moment may still be queued in the batch.
      await svc.audit.flush();
      const trail = await readAuditTrail(store, {
        userIds: ref?.id !== undefined ? [ref.id] : undefined,
        email: ref?.email,
        route: q.get('route') ?? undefined,
        decision: q.get('decision') ?? undefined,
        kind: q.get('kind') ?? undefined,
        since: bound('since'),
        until: bound('until'),
      }, limit);
      sendJson(ctx.res, 200, { events: trail.events.map(auditEventJson), truncated: trail.truncated });
    }),
  ];
}

/** The users-and-groups directory, SCIM and session/audit admin API, as plugged into the server (issue 6). */
export const directoryExtension: Pick<StartOptions, 'enrich' | 'adminEndpoints'> = {
  enrich: (svc) => directoryEnricher(svc.store),
  adminEndpoints: (svc) => directoryAdminEndpoints(svc),
};
