import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateGoals, formatGoals, formatMs, perRoundText, formatNodeLines, formatPeer, formatTable, type Row, type TargetKey } from './report.js';
import type { LoadResult } from './wrk.js';

const res = (requestsPerSec: number, extra: Partial<LoadResult> = {}): LoadResult =>
  ({ requestsPerSec, p50Ms: 1.5, p99Ms: 12, requests: requestsPerSec * 8, seconds: 8, non2xx: 0, socketErrors: 0, ...extra });

function rows(
  rps: Partial<Record<TargetKey, number>>,
  extra: Partial<Record<TargetKey, Partial<LoadResult>>> = {},
  cpu: Partial<Record<TargetKey, number>> = {},
): Row[] {
  const keys: TargetKey[] = ['direct', 'nginx', 'public', 'signed', 'publicNoAudit', 'signedNoAudit'];
  return keys.map((key) => {
    const v = rps[key];
    return v === undefined ? { key, label: key, error: 'wrk exited with 1' } : { key, label: key, result: res(v, extra[key]), cpuUsPerRequest: cpu[key] };
  });
}

describe('evaluateGoals', () => {
  const cases: { name: string; rps: Partial<Record<TargetKey, number>>; extra?: Partial<Record<TargetKey, Partial<LoadResult>>>; want: (boolean | undefined)[] }[] = [
    { name: 'all met', rps: { direct: 30000, nginx: 20000, public: 10000, signed: 9000, signedNoAudit: 9500 }, want: [true, true, true] },
    { name: 'exactly at the thresholds is met', rps: { nginx: 10000, public: 4000 / 0.85, signed: 4000, signedNoAudit: 4000 / 0.9 }, want: [true, true, true] },
    { name: 'signed below 0.40x nginx', rps: { nginx: 20000, public: 8000, signed: 7900, signedNoAudit: 7900 }, want: [false, true, true] },
    { name: 'signed below 0.85x public', rps: { nginx: 10000, public: 8000, signed: 6000, signedNoAudit: 6000 }, want: [true, false, true] },
    { name: 'audit costs more than 10%', rps: { nginx: 10000, public: 8000, signed: 7000, signedNoAudit: 8000 }, want: [true, true, false] },
    { name: 'audit on faster than off is not a miss', rps: { nginx: 10000, public: 8000, signed: 8000, signedNoAudit: 7000 }, want: [true, true, true] },
    { name: 'missing nginx: not measured', rps: { public: 8000, signed: 8000, signedNoAudit: 8000 }, want: [undefined, true, true] },
    { name: 'failed signed run: nothing about it is claimed', rps: { nginx: 10000, public: 8000, signedNoAudit: 8000 }, want: [undefined, undefined, undefined] },
    {
      name: 'a run with non-2xx responses is not used',
      rps: { nginx: 10000, public: 8000, signed: 9000, signedNoAudit: 9000 },
      extra: { signed: { non2xx: 3 } },
      want: [undefined, undefined, undefined],
    },
    { name: 'zero nginx throughput is not a division', rps: { nginx: 0, public: 8000, signed: 8000, signedNoAudit: 8000 }, want: [undefined, true, true] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(evaluateGoals(rows(c.rps, c.extra)).map((g) => g.met), c.want);
    });
  }

  test('ratios are by requests/s', () => {
    const g = evaluateGoals(rows({ nginx: 20000, public: 10000, signed: 5000, signedNoAudit: 5500 }));
    assert.deepEqual(g.map((x) => x.ratio), [0.25, 0.5, 5000 / 5500]);
    assert.deepEqual(g.map((x) => x.threshold), [0.4, 0.85, 0.9]);
    assert.deepEqual(g.map((x) => x.cpuRatio), [undefined, undefined, undefined]);
  });

  test('CPU ratios are cost(b) / cost(a), and only where both figures exist', () => {
    const g = evaluateGoals(rows({ nginx: 20000, public: 10000, signed: 5000, signedNoAudit: 5500 }, {}, { nginx: 40, public: 200, signed: 400 }));
    assert.deepEqual(g.map((x) => x.cpuRatio), [0.1, 0.5, undefined]);
    // A run with non-2xx responses gives no CPU ratio either.
    const bad = evaluateGoals(rows({ nginx: 20000, public: 10000, signed: 5000 }, { signed: { non2xx: 1 } }, { nginx: 40, public: 200, signed: 400 }));
    assert.deepEqual(bad.map((x) => x.cpuRatio), [undefined, undefined, undefined]);
  });
});

describe('formatTable', () => {
  test('ratios to nginx for every row, to the same Limen\'s public route for Limen rows only', () => {
    const out = formatTable(rows({ direct: 30000, nginx: 20000, public: 10000, signed: 9000, publicNoAudit: 10000 / 0.95, signedNoAudit: 9500 }, {}, { direct: 20.4, nginx: 5.55, public: 312.4, signed: 401 }));
    const lines = out.split('\n');
    assert.match(lines[0]!, /^target\s+req\/s\s+p50\s+p99\s+x nginx\s+x Limen public\s+CPU\/req$/);
    const line = (key: string): string => lines.find((l) => l.startsWith(`${key} `))!;
    assert.match(line('direct'), /30000\s+1\.50ms\s+12\.0ms\s+1\.50x\s+20us$/);
    assert.match(line('nginx'), /20000 .* 1\.00x\s+5\.5us$/);
    assert.match(line('public'), /10000 .* 0\.50x\s+1\.00x\s+312us$/);
    assert.match(line('signed'), /9000 .* 0\.45x\s+0\.90x\s+401us$/);
    assert.match(line('publicNoAudit'), /10526 .* 0\.53x\s+1\.00x\s+-$/);
    assert.match(line('signedNoAudit'), /9500 .* 0\.47x\s+0\.90x\s+-$/);
  });

  test('failed and invalid runs are marked and explained', () => {
    const out = formatTable(rows({ direct: 30000, nginx: 20000, public: 10000, publicNoAudit: 10000, signedNoAudit: 9500 }, { publicNoAudit: { non2xx: 5, requests: 80000, socketErrors: 2 } }));
    assert.match(out, /^signed\s+failed/m);
    assert.match(out, /^signed: wrk exited with 1$/m);
    assert.match(out, /^publicNoAudit \(\*\)/m);
    assert.match(out, /\(\*\) publicNoAudit: 5 of 80000 responses were not 2xx\/3xx/);
    assert.match(out, /publicNoAudit: 2 socket errors/);
    // The invalid public figure is not used as the denominator.
    assert.match(out, /^signedNoAudit .* 0\.47x\s+-\s+-$/m);
  });

  test('targets left out by choice have no row, only a note saying so', () => {
    const out = formatTable([...rows({ nginx: 20000, public: 10000 }), { key: 'apache', label: 'Apache', leftOut: 'left out (--no-apache)' }]);
    assert.doesNotMatch(out, /^Apache\s/m);
    assert.match(out, /^signed\s+failed/m); // a failure is still a row
    assert.match(out, /^Apache: left out \(--no-apache\)$/m);
  });
});

describe('formatGoals', () => {
  test('the audit lines and one line per target', () => {
    const r = rows({ nginx: 20000, public: 10000, signed: 5000, publicNoAudit: 12500, signedNoAudit: 5000 });
    const out = formatGoals(r, evaluateGoals(r));
    assert.match(out, /^auditing on vs off \(signed-in\): 1\.000x {2}\(on 5000 req\/s, off 5000 req\/s/m);
    assert.match(out, /^auditing on vs off \(public\): 0\.800x {2}\(on 10000 req\/s, off 12500 req\/s/m);
    assert.match(out, /\[NOT met\]\s+signed-in .* ≥ 0\.40× nginx: 0\.25x/);
    assert.match(out, /\[NOT met\]\s+signed-in .* ≥ 0\.85× Limen public: 0\.50x/);
    assert.match(out, /\[met\]\s+signed-in audit on within 10% .*: 1\.00x$/m);
    assert.doesNotMatch(out, /by CPU/);
  });

  test('CPU-based ratios are shown next to the targets when measured', () => {
    const r = rows({ nginx: 20000, public: 10000, signed: 5000, signedNoAudit: 5000 }, {}, { nginx: 40, public: 200, signed: 400, signedNoAudit: 380 });
    const out = formatGoals(r, evaluateGoals(r));
    assert.match(out, /≥ 0\.40× nginx: 0\.25x {2}\(by CPU per request: 0\.10x\)$/m);
    assert.match(out, /on\/off ≥ 0\.90\): 1\.00x {2}\(by CPU per request: 0\.95x\)$/m);
    assert.match(out, /^CPU\/req is the user \+ system time/m);
  });

  test('the floor line: the bare Node.js proxy against nginx, and Limen against the floor', () => {
    const r = [...rows({ nginx: 20000, public: 6000, signed: 4500 }), { key: 'floor' as const, label: 'floor', result: res(8000) }];
    const out = formatGoals(r, evaluateGoals(r));
    assert.match(out, /^floor: .* reaches 0\.40x nginx; Limen signed-in is 0\.56x of that floor, Limen public 0\.75x$/m);
    // Without a floor figure there is no floor line.
    assert.doesNotMatch(formatGoals(rows({ nginx: 20000 }), []), /^floor:/m);
  });

  const contractCases: { name: string; cpu: Partial<Record<TargetKey, number>>; want: RegExp | undefined }[] = [
    { name: 'over 1.2x the floor: the contract alone misses the target, and says so', cpu: { floor: 80, floorContract: 104, signed: 120 }, want: /^floor \+ the contract's least .*: 0\.80x the floor's req\/s, 1\.30x its CPU\/req; Limen signed-in 1\.15x of its CPU\/req \(issue 16 asks .* the contract alone costs more\)$/m },
    { name: 'within 1.2x: no such remark', cpu: { floor: 80, floorContract: 88, signed: 120 }, want: /^floor \+ the contract's least .*: 0\.80x the floor's req\/s, 1\.10x its CPU\/req; Limen signed-in 1\.36x of its CPU\/req$/m },
    { name: 'Limen signed-in not measured: the bound alone', cpu: { floor: 80, floorContract: 88 }, want: /1\.10x its CPU\/req$/m },
    { name: 'no CPU figure for the contract floor: no line', cpu: { floor: 80, signed: 120 }, want: undefined },
  ];
  for (const c of contractCases) {
    test(`the contract floor line: ${c.name}`, () => {
      const r = [
        ...rows({ nginx: 20000, public: 6000, signed: 4500 }, {}, { signed: c.cpu.signed }),
        { key: 'floor' as const, label: 'floor', result: res(10000), cpuUsPerRequest: c.cpu.floor },
        { key: 'floorContract' as const, label: 'contract', result: res(8000), cpuUsPerRequest: c.cpu.floorContract },
      ];
      const out = formatGoals(r, evaluateGoals(r));
      if (c.want === undefined) assert.doesNotMatch(out, /^floor \+ the contract/m);
      else assert.match(out, c.want);
    });
  }

  test('missing figures say so instead of guessing', () => {
    const r = rows({ nginx: 20000 });
    const out = formatGoals(r, evaluateGoals(r));
    assert.match(out, /auditing on vs off \(signed-in\): not measured/);
    assert.match(out, /auditing on vs off \(public\): not measured/);
    assert.equal(out.match(/\[not measured\]/g)?.length, 3);
  });
});

describe('formatMs', () => {
  const cases: [number, string][] = [[0.25, '250us'], [0.91, '910us'], [1.5, '1.50ms'], [12.345, '12.3ms'], [125.42, '125ms'], [1020, '1020ms'], [12_500, '12.5s']];
  for (const [ms, want] of cases) test(`${ms} ms → ${want}`, () => assert.equal(formatMs(ms), want));
});

describe('formatPeer (Apache + mod_auth_openidc)', () => {
  const row = (key: TargetKey, rps: number, cpu: number, extra: Partial<LoadResult> = {}): Row => ({ key, label: key, result: res(rps, extra), cpuUsPerRequest: cpu });
  test('CPU/request ratio against the 0.6 target, req/s ratio for information', () => {
    const text = formatPeer([row('apache', 6000, 200), row('signed', 7500, 110)], 'workers: 1');
    assert.match(text, /\[met\]\s+Limen signed-in \(workers: 1\) CPU\/req ÷ Apache's ≤ 0\.6: 0\.55x  \(Limen 110us, Apache 200us\)/);
    assert.match(text, /req\/s ÷ Apache's: 1\.25x/);
    assert.match(formatPeer([row('apache', 6000, 100), row('signed', 7500, 110)], 'workers: 1'), /\[NOT met\].* 1\.10x/);
  });
  test('workers: auto against Apache by req/s, the 1.5 target; the public route beside it', () => {
    const text = formatPeer([row('apache', 6000, 200), row('signed', 7500, 110), row('signedWorkers', 12000, 120), row('publicWorkers', 13000, 100)], 'workers: auto = 2');
    assert.match(text, /\[met\]\s+Limen workers:auto vs Apache req\/s, signed-in \(workers: auto = 2\) ≥ 1\.5: 2\.00x  \(Limen 12000 req\/s, Apache 6000 req\/s; public route 13000 req\/s\)/);
    assert.match(formatPeer([row('apache', 6000, 200), row('signedWorkers', 8000, 120)], 'w'), /\[NOT met\]\s+Limen workers:auto vs Apache req\/s.*1\.33x/);
    assert.match(formatPeer([row('apache', 6000, 200), row('signed', 7500, 110)], 'w'), /\[not measured\]\s+Limen workers:auto vs Apache req\/s.*: -  \(Limen not measured/);
  });
  test('the floor beside each target, as the bound no Node.js proxy goes past', () => {
    const text = formatPeer([row('apache', 6000, 150), row('signed', 7500, 120), row('floor', 10000, 100), row('floorWorkers', 8400, 110), row('signedWorkers', 6000, 130)], 'workers: auto = 2');
    assert.match(text, /\[bound\]\s+the floor \(a Node\.js proxy checking nothing\) CPU\/req ÷ Apache's: 0\.67x  \(floor 100us\): 0\.6 is below the floor itself$/m);
    assert.match(text, /\[bound\]\s+the floor on every core \(workers: auto = 2\) req\/s ÷ Apache's: 1\.40x  \(floor 8400 req\/s\): 1\.5 is above the floor itself$/m);
    const reachable = formatPeer([row('apache', 6000, 200), row('floor', 10000, 100), row('floorWorkers', 12000, 110)], 'w');
    assert.match(reachable, /CPU\/req ÷ Apache's: 0\.50x  \(floor 100us\)$/m);
    assert.match(reachable, /req\/s ÷ Apache's: 2\.00x  \(floor 12000 req\/s\)$/m);
    assert.match(formatPeer([row('apache', 6000, 200)], 'w'), /the floor on every core \(w\) req\/s ÷ Apache's: -  \(floor not measured\)$/m);
  });
  test('a failed or non-2xx Apache run is not measured', () => {
    assert.equal(formatPeer([{ key: 'apache', label: 'a', error: 'Apache did not start' }, row('signed', 7500, 110)], 'w'), 'Apache + mod_auth_openidc: not measured');
    assert.equal(formatPeer([row('apache', 6000, 200, { non2xx: 5 }), row('signed', 7500, 110)], 'w'), 'Apache + mod_auth_openidc: not measured');
  });
});

describe('formatNodeLines', () => {
  const row = (key: TargetKey, rps: number, cpu: number): Row => ({ key, label: key, result: res(rps), cpuUsPerRequest: cpu });
  test('each line against the running one, by req/s and CPU', () => {
    const rows = [row('floor', 10000, 100), row('public', 8000, 125), row('signed', 7500, 130), row('floor@24', 11000, 90), row('public@24', 8800, 110), row('signed@24', 7500, 130)];
    const text = formatNodeLines(rows, [{ major: 20, version: 'v20.19.0' }, { major: 24, version: 'v24.2.0' }], 20);
    assert.match(text, /node v20\.19\.0: floor 10000 req\/s 100us; public 8000 req\/s 125us; signed 7500 req\/s 130us$/m);
    assert.match(text, /node v24\.2\.0: floor 11000 req\/s 90us \(1\.10x req\/s, 0\.90x CPU\); public 8800 req\/s 110us \(1\.10x req\/s, 0\.88x CPU\); signed 7500 req\/s 130us \(1\.00x req\/s, 1\.00x CPU\)$/m);
    assert.equal(formatNodeLines(rows, [{ major: 20, version: 'v20' }], 20), '');
  });
  test('a per-line Limen row is compared with its own public route in the table', () => {
    const table = formatTable([row('nginx', 20000, 30), row('public@24', 8000, 110), row('signed@24', 6000, 130)]);
    assert.match(table, /^signed@24\s+6000 .* 0\.75x/m);
  });
});

describe('perRoundText', () => {
  const row = (key: TargetKey, perRound: number[] | undefined, extra: Partial<LoadResult> = {}): Row =>
    ({ key, label: key, result: res(1000, extra), rounds: perRound?.map((r) => res(r)) });
  const cases: { name: string; on: number[] | undefined; off: number[] | undefined; onExtra?: Partial<LoadResult>; want: string }[] = [
    { name: 'odd count: the middle ratio, and the spread', on: [900, 1000, 800], off: [1000, 1000, 1000], want: '; round by round: median 0.900x, 0.800–1.000 over 3 rounds' },
    { name: 'even count: the mean of the middle two', on: [950, 900, 1000, 850], off: [1000, 1000, 1000, 1000], want: '; round by round: median 0.925x, 0.850–1.000 over 4 rounds' },
    { name: 'each round against its own partner, not the run', on: [500, 2000], off: [1000, 2000], want: '; round by round: median 0.750x, 0.500–1.000 over 2 rounds' },
    { name: 'one round has no spread to show', on: [900], off: [1000], want: '' },
    { name: 'rounds that do not pair up', on: [900, 900, 900], off: [1000, 1000], want: '' },
    { name: 'no rounds kept', on: undefined, off: [1000, 1000], want: '' },
    { name: 'a row whose figures are not trusted (non-2xx)', on: [900, 900], off: [1000, 1000], onExtra: { non2xx: 3 }, want: '' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(perRoundText(row('signed', c.on, c.onExtra), row('signedNoAudit', c.off)), c.want);
    });
  }

  test('the audit lines carry it', () => {
    const r = rows({ nginx: 20000, public: 10000, signed: 5000, signedNoAudit: 5000 }).map((x) =>
      (x.key === 'signed' ? { ...x, rounds: [res(4000), res(6000)] } : x.key === 'signedNoAudit' ? { ...x, rounds: [res(5000), res(5000)] } : x));
    assert.match(formatGoals(r, evaluateGoals(r)), /^auditing on vs off \(signed-in\): 1\.000x .*; round by round: median 1\.000x, 0\.800–1\.200 over 2 rounds\)$/m);
  });
});
