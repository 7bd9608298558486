/**
 * The console's one door to the domain: every read it shows and every
 * audited change it makes. Each change takes the administrator who asked
 * and records one audit event naming them (the store row and the JSON log
 * line, CONTRACT §6). Today this calls `accounts/`, `audit/` and `authn/`
 * directly; when `src/operations/` holds one audited function per change,
 * only this file changes.
 */
import type { AuditKind, AuditSink } from '../../audit/index.js';
import { readAuditTrail, type AuditTrailQuery } from '../../audit/index.js';
import type { Impersonation, SessionData, SessionStore } from '../../authn/index.js';
import type { NamespaceConfig } from '../../config/index.js';
import type { IdentityInfo } from '../../authz/index.js';
import {
  createDirectoryUser, createGroup, deleteDirectoryUser, findGroup, findUserByIdOrEmail, groupLookup, listDirectoryUsers,
  listGroups, listServiceAccounts, listSessions, revokeServiceAccount, revokeSession, revokeUserSessions, setMembership,
  createServiceAccount as createAccount, getServiceAccount, userRef, directoryEnricher,
  type DirectoryGroup, type DirectoryUser, type ServiceAccountView, type SessionSummary, type UserRef,
} from '../../accounts/index.js';
import type { Store, StoredAuditEvent } from '../../store/index.js';

export type { DirectoryGroup, DirectoryUser, ServiceAccountView, SessionSummary, StoredAuditEvent, UserRef };
export { DirectoryError, ServiceAccountError } from '../../accounts/index.js';

/** What the console reads and writes through. */
export interface ConsoleServices {
  readonly store: Store;
  readonly sessions: SessionStore;
  readonly audit: AuditSink & { flush(): Promise<void> };
  readonly now: () => number;
}

/** Who made a change, for the audit trail: the administrator's email (or id), and the request. */
export interface Actor {
  readonly name: string;
  readonly requestId: string;
  readonly ip: string;
}

function record(svc: ConsoleServices, actor: Actor, kind: AuditKind, who: { id?: string | undefined; email?: string | undefined }, details: Record<string, unknown>): void {
  svc.audit.emit({ kind, requestId: actor.requestId, userId: who.id, email: who.email, actor: actor.name, details: { via: 'console', ip: actor.ip, ...details } });
}

// ---------------------------------------------------------------- service accounts

export function serviceAccounts(svc: ConsoleServices, filter: { namespace?: string } = {}): Promise<ServiceAccountView[]> {
  return listServiceAccounts(svc.store, svc.now(), filter);
}

export function serviceAccount(svc: ConsoleServices, id: string): Promise<ServiceAccountView | undefined> {
  return getServiceAccount(svc.store, id, svc.now());
}

export interface NewServiceAccount {
  readonly user?: string | undefined;
  readonly asUser?: string | undefined;
  readonly namespace?: string | undefined;
  readonly description?: string | undefined;
  readonly expiresIn?: string | undefined;
}

/** Creates a service account; the token is returned once and never recorded. */
export async function createServiceAccount(
  svc: ConsoleServices, actor: Actor, input: NewServiceAccount, site: { sharedSecret: Uint8Array; namespaces: readonly NamespaceConfig[] },
): Promise<{ account: ServiceAccountView; token: string }> {
  const r = await createAccount({ ...input, createdBy: actor.name }, { store: svc.store, sharedSecret: site.sharedSecret, namespaces: site.namespaces, now: svc.now() });
  record(svc, actor, 'service_account.create', { id: r.account.user_id }, {
    service_account_id: r.account.id, namespace: r.account.namespace, expires_at: r.account.expires_at ?? null, acts_as_user: r.account.acts_as_user === true,
  });
  return r;
}

/** Revokes a service account; its token is refused from the next request on. */
export async function revokeAccount(svc: ConsoleServices, actor: Actor, id: string): Promise<{ account: ServiceAccountView; changed: boolean }> {
  const r = await revokeServiceAccount(svc.store, id, svc.now(), actor.name);
  if (r.changed) record(svc, actor, 'service_account.revoke', { id: r.account.user_id }, { service_account_id: r.account.id, namespace: r.account.namespace });
  return r;
}

// ---------------------------------------------------------------- users and groups

export function users(svc: ConsoleServices): Promise<DirectoryUser[]> {
  return listDirectoryUsers(svc.store);
}

export function user(svc: ConsoleServices, ref: string): Promise<DirectoryUser | undefined> {
  return findUserByIdOrEmail(svc.store, ref);
}

export function groups(svc: ConsoleServices): Promise<DirectoryGroup[]> {
  return listGroups(svc.store);
}

export function groupNames(svc: ConsoleServices): Promise<Map<string, DirectoryGroup>> {
  return groupLookup(svc.store);
}

/** Adds a user who is not in the identity provider (a contractor). */
export async function addUser(svc: ConsoleServices, actor: Actor, u: { email: string; name?: string | undefined; groups?: readonly string[] | undefined }): Promise<DirectoryUser> {
  const { user: created, createdGroups, adopted } = await createDirectoryUser(svc.store, { email: u.email, name: u.name, groups: u.groups, source: 'manual' }, svc.now());
  record(svc, actor, 'user.create', created, {
    groups: created.groups, ...(createdGroups.length > 0 ? { groups_created: createdGroups.map((g) => g.name) } : {}), ...(adopted ? { adopted_from: 'idp' } : {}),
  });
  return created;
}

/** Removes a user from the directory and ends their sessions. */
export async function removeUser(svc: ConsoleServices, actor: Actor, id: string): Promise<{ user: DirectoryUser; sessionsRevoked: number }> {
  const r = await deleteDirectoryUser(svc.store, id, svc.now());
  record(svc, actor, 'user.delete', r.user, { sessions_revoked: r.sessionsRevoked });
  return r;
}

/** Adds a user to a group by name or id, creating the group when the directory has none of that name. */
export async function addMembership(svc: ConsoleServices, actor: Actor, userId: string, groupRef: string): Promise<{ group: DirectoryGroup; changed: boolean }> {
  let group = await findGroup(svc.store, groupRef);
  if (!group) {
    group = await createGroup(svc.store, { name: groupRef, source: 'manual' }, svc.now());
    record(svc, actor, 'group.create', {}, { group_id: group.id, group: group.name });
  }
  const changed = await setMembership(svc.store, group.id, userId, true, svc.now());
  const u = await findUserByIdOrEmail(svc.store, userId);
  if (changed) record(svc, actor, 'group.member_add', { id: userId, email: u?.email }, { group_id: group.id, group: group.name });
  return { group, changed };
}

/** Removes a user from a group. */
export async function removeMembership(svc: ConsoleServices, actor: Actor, userId: string, groupRef: string): Promise<{ group: DirectoryGroup | undefined; changed: boolean }> {
  const group = await findGroup(svc.store, groupRef);
  if (!group) return { group: undefined, changed: false };
  const changed = await setMembership(svc.store, group.id, userId, false, svc.now());
  const u = await findUserByIdOrEmail(svc.store, userId);
  if (changed) record(svc, actor, 'group.member_remove', { id: userId, email: u?.email }, { group_id: group.id, group: group.name });
  return { group, changed };
}

// ---------------------------------------------------------------- sessions

export async function sessions(svc: ConsoleServices, who?: string): Promise<SessionSummary[]> {
  return listSessions(svc.store, svc.now(), who ? await userRef(svc.store, who) : undefined);
}

export function sessionsOf(svc: ConsoleServices, ref: UserRef): Promise<SessionSummary[]> {
  return listSessions(svc.store, svc.now(), ref);
}

/** Ends one session: its next request is refused. */
export async function revokeOneSession(svc: ConsoleServices, actor: Actor, id: string): Promise<SessionSummary | undefined> {
  const s = await revokeSession(svc.store, id, svc.now());
  if (s) record(svc, actor, 'session.revoke', { id: s.userId, email: s.email }, { session_id: s.id, sessions_revoked: 1, scope: 'session' });
  return s;
}

/** Ends every session of a user (id or email); returns how many. */
export async function revokeSessionsOf(svc: ConsoleServices, actor: Actor, who: string): Promise<{ ref: UserRef; revoked: number }> {
  const ref = await userRef(svc.store, who);
  const revoked = await revokeUserSessions(svc.store, ref, svc.now());
  record(svc, actor, 'session.revoke', ref, { sessions_revoked: revoked, scope: 'user' });
  return { ref, revoked };
}

/** Starts impersonating `target` on the administrator's own session (CONTRACT §6), as the user page does. */
export async function startImpersonation(svc: ConsoleServices, actor: Actor, session: SessionData, target: DirectoryUser): Promise<boolean> {
  const impersonation: Impersonation = { user: target.id, email: target.email, name: target.name, groups: target.groups, startedAt: svc.now() };
  if (await svc.sessions.save({ ...session, impersonation }) === null) return false;
  record(svc, actor, 'impersonate_start', { id: target.id, email: target.email }, { session_id: session.id, groups: target.groups, groups_given: false });
  return true;
}

/** Ends an impersonation on the administrator's own session. */
export async function stopImpersonation(svc: ConsoleServices, actor: Actor, session: SessionData): Promise<boolean> {
  if (!session.impersonation) return false;
  if (await svc.sessions.save({ ...session, impersonation: undefined }) === null) return false;
  record(svc, actor, 'impersonate_stop', { id: session.impersonation.user, email: session.impersonation.email }, { session_id: session.id, reason: 'stopped' });
  return true;
}

// ---------------------------------------------------------------- audit

/** The trail matching `q`, oldest first, the newest `limit` of it. Queued events are written first. */
export async function auditTrail(svc: ConsoleServices, q: AuditTrailQuery, limit: number): Promise<{ events: StoredAuditEvent[]; truncated: boolean }> {
  await svc.audit.flush();
  return readAuditTrail(svc.store, q, limit);
}

/** A user reference (id or email) resolved against the directory, for audit and session filters. */
export function resolveUser(svc: ConsoleServices, ref: string): Promise<UserRef> {
  return userRef(svc.store, ref);
}

/**
 * A directory user's identity as the server's policy sees it after sign-in:
 * id, email and groups, enriched by the directory (groups by id and name);
 * undefined when the directory refuses the user (deactivated).
 */
export async function directoryIdentity(svc: ConsoleServices, u: DirectoryUser): Promise<IdentityInfo | undefined> {
  const base: IdentityInfo = { user: u.id, email: u.email, groups: [...u.groups], claims: { sub: u.id, email: u.email, groups: [...u.groups], name: u.name }, sessionId: 'console-explain' };
  try {
    return await directoryEnricher(svc.store, svc.now)(base);
  } catch {
    return undefined;
  }
}
