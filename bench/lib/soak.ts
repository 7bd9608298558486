/**
 * Memory and start-up (`npm run bench -- --soak`, issue 16 item 5): resident
 * memory of a process from /proc, a summary of RSS samples over a soak, and
 * the time `limen serve` takes, from being started to answering its first
 * request, with a config of many routes. It reports; it does not gate.
 */
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, stopChild, track } from './processes.js';

/** Resident set size of `pid` in bytes (VmRSS in /proc/PID/status), or undefined when it cannot be read. */
export function rssBytes(pid: number): number | undefined {
  try {
    return parseVmRss(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The `VmRSS:  123456 kB` line of /proc/PID/status, in bytes. */
export function parseVmRss(status: string): number | undefined {
  const m = /^VmRSS:\s+([0-9]+)\s+kB\s*$/m.exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

export interface RssSummary {
  readonly start: number;
  readonly min: number;
  readonly max: number;
  readonly end: number;
  /** (end − start) / start, in percent. */
  readonly endChangePct: number;
  /** (max − start) / start, in percent. */
  readonly maxChangePct: number;
  /** Every sample within ±`tolerancePct` of the first. */
  readonly flat: boolean;
}

export function summarizeRss(samples: readonly number[], tolerancePct = 10): RssSummary {
  if (samples.length === 0) throw new TypeError('summarizeRss: no samples');
  const start = samples[0]!;
  const end = samples[samples.length - 1]!;
  const min = Math.min(...samples);
  const max = Math.max(...samples);
  const pct = (x: number): number => ((x - start) / start) * 100;
  return { start, min, max, end, endChangePct: pct(end), maxChangePct: pct(max), flat: Math.abs(pct(min)) <= tolerancePct && pct(max) <= tolerancePct };
}

export function mb(bytes: number | undefined): string {
  return bytes === undefined ? '-' : `${(bytes / (1024 * 1024)).toFixed(0)} MB`;
}

function signed(pct: number): string {
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(1)}%`;
}

export interface SoakFigures {
  readonly store: string;
  readonly sessions: number;
  readonly seedSeconds: number;
  /** RSS after sign-in, before seeding. */
  readonly rssBefore: number | undefined;
  /** RSS with every session live (seeded, and after the warm-up has read them). */
  readonly rssSeeded: number | undefined;
  readonly warmupSec: number;
  readonly soakSec: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly rss: RssSummary | undefined;
  /** `limen serve` from spawn to its first answered request, ms; or why not. */
  readonly startupMs: number | string;
  readonly routes: number;
  /** The child's process.memoryUsage() at the end of the soak. */
  readonly usage?: { readonly heapUsed: number; readonly heapTotal: number; readonly external: number; readonly arrayBuffers: number } | undefined;
}

export function formatSoak(f: SoakFigures): string {
  const mark = (ok: boolean | undefined): string => (ok === undefined ? '[not measured]' : ok ? '[met]' : '[NOT met]');
  const r = f.rss;
  return [
    `memory and start-up (one Limen process on plain node ${process.version}${process.env.NODE_OPTIONS ? ` with NODE_OPTIONS=${process.env.NODE_OPTIONS}` : ''}, ${f.store} store${f.store === 'memory' ? ': every session in the heap' : ': sessions in the database'}):`,
    `  ${mark(f.rssSeeded === undefined ? undefined : f.rssSeeded <= 150 * 1024 * 1024).padEnd(14)} RSS with ${f.sessions} live sessions ≤ 150 MB: ${mb(f.rssSeeded)}  (${mb(f.rssBefore)} after one sign-in; seeding took ${f.seedSeconds.toFixed(1)} s)`,
    r
      ? `  ${mark(r.flat).padEnd(14)} RSS flat within 10% over a ${fmtDuration(f.soakSec)} signed-in soak rotating through the sessions, after ${fmtDuration(f.warmupSec)} warm-up: start ${mb(r.start)}, min ${mb(r.min)}, max ${mb(r.max)}, end ${mb(r.end)}; end ${signed(r.endChangePct)}, max ${signed(r.maxChangePct)}  (${f.requests} requests${f.non2xx > 0 ? `, ${f.non2xx} not 2xx/3xx` : ''})`
      : `  ${mark(undefined).padEnd(14)} RSS over the soak: no samples`,
    ...(f.usage ? [`  ${''.padEnd(14)} at the end: V8 heap ${mb(f.usage.heapUsed)} used of ${mb(f.usage.heapTotal)}, external ${mb(f.usage.external)} (array buffers ${mb(f.usage.arrayBuffers)})`] : []),
    typeof f.startupMs === 'number'
      ? `  ${mark(f.startupMs <= 1000).padEnd(14)} limen serve with ${f.routes} routes answers its first request within 1 s: ${(f.startupMs / 1000).toFixed(2)} s from spawn`
      : `  ${mark(undefined).padEnd(14)} limen serve with ${f.routes} routes: ${f.startupMs}`,
  ].join('\n');
}

function fmtDuration(sec: number): string {
  return sec >= 120 && sec % 60 === 0 ? `${sec / 60} min` : `${sec} s`;
}

/** A `limen serve --config` document with `count` public routes to `upstreamUrl`, hosts r0.localhost … */
export function manyRoutesConfig(o: { port: number; count: number; upstreamUrl: string; issuer: string; clientId: string; clientSecret: string; sharedSecret: string; cookieSecret: string }): Record<string, unknown> {
  const routes = Array.from({ length: o.count }, (_, i) => ({
    name: `r${i}`,
    from: `http://r${i}.localhost:${o.port}`,
    to: o.upstreamUrl,
    allow_public_unauthenticated_access: true,
  }));
  return {
    address: `127.0.0.1:${o.port}`,
    insecure_server: true,
    authenticate_service_url: `http://authenticate.localhost:${o.port}`,
    idp_provider_url: o.issuer,
    idp_client_id: o.clientId,
    idp_client_secret: o.clientSecret,
    shared_secret: o.sharedSecret,
    cookie_secret: o.cookieSecret,
    databroker_storage_type: 'memory',
    log_level: 'error',
    routes,
  };
}

function answers(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode));
    });
    req.once('error', () => resolve(undefined));
    req.once('timeout', () => { req.destroy(); resolve(undefined); });
    req.end();
  });
}

/**
 * Starts `node dist/src/cli/main.js serve --config FILE` (the build, as
 * installed) and measures the time from spawn until the last route answers
 * 200, polling every 5 ms; stops it afterwards. The config (with secrets) is
 * written into `dir`, a private directory.
 */
export async function measureStartup(config: Record<string, unknown>, port: number, lastHost: string, dir: string, timeoutMs = 30_000): Promise<number> {
  const file = join(dir, 'startup-config.yaml');
  writeFileSync(file, JSON.stringify(config), { mode: 0o600 }); // JSON is YAML
  const t0 = performance.now();
  const child = track(spawn(process.execPath, [join(REPO_ROOT, 'dist/src/cli/main.js'), 'serve', '--config', file], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`limen serve exited (${child.signalCode ?? child.exitCode}): ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
      if (await answers(port, lastHost) === 200) return performance.now() - t0;
      if (performance.now() - t0 > timeoutMs) throw new Error(`limen serve did not answer within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await stopChild(child, 'SIGTERM', 5000);
  }
}
