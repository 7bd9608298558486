/**
 * The IPC messages between the benchmark and its child processes. Secrets
 * (shared secret, cookie secret, client secret) travel over this channel,
 * never on a command line or in the environment of another process.
 */

export type UpstreamKind = 'minimal' | 'demo';
export type StoreKind = 'memory' | 'sqlite' | 'postgres';

export interface UpstreamStart {
  readonly type: 'start';
  readonly kind: UpstreamKind;
}

/** Start the bare Node proxy (floor-child.ts) in front of this upstream. */
export interface FloorStart {
  readonly type: 'start';
  readonly upstreamUrl: string;
  /** More than 1: a node:cluster primary with this many workers on one port (the floor on every core). */
  readonly workers?: number;
  /** The floor plus the least a signed-in request costs under CONTRACT (floor-child.ts). */
  readonly contract?: boolean;
}

export interface LimenStart {
  readonly type: 'start';
  /** A config document for `parseConfig` (snake_case keys, as in YAML). */
  readonly config: Record<string, unknown>;
  readonly store: StoreKind;
  /** SQLite file when `store` is `sqlite`. */
  readonly sqlitePath?: string;
  /**
   * PostgreSQL schema to share with other replicas (the caller drops it);
   * default a schema of this process's own, dropped when it stops.
   */
  readonly schema?: string;
}

/** Flush the audit queue, then store (true) or drop (false) audit batches from now on. */
export interface AuditStoreSwitch {
  readonly type: 'audit-store';
  readonly write: boolean;
}

/** Metrics and the access/authorize log on or off (issue 12), in the same process. */
export interface ObserveSwitch {
  readonly type: 'observe';
  readonly on: boolean;
}

export interface ObserveSwitched {
  readonly type: 'observe-set';
  readonly on: boolean;
}

export interface AuditStoreSwitched {
  readonly type: 'audit-store-set';
  readonly write: boolean;
}

export interface ProfileStart {
  readonly type: 'profile-start';
}

export interface ProfileStop {
  readonly type: 'profile-stop';
  /** Where to write the `.cpuprofile`. */
  readonly path: string;
}

export interface Ready {
  readonly type: 'ready';
  readonly url: string;
  readonly port: number;
}

export interface ProfileStarted {
  readonly type: 'profile-started';
}

export interface ProfileWritten {
  readonly type: 'profile-written';
  readonly path: string;
}

/**
 * Issue 16, item 5: copy the session behind `cookie` (a signed-in
 * `_pomerium` value) `count` times, each as a user of its own, and write a
 * cookie for every copy to `cookiesFile` (one per line) for wrk to rotate through.
 */
export interface SeedSessions {
  readonly type: 'seed-sessions';
  readonly cookie: string;
  readonly count: number;
  readonly cookiesFile: string;
}

export interface SessionsSeeded {
  readonly type: 'sessions-seeded';
  readonly count: number;
}

/** Where a Limen child's memory is (process.memoryUsage after a full GC when exposed), for the soak's breakdown. */
export interface MemoryUsageReport {
  readonly type: 'memory-usage';
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

export interface ChildFailed {
  readonly type: 'error';
  readonly message: string;
}

/** Tiny body of the minimal upstream; also what the bench expects back from it. */
export const MINIMAL_BODY = 'hello from the bench upstream\n';

/** Path on either upstream that reports the request headers as JSON (`{headers}`). */
export const ECHO_PATH = '/__bench/echo';
