/**
 * Changes to the users-and-groups directory, audited: users added by hand
 * (non-domain users), changed, deactivated and deleted; groups created,
 * renamed and deleted; memberships added and removed. SCIM provisioning
 * (web/scim) records its own events, actor `scim:<token id>`.
 */
import {
  createDirectoryUser, createGroup as createDirectoryGroup, deleteDirectoryUser, deleteGroup as deleteDirectoryGroup,
  setMembership as setDirectoryMembership, updateDirectoryUser, updateGroup,
  type DirectoryGroup, type DirectoryUser, type NewGroup, type NewUser, type UserChanges,
} from '../accounts/index.js';
import type { Actor } from './actor.js';
import { recordChange, type OperationContext } from './context.js';

function groupsCreated(created: readonly DirectoryGroup[]): Record<string, unknown> {
  return created.length > 0 ? { groups_created: created.map((g) => g.name) } : {};
}

/** Adds a user by hand (`user.create`); a claims-only record with that email is taken over. */
export async function createUser(ctx: OperationContext, actor: Actor, input: Omit<NewUser, 'source'>): Promise<{ user: DirectoryUser; createdGroups: DirectoryGroup[]; adopted: boolean }> {
  const r = await createDirectoryUser(ctx.store, { ...input, source: 'manual' }, ctx.now());
  recordChange(ctx, actor, 'user.create', r.user, { groups: r.user.groups, ...groupsCreated(r.createdGroups), ...(r.adopted ? { adopted_from: 'idp' } : {}) });
  return r;
}

/**
 * Changes a user: `user.deactivate` or `user.activate` when `active` flips,
 * else `user.update`; `given` (recorded as `changed`) names the fields the caller sent.
 */
export async function updateUser(
  ctx: OperationContext, actor: Actor, id: string, changes: UserChanges,
  given: readonly string[] = Object.keys(changes).filter((k) => changes[k as keyof UserChanges] !== undefined),
): Promise<{ user: DirectoryUser; before: DirectoryUser }> {
  const { user, before, createdGroups } = await updateDirectoryUser(ctx.store, id, changes, ctx.now());
  const kind = before.active !== false && user.active === false ? 'user.deactivate'
    : before.active === false && user.active !== false ? 'user.activate' : 'user.update';
  recordChange(ctx, actor, kind, user, { changed: [...given], ...groupsCreated(createdGroups) });
  return { user, before };
}

/** Removes a user and ends every session they hold (`user.delete`). */
export async function deleteUser(ctx: OperationContext, actor: Actor, id: string): Promise<{ user: DirectoryUser; sessionsRevoked: number }> {
  const r = await deleteDirectoryUser(ctx.store, id, ctx.now());
  recordChange(ctx, actor, 'user.delete', r.user, { sessions_revoked: r.sessionsRevoked });
  return r;
}

/** Adds a group (`group.create`). */
export async function createGroup(ctx: OperationContext, actor: Actor, input: Omit<NewGroup, 'source'>): Promise<DirectoryGroup> {
  const g = await createDirectoryGroup(ctx.store, { ...input, source: 'manual' }, ctx.now());
  recordChange(ctx, actor, 'group.create', {}, { group_id: g.id, group: g.name });
  return g;
}

/** Renames a group (`group.update`). */
export async function renameGroup(ctx: OperationContext, actor: Actor, id: string, name: string | undefined): Promise<DirectoryGroup> {
  const { group, before } = await updateGroup(ctx.store, id, { name }, ctx.now());
  recordChange(ctx, actor, 'group.update', {}, { group_id: group.id, group: group.name, previous_name: before.name });
  return group;
}

/** Deletes a group and takes it off every member (`group.delete`). */
export async function deleteGroup(ctx: OperationContext, actor: Actor, id: string): Promise<{ group: DirectoryGroup; membersUpdated: number }> {
  const r = await deleteDirectoryGroup(ctx.store, id, ctx.now());
  recordChange(ctx, actor, 'group.delete', {}, { group_id: r.group.id, group: r.group.name, members_updated: r.membersUpdated });
  return r;
}

/** Adds or removes one membership (`group.member_add`, `group.member_remove`); returns whether it changed (only a change is recorded). */
export async function setMembership(ctx: OperationContext, actor: Actor, group: DirectoryGroup, user: DirectoryUser, member: boolean): Promise<boolean> {
  const changed = await setDirectoryMembership(ctx.store, group.id, user.id, member, ctx.now());
  if (changed) recordChange(ctx, actor, member ? 'group.member_add' : 'group.member_remove', user, { group_id: group.id, group: group.name });
  return changed;
}
