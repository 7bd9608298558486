/**
 * A Store in PostgreSQL, shared by every replica. Versions come from one
 * sequence, so they are unique and increasing across replicas. Each write
 * sends `pg_notify` in the same statement; NOTIFY is delivered only on
 * commit, so a replica that hears of a change can already read it. Watchers
 * listen on a dedicated connection that reconnects after errors.
 */

import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type * as pg from 'pg';

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
  prepareWrite,
  writtenRecord,
  type AuditRow,
  type PendingWrite,
  type RecordRow,
  type StoreOptions,
} from './common.js';
import { StoreError, redactConnectionString, scrubCause } from './errors.js';
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

export interface PostgresStoreOptions extends StoreOptions {
  /** `postgres://user:pass@host:port/db` (or libpq keyword/value form). */
  readonly connectionString: string;
  /** Schema to keep the tables in, created if missing; default `public`. */
  readonly schema?: string;
  /** Pool size; default 10. */
  readonly poolSize?: number;
  /** First delay before the watch connection reconnects, doubling to 10 s; default 250 ms. */
  readonly reconnectDelayMs?: number;
  /**
   * Every query (and connecting) fails with ERR_STORE_UNAVAILABLE after this
   * long, so a frozen database link never holds a request; default 2000 ms.
   */
  readonly queryTimeoutMs?: number;
  /**
   * How stale this replica's view of other replicas' changes may be while it
   * still trusts it (see {@link PostgresStore.confirmedAt}); default 1000 ms.
   */
  readonly freshnessBoundMs?: number;
  /**
   * `application_name` of the pool's connections (the LISTEN connection adds
   * `-watch`), as `pg_stat_activity` shows them; default `limen`.
   */
  readonly applicationName?: string;
  /**
   * Where the LISTEN connection goes, when the query pool goes through a
   * transaction-mode pooler (PgBouncer) that cannot carry LISTEN; default
   * `connectionString`.
   */
  readonly listenConnectionString?: string;
}

/** The pg driver, loaded when a PostgreSQL store is opened rather than at every start (it is a tenth of `limen serve`'s start-up). */
type Driver = (typeof import('pg'))['default'];
let loadingDriver: Promise<Driver> | undefined;
function loadDriver(): Promise<Driver> {
  return (loadingDriver ??= import('pg').then((m) => m.default));
}

const DEFAULT_QUERY_TIMEOUT_MS = 2000;
const DEFAULT_FRESHNESS_BOUND_MS = 1000;
/** The longest pause between two tries of a statement whose connection was cut. */
const MAX_RETRY_PAUSE_MS = 200;

/**
 * Why PostgreSQL could not be used, in words an operator can act on, from the
 * driver's error code only (never its message, which may quote the URL).
 */
export function describePostgresFailure(err: unknown): string {
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  const message = String((err as { message?: unknown } | null)?.message ?? '');
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused (is PostgreSQL running on that host and port?)';
    case 'ENOTFOUND': case 'EAI_AGAIN': return 'the host name does not resolve';
    case 'ECONNRESET': return 'the connection was reset';
    case '57P01': case '57P02': return 'the server closed the connection (administrator command or shutdown)';
    case 'ETIMEDOUT': return 'connecting timed out';
    case '28P01': return 'password authentication failed';
    case '28000': return 'the server refused this user or address (pg_hba.conf, or the role does not exist)';
    case '3D000': return 'the database does not exist';
    case '42501': return 'permission denied';
    case '53300': return 'too many connections (raise max_connections or lower the pool size)';
    case '57P03': return 'the database is starting up or shutting down';
    case '57014': return 'a statement timed out';
    default:
      if (/timeout/i.test(message)) return 'timed out';
      return code !== '' ? `error ${code}` : 'the database could not be reached';
  }
}


/** The connection died under the statement (not a timeout, not a statement error). */
function isConnectionLost(err: unknown): boolean {
  const code = String((err as { code?: unknown } | null)?.code ?? '');
  if (code === '57P01' || code === '57P02' || code === 'ECONNRESET' || code === 'EPIPE') return true;
  const message = String((err as { message?: unknown } | null)?.message ?? '');
  return /Connection terminated|connection error|not queryable/i.test(message) && !/timeout/i.test(message);
}

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** Key of the transaction-level advisory lock that serialises migrations ("Limen" in ASCII). */
const MIGRATION_LOCK_KEY = 0x4c696d656e;
const MAX_RECONNECT_DELAY_MS = 10_000;
/** Migrations may wait for another replica's; they get longer than ordinary queries. */
const MIGRATION_TIMEOUT_MS = 60_000;
const RECORD_COLUMNS = 'type, id, data, idx, version, modified_at, expires_at';

/** Schema migrations for schema `q` (a quoted identifier); the index + 1 is the version. */
const MIGRATIONS: readonly ((q: string) => string)[] = [
  (q) => `
  CREATE SEQUENCE ${q}.limen_record_version AS bigint;
  CREATE TABLE ${q}.limen_records (
    type        text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    data        text NOT NULL,
    idx         text COLLATE "C",
    version     bigint NOT NULL,
    modified_at bigint NOT NULL,
    expires_at  bigint,
    PRIMARY KEY (type, id)
  );
  CREATE INDEX limen_records_by_index ON ${q}.limen_records (type, idx, id) WHERE idx IS NOT NULL;
  CREATE INDEX limen_records_by_expiry ON ${q}.limen_records (expires_at) WHERE expires_at IS NOT NULL;
  CREATE TABLE ${q}.limen_audit (
    seq         bigserial PRIMARY KEY,
    time        bigint NOT NULL,
    kind        text NOT NULL,
    request_id  text,
    decision    text,
    route       text,
    user_id     text,
    email       text,
    email_lower text,
    actor       text,
    details     text NOT NULL
  );
  CREATE INDEX limen_audit_by_time ON ${q}.limen_audit (time);
  CREATE INDEX limen_audit_by_user ON ${q}.limen_audit (user_id) WHERE user_id IS NOT NULL;
  CREATE INDEX limen_audit_by_email ON ${q}.limen_audit (email_lower) WHERE email_lower IS NOT NULL;
  `,
  (q) => `
  ALTER TABLE ${q}.limen_audit ADD COLUMN event_id text;
  CREATE UNIQUE INDEX limen_audit_by_event_id ON ${q}.limen_audit (event_id) WHERE event_id IS NOT NULL;
  CREATE TABLE ${q}.limen_leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at bigint NOT NULL
  );
  `,
];

async function migrate(pool: pg.Pool, schema: string, createSchema: boolean): Promise<void> {
  const q = `"${schema}"`;
  const client = await pool.connect();
  // A checked-out client has no error listener of the pool's: without one, a
  // connection the server ends during the migration would crash the process.
  const swallow = (): void => undefined;
  client.on('error', swallow);
  try {
    await client.query({ text: `SET statement_timeout = ${MIGRATION_TIMEOUT_MS}`, query_timeout: MIGRATION_TIMEOUT_MS } as pg.QueryConfig);
    await client.query('BEGIN');
    // Replicas starting together queue here; the lock ends with the transaction.
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    if (createSchema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${q}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${q}.limen_schema_version (version integer NOT NULL)`);
    const res = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${q}.limen_schema_version`);
    const current = res.rows[0]?.v ?? 0;
    if (current > MIGRATIONS.length) {
      throw new StoreError(
        'ERR_STORE_SCHEMA',
        `PostgreSQL store schema version ${current} is newer than this Limen understands (${MIGRATIONS.length})`,
      );
    }
    for (let v = current + 1; v <= MIGRATIONS.length; v++) {
      await client.query({ text: (MIGRATIONS[v - 1] as (q: string) => string)(q), query_timeout: MIGRATION_TIMEOUT_MS } as pg.QueryConfig);
      await client.query(`INSERT INTO ${q}.limen_schema_version (version) VALUES ($1)`, [v]);
    }
    await client.query('COMMIT');
    await client.query('RESET statement_timeout');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.off('error', swallow);
    client.release(true);
    throw err;
  }
  client.off('error', swallow);
  client.release();
}

/** A Store in PostgreSQL. */
export class PostgresStore implements Store {
  readonly kind = 'postgres';
  readonly #driver: Driver;
  readonly #pool: pg.Pool;
  readonly #connectionString: string;
  readonly #channel: string;
  readonly #clock: () => number;
  readonly #changes: ChangeFanout;
  readonly #onError: (err: unknown) => void;
  /** Versions already given to watchers: own writes come back through NOTIFY too. */
  readonly #delivered = new RecentVersions(4096);
  readonly #reconnectDelayMs: number;
  readonly #sql: ReturnType<typeof statements>;
  #listener: pg.Client | undefined;
  #listening: Promise<void> | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #reconnectDelay: number;
  #closed = false;
  readonly #freshnessBoundMs: number;
  /** How long a statement whose connection keeps being cut is tried again: the query timeout. */
  readonly #retryBudgetMs: number;
  readonly #applicationName: string;
  readonly #listenConnectionString: string;
  /** This instance's name in heartbeat payloads. */
  readonly #tag = randomBytes(8).toString('hex');
  #heartbeat: NodeJS.Timeout | undefined;
  #pingSeq = 0;
  /** Heartbeats sent and not yet heard back: number → monotonic send time. */
  readonly #pings = new Map<number, number>();
  #confirmedAt = Number.NEGATIVE_INFINITY;
  readonly #resetListeners = new Set<() => void>();
  #everListened = false;

  /** Connects, creates the schema and tables if missing, and returns the store. */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    if (typeof opts.connectionString !== 'string' || opts.connectionString === '') {
      throw new TypeError('PostgreSQL connection string must be a non-empty string');
    }
    const schema = opts.schema ?? 'public';
    if (!SCHEMA_NAME.test(schema)) throw new TypeError('PostgreSQL schema must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*)');
    let pool: pg.Pool | undefined;
    try {
      const timeout = opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
      const pgDriver = await loadDriver();
      pool = new pgDriver.Pool({
        connectionString: opts.connectionString,
        max: opts.poolSize ?? 10,
        application_name: opts.applicationName ?? 'limen',
        connectionTimeoutMillis: timeout,
        // Client side (a frozen link) and server side (a stuck statement).
        query_timeout: timeout,
        statement_timeout: timeout,
      });
      // An idle client that dies is dropped by the pool; without a handler the error would crash the process.
      pool.on('error', () => undefined);
      await migrate(pool, schema, opts.schema !== undefined);
      return new PostgresStore(pgDriver, pool, schema, opts);
    } catch (err) {
      await pool?.end().catch(() => undefined);
      if (err instanceof StoreError) throw err;
      throw new StoreError(
        'ERR_STORE_UNAVAILABLE',
        `cannot open PostgreSQL store at ${redactConnectionString(opts.connectionString)}: ${describePostgresFailure(err)}`,
        scrubCause(err, opts.connectionString),
      );
    }
  }

  private constructor(driver: Driver, pool: pg.Pool, schema: string, opts: PostgresStoreOptions) {
    this.#driver = driver;
    this.#pool = pool;
    this.#connectionString = opts.connectionString;
    // NOTIFY channels are per database, not per schema; a digest keeps the name short and unquoted-safe.
    this.#channel = `limen_changes_${createHash('sha256').update(schema).digest('hex').slice(0, 16)}`;
    this.#clock = opts.clock ?? Date.now;
    this.#changes = new ChangeFanout(opts.onListenerError);
    this.#onError =
      opts.onListenerError ??
      ((err) => process.emitWarning(scrubCause(err, this.#connectionString).message, { code: 'LIMEN_STORE_WATCH' }));
    this.#reconnectDelayMs = opts.reconnectDelayMs ?? 250;
    this.#retryBudgetMs = opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
    this.#reconnectDelay = this.#reconnectDelayMs;
    this.#sql = statements(`"${schema}"`);
    this.#freshnessBoundMs = opts.freshnessBoundMs ?? DEFAULT_FRESHNESS_BOUND_MS;
    this.#applicationName = opts.applicationName ?? 'limen';
    this.#listenConnectionString = opts.listenConnectionString || opts.connectionString;
  }

  /** The staleness this replica accepts before it stops trusting its cached view (ms). */
  get freshnessBoundMs(): number {
    return this.#freshnessBoundMs;
  }

  /**
   * A monotonic time (`performance.now()`) such that every change committed
   * by any replica before it has been delivered to this instance's watchers.
   *
   * How: while watched, a heartbeat NOTIFY goes out every quarter of the
   * bound on the shared channel. PostgreSQL delivers notifications in commit
   * order, so hearing our own heartbeat sent at t means every change
   * committed before t was heard first. When the listener is down or the
   * database unreachable, heartbeats stop coming back and this value ages:
   * a cache in front of the store stops trusting itself once it is older
   * than the bound. Needs no gap-free delivery and no synchronised clocks.
   */
  confirmedAt(): number {
    return this.#confirmedAt;
  }

  /**
   * Called whenever the watch connection starts listening again after a
   * break: notifications sent meanwhile were lost, so anything derived from
   * earlier reads must be dropped. Returns an unsubscribe.
   */
  onReset(listener: () => void): () => void {
    this.#resetListeners.add(listener);
    return () => { this.#resetListeners.delete(listener); };
  }

  #startHeartbeat(): void {
    if (this.#heartbeat !== undefined || this.#closed) return;
    const every = Math.max(10, Math.floor(this.#freshnessBoundMs / 4));
    this.#heartbeat = setInterval(() => this.#ping(), every);
    this.#heartbeat.unref();
  }

  #ping(): void {
    if (this.#closed || this.#listener === undefined) return;
    const n = ++this.#pingSeq;
    this.#pings.set(n, performance.now());
    // Unanswered heartbeats (listener down) must not pile up.
    if (this.#pings.size > 64) this.#pings.delete(this.#pings.keys().next().value as number);
    this.#pool
      .query({ ...this.#sql.heartbeat, values: [this.#channel, `{"ping":"${this.#tag}","n":${n}}`] })
      .catch(() => undefined);
  }

  #heard(tag: string, n: number): void {
    if (tag !== this.#tag) return;
    const sentAt = this.#pings.get(n);
    if (sentAt === undefined) return;
    for (const k of this.#pings.keys()) {
      if (k > n) break;
      this.#pings.delete(k);
    }
    if (sentAt > this.#confirmedAt) this.#confirmedAt = sentAt;
  }

  /** The NOTIFY channel replicas on this schema share (one per schema, as channels are per database). */
  get channel(): string {
    return this.#channel;
  }

  /** A pooled query; any failure (refused, timed out, cut) is ERR_STORE_UNAVAILABLE naming the cause, never the URL. */
  async #query<R extends pg.QueryResultRow = pg.QueryResultRow>(config: pg.QueryConfig | string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    const run = (): Promise<pg.QueryResult<R>> =>
      values === undefined ? this.#pool.query<R>(config as pg.QueryConfig) : this.#pool.query<R>(config as string, values);
    try {
      const giveUpAt = performance.now() + this.#retryBudgetMs;
      for (let attempt = 1; ; attempt++) {
        try {
          return await run();
        } catch (err) {
          // A pooled connection the server closed (failover, pg_terminate_backend,
          // an idle timeout in a pooler): the pool drops it; try again on
          // another. Every idle connection may have died at once, and the
          // pool hears of each death only when its socket is read, hence a
          // try per pooled connection plus one on a fresh connection, at once;
          // then, while the cuts go on, short growing pauses until the query
          // timeout's budget is spent. Every statement here is one idempotent
          // autocommit statement (audit rows carry event ids), so a repeat is
          // harmless.
          if (!isConnectionLost(err) || this.#closed) throw err;
          const extra = attempt - this.#pool.options.max;
          if (extra <= 0) continue;
          const pause = Math.min(MAX_RETRY_PAUSE_MS, 5 * 2 ** (extra - 1));
          if (performance.now() + pause > giveUpAt) throw err;
          await new Promise((resolve) => setTimeout(resolve, pause));
        }
      }
    } catch (err) {
      throw new StoreError('ERR_STORE_UNAVAILABLE', `PostgreSQL: ${describePostgresFailure(err)}`, scrubCause(err, this.#connectionString));
    }
  }

  #open(): void {
    if (this.#closed) throw new StoreError('ERR_STORE_CLOSED', 'store is closed');
  }

  #deliver(e: ChangeEvent): void {
    if (this.#delivered.has(e.version)) return;
    this.#delivered.add(e.version);
    this.#changes.emit(e);
  }

  async get<T = Record<string, unknown>>(type: string, id: string, now?: number): Promise<StoredRecord<T> | null> {
    this.#open();
    const at = resolveNow(now, this.#clock);
    if (!isLookupKey(type, id)) return null;
    const res = await this.#query<RecordRow>({ ...this.#sql.get, values: [type, id, at] });
    const row = res.rows[0];
    return row === undefined ? null : recordFromRow<T>(row);
  }

  async put<T = Record<string, unknown>>(type: string, id: string, data: T, opts: PutOptions = {}, now?: number): Promise<StoredRecord<T>> {
    this.#open();
    const w = prepareWrite(type, id, data, opts, now, this.#clock);
    return writtenRecord<T>(w, (await this.#write(this.#sql.put, w)) ?? NaN);
  }

  async replace<T = Record<string, unknown>>(type: string, id: string, data: T, opts: PutOptions = {}, now?: number): Promise<StoredRecord<T> | null> {
    this.#open();
    const w = prepareWrite(type, id, data, opts, now, this.#clock);
    const version = await this.#write(this.#sql.replace, w);
    return version === undefined ? null : writtenRecord<T>(w, version);
  }

  /** Runs an upsert or update of one record; its new version, or undefined when no row was written. */
  async #write(sql: pg.QueryConfig, w: PendingWrite): Promise<number | undefined> {
    const res = await this.#query<{ version: string }>({
      ...sql,
      values: [w.type, w.id, w.text, w.index ?? null, w.at, w.expiresAt ?? null, this.#channel],
    });
    const row = res.rows[0];
    if (row === undefined) return undefined;
    const version = Number(row.version);
    if (this.#changes.size > 0) this.#deliver({ type: w.type, id: w.id, version });
    return version;
  }

  async delete(type: string, id: string): Promise<boolean> {
    this.#open();
    if (!isLookupKey(type, id)) return false;
    const res = await this.#query<{ version: string }>({ ...this.#sql.delete, values: [type, id, this.#channel] });
    const row = res.rows[0];
    if (row === undefined) return false;
    if (this.#changes.size > 0) this.#deliver({ type, id, version: Number(row.version) });
    return true;
  }

  async list<T = Record<string, unknown>>(type: string, opts: ListOptions = {}, now?: number): Promise<StoredRecord<T>[]> {
    this.#open();
    const at = resolveNow(now, this.#clock);
    const limit = toLimit(opts.limit) ?? null;
    const index = toLookupIndex(opts.index);
    if (index === null) return [];
    const res =
      index === undefined
        ? await this.#query<RecordRow>({ ...this.#sql.list, values: [type, at, limit] })
        : await this.#query<RecordRow>({ ...this.#sql.listByIndex, values: [type, index, at, limit] });
    return res.rows.map((row) => recordFromRow<T>(row));
  }

  async tryLease(name: string, holder: string, ttlMs: number, now?: number): Promise<boolean> {
    this.#open();
    const at = resolveNow(now, this.#clock);
    const res = await this.#query<{ holder: string }>({ ...this.#sql.lease, values: [name, holder, at + toTime('ttlMs', ttlMs), at] });
    return res.rows[0]?.holder === holder;
  }

  async purgeExpired(now?: number): Promise<number> {
    this.#open();
    const at = resolveNow(now, this.#clock);
    const res = await this.#query<{ type: string; id: string; version: string }>({
      ...this.#sql.purge,
      values: [at, this.#channel],
    });
    if (this.#changes.size > 0) {
      for (const row of res.rows) this.#deliver({ type: row.type, id: row.id, version: Number(row.version) });
    }
    return res.rows.length;
  }

  async appendAudit(events: readonly AuditEvent[]): Promise<void> {
    this.#open();
    const rows = events.map(auditRowFromEvent);
    if (rows.length === 0) return;
    const column = <K extends keyof AuditRow>(k: K): AuditRow[K][] => rows.map((r) => r[k]);
    await this.#query({
      ...this.#sql.appendAudit,
      values: [
        column('time'),
        column('kind'),
        column('request_id'),
        column('decision'),
        column('route'),
        column('user_id'),
        column('email'),
        column('email_lower'),
        column('actor'),
        column('details'),
        column('event_id'),
      ],
    });
  }

  async queryAudit(q: AuditQuery): Promise<StoredAuditEvent[]> {
    this.#open();
    const f = toAuditFilter(q);
    const where: string[] = [];
    const values: (string | number)[] = [];
    const add = (column: string, op: string, value: string | number | undefined): void => {
      if (value === undefined) return;
      values.push(value);
      where.push(`${column} ${op} $${values.length}`);
    };
    add('time', '>=', f.since);
    add('time', '<', f.until);
    add('seq', '>', f.afterSeq);
    add('user_id', '=', f.userId);
    add('email_lower', '=', f.emailLower);
    add('route', '=', f.route);
    add('decision', '=', f.decision);
    add('kind', '=', f.kind);
    values.push(f.limit);
    const text =
      `SELECT seq, time, kind, request_id, decision, route, user_id, email, email_lower, actor, details, event_id FROM ${this.#sql.audit}` +
      (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY seq LIMIT $${values.length}`;
    const res = await this.#query<AuditRow & { seq: string }>(text, values);
    return res.rows.map(auditEventFromRow);
  }

  async pruneAudit(before: number): Promise<number> {
    this.#open();
    const res = await this.#query({ ...this.#sql.pruneAudit, values: [toTime('before', before)] });
    return res.rowCount ?? 0;
  }

  watch(listener: (e: ChangeEvent) => void): () => void {
    this.#open();
    const remove = this.#changes.add(listener);
    if (this.#listening === undefined && this.#reconnectTimer === undefined) this.#listen();
    this.#startHeartbeat();
    return remove;
  }

  /**
   * Resolves once the watch connection is listening, so that changes made by
   * other replicas from then on are reported. Callers that load state and then
   * rely on change events should await this before loading.
   */
  async watching(): Promise<void> {
    this.#open();
    if (this.#listening === undefined && this.#reconnectTimer === undefined) this.#listen();
    while (this.#listening === undefined || !(await this.#listening.then(() => true, () => false))) {
      if (this.#closed) throw new StoreError('ERR_STORE_CLOSED', 'store is closed');
      // Ref'd on purpose: the caller is waiting, unlike the background reconnect timer.
      await new Promise<void>((r) => setTimeout(r, Math.min(this.#reconnectDelay, 100)));
    }
  }

  #listen(): void {
    const client = new this.#driver.Client({ connectionString: this.#listenConnectionString, application_name: `${this.#applicationName}-watch` });
    this.#listener = client;
    let failed = false;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      if (this.#listener === client) {
        this.#listener = undefined;
        this.#listening = undefined;
      }
      client.end().catch(() => undefined);
      if (this.#closed) return;
      if (err !== undefined) this.#onError(err);
      this.#scheduleReconnect();
    };
    client.on('notification', (msg) => {
      if (msg.channel !== this.#channel || msg.payload === undefined) return;
      const e = parseNotification(msg.payload);
      if (e === undefined) return;
      if ('ping' in e) this.#heard(e.ping, e.n);
      else this.#deliver(e);
    });
    client.on('error', fail);
    client.on('end', () => fail(undefined));
    this.#listening = (async () => {
      await client.connect();
      await client.query(`LISTEN ${this.#channel}`);
      this.#reconnectDelay = this.#reconnectDelayMs;
      // Changes made while no connection listened were never heard.
      if (this.#everListened) for (const reset of this.#resetListeners) reset();
      this.#everListened = true;
      this.#ping();
    })();
    this.#listening.catch(fail);
  }

  #scheduleReconnect(): void {
    if (this.#reconnectTimer !== undefined) return;
    const delay = this.#reconnectDelay;
    this.#reconnectDelay = Math.min(delay * 2, MAX_RECONNECT_DELAY_MS);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (!this.#closed) this.#listen();
    }, delay);
    this.#reconnectTimer.unref();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#changes.clear();
    const listener = this.#listener;
    this.#listener = undefined;
    this.#listening = undefined;
    await listener?.end().catch(() => undefined);
    await this.#pool.end();
  }
}

/** A change, or a replica's heartbeat, from a notification payload. */
function parseNotification(payload: string): ChangeEvent | { ping: string; n: number } | undefined {
  try {
    const v = JSON.parse(payload) as { type?: unknown; id?: unknown; version?: unknown; ping?: unknown; n?: unknown };
    if (typeof v.ping === 'string' && typeof v.n === 'number') return { ping: v.ping, n: v.n };
    if (typeof v.type !== 'string' || typeof v.id !== 'string' || typeof v.version !== 'number') return undefined;
    return { type: v.type, id: v.id, version: v.version };
  } catch {
    return undefined;
  }
}

/** Named statements: PostgreSQL parses and plans each once per pooled connection. */
function statements(q: string) {
  const records = `${q}.limen_records`;
  const audit = `${q}.limen_audit`;
  const seq = `nextval('${q}.limen_record_version')`;
  const notify = (type: string, id: string, version: string, channel: string): string =>
    `pg_notify(${channel}, json_build_object('type', ${type}, 'id', ${id}, 'version', ${version})::text)`;
  const name = (n: string): string => `limen_${n}_${createHash('sha256').update(q).digest('hex').slice(0, 8)}`;
  return {
    audit,
    get: {
      name: name('get'),
      text: `SELECT ${RECORD_COLUMNS} FROM ${records} WHERE type = $1 AND id = $2 AND (expires_at IS NULL OR expires_at > $3)`,
    },
    // The update takes a fresh version after it holds the row lock, so the
    // last writer of a row always has its highest version.
    put: {
      name: name('put'),
      text: `WITH up AS (
          INSERT INTO ${records} (${RECORD_COLUMNS}) VALUES ($1, $2, $3, $4, ${seq}, $5, $6)
          ON CONFLICT (type, id) DO UPDATE SET data = excluded.data, idx = excluded.idx, version = ${seq},
            modified_at = excluded.modified_at, expires_at = excluded.expires_at
          RETURNING version)
        SELECT version, ${notify('$1::text', '$2::text', 'version', '$7')} FROM up`,
    },
    // Only a live row: a write-back never recreates a record deleted meanwhile.
    replace: {
      name: name('replace'),
      text: `WITH up AS (
          UPDATE ${records} SET data = $3, idx = $4, version = ${seq}, modified_at = $5, expires_at = $6
          WHERE type = $1 AND id = $2 AND (expires_at IS NULL OR expires_at > $5)
          RETURNING version)
        SELECT version, ${notify('$1::text', '$2::text', 'version', '$7')} FROM up`,
    },
    delete: {
      name: name('delete'),
      text: `WITH d AS (DELETE FROM ${records} WHERE type = $1 AND id = $2 RETURNING type, id),
          v AS (SELECT type, id, ${seq} AS version FROM d)
        SELECT version, ${notify('type', 'id', 'version', '$3')} FROM v`,
    },
    list: {
      name: name('list'),
      text: `SELECT ${RECORD_COLUMNS} FROM ${records} WHERE type = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY id LIMIT $3`,
    },
    listByIndex: {
      name: name('list_by_index'),
      text: `SELECT ${RECORD_COLUMNS} FROM ${records} WHERE type = $1 AND idx = $2 AND (expires_at IS NULL OR expires_at > $3) ORDER BY id LIMIT $4`,
    },
    purge: {
      name: name('purge'),
      text: `WITH d AS (DELETE FROM ${records} WHERE expires_at IS NOT NULL AND expires_at <= $1 RETURNING type, id),
          v AS (SELECT type, id, ${seq} AS version FROM d)
        SELECT type, id, version, ${notify('type', 'id', 'version', '$2')} FROM v ORDER BY version`,
    },
    // Rows keep their order within a batch: unnest WITH ORDINALITY, inserted in ordinal order.
    appendAudit: {
      name: name('append_audit'),
      text: `INSERT INTO ${audit} (time, kind, request_id, decision, route, user_id, email, email_lower, actor, details, event_id)
        SELECT t, k, r, d, ro, u, e, el, a, de, ev
        FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
          WITH ORDINALITY AS x(t, k, r, d, ro, u, e, el, a, de, ev, n)
        ORDER BY n
        ON CONFLICT (event_id) WHERE event_id IS NOT NULL DO NOTHING`,
    },
    pruneAudit: { name: name('prune_audit'), text: `DELETE FROM ${audit} WHERE time < $1` },
    heartbeat: { name: name('heartbeat'), text: 'SELECT pg_notify($1, $2)' },
    lease: {
      name: name('lease'),
      text: `INSERT INTO ${q}.limen_leases (name, holder, expires_at) VALUES ($1, $2, $3)
        ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
        WHERE limen_leases.holder = excluded.holder OR limen_leases.expires_at <= $4
        RETURNING holder`,
    },
  };
}
