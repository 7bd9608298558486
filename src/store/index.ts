/**
 * Storage for sessions, service accounts, the directory, external data and
 * the audit log, behind one narrow interface (after Pomerium's databroker)
 * with three backends: memory, SQLite (`file`, the default) and PostgreSQL.
 */

import type { StoreOptions } from './common.js';
import { MemoryStore } from './memory.js';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
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
export { DEFAULT_AUDIT_LIMIT, MAX_ID_LENGTH, MAX_TYPE_LENGTH } from './common.js';
export { StoreError, redactConnectionString, type StoreErrorCode } from './errors.js';
export { MemoryStore } from './memory.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres.js';
export { ReadCachingStore } from './cache.js';

/** Where `databroker_storage_type: file` keeps its database when no path is configured. */
export const DEFAULT_SQLITE_PATH = './data/limen.db';

export interface OpenStoreOptions extends StoreOptions {
  /** The `databroker_storage_type` value; `file` means SQLite. */
  readonly type: 'memory' | 'file' | 'postgres';
  /** A file path for `file` (empty means {@link DEFAULT_SQLITE_PATH}), a URL for `postgres`; ignored for `memory`. */
  readonly connectionString: string;
  /** PostgreSQL schema for the tables (created if missing); default `public`. */
  readonly schema?: string;
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
      return PostgresStore.open({ ...common, connectionString: opts.connectionString, schema: opts.schema });
    default:
      throw new TypeError(`unknown store type ${JSON.stringify((opts as { type: unknown }).type)}`);
  }
}
