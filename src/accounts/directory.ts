import type { Store } from '../store/index.js';

export const USER_TYPE = 'user';
export const GROUP_TYPE = 'group';

/** A directory user (CONTRACT §6), keyed by id, indexed by lower-case email. */
export interface DirectoryUser {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  /** Group ids or names. */
  readonly groups: readonly string[];
  /** `idp` (from sign-in claims), `manual`, `scim`. */
  readonly source: string;
  /** ms since epoch of the last sign-in or refresh. */
  readonly lastSeen: number | undefined;
  /** SCIM `active: false` removes access without deleting the record. */
  readonly active?: boolean;
}

/** A directory group, keyed by id. */
export interface DirectoryGroup {
  readonly id: string;
  readonly name: string;
  readonly source: string;
}

export async function findDirectoryUserByEmail(store: Store, email: string): Promise<DirectoryUser | undefined> {
  const list = await store.list<DirectoryUser>(USER_TYPE, { index: email.toLowerCase(), limit: 1 });
  return list[0]?.data;
}

export async function getDirectoryUser(store: Store, id: string): Promise<DirectoryUser | undefined> {
  return (await store.get<DirectoryUser>(USER_TYPE, id))?.data;
}

export async function putDirectoryUser(store: Store, u: DirectoryUser): Promise<void> {
  await store.put(USER_TYPE, u.id, u, { index: u.email.toLowerCase() });
}

/**
 * Records a signed-in user in the directory from their claims, keeping
 * groups and names added by hand or by SCIM.
 */
export async function upsertUserFromClaims(store: Store, u: { id: string; email: string; name: string; groups: readonly string[] }, now: number): Promise<void> {
  const existing = await getDirectoryUser(store, u.id);
  if (existing && existing.source !== 'idp') {
    await putDirectoryUser(store, { ...existing, lastSeen: now });
    return;
  }
  await putDirectoryUser(store, { id: u.id, email: u.email, name: u.name, groups: [...u.groups], source: 'idp', lastSeen: now });
}
