/** Users and groups as the admin API, the console and `limen users|groups --json` print them. */
import type { Store } from '../store/index.js';
import { listGroups, type DirectoryGroup, type DirectoryUser } from './directory.js';

/** A user as the admin API and `limen users show --json` print it. */
export function userView(u: DirectoryUser, groups: ReadonlyMap<string, DirectoryGroup>): Record<string, unknown> {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    groups: u.groups.map((e) => { const g = groups.get(e); return g ? { id: g.id, name: g.name } : { id: e, name: e }; }),
    source: u.source,
    active: u.active !== false,
    ...(u.userName !== undefined ? { user_name: u.userName } : {}),
    ...(u.externalId !== undefined ? { external_id: u.externalId } : {}),
    last_seen: u.lastSeen === undefined ? null : new Date(u.lastSeen).toISOString(),
    ...(u.createdAt !== undefined ? { created_at: new Date(u.createdAt).toISOString() } : {}),
  };
}

/** A group (and its members, when given) as the admin API and CLI print it. */
export function groupView(g: DirectoryGroup, members?: readonly DirectoryUser[]): Record<string, unknown> {
  return {
    id: g.id,
    name: g.name,
    source: g.source,
    ...(g.externalId !== undefined ? { external_id: g.externalId } : {}),
    ...(members ? { members: members.map((u) => ({ id: u.id, email: u.email, name: u.name })) } : {}),
  };
}

/** Groups by id and by name, for rendering memberships. */
export async function groupLookup(store: Store): Promise<Map<string, DirectoryGroup>> {
  const m = new Map<string, DirectoryGroup>();
  for (const g of await listGroups(store)) {
    m.set(g.id, g);
    if (!m.has(g.name)) m.set(g.name, g);
  }
  return m;
}
