/**
 * One Limen under test, in its own process (so its event loop is its own,
 * as in production), started as `limen serve` would start it (service
 * accounts, directory enrichment and the admin API included), a store, and a
 * logger whose lines go to a sink that discards them. On request it
 * switches the audit log's store writes off or on (the audit log still
 * builds and logs every event: that is "auditing off" for the comparison)
 * and records a CPU profile of itself with the inspector.
 *
 * Limen's code is loaded from the build (`dist/`, what `limen serve` runs),
 * not from the TypeScript sources through tsx: tsx's transform wraps every
 * function created at run time in a naming helper, which costs a few percent
 * per request that the shipped code does not pay. `npm run bench` builds
 * first, so the build is the current source.
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import type { RunningLimen } from '../../src/server/index.js';
import type { Logger } from '../../src/log/index.js';
import type { LineSink } from '../../src/observe/index.js';
import { auditSwitch, type AuditSwitchStore } from './audit-switch-store.js';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { decodeJwt, SignJWT } from 'jose';
import type { MemoryUsageReport, SeedSessions, SessionsSeeded } from './messages.js';
import type { AuditStoreSwitch, AuditStoreSwitched, ChildFailed, LimenStart, ObserveSwitch, ObserveSwitched, ProfileStarted, ProfileStop, ProfileWritten, Ready } from './messages.js';

/**
 * The build Limen is loaded from: this checkout's, or another's given by
 * LIMEN_BENCH_DIST (`npm run bench -- --baseline DIR`: a change measured
 * against the build it changes, in one run).
 */
const DIST = process.env.LIMEN_BENCH_DIST !== undefined ? pathToFileURL(`${process.env.LIMEN_BENCH_DIST}/`) : new URL('../../dist/src/', import.meta.url);

/** A module of the build, typed as its source. */
async function built<T>(path: string): Promise<T> {
  const url = new URL(path, DIST);
  if (!existsSync(url)) throw new Error(`${url.pathname} is missing: run npm run build first (npm run bench does)`);
  return import(url.href) as Promise<T>;
}

/** Loaded before the first message is handled; the message listener is added at once, so none is missed. */
const modules = Promise.all([
  built<typeof import('../../src/config/index.js')>('config/index.js'),
  built<typeof import('../../src/server/index.js')>('server/index.js'),
  built<typeof import('../../src/store/index.js')>('store/index.js'),
  built<typeof import('../../src/log/index.js')>('log/index.js'),
  built<typeof import('../../src/observe/index.js')>('observe/index.js'),
]);

let limen: RunningLimen | undefined;
let store: AuditSwitchStore | undefined;
const ownSchema = `limen_bench_${process.pid}`;
let sharedSchema = false;
let profiler: Session | undefined;
/** Observability on (metrics recorded, access and authorize lines written) and off: two configs and the metrics to put back. */
let observe: { metrics: unknown; accessLog: unknown } | undefined;

async function start(m: LimenStart): Promise<Ready> {
  const [{ parseConfig }, { startLimen }, { openStore }, { createLogger }, { fileDestination }] = await modules;
  const config = parseConfig(m.config, {});
  sharedSchema = m.schema !== undefined;
  const opened = m.store === 'sqlite'
    ? await openStore({ type: 'file', connectionString: m.sqlitePath ?? '' })
    : m.store === 'postgres'
      // A schema of its own, dropped at the end, so runs never share state.
      ? await openStore({ type: 'postgres', connectionString: String(config.databrokerStorageConnectionString), schema: m.schema ?? ownSchema })
      : await openStore({ type: 'memory', connectionString: '' });
  store = auditSwitch(opened);
  // As limen serve writes them: the log and audit lines and the access and
  // authorize lines to one batched, asynchronous writer on standard output,
  // here /dev/null. The audit lines are written whether or not metrics and
  // the access log are on, as they are in production.
  const out = fileDestination('/dev/null');
  limen = await startLimen({ config, store, logger: loggerTo(createLogger, out), accessLogDestination: out });
  observe = { metrics: limen.services.observer?.metrics, accessLog: limen.services.observer?.accessLog };
  await switchObserve({ type: 'observe', on: false });
  return { type: 'ready', url: limen.url, port: limen.port };
}

/**
 * A logger writing to `out` as limen serve's does. A build from before
 * loggers took a LineWriter (a --baseline) is given a function instead:
 * asked to write to an object, its logger throws on the first line.
 */
function loggerTo(create: typeof import('../../src/log/index.js').createLogger, out: LineSink): Logger {
  try {
    create('debug', { write() {} }).debug('probe');
    return create('info', out);
  } catch {
    return create('info', (l) => { out.write(l); });
  }
}

async function switchAuditStore(m: AuditStoreSwitch): Promise<AuditStoreSwitched> {
  if (!limen || !store) throw new Error('Limen is not running');
  // Events queued under the old setting are stored (or dropped) under it.
  await limen.services.audit.flush();
  store.writeAudit = m.write;
  return { type: 'audit-store-set', write: m.write };
}

/**
 * Same process, same route, same runtime: metrics recorded and access and
 * authorize lines written, or neither (no Observation is made). A switch,
 * not a reload, so both sides run on equally warm code and caches.
 */
async function switchObserve(m: ObserveSwitch): Promise<ObserveSwitched> {
  if (!limen || !observe || !limen.services.observer) throw new Error('Limen is not running');
  const o = limen.services.observer;
  o.metrics = (m.on ? observe.metrics : undefined) as typeof o.metrics;
  o.accessLog = (m.on ? observe.accessLog : undefined) as typeof o.accessLog;
  return { type: 'observe-set', on: m.on };
}

/**
 * Copies the signed-in session `count` times, each copy a user of its own,
 * straight into the store (as a sign-in would leave it), and writes a
 * cookie for each: the same handle as the original with the copy's id and
 * user, signed with the shared secret.
 */
async function seedSessions(m: SeedSessions): Promise<SessionsSeeded> {
  if (!limen || !store) throw new Error('Limen is not running');
  const claims = decodeJwt(m.cookie);
  if (typeof claims.jti !== 'string') throw new Error('seed-sessions: the cookie names no session');
  const template = await store.get<Record<string, unknown>>('session', claims.jti);
  if (!template) throw new Error('seed-sessions: the signed-in session is not in the store');
  const secret = limen.runtime().config.sharedSecret;
  // Written as they come, in order, so the child holds no 100k cookies (that is not Limen's memory).
  writeFileSync(m.cookiesFile, '', { mode: 0o600 });
  let cookies: string[] = [];
  let written = 0;
  const flush = (upTo: number): void => {
    if (upTo <= written) return;
    appendFileSync(m.cookiesFile, cookies.slice(0, upTo - written).join('\n') + '\n');
    cookies = cookies.slice(upTo - written);
    written = upTo;
  };
  const inFlight = 64;
  let next = 0;
  const one = async (i: number): Promise<void> => {
    const id = randomUUID();
    const userId = `bench-soak-${i}`;
    const data = { ...template.data, id, userId, email: `soak-${i}@example.com`, claims: { ...(template.data.claims as object), sub: userId, email: `soak-${i}@example.com` } };
    await store!.put('session', id, data, { index: userId, ...(template.expiresAt !== undefined ? { expiresAt: template.expiresAt } : {}) });
    const cookie = await new SignJWT({ ...claims, jti: id, sub: userId }).setProtectedHeader({ alg: 'HS256' }).sign(secret);
    cookies[i - written] = cookie; // `written` read after the await: flushes move it

  };
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < m.count) {
      await one(next++);
      // Everything before the oldest in flight is done.
      if (next - written >= 2048) {
        const done = cookies.findIndex((c) => c === undefined);
        flush(written + (done === -1 ? cookies.length : done));
      }
    }
  }));
  flush(m.count);
  // The seeding's own garbage is not what live sessions cost (sign-ins arrive over time): collected when exposed.
  (globalThis as { gc?: () => void }).gc?.();
  return { type: 'sessions-seeded', count: m.count };
}

async function startProfile(): Promise<ProfileStarted> {
  profiler = new Session();
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.setSamplingInterval', { interval: 100 });
  await profiler.post('Profiler.start');
  return { type: 'profile-started' };
}

async function stopProfile(m: ProfileStop): Promise<ProfileWritten> {
  if (!profiler) throw new Error('no profile is running');
  const { profile } = await profiler.post('Profiler.stop');
  profiler.disconnect();
  profiler = undefined;
  writeFileSync(m.path, JSON.stringify(profile));
  return { type: 'profile-written', path: m.path };
}

async function stop(): Promise<void> {
  await limen?.close();
  const postgres = store?.kind === 'postgres' && !sharedSchema ? limen?.runtime().config.databrokerStorageConnectionString : undefined;
  await store?.close();
  if (postgres) {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: postgres });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${ownSchema}" CASCADE`).finally(() => client.end());
  }
  process.exit(0);
}

function memoryUsage(): MemoryUsageReport {
  const m = process.memoryUsage();
  return { type: 'memory-usage', rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}

type Incoming = LimenStart | { type: 'memory-usage' } | AuditStoreSwitch | ObserveSwitch | SeedSessions | { type: 'profile-start' } | ProfileStop | { type: 'stop' };

process.on('message', (m: Incoming) => {
  const reply = (p: Promise<object>): void => {
    p.then(
      (msg) => process.send?.(msg),
      (err: unknown) => process.send?.({ type: 'error', message: String((err as Error)?.message ?? err) } satisfies ChildFailed),
    );
  };
  switch (m.type) {
    case 'start': reply(start(m)); break;
    case 'audit-store': reply(switchAuditStore(m)); break;
    case 'observe': reply(switchObserve(m)); break;
    case 'seed-sessions': reply(seedSessions(m)); break;
    case 'memory-usage': reply(Promise.resolve(memoryUsage())); break;
    case 'profile-start': reply(startProfile()); break;
    case 'profile-stop': reply(stopProfile(m)); break;
    case 'stop': void stop(); break;
  }
});
process.on('disconnect', () => { void stop(); });
