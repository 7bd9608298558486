/** External data for the `record` criterion, audited (`data.load`, `data.delete`) with counts, never contents. */
import { deleteRecord as deleteOne, loadRecords as load, type LoadResult } from '../records/index.js';
import type { Actor } from './actor.js';
import { actorSubject, recordChange, type OperationContext } from './context.js';

/**
 * Loads records of one type (with `replace`, removes those of the type not
 * given). Throws TypeError naming the first bad item; nothing is written then.
 */
export async function loadRecords(ctx: OperationContext, actor: Actor, type: string, items: unknown, replace: boolean): Promise<LoadResult> {
  const r = await load(ctx.store, type, items, { replace });
  recordChange(ctx, actor, 'data.load', actorSubject(actor), { type: r.type, loaded: r.loaded, removed: r.removed, replace });
  return r;
}

/** Deletes one record; false (and nothing recorded) when there was none. */
export async function deleteRecord(ctx: OperationContext, actor: Actor, type: string, id: string): Promise<boolean> {
  const removed = await deleteOne(ctx.store, type, id);
  if (removed) recordChange(ctx, actor, 'data.delete', actorSubject(actor), { type, id, removed: 1 });
  return removed;
}
