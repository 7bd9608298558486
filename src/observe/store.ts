/**
 * Store latency and errors for the metrics: a thin wrapper over a backend
 * that times each operation. It wraps the backend, below the read cache, so
 * reads the cache answers cost nothing here.
 */
import type { AuditEvent, AuditQuery, ChangeEvent, ListOptions, PutOptions, Store, StoredAuditEvent, StoredRecord } from '../store/index.js';
import type { Metrics } from './metrics.js';

type Op = 'get' | 'put' | 'replace' | 'delete' | 'list' | 'purge_expired' | 'append_audit' | 'query_audit' | 'prune_audit' | 'try_lease';

/** Every operation, as a record so that an operation added to `Op` and left out here does not compile. */
const OPS: Readonly<Record<Op, true>> = {
  get: true, put: true, replace: true, delete: true, list: true, purge_expired: true,
  append_audit: true, query_audit: true, prune_audit: true, try_lease: true,
};

export class MeasuredStore implements Store {
  readonly kind: string;
  private readonly timers: Record<Op, ReturnType<Metrics['storeDuration']['labels']>>;
  private readonly errors: Record<Op, ReturnType<Metrics['storeErrors']['labels']>>;

  constructor(private readonly inner: Store, metrics: Metrics) {
    this.kind = inner.kind;
    const ops = Object.keys(OPS) as Op[];
    this.timers = Object.fromEntries(ops.map((o) => [o, metrics.storeDuration.labels(o)])) as MeasuredStore['timers'];
    this.errors = Object.fromEntries(ops.map((o) => [o, metrics.storeErrors.labels(o)])) as MeasuredStore['errors'];
    // Optional capabilities the read cache looks for are passed through as they are:
    // SQLite's synchronous change pull, PostgreSQL's bounded change feed.
    const self = this as unknown as Record<string, unknown>;
    const caps = inner as unknown as Record<string, unknown>;
    for (const m of ['syncChanges', 'confirmedAt', 'onReset']) {
      const f = caps[m];
      if (typeof f === 'function') self[m] = (...args: unknown[]) => (f as (...a: unknown[]) => unknown).apply(inner, args);
    }
    if ('freshnessBoundMs' in inner) Object.defineProperty(this, 'freshnessBoundMs', { get: () => caps.freshnessBoundMs });
  }

  private async time<T>(op: Op, p: Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await p;
    } catch (e) {
      this.errors[op].inc();
      throw e;
    } finally {
      this.timers[op].observe((performance.now() - t0) / 1000);
    }
  }

  /** Runs `f`, counting a synchronous throw as an error too. */
  private run<T>(op: Op, f: () => Promise<T>): Promise<T> {
    let p: Promise<T>;
    try { p = f(); } catch (e) { this.errors[op].inc(); throw e; }
    return this.time(op, p);
  }

  get<T = Record<string, unknown>>(type: string, id: string, now?: number): Promise<StoredRecord<T> | null> { return this.run('get', () => this.inner.get<T>(type, id, now)); }
  put<T = Record<string, unknown>>(type: string, id: string, data: T, opts?: PutOptions, now?: number): Promise<StoredRecord<T>> { return this.run('put', () => this.inner.put<T>(type, id, data, opts, now)); }
  replace<T = Record<string, unknown>>(type: string, id: string, data: T, opts?: PutOptions, now?: number): Promise<StoredRecord<T> | null> { return this.run('replace', () => this.inner.replace<T>(type, id, data, opts, now)); }
  delete(type: string, id: string): Promise<boolean> { return this.run('delete', () => this.inner.delete(type, id)); }
  list<T = Record<string, unknown>>(type: string, opts?: ListOptions, now?: number): Promise<StoredRecord<T>[]> { return this.run('list', () => this.inner.list<T>(type, opts, now)); }
  purgeExpired(now?: number): Promise<number> { return this.run('purge_expired', () => this.inner.purgeExpired(now)); }
  appendAudit(events: readonly AuditEvent[]): Promise<void> { return this.run('append_audit', () => this.inner.appendAudit(events)); }
  queryAudit(q: AuditQuery): Promise<StoredAuditEvent[]> { return this.run('query_audit', () => this.inner.queryAudit(q)); }
  pruneAudit(before: number): Promise<number> { return this.run('prune_audit', () => this.inner.pruneAudit(before)); }
  tryLease(name: string, holder: string, ttlMs: number, now?: number): Promise<boolean> { return this.run('try_lease', () => this.inner.tryLease(name, holder, ttlMs, now)); }
  watch(listener: (e: ChangeEvent) => void): () => void { return this.inner.watch(listener); }
  close(): Promise<void> { return this.inner.close(); }
}
