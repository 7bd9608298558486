/**
 * In-memory storage for oidc-provider, one per dev IdP instance. The package's
 * own memory adapter is an LRU capped at 1000 entries, which silently evicts
 * live sessions during a long dev run; this one keeps every entry until it
 * expires and is freed when the IdP closes.
 */

// oidc-provider models whose entries belong to a grant and die with it.
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

const SWEEP_INTERVAL_MS = 60_000;

/** What oidc-provider stores: an open JSON object it may mutate (`consumed`). */
export type AdapterPayload = Record<string, unknown>;

interface Entry {
  payload: AdapterPayload;
  expiresAt: number; // ms since epoch; Infinity when no expiry was given
}

/** The adapter contract oidc-provider calls, one instance per model name. */
export interface ProviderAdapter {
  upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<AdapterPayload | undefined>;
  findByUid(uid: string): Promise<AdapterPayload | undefined>;
  findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

/**
 * Returns an adapter factory over one private store. `clockToleranceSeconds`
 * keeps entries a little past their expiry, as the provider tolerates skew.
 */
export function createMemoryAdapter(
  clockToleranceSeconds: number,
  now: () => number = Date.now,
): { factory: (model: string) => ProviderAdapter; clear(): void } {
  const entries = new Map<string, Entry>();
  const byGrant = new Map<string, Set<string>>();
  const sessionByUid = new Map<string, string>();
  const byUserCode = new Map<string, string>();
  let lastSweep = now();

  const read = (key: string): AdapterPayload | undefined => {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now()) {
      remove(key);
      return undefined;
    }
    return entry.payload;
  };

  const remove = (key: string): void => {
    const entry = entries.get(key);
    if (entry === undefined) return;
    entries.delete(key);
    const { grantId, uid, userCode } = entry.payload;
    if (typeof grantId === 'string') byGrant.get(grantId)?.delete(key);
    if (typeof uid === 'string' && sessionByUid.get(uid) === key) sessionByUid.delete(uid);
    if (typeof userCode === 'string' && byUserCode.get(userCode) === key) byUserCode.delete(userCode);
  };

  const sweep = (): void => {
    const t = now();
    if (t - lastSweep < SWEEP_INTERVAL_MS) return;
    lastSweep = t;
    for (const [key, entry] of entries) if (entry.expiresAt <= t) remove(key);
    for (const [grantId, keys] of byGrant) if (keys.size === 0) byGrant.delete(grantId);
  };

  const factory = (model: string): ProviderAdapter => {
    const keyFor = (id: string): string => `${model}:${id}`;
    return {
      async upsert(id, payload, expiresIn) {
        sweep();
        const key = keyFor(id);
        remove(key);
        const expiresAt =
          typeof expiresIn === 'number' ? now() + (expiresIn + clockToleranceSeconds) * 1000 : Infinity;
        entries.set(key, { payload, expiresAt });
        const { grantId, uid, userCode } = payload;
        if (GRANTABLE.has(model) && typeof grantId === 'string') {
          let keys = byGrant.get(grantId);
          if (keys === undefined) byGrant.set(grantId, (keys = new Set()));
          keys.add(key);
        }
        if (model === 'Session' && typeof uid === 'string') sessionByUid.set(uid, key);
        if (typeof userCode === 'string') byUserCode.set(userCode, key);
      },
      async find(id) {
        return read(keyFor(id));
      },
      async findByUid(uid) {
        const key = sessionByUid.get(uid);
        return key === undefined ? undefined : read(key);
      },
      async findByUserCode(userCode) {
        const key = byUserCode.get(userCode);
        return key === undefined ? undefined : read(key);
      },
      async consume(id) {
        const payload = read(keyFor(id));
        if (payload !== undefined) payload.consumed = Math.floor(now() / 1000);
      },
      async destroy(id) {
        remove(keyFor(id));
      },
      async revokeByGrantId(grantId) {
        const keys = byGrant.get(grantId);
        if (keys === undefined) return;
        byGrant.delete(grantId);
        for (const key of keys) remove(key);
      },
    };
  };

  return {
    factory,
    clear() {
      entries.clear();
      byGrant.clear();
      sessionByUid.clear();
      byUserCode.clear();
    },
  };
}
