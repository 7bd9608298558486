/**
 * Work that must run once per cluster, not once per replica: deleting
 * expired records (sessions, hand-off marks, revocations past their token's
 * expiry). One replica at a time holds the `upkeep` lease in the store and
 * does it; if that replica dies, another takes the lease when it expires.
 */
import type { Store } from './types.js';

export interface Upkeep {
  /** Runs one round now (tests, shutdown); resolves with the records purged, or 0 when another replica holds the lease. */
  runOnce(): Promise<number>;
  stop(): void;
}

export interface UpkeepOptions {
  /** This replica's name in the lease. */
  readonly holder: string;
  /** How often to try (default 60 s); the lease lasts three rounds. */
  readonly everyMs?: number;
  readonly now?: () => number;
  readonly onError?: (err: unknown) => void;
  readonly onPurged?: (n: number) => void;
}

/** Starts the periodic upkeep round; the first one runs after `everyMs`. */
export function startUpkeep(store: Store, opts: UpkeepOptions): Upkeep {
  const every = opts.everyMs ?? 60_000;
  const now = opts.now ?? Date.now;
  let running: Promise<number> | undefined;
  const runOnce = (): Promise<number> => {
    running ??= (async () => {
      try {
        if (!(await store.tryLease('upkeep', opts.holder, every * 3, now()))) return 0;
        const n = await store.purgeExpired(now());
        if (n > 0) opts.onPurged?.(n);
        return n;
      } catch (err) {
        opts.onError?.(err);
        return 0;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const timer = setInterval(() => { void runOnce(); }, every);
  timer.unref();
  return { runOnce, stop: () => clearInterval(timer) };
}
