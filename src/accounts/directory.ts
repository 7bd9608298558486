/**
 * The users-and-groups directory (CONTRACT §6, seed 004): its records and
 * their rules (users.ts and groups.ts make the changes). Users and groups
 * kept in the store, fed from sign-in claims, added by hand for non-domain
 * users, and provisioned over SCIM. Group membership lives on the user
 * record (`groups`: directory group ids, or the IdP's own group values), so
 * the per-request lookup is one read; a group's members are found by a scan,
 * which only administrative calls do.
 */
import type { UserRef } from '../authn/index.js';
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
export const MAX_ID = 256;
export const MAX_GROUPS = 1000;
// Deliberately loose (RFC 5321 local parts are varied): one @, no spaces,
// controls or lone surrogates (in `u` mode a surrogate class matches only an
// unpaired one, which no store can keep: it was a 500).
const EMAIL = /^[^\s@\p{Cc}\uD800-\uDFFF]+@[^\s@\p{Cc}\uD800-\uDFFF]+$/u;
export const CONTROL = /[\p{Cc}\uD800-\uDFFF]/u;

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

// ---------------------------------------------------------------- user records

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
export async function recordSeen(store: Store, id: string, now: number): Promise<void> {
  await store.put(USER_SEEN_TYPE, id, { lastSeen: now }, {}, now);
}

/** The users with `lastSeen` from their seen records. */
export async function withLastSeen(store: Store, users: DirectoryUser[]): Promise<DirectoryUser[]> {
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

// ---------------------------------------------------------------- group records

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

/** Whether a user's `groups` entry names this group (by id, or by name as IdP claims do). */
export function isMemberEntry(entry: string, g: DirectoryGroup): boolean {
  return entry === g.id || entry === g.name;
}

/** The group's members, ordered by user id. */
export async function groupMembers(store: Store, g: DirectoryGroup): Promise<DirectoryUser[]> {
  return (await listDirectoryUsers(store)).filter((u) => u.groups.some((e) => isMemberEntry(e, g)));
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

/** The given strings that are set and not empty. */
export function optionalStrings<T extends Record<string, string | undefined>>(o: T): Partial<Record<keyof T, string>> {
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
