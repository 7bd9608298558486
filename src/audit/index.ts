/**
 * The audit trail (CONTRACT §6): every decision and administrative change is
 * one JSON line on the log and a row in the store. Store writes are batched
 * off the request path; retention (`audit_retention`) is enforced at start
 * and then hourly. Each event is bounded in size and repeated anonymous
 * denials are counted rather than stored one by one (`bounds.ts`). `readAuditTrail` reads it back for `limen audit query`
 * and the admin API.
 */
import { randomBytes } from 'node:crypto';
import { asciiJson, asciiJsonString, flat, isoTime, jsonKey, keptTextField, type Logger } from '../log/index.js';
import { DETAILS_JSON, type AuditEvent, type SerializedAuditEvent, type Store } from '../store/index.js';
import { boundEvent, RepeatedDenials } from './bounds.js';
import type { AuditKind } from './kinds.js';

export { boundEvent, addressPrefix, isAnonymousDenial, MAX_AUDIT_STRING, MAX_AUDIT_ITEMS } from './bounds.js';
export { readAuditTrail, parseTimeBound, auditEventJson, formatAuditEvent } from './query.js';
export type { AuditTrailQuery, AuditTrail } from './query.js';
export { AUDIT_KINDS, isAuditKind } from './kinds.js';
export type { AuditKind } from './kinds.js';

/** An event to record: one of the known kinds; the time defaults to now. */
export type AuditEventInput = Omit<AuditEvent, 'time' | 'kind'> & { time?: number; kind: AuditKind };

/** Anything that records audit events (the server's `AuditLog`, or a CLI's). */
export interface AuditSink {
  emit(event: AuditEventInput): void;
}

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
  /**
   * Events held (queued or being written) before new ones are dropped, so a
   * store outage cannot exhaust memory (default 100 000). Drops are logged.
   */
  readonly maxPending?: number;
  /** Prune once shortly after start (default true). */
  readonly pruneOnStart?: boolean;
  /** Interval over which repeated anonymous denials are counted into one row (default 60 s). */
  readonly repeatIntervalMs?: number;
  /** Distinct anonymous-denial groups per interval before client prefixes are merged (default 1024). */
  readonly repeatMaxGroups?: number;
  /** First wait before a failed batch is written again, doubling to 10 s (default 250 ms). */
  readonly retryDelayMs?: number;
  /** How long `close()` keeps retrying a failing store before giving up on what is queued (default 5 s). */
  readonly closeTimeoutMs?: number;
  /**
   * Whether this process should do cluster-wide upkeep now (retention): a
   * lease held by one replica at a time. Default: always.
   */
  readonly lease?: () => Promise<boolean>;
  /** Sees every recorded event (the metrics count sign-ins from it). */
  readonly onEvent?: (e: AuditEvent) => void;
}

// Event ids: unique across replicas (a random per-process prefix) and cheap
// (a counter), so a batch written twice after an ambiguous failure is stored once.
const EVENT_ID_PREFIX = randomBytes(9).toString('base64url');
let eventCounter = 0;

/** A new audit event id, unique across processes. */
export function newAuditEventId(): string {
  eventCounter = (eventCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${EVENT_ID_PREFIX}.${eventCounter.toString(36)}`;
}

const PRUNE_INTERVAL_MS = 60 * 60 * 1000;

export class AuditLog implements AuditSink {
  private queue: AuditEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly pruneTimer: NodeJS.Timeout;
  private startPrune: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private inFlight = 0;
  private dropped = 0;
  private readonly now: () => number;
  /** Failed batches waiting to be written again, oldest first. */
  private retrying: AuditEvent[][] = [];
  private retryingCount = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay: number;
  private closing = false;
  private readonly repeats: RepeatedDenials;
  private readonly repeatTimer: NodeJS.Timeout;

  constructor(private readonly opts: AuditOptions) {
    this.now = opts.now ?? Date.now;
    this.retryDelay = opts.retryDelayMs ?? 250;
    const intervalMs = opts.repeatIntervalMs ?? 60_000;
    this.repeats = new RepeatedDenials({ intervalMs, maxGroups: opts.repeatMaxGroups ?? 1024 });
    // Summaries go out when traffic stops too, not only at the next denial.
    this.repeatTimer = setInterval(() => { this.endInterval(); }, intervalMs);
    this.repeatTimer.unref();
    this.pruneTimer = setInterval(() => { void this.prune(); }, PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
    if (opts.pruneOnStart !== false) {
      this.startPrune = setTimeout(() => { this.startPrune = undefined; void this.prune(); }, 1000);
      this.startPrune.unref();
    }
  }

  /**
   * Records one event: bounded in size, logged at once, stored with the next
   * batch; a repeated anonymous denial is only counted (see bounds.ts).
   * Never throws, never waits.
   */
  emit(event: AuditEventInput): void {
    // Callers pass a fresh object literal; stamping it in place saves a copy
    // per request on the hot path.
    if (event.time === undefined) (event as { time?: number }).time = this.now();
    const e = boundEvent(event as AuditEvent);
    if (this.repeats.due(e.time)) this.endInterval();
    if (this.repeats.absorb(e)) return;
    this.record(e);
  }

  /** Ends the counting interval: one `repeated: N` row per group of repeated anonymous denials. */
  endInterval(): void {
    for (const summary of this.repeats.drain(this.now())) this.record(summary);
  }

  /** What is stored is also one JSON log line (CONTRACT §6). */
  private record(e: AuditEvent): void {
    if (e.id === undefined) (e as { id?: string }).id = newAuditEventId();
    if (this.opts.logLines !== false) {
      const logger = this.opts.logger;
      if (logger.line) logger.line(logLineJson(e), true);
      else logger.record(logLine(e));
    }
    this.opts.onEvent?.(e);
    if (this.pending() >= (this.opts.maxPending ?? 100_000)) {
      this.dropped++;
      return;
    }
    this.queue.push(e);
    if (this.queue.length >= (this.opts.batchSize ?? 256)) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => { void this.flush(); }, this.opts.flushIntervalMs ?? 250);
      this.timer.unref();
    }
  }

  /** Events waiting or being written, and events dropped since start (metrics). */
  stats(): { queued: number; dropped: number } {
    return { queued: this.pending(), dropped: this.droppedTotal + this.dropped };
  }

  /**
   * Writes every queued event; resolves when they are stored or, if the
   * write failed, when the batch is set aside to be written again. Failed
   * batches are retried in order with backoff; event ids make a retry of a
   * batch that did reach the store harmless (PostgreSQL keeps one row per
   * id). Only the `maxPending` bound ever drops an event, counted and logged.
   */
  flush(): Promise<void> {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    const batch = this.queue;
    this.queue = [];
    this.reportDropped();
    if (batch.length === 0) return this.flushing;
    this.inFlight += batch.length;
    this.flushing = this.flushing
      .then(() => this.write(batch))
      .finally(() => { this.inFlight -= batch.length; });
    return this.flushing;
  }

  /** Events accepted and not yet stored (queued, being written or waiting for a retry). */
  pending(): number {
    return this.queue.length + this.inFlight + this.retryingCount;
  }

  /** Events dropped because `maxPending` was reached, since start. */
  droppedTotal = 0;

  private reportDropped(): void {
    if (this.dropped > 0) {
      this.opts.logger.error('audit events dropped: the store is not keeping up', { dropped: this.dropped });
      this.droppedTotal += this.dropped;
      this.dropped = 0;
    }
  }

  /** Writes earlier failed batches first (order is kept), then `batch`; a failure keeps them all for a retry. */
  private async write(batch: AuditEvent[]): Promise<void> {
    const all = this.retrying.length > 0 ? [...this.retrying, batch] : [batch];
    this.retrying = [];
    this.retryingCount = 0;
    for (let i = 0; i < all.length; i++) {
      const b = all[i]!;
      if (b.length === 0) continue;
      try {
        await this.opts.store.appendAudit(b);
      } catch (err) {
        this.retrying = all.slice(i).filter((x) => x.length > 0);
        this.retryingCount = this.retrying.reduce((n, x) => n + x.length, 0);
        this.opts.logger.error('audit write failed; will retry', { events: this.retryingCount, error: String((err as Error)?.message ?? err) });
        this.scheduleRetry();
        return;
      }
    }
    this.retryDelay = this.opts.retryDelayMs ?? 250;
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closing) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(delay * 2, 10_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.flushing = this.flushing.then(() => this.write([]));
    }, delay);
    this.retryTimer.unref();
  }

  /** Deletes rows older than the retention period; returns how many. */
  async prune(): Promise<number> {
    try {
      if (this.opts.lease && !(await this.opts.lease())) return 0;
      return await this.opts.store.pruneAudit(this.now() - this.opts.retentionMs);
    } catch (err) {
      this.opts.logger.error('audit prune failed', { error: String((err as Error)?.message ?? err) });
      return 0;
    }
  }

  /**
   * Stops the timers and writes everything accepted, retrying a failing
   * store for up to `closeTimeoutMs`; what still cannot be written is logged
   * with its count.
   */
  async close(): Promise<void> {
    clearInterval(this.pruneTimer);
    clearInterval(this.repeatTimer);
    this.endInterval();
    if (this.startPrune) clearTimeout(this.startPrune);
    this.closing = true;
    if (this.retryTimer) { clearTimeout(this.retryTimer); this.retryTimer = undefined; }
    await this.flush();
    const deadline = Date.now() + (this.opts.closeTimeoutMs ?? 5000);
    let delay = this.opts.retryDelayMs ?? 250;
    while (this.retryingCount > 0 && Date.now() + delay <= deadline) {
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
      this.flushing = this.flushing.then(() => this.write([]));
      await this.flushing;
    }
    if (this.retryingCount > 0) {
      this.opts.logger.error('audit events lost at shutdown: the store could not be written', { events: this.retryingCount });
    }
  }
}

/** Top-level names of the audit line; a detail of the same name makes the slow path write the line. */
const LINE_FIELDS: ReadonlySet<string> = new Set(['time', 'level', 'message', 'audit', 'eventId', 'requestId', 'decision', 'route', 'userId', 'email', 'actor']);

/** The top-level fields that mostly repeat from one event to the next, each with its last fragment kept. */
const TOP = {
  kind: keptTextField('audit'), decision: keptTextField('decision'), route: keptTextField('route'),
  userId: keptTextField('userId'), email: keptTextField('email'), actor: keptTextField('actor'),
};

/**
 * `asciiJson(logLine(e))`, the event's line as ASCII JSON (`\uXXXX` beyond
 * it, the same JSON as JSON.stringify writes), built as a string from
 * fragments that are kept while they repeat (see keptTextField): one line
 * per request, so no intermediate object, and for most fields no escaping.
 * Falls back to that for details whose names would collide with a
 * top-level field or be ordered first by JSON (integer-like names), or
 * whose values are not all strings, numbers, booleans, null or lists of
 * strings.
 */
function logLineJson(e: AuditEvent): string {
  const details = detailsText(e.details);
  if (details === undefined) return asciiJson(logLine(e));
  // The store's row takes the same JSON rather than making it again.
  (e as SerializedAuditEvent)[DETAILS_JSON] = details === '' ? '{}' : `{${details.slice(1)}}`;
  let s = `{"time":"${isoTime(e.time)}","level":"info","message":"audit"${TOP.kind(e.kind)}`;
  if (e.id !== undefined) s += `,"eventId":${asciiJsonString(e.id)}`;
  if (e.requestId !== undefined) s += `,"requestId":${asciiJsonString(e.requestId)}`;
  return `${s}${TOP.decision(e.decision)}${TOP.route(e.route)}${TOP.userId(e.userId)}${TOP.email(e.email)}${TOP.actor(e.actor)}${details}}`;
}

/**
 * Writers of detail fields by name, each keeping its last fragment. Names
 * come from the code that records events, so they are few; past the bound
 * a name's fragment is made each time.
 */
const detailFields = new Map<string, (v: unknown) => string | undefined>();
const MAX_DETAIL_FIELDS = 256;

/**
 * The details as `,"name":value` fragments in JSON's order (ASCII JSON), or
 * undefined when JSON.stringify must write them (see logLineJson).
 */
function detailsText(d: Readonly<Record<string, unknown>> | undefined): string | undefined {
  let out = '';
  for (const k in d) {
    if (!Object.hasOwn(d, k)) return undefined;
    // A name with a writer was checked when the writer was made: only a new name is checked here.
    let write = detailFields.get(k);
    if (write === undefined) {
      const c = k.charCodeAt(0);
      if ((c >= 48 && c <= 57) || LINE_FIELDS.has(k)) return undefined;
      write = detailField(k);
      if (detailFields.size < MAX_DETAIL_FIELDS) detailFields.set(k, write);
    }
    const v = d[k];
    if (v === undefined) continue; // as JSON.stringify: the name left out
    const fragment = write(v);
    if (fragment === undefined) return undefined;
    out += fragment;
  }
  return out;
}

/** A detail's `,"name":value` writer, keeping the last fragment; undefined for a value it does not write. */
function detailField(name: string): (v: unknown) => string | undefined {
  const k = jsonKey(name);
  /** The last value written: a primitive, or a copy of a list's strings (a list may be changed after it was given). */
  let last: unknown;
  let lastFragment: string | undefined;
  return (v) => {
    let value: string;
    if (Array.isArray(v)) {
      if (!allStrings(v)) return undefined;
      // A list of reasons: a fresh array per decision, mostly with the last one's strings.
      if (lastFragment !== undefined && Array.isArray(last) && sameStrings(v, last)) return lastFragment;
      value = asciiJson(v);
      last = v.slice();
    } else {
      if (v === last && lastFragment !== undefined) return lastFragment;
      if (typeof v === 'string') value = asciiJsonString(v);
      else if (typeof v === 'number') value = Number.isFinite(v) ? String(v) : 'null';
      else if (typeof v === 'boolean') value = v ? 'true' : 'false';
      else if (v === null) value = 'null';
      else return undefined;
      last = v;
    }
    lastFragment = flat(k + value);
    return lastFragment;
  };
}

function allStrings(a: readonly unknown[]): boolean {
  for (let i = 0; i < a.length; i++) if (typeof a[i] !== 'string') return false;
  return true;
}

function sameStrings(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The JSON log line of an event: top-level fields, then its details, flattened. */
function logLine(e: AuditEvent): Record<string, unknown> {
  const line: Record<string, unknown> = { time: isoTime(e.time), level: 'info', message: 'audit', audit: e.kind };
  if (e.id !== undefined) line.eventId = e.id;
  if (e.requestId !== undefined) line.requestId = e.requestId;
  if (e.decision !== undefined) line.decision = e.decision;
  if (e.route !== undefined) line.route = e.route;
  if (e.userId !== undefined) line.userId = e.userId;
  if (e.email !== undefined) line.email = e.email;
  if (e.actor !== undefined) line.actor = e.actor;
  const d = e.details;
  for (const k in d) line[k] = d[k];
  return line;
}
