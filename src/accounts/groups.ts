/** Changes to directory groups and their memberships (kept on the user records). */
import { randomUUID } from 'node:crypto';
import type { Store } from '../store/index.js';
import {
  DirectoryError, GROUP_TYPE, checkId, checkName, findGroupByName, getDirectoryUser, getGroup, groupMembers, isMemberEntry, putDirectoryUser, putGroup,
  type DirectoryGroup,
} from './directory.js';

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
