/**
 * The directory's part in every decision (CONTRACT §6): before policy, an
 * identity gets its directory groups, and a deactivated user is refused.
 */
import { IdentityRefusedError } from '../errors/index.js';
import type { IdentityInfo } from '../authz/index.js';
import type { Store } from '../store/index.js';
import { GROUP_TYPE, findDirectoryUserByEmail, getDirectoryUser, groupIndex, unique, type GroupIndex } from './directory.js';

/**
 * Group ids and names, cached per store and dropped on any change to a
 * group (store.watch also reports other processes' changes, after a short
 * delay); a membership naming a group the cache lacks reloads it.
 */
class GroupAliases {
  private cache: Promise<GroupIndex> | undefined;
  private loadedAt = 0;

  constructor(private readonly store: Store, private readonly clock: () => number) {
    store.watch((e) => { if (e.type === GROUP_TYPE) this.cache = undefined; });
  }

  async get(mustKnow: readonly string[]): Promise<GroupIndex> {
    let idx = await this.load();
    // A group another process just created may not have reached us through watch yet.
    if (mustKnow.some((g) => !idx.byId.has(g) && !idx.byName.has(g.toLowerCase())) && this.clock() - this.loadedAt > 1000) {
      this.cache = undefined;
      idx = await this.load();
    }
    return idx;
  }

  private load(): Promise<GroupIndex> {
    if (!this.cache) {
      this.loadedAt = this.clock();
      const p = groupIndex(this.store);
      p.catch(() => { if (this.cache === p) this.cache = undefined; });
      this.cache = p;
    }
    return this.cache;
  }
}

const aliases = new WeakMap<Store, GroupAliases>();

/**
 * Adds the directory to an identity before policy (CONTRACT §6): the user is
 * found by id, else by email; a deactivated user is refused
 * (`user-deprovisioned`); groups become the claim's groups plus directory
 * memberships (an impersonation keeps exactly the groups it was given),
 * each listed by id and by name so the `groups` criterion matches either.
 */
export function directoryEnricher(store: Store, clock: () => number = Date.now): (id: IdentityInfo, how?: { readonly impersonated?: boolean | undefined }) => Promise<IdentityInfo> {
  let groupsCache = aliases.get(store);
  if (!groupsCache) {
    groupsCache = new GroupAliases(store, clock);
    aliases.set(store, groupsCache);
  }
  const cache = groupsCache;
  return async (id, how) => {
    const user = (id.user !== '' ? await getDirectoryUser(store, id.user) : undefined) ?? await findDirectoryUserByEmail(store, id.email);
    if (user && user.active === false) {
      throw new IdentityRefusedError('user-deprovisioned', 'the directory has deactivated this user');
    }
    const memberships = how?.impersonated ? [] : user?.groups ?? [];
    const raw = unique([...id.groups, ...memberships]);
    if (raw.length === 0) return id;
    const idx = await cache.get(memberships);
    const out: string[] = [];
    const seen = new Set<string>();
    const add = (g: string): void => { if (!seen.has(g)) { seen.add(g); out.push(g); } };
    for (const g of raw) {
      const group = idx.byId.get(g) ?? idx.byName.get(g.toLowerCase());
      add(g);
      if (group) { add(group.id); add(group.name); }
    }
    // Claim order first; unchanged lists keep the identity object (and its assertion cache key).
    if (out.length === id.groups.length && out.every((g, i) => g === id.groups[i])) return id;
    return { ...id, groups: out };
  };
}
