/**
 * `npm run bench -- --replicas`: the cost of PostgreSQL and of running
 * replicas (issue 13), from one run. Starts the minimal upstream, the
 * development IdP, one Limen on SQLite, three Limen replicas on one
 * PostgreSQL schema and nginx in front of the three as the load balancer;
 * signs in once on SQLite and once through the load balancer (the session
 * then lives in PostgreSQL, so every replica honours it); loads each target
 * with wrk in alternating rounds and prints requests/s, p50, p99 and the
 * CPU time per request of the processes serving it, with the ratios the
 * issue names: one replica on PostgreSQL against one on SQLite, signed-in,
 * and three replicas behind nginx against one. It reports; it does not gate.
 *
 * On a machine with fewer cores than replicas + load balancer + wrk, three
 * replicas cannot be faster than one: the CPU per request says what they
 * cost, requests/s what this machine could give them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { startDevIdp } from '../src/devidp/index.js';
import { CookieJar, closeHttpAgents, request, scriptedLogin } from '../test/support/index.js';
import { ECHO_PATH, type LimenStart, type Ready } from './lib/messages.js';
import { startNginx } from './lib/nginx.js';
import { forkTs, freePort, nextMessage, stopChild } from './lib/processes.js';
import { cpuMs, processAndChildren, procAvailable } from './lib/cpu.js';
import { formatMs } from './lib/report.js';
import { combineRuns, runWrk, wrkVersion, type LoadResult, type LoadTarget } from './lib/wrk.js';

const CLIENT_ID = 'limen-bench';
const COOKIE_NAME = '_pomerium';
const POSTGRES_URL = process.env.LIMEN_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REPLICAS = 3;

export interface ReplicaBenchOptions {
  readonly durationSec: number;
  readonly rounds: number;
  readonly warmupSec: number;
  readonly processWarmupSec: number;
  readonly connections: number;
  readonly threads: number;
}

interface Target {
  readonly label: string;
  readonly load: LoadTarget;
  /** The Limen processes serving it: the first time one is loaded it gets the longer warm-up. */
  readonly processes: readonly ChildProcess[];
  /** The processes whose CPU time is this target's cost. */
  readonly pids: () => readonly number[];
}

const cleanups: (() => Promise<void>)[] = [];
const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);

async function startLimen(start: LimenStart): Promise<{ child: ChildProcess; port: number }> {
  const child = forkTs('limen-child.ts');
  cleanups.push(async () => {
    if (child.connected) child.send({ type: 'stop' });
    await stopChild(child, 'SIGTERM', 5000);
  });
  const ready = nextMessage<Ready>(child, 'ready', 60_000);
  child.send(start);
  return { child, port: (await ready).port };
}

function config(o: { port: number; publicPort: number; idpIssuer: string; clientSecret: string; upstreamUrl: string; secrets: { shared: string; cookie: string } }, store: Record<string, unknown>): Record<string, unknown> {
  const at = `localhost:${o.publicPort}`;
  return {
    address: `127.0.0.1:${o.port}`,
    insecure_server: true,
    authenticate_service_url: `http://authenticate.${at}`,
    idp_provider_url: o.idpIssuer,
    idp_client_id: CLIENT_ID,
    idp_client_secret: o.clientSecret,
    shared_secret: o.secrets.shared,
    cookie_secret: o.secrets.cookie,
    cookie_name: COOKIE_NAME,
    jwt_claims_headers: ['email', 'groups'],
    ...store,
    routes: [
      { name: 'public', from: `http://public.${at}`, to: o.upstreamUrl, allow_public_unauthenticated_access: true },
      { name: 'signed', from: `http://signed.${at}`, to: o.upstreamUrl, allow_any_authenticated_user: true, pass_identity_headers: true },
    ],
  };
}

/** Signs in at `origin` (the replica, or the load balancer in front of them) and returns the session cookie. */
async function signIn(origin: string): Promise<string> {
  const jar = new CookieJar();
  const flow = await scriptedLogin(`${origin}/`, 'bench@example.com', { jar, groups: ['eng', 'staff'] });
  if (flow.response.status !== 200) throw new Error(`sign-in at ${origin} ended with status ${flow.response.status}`);
  const cookie = jar.get(COOKIE_NAME, origin);
  if (!cookie) throw new Error(`sign-in left no ${COOKIE_NAME} cookie for ${origin}`);
  return cookie;
}

/** One request before loading: 200, and on signed routes the identity reached the upstream. */
async function verify(t: Target): Promise<void> {
  const url = new URL(ECHO_PATH, t.load.url);
  const headers: Record<string, string> = { accept: 'application/json' };
  for (const [k, v] of Object.entries(t.load.headers)) headers[k.toLowerCase()] = v;
  const res = await request(url, { headers });
  if (res.status !== 200) throw new Error(`${t.label}: ${ECHO_PATH} answered ${res.status}, want 200`);
  if (headers.cookie && typeof res.json<{ headers: Record<string, unknown> }>().headers['x-pomerium-jwt-assertion'] !== 'string') {
    throw new Error(`${t.label}: the upstream did not receive the assertion`);
  }
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined || b === 0 ? '-' : `${(a / b).toFixed(2)}x`;
}

export async function runReplicaBench(o: ReplicaBenchOptions): Promise<void> {
  const loadBefore = loadavg()[0]!;
  const started = Date.now();
  const scratch = mkdtempSync(join(tmpdir(), 'limen-bench-replicas-'));
  cleanups.push(async () => rmSync(scratch, { recursive: true, force: true }));
  const schema = `limen_bench_replicas_${process.pid}`;
  cleanups.push(async () => {
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => admin.end());
  });
  try {
    log('starting the minimal upstream');
    const upstreamChild = forkTs('upstream-child.ts');
    cleanups.push(() => stopChild(upstreamChild));
    const upReady = nextMessage<Ready>(upstreamChild, 'ready');
    upstreamChild.send({ type: 'start', kind: 'minimal' });
    const upstream = await upReady;

    const sqlitePort = await freePort();
    const lbPort = await freePort();
    const clientSecret = randomBytes(16).toString('hex');
    const idp = await startDevIdp({
      clients: [{ clientId: CLIENT_ID, clientSecret, redirectUris: [sqlitePort, lbPort].map((p) => `http://authenticate.localhost:${p}/oauth2/callback`) }],
      log: () => {},
    });
    cleanups.push(() => idp.close());
    const base = { idpIssuer: idp.issuer, clientSecret, upstreamUrl: upstream.url };
    const secret = (): string => randomBytes(32).toString('base64');

    log('starting Limen on SQLite');
    const sqlitePath = join(scratch, 'limen.db');
    const sqlite = await startLimen({
      type: 'start', store: 'sqlite', sqlitePath,
      config: config({ ...base, port: sqlitePort, publicPort: sqlitePort, secrets: { shared: secret(), cookie: secret() } },
        { databroker_storage_type: 'file', databroker_storage_connection_string: sqlitePath }),
    });

    log(`starting ${REPLICAS} Limen replicas on one PostgreSQL schema, and nginx in front of them`);
    const clusterSecrets = { shared: secret(), cookie: secret() };
    const replicas: { child: ChildProcess; port: number }[] = [];
    for (let i = 0; i < REPLICAS; i++) {
      const port = await freePort();
      replicas.push(await startLimen({
        type: 'start', store: 'postgres', schema,
        config: config({ ...base, port, publicPort: lbPort, secrets: clusterSecrets },
          { databroker_storage_type: 'postgres', databroker_storage_connection_string: POSTGRES_URL }),
      }));
    }
    const lb = await startNginxOn(lbPort, replicas.map((r) => r.port));
    cleanups.push(() => lb.stop());

    log('signing in on SQLite and through the load balancer');
    const sqliteCookie = await signIn(`http://signed.localhost:${sqlitePort}`);
    const clusterCookie = await signIn(`http://signed.localhost:${lbPort}`);

    const proc = procAvailable();
    const pidsOf = (...cs: ChildProcess[]) => (): number[] => (proc ? cs.map((c) => c.pid!).filter((p) => p !== undefined) : []);
    const signedAt = (port: number, hostPort: number, cookie: string): LoadTarget =>
      ({ url: `http://127.0.0.1:${port}/`, headers: { Host: `signed.localhost:${hostPort}`, Cookie: `${COOKIE_NAME}=${cookie}` } });
    const publicAt = (port: number, hostPort: number): LoadTarget => ({ url: `http://127.0.0.1:${port}/`, headers: { Host: `public.localhost:${hostPort}` } });
    const a = replicas[0]!;
    const targets: Target[] = [
      { label: 'SQLite, 1 replica, public route', load: publicAt(sqlitePort, sqlitePort), processes: [sqlite.child], pids: pidsOf(sqlite.child) },
      { label: 'SQLite, 1 replica, signed-in', load: signedAt(sqlitePort, sqlitePort, sqliteCookie), processes: [sqlite.child], pids: pidsOf(sqlite.child) },
      { label: 'PostgreSQL, 1 replica, public route', load: publicAt(a.port, lbPort), processes: [a.child], pids: pidsOf(a.child) },
      { label: 'PostgreSQL, 1 replica, signed-in', load: signedAt(a.port, lbPort, clusterCookie), processes: [a.child], pids: pidsOf(a.child) },
      {
        label: `PostgreSQL, ${REPLICAS} replicas behind nginx, signed-in`, load: signedAt(lbPort, lbPort, clusterCookie),
        processes: replicas.map((r) => r.child),
        pids: () => (proc ? [...replicas.map((r) => r.child.pid!), ...processAndChildren(lb.pid)] : []),
      },
    ];
    for (const t of targets) await verify(t);

    const segmentSec = Math.max(1, Math.round(o.durationSec / o.rounds));
    const runs = new Map<Target, LoadResult[]>();
    const cpu = new Map<Target, number>();
    const warmed = new Set<ChildProcess>();
    for (let round = 0; round < o.rounds; round++) {
      for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
        const fresh = t.processes.some((c) => !warmed.has(c));
        for (const c of t.processes) warmed.add(c);
        const warmup = round === 0 ? o.warmupSec + (fresh ? o.processWarmupSec : 0) : 0;
        log(`round ${round + 1}/${o.rounds}, ${t.label}: ${warmup > 0 ? `${warmup} s warm-up, ` : ''}${segmentSec} s measured`);
        if (warmup > 0) await runWrk(t.load, { connections: o.connections, threads: o.threads, durationSec: warmup, scratchDir: scratch });
        const pids = t.pids();
        const before = cpuMs(pids);
        const r = await runWrk(t.load, { connections: o.connections, threads: o.threads, durationSec: segmentSec, scratchDir: scratch });
        cpu.set(t, (cpu.get(t) ?? 0) + cpuMs(pids) - before);
        runs.set(t, [...(runs.get(t) ?? []), r]);
      }
    }

    const results = targets.map((t) => {
      const r = combineRuns(runs.get(t) ?? []);
      const cpuUs = proc && r.requests > 0 ? ((cpu.get(t) ?? 0) * 1000) / r.requests : undefined;
      return { t, r, cpuUs, ok: r.non2xx === 0 && r.requests > 0 };
    });
    const header = ['target', 'req/s', 'p50', 'p99', 'non-2xx', 'CPU/req'];
    const rows = results.map(({ t, r, cpuUs }) => [t.label, r.requestsPerSec.toFixed(0), formatMs(r.p50Ms), formatMs(r.p99Ms), String(r.non2xx), cpuUs === undefined ? '-' : `${cpuUs.toFixed(0)}us`]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
    const [sqlitePublic, sqliteSigned, pgPublic, pgSigned, cluster] = results;
    const rps = (x: typeof sqliteSigned) => (x?.ok ? x.r.requestsPerSec : undefined);
    const cost = (x: typeof sqliteSigned) => (x?.ok ? x.cpuUs : undefined);
    const ncpu = cpus().length;
    process.stdout.write([
      '',
      `Limen replicas benchmark: ${await wrkVersion()}, ${o.threads} thread(s), ${o.connections} connections; per target ${segmentSec * o.rounds} s measured in ${o.rounds} round(s), order reversed each round`,
      `machine: ${ncpu} CPUs, 1-minute load average ${loadBefore.toFixed(2)} before the run, node ${process.version}; CPU/req counts every Limen process serving the target (and nginx for the load-balanced row)`,
      '',
      line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line),
      '',
      `PostgreSQL vs SQLite, one replica, signed-in: ${ratio(rps(pgSigned), rps(sqliteSigned))} by req/s, ${ratio(cost(sqliteSigned), cost(pgSigned))} by CPU per request (target ≥ 0.9x)`,
      `signed-in vs public: SQLite ${ratio(rps(sqliteSigned), rps(sqlitePublic))}, PostgreSQL ${ratio(rps(pgSigned), rps(pgPublic))} by req/s`,
      `${REPLICAS} replicas behind nginx vs 1 replica, PostgreSQL, signed-in: ${ratio(rps(cluster), rps(pgSigned))} by req/s, CPU per request ${ratio(cost(cluster), cost(pgSigned))} of one replica's (${ncpu} CPUs shared by wrk, nginx, the upstream and the replicas)`,
      `total ${((Date.now() - started) / 1000).toFixed(0)} s`,
      '',
    ].join('\n'));
  } finally {
    while (cleanups.length > 0) await cleanups.pop()!().catch((e: unknown) => log(`cleanup: ${(e as Error).message}`));
    await closeHttpAgents();
  }
}

/** nginx on `port` balancing over the replicas, passing the client's Host on. */
async function startNginxOn(port: number, replicaPorts: readonly number[]) {
  return startNginx(replicaPorts[0]!, { upstreamPorts: replicaPorts, preserveHost: true, listenPort: port });
}
