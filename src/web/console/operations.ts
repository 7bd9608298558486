/**
 * The console's one door to the domain: every read it shows and every
 * change it makes. Changes go through `src/operations/` (one audited
 * function per change, shared with the admin API and the CLI), with the
 * administrator as the actor and `via: console`, so each writes the store
 * row and the JSON log line (CONTRACT §6). Impersonation, which no other
 * surface starts from here, is recorded the same way.
 */
import type { AuditSink } from '../../audit/index.js';
import { readAuditTrail, type AuditTrailQuery } from '../../audit/index.js';
import { listSessions, type Impersonation, type SessionData, type SessionStore, type SessionSummary, type UserRef } from '../../authn/index.js';
import type { NamespaceConfig } from '../../config/index.js';
import type { IdentityInfo } from '../../authz/index.js';
import {
  directoryEnricher, findGroup, findUserByIdOrEmail, getServiceAccount, groupLookup, listDirectoryUsers, listGroups, listServiceAccounts, userRef,
  type DirectoryGroup, type DirectoryUser, type ServiceAccountView,
} from '../../accounts/index.js';
import * as ops from '../../operations/index.js';
import type { OperationContext } from '../../operations/index.js';
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

/** Who made a change: the administrator (as `src/operations` names actors), and the request it came with. */
export interface Actor {
  /** As the audit trail names them: email, else user id. */
  readonly name: string;
  readonly admin: ops.Actor;
  readonly requestId: string;
  readonly ip: string;
}

function opsContext(svc: ConsoleServices, actor: Actor): OperationContext {
  return { store: svc.store, audit: svc.audit, now: svc.now, via: 'console', requestId: actor.requestId };
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
  readonly roles?: readonly string[] | undefined;
}

/** Creates a service account; the token is returned once and never recorded. */
export function createServiceAccount(
  svc: ConsoleServices, actor: Actor, input: NewServiceAccount, site: { sharedSecret: Uint8Array; namespaces: readonly NamespaceConfig[] },
): Promise<{ account: ServiceAccountView; token: string }> {
  return ops.createServiceAccount(opsContext(svc, actor), actor.admin, input, site);
}

/** Revokes a service account; its token is refused from the next request on. */
export function revokeAccount(svc: ConsoleServices, actor: Actor, id: string): Promise<{ account: ServiceAccountView; changed: boolean }> {
  return ops.revokeServiceAccount(opsContext(svc, actor), actor.admin, id);
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
  return (await ops.createUser(opsContext(svc, actor), actor.admin, u)).user;
}

/** Removes a user from the directory and ends their sessions. */
export function removeUser(svc: ConsoleServices, actor: Actor, id: string): Promise<{ user: DirectoryUser; sessionsRevoked: number }> {
  return ops.deleteUser(opsContext(svc, actor), actor.admin, id);
}

/** Adds a user to a group by name or id, creating the group when the directory has none of that name. */
export async function addMembership(svc: ConsoleServices, actor: Actor, u: DirectoryUser, groupRef: string): Promise<{ group: DirectoryGroup; changed: boolean }> {
  const ctx = opsContext(svc, actor);
  const group = await findGroup(svc.store, groupRef) ?? await ops.createGroup(ctx, actor.admin, { name: groupRef });
  return { group, changed: await ops.setMembership(ctx, actor.admin, group, u, true) };
}

/** Removes a user from a group (by id or name). */
export async function removeMembership(svc: ConsoleServices, actor: Actor, u: DirectoryUser, groupRef: string): Promise<{ group: DirectoryGroup | undefined; changed: boolean }> {
  const group = await findGroup(svc.store, groupRef);
  if (!group) return { group: undefined, changed: false };
  return { group, changed: await ops.setMembership(opsContext(svc, actor), actor.admin, group, u, false) };
}

// ---------------------------------------------------------------- sessions

export async function sessions(svc: ConsoleServices, who?: string): Promise<SessionSummary[]> {
  return listSessions(svc.store, svc.now(), who ? await userRef(svc.store, who) : undefined);
}

export function sessionsOf(svc: ConsoleServices, ref: UserRef): Promise<SessionSummary[]> {
  return listSessions(svc.store, svc.now(), ref);
}

/** Ends one session: its next request is refused. */
export function revokeOneSession(svc: ConsoleServices, actor: Actor, id: string): Promise<SessionSummary | undefined> {
  return ops.revokeSession(opsContext(svc, actor), actor.admin, id);
}

/** Ends every session of a user (id or email); returns how many. */
export async function revokeSessionsOf(svc: ConsoleServices, actor: Actor, who: string): Promise<{ ref: UserRef; revoked: number }> {
  const ref = await userRef(svc.store, who);
  return { ref, revoked: await ops.revokeUserSessions(opsContext(svc, actor), actor.admin, ref) };
}

/** Starts impersonating `target` on the administrator's own session (CONTRACT §6), as the user page does. */
export async function startImpersonation(svc: ConsoleServices, actor: Actor, session: SessionData, target: DirectoryUser): Promise<boolean> {
  const impersonation: Impersonation = { user: target.id, email: target.email, name: target.name, groups: target.groups, startedAt: svc.now() };
  if (await svc.sessions.save({ ...session, impersonation }) === null) return false;
  svc.audit.emit({
    kind: 'impersonate_start', requestId: actor.requestId, userId: target.id, email: target.email, actor: actor.name,
    details: { via: 'console', session_id: session.id, groups: target.groups, groups_given: false, ip: actor.ip },
  });
  return true;
}

/** Ends an impersonation on the administrator's own session. */
export async function stopImpersonation(svc: ConsoleServices, actor: Actor, session: SessionData): Promise<boolean> {
  if (!session.impersonation) return false;
  if (await svc.sessions.save({ ...session, impersonation: undefined }) === null) return false;
  svc.audit.emit({
    kind: 'impersonate_stop', requestId: actor.requestId, userId: session.impersonation.user, email: session.impersonation.email, actor: actor.name,
    details: { via: 'console', session_id: session.id, reason: 'stopped' },
  });
  return true;
}

// ---------------------------------------------------------------- audit

/** How far back the newest events are looked for first: most pages are filled from the last minutes, whatever the trail's size. */
const NEWEST_WINDOWS_MS = [5 * 60_000, 60 * 60_000, 24 * 60 * 60_000, 7 * 24 * 60 * 60_000];

/**
 * The newest `limit` events matching `q`, oldest first; `truncated` when
 * older matching events were left out. The store answers oldest first, so
 * reading a long trail forward to reach its end costs its whole length:
 * this looks in growing windows back from `q.until` (or now) and stops at
 * the first that holds `limit` events. Queued events are written first.
 */
export async function auditTrail(svc: ConsoleServices, q: AuditTrailQuery, limit: number): Promise<{ events: StoredAuditEvent[]; truncated: boolean }> {
  await svc.audit.flush();
  const end = q.until ?? svc.now();
  for (const w of NEWEST_WINDOWS_MS) {
    const since = end - w;
    if (q.since !== undefined && q.since >= since) break;
    const trail = await readAuditTrail(svc.store, { ...q, since }, limit);
    if (trail.events.length >= limit) return { events: trail.events, truncated: true };
  }
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
