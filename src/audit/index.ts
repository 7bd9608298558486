/**
 * The audit trail (CONTRACT §6): every decision and administrative change is
 * one JSON line on the log and a row in the store. Store writes are batched
 * off the request path; retention is enforced by a periodic prune.
 */
import type { Logger } from '../log/index.js';
import type { AuditEvent, Store } from '../store/index.js';

export interface AuditOptions {
  readonly store: Store;
  readonly logger: Logger;
  /** Retention in ms; older rows are deleted. */
  readonly retentionMs: number;
  readonly now?: () => number;
  /** Flush when this many events are queued (default 256). */
  readonly batchSize?: number;
  /** Flush at least this often (default 250 ms). */
  readonly flushIntervalMs?: number;
  /** Log decisions as JSON lines too (default true). */
  readonly logLines?: boolean;
}

export class AuditLog {
  private queue: AuditEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly opts: AuditOptions) {
    this.now = opts.now ?? Date.now;
    this.pruneTimer = setInterval(() => { void this.prune(); }, 60 * 60 * 1000);
    this.pruneTimer.unref();
  }

  /** Records one event: logged at once, stored with the next batch. */
  emit(event: Omit<AuditEvent, 'time'> & { time?: number }): void {
    const e: AuditEvent = { ...event, time: event.time ?? this.now() };
    if (this.opts.logLines !== false) {
      this.opts.logger.record({ time: new Date(e.time).toISOString(), level: 'info', msg: 'audit', audit: e.kind, ...flatten(e) });
    }
    this.queue.push(e);
    if (this.queue.length >= (this.opts.batchSize ?? 256)) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => { void this.flush(); }, this.opts.flushIntervalMs ?? 250);
      this.timer.unref();
    }
  }

  /** Writes every queued event; resolves when they are stored. */
  flush(): Promise<void> {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() => this.opts.store.appendAudit(batch)).catch((err: unknown) => {
      this.opts.logger.error('audit write failed', { events: batch.length, error: String((err as Error)?.message ?? err) });
    });
    return this.flushing;
  }

  /** Deletes rows older than the retention period; returns how many. */
  async prune(): Promise<number> {
    try {
      return await this.opts.store.pruneAudit(this.now() - this.opts.retentionMs);
    } catch (err) {
      this.opts.logger.error('audit prune failed', { error: String((err as Error)?.message ?? err) });
      return 0;
    }
  }

  async close(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    await this.flush();
  }
}

function flatten(e: AuditEvent): Record<string, unknown> {
  const { details, time: _t, kind: _k, ...rest } = e;
  return { ...rest, ...details };
}
