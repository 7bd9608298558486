/**
 * A Store in PostgreSQL, shared by every replica. Versions come from one
 * sequence, so they are unique and increasing across replicas. Each write
 * sends `pg_notify` in the same statement; NOTIFY is delivered only on
 * commit, so a replica that hears of a change can already read it. Watchers
 * listen on a dedicated connection that reconnects after errors.
 */

import { createHash } from 'node:crypto';
import pg from 'pg';

import {
  ChangeFanout,
  RecentVersions,
  assertKey,
  auditEventFromRow,
  auditRowFromEvent,
  encodeData,
  isLookupKey,
  recordFromRow,
  resolveNow,
  toAuditFilter,
  toIndex,
  toLimit,
  toTime,
  type AuditRow,
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
}

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** Key of the transaction-level advisory lock that serialises migrations ("Limen" in ASCII). */
const MIGRATION_LOCK_KEY = 0x4c696d656e;
const MAX_RECONNECT_DELAY_MS = 10_000;
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
];

async function migrate(pool: pg.Pool, schema: string, createSchema: boolean): Promise<void> {
  const q = `"${schema}"`;
  const client = await pool.connect();
  try {
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
      await client.query((MIGRATIONS[v - 1] as (q: string) => string)(q));
      await client.query(`INSERT INTO ${q}.limen_schema_version (version) VALUES ($1)`, [v]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** A Store in PostgreSQL. */
export class PostgresStore implements Store {
  readonly kind = 'postgres';
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

  /** Connects, creates the schema and tables if missing, and returns the store. */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    if (typeof opts.connectionString !== 'string' || opts.connectionString === '') {
      throw new TypeError('PostgreSQL connection string must be a non-empty string');
    }
    const schema = opts.schema ?? 'public';
    if (!SCHEMA_NAME.test(schema)) throw new TypeError('PostgreSQL schema must be a plain identifier ([A-Za-z_][A-Za-z0-9_]*)');
    let pool: pg.Pool | undefined;
    try {
      pool = new pg.Pool({
        connectionString: opts.connectionString,
        max: opts.poolSize ?? 10,
        application_name: 'limen',
        connectionTimeoutMillis: 10_000,
      });
      // An idle client that dies is dropped by the pool; without a handler the error would crash the process.
      pool.on('error', () => undefined);
      await migrate(pool, schema, opts.schema !== undefined);
      return new PostgresStore(pool, schema, opts);
    } catch (err) {
      await pool?.end().catch(() => undefined);
      if (err instanceof StoreError) throw err;
      throw new StoreError(
        'ERR_STORE_UNAVAILABLE',
        `cannot open PostgreSQL store at ${redactConnectionString(opts.connectionString)}`,
        scrubCause(err, opts.connectionString),
      );
    }
  }

  private constructor(pool: pg.Pool, schema: string, opts: PostgresStoreOptions) {
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
    this.#reconnectDelay = this.#reconnectDelayMs;
    this.#sql = statements(`"${schema}"`);
  }

  /** The NOTIFY channel replicas on this schema share (one per schema, as channels are per database). */
  get channel(): string {
    return this.#channel;
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
    const res = await this.#pool.query<RecordRow>({ ...this.#sql.get, values: [type, id, at] });
    const row = res.rows[0];
    return row === undefined ? null : recordFromRow<T>(row);
  }

  async put<T = Record<string, unknown>>(
    type: string,
    id: string,
    data: T,
    opts: PutOptions = {},
    now?: number,
  ): Promise<StoredRecord<T>> {
    this.#open();
    assertKey(type, id);
    const at = resolveNow(now, this.#clock);
    const text = encodeData(data);
    const index = toIndex(opts.index);
    const expiresAt = opts.expiresAt === undefined ? undefined : toTime('expiresAt', opts.expiresAt);
    const res = await this.#pool.query<{ version: string }>({
      ...this.#sql.put,
      values: [type, id, text, index ?? null, at, expiresAt ?? null, this.#channel],
    });
    const version = Number(res.rows[0]?.version);
    if (this.#changes.size > 0) this.#deliver({ type, id, version });
    return { type, id, data: JSON.parse(text) as T, index, version, modifiedAt: at, expiresAt };
  }

  async delete(type: string, id: string): Promise<boolean> {
    this.#open();
    if (!isLookupKey(type, id)) return false;
    const res = await this.#pool.query<{ version: string }>({ ...this.#sql.delete, values: [type, id, this.#channel] });
    const row = res.rows[0];
    if (row === undefined) return false;
    if (this.#changes.size > 0) this.#deliver({ type, id, version: Number(row.version) });
    return true;
  }

  async list<T = Record<string, unknown>>(type: string, opts: ListOptions = {}, now?: number): Promise<StoredRecord<T>[]> {
    this.#open();
    const at = resolveNow(now, this.#clock);
    const limit = toLimit(opts.limit) ?? null;
    const index = toIndex(opts.index);
    const res =
      index === undefined
        ? await this.#pool.query<RecordRow>({ ...this.#sql.list, values: [type, at, limit] })
        : await this.#pool.query<RecordRow>({ ...this.#sql.listByIndex, values: [type, index, at, limit] });
    return res.rows.map((row) => recordFromRow<T>(row));
  }

  async purgeExpired(now?: number): Promise<number> {
    this.#open();
    const at = resolveNow(now, this.#clock);
    const res = await this.#pool.query<{ type: string; id: string; version: string }>({
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
    await this.#pool.query({
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
    add('user_id', '=', f.userId);
    add('email_lower', '=', f.emailLower);
    add('route', '=', f.route);
    add('decision', '=', f.decision);
    add('kind', '=', f.kind);
    values.push(f.limit);
    const text =
      `SELECT seq, time, kind, request_id, decision, route, user_id, email, email_lower, actor, details FROM ${this.#sql.audit}` +
      (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY seq LIMIT $${values.length}`;
    const res = await this.#pool.query<AuditRow & { seq: string }>(text, values);
    return res.rows.map(auditEventFromRow);
  }

  async pruneAudit(before: number): Promise<number> {
    this.#open();
    const res = await this.#pool.query({ ...this.#sql.pruneAudit, values: [toTime('before', before)] });
    return res.rowCount ?? 0;
  }

  watch(listener: (e: ChangeEvent) => void): () => void {
    this.#open();
    const remove = this.#changes.add(listener);
    if (this.#listening === undefined && this.#reconnectTimer === undefined) this.#listen();
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
    const client = new pg.Client({ connectionString: this.#connectionString, application_name: 'limen-watch' });
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
      const e = parseChange(msg.payload);
      if (e !== undefined) this.#deliver(e);
    });
    client.on('error', fail);
    client.on('end', () => fail(undefined));
    this.#listening = (async () => {
      await client.connect();
      await client.query(`LISTEN ${this.#channel}`);
      this.#reconnectDelay = this.#reconnectDelayMs;
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

function parseChange(payload: string): ChangeEvent | undefined {
  try {
    const v = JSON.parse(payload) as { type?: unknown; id?: unknown; version?: unknown };
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
      text: `INSERT INTO ${audit} (time, kind, request_id, decision, route, user_id, email, email_lower, actor, details)
        SELECT t, k, r, d, ro, u, e, el, a, de
        FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
          WITH ORDINALITY AS x(t, k, r, d, ro, u, e, el, a, de, n)
        ORDER BY n`,
    },
    pruneAudit: { name: name('prune_audit'), text: `DELETE FROM ${audit} WHERE time < $1` },
  };
}
