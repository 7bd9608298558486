/**
 * Pieces every backend shares, so memory, SQLite and PostgreSQL behave the
 * same: argument checks, id ordering, JSON encoding, audit row mapping and the
 * fan-out of change events to watchers.
 */

import type { AuditEvent, AuditQuery, ChangeEvent, PutOptions, StoredAuditEvent, StoredRecord } from './types.js';

/** A record about to be written (`put`, `replace`): key checked, data encoded, index and expiry validated. */
export interface PendingWrite {
  readonly type: string;
  readonly id: string;
  readonly text: string;
  readonly index: string | undefined;
  readonly at: number;
  readonly expiresAt: number | undefined;
}

export function prepareWrite(type: string, id: string, data: unknown, opts: PutOptions, now: number | undefined, clock: () => number): PendingWrite {
  assertKey(type, id);
  const at = resolveNow(now, clock);
  const text = encodeData(data);
  const index = toIndex(opts.index);
  const expiresAt = opts.expiresAt === undefined ? undefined : toTime('expiresAt', opts.expiresAt);
  return { type, id, text, index, at, expiresAt };
}

/** What `put`/`replace` return for a write stored as `version`: a fresh copy of the data. */
export function writtenRecord<T>(w: PendingWrite, version: number): StoredRecord<T> {
  return { type: w.type, id: w.id, data: JSON.parse(w.text) as T, index: w.index, version, modifiedAt: w.at, expiresAt: w.expiresAt };
}

/** Longest accepted record type, in UTF-16 code units. */
export const MAX_TYPE_LENGTH = 256;
/**
 * Longest accepted record id, in UTF-16 code units. Bounded so that a change
 * notification always fits PostgreSQL's 8000-byte NOTIFY payload.
 */
export const MAX_ID_LENGTH = 1024;
/** `queryAudit` returns at most this many events unless told otherwise. */
export const DEFAULT_AUDIT_LIMIT = 1000;

/**
 * Whether `s` has no lone surrogate: `String.prototype.isWellFormed`
 * (ES2024, in every Node.js this project runs on, not in its TypeScript
 * `lib`), which answers a string of one-byte characters without reading it.
 */
export function isWellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/**
 * Whether `s` can be stored as a record type or id by every backend: non-empty,
 * bounded, no NUL (PostgreSQL text cannot hold one) and well-formed UTF-16 (a
 * lone surrogate would not survive the UTF-8 round trip).
 */
export function isStorableKey(s: unknown, max: number): s is string {
  return typeof s === 'string' && s.length > 0 && s.length <= max && !s.includes('\0') && isWellFormed(s);
}

/** Throws a TypeError unless `type` and `id` are storable. */
export function assertKey(type: unknown, id: unknown): asserts type is string {
  if (!isStorableKey(type, MAX_TYPE_LENGTH)) {
    throw new TypeError(`record type must be a non-empty well-formed string of at most ${MAX_TYPE_LENGTH} characters without NUL`);
  }
  if (!isStorableKey(id, MAX_ID_LENGTH)) {
    throw new TypeError(`record id must be a non-empty well-formed string of at most ${MAX_ID_LENGTH} characters without NUL`);
  }
}

/** True when (type, id) could name a stored record; lookups of anything else find nothing. */
export function isLookupKey(type: unknown, id: unknown): boolean {
  return isStorableKey(type, MAX_TYPE_LENGTH) && isStorableKey(id, MAX_ID_LENGTH);
}

/** A time in ms since epoch: finite, truncated to an integer. */
export function toTime(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`${name} must be a finite number of milliseconds`);
  }
  return Math.floor(value);
}

/** `now` if given, else the store's clock. */
export function resolveNow(now: number | undefined, clock: () => number): number {
  return toTime('now', now === undefined ? clock() : now);
}

/** A limit: undefined for none, else a non-negative integer. */
export function toLimit(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError('limit must be a non-negative integer');
  }
  return value;
}

/** Serialises record data; only JSON objects and arrays are accepted. */
export function encodeData(data: unknown): string {
  if (data === null || typeof data !== 'object') {
    throw new TypeError('record data must be a JSON object');
  }
  // JSON.stringify throws TypeError itself on cycles and BigInt.
  return JSON.stringify(data);
}

/** Validates an optional secondary index value. */
export function toIndex(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.includes('\0') || !isWellFormed(value)) {
    throw new TypeError('index must be a well-formed string without NUL');
  }
  return value;
}

/**
 * An index to list by: as toIndex, except that a string no record can be
 * stored under (NUL, lone surrogate) gives null, "finds nothing", as get
 * does for such an id. Lists by client-supplied values (an email, a group
 * name, a SCIM filter) must not turn into a 500.
 */
export function toLookupIndex(value: unknown): string | undefined | null {
  if (typeof value === 'string' && (value.includes('\0') || !isWellFormed(value))) return null;
  return toIndex(value);
}

/**
 * Orders ids by Unicode code point, which is what SQLite (memcmp of UTF-8) and
 * PostgreSQL (`COLLATE "C"` on UTF-8) do, so every backend lists in one order.
 * JavaScript's `<` compares UTF-16 code units instead, which puts U+10000 and
 * above before U+E000..U+FFFF; shifting the two ranges fixes that up.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixupCodeUnit(x) - fixupCodeUnit(y);
  }
  return a.length - b.length;
}

function fixupCodeUnit(c: number): number {
  if (c >= 0xd800 && c <= 0xdfff) return c + 0x2000;
  if (c >= 0xe000) return c - 0x800;
  return c;
}

/** The columns a backend keeps for a record, as plain values. */
export interface RecordRow {
  readonly type: string;
  readonly id: string;
  readonly data: string;
  readonly idx: string | null;
  readonly version: number | string;
  readonly modified_at: number | string;
  readonly expires_at: number | string | null;
}

/** Builds a record from a database row (PostgreSQL returns BIGINT as text). */
export function recordFromRow<T>(row: RecordRow): StoredRecord<T> {
  return {
    type: row.type,
    id: row.id,
    data: JSON.parse(row.data) as T,
    index: row.idx ?? undefined,
    version: Number(row.version),
    modifiedAt: Number(row.modified_at),
    expiresAt: row.expires_at === null ? undefined : Number(row.expires_at),
  };
}

/** An audit event checked and flattened into column values. */
export interface AuditRow {
  readonly time: number;
  readonly kind: string;
  readonly request_id: string | null;
  readonly decision: string | null;
  readonly route: string | null;
  readonly user_id: string | null;
  readonly email: string | null;
  /** Lower-cased in JavaScript so every backend folds case the same way. */
  readonly email_lower: string | null;
  readonly actor: string | null;
  readonly details: string;
  readonly event_id: string | null;
}

function optionalText(name: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.includes('\0') || !isWellFormed(value)) {
    throw new TypeError(`audit event ${name} must be a well-formed string without NUL`);
  }
  return value;
}

/**
 * Where the audit log leaves `JSON.stringify(event.details)` when it has
 * already made it for the event's log line, so that the store does not
 * serialize the same details a second time. A symbol: never serialized,
 * never listed with the event's fields.
 */
export const DETAILS_JSON: unique symbol = Symbol('limen.audit.detailsJson');

/** An audit event that may carry its details already serialized (see DETAILS_JSON). */
export type SerializedAuditEvent = AuditEvent & { [DETAILS_JSON]?: string };

/** Checks an audit event and turns it into column values. */
export function auditRowFromEvent(e: SerializedAuditEvent): AuditRow {
  if (e === null || typeof e !== 'object') throw new TypeError('audit event must be an object');
  if (typeof e.kind !== 'string' || e.kind === '' || e.kind.includes('\0') || !isWellFormed(e.kind)) {
    throw new TypeError('audit event kind must be a non-empty well-formed string');
  }
  const details = e.details ?? {};
  if (typeof details !== 'object' || Array.isArray(details)) {
    throw new TypeError('audit event details must be a JSON object');
  }
  const email = optionalText('email', e.email);
  return {
    time: toTime('audit event time', e.time),
    kind: e.kind,
    request_id: optionalText('requestId', e.requestId),
    decision: optionalText('decision', e.decision),
    route: optionalText('route', e.route),
    user_id: optionalText('userId', e.userId),
    email,
    email_lower: email === null ? null : email.toLowerCase(),
    actor: optionalText('actor', e.actor),
    details: e[DETAILS_JSON] ?? JSON.stringify(details),
    event_id: optionalText('id', e.id),
  };
}

/** Builds a stored audit event from a row; absent optional fields are left out, not undefined. */
export function auditEventFromRow(row: AuditRow & { readonly seq: number | string }): StoredAuditEvent {
  const e: {
    -readonly [K in keyof StoredAuditEvent]: StoredAuditEvent[K];
  } = {
    seq: Number(row.seq),
    time: Number(row.time),
    kind: row.kind,
    details: JSON.parse(row.details) as Record<string, unknown>,
  };
  if (row.request_id !== null) e.requestId = row.request_id;
  if (row.decision !== null) e.decision = row.decision;
  if (row.route !== null) e.route = row.route;
  if (row.user_id !== null) e.userId = row.user_id;
  if (row.email !== null) e.email = row.email;
  if (row.actor !== null) e.actor = row.actor;
  if (row.event_id !== null && row.event_id !== undefined) e.id = row.event_id;
  return e;
}

/** A checked audit query: the same filters every backend applies. */
export interface AuditFilter {
  readonly since: number | undefined;
  readonly until: number | undefined;
  readonly afterSeq: number | undefined;
  readonly userId: string | undefined;
  readonly emailLower: string | undefined;
  readonly route: string | undefined;
  readonly decision: string | undefined;
  readonly kind: string | undefined;
  readonly limit: number;
}

function optionalFilter(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new TypeError(`audit query ${name} must be a string`);
  return value;
}

/** Checks an audit query. `since` is inclusive, `until` exclusive. */
export function toAuditFilter(q: AuditQuery): AuditFilter {
  if (q === null || typeof q !== 'object') throw new TypeError('audit query must be an object');
  const email = optionalFilter('email', q.email);
  return {
    since: q.since === undefined ? undefined : toTime('since', q.since),
    until: q.until === undefined ? undefined : toTime('until', q.until),
    afterSeq: q.afterSeq === undefined ? undefined : toSeq(q.afterSeq),
    userId: optionalFilter('userId', q.userId),
    emailLower: email === undefined ? undefined : email.toLowerCase(),
    route: optionalFilter('route', q.route),
    decision: optionalFilter('decision', q.decision),
    kind: optionalFilter('kind', q.kind),
    limit: toLimit(q.limit) ?? DEFAULT_AUDIT_LIMIT,
  };
}

function toSeq(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError('audit query afterSeq must be a non-negative integer');
  }
  return value;
}

/** Whether a row passes a filter (for the memory backend). */
export function auditRowMatches(row: AuditRow & { readonly seq: number }, f: AuditFilter): boolean {
  return (
    (f.afterSeq === undefined || row.seq > f.afterSeq) &&
    (f.since === undefined || row.time >= f.since) &&
    (f.until === undefined || row.time < f.until) &&
    (f.userId === undefined || row.user_id === f.userId) &&
    (f.emailLower === undefined || row.email_lower === f.emailLower) &&
    (f.route === undefined || row.route === f.route) &&
    (f.decision === undefined || row.decision === f.decision) &&
    (f.kind === undefined || row.kind === f.kind)
  );
}

/**
 * Calls every watcher for each change. A watcher that throws does not stop the
 * others or fail the write that caused the event; its error goes to `onError`.
 */
export class ChangeFanout {
  readonly #listeners = new Set<(e: ChangeEvent) => void>();
  readonly #onError: (err: unknown) => void;

  constructor(onError: ((err: unknown) => void) | undefined) {
    this.#onError = onError ?? reportListenerError;
  }

  get size(): number {
    return this.#listeners.size;
  }

  /** Adds a listener; returns a function that removes it (idempotent). */
  add(listener: (e: ChangeEvent) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('watch listener must be a function');
    // Wrap so that the same function subscribed twice gets two subscriptions.
    const entry = (e: ChangeEvent): void => listener(e);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  emit(e: ChangeEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(e);
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}

function reportListenerError(err: unknown): void {
  process.emitWarning(err instanceof Error ? err : new Error('store watch listener threw a non-Error value'), {
    code: 'LIMEN_STORE_WATCH_LISTENER',
  });
}

/**
 * A bounded set of recently seen versions, used to drop the echo of this
 * instance's own writes when they come back through polling or NOTIFY.
 */
export class RecentVersions {
  readonly #set = new Set<number>();
  readonly #max: number;

  constructor(max = 4096) {
    this.#max = max;
  }

  get size(): number {
    return this.#set.size;
  }

  add(v: number): void {
    this.#set.add(v);
    if (this.#set.size > this.#max) {
      // Sets iterate in insertion order: drop the oldest.
      const oldest = this.#set.values().next();
      if (oldest.done !== true) this.#set.delete(oldest.value);
    }
  }

  /** Removes `v`; true if it was there. */
  take(v: number): boolean {
    return this.#set.delete(v);
  }

  has(v: number): boolean {
    return this.#set.has(v);
  }

  clear(): void {
    this.#set.clear();
  }
}

/** Options every backend accepts. */
export interface StoreOptions {
  /** Clock for default `now` values and bookkeeping; defaults to `Date.now`. */
  readonly clock?: () => number;
  /** Receives errors thrown by watch listeners; defaults to a process warning. */
  readonly onListenerError?: (err: unknown) => void;
}
