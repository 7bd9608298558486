/**
 * The default store: one SQLite file (better-sqlite3), shared safely by a
 * running server and CLI processes. WAL mode lets readers and a writer work at
 * once; a busy timeout makes a second writer wait instead of failing.
 *
 * Every write appends to a `changes` log whose AUTOINCREMENT key is the record
 * version, so versions never repeat even after the log is trimmed. Watchers in
 * this process are told at once; changes committed by other processes are
 * found by polling `PRAGMA data_version` (which moves only when another
 * connection commits) and reading the log from the last version seen.
 */

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

import {
  ChangeFanout,
  RecentVersions,
  auditEventFromRow,
  auditRowFromEvent,
  isLookupKey,
  recordFromRow,
  resolveNow,
  toAuditFilter,
  toLookupIndex,
  toLimit,
  toTime,
  type AuditFilter,
  prepareWrite,
  writtenRecord,
  type AuditRow,
  type PendingWrite,
  type RecordRow,
  type StoreOptions,
} from './common.js';
import { StoreError, scrubCause } from './errors.js';
import { INSERT_AUDIT_SQL, SqliteAuditWriter, auditValues } from './sqlite-audit.js';
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

export interface SqliteStoreOptions extends StoreOptions {
  /** Database file path (or a `file:` URL); its directory is created. `:memory:` is allowed. */
  readonly path: string;
  /** How often other processes' changes are looked for while someone watches; default 200 ms. */
  readonly pollIntervalMs?: number;
  /** How long to wait for another process's write lock; default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /**
   * Write audit batches from a worker thread with its own connection
   * (sqlite-audit.ts) instead of on the caller's thread; default true.
   * A `:memory:` database has no second connection and always writes inline.
   */
  readonly auditWorker?: boolean;
}

/** Schema migrations, applied in order; the index + 1 is the schema version. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE records (
    type        TEXT NOT NULL,
    id          TEXT NOT NULL,
    data        TEXT NOT NULL,
    idx         TEXT,
    version     INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    expires_at  INTEGER,
    PRIMARY KEY (type, id)
  ) WITHOUT ROWID;
  CREATE INDEX records_by_index ON records (type, idx, id) WHERE idx IS NOT NULL;
  CREATE INDEX records_by_expiry ON records (expires_at) WHERE expires_at IS NOT NULL;

  CREATE TABLE changes (
    version    INTEGER PRIMARY KEY AUTOINCREMENT,
    type       TEXT NOT NULL,
    id         TEXT NOT NULL,
    changed_at INTEGER NOT NULL
  );

  CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    time        INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    request_id  TEXT,
    decision    TEXT,
    route       TEXT,
    user_id     TEXT,
    email       TEXT,
    email_lower TEXT,
    actor       TEXT,
    details     TEXT NOT NULL
  );
  CREATE INDEX audit_by_time ON audit (time);
  CREATE INDEX audit_by_user ON audit (user_id) WHERE user_id IS NOT NULL;
  CREATE INDEX audit_by_email ON audit (email_lower) WHERE email_lower IS NOT NULL;
  `,
  `
  ALTER TABLE audit ADD COLUMN event_id TEXT;
  CREATE UNIQUE INDEX audit_by_event_id ON audit (event_id) WHERE event_id IS NOT NULL;
  CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  );
  `,
];

/** Change-log entries older than this are trimmed; a watcher polls far more often. */
const CHANGE_LOG_RETENTION_MS = 10 * 60_000;
/** Trim the change log every this many writes (and on every purgeExpired). */
const TRIM_EVERY_WRITES = 1024;

const RECORD_COLUMNS = 'type, id, data, idx, version, modified_at, expires_at';

function databasePath(path: string): string {
  if (path === ':memory:') return path;
  return path.startsWith('file:') ? fileURLToPath(path) : resolve(path);
}

function migrate(db: Database.Database): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const current = (db.prepare('SELECT max(version) FROM schema_version').pluck().get() as number | null) ?? 0;
    if (current > MIGRATIONS.length) {
      throw new StoreError(
        'ERR_STORE_SCHEMA',
        `SQLite store schema version ${current} is newer than this Limen understands (${MIGRATIONS.length})`,
      );
    }
    for (let v = current + 1; v <= MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v - 1] as string);
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(v);
    }
  }).immediate();
}

/** A Store in an SQLite file. */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly #db: Database.Database;
  readonly #clock: () => number;
  readonly #changes: ChangeFanout;
  readonly #onError: (err: unknown) => void;
  readonly #pollIntervalMs: number;
  /** Versions this instance wrote while watched, so polling does not report them twice. */
  readonly #own = new RecentVersions(65_536);
  readonly #auditQueries = new Map<string, Database.Statement>();
  #timer: NodeJS.Timeout | undefined;
  #lastSeenVersion = 0;
  #lastDataVersion = 0;
  #writesSinceTrim = 0;
  #closed = false;

  readonly #stmt: {
    readonly get: Database.Statement;
    readonly upsert: Database.Statement;
    readonly deleteOne: Database.Statement;
    readonly logChange: Database.Statement;
    readonly list: Database.Statement;
    readonly listByIndex: Database.Statement;
    readonly purge: Database.Statement;
    readonly trimChanges: Database.Statement;
    readonly changesSince: Database.Statement;
    readonly lastVersion: Database.Statement;
    readonly dataVersion: Database.Statement;
    readonly insertAudit: Database.Statement;
    readonly pruneAudit: Database.Statement;
  };
  readonly #putTx: (type: string, id: string, data: string, idx: string | null, at: number, exp: number | null) => number;
  readonly #replaceTx: (type: string, id: string, data: string, idx: string | null, at: number, exp: number | null) => number | undefined;
  readonly #deleteTx: (type: string, id: string) => number | undefined;
  readonly #purgeTx: (at: number) => ChangeEvent[];
  readonly #appendTx: (rows: readonly AuditRow[]) => void;
  readonly #auditWriter: SqliteAuditWriter | undefined;

  /** Opens (creating if needed) the database file and brings its schema up to date. */
  static open(opts: SqliteStoreOptions): SqliteStore {
    if (typeof opts.path !== 'string' || opts.path === '') throw new TypeError('SQLite store path must be a non-empty string');
    const path = databasePath(opts.path);
    let db: Database.Database | undefined;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      db = new Database(path);
      // busy_timeout first: switching to WAL needs a lock another process may hold.
      const busyTimeoutMs = Math.floor(opts.busyTimeoutMs ?? 5000);
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      db.pragma('journal_mode = WAL');
      // NORMAL is durable across application crashes in WAL mode; only power loss can drop the last commits.
      db.pragma('synchronous = NORMAL');
      migrate(db);
      const writer = path !== ':memory:' && opts.auditWorker !== false ? new SqliteAuditWriter(path, busyTimeoutMs) : undefined;
      return new SqliteStore(db, opts, writer);
    } catch (err) {
      db?.close();
      if (err instanceof StoreError) throw err;
      throw new StoreError('ERR_STORE_UNAVAILABLE', `cannot open SQLite store at ${path}`, scrubCause(err, ''));
    }
  }

  private constructor(db: Database.Database, opts: SqliteStoreOptions, auditWriter: SqliteAuditWriter | undefined) {
    this.#db = db;
    this.#auditWriter = auditWriter;
    this.#clock = opts.clock ?? Date.now;
    this.#onError = opts.onListenerError ?? ((err) => process.emitWarning(String(err), { code: 'LIMEN_STORE_WATCH' }));
    this.#changes = new ChangeFanout(opts.onListenerError);
    this.#pollIntervalMs = opts.pollIntervalMs ?? 200;
    const s = {
      get: db.prepare(
        `SELECT ${RECORD_COLUMNS} FROM records WHERE type = ? AND id = ? AND (expires_at IS NULL OR expires_at > ?)`,
      ),
      upsert: db.prepare(
        `INSERT INTO records (${RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (type, id) DO UPDATE SET data = excluded.data, idx = excluded.idx, version = excluded.version,
           modified_at = excluded.modified_at, expires_at = excluded.expires_at`,
      ),
      isLive: db.prepare('SELECT 1 FROM records WHERE type = ? AND id = ? AND (expires_at IS NULL OR expires_at > ?)').pluck(),
      deleteOne: db.prepare('DELETE FROM records WHERE type = ? AND id = ?'),
      logChange: db.prepare('INSERT INTO changes (type, id, changed_at) VALUES (?, ?, ?)'),
      // LIMIT -1 means no limit in SQLite.
      list: db.prepare(
        `SELECT ${RECORD_COLUMNS} FROM records WHERE type = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY id LIMIT ?`,
      ),
      listByIndex: db.prepare(
        `SELECT ${RECORD_COLUMNS} FROM records WHERE type = ? AND idx = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY id LIMIT ?`,
      ),
      purge: db.prepare('DELETE FROM records WHERE expires_at IS NOT NULL AND expires_at <= ? RETURNING type, id'),
      trimChanges: db.prepare('DELETE FROM changes WHERE changed_at < ?'),
      changesSince: db.prepare('SELECT version, type, id FROM changes WHERE version > ? ORDER BY version'),
      lastVersion: db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'changes'`).pluck(),
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
      insertAudit: db.prepare(INSERT_AUDIT_SQL),
      pruneAudit: db.prepare('DELETE FROM audit WHERE time < ?'),
    };
    this.#stmt = s;

    const logChange = (type: string, id: string): number =>
      Number(s.logChange.run(type, id, this.#clock()).lastInsertRowid);

    const put = db.transaction((type: string, id: string, data: string, idx: string | null, at: number, exp: number | null) => {
      const version = logChange(type, id);
      s.upsert.run(type, id, data, idx, version, at, exp);
      return version;
    });
    const replace = db.transaction((type: string, id: string, data: string, idx: string | null, at: number, exp: number | null) => {
      if (s.isLive.get(type, id, at) === undefined) return undefined;
      const version = logChange(type, id);
      s.upsert.run(type, id, data, idx, version, at, exp);
      return version;
    });
    const del = db.transaction((type: string, id: string) => {
      if (s.deleteOne.run(type, id).changes === 0) return undefined;
      return logChange(type, id);
    });
    const purge = db.transaction((at: number) => {
      const removed = s.purge.all(at) as { type: string; id: string }[];
      const events = removed.map(({ type, id }) => ({ type, id, version: logChange(type, id) }));
      s.trimChanges.run(this.#clock() - CHANGE_LOG_RETENTION_MS);
      return events;
    });
    const append = db.transaction((rows: readonly AuditRow[]) => {
      for (const row of rows) s.insertAudit.run(auditValues(row));
    });
    // IMMEDIATE takes the write lock up front, so the busy timeout applies; a
    // deferred transaction that later upgrades can fail at once with SQLITE_BUSY.
    this.#putTx = put.immediate;
    this.#replaceTx = replace.immediate;
    this.#deleteTx = del.immediate;
    this.#purgeTx = purge.immediate;
    this.#appendTx = append.immediate;
  }

  #open(): void {
    if (this.#closed) throw new StoreError('ERR_STORE_CLOSED', 'store is closed');
  }

  /** Tells this process's watchers about a write, and remembers it so polling skips it. */
  #announce(e: ChangeEvent): void {
    if (this.#timer === undefined) return;
    this.#own.add(e.version);
    this.#changes.emit(e);
  }

  #afterWrite(): void {
    if (++this.#writesSinceTrim < TRIM_EVERY_WRITES) return;
    this.#writesSinceTrim = 0;
    this.#stmt.trimChanges.run(this.#clock() - CHANGE_LOG_RETENTION_MS);
  }

  async get<T = Record<string, unknown>>(type: string, id: string, now?: number): Promise<StoredRecord<T> | null> {
    this.#open();
    const at = resolveNow(now, this.#clock);
    if (!isLookupKey(type, id)) return null;
    const row = this.#stmt.get.get(type, id, at) as RecordRow | undefined;
    return row === undefined ? null : recordFromRow<T>(row);
  }

  async put<T = Record<string, unknown>>(type: string, id: string, data: T, opts: PutOptions = {}, now?: number): Promise<StoredRecord<T>> {
    this.#open();
    const w = prepareWrite(type, id, data, opts, now, this.#clock);
    return writtenRecord<T>(w, this.#written(w, this.#putTx(w.type, w.id, w.text, w.index ?? null, w.at, w.expiresAt ?? null)));
  }

  async replace<T = Record<string, unknown>>(type: string, id: string, data: T, opts: PutOptions = {}, now?: number): Promise<StoredRecord<T> | null> {
    this.#open();
    const w = prepareWrite(type, id, data, opts, now, this.#clock);
    const version = this.#replaceTx(w.type, w.id, w.text, w.index ?? null, w.at, w.expiresAt ?? null);
    return version === undefined ? null : writtenRecord<T>(w, this.#written(w, version));
  }

  /** After a record write committed as `version`: checkpoint bookkeeping and this process's watchers. */
  #written(w: PendingWrite, version: number): number {
    this.#afterWrite();
    this.#announce({ type: w.type, id: w.id, version });
    return version;
  }

  async delete(type: string, id: string): Promise<boolean> {
    this.#open();
    if (!isLookupKey(type, id)) return false;
    const version = this.#deleteTx(type, id);
    if (version === undefined) return false;
    this.#afterWrite();
    this.#announce({ type, id, version });
    return true;
  }

  async list<T = Record<string, unknown>>(type: string, opts: ListOptions = {}, now?: number): Promise<StoredRecord<T>[]> {
    this.#open();
    const at = resolveNow(now, this.#clock);
    const limit = toLimit(opts.limit) ?? -1;
    const index = toLookupIndex(opts.index);
    if (index === null) return [];
    const rows = (
      index === undefined ? this.#stmt.list.all(type, at, limit) : this.#stmt.listByIndex.all(type, index, at, limit)
    ) as RecordRow[];
    return rows.map((row) => recordFromRow<T>(row));
  }

  async tryLease(name: string, holder: string, ttlMs: number, now?: number): Promise<boolean> {
    this.#open();
    const at = resolveNow(now, this.#clock);
    const row = this.#db
      .prepare(
        `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE leases.holder = excluded.holder OR leases.expires_at <= ?
         RETURNING holder`,
      )
      .get(name, holder, at + toTime('ttlMs', ttlMs), at) as { holder: string } | undefined;
    return row?.holder === holder;
  }

  async purgeExpired(now?: number): Promise<number> {
    this.#open();
    const at = resolveNow(now, this.#clock);
    const events = this.#purgeTx(at);
    for (const e of events) this.#announce(e);
    return events.length;
  }

  async appendAudit(events: readonly AuditEvent[]): Promise<void> {
    this.#open();
    const rows = events.map(auditRowFromEvent);
    if (rows.length === 0) return;
    if (this.#auditWriter) await this.#auditWriter.append(rows);
    else this.#appendTx(rows);
  }

  async queryAudit(q: AuditQuery): Promise<StoredAuditEvent[]> {
    this.#open();
    const f = toAuditFilter(q);
    const { sql, params } = auditQuerySql(f);
    let stmt = this.#auditQueries.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql);
      this.#auditQueries.set(sql, stmt);
    }
    const rows = stmt.all(...params) as (AuditRow & { seq: number })[];
    return rows.map(auditEventFromRow);
  }

  async pruneAudit(before: number): Promise<number> {
    this.#open();
    return this.#stmt.pruneAudit.run(toTime('before', before)).changes;
  }

  watch(listener: (e: ChangeEvent) => void): () => void {
    this.#open();
    const remove = this.#changes.add(listener);
    if (this.#timer === undefined) this.#startPolling();
    return () => {
      remove();
      if (this.#changes.size === 0) this.#stopPolling();
    };
  }

  /**
   * Reports, synchronously, changes other processes committed since the
   * last poll (one `PRAGMA data_version` when nothing changed). A read cache
   * calls this before serving a hit, so a CLI's write applies to the very
   * next request instead of after the next poll.
   */
  syncChanges(): void {
    if (this.#timer !== undefined) this.#poll();
  }

  #startPolling(): void {
    this.#lastSeenVersion = (this.#stmt.lastVersion.get() as number | undefined) ?? 0;
    this.#lastDataVersion = this.#stmt.dataVersion.get() as number;
    this.#timer = setInterval(() => this.#poll(), this.#pollIntervalMs);
    this.#timer.unref();
  }

  #stopPolling(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#own.clear();
  }

  /** Reports changes committed by other connections since the last poll. */
  #poll(): void {
    if (this.#closed) return;
    try {
      const dataVersion = this.#stmt.dataVersion.get() as number;
      // Also read when only our own writes are pending, to drain the echo set.
      if (dataVersion === this.#lastDataVersion && this.#own.size === 0) return;
      this.#lastDataVersion = dataVersion;
      const rows = this.#stmt.changesSince.all(this.#lastSeenVersion) as { version: number; type: string; id: string }[];
      for (const row of rows) {
        this.#lastSeenVersion = row.version;
        if (this.#own.take(row.version)) continue;
        this.#changes.emit({ type: row.type, id: row.id, version: row.version });
      }
    } catch (err) {
      // A busy or briefly unreadable database: try again on the next tick.
      this.#onError(err);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopPolling();
    this.#changes.clear();
    try {
      await this.#auditWriter?.close();
    } finally {
      this.#db.close();
    }
  }
}

/** SQL for an audit query; statements are cached by text, so only the filter shape varies. */
function auditQuerySql(f: AuditFilter): { sql: string; params: (string | number)[] } {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const add = (clause: string, value: string | number | undefined): void => {
    if (value === undefined) return;
    where.push(clause);
    params.push(value);
  };
  add('time >= ?', f.since);
  add('time < ?', f.until);
  add('seq > ?', f.afterSeq);
  add('user_id = ?', f.userId);
  add('email_lower = ?', f.emailLower);
  add('route = ?', f.route);
  add('decision = ?', f.decision);
  add('kind = ?', f.kind);
  params.push(f.limit);
  const sql =
    'SELECT seq, time, kind, request_id, decision, route, user_id, email, email_lower, actor, details, event_id FROM audit' +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ' ORDER BY seq LIMIT ?';
  return { sql, params };
}
