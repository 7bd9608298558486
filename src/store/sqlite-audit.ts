/**
 * Audit rows for an SQLite file are written by a worker thread with its own
 * connection, so the event loop that serves requests never waits on the
 * inserts, the commit or a WAL checkpoint (each a few milliseconds every
 * batch under load; measured with `npm run bench -- --store sqlite`). WAL
 * lets the worker's writes and the main connection's reads and writes
 * proceed together; the busy timeout makes either writer wait for the other.
 *
 * Batches are written in the order they were handed over; `append` resolves
 * once its batch is committed, so a query that follows sees it. The worker
 * holds the process open only while a batch is pending. If it dies, the
 * pending batches fail (the audit log reports them) and the next batch
 * starts a new worker.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import type { AuditRow } from './common.js';
import { StoreError } from './errors.js';

/** The one INSERT for audit rows, used by the worker and by the inline path; values in `auditValues` order. */
export const INSERT_AUDIT_SQL =
  'INSERT INTO audit (time, kind, request_id, decision, route, user_id, email, email_lower, actor, details, event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)' +
  ' ON CONFLICT (event_id) WHERE event_id IS NOT NULL DO NOTHING';

/** A row's values for `INSERT_AUDIT_SQL`. */
export function auditValues(r: AuditRow): (string | number | null)[] {
  return [r.time, r.kind, r.request_id, r.decision, r.route, r.user_id, r.email, r.email_lower, r.actor, r.details, r.event_id];
}

/**
 * The worker, as a CommonJS script: evaluated rather than loaded from a file,
 * so it runs the same from the TypeScript sources (tests, tsx) and from the
 * build. It receives batches as JSON arrays of `auditValues` arrays.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
db.pragma('synchronous = NORMAL');
const insert = db.prepare(workerData.insertSql);
const append = db.transaction((rows) => { for (const r of rows) insert.run(r); }).immediate;
parentPort.on('message', (m) => {
  if (m.type === 'close') { db.close(); parentPort.close(); return; }
  try {
    append(JSON.parse(m.rows));
    parentPort.postMessage({ id: m.id });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) });
  }
});
`;

interface Pending {
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class SqliteAuditWriter {
  #worker: Worker | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;

  constructor(private readonly path: string, private readonly busyTimeoutMs: number) {}

  /** Stores a checked batch; resolves when it is committed. */
  append(rows: readonly AuditRow[]): Promise<void> {
    const worker = this.#worker ?? this.#start();
    const id = ++this.#nextId;
    const text = JSON.stringify(rows.map(auditValues));
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) worker.ref();
      worker.postMessage({ type: 'append', id, rows: text });
    });
  }

  /** Waits for pending batches, then stops the worker. */
  async close(): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref();
    worker.postMessage({ type: 'close' });
    await exited;
  }

  #start(): Worker {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // Not the parent's flags: --input-type=module or loaders would change how the script is read.
      execArgv: [],
      workerData: { path: this.path, busyTimeoutMs: this.busyTimeoutMs, insertSql: INSERT_AUDIT_SQL, driver: createRequire(import.meta.url).resolve('better-sqlite3') },
    });
    worker.unref();
    worker.on('message', (m: { id: number; error?: string }) => {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) worker.unref();
      if (m.error === undefined) p.resolve();
      else p.reject(new StoreError('ERR_STORE_UNAVAILABLE', `audit write failed: ${m.error}`));
    });
    const fail = (reason: string): void => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const p of this.#pending.values()) p.reject(new StoreError('ERR_STORE_UNAVAILABLE', `audit writer stopped: ${reason}`));
      this.#pending.clear();
    };
    worker.on('error', (err) => fail(err.message));
    worker.on('exit', (code) => fail(`exited with code ${code}`));
    this.#worker = worker;
    return worker;
  }
}
