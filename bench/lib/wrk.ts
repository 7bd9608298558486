/**
 * Load generation with wrk (or autocannon when wrk is missing): one run
 * against one target, parsed into requests/s and latency percentiles.
 * Request headers go through a Lua script in a private directory, so a
 * session cookie never appears on a command line (`ps` shows arguments).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { track } from './processes.js';

/** What one load run measured. */
export interface LoadResult {
  readonly requestsPerSec: number;
  /** Milliseconds. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  /** How long the run took, as the load generator measured it. */
  readonly seconds: number;
  /** Responses that were neither 2xx nor 3xx. */
  readonly non2xx: number;
  /** Connect, read, write and timeout errors together. */
  readonly socketErrors: number;
}

export interface LoadTarget {
  /** Where wrk connects: always `http://127.0.0.1:PORT/...`. */
  readonly url: string;
  /** Extra request headers (Host, Cookie); values must be printable ASCII. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Rotate through many sessions: each request carries the next cookie value
   * from this file (one per line) as cookie `name`, round robin (wrk only).
   */
  readonly rotateCookies?: { readonly name: string; readonly file: string } | undefined;
}

export interface LoadOptions {
  readonly connections: number;
  readonly threads: number;
  readonly durationSec: number;
  /** A private directory (mode 0700) for the header scripts. */
  readonly scratchDir: string;
}

export const WRK_PATH = '/usr/bin/wrk';

/** The load generator to use: `wanted` if it is available, else wrk, else autocannon, else none. */
export async function findLoadGenerator(wanted?: 'wrk' | 'autocannon'): Promise<'wrk' | 'autocannon' | undefined> {
  if (wanted !== 'autocannon' && wrkBinary() !== undefined) return 'wrk';
  if (wanted === 'wrk') return undefined;
  return (await loadAutocannon()) ? 'autocannon' : undefined;
}

let scriptCounter = 0;

/** Runs wrk once against `target` and parses its report. */
export async function runWrk(target: LoadTarget, o: LoadOptions): Promise<LoadResult> {
  const script = join(o.scratchDir, `headers-${scriptCounter++}.lua`);
  writeFileSync(script, target.rotateCookies ? luaRotatingCookieScript(target.headers, target.rotateCookies) : luaHeaderScript(target.headers), { mode: 0o600 });
  const args = [
    `-t${o.threads}`, `-c${o.connections}`, `-d${o.durationSec}s`,
    '--timeout', '5s', '--latency', '-s', script, target.url,
  ];
  const { code, stdout, stderr } = await run(wrkBinary() ?? 'wrk', args);
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${stderr.trim() || stdout.trim()}`);
  return parseWrkOutput(stdout);
}

/** `/usr/bin/wrk`, else the first `wrk` on PATH. */
function wrkBinary(): string | undefined {
  for (const p of [WRK_PATH, ...(process.env.PATH ?? '').split(':').filter(Boolean).map((d) => join(d, 'wrk'))]) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch { /* try the next one */ }
  }
  return undefined;
}

/**
 * A wrk script that sets the given headers. Values are checked rather than
 * escaped: anything outside printable ASCII (or a quote or backslash) is a
 * programming mistake here, not data to pass through.
 */
export function luaHeaderScript(headers: Readonly<Record<string, string>>): string {
  const lines = ['wrk.method = "GET"'];
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[A-Za-z0-9-]+$/.test(name)) throw new TypeError(`bad header name for wrk: ${JSON.stringify(name)}`);
    if (!/^[\x20-\x7e]*$/.test(value) || /["\\]/.test(value)) throw new TypeError(`header ${name} has a value wrk cannot carry`);
    lines.push(`wrk.headers["${name}"] = "${value}"`);
  }
  return lines.join('\n') + '\n';
}

/**
 * A wrk script that sends `headers` plus, per request, the next cookie value
 * read from `file` (one per line, loaded once per wrk thread), round robin.
 */
export function luaRotatingCookieScript(headers: Readonly<Record<string, string>>, cookies: { readonly name: string; readonly file: string }): string {
  if (!/^[A-Za-z0-9_-]+$/.test(cookies.name)) throw new TypeError(`bad cookie name for wrk: ${JSON.stringify(cookies.name)}`);
  if (!/^[\x20-\x7e]*$/.test(cookies.file) || /["\\]/.test(cookies.file)) throw new TypeError('cookie file path has characters wrk cannot carry');
  const base = luaHeaderScript(headers);
  return `${base}local cookies = {}
for line in io.lines("${cookies.file}") do
  if #line > 0 then cookies[#cookies + 1] = "${cookies.name}=" .. line end
end
if #cookies == 0 then error("no cookies in ${cookies.file}") end
local i = 0
request = function()
  i = i % #cookies + 1
  wrk.headers["Cookie"] = cookies[i]
  return wrk.format()
end
`;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a wrk duration such as `812.00us`, `2.19ms`, `1.02s`, `1.50m` into milliseconds. */
export function parseWrkDuration(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`not a wrk duration: ${JSON.stringify(text)}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** Extracts requests/s, p50, p99, request count and errors from wrk's `--latency` report. */
export function parseWrkOutput(out: string): LoadResult {
  const rps = /^Requests\/sec:\s+([0-9.]+)\s*$/m.exec(out);
  const p50 = /^\s+50%\s+(\S+)\s*$/m.exec(out);
  const p99 = /^\s+99%\s+(\S+)\s*$/m.exec(out);
  const total = /^\s*([0-9]+) requests in ([0-9.]+[a-z]+),/m.exec(out);
  if (!rps || !p50 || !p99 || !total) throw new Error('wrk output has no requests/s or latency distribution (was --latency given?)');
  const non2xx = /Non-2xx or 3xx responses:\s+([0-9]+)/.exec(out);
  const sock = /Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)/.exec(out);
  return {
    requestsPerSec: Number(rps[1]),
    p50Ms: parseWrkDuration(p50[1]!),
    p99Ms: parseWrkDuration(p99[1]!),
    requests: Number(total[1]),
    seconds: parseWrkDuration(total[2]!) / 1000,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: sock ? sock.slice(1).reduce((a, n) => a + Number(n), 0) : 0,
  };
}

interface AutocannonResult {
  duration: number;
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, r: AutocannonResult) => void) => unknown;

async function loadAutocannon(): Promise<Autocannon | undefined> {
  // Not a dependency of Limen: used only when a developer has it installed.
  const name = 'autocannon';
  try {
    const mod = await import(name) as { default?: Autocannon };
    return mod.default;
  } catch {
    return undefined;
  }
}

/** The fallback: autocannon in this process (its programmatic API keeps headers off the command line). */
export async function runAutocannon(target: LoadTarget, o: LoadOptions): Promise<LoadResult> {
  const autocannon = await loadAutocannon();
  if (!autocannon) throw new Error('neither wrk nor autocannon is available');
  const r = await new Promise<AutocannonResult>((resolve, reject) => {
    autocannon({
      url: target.url, connections: o.connections, workers: o.threads > 1 ? o.threads : undefined,
      duration: o.durationSec, headers: target.headers, timeout: 5,
    }, (err, res) => (err ? reject(err) : resolve(res)));
  });
  return {
    requestsPerSec: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    requests: r.requests.total,
    seconds: r.duration,
    non2xx: r.non2xx,
    socketErrors: r.errors + r.timeouts,
  };
}

/**
 * Several runs of one target as one figure: requests/s over the total time,
 * counts summed, and p50/p99 as the mean of the runs' percentiles (wrk does
 * not hand out histograms to merge; the runs are of equal length, so the mean
 * is close).
 */
export function combineRuns(runs: readonly LoadResult[]): LoadResult {
  if (runs.length === 0) throw new TypeError('combineRuns: no runs');
  const sum = (f: (r: LoadResult) => number): number => runs.reduce((a, r) => a + f(r), 0);
  const seconds = sum((r) => r.seconds);
  return {
    requestsPerSec: seconds > 0 ? sum((r) => r.requests) / seconds : 0,
    p50Ms: sum((r) => r.p50Ms) / runs.length,
    p99Ms: sum((r) => r.p99Ms) / runs.length,
    requests: sum((r) => r.requests),
    seconds,
    non2xx: sum((r) => r.non2xx),
    socketErrors: sum((r) => r.socketErrors),
  };
}

/** `wrk -v` prints its version and exits 1. */
export async function wrkVersion(): Promise<string> {
  const { stdout, stderr } = await run(wrkBinary() ?? 'wrk', ['-v']);
  return (/wrk [^\s]+/.exec(stdout + stderr)?.[0]) ?? 'wrk (unknown version)';
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
