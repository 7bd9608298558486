/**
 * Turns the measured rows into the printed table and the targets
 * (issue 2: signed-in ≥ 0.40× nginx and ≥ 0.85× Limen public; issue 6:
 * auditing on within 10% of off). Pure: no I/O, so it is unit-tested.
 */
import type { LoadResult } from './wrk.js';

export type TargetKey = 'direct' | 'nginx' | 'public' | 'signed' | 'signedNoAudit';

export interface Row {
  readonly key: TargetKey;
  readonly label: string;
  /** Undefined when the run failed; `error` says why. */
  readonly result?: LoadResult | undefined;
  readonly error?: string | undefined;
}

export interface Goal {
  readonly name: string;
  /** The measured ratio, or undefined when a figure it needs is missing or invalid. */
  readonly ratio: number | undefined;
  readonly threshold: number;
  readonly met: boolean | undefined;
  readonly note?: string;
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

function goal(name: string, ratio: number | undefined, threshold: number, note?: string): Goal {
  return { name, ratio, threshold, met: ratio === undefined ? undefined : ratio >= threshold, ...(note ? { note } : {}) };
}

/** The three targets, by requests/s. */
export function evaluateGoals(rows: readonly Row[]): Goal[] {
  return [
    goal('signed-in (identity headers, audit on) ≥ 0.40× nginx', ratioOf(rows, 'signed', 'nginx'), 0.40),
    goal('signed-in (identity headers, audit on) ≥ 0.85× Limen public', ratioOf(rows, 'signed', 'public'), 0.85),
    // "Within 10%" is one-sided: auditing may not cost more than 10 %; on
    // running faster than off is noise, not a miss.
    goal('signed-in audit on within 10% of audit off (on/off ≥ 0.90)', ratioOf(rows, 'signed', 'signedNoAudit'), 0.90),
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

const LIMEN: ReadonlySet<TargetKey> = new Set(['public', 'signed', 'signedNoAudit']);

/** The table: target, req/s, p50, p99, ratio to nginx and (Limen rows) to Limen public, then notes. */
export function formatTable(rows: readonly Row[]): string {
  const header = ['target', 'req/s', 'p50', 'p99', 'x nginx', 'x Limen public'];
  const body: string[][] = [];
  const notes: string[] = [];
  for (const r of rows) {
    const res = r.result;
    if (!res) {
      body.push([r.label, 'failed', '-', '-', '-', '-']);
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
      LIMEN.has(r.key) ? ratioText(ratioOf(rows, r.key, 'public')) : '',
    ]);
    if (!ok) notes.push(`(*) ${r.label}: ${res.non2xx} of ${res.requests} responses were not 2xx/3xx; its figures are not used in ratios`);
    if (res.socketErrors > 0) notes.push(`${r.label}: ${res.socketErrors} socket errors (connect/read/write/timeout)`);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), ...notes].join('\n');
}

/** The audit on/off line and one line per target: met, NOT met, or not measured. */
export function formatGoals(rows: readonly Row[], goals: readonly Goal[]): string {
  const on = usable(rows.find((r) => r.key === 'signed'));
  const off = usable(rows.find((r) => r.key === 'signedNoAudit'));
  const auditLine = on && off
    ? `auditing on vs off (signed-in): ${(on.requestsPerSec / off.requestsPerSec).toFixed(3)}x  (on ${on.requestsPerSec.toFixed(0)} req/s, off ${off.requestsPerSec.toFixed(0)} req/s; p99 on ${formatMs(on.p99Ms)}, off ${formatMs(off.p99Ms)})`
    : 'auditing on vs off (signed-in): not measured';
  const lines = goals.map((g) => {
    const mark = g.met === undefined ? '[not measured]' : g.met ? '[met]' : '[NOT met]';
    return `  ${mark.padEnd(14)} ${g.name}: ${ratioText(g.ratio)}`;
  });
  return [auditLine, 'targets:', ...lines].join('\n');
}
