/**
 * Storage for sessions, service accounts, the directory, external data and
 * the audit log, behind one narrow interface (after Pomerium's databroker)
 * with three backends: memory, SQLite (`file`, the default) and PostgreSQL.
 */

import type { StoreOptions } from './common.js';
import { MemoryStore } from './memory.js';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import { StoreError } from './errors.js';
import type { Store } from './types.js';

export type {
  AuditEvent,
  AuditQuery,
  ChangeEvent,
  ListOptions,
  PutOptions,
  Store,
  StoredAuditEvent,
  StoredRecord,
} from './types.js';
export type { StoreOptions } from './common.js';
export { DEFAULT_AUDIT_LIMIT, DETAILS_JSON, MAX_ID_LENGTH, MAX_TYPE_LENGTH, type SerializedAuditEvent } from './common.js';
export { StoreError, redactConnectionString, type StoreErrorCode } from './errors.js';
export { MemoryStore } from './memory.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres.js';
export { ReadCachingStore, type ReadCacheOptions } from './cache.js';
export { startUpkeep, type Upkeep } from './upkeep.js';

/** Where `databroker_storage_type: file` keeps its database when no path is configured. */
export const DEFAULT_SQLITE_PATH = './data/limen.db';

export interface OpenStoreOptions extends StoreOptions {
  /** The `databroker_storage_type` value; `file` means SQLite. */
  readonly type: 'memory' | 'file' | 'postgres';
  /** A file path for `file` (empty means {@link DEFAULT_SQLITE_PATH}), a URL for `postgres`; ignored for `memory`. */
  readonly connectionString: string;
  /** PostgreSQL schema for the tables (created if missing); default `public`. */
  readonly schema?: string;
  /** PostgreSQL: query pool size per replica (default 10). */
  readonly poolSize?: number;
  /** PostgreSQL: query and connect timeout in ms (default 2000). */
  readonly queryTimeoutMs?: number;
  /** PostgreSQL: the freshness bound of the replica's read cache in ms (default 1000). */
  readonly freshnessBoundMs?: number;
  /** PostgreSQL: a direct connection for LISTEN when the pool goes through a transaction pooler. */
  readonly listenConnectionString?: string;
}

/**
 * Opens the configured backend, creating or migrating its schema. Failures
 * are `StoreError`s whose messages never contain a password.
 */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const common: StoreOptions = { clock: opts.clock, onListenerError: opts.onListenerError };
  switch (opts.type) {
    case 'memory':
      return new MemoryStore(common);
    case 'file':
      return SqliteStore.open({ ...common, path: opts.connectionString === '' ? DEFAULT_SQLITE_PATH : opts.connectionString });
    case 'postgres':
      return PostgresStore.open({
        ...common, connectionString: opts.connectionString, schema: opts.schema,
        poolSize: opts.poolSize, queryTimeoutMs: opts.queryTimeoutMs, freshnessBoundMs: opts.freshnessBoundMs,
        listenConnectionString: opts.listenConnectionString,
      });
    default:
      throw new TypeError(`unknown store type ${JSON.stringify((opts as { type: unknown }).type)}`);
  }
}

/**
 * Opens the store, and while the database cannot be reached (refused, timed
 * out, starting up) keeps trying with backoff from 250 ms to 10 s instead of
 * failing, so a replica started before its database becomes ready by itself
 * rather than crash-looping. `onRetry` hears each failure (its message names
 * the cause, never a password). Permanent errors (a newer schema, a bad
 * option) and `signal` end the attempts.
 */
export async function openStoreWithRetry(
  opts: OpenStoreOptions,
  onRetry: (err: Error, attempt: number, delayMs: number) => void,
  signal?: AbortSignal,
): Promise<Store> {
  let delay = 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await openStore(opts);
    } catch (err) {
      const retriable = err instanceof StoreError && err.code === 'ERR_STORE_UNAVAILABLE' && opts.type === 'postgres';
      if (!retriable || signal?.aborted) throw err;
      onRetry(err, attempt, delay);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
      });
      if (signal?.aborted) throw err;
      delay = Math.min(delay * 2, 10_000);
    }
  }
}
