/**
 * Turns the measured rows into the printed table and the issue's targets
 * (issue 2: signed-in ≥ 0.40× nginx and ≥ 0.85× Limen public; issue 6:
 * auditing on within 10% of off). Pure: no I/O, so it is unit-tested.
 */
import type { LoadResult } from './wrk.js';

export type TargetKey = 'direct' | 'nginx' | 'floor' | 'floorContract' | 'floorWorkers' | 'apache' | 'public' | 'signed' | 'publicNoAudit' | 'signedNoAudit' | 'signedObserved'
  /** `limen serve` with `workers: auto` (issue 16). */
  | 'publicWorkers' | 'signedWorkers'
  /** Limen from another build (`--baseline DIR`), to compare a change with in one run. */
  | 'publicBaseline' | 'signedBaseline' | 'signedObservedBaseline'
  /** The floor and Limen on another Node.js line (`--node`), e.g. `signed@24`. */
  | `${LineKind}@${number}`;

/** What is measured on each extra Node.js line. */
export type LineKind = 'floor' | 'public' | 'signed';

export interface Row {
  readonly key: TargetKey;
  readonly label: string;
  /** Undefined when the run failed; `error` says why. */
  readonly result?: LoadResult | undefined;
  readonly error?: string | undefined;
  /** Set when the target was not measured by choice (`--only`, `--no-apache`): why; no row in the table. */
  readonly leftOut?: string | undefined;
  /**
   * CPU time of the server under test (the upstream for `direct`) per
   * request, in microseconds, when /proc could be read.
   */
  readonly cpuUsPerRequest?: number | undefined;
  /** Each round's result, in round order (`result` combines them). */
  readonly rounds?: readonly LoadResult[] | undefined;
}

export interface Goal {
  readonly name: string;
  /** The measured ratio, or undefined when a figure it needs is missing or invalid. */
  readonly ratio: number | undefined;
  readonly threshold: number;
  readonly met: boolean | undefined;
  /** The same ratio from CPU time per request instead of requests/s: what it would be with a core to itself. */
  readonly cpuRatio?: number | undefined;
}

/** A row's figures are trusted only when every response was 2xx/3xx. */
export function usable(r: Row | undefined): LoadResult | undefined {
  if (!r?.result || r.result.non2xx > 0 || r.result.requests === 0) return undefined;
  return r.result;
}

function ratioOf(rows: readonly Row[], a: TargetKey, b: TargetKey): number | undefined {
  const x = usable(rows.find((r) => r.key === a));
  const y = usable(rows.find((r) => r.key === b));
  if (!x || !y || y.requestsPerSec === 0) return undefined;
  return x.requestsPerSec / y.requestsPerSec;
}

/** Throughput of `a` relative to `b` as CPU cost predicts it: cost(b) / cost(a). */
function cpuRatioOf(rows: readonly Row[], a: TargetKey, b: TargetKey): number | undefined {
  const x = rows.find((r) => r.key === a);
  const y = rows.find((r) => r.key === b);
  if (!usable(x) || !usable(y)) return undefined;
  const cx = x?.cpuUsPerRequest;
  const cy = y?.cpuUsPerRequest;
  return cx === undefined || cy === undefined || cx <= 0 ? undefined : cy / cx;
}

function goal(rows: readonly Row[], name: string, a: TargetKey, b: TargetKey, threshold: number): Goal {
  const ratio = ratioOf(rows, a, b);
  return { name, ratio, threshold, met: ratio === undefined ? undefined : ratio >= threshold, cpuRatio: cpuRatioOf(rows, a, b) };
}

/** The three targets, judged by requests/s (the CPU-cost ratio is information only). */
export function evaluateGoals(rows: readonly Row[]): Goal[] {
  return [
    goal(rows, 'signed-in (identity headers, audit on) ≥ 0.40× nginx', 'signed', 'nginx', 0.40),
    goal(rows, 'signed-in (identity headers, audit on) ≥ 0.85× Limen public', 'signed', 'public', 0.85),
    // "Within 10%" is one-sided: auditing may not cost more than 10 %; on
    // running faster than off is noise, not a miss.
    goal(rows, 'signed-in audit on within 10% of audit off (on/off ≥ 0.90)', 'signed', 'signedNoAudit', 0.90),
  ];
}

/** Milliseconds with a unit that keeps three significant figures. */
export function formatMs(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(0)}us`;
  if (ms < 10) return `${ms.toFixed(2)}ms`;
  if (ms < 100) return `${ms.toFixed(1)}ms`;
  if (ms < 10_000) return `${ms.toFixed(0)}ms`;
  return `${(ms / 1000).toFixed(1)}s`;
}

function ratioText(r: number | undefined): string {
  return r === undefined ? '-' : `${r.toFixed(2)}x`;
}

/** Each Limen row's "x Limen public" base: the public route of the same Limen (audit on or off). */
const PUBLIC_OF: Partial<Record<TargetKey, TargetKey>> = { public: 'public', signed: 'public', publicNoAudit: 'publicNoAudit', signedNoAudit: 'publicNoAudit', signedObserved: 'public', publicWorkers: 'publicWorkers', signedWorkers: 'publicWorkers' };

function publicOf(key: TargetKey): TargetKey | undefined {
  const line = /^(public|signed)@([0-9]+)$/.exec(key);
  return line ? `public@${Number(line[2])}` : PUBLIC_OF[key];
}

function cpuText(us: number | undefined): string {
  return us === undefined ? '-' : `${us.toFixed(us < 10 ? 1 : 0)}us`;
}

/** The table: target, req/s, p50, p99, ratio to nginx and (Limen rows) to the same Limen's public route, CPU per request, then notes. */
export function formatTable(rows: readonly Row[]): string {
  const header = ['target', 'req/s', 'p50', 'p99', 'x nginx', 'x Limen public', 'CPU/req'];
  const body: string[][] = [];
  const notes: string[] = [];
  for (const r of rows) {
    const res = r.result;
    if (r.leftOut !== undefined) {
      notes.push(`${r.label}: ${r.leftOut}`);
      continue;
    }
    if (!res) {
      body.push([r.label, 'failed', '-', '-', '-', '-', '-']);
      notes.push(`${r.label}: ${r.error ?? 'no result'}`);
      continue;
    }
    const ok = usable(r) !== undefined;
    body.push([
      r.label + (ok ? '' : ' (*)'),
      res.requestsPerSec.toFixed(0),
      formatMs(res.p50Ms),
      formatMs(res.p99Ms),
      r.key === 'nginx' ? '1.00x' : ratioText(ratioOf(rows, r.key, 'nginx')),
      publicOf(r.key) ? ratioText(ratioOf(rows, r.key, publicOf(r.key)!)) : '',
      cpuText(r.cpuUsPerRequest),
    ]);
    if (!ok) notes.push(`(*) ${r.label}: ${res.non2xx} of ${res.requests} responses were not 2xx/3xx; its figures are not used in ratios`);
    if (res.socketErrors > 0) notes.push(`${r.label}: ${res.socketErrors} socket errors (connect/read/write/timeout)`);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), ...notes].join('\n');
}

/**
 * An on/off ratio round by round: `on` and `off` run back to back in every
 * round, so each round's ratio sees the machine in one state, and their
 * spread shows how far the run's single ratio can be trusted (the same
 * code on both sides has measured 0.93–0.97× over a run on a busy
 * machine). '' when the two were not measured in the same rounds.
 */
export function perRoundText(on: Row | undefined, off: Row | undefined): string {
  const a = on?.rounds;
  const b = off?.rounds;
  if (!a || !b || a.length !== b.length || a.length < 2 || !usable(on) || !usable(off)) return '';
  const ratios = a.map((r, i) => r.requestsPerSec / b[i]!.requestsPerSec).sort((x, y) => x - y);
  const mid = ratios.length >> 1;
  const median = ratios.length % 2 === 1 ? ratios[mid]! : (ratios[mid - 1]! + ratios[mid]!) / 2;
  return `; round by round: median ${median.toFixed(3)}x, ${ratios[0]!.toFixed(3)}–${ratios[ratios.length - 1]!.toFixed(3)} over ${ratios.length} rounds`;
}

/** The audit on/off line and one line per target: met, NOT met, or not measured. */
export function formatGoals(rows: readonly Row[], goals: readonly Goal[]): string {
  const auditLine = (name: string, a: TargetKey, b: TargetKey): string => {
    const onRow = rows.find((r) => r.key === a);
    const offRow = rows.find((r) => r.key === b);
    const on = usable(onRow);
    const off = usable(offRow);
    return on && off
      ? `auditing on vs off (${name}): ${(on.requestsPerSec / off.requestsPerSec).toFixed(3)}x  (on ${on.requestsPerSec.toFixed(0)} req/s, off ${off.requestsPerSec.toFixed(0)} req/s; p99 on ${formatMs(on.p99Ms)}, off ${formatMs(off.p99Ms)}${perRoundText(onRow, offRow)})`
      : `auditing on vs off (${name}): not measured`;
  };
  const lines = goals.map((g) => {
    const mark = g.met === undefined ? '[not measured]' : g.met ? '[met]' : '[NOT met]';
    return `  ${mark.padEnd(14)} ${g.name}: ${ratioText(g.ratio)}${g.cpuRatio === undefined ? '' : `  (by CPU per request: ${ratioText(g.cpuRatio)})`}`;
  });
  const cpuNote = goals.some((g) => g.cpuRatio !== undefined)
    ? ['CPU/req is the user + system time of the server under test (the upstream on the direct row) per request;',
      'the "by CPU" ratios estimate what req/s would show with a core for each server, whatever else the machine runs.']
    : [];
  const floor = ratioOf(rows, 'floor', 'nginx');
  const floorLine = floor === undefined
    ? []
    : [`floor: a bare Node.js proxy (node:http + undici dispatch, no checks) reaches ${ratioText(floor)} nginx; Limen signed-in is ${ratioText(ratioOf(rows, 'signed', 'floor'))} of that floor, Limen public ${ratioText(ratioOf(rows, 'public', 'floor'))}`];
  const cpuContract = cpuOf(rows, 'floorContract');
  const cpuFloor = cpuOf(rows, 'floor');
  const cpuSigned = cpuOf(rows, 'signed');
  const contractLine = cpuContract === undefined || cpuFloor === undefined
    ? []
    : [`floor + the contract's least for a signed-in request (request id, caller from the cookie, identity JWT and claim headers, audit line and row; bench/lib/floor-child.ts): ${ratioText(ratioOf(rows, 'floorContract', 'floor'))} the floor's req/s, ${ratioText(cpuContract / cpuFloor)} its CPU/req${cpuSigned === undefined ? '' : `; Limen signed-in ${ratioText(cpuSigned / cpuContract)} of its CPU/req`}${cpuContract / cpuFloor > 1.2 ? ' (issue 16 asks signed-in ≤ 1.2× the floor\'s CPU: the contract alone costs more)' : ''}`];
  return [auditLine('signed-in', 'signed', 'signedNoAudit'), auditLine('public', 'public', 'publicNoAudit'), ...floorLine, ...contractLine, 'targets (by req/s):', ...lines, ...cpuNote].join('\n');
}

function cpuOf(rows: readonly Row[], key: TargetKey): number | undefined {
  const r = rows.find((x) => x.key === key);
  return usable(r) ? r?.cpuUsPerRequest : undefined;
}

/**
 * Issue 16, item 3: Limen signed-in against Apache + mod_auth_openidc, both
 * authenticating every request and passing claims as headers. Limen's
 * `workers` setting is not built yet, so both ratios are of one Limen
 * process; the req/s target is for `workers: auto` and says so.
 */
export function formatPeer(rows: readonly Row[], limenWorkers: string): string {
  const apache = usable(rows.find((r) => r.key === 'apache'));
  if (!apache) return 'Apache + mod_auth_openidc: not measured';
  const cpuL = cpuOf(rows, 'signed');
  const cpuA = cpuOf(rows, 'apache');
  const cpu = cpuL !== undefined && cpuA !== undefined && cpuA > 0 ? cpuL / cpuA : undefined;
  const rps = ratioOf(rows, 'signed', 'apache');
  const rpsWorkers = ratioOf(rows, 'signedWorkers', 'apache');
  const mark = (v: number | undefined, ok: (x: number) => boolean): string => (v === undefined ? '[not measured]' : ok(v) ? '[met]' : '[NOT met]');
  // What a Node.js proxy that checks nothing reaches against the same peer:
  // a target below these is out of reach of any Limen built on node:http and undici.
  const cpuF = cpuOf(rows, 'floor');
  const floorCpu = cpuF !== undefined && cpuA !== undefined && cpuA > 0 ? cpuF / cpuA : undefined;
  const floorWorkers = ratioOf(rows, 'floorWorkers', 'apache');
  return [
    'against Apache + mod_auth_openidc (signed-in, claims as headers, audit on):',
    `  ${mark(cpu, (x) => x <= 0.6).padEnd(14)} Limen signed-in (workers: 1) CPU/req ÷ Apache's ≤ 0.6: ${ratioText(cpu)}  (Limen ${cpuText(cpuL)}, Apache ${cpuText(cpuA)})`,
    `  ${'[bound]'.padEnd(14)} the floor (a Node.js proxy checking nothing) CPU/req ÷ Apache's: ${ratioText(floorCpu)}  (floor ${cpuText(cpuF)})${floorCpu !== undefined && floorCpu > 0.6 ? ': 0.6 is below the floor itself' : ''}`,
    `  ${'[info]'.padEnd(14)} Limen signed-in (workers: 1) req/s ÷ Apache's: ${ratioText(rps)}`,
    `  ${mark(rpsWorkers, (x) => x >= 1.5).padEnd(14)} Limen workers:auto vs Apache req/s, signed-in (${limenWorkers}) ≥ 1.5: ${ratioText(rpsWorkers)}  (Limen ${rpsText(rows, 'signedWorkers')}, Apache ${rpsText(rows, 'apache')}; public route ${rpsText(rows, 'publicWorkers')})`,
    `  ${'[bound]'.padEnd(14)} the floor on every core (${limenWorkers}) req/s ÷ Apache's: ${ratioText(floorWorkers)}  (floor ${rpsText(rows, 'floorWorkers')})${floorWorkers !== undefined && floorWorkers < 1.5 ? ': 1.5 is above the floor itself' : ''}`,
  ].join('\n');
}

function rpsText(rows: readonly Row[], key: TargetKey): string {
  const r = usable(rows.find((x) => x.key === key));
  return r ? `${r.requestsPerSec.toFixed(0)} req/s` : 'not measured';
}

/** Issue 16, item 4: the floor and Limen per Node.js line, each against the line the benchmark runs on. */
export function formatNodeLines(rows: readonly Row[], lines: readonly { major: number; version: string }[], own: number): string {
  if (lines.length < 2) return '';
  const key = (kind: LineKind, major: number): TargetKey => (major === own ? kind : `${kind}@${major}`);
  const out = ['Node.js lines (req/s and CPU/req; ratios to the same target on Node ' + own + '):'];
  for (const l of lines) {
    const cells = (['floor', 'public', 'signed'] as const).map((kind) => {
      const k = key(kind, l.major);
      const r = usable(rows.find((x) => x.key === k));
      if (!r) return `${kind} -`;
      const base = usable(rows.find((x) => x.key === key(kind, own)));
      const c = cpuOf(rows, k);
      const cBase = cpuOf(rows, key(kind, own));
      const rel = l.major === own || !base ? '' : ` (${ratioText(r.requestsPerSec / base.requestsPerSec)} req/s${c !== undefined && cBase !== undefined && c > 0 ? `, ${ratioText(c / cBase)} CPU` : ''})`;
      return `${kind} ${r.requestsPerSec.toFixed(0)} req/s ${cpuText(c)}${rel}`;
    });
    out.push(`  node ${l.version}: ${cells.join('; ')}`);
  }
  return out.join('\n');
}
