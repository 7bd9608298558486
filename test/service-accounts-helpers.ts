/**
 * Helpers for the service-account, token and namespace end-to-end tests: a
 * stack on a SQLite file that a `limen` CLI process shares (as a running
 * server and an administrator's shell would), the config file the CLI
 * reads, running the CLI as a user does, and the no-token-in-logs check.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { PostgresStore, SqliteStore, type Store } from '../src/store/index.js';
import { COOKIE_SECRET, SHARED_SECRET, startStack, type Stack, type StackOptions } from './stack.js';

export { REPO_ROOT, runCli, type CliResult } from './support/cli.js';

/** A clock the tests move by hand: real time plus an offset, so CLI-issued tokens (real time) line up. */
export class TestClock {
  offsetMs = 0;
  readonly now = (): number => Date.now() + this.offsetMs;
  advance(ms: number): void { this.offsetMs += ms; }
  reset(): void { this.offsetMs = 0; }
}

/** PostgreSQL of the test environment (trust auth). */
export const POSTGRES_URL = process.env.LIMEN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface SharedStoreStack {
  readonly s: Stack;
  readonly store: Store;
  /** The config file a `limen` CLI reads: same store file, shared secret and namespaces as the server. */
  readonly configPath: string;
  readonly dbPath: string;
  readonly logLines: string[];
  readonly clock: TestClock;
  close(): Promise<void>;
}

/**
 * Starts the stack on a fresh SQLite file (or, with `postgres`, on the
 * PostgreSQL database) and writes the config file the CLI uses.
 */
export async function startSharedStoreStack(o: Omit<StackOptions, 'store' | 'now' | 'logLines'> & { postgres?: boolean }): Promise<SharedStoreStack> {
  const dir = mkdtempSync(join(tmpdir(), 'limen-sa-'));
  const dbPath = join(dir, 'limen.db');
  const store: Store = o.postgres ? await PostgresStore.open({ connectionString: POSTGRES_URL }) : SqliteStore.open({ path: dbPath });
  const logLines: string[] = [];
  const clock = new TestClock();
  const storage = o.postgres
    ? { databroker_storage_type: 'postgres', databroker_storage_connection_string: POSTGRES_URL }
    : { databroker_storage_type: 'file', databroker_storage_connection_string: dbPath };
  const { postgres: _pg, ...stackOptions } = o;
  const s = await startStack({ ...stackOptions, store, now: clock.now, logLines, config: { ...o.config, ...storage } });
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, stringify({
    authenticate_service_url: s.authOrigin,
    idp_provider_url: s.idpUrl,
    idp_client_id: 'limen-test',
    idp_client_secret: 'not-used-by-the-cli',
    shared_secret: SHARED_SECRET,
    cookie_secret: COOKIE_SECRET,
    insecure_server: true,
    ...o.config,
    ...storage,
  }), { mode: 0o600 });
  return {
    s, store, configPath, dbPath, logLines, clock,
    async close() {
      await s.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Asserts that no token (nor its signature, the part that makes it a
 * credential) appears in any collected log line or stored audit event.
 */
export async function assertNoTokensLogged(st: SharedStoreStack, tokens: readonly string[]): Promise<void> {
  assert.ok(tokens.length > 0, 'the scenario produced tokens to look for');
  await st.s.limen.services.audit.flush();
  const audit = JSON.stringify(await st.store.queryAudit({ limit: 100_000 }));
  assert.ok(st.logLines.length > 0, 'log lines were collected');
  for (const t of tokens) {
    const sig = t.split('.')[2] ?? t;
    assert.ok(sig.length >= 20, 'a real token');
    for (const line of st.logLines) assert.ok(!line.includes(sig), `a token signature appears in a log line: ${line.slice(0, 120)}`);
    assert.ok(!audit.includes(sig), 'a token signature appears in a stored audit event');
  }
}
