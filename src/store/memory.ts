/**
 * In-process store for tests and `databroker_storage_type: memory`. Nothing
 * survives a restart and replicas do not share it. Data is kept as JSON text
 * so callers get fresh copies and the same round-trip behaviour as the
 * database backends.
 */

import {
  ChangeFanout,
  assertKey,
  auditEventFromRow,
  auditRowFromEvent,
  auditRowMatches,
  compareCodePoints,
  isLookupKey,
  recordFromRow,
  resolveNow,
  toAuditFilter,
  toLookupIndex,
  toLimit,
  toTime,
  prepareWrite,
  type AuditRow,
  type RecordRow,
  type StoreOptions,
} from './common.js';
import { jsonString } from '../log/index.js';
import { StoreError } from './errors.js';
import type {
  AuditEvent,
  AuditQuery,
  ChangeEvent,
  ListOptions,
  PutOptions,
  Store,
  StoredAuditEvent,
  StoredRecord,
} from './types.js';

interface Entry extends RecordRow {
  readonly idx: string | null;
  readonly version: number;
  readonly modified_at: number;
  readonly expires_at: number | null;
}

function isLive(e: Entry, now: number): boolean {
  return e.expires_at === null || e.expires_at > now;
}

/**
 * Audit events the memory store keeps, newest last: with `audit_retention`,
 * the bound on its trail. The memory store loses everything at a restart
 * anyway; without a bound, a busy process grew by every request it served
 * (issue 16: +65% RSS over a soak).
 */
export const MEMORY_AUDIT_MAX = 50_000;

export interface MemoryStoreOptions {
  /** Most audit events kept (default MEMORY_AUDIT_MAX); the oldest batches go first. */
  readonly maxAuditEvents?: number;
}

/** A Store held in memory. */
export class MemoryStore implements Store {
  readonly kind = 'memory';
  readonly #records = new Map<string, Map<string, Entry>>();
  /** The audit trail, one packed page per append (see `AuditPage`), oldest first. */
  #audit: AuditPage[] = [];
  /** Rows in `#audit`, kept at most `#maxAudit` (oldest pages dropped first). */
  #auditCount = 0;
  readonly #maxAudit: number;
  readonly #changes: ChangeFanout;
  readonly #clock: () => number;
  #version = 0;
  #seq = 0;
  #closed = false;

  constructor(opts: StoreOptions & MemoryStoreOptions = {}) {
    this.#maxAudit = opts.maxAuditEvents ?? MEMORY_AUDIT_MAX;
    this.#clock = opts.clock ?? Date.now;
    this.#changes = new ChangeFanout(opts.onListenerError);
  }

  #open(): void {
    if (this.#closed) throw new StoreError('ERR_STORE_CLOSED', 'store is closed');
  }

  async get<T = Record<string, unknown>>(type: string, id: string, now?: number): Promise<StoredRecord<T> | null> {
    this.#open();
    const at = resolveNow(now, this.#clock);
    if (!isLookupKey(type, id)) return null;
    const e = this.#records.get(type)?.get(id);
    return e !== undefined && isLive(e, at) ? recordFromRow<T>(e) : null;
  }

  async replace<T = Record<string, unknown>>(type: string, id: string, data: T, opts: PutOptions = {}, now?: number): Promise<StoredRecord<T> | null> {
    this.#open();
    assertKey(type, id);
    const e = this.#records.get(type)?.get(id);
    if (e === undefined || !isLive(e, resolveNow(now, this.#clock))) return null;
    return this.put(type, id, data, opts, now);
  }

  async put<T = Record<string, unknown>>(type: string, id: string, data: T, opts: PutOptions = {}, now?: number): Promise<StoredRecord<T>> {
    this.#open();
    const { at, text, index, expiresAt } = prepareWrite(type, id, data, opts, now, this.#clock);
    let byId = this.#records.get(type);
    if (byId === undefined) {
      byId = new Map();
      this.#records.set(type, byId);
    }
    const entry: Entry = {
      type,
      id,
      data: text,
      idx: index ?? null,
      version: ++this.#version,
      modified_at: at,
      expires_at: expiresAt ?? null,
    };
    byId.set(id, entry);
    this.#changes.emit({ type, id, version: entry.version });
    return recordFromRow<T>(entry);
  }

  async delete(type: string, id: string): Promise<boolean> {
    this.#open();
    if (!isLookupKey(type, id)) return false;
    const byId = this.#records.get(type);
    if (byId === undefined || !byId.delete(id)) return false;
    this.#changes.emit({ type, id, version: ++this.#version });
    return true;
  }

  async list<T = Record<string, unknown>>(type: string, opts: ListOptions = {}, now?: number): Promise<StoredRecord<T>[]> {
    this.#open();
    const at = resolveNow(now, this.#clock);
    const limit = toLimit(opts.limit);
    const index = toLookupIndex(opts.index);
    if (index === null) return [];
    const byId = this.#records.get(type);
    if (byId === undefined || limit === 0) return [];
    const ids = [...byId.keys()].sort(compareCodePoints);
    const out: StoredRecord<T>[] = [];
    for (const id of ids) {
      const e = byId.get(id);
      if (e === undefined || !isLive(e, at) || (index !== undefined && e.idx !== index)) continue;
      out.push(recordFromRow<T>(e));
      if (limit !== undefined && out.length >= limit) break;
    }
    return out;
  }

  readonly #leases = new Map<string, { holder: string; expiresAt: number }>();

  async tryLease(name: string, holder: string, ttlMs: number, now?: number): Promise<boolean> {
    this.#open();
    const at = resolveNow(now, this.#clock);
    const cur = this.#leases.get(name);
    if (cur !== undefined && cur.holder !== holder && cur.expiresAt > at) return false;
    this.#leases.set(name, { holder, expiresAt: at + toTime('ttlMs', ttlMs) });
    return true;
  }

  async purgeExpired(now?: number): Promise<number> {
    this.#open();
    const at = resolveNow(now, this.#clock);
    const removed: ChangeEvent[] = [];
    for (const [type, byId] of this.#records) {
      for (const [id, e] of byId) {
        if (isLive(e, at)) continue;
        byId.delete(id);
        removed.push({ type, id, version: ++this.#version });
      }
    }
    for (const e of removed) this.#changes.emit(e);
    return removed.length;
  }

  async appendAudit(events: readonly AuditEvent[]): Promise<void> {
    this.#open();
    // Check every event before storing any, so a bad batch stores nothing.
    const rows = events.map(auditRowFromEvent);
    if (rows.length === 0) return;
    const firstSeq = this.#seq + 1;
    this.#seq += rows.length;
    this.#audit.push(packRows(rows, (i) => firstSeq + i));
    this.#auditCount += rows.length;
    // A process's memory is no archive: the trail is bounded like the store's other tables, by count.
    while (this.#auditCount > this.#maxAudit && this.#audit.length > 1) this.#auditCount -= this.#audit.shift()!.count;
  }

  async queryAudit(q: AuditQuery): Promise<StoredAuditEvent[]> {
    this.#open();
    const f = toAuditFilter(q);
    const out: StoredAuditEvent[] = [];
    if (f.limit === 0) return out;
    for (const page of this.#audit) {
      if ((f.until !== undefined && page.minTime >= f.until) || (f.since !== undefined && page.maxTime < f.since)) continue;
      for (const row of unpackAuditPage(page)) {
        if (!auditRowMatches(row, f)) continue;
        out.push(auditEventFromRow(row));
        if (out.length >= f.limit) return out;
      }
    }
    return out;
  }

  async pruneAudit(before: number): Promise<number> {
    this.#open();
    const cutoff = toTime('before', before);
    let removed = 0;
    const kept: AuditPage[] = [];
    for (const page of this.#audit) {
      if (page.minTime >= cutoff) {
        kept.push(page);
      } else if (page.maxTime < cutoff) {
        removed += page.count;
      } else {
        const rows = unpackAuditPage(page).filter((r) => r.time >= cutoff);
        removed += page.count - rows.length;
        if (rows.length > 0) kept.push(packRows(rows, (i) => rows[i]!.seq));
      }
    }
    this.#audit = kept;
    this.#auditCount -= removed;
    return removed;
  }

  watch(listener: (e: ChangeEvent) => void): () => void {
    this.#open();
    return this.#changes.add(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#changes.clear();
  }
}

/**
 * A run of audit rows kept as one JSON string rather than one object per
 * row: the trail grows with every request and is read rarely, and a few
 * long strings cost the garbage collector nothing to trace, where millions
 * of small live objects make every collection slower (measured with
 * `npm run bench`). Each row is a JSON array: seq, time, the text columns
 * kind, request_id, decision, route, user_id, email, actor and event_id,
 * then `details` embedded as the JSON it already is.
 */
interface AuditPage {
  readonly count: number;
  readonly minTime: number;
  readonly maxTime: number;
  readonly text: string;
}

type SeqRow = AuditRow & { readonly seq: number };

function packRows(rows: readonly AuditRow[], seqOf: (i: number) => number): AuditPage {
  let minTime = Infinity;
  let maxTime = -Infinity;
  const parts: string[] = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (r.time < minTime) minTime = r.time;
    if (r.time > maxTime) maxTime = r.time;
    // The text columns in order, each a JSON string or null: no array per row.
    parts[i] = `[${seqOf(i)},${r.time},${KEPT.kind(r.kind)},${textColumn(r.request_id)},${KEPT.decision(r.decision)},${KEPT.route(r.route)},${KEPT.userId(r.user_id)},${KEPT.email(r.email)},${KEPT.actor(r.actor)},${textColumn(r.event_id)},${r.details}]`;
  }
  // join() makes one flat string; a page built with += would stay a tree of its pieces, each a heap object.
  return { count: rows.length, minTime, maxTime, text: `[${parts.join(',')}]` };
}

function textColumn(v: string | null): string {
  return v === null ? 'null' : jsonString(v);
}

/** `textColumn`, with the last value's text kept: these columns mostly repeat from one row to the next. */
function keptColumn(): (v: string | null) => string {
  let last: string | null = null;
  let lastText = 'null';
  return (v) => {
    if (v !== last) {
      last = v;
      lastText = textColumn(v);
    }
    return lastText;
  };
}
const KEPT = { kind: keptColumn(), decision: keptColumn(), route: keptColumn(), userId: keptColumn(), email: keptColumn(), actor: keptColumn() };

function unpackAuditPage(page: AuditPage): SeqRow[] {
  return (JSON.parse(page.text) as unknown[][]).map((p) => {
    const [seq, time, kind, requestId, decision, route, userId, email, actor, eventId, details] =
      p as [number, number, string, string | null, string | null, string | null, string | null, string | null, string | null, string | null, unknown];
    return {
      seq, time, kind,
      request_id: requestId ?? null,
      decision: decision ?? null,
      route: route ?? null,
      user_id: userId ?? null,
      email: email ?? null,
      email_lower: email == null ? null : email.toLowerCase(),
      actor: actor ?? null,
      details: JSON.stringify(details),
      event_id: eventId ?? null,
    };
  });
}
