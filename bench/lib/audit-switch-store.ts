/**
 * "Auditing off" for the benchmark, done without touching the server: a
 * store wrapper whose `appendAudit` drops the batch while `writeAudit` is
 * false. The audit log still builds, logs and queues every event, so the
 * difference between on and off is exactly the cost of storing the trail.
 * Being a switch, it lets one Limen process be measured both ways.
 */
import type { AuditEvent, AuditQuery, ChangeEvent, ListOptions, PutOptions, Store, StoredAuditEvent, StoredRecord } from '../../src/store/index.js';

/** A store whose audit appends are dropped while `writeAudit` is false; everything else goes to `inner`. */
export class AuditSwitchStore implements Store {
  /** Whether audit batches reach the inner store. */
  writeAudit = true;
  constructor(private readonly inner: Store) {}
  get kind(): string { return this.inner.kind; }
  get<T = Record<string, unknown>>(type: string, id: string, now?: number): Promise<StoredRecord<T> | null> {
    return this.inner.get<T>(type, id, now);
  }
  put<T = Record<string, unknown>>(type: string, id: string, data: T, opts?: PutOptions, now?: number): Promise<StoredRecord<T>> {
    return this.inner.put<T>(type, id, data, opts, now);
  }

  replace<T = Record<string, unknown>>(type: string, id: string, data: T, opts?: PutOptions, now?: number): Promise<StoredRecord<T> | null> {
    return this.inner.replace<T>(type, id, data, opts, now);
  }
  delete(type: string, id: string): Promise<boolean> { return this.inner.delete(type, id); }
  list<T = Record<string, unknown>>(type: string, opts?: ListOptions, now?: number): Promise<StoredRecord<T>[]> {
    return this.inner.list<T>(type, opts, now);
  }
  purgeExpired(now?: number): Promise<number> { return this.inner.purgeExpired(now); }
  tryLease(name: string, holder: string, ttlMs: number, now?: number): Promise<boolean> { return this.inner.tryLease(name, holder, ttlMs, now); }
  appendAudit(events: readonly AuditEvent[]): Promise<void> {
    return this.writeAudit ? this.inner.appendAudit(events) : Promise.resolve();
  }
  queryAudit(q: AuditQuery): Promise<StoredAuditEvent[]> { return this.inner.queryAudit(q); }
  pruneAudit(before: number): Promise<number> { return this.inner.pruneAudit(before); }
  watch(listener: (e: ChangeEvent) => void): () => void { return this.inner.watch(listener); }
  close(): Promise<void> { return this.inner.close(); }
}

/** Wraps `inner`, keeping PostgreSQL's bounded change feed visible to the read cache in front (see ReadCachingStore). */
export function auditSwitch(inner: Store): AuditSwitchStore {
  const s = new AuditSwitchStore(inner);
  const feed = inner as Partial<{ freshnessBoundMs: number; confirmedAt(): number; onReset(l: () => void): () => void }>;
  if (typeof feed.confirmedAt === 'function' && typeof feed.onReset === 'function') {
    Object.assign(s, {
      freshnessBoundMs: feed.freshnessBoundMs,
      confirmedAt: () => feed.confirmedAt!(),
      onReset: (l: () => void) => feed.onReset!(l),
    });
  }
  return s;
}
