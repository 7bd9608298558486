import { performance } from 'node:perf_hooks';
import { approxBytes, BoundedCache } from './bounded-cache.js';
import type { AuditEvent, AuditQuery, ChangeEvent, ListOptions, PutOptions, Store, StoredAuditEvent, StoredRecord } from './types.js';

/** A store that can report other processes' changes synchronously (SQLite). */
interface Syncable { syncChanges(): void }

function isSyncable(s: Store): s is Store & Syncable {
  return typeof (s as Partial<Syncable>).syncChanges === 'function';
}

/**
 * A store whose change events from other replicas arrive asynchronously but
 * with a confirmed bound (PostgreSQL): `confirmedAt()` is a monotonic time
 * before which every change has been delivered; `onReset` fires when events
 * may have been lost.
 */
export interface BoundedChangeFeed {
  readonly freshnessBoundMs: number;
  confirmedAt(): number;
  onReset(listener: () => void): () => void;
}

function isBounded(s: Store): s is Store & BoundedChangeFeed {
  return typeof (s as Partial<BoundedChangeFeed>).confirmedAt === 'function' && typeof (s as Partial<BoundedChangeFeed>).onReset === 'function';
}

export interface ReadCacheOptions {
  /** At most this many records (default 50 000). */
  readonly maxEntries?: number;
  /** At most this many bytes of parsed records, estimated (default {@link READ_CACHE_MAX_BYTES}). */
  readonly maxBytes?: number;
  /** Monotonic clock for the freshness bound (tests); default `performance.now`. */
  readonly monotonic?: () => number;
  /** Told when the cache stops (false) or starts again (true) trusting itself on a bounded store. */
  readonly onFreshnessChange?: (fresh: boolean, bound: number) => void;
}

/** The read cache's default byte bound: ~6 000 sessions of ~2 KB, whatever the number of live ones. */
export const READ_CACHE_MAX_BYTES = 12 * 1024 * 1024;

/**
 * Caches `get` results for the record types read on every request
 * (sessions, directory users, service accounts, ...), so a signed-in
 * request costs no database read or JSON parse when nothing changed.
 *
 * Exactness: an entry is dropped on every change event of its key. Events
 * for this process's own writes arrive before the write resolves; for
 * SQLite, other processes' commits are pulled in synchronously before each
 * hit (`syncChanges`, one `PRAGMA data_version`). So a revocation made by
 * the CLI applies to the next request.
 *
 * PostgreSQL's notifications from other replicas arrive asynchronously, so
 * there the guarantee is bounded instead of exact: entries are used only
 * while the store confirms it has heard every change older than its
 * `freshnessBoundMs` (see {@link BoundedChangeFeed}); past that (listener
 * down, database unreachable) every read goes through to the database, and
 * everything cached is dropped whenever events may have been lost. A change
 * made on any replica is therefore honoured everywhere within the bound.
 * Cached records are frozen; callers copy before changing (as they must
 * with any store).
 */
export class ReadCachingStore implements Store {
  readonly kind: string;
  /** Bounded by count and estimated bytes; an evicted record is read again from the store. */
  private readonly entries: BoundedCache<string, StoredRecord<unknown> | null>;
  private readonly unwatch: () => void;
  /** Reads of cached types answered from the cache, and those that went to the store (metrics). */
  hits = 0;
  misses = 0;
  /** Bumped on every change; a read that raced a change is not cached. */
  private generation = 0;

  private readonly bounded: (Store & BoundedChangeFeed) | undefined;
  private readonly monotonic: () => number;
  private readonly unreset: () => void;
  private wasFresh = true;

  constructor(private readonly inner: Store, private readonly cachedTypes: (type: string) => boolean, opts: ReadCacheOptions = {}) {
    this.kind = inner.kind;
    this.entries = new BoundedCache({
      maxEntries: opts.maxEntries ?? 50_000,
      maxBytes: opts.maxBytes ?? READ_CACHE_MAX_BYTES,
      sizeOf: (k, rec) => 64 + k.length + approxBytes(rec),
    });
    this.monotonic = opts.monotonic ?? (() => performance.now());
    this.bounded = isBounded(inner) ? inner : undefined;
    this.unwatch = inner.watch((e) => this.invalidate(e.type, e.id));
    this.unreset = this.bounded?.onReset(() => this.dropAll()) ?? (() => undefined);
    this.onFreshnessChange = opts.onFreshnessChange;
  }

  private readonly onFreshnessChange: ((fresh: boolean, bound: number) => void) | undefined;

  /**
   * Whether cached entries may be used now: always on exact stores; on a
   * bounded one while its confirmation is younger than the bound.
   */
  isFresh(): boolean {
    const b = this.bounded;
    if (b === undefined) return true;
    const fresh = this.monotonic() - b.confirmedAt() <= b.freshnessBoundMs;
    if (fresh !== this.wasFresh) {
      this.wasFresh = fresh;
      // Entries read before the gap may predate changes never heard of.
      if (!fresh) this.dropAll();
      this.onFreshnessChange?.(fresh, b.freshnessBoundMs);
    }
    return fresh;
  }

  private dropAll(): void {
    this.generation++;
    this.entries.clear();
  }

  /**
   * A number that moves with every change the store reports (this
   * process's writes, and for SQLite other processes' commits, pulled in
   * first as before a hit). Whatever was derived only from the store's
   * contents is still true while it has not moved.
   */
  changeGeneration(): number {
    if (isSyncable(this.inner)) this.inner.syncChanges();
    // Not trusted (bounded store past its bound): a value equal to nothing, so nothing derived is reused.
    if (!this.isFresh()) return Number.NaN;
    return this.generation;
  }

  private invalidate(type: string, id: string): void {
    this.generation++;
    this.entries.delete(key(type, id));
  }

  async get<T = Record<string, unknown>>(type: string, id: string, now?: number): Promise<StoredRecord<T> | null> {
    if (!this.cachedTypes(type)) return this.inner.get<T>(type, id, now);
    if (isSyncable(this.inner)) this.inner.syncChanges();
    if (!this.isFresh()) return this.inner.get<T>(type, id, now);
    const k = key(type, id);
    const hit = this.entries.get(k) as StoredRecord<T> | null | undefined;
    if (hit !== undefined) {
      this.hits++;
      if (hit === null) return null;
      const t = now ?? Date.now();
      return hit.expiresAt !== undefined && t >= hit.expiresAt ? null : hit;
    }
    const generation = this.generation;
    this.misses++;
    const rec = await this.inner.get<T>(type, id, now);
    // An expired record reads as absent but may still exist: do not cache its absence.
    if (generation === this.generation && (rec !== null || now === undefined)) {
      this.entries.set(k, rec === null ? null : deepFreeze(rec));
    }
    return rec;
  }

  put<T = Record<string, unknown>>(type: string, id: string, data: T, opts?: PutOptions, now?: number): Promise<StoredRecord<T>> {
    this.invalidate(type, id);
    return this.inner.put(type, id, data, opts, now).finally(() => this.invalidate(type, id));
  }

  replace<T = Record<string, unknown>>(type: string, id: string, data: T, opts?: PutOptions, now?: number): Promise<StoredRecord<T> | null> {
    this.invalidate(type, id);
    return this.inner.replace(type, id, data, opts, now).finally(() => this.invalidate(type, id));
  }

  delete(type: string, id: string): Promise<boolean> {
    this.invalidate(type, id);
    return this.inner.delete(type, id).finally(() => this.invalidate(type, id));
  }

  list<T = Record<string, unknown>>(type: string, opts?: ListOptions, now?: number): Promise<StoredRecord<T>[]> { return this.inner.list<T>(type, opts, now); }
  purgeExpired(now?: number): Promise<number> { return this.inner.purgeExpired(now); }
  tryLease(name: string, holder: string, ttlMs: number, now?: number): Promise<boolean> { return this.inner.tryLease(name, holder, ttlMs, now); }
  appendAudit(events: readonly AuditEvent[]): Promise<void> { return this.inner.appendAudit(events); }
  queryAudit(q: AuditQuery): Promise<StoredAuditEvent[]> { return this.inner.queryAudit(q); }
  pruneAudit(before: number): Promise<number> { return this.inner.pruneAudit(before); }
  watch(listener: (e: ChangeEvent) => void): () => void { return this.inner.watch(listener); }

  async close(): Promise<void> {
    this.detach();
    await this.inner.close();
  }

  /** Stops caching without closing the wrapped store (it belongs to someone else). */
  detach(): void {
    this.unwatch();
    this.unreset();
    this.entries.clear();
  }
}

function key(type: string, id: string): string {
  return `${type}\u0000${id}`;
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}
