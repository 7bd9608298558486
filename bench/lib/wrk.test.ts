import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { combineRuns, luaHeaderScript, luaRotatingCookieScript, parseWrkDuration, parseWrkOutput, type LoadResult } from './wrk.js';

// Captured from wrk 4.1.0 (Debian) with --latency.
const REPORT = `Running 5s test @ http://127.0.0.1:18082/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     8.80ms   24.23ms 226.40ms   91.59%
    Req/Sec    25.95k    13.60k   39.37k    77.55%
  Latency Distribution
     50%  910.00us
     75%    1.52ms
     90%   24.95ms
     99%  125.42ms
  126761 requests in 5.06s, 19.58MB read
Requests/sec:  25034.24
Transfer/sec:      3.87MB
`;

const WITH_ERRORS = `Running 4s test @ http://127.0.0.1:40000/
  1 threads and 32 connections
  Latency Distribution
     50%    2.19ms
     75%    6.78ms
     90%   12.53ms
     99%    1.02s
  44906 requests in 4.01s, 25.44MB read
  Socket errors: connect 0, read 3, write 1, timeout 7
  Non-2xx or 3xx responses: 12
Requests/sec:  11198.50
Transfer/sec:      4.97MB
`;

describe('parseWrkOutput', () => {
  const cases: { name: string; out: string; want: LoadResult }[] = [
    {
      name: 'clean run',
      out: REPORT,
      want: { requestsPerSec: 25034.24, p50Ms: 0.91, p99Ms: 125.42, requests: 126761, seconds: 5.06, non2xx: 0, socketErrors: 0 },
    },
    {
      name: 'errors and non-2xx counted, p99 in seconds',
      out: WITH_ERRORS,
      want: { requestsPerSec: 11198.5, p50Ms: 2.19, p99Ms: 1020, requests: 44906, seconds: 4.01, non2xx: 12, socketErrors: 11 },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = parseWrkOutput(c.out);
      for (const k of Object.keys(c.want) as (keyof LoadResult)[]) {
        assert.ok(Math.abs(got[k] - c.want[k]) < 1e-9, `${k}: got ${got[k]}, want ${c.want[k]}`);
      }
    });
  }

  test('output without a latency distribution or requests/s is refused', () => {
    const withoutLatency = REPORT.replace(/ {2}Latency Distribution[\s\S]*?99%[^\n]*\n/, '');
    for (const out of ['', 'unable to connect to 127.0.0.1:1 Connection refused\n', withoutLatency, REPORT.replace(/Requests\/sec:.*\n/, '')]) {
      assert.throws(() => parseWrkOutput(out), /no requests\/s or latency distribution/);
    }
  });
});

describe('parseWrkDuration', () => {
  const cases: [string, number][] = [['812.00us', 0.812], ['2.19ms', 2.19], ['1.02s', 1020], ['1.50m', 90_000], ['0us', 0], ['2h', 7_200_000]];
  for (const [text, ms] of cases) {
    test(text, () => assert.ok(Math.abs(parseWrkDuration(text) - ms) < 1e-9));
  }
  test('bad durations are refused', () => {
    for (const bad of ['', 'ms', '1.2', '-1ms', '1.2 ms', '1e3ms', '3d']) {
      assert.throws(() => parseWrkDuration(bad), /not a wrk duration/, bad);
    }
  });
});

describe('luaHeaderScript', () => {
  test('sets each header', () => {
    assert.equal(
      luaHeaderScript({ Host: 'signed.localhost:8080', Cookie: '_pomerium=eyJ.a-b_c.d' }),
      'wrk.method = "GET"\nwrk.headers["Host"] = "signed.localhost:8080"\nwrk.headers["Cookie"] = "_pomerium=eyJ.a-b_c.d"\n',
    );
    assert.equal(luaHeaderScript({}), 'wrk.method = "GET"\n');
  });

  test('names and values that would break out of the Lua string are refused', () => {
    for (const name of ['', 'Bad Name', 'X"]', 'a\nb', 'Host:']) {
      assert.throws(() => luaHeaderScript({ [name]: 'v' }), TypeError, JSON.stringify(name));
    }
    for (const value of ['a"b', 'a\\b', 'line\nbreak', 'tab\there', 'caf\u00e9', '\u0000']) {
      assert.throws(() => luaHeaderScript({ Cookie: value }), TypeError, JSON.stringify(value));
    }
  });

  test('a refused value is not echoed in the error (it may be a cookie)', () => {
    assert.throws(() => luaHeaderScript({ Cookie: 'secret"value' }), (e: Error) => !e.message.includes('secret'));
  });
});

describe('combineRuns', () => {
  const run = (requests: number, seconds: number, p50Ms: number, p99Ms: number, non2xx = 0, socketErrors = 0): LoadResult =>
    ({ requestsPerSec: requests / seconds, p50Ms, p99Ms, requests, seconds, non2xx, socketErrors });

  test('requests/s over the total time, counts summed, percentiles averaged', () => {
    const c = combineRuns([run(4000, 4, 10, 100, 1, 0), run(12000, 4, 20, 300, 0, 2)]);
    assert.equal(c.requestsPerSec, 2000);
    assert.equal(c.requests, 16000);
    assert.equal(c.seconds, 8);
    assert.equal(c.p50Ms, 15);
    assert.equal(c.p99Ms, 200);
    assert.equal(c.non2xx, 1);
    assert.equal(c.socketErrors, 2);
  });

  test('one run is returned unchanged', () => {
    const r = run(1000, 2, 1, 5);
    assert.deepEqual(combineRuns([r]), r);
  });

  test('no runs is a programming mistake', () => {
    assert.throws(() => combineRuns([]), TypeError);
  });
});

describe('luaRotatingCookieScript', () => {
  test('loads the cookie file once and sends the next cookie on each request, round robin', () => {
    const lua = luaRotatingCookieScript({ Host: 'signed.localhost:8080' }, { name: '_pomerium', file: '/tmp/limen-bench-x/cookies.txt' });
    assert.match(lua, /^wrk\.headers\["Host"\] = "signed\.localhost:8080"$/m);
    assert.match(lua, /^for line in io\.lines\("\/tmp\/limen-bench-x\/cookies\.txt"\) do$/m);
    assert.match(lua, /cookies\[#cookies \+ 1\] = "_pomerium=" \.\. line/);
    assert.match(lua, /i = i % #cookies \+ 1/);
    assert.match(lua, /wrk\.headers\["Cookie"\] = cookies\[i\]/);
  });
  test('refuses names and paths that would break the script', () => {
    assert.throws(() => luaRotatingCookieScript({}, { name: 'a b', file: '/tmp/x' }), /bad cookie name/);
    assert.throws(() => luaRotatingCookieScript({}, { name: 'c', file: '/tmp/"x' }), /cookie file path/);
  });
});
