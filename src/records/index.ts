/**
 * External data for the `record` policy criterion (CONTRACT §3): records of
 * a type (a device inventory, a scanner's findings, ...) held in the store
 * as `record:<type>` keyed by id, loaded by `limen data load` or the admin
 * API, and read per request so new data applies to the next decision.
 */
import type { Store } from '../store/index.js';

export const RECORD_PREFIX = 'record:';

/** Record types and ids: letters, digits and `._:@/-`, bounded. */
const TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

export function isRecordType(t: unknown): t is string {
  return typeof t === 'string' && TYPE_RE.test(t);
}

export async function getRecord(store: Pick<Store, 'get'>, type: string, id: string): Promise<Record<string, unknown> | undefined> {
  return (await store.get<Record<string, unknown>>(RECORD_PREFIX + type, id))?.data;
}

export interface LoadResult { readonly type: string; readonly loaded: number; readonly removed: number }

/**
 * Loads records of one type: each item needs a string `id`. With
 * `replace`, records of the type not in `items` are removed.
 * Throws TypeError naming the first bad item; nothing is written then.
 */
export async function loadRecords(store: Store, type: string, items: unknown, opts: { replace?: boolean } = {}): Promise<LoadResult> {
  if (!isRecordType(type)) throw new TypeError(`record type "${String(type).slice(0, 40)}" must be letters, digits and ._:/- (at most 128)`);
  const list = Array.isArray(items) ? items : (items && typeof items === 'object' && Array.isArray((items as { records?: unknown }).records) ? (items as { records: unknown[] }).records : undefined);
  if (!list) throw new TypeError('expected a JSON array of records (or {"records": [...]})');
  list.forEach((r, i) => {
    if (!r || typeof r !== 'object' || Array.isArray(r)) throw new TypeError(`records[${i}]: expected an object`);
    const id = (r as { id?: unknown }).id;
    if (typeof id !== 'string' || id.length === 0 || id.length > 512) throw new TypeError(`records[${i}].id: expected a non-empty string`);
  });
  const ids = new Set<string>();
  for (const r of list as Record<string, unknown>[]) {
    await store.put(RECORD_PREFIX + type, r.id as string, r);
    ids.add(r.id as string);
  }
  let removed = 0;
  if (opts.replace) {
    for (const existing of await store.list(RECORD_PREFIX + type)) {
      if (!ids.has(existing.id) && await store.delete(RECORD_PREFIX + type, existing.id)) removed++;
    }
  }
  return { type, loaded: ids.size, removed };
}

/** Deletes one record; false when there was none. */
export async function deleteRecord(store: Pick<Store, 'delete'>, type: string, id: string): Promise<boolean> {
  return store.delete(RECORD_PREFIX + type, id);
}
