/**
 * The store a running server uses (the config's SQLite file or PostgreSQL),
 * opened by CLI commands, and the context CLI changes run in: an audit log
 * that records each change as a row in that store and as one JSON log line
 * on standard error (CONTRACT §6), standard output being the command's own.
 */
import { AuditLog } from '../audit/index.js';
import { loadConfigFile, type Config } from '../config/index.js';
import { createLogger } from '../log/index.js';
import type { OperationContext } from '../operations/index.js';
import { openStore, type Store } from '../store/index.js';
import { UsageError, type CliIo } from './args.js';

/** Loads the config and opens its store; the caller closes the store. */
export async function openConfiguredStore(path: string | undefined, env: CliIo['env']): Promise<{ config: Config; store: Store }> {
  if (!path) throw new UsageError('--config FILE is required (the same file the server runs with)');
  const config = loadConfigFile(path, env);
  const store = await openStore({ type: config.databrokerStorageType, connectionString: config.databrokerStorageConnectionString });
  return { config, store };
}

/** What a CLI command that changes something works with. */
export interface CliChange {
  readonly config: Config;
  readonly store: Store;
  /** The context to run operations in: their audit events are stored and logged before the command returns. */
  readonly ops: OperationContext;
}

/**
 * Runs `fn` with the configured store and an audit log over it; afterwards
 * (also on failure) writes every event `fn` recorded, then closes the store.
 */
export async function withConfiguredStore<T>(path: string | undefined, io: Pick<CliIo, 'env' | 'stderr'>, fn: (c: CliChange) => Promise<T>): Promise<T> {
  const { config, store } = await openConfiguredStore(path, io.env);
  const audit = new AuditLog({
    store, logger: createLogger('info', (line) => io.stderr(line)), retentionMs: config.auditRetentionMs, pruneOnStart: false,
  });
  try {
    return await fn({ config, store, ops: { store, audit, now: Date.now, via: 'cli' } });
  } finally {
    try {
      await audit.close();
    } finally {
      await store.close();
    }
  }
}
