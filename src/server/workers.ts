/**
 * Every core (issue 16): `workers` processes serving the same listeners.
 *
 * The primary forks the workers (node:cluster), hands each one the config
 * text it last accepted, serves the metrics listener (the workers' registries
 * summed by prom-client's AggregatorRegistry, with what workers that have
 * exited last counted, so no counter goes back) and the health listener (the
 * workers' reports combined), passes config reloads and stop signals on,
 * and replaces a worker that dies, with a growing delay so a crash loop
 * does not spin. It opens no store and serves no request itself.
 *
 * Each worker is a whole Limen (startLimen) on the same store: sessions,
 * revocations and directory changes are exact across workers as they are
 * across replicas (SQLite: every read first looks at `PRAGMA data_version`;
 * PostgreSQL: LISTEN/NOTIFY with the heartbeat bound). Work meant once per
 * cluster (upkeep, audit retention, certificate renewal) already runs under
 * leases and locks in the store or `autocert_dir`, so N workers behave as N
 * replicas there. The proxy listener is shared through the primary (cluster
 * round robin), or, where Node.js offers `reusePort` (22.12+, Linux), bound
 * by each worker with SO_REUSEPORT, which measured twice as fast at
 * accepting connections here; `http_redirect_addr` is always shared.
 *
 * With `workers: 1` none of this runs: the process serves directly.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { parseConfigText, type Config } from '../config/index.js';
import { createLogger, type Logger } from '../log/index.js';
import { startListeners, stdoutDestination, type CheckResult, type HealthReport, type LineDestination, type ObservabilityListeners } from '../observe/index.js';
import { LOG_DRAIN_LIMIT_MS, settlesWithin } from './drain.js';
import type { Readable } from 'node:stream';
import type { Registry } from 'prom-client';
import { startLimen, type RunningLimen, type StartOptions } from './limen.js';

/** How the workers share the proxy's listen address. */
export type ListenMode = 'reuse-port' | 'cluster';

type HealthKind = 'startupz' | 'readyz' | 'healthz';

/** One registry's metrics as prom-client's cluster aggregation reads them. */
type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** Messages between the primary and a worker, all typed `limen:*`. */
type ToPrimary =
  | { type: 'limen:config?' }
  | { type: 'limen:ready'; port: number }
  | { type: 'limen:failed'; message: string }
  | { type: 'limen:health'; id: number; report: HealthReport }
  | { type: 'limen:metrics'; id: number; metrics: MetricsJson }
  | { type: 'limen:hup' };
type ToWorker =
  | { type: 'limen:config'; text: string; port?: number }
  | { type: 'limen:reload'; text: string }
  | { type: 'limen:reload-failed' }
  | { type: 'limen:health?'; id: number; kind: HealthKind }
  | { type: 'limen:metrics?'; id: number }
  | { type: 'limen:stop' };

function isLimenMessage<T extends { type: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' && (m as { type: string }).type.startsWith('limen:');
}

/**
 * The worker processes `config` asks for: a number as given; `auto` is the
 * CPUs available to the process, except on the memory store, whose
 * sessions live in one process (a number above 1 is refused there when
 * the config is parsed).
 */
export function workerCount(config: Pick<Config, 'workers' | 'databrokerStorageType'>, cpus: number = availableParallelism()): number {
  if (config.workers !== 'auto') return config.workers;
  return config.databrokerStorageType === 'memory' ? 1 : Math.max(1, cpus);
}

/** `reuse-port` where Node.js has `listen({ reusePort })` (22.12+, 23.1+) on Linux; node:cluster's round robin elsewhere. */
export function listenMode(version: string = process.versions.node, platform: NodeJS.Platform = process.platform): ListenMode {
  if (platform !== 'linux') return 'cluster';
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12) ? 'reuse-port' : 'cluster';
}

/** Whether this process is a worker forked by a Limen primary. */
export function isWorkerProcess(): boolean {
  return cluster.isWorker;
}

/**
 * The delay before replacing a worker that died: `firstMs` after one that
 * had run for `stableMs` or longer, doubling with each quick death in a
 * row, up to `maxMs`.
 */
export function restartDelay(quickDeaths: number, o: { firstMs: number; maxMs: number }): number {
  return Math.min(o.maxMs, o.firstMs * 2 ** Math.max(0, quickDeaths - 1));
}

export interface PrimaryOptions {
  readonly configPath: string;
  /** The config file's text and its parsed form (already checked). */
  readonly text: string;
  readonly config: Config;
  readonly workers: number;
  readonly logger: Logger;
  readonly env: NodeJS.ProcessEnv;
  readonly mode?: ListenMode;
  /** Replacing dead workers: first delay, cap, and how long a worker must run to reset the delay. */
  readonly restart?: { readonly firstMs: number; readonly maxMs: number; readonly stableMs: number };
  /** How long a worker may take to answer a health probe. */
  readonly healthTimeoutMs?: number;
  /**
   * Where the workers' standard output goes, whole lines (the primary's own
   * batched standard output, shared with its logger); default: written to
   * process.stdout. The lines it `dropped` (past its bound) and `failed` to
   * write (EPIPE, a closed descriptor), as a LineSink counts them, are added
   * to the workers' `limen_log_lines_dropped_total`.
   */
  readonly output?: LineDestination & { drain?(): Promise<void>; readonly pendingBytes?: number; readonly dropped?: number; readonly failed?: number };
}

export interface RunningPrimary {
  readonly url: string;
  readonly port: number;
  readonly mode: ListenMode;
  readonly observability: ObservabilityListeners;
  /** Sends a config file's new text to every worker. */
  reload(text: string): void;
  /** Counts a reload that failed to parse, in every worker's metrics. */
  reloadFailed(): void;
  /** Called when a worker got SIGHUP itself: re-read the file. */
  onHangup(listener: () => void): void;
  /** Every worker drains and exits; resolves with the exit code (0 when all exited 0). */
  stop(): Promise<number>;
}

interface Slot {
  worker: Worker | undefined;
  /** Set once the worker listens. */
  ready: boolean;
  startedAt: number;
  quickDeaths: number;
  /** What the worker counted when it last answered a scrape. */
  metrics?: MetricsJson | undefined;
}

/**
 * The workers' health reports combined into the primary's: each check at
 * its worst across the workers that answered (one that did not answer in
 * time fails `listeners-up`), plus `workers`, which fails when no worker is
 * healthy: while one is being replaced or unhealthy the others serve, so the
 * check says whether any worker can, and the checks above say what is wrong.
 */
export function combineHealth(reports: readonly { id: number; pid: number; report: HealthReport | undefined }[], expected: number): HealthReport {
  const checks: Record<string, CheckResult> = {};
  const rank = { failed: 2, ok: 1, skipped: 0 } as const;
  for (const { report } of reports) {
    for (const [name, c] of Object.entries(report?.checks ?? { 'listeners-up': { status: 'failed', error: 'the worker did not answer' } as CheckResult })) {
      const had = checks[name];
      if (had === undefined || rank[c.status] > rank[had.status]) checks[name] = c;
    }
  }
  const workers = reports.map(({ id, pid, report }) => ({ id, pid, status: report?.status ?? 'unhealthy' as const }));
  const healthy = workers.filter((w) => w.status === 'ok').length;
  checks.workers = healthy > 0 ? { status: 'ok' }
    : { status: 'failed', error: reports.length === 0 ? `no worker is ready (of ${expected})` : `no worker is healthy (${reports.length} of ${expected} ready)` };
  const failed = Object.values(checks).some((c) => c.status === 'failed');
  return { status: failed ? 'unhealthy' : 'ok', checks, workers };
}

/** Raised when the first workers cannot start; carries the worker's own one-line reason. */
export class WorkerStartError extends Error {
  readonly code = 'ERR_WORKER_START';
  constructor(message: string) {
    super(message);
    this.name = 'WorkerStartError';
  }
}

/**
 * Forks the workers (the first alone, so a start-up failure such as a port
 * in use is reported once and, with reusePort, port 0 becomes one port for
 * all), then starts the metrics and health listeners. Throws the first
 * worker's start-up error after stopping any worker already started.
 */
export async function startPrimary(o: PrimaryOptions): Promise<RunningPrimary> {
  const mode = o.mode ?? listenMode();
  const restart = o.restart ?? { firstMs: 250, maxMs: 30_000, stableMs: 30_000 };
  const logger = o.logger;
  let text = o.text;
  let pinnedPort: number | undefined;
  let stopping = false;
  let hangup: () => void = () => undefined;
  const exitCodes: number[] = [];
  let allExited: () => void = () => undefined;
  const slots: Slot[] = Array.from({ length: o.workers }, () => ({ worker: undefined, ready: false, startedAt: 0, quickDeaths: 0 }));
  /** Health and metrics questions waiting for a worker's answer, by id. */
  const waiting = new Map<number, (answer: unknown) => void>();
  let nextProbe = 0;
  // prom-client is loaded only when metrics are on.
  const prom = o.config.metricsAddress !== undefined ? await import('prom-client') : undefined;
  /**
   * The counters and histograms of workers that have exited, as they last
   * answered: added to every scrape, so a replaced worker's counts do not
   * leave the sums (Prometheus would read the drop as a reset). What a
   * worker counted after its last scrape is lost with it.
   */
  let retired: MetricsJson = [];
  let retiring: Promise<void> = Promise.resolve();
  const retire = (dead: MetricsJson | undefined): void => {
    // `type` is 'counter', 'gauge', ... at run time (prom-client's typings call it a numeric enum).
    const kept = dead?.filter((m) => String(m.type) === 'counter' || String(m.type) === 'histogram') ?? [];
    if (prom === undefined || kept.length === 0) return;
    retiring = retiring.then(async () => { retired = await prom.AggregatorRegistry.aggregate([retired, kept]).getMetricsAsJSON(); });
  };
  // Until the listeners are up, a worker's failure ends the start.
  let starting = true;

  // Each worker writes to a pipe of its own, which the primary copies to its
  // standard output a whole line at a time: workers writing batches to one
  // shared pipe could cut each other's lines (a pipe keeps a write whole only
  // up to 4 KiB), and writing in pieces that small cost more CPU than this copy.
  cluster.setupPrimary({ silent: true });
  const toStdout = o.output ?? { write: (t: string) => { process.stdout.write(t); } };
  // The copy hands the output many lines in one write, and a LineSink counts a write it drops as one line: the rest are counted here.
  let droppedBesides = 0;
  const copyOut = (t: string): void => {
    const before = toStdout.dropped;
    toStdout.write(t);
    if (toStdout.dropped !== before) droppedBesides += linesIn(t) - 1;
  };
  /** Reloads checked here and handed to the workers (success), or refused here (failure). */
  const reloads = { success: 0, failure: 0 };
  /**
   * Lines lost on the primary's own standard output (the workers' copied
   * lines and its own log lines): they never reach a worker's counter, so
   * the primary adds them to what it serves.
   */
  const lostHere = (): number => (toStdout.dropped ?? 0) + droppedBesides + (toStdout.failed ?? 0);
  const relays = new Set<Promise<void>>();
  const relay = (from: Readable | null, to: (text: string) => void, full?: () => boolean): void => {
    if (!from) return;
    const done = relayLines(from, to, full);
    relays.add(done);
    void done.then(() => relays.delete(done));
  };

  const fork = (slot: Slot): Promise<number> => new Promise<number>((resolve, reject) => {
    const worker = cluster.fork();
    // While the primary's own output is far behind, it stops reading: lines then wait in the
    // worker, whose writer drops past its bound and counts it (limen_log_lines_dropped_total).
    relay(worker.process.stdout, copyOut, () => (toStdout.pendingBytes ?? 0) > RELAY_PAUSE_AT);
    relay(worker.process.stderr, (t) => { process.stderr.write(t); });
    slot.worker = worker;
    slot.ready = false;
    slot.startedAt = Date.now();
    let failure: string | undefined;
    worker.on('message', (m: unknown) => {
      if (!isLimenMessage<ToPrimary>(m)) return;
      switch (m.type) {
        case 'limen:config?':
          send(worker, { type: 'limen:config', text, ...(pinnedPort !== undefined ? { port: pinnedPort } : {}) });
          break;
        case 'limen:ready':
          slot.ready = true;
          resolve(m.port);
          break;
        case 'limen:failed':
          failure = m.message;
          break;
        case 'limen:health':
          waiting.get(m.id)?.(m.report);
          break;
        case 'limen:metrics':
          waiting.get(m.id)?.(m.metrics);
          break;
        case 'limen:hup':
          hangup();
          break;
      }
    });
    worker.once('exit', (code, signal) => {
      slot.ready = false;
      slot.worker = undefined;
      retire(slot.metrics);
      slot.metrics = undefined;
      const why = failure ?? `worker exited (${signal ?? `code ${code}`}) before it was ready`;
      reject(new WorkerStartError(why));
      if (stopping || starting) {
        exitCodes.push(code ?? 1);
        if (slots.every((s) => s.worker === undefined)) allExited();
        return;
      }
      const lived = Date.now() - slot.startedAt;
      slot.quickDeaths = lived >= restart.stableMs ? 1 : slot.quickDeaths + 1;
      const delay = restartDelay(slot.quickDeaths, restart);
      logger.error('worker exited; starting another', {
        pid: worker.process.pid, code, signal, ...(failure !== undefined ? { error: failure } : {}), restart_in_ms: delay,
      });
      setTimeout(() => {
        if (stopping) return;
        fork(slot).then(
          () => logger.info('worker replaced', { pid: slot.worker?.process.pid }),
          () => undefined, // its exit is handled (and logged) like any other
        );
      }, delay).unref();
    });
  });

  const stopAll = (): Promise<number> => {
    stopping = true;
    const live = slots.filter((s) => s.worker !== undefined);
    if (live.length === 0) return Promise.resolve(exitCodes.every((c) => c === 0) ? 0 : 1);
    const done = new Promise<void>((resolve) => { allExited = resolve; });
    for (const s of live) send(s.worker!, { type: 'limen:stop' });
    return done.then(() => (exitCodes.every((c) => c === 0) ? 0 : 1));
  };

  let port: number;
  try {
    port = await fork(slots[0]!);
    if (mode === 'reuse-port') pinnedPort = port;
    await Promise.all(slots.slice(1).map((s) => fork(s)));
  } catch (e) {
    await stopAll();
    throw e;
  }

  /** Asks one worker a question; no answer in time is undefined. */
  const ask = <T>(w: Worker, question: (id: number) => ToWorker): Promise<T | undefined> => new Promise((resolve) => {
    const id = nextProbe++;
    const timer = setTimeout(() => { waiting.delete(id); resolve(undefined); }, o.healthTimeoutMs ?? 2500);
    timer.unref();
    waiting.set(id, (answer) => { clearTimeout(timer); waiting.delete(id); resolve(answer as T); });
    send(w, question(id));
  });

  /**
   * One scrape: the workers' registries summed (a metric's `aggregator` says
   * how, see metrics.ts), with the retired counters and the lines the
   * primary lost itself. A worker that does not answer in time is counted
   * as it last answered.
   */
  const scrape = async (): Promise<string> => {
    await Promise.all(slots.map(async (s) => {
      const w = s.worker;
      if (!s.ready || !w?.isConnected()) return;
      const m = await ask<MetricsJson>(w, (id) => ({ type: 'limen:metrics?', id }));
      // A worker that exited meanwhile was retired with what it had answered before.
      if (m !== undefined && s.worker === w) s.metrics = m;
    }));
    await retiring;
    const all = slots.flatMap((s) => (s.metrics ? [s.metrics] : []));
    // Summed as one more registry, in the form (help, type) the workers give the metric.
    const families = [...all, retired].flat();
    const theirs = families.find((m) => m.name === LOG_LINES_LOST);
    const here: MetricsJson = theirs === undefined ? [] : [{ ...theirs, values: [{ value: lostHere(), labels: {} }] }];
    // Reloads are the primary's to count: it checks each one before any worker sees it, and a
    // worker started after a reload never saw it (the largest worker's count went flat once
    // the workers were replaced, and an alert on failures missed them).
    const reloaded = families.find((m) => m.name === CONFIG_RELOADS);
    if (reloaded !== undefined) here.push({ ...reloaded, values: [{ value: reloads.success, labels: { result: 'success' } }, { value: reloads.failure, labels: { result: 'failure' } }] });
    const workersOwn = (list: MetricsJson): MetricsJson => list.filter((m) => m.name !== CONFIG_RELOADS);
    return prom!.AggregatorRegistry.aggregate([...all.map(workersOwn), workersOwn(retired), here]).metrics();
  };

  let observability: ObservabilityListeners;
  try {
    observability = await startListeners({
      metricsAddress: o.config.metricsAddress, healthAddress: o.config.healthCheckAddr,
      metrics: prom !== undefined ? { scrape, contentType: prom.register.contentType } : undefined,
      health: { report: (kind) => combinedHealth(kind) },
      basicAuth: o.config.metricsBasicAuth,
      onError: (what, e) => logger.error(what, { error: (e as Error)?.message }),
    });
  } catch (e) {
    await stopAll();
    throw e;
  }
  starting = false;

  /** Asks one worker for its report; no answer in time counts as unhealthy. */
  const probe = (w: Worker, kind: HealthKind): Promise<HealthReport | undefined> => ask<HealthReport>(w, (id) => ({ type: 'limen:health?', id, kind }));

  const combinedHealth = async (kind: HealthKind): Promise<HealthReport> => {
    const up = slots.filter((s) => s.ready && s.worker?.isConnected());
    const reports = await Promise.all(up.map(async (s) => ({ id: s.worker!.id, pid: s.worker!.process.pid ?? 0, report: await probe(s.worker!, kind) })));
    return combineHealth(reports, o.workers);
  };

  const host = o.config.address.host || '127.0.0.1';
  return {
    url: `${o.config.insecureServer ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port, mode, observability,
    reload(next) {
      text = next;
      reloads.success++;
      for (const s of slots) if (s.worker?.isConnected()) send(s.worker, { type: 'limen:reload', text: next });
    },
    reloadFailed() {
      reloads.failure++;
      for (const s of slots) if (s.worker?.isConnected()) send(s.worker, { type: 'limen:reload-failed' });
    },
    onHangup(listener) { hangup = listener; },
    async stop() {
      const code = await stopAll();
      await observability.close();
      // The workers' last lines, read to the end of their pipes and written,
      // unless standard output has stopped taking them (then they are lost).
      const written = async (): Promise<void> => { await Promise.all(relays); await toStdout.drain?.(); };
      if (!(await settlesWithin(written(), LOG_DRAIN_LIMIT_MS))) {
        logger.warn('standard output did not take every line before shutdown: the lines still waiting are lost', { waited_ms: LOG_DRAIN_LIMIT_MS });
      }
      return code;
    },
  };
}

/** The counter of standard output's lines lost (metrics.ts), which the primary adds its own to. */
const LOG_LINES_LOST = 'limen_log_lines_dropped_total';
/** The reload counter (metrics.ts), which the primary serves as its own count. */
const CONFIG_RELOADS = 'limen_config_reloads_total';

/** The lines in a text of whole lines (each ends in a newline). */
function linesIn(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** A line longer than this without its end is copied as it is (with a line end added), not held. */
const MAX_RELAYED_LINE = 1024 * 1024;
/** Bytes waiting in the primary's output past which it stops reading the workers (half its writer's bound, so that never drops). */
const RELAY_PAUSE_AT = 8 * 1024 * 1024;
/** How often a paused copy looks again. */
const RELAY_RECHECK_MS = 20;

/**
 * Copies `from` to `to` in whole lines: a line split between two reads is
 * held until its end arrives. While `full()` says the destination is far
 * behind, `from` is paused (its writer then waits, or drops and counts).
 * Resolves when `from` closes (the worker exited), after copying what is
 * left.
 */
export function relayLines(from: Readable, to: (text: string) => void, full?: () => boolean): Promise<void> {
  let rest: Buffer | undefined;
  let recheck: NodeJS.Timeout | undefined;
  const holdBack = (): void => {
    if (full === undefined || recheck !== undefined || !full()) return;
    from.pause();
    recheck = setInterval(() => {
      if (full()) return;
      clearInterval(recheck);
      recheck = undefined;
      from.resume();
    }, RELAY_RECHECK_MS);
  };
  from.on('data', (chunk: Buffer) => {
    const buf = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
    const end = buf.lastIndexOf(10); // a newline byte is never inside a UTF-8 character
    if (end < 0) {
      if (buf.length > MAX_RELAYED_LINE) { to(`${buf.toString('utf8')}\n`); rest = undefined; } else rest = buf;
      return;
    }
    to(buf.toString('utf8', 0, end + 1));
    rest = end + 1 < buf.length ? buf.subarray(end + 1) : undefined;
    holdBack();
  });
  return new Promise((resolve) => {
    from.once('close', () => {
      if (recheck !== undefined) clearInterval(recheck);
      if (rest !== undefined && rest.length > 0) to(`${rest.toString('utf8')}\n`);
      rest = undefined;
      resolve();
    });
  });
}

function send(w: Worker, m: ToWorker): void {
  // A worker that is exiting may have closed its channel: its exit is handled elsewhere.
  if (w.isConnected()) w.send(m, undefined, () => undefined);
}

/** Sends to the primary; resolves once the message is handed to the channel. */
function tell(m: ToPrimary): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) { resolve(); return; }
    process.send(m, undefined, {}, () => resolve());
  });
}

export interface WorkerOptions {
  readonly configPath: string;
  readonly env: NodeJS.ProcessEnv;
  readonly mode?: ListenMode;
  /** Extension points, as `limen serve` passes them to startLimen. */
  readonly start?: Omit<StartOptions, 'config' | 'logger' | 'worker' | 'accessLogDestination'>;
}

/**
 * A worker's life: asks the primary for the config text, starts Limen on
 * it (without the metrics and health listeners, which the primary serves),
 * says it is ready, applies reloads, answers health probes, and on `stop`
 * (or SIGTERM/SIGINT sent to it directly, as systemd does to every process
 * of a unit) drains and exits 0. A start-up failure is told to the primary,
 * which prints it; the worker exits 1 without printing.
 */
export async function runWorker(o: WorkerOptions): Promise<never> {
  const id = cluster.worker?.id ?? 0;
  const messages: ToWorker[] = [];
  let deliver: ((m: ToWorker) => void) | undefined;
  process.on('message', (m: unknown) => {
    if (!isLimenMessage<ToWorker>(m)) return;
    if (deliver) deliver(m);
    else messages.push(m);
  });
  const first = await new Promise<Extract<ToWorker, { type: 'limen:config' }>>((resolve) => {
    deliver = (m) => { if (m.type === 'limen:config') resolve(m); else messages.push(m); };
    void tell({ type: 'limen:config?' });
  });
  deliver = undefined;

  let running: RunningLimen;
  let logger: Logger;
  try {
    const config = parseConfigText(first.text, o.configPath, o.env);
    // Every line of the worker through one batched writer, to its own pipe to the primary (which copies whole lines).
    const out = stdoutDestination();
    logger = createLogger(config.logLevel, out, { worker: id, pid: process.pid });
    const mode = o.mode ?? listenMode();
    running = await startLimen({
      ...o.start, config, logger,
      accessLogDestination: out,
      worker: { reusePort: mode === 'reuse-port', ...(first.port !== undefined ? { port: first.port } : {}), logBase: { worker: id, pid: process.pid } },
    });
  } catch (e) {
    await tell({ type: 'limen:failed', message: (e as Error).message });
    process.exit(1);
  }
  const metrics = running.services.observer?.metrics;
  logger.info('worker listening', { url: running.url });

  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    void running.close().then(() => process.exit(0), (e: Error) => {
      logger.error('worker shutdown failed', { error: e.message });
      process.exit(1);
    });
  };
  const handle = (m: ToWorker): void => {
    switch (m.type) {
      case 'limen:reload': {
        let next: Config;
        try {
          next = parseConfigText(m.text, o.configPath, o.env);
        } catch (e) {
          running.reloadFailed();
          logger.error('config reload failed; keeping the running config', { error: (e as Error).message });
          return;
        }
        running.reload(next).catch((e: Error) => logger.error('config reload failed; keeping the running config', { error: e.message }));
        break;
      }
      case 'limen:reload-failed': running.reloadFailed(); break;
      case 'limen:health?':
        void running.healthReport(m.kind).then((report) => tell({ type: 'limen:health', id: m.id, report }));
        break;
      case 'limen:metrics?':
        // Unanswered when it fails: the primary then counts this worker as it last answered.
        void (metrics?.json() ?? Promise.resolve([])).then((list) => tell({ type: 'limen:metrics', id: m.id, metrics: list }), () => undefined);
        break;
      case 'limen:stop': stop(); break;
      case 'limen:config': break;
    }
  };
  deliver = handle;
  for (const m of messages.splice(0)) handle(m);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // SIGHUP would end a process without a handler; the primary re-reads the file for everyone.
  process.on('SIGHUP', () => { void tell({ type: 'limen:hup' }); });
  await tell({ type: 'limen:ready', port: running.port });
  return new Promise<never>(() => undefined);
}
