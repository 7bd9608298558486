/**
 * The users-and-groups directory (CONTRACT §6, seed 004): users and groups
 * kept in the store, fed from sign-in claims, added by hand for non-domain
 * users, and provisioned over SCIM. Group membership lives on the user
 * record (`groups`: directory group ids, or the IdP's own group values), so
 * the per-request lookup is one read; a group's members are found by a scan,
 * which only administrative calls do.
 */
import { randomUUID } from 'node:crypto';
import { revokeUserSessions, type UserRef } from '../authn/index.js';
import { LimenError } from '../errors/index.js';
import type { Store, StoredRecord } from '../store/index.js';

export const USER_TYPE = 'user';
export const GROUP_TYPE = 'group';
/**
 * When a user last signed in, kept apart from the user record (as for
 * service accounts and SCIM tokens): the store has no compare-and-swap, so
 * a sign-in writing `lastSeen` into the user record could put back a copy
 * read before a deactivation (SCIM `active: false`) and so undo it.
 */
export const USER_SEEN_TYPE = 'user_seen';

/** A directory user (CONTRACT §6), keyed by id, indexed by lower-case email. */
export interface DirectoryUser {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  /** Group ids or names. */
  readonly groups: readonly string[];
  /** `idp` (from sign-in claims), `manual`, `scim`. */
  readonly source: string;
  /**
   * ms since epoch of the last sign-in or refresh. Kept in `USER_SEEN_TYPE`;
   * filled in by `listDirectoryUsers` and `findUserByIdOrEmail` (a value
   * in the user record itself is from before, and the older of the two).
   */
  readonly lastSeen: number | undefined;
  /** SCIM `active: false` removes access without deleting the record. */
  readonly active?: boolean;
  /** The provisioning client's own id for the user (SCIM `externalId`). */
  readonly externalId?: string | undefined;
  /** SCIM `userName` when it is not the email. */
  readonly userName?: string | undefined;
  /** SCIM `name.givenName` / `name.familyName`, kept so partial updates compose `name`. */
  readonly givenName?: string | undefined;
  readonly familyName?: string | undefined;
  /** ms since epoch when the record was first written. */
  readonly createdAt?: number | undefined;
}

/** A directory group, keyed by id, indexed by lower-case name. */
export interface DirectoryGroup {
  readonly id: string;
  readonly name: string;
  readonly source: string;
  readonly externalId?: string | undefined;
  readonly createdAt?: number | undefined;
}

export type DirectoryErrorCode =
  | 'ERR_DIRECTORY_INVALID' | 'ERR_USER_EXISTS' | 'ERR_USER_NOT_FOUND' | 'ERR_GROUP_EXISTS' | 'ERR_GROUP_NOT_FOUND';

const STATUS: Readonly<Record<DirectoryErrorCode, number>> = {
  ERR_DIRECTORY_INVALID: 400, ERR_USER_EXISTS: 409, ERR_USER_NOT_FOUND: 404, ERR_GROUP_EXISTS: 409, ERR_GROUP_NOT_FOUND: 404,
};

/** A directory change that cannot be made; `status` is the HTTP status the admin API and SCIM answer. */
export class DirectoryError extends LimenError {
  declare readonly code: DirectoryErrorCode;
  /** The field at fault, e.g. `email`. */
  readonly field: string | undefined;
  constructor(code: DirectoryErrorCode, message: string, field?: string) {
    super(code, message, { status: STATUS[code], cause: field === undefined ? undefined : { field } });
    this.field = field;
  }
}

const MAX_EMAIL = 320;
const MAX_NAME = 256;
const MAX_ID = 256;
const MAX_GROUPS = 1000;
// Deliberately loose (RFC 5321 local parts are varied): one @, no spaces,
// controls or lone surrogates (in `u` mode a surrogate class matches only an
// unpaired one, which no store can keep: it was a 500).
const EMAIL = /^[^\s@\p{Cc}\uD800-\uDFFF]+@[^\s@\p{Cc}\uD800-\uDFFF]+$/u;
const CONTROL = /[\p{Cc}\uD800-\uDFFF]/u;

/** Checks and normalises an email (trimmed; case kept, compared case-insensitively). */
export function checkEmail(value: unknown, field = 'email'): string {
  const v = typeof value === 'string' ? value.trim() : '';
  if (v === '' || v.length > MAX_EMAIL || !EMAIL.test(v)) {
    throw new DirectoryError('ERR_DIRECTORY_INVALID', `${field} must be an email address`, field);
  }
  return v;
}

/** Checks a display name or group name (may be empty when `allowEmpty`). */
export function checkName(value: unknown, field: string, allowEmpty: boolean): string {
  const v = typeof value === 'string' ? value.trim() : value === undefined || value === null ? '' : undefined;
  if (v === undefined || v.length > MAX_NAME || CONTROL.test(v) || (!allowEmpty && v === '')) {
    throw new DirectoryError('ERR_DIRECTORY_INVALID', `${field} must be ${allowEmpty ? 'a' : 'a non-empty'} string of at most ${MAX_NAME} characters`, field);
  }
  return v;
}

/** Checks an id given by an operator or a provisioning client. */
export function checkId(value: unknown, field = 'id'): string {
  if (typeof value !== 'string' || value === '' || value.length > MAX_ID || CONTROL.test(value) || value.trim() !== value) {
    throw new DirectoryError('ERR_DIRECTORY_INVALID', `${field} must be a non-empty string of at most ${MAX_ID} characters without spaces at either end`, field);
  }
  return value;
}

// ---------------------------------------------------------------- users

/** A user by id. */
export async function getDirectoryUser(store: Store, id: string): Promise<DirectoryUser | undefined> {
  return (await store.get<DirectoryUser>(USER_TYPE, id))?.data;
}

/** A user by email, case-insensitively (the store's index). */
export async function findDirectoryUserByEmail(store: Store, email: string): Promise<DirectoryUser | undefined> {
  if (email === '') return undefined;
  const list = await store.list<DirectoryUser>(USER_TYPE, { index: email.toLowerCase(), limit: 1 });
  return list[0]?.data;
}

/** A user by id, else by email (case-insensitive): how operators and sessions name users. With `lastSeen`. */
export async function findUserByIdOrEmail(store: Store, ref: string): Promise<DirectoryUser | undefined> {
  const u = (await getDirectoryUser(store, ref)) ?? (ref.includes('@') ? await findDirectoryUserByEmail(store, ref) : undefined);
  return u === undefined ? undefined : (await withLastSeen(store, [u]))[0];
}

/** Records a sign-in in its own record, never by rewriting the user record. */
async function recordSeen(store: Store, id: string, now: number): Promise<void> {
  await store.put(USER_SEEN_TYPE, id, { lastSeen: now }, {}, now);
}

/** The users with `lastSeen` from their seen records. */
async function withLastSeen(store: Store, users: DirectoryUser[]): Promise<DirectoryUser[]> {
  if (users.length === 0) return users;
  const seen = new Map<string, unknown>();
  if (users.length === 1) {
    const r = await store.get<{ lastSeen?: unknown }>(USER_SEEN_TYPE, users[0]!.id);
    if (r) seen.set(r.id, r.data.lastSeen);
  } else {
    for (const r of await store.list<{ lastSeen?: unknown }>(USER_SEEN_TYPE)) seen.set(r.id, r.data.lastSeen);
  }
  return users.map((u) => {
    const t = seen.get(u.id);
    return typeof t === 'number' && (u.lastSeen === undefined || t > u.lastSeen) ? { ...u, lastSeen: t } : u;
  });
}

/** Writes a user, indexed by lower-case email. */
export async function putDirectoryUser(store: Store, u: DirectoryUser, now?: number): Promise<void> {
  await store.put(USER_TYPE, u.id, u, { index: u.email.toLowerCase() }, now);
}

/** Every user, ordered by id. */
export async function listDirectoryUsers(store: Store): Promise<DirectoryUser[]> {
  return withLastSeen(store, (await store.list<DirectoryUser>(USER_TYPE)).map((r) => r.data));
}

/** Every user record with store metadata (SCIM needs `modifiedAt` and `version`). */
export async function listDirectoryUserRecords(store: Store): Promise<StoredRecord<DirectoryUser>[]> {
  return store.list<DirectoryUser>(USER_TYPE);
}

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

// ---------------------------------------------------------------- groups

/** A group by id. */
export async function getGroup(store: Store, id: string): Promise<DirectoryGroup | undefined> {
  return (await store.get<DirectoryGroup>(GROUP_TYPE, id))?.data;
}

/** A group by name, case-insensitively. */
export async function findGroupByName(store: Store, name: string): Promise<DirectoryGroup | undefined> {
  if (name === '') return undefined;
  return (await store.list<DirectoryGroup>(GROUP_TYPE, { index: name.toLowerCase(), limit: 1 }))[0]?.data;
}

/** A group by id, else by name (case-insensitive). */
export async function findGroup(store: Store, ref: string): Promise<DirectoryGroup | undefined> {
  return (await getGroup(store, ref)) ?? findGroupByName(store, ref);
}

/** Writes a group, indexed by lower-case name. */
export async function putGroup(store: Store, g: DirectoryGroup, now?: number): Promise<void> {
  await store.put(GROUP_TYPE, g.id, g, { index: g.name.toLowerCase() }, now);
}

/** Every group, ordered by id. */
export async function listGroups(store: Store): Promise<DirectoryGroup[]> {
  return (await store.list<DirectoryGroup>(GROUP_TYPE)).map((r) => r.data);
}

/** Every group record with store metadata. */
export async function listGroupRecords(store: Store): Promise<StoredRecord<DirectoryGroup>[]> {
  return store.list<DirectoryGroup>(GROUP_TYPE);
}

export interface NewGroup {
  readonly id?: string | undefined;
  readonly name: string;
  readonly source: 'manual' | 'scim';
  readonly externalId?: string | undefined;
}

/** Adds a group; its name must be new (case-insensitive). */
export async function createGroup(store: Store, g: NewGroup, now: number): Promise<DirectoryGroup> {
  const name = checkName(g.name, 'name', false);
  const sameName = await findGroupByName(store, name);
  if (sameName) {
    // A group only seen in claims is taken over, like a claims-only user.
    if (sameName.source !== 'idp') throw new DirectoryError('ERR_GROUP_EXISTS', `a group named ${name} already exists`, 'name');
    const adopted: DirectoryGroup = { ...sameName, name, source: g.source, ...(g.externalId !== undefined ? { externalId: g.externalId } : {}) };
    await putGroup(store, adopted, now);
    return adopted;
  }
  const id = g.id === undefined ? randomUUID() : checkId(g.id);
  if (await getGroup(store, id)) throw new DirectoryError('ERR_GROUP_EXISTS', `a group with id ${id} already exists`, 'id');
  const group: DirectoryGroup = { id, name, source: g.source, ...(g.externalId !== undefined ? { externalId: g.externalId } : {}), createdAt: now };
  await putGroup(store, group, now);
  return group;
}

/** Renames a group (and/or sets its externalId). */
export async function updateGroup(store: Store, id: string, c: { name?: string | undefined; externalId?: string | null | undefined }, now: number): Promise<{ group: DirectoryGroup; before: DirectoryGroup }> {
  const before = await getGroup(store, id);
  if (!before) throw new DirectoryError('ERR_GROUP_NOT_FOUND', `no group with id ${id}`, 'id');
  let name = before.name;
  if (c.name !== undefined) {
    name = checkName(c.name, 'name', false);
    const other = await findGroupByName(store, name);
    if (other && other.id !== id) throw new DirectoryError('ERR_GROUP_EXISTS', `a group named ${name} already exists`, 'name');
  }
  const { externalId: _old, ...rest } = before;
  const externalId = c.externalId === null ? undefined : c.externalId ?? before.externalId;
  const group: DirectoryGroup = { ...rest, name, ...(externalId !== undefined ? { externalId } : {}) };
  await putGroup(store, group, now);
  return { group, before };
}

/** Whether a user's `groups` entry names this group (by id, or by name as IdP claims do). */
function isMemberEntry(entry: string, g: DirectoryGroup): boolean {
  return entry === g.id || entry === g.name;
}

/** The group's members, ordered by user id. */
export async function groupMembers(store: Store, g: DirectoryGroup): Promise<DirectoryUser[]> {
  return (await listDirectoryUsers(store)).filter((u) => u.groups.some((e) => isMemberEntry(e, g)));
}

/** Deletes a group and takes it off every member. */
export async function deleteGroup(store: Store, id: string, now: number): Promise<{ group: DirectoryGroup; membersUpdated: number }> {
  const group = await getGroup(store, id);
  if (!group) throw new DirectoryError('ERR_GROUP_NOT_FOUND', `no group with id ${id}`, 'id');
  let membersUpdated = 0;
  for (const u of await groupMembers(store, group)) {
    await putDirectoryUser(store, { ...u, groups: u.groups.filter((e) => !isMemberEntry(e, group)) }, now);
    membersUpdated++;
  }
  await store.delete(GROUP_TYPE, id);
  return { group, membersUpdated };
}

/** Adds or removes one user's membership; returns whether anything changed. */
export async function setMembership(store: Store, groupId: string, userId: string, member: boolean, now: number): Promise<boolean> {
  const group = await getGroup(store, groupId);
  if (!group) throw new DirectoryError('ERR_GROUP_NOT_FOUND', `no group with id ${groupId}`, 'group');
  const user = await getDirectoryUser(store, userId);
  if (!user) throw new DirectoryError('ERR_USER_NOT_FOUND', `no user with id ${userId}`, 'user');
  const has = user.groups.some((e) => isMemberEntry(e, group));
  if (has === member) return false;
  const groups = member ? [...user.groups, group.id] : user.groups.filter((e) => !isMemberEntry(e, group));
  await putDirectoryUser(store, { ...user, groups }, now);
  return true;
}

/**
 * Makes exactly `userIds` the members of a group (SCIM PUT, replace).
 * Unknown user ids are an error and nothing is changed.
 */
export async function replaceMembers(store: Store, groupId: string, userIds: readonly string[], now: number): Promise<{ added: string[]; removed: string[] }> {
  const group = await getGroup(store, groupId);
  if (!group) throw new DirectoryError('ERR_GROUP_NOT_FOUND', `no group with id ${groupId}`, 'group');
  const want = new Set(userIds);
  for (const id of want) {
    if (!(await getDirectoryUser(store, id))) throw new DirectoryError('ERR_USER_NOT_FOUND', `no user with id ${id}`, 'members');
  }
  const added: string[] = [];
  const removed: string[] = [];
  for (const u of await groupMembers(store, group)) {
    if (want.has(u.id)) { want.delete(u.id); continue; }
    await putDirectoryUser(store, { ...u, groups: u.groups.filter((e) => !isMemberEntry(e, group)) }, now);
    removed.push(u.id);
  }
  for (const id of want) {
    if (await setMembership(store, groupId, id, true, now)) added.push(id);
  }
  return { added, removed };
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

/** Groups by id and by lower-case name. */
export interface GroupIndex {
  readonly byId: Map<string, DirectoryGroup>;
  readonly byName: Map<string, DirectoryGroup>;
}

/** Every group by id and by lower-case name. */
export async function groupIndex(store: Store): Promise<GroupIndex> {
  const byId = new Map<string, DirectoryGroup>();
  const byName = new Map<string, DirectoryGroup>();
  for (const g of await listGroups(store)) {
    byId.set(g.id, g);
    if (!byName.has(g.name.toLowerCase())) byName.set(g.name.toLowerCase(), g);
  }
  return { byId, byName };
}

function optionalStrings<T extends Record<string, string | undefined>>(o: T): Partial<Record<keyof T, string>> {
  const out: Partial<Record<keyof T, string>> = {};
  for (const k of Object.keys(o) as (keyof T)[]) {
    const v = o[k];
    if (v !== undefined && v !== '') out[k] = v;
  }
  return out;
}

/** The values in first-seen order, each once. */
export function unique(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

/** Resolves an operator's `--user` value (id or email) against the directory. */
export async function userRef(store: Store, ref: string): Promise<UserRef> {
  const u = await findUserByIdOrEmail(store, ref);
  if (u) return { id: u.id, email: u.email };
  return ref.includes('@') ? { email: ref } : { id: ref };
}
