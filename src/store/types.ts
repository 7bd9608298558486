/**
 * The narrow storage interface every backend (memory, SQLite, PostgreSQL)
 * implements, in the manner of Pomerium's databroker: typed records of JSON
 * data keyed by (type, id), plus an append-only audit log. Typed repositories
 * (sessions, service accounts, directory, external data) sit on top of it.
 */

/** A stored record. `data` is any JSON-serialisable object. */
export interface StoredRecord<T = Record<string, unknown>> {
  readonly type: string;
  readonly id: string;
  readonly data: T;
  /**
   * Optional secondary key for lookups (e.g. a session's user id, a user's
   * lower-cased email). Not unique.
   */
  readonly index: string | undefined;
  /** Monotonic per store; increases on every put/delete of any record. */
  readonly version: number;
  /** ms since epoch of the last write. */
  readonly modifiedAt: number;
  /**
   * ms since epoch after which the record is treated as absent; undefined = never.
   * Absent from that instant on (`now >= expiresAt`), like a JWT `exp`.
   */
  readonly expiresAt: number | undefined;
}

export interface PutOptions {
  readonly index?: string | undefined;
  readonly expiresAt?: number | undefined;
}

export interface ListOptions {
  /** Only records with this secondary index value. */
  readonly index?: string;
  /** Maximum number of records, default unlimited. */
  readonly limit?: number;
}

export interface AuditEvent {
  /**
   * Unique id (the audit log assigns one). Stored once: a batch written
   * again after an ambiguous failure adds no second row (SQLite, PostgreSQL).
   */
  readonly id?: string | undefined;
  /** ms since epoch. */
  readonly time: number;
  /** e.g. `authorize`, `sign_in`, `service_account.create`. */
  readonly kind: string;
  readonly requestId?: string | undefined;
  /** `allow` | `deny` | `login` for decisions; undefined otherwise. */
  readonly decision?: string | undefined;
  readonly route?: string | undefined;
  readonly userId?: string | undefined;
  readonly email?: string | undefined;
  /** Whoever acted (administrator for admin changes, impersonator). */
  readonly actor?: string | undefined;
  /** Everything else: reasons, host, path, ip, session id, ... */
  readonly details: Readonly<Record<string, unknown>>;
}

export interface StoredAuditEvent extends AuditEvent {
  /** Monotonic id, defines order. */
  readonly seq: number;
}

export interface AuditQuery {
  /** Inclusive: events with `time >= since`. */
  readonly since?: number;
  /** Exclusive: events with `time < until`. */
  readonly until?: number;
  /**
   * Exclusive: events stored after the one with this sequence number
   * (`seq > afterSeq`), for paging in the order results come in (by `seq`).
   * Paging by time instead skips events when several writers interleave:
   * their `seq` order is not their time order.
   */
  readonly afterSeq?: number;
  readonly userId?: string;
  /** Matches `email` exactly (case-insensitive). */
  readonly email?: string;
  readonly route?: string;
  readonly decision?: string;
  readonly kind?: string;
  /** Default 1000. */
  readonly limit?: number;
}

/** Fired after any record change, possibly from another replica. */
export interface ChangeEvent {
  readonly type: string;
  readonly id: string;
  readonly version: number;
}

/**
 * Types and ids are non-empty, well-formed strings without NUL, at most 256
 * and 1024 characters: `put` throws a TypeError for anything else, and `get`
 * and `delete` find nothing. Data is stored as JSON (dates become strings,
 * undefined fields drop) and every read returns a fresh copy. Lists are
 * ordered by Unicode code point, the same in every backend.
 */
export interface Store {
  /** `memory` | `sqlite` | `postgres`. */
  readonly kind: string;
  get<T = Record<string, unknown>>(type: string, id: string, now?: number): Promise<StoredRecord<T> | null>;
  /** Insert or replace; returns the stored record with its new version. */
  put<T = Record<string, unknown>>(type: string, id: string, data: T, opts?: PutOptions, now?: number): Promise<StoredRecord<T>>;
  /**
   * Replace a record only while it exists and has not expired; null when it
   * is gone. For write-backs (a session refreshed, impersonation ended) that
   * must never bring back a record someone deleted meanwhile (a revocation).
   */
  replace<T = Record<string, unknown>>(type: string, id: string, data: T, opts?: PutOptions, now?: number): Promise<StoredRecord<T> | null>;
  /** Returns true if a record was removed. */
  delete(type: string, id: string): Promise<boolean>;
  /** Records of one type, ordered by id; expired ones are left out. */
  list<T = Record<string, unknown>>(type: string, opts?: ListOptions, now?: number): Promise<StoredRecord<T>[]>;
  /** Removes expired records; returns how many. */
  purgeExpired(now?: number): Promise<number>;
  /**
   * Takes or renews the lease `name` for `holder` until `now + ttlMs`, when
   * it is free, expired or already `holder`'s; true when `holder` holds it.
   * Work that must run once per cluster (cleanup, retention) runs only on
   * the holder; a holder that dies hands on after `ttlMs`.
   */
  tryLease(name: string, holder: string, ttlMs: number, now?: number): Promise<boolean>;
  /** Appends events in order, atomically. */
  appendAudit(events: readonly AuditEvent[]): Promise<void>;
  /** Events matching the query, oldest first. */
  queryAudit(q: AuditQuery): Promise<StoredAuditEvent[]>;
  /** Deletes events older than `before` (ms); returns how many. */
  pruneAudit(before: number): Promise<number>;
  /**
   * Subscribes to record changes (including those made by other processes
   * on the same database, with a short delay); returns an unsubscribe.
   * This instance's own writes are reported before the write's promise
   * resolves. Rarely an event may arrive twice, so listeners should be
   * idempotent (e.g. drop a cache entry).
   */
  watch(listener: (e: ChangeEvent) => void): () => void;
  close(): Promise<void>;
}
