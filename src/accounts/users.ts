/**
 * Changes to directory users: added by hand or by SCIM (a claims-only record
 * with the same email is taken over), changed, deleted (with their
 * sessions), and recorded from sign-in claims.
 */
import { randomUUID } from 'node:crypto';
import { revokeUserSessions } from '../authn/index.js';
import type { Store } from '../store/index.js';
import {
  CONTROL, DirectoryError, MAX_GROUPS, MAX_ID, USER_SEEN_TYPE, USER_TYPE, checkEmail, checkId, checkName, findDirectoryUserByEmail,
  findGroup, getDirectoryUser, groupIndex, optionalStrings, putDirectoryUser, putGroup, recordSeen, unique, withLastSeen,
  type DirectoryGroup, type DirectoryUser,
} from './directory.js';

export interface NewUser {
  readonly id?: string | undefined;
  readonly email: string;
  readonly name?: string | undefined;
  /** Group ids or names; unknown names become new groups of the same source. */
  readonly groups?: readonly string[] | undefined;
  readonly source: 'manual' | 'scim';
  readonly active?: boolean | undefined;
  readonly externalId?: string | undefined;
  readonly userName?: string | undefined;
  readonly givenName?: string | undefined;
  readonly familyName?: string | undefined;
}

/**
 * Adds a user by hand or by SCIM. An email already in the directory is a
 * conflict, except a record that only came from sign-in claims: that one is
 * taken over (keeping its id, so existing sessions and service accounts
 * still match it).
 */
export async function createDirectoryUser(store: Store, u: NewUser, now: number): Promise<{ user: DirectoryUser; createdGroups: DirectoryGroup[]; adopted: boolean }> {
  const email = checkEmail(u.email);
  const name = checkName(u.name, 'name', true);
  const existing = await findDirectoryUserByEmail(store, email);
  if (existing && existing.source !== 'idp') throw new DirectoryError('ERR_USER_EXISTS', `a user with email ${email} already exists`, 'email');
  let id = existing?.id ?? (u.id === undefined ? randomUUID() : checkId(u.id));
  if (!existing && await getDirectoryUser(store, id)) {
    if (u.id !== undefined) throw new DirectoryError('ERR_USER_EXISTS', `a user with id ${id} already exists`, 'id');
    id = randomUUID();
  }
  const { ids, created } = await resolveGroups(store, u.groups ?? [], u.source, now);
  // Taking over a claims-only record keeps the IdP's groups alongside.
  const groups = unique([...(existing?.groups ?? []), ...ids]);
  const user: DirectoryUser = {
    id, email, name: name || existing?.name || '', groups, source: u.source,
    lastSeen: existing?.lastSeen, active: u.active ?? true,
    ...optionalStrings({ externalId: u.externalId, userName: u.userName, givenName: u.givenName, familyName: u.familyName }),
    createdAt: existing?.createdAt ?? now,
  };
  await putDirectoryUser(store, user, now);
  return { user, createdGroups: created, adopted: existing !== undefined };
}

export interface UserChanges {
  readonly email?: string | undefined;
  readonly name?: string | undefined;
  /** Replaces the memberships (ids or names; unknown names become groups). */
  readonly groups?: readonly string[] | undefined;
  readonly active?: boolean | undefined;
  /** `null` clears these. */
  readonly externalId?: string | null | undefined;
  readonly userName?: string | null | undefined;
  readonly givenName?: string | null | undefined;
  readonly familyName?: string | null | undefined;
  /** Set the record's source (SCIM takes over what it writes). */
  readonly source?: string | undefined;
}

/** Changes a user; a new email must not belong to another user. */
export async function updateDirectoryUser(store: Store, id: string, c: UserChanges, now: number, source = 'manual'): Promise<{ user: DirectoryUser; before: DirectoryUser; createdGroups: DirectoryGroup[] }> {
  const before = await getDirectoryUser(store, id);
  if (!before) throw new DirectoryError('ERR_USER_NOT_FOUND', `no user with id ${id}`, 'id');
  let email = before.email;
  if (c.email !== undefined) {
    email = checkEmail(c.email);
    if (email.toLowerCase() !== before.email.toLowerCase()) {
      const other = await findDirectoryUserByEmail(store, email);
      if (other && other.id !== id) throw new DirectoryError('ERR_USER_EXISTS', `a user with email ${email} already exists`, 'email');
    }
  }
  let groups = before.groups;
  let createdGroups: DirectoryGroup[] = [];
  if (c.groups !== undefined) {
    const r = await resolveGroups(store, c.groups, source, now);
    groups = r.ids;
    createdGroups = r.created;
  }
  const { externalId: _e, userName: _u, givenName: _g, familyName: _f, ...rest } = before;
  const pick = (k: 'externalId' | 'userName' | 'givenName' | 'familyName') => (c[k] === null ? undefined : c[k] ?? before[k]);
  const user: DirectoryUser = {
    ...rest,
    email,
    name: c.name === undefined ? before.name : checkName(c.name, 'name', true),
    groups,
    active: c.active ?? before.active ?? true,
    source: c.source ?? before.source,
    ...optionalStrings({ externalId: pick('externalId'), userName: pick('userName'), givenName: pick('givenName'), familyName: pick('familyName') }),
  };
  await putDirectoryUser(store, user, now);
  return { user: (await withLastSeen(store, [user]))[0]!, before, createdGroups };
}

/**
 * Removes a user and ends every session they hold, so access stops on the
 * next request (a later sign-in through the IdP records them afresh).
 */
export async function deleteDirectoryUser(store: Store, id: string, now: number): Promise<{ user: DirectoryUser; sessionsRevoked: number }> {
  const user = await getDirectoryUser(store, id);
  if (!user) throw new DirectoryError('ERR_USER_NOT_FOUND', `no user with id ${id}`, 'id');
  await store.delete(USER_TYPE, id);
  await store.delete(USER_SEEN_TYPE, id);
  const sessionsRevoked = await revokeUserSessions(store, { id: user.id, email: user.email }, now);
  return { user, sessionsRevoked };
}

/**
 * Records a signed-in (or refreshed) user from their claims. A record added
 * by hand or by SCIM (found by id, else by email) is never written: only
 * its `lastSeen` record is. A claims record gets the new claims but keeps
 * memberships of directory groups added since; it is rewritten only when
 * the claims changed, so a routine sign-in cannot undo a deactivation made
 * meanwhile. Groups the IdP names that the directory does not know are
 * recorded as `idp` groups.
 */
export async function upsertUserFromClaims(store: Store, u: { id: string; email: string; name: string; groups: readonly string[] }, now: number): Promise<void> {
  if (u.id === '') return;
  const existing = (await getDirectoryUser(store, u.id)) ?? nonIdp(await findDirectoryUserByEmail(store, u.email));
  if (existing && existing.source !== 'idp') {
    await recordSeen(store, existing.id, now);
    return;
  }
  const known = await groupIndex(store);
  const claimGroups = u.groups.filter((g) => g !== '' && g.length <= MAX_ID && !CONTROL.test(g)).slice(0, MAX_GROUPS);
  for (const g of claimGroups) {
    if (known.byId.has(g) || known.byName.has(g.toLowerCase())) continue;
    const group: DirectoryGroup = { id: g, name: g, source: 'idp', createdAt: now };
    await putGroup(store, group, now);
    known.byId.set(g, group);
    known.byName.set(g.toLowerCase(), group);
  }
  // Memberships of groups managed in the directory survive a sign-in.
  const kept = (existing?.groups ?? []).filter((g) => { const k = known.byId.get(g); return k !== undefined && k.source !== 'idp'; });
  const groups = unique([...claimGroups, ...kept]);
  const same = existing !== undefined && existing.email === u.email && existing.name === u.name
    && existing.groups.length === groups.length && existing.groups.every((g, i) => g === groups[i]);
  if (!same) {
    await putDirectoryUser(store, {
      id: u.id, email: u.email, name: u.name, groups, source: 'idp', lastSeen: existing?.lastSeen,
      active: existing?.active ?? true, createdAt: existing?.createdAt ?? now,
    }, now);
  }
  await recordSeen(store, u.id, now);
}

function nonIdp(u: DirectoryUser | undefined): DirectoryUser | undefined {
  return u && u.source !== 'idp' ? u : undefined;
}

/**
 * Turns group references (ids or names) into ids, creating groups for
 * names the directory does not know yet.
 */
async function resolveGroups(store: Store, refs: readonly string[], source: string, now: number): Promise<{ ids: string[]; created: DirectoryGroup[] }> {
  if (refs.length > MAX_GROUPS) throw new DirectoryError('ERR_DIRECTORY_INVALID', `at most ${MAX_GROUPS} groups`, 'groups');
  const ids: string[] = [];
  const created: DirectoryGroup[] = [];
  for (const raw of refs) {
    const ref = checkName(raw, 'groups', false);
    const g = await findGroup(store, ref);
    if (g) { ids.push(g.id); continue; }
    const group: DirectoryGroup = { id: randomUUID(), name: ref, source: source === 'scim' ? 'scim' : 'manual', createdAt: now };
    await putGroup(store, group, now);
    created.push(group);
    ids.push(group.id);
  }
  return { ids: unique(ids), created };
}
