/**
 * CPU time used by the server under test, from /proc (Linux): user + system
 * time of a process and all its threads (libuv's pool included). Divided by
 * the requests served, it gives a cost per request that, unlike requests/s,
 * barely depends on what else the machine is running.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime, in clock ticks. */
  readonly ticks: number;
}

/**
 * Parses `/proc/PID/stat` (proc(5)): the command name is in parentheses and
 * may itself contain spaces and parentheses, so fields are counted from the
 * last `)`. Field 4 is ppid, 14 utime, 15 stime.
 */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(')');
  const pid = Number.parseInt(text, 10);
  const rest = close < 0 ? [] : text.slice(close + 2).trim().split(/\s+/);
  const ppid = Number(rest[1]);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isInteger(pid) || !Number.isInteger(ppid) || !Number.isInteger(utime) || !Number.isInteger(stime)) {
    throw new Error('not a /proc/PID/stat line');
  }
  return { pid, ppid, ticks: utime + stime };
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // USER_HZ on every mainstream Linux build
    }
  }
  return ticksPerSecond;
}

/** Whether /proc can be read here (Linux); otherwise CPU figures are left out. */
export function procAvailable(): boolean {
  try {
    readFileSync('/proc/self/stat', 'utf8');
    return true;
  } catch {
    return false;
  }
}

/** CPU milliseconds used so far by `pids` together; processes that have gone count as 0. */
export function cpuMs(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      ticks += parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).ticks;
    } catch { /* exited */ }
  }
  return (ticks * 1000) / clockTicks();
}

/** `pid` and its direct children (nginx: the master and its workers). */
export function processAndChildren(pid: number): number[] {
  const out = [pid];
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      if (parseProcStat(readFileSync(`/proc/${name}/stat`, 'utf8')).ppid === pid) out.push(Number(name));
    } catch { /* exited meanwhile */ }
  }
  return out;
}
