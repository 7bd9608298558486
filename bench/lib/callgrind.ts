/**
 * Instructions per request, counted by valgrind's callgrind: a figure that
 * does not move with whatever else the machine runs (a noisy neighbour
 * moves requests/s and CPU time by ±15 % between runs here, more than most
 * changes to Limen's own code are worth). The server runs under callgrind
 * with V8 on one thread (`--single-threaded`: no concurrent compilation or
 * marking) and fixed hash and random seeds; counting is zeroed after a
 * warm-up and dumped after each window of a fixed number of requests. The
 * floor's count repeats to 1 % between runs, Limen's to 5-8 % (timers and
 * random ids still differ from run to run). User-space instructions only:
 * what the kernel does for a request is not in it, nor cache misses.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Whether valgrind and callgrind_control are installed. */
export function callgrindAvailable(): boolean {
  return spawnSync('valgrind', ['--version']).status === 0 && spawnSync('callgrind_control', ['-h']).error === undefined;
}

/**
 * A script that runs node under callgrind, for `fork`'s `execPath`: the
 * child keeps its IPC channel (valgrind runs the program in the same
 * process), and its dumps go to `dir`.
 */
export function nodeUnderCallgrind(dir: string): string {
  const path = join(dir, 'node-under-callgrind');
  writeFileSync(path, [
    '#!/bin/sh',
    `exec valgrind --tool=callgrind -q --callgrind-out-file=${dir}/callgrind.%p '${process.execPath}' --single-threaded --hash-seed=1 --random-seed=1 "$@"`,
    '',
  ].join('\n'));
  chmodSync(path, 0o755);
  return path;
}

/** Instructions the process `pid` (running under nodeUnderCallgrind(dir)) executes during `work`. */
export async function instructionsDuring(pid: number, dir: string, work: () => Promise<void>): Promise<number> {
  execFileSync('callgrind_control', ['-z', String(pid)], { stdio: 'ignore' });
  await work();
  const before = new Set(readdirSync(dir));
  execFileSync('callgrind_control', ['-d', String(pid)], { stdio: 'ignore' });
  const dump = readdirSync(dir).find((f) => f.startsWith(`callgrind.${pid}.`) && !before.has(f));
  if (dump === undefined) throw new Error(`callgrind wrote no dump for ${pid} in ${dir}`);
  const totals = /^totals:\s*(\d+)/m.exec(readFileSync(join(dir, dump), 'utf8'));
  if (!totals) throw new Error(`no totals in ${dump}`);
  return Number(totals[1]);
}
