import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuMs, parseProcStat, procAvailable, processAndChildren } from './cpu.js';

describe('parseProcStat', () => {
  test('pid, ppid and utime + stime', () => {
    const line = '16992 (cat) R 16990 16990 17621 0 -1 4194304 100 0 0 0 250 31 0 0 20 0 1 0 220897 3133440 407 18446744073709551615\n';
    assert.deepEqual(parseProcStat(line), { pid: 16992, ppid: 16990, ticks: 281 });
  });

  test('a command name with spaces and parentheses does not shift the fields', () => {
    const line = '42 (nginx: worker (x) y) S 41 41 41 0 -1 4194560 5 0 0 0 7 3 0 0 20 0 1 0 1 1 1';
    assert.deepEqual(parseProcStat(line), { pid: 42, ppid: 41, ticks: 10 });
  });

  test('garbage is refused', () => {
    for (const bad of ['', 'hello', '12 (x)', '12 (x) R a b c d e f g h i j k l m', '(x) R 1 1 1 0 -1 0 0 0 0 0 1 1']) {
      assert.throws(() => parseProcStat(bad), /not a \/proc\/PID\/stat line/, JSON.stringify(bad));
    }
  });
});

test('this process uses CPU time, and a busy loop adds to it', { skip: !procAvailable() }, () => {
  // Spin until Node itself says 200 ms of CPU went by (wall time means little on a busy machine).
  const before = cpuMs([process.pid]);
  const start = process.cpuUsage();
  let used = 0;
  while (used < 200_000) {
    const u = process.cpuUsage(start);
    used = u.user + u.system;
  }
  const after = cpuMs([process.pid]);
  // /proc counts in clock ticks (10 ms) per thread, and V8's helper threads
  // (compiler, GC) may run beside the loop: a full test run saw 120 ms against 80.
  // Within a quarter either way, two ticks at least.
  const slack = Math.max(20, used / 1000 / 4);
  assert.ok(Math.abs(after - before - used / 1000) <= slack, `/proc says ${after - before} ms, Node says ${used / 1000} ms`);
  assert.equal(cpuMs([2 ** 22 + 12345]), 0); // no such process
  assert.deepEqual(processAndChildren(process.pid)[0], process.pid);
});
