/**
 * Fuzzing the `limen policy test` case file: any text gives either cases or
 * a list of problems (each with a path and a message), never both and
 * never an exception; every case read has a URL, a method, an address and
 * an expected decision.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { fuzzSync, mutatedJson, mutatedString } from '../../test/support/fuzz.js';
import { parseCaseFile } from './policy-case.js';

const FILES: readonly unknown[] = [
  { cases: [{ name: 'admins may read', url: 'https://app.example.com/reports', method: 'GET', ip: '10.1.2.3', time: '2026-11-23T10:00:00Z', identity: { user: 'u-1', email: 'ada@example.com', groups: ['admins'], claims: { department: 'eng', org: { team: 'platform' } } }, want: 'allow' }] },
  { cases: [{ url: 'http://app.example.com:8080/x?y=1', want: 'login' }, { url: 'https://app.example.com/', method: 'delete', ip: '[::1]', time: '2026-02-28 23:59+0100', identity: { email: 'x@y.z' }, want: 'deny' }] },
];

test('policy case file: any text yields cases or problems, never both, never an exception', () => {
  const text = fc.oneof(
    { weight: 3, arbitrary: mutatedJson(...FILES).map((d) => stringify(d)) },
    { weight: 2, arbitrary: mutatedString(...FILES.map((f) => stringify(f)), ...FILES.map((f) => JSON.stringify(f)), 'cases:\n  - &a {url: "https://a/", want: allow}\n  - *a\n') },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
  );
  fuzzSync('policy-case-file', 300, [text], (t) => {
    const { cases, errors } = parseCaseFile(t);
    assert.ok(cases.length === 0 || errors.length === 0, 'cases and problems together');
    for (const e of errors) {
      assert.equal(typeof e.path, 'string');
      assert.ok(typeof e.message === 'string' && e.message !== '');
      assert.ok(e.line === undefined || (Number.isInteger(e.line) && e.line >= 1));
    }
    for (const c of cases) {
      assert.ok(c.request.url.protocol === 'http:' || c.request.url.protocol === 'https:');
      assert.match(c.request.method, /^[A-Z0-9!#$%&'*+.^_`|~-]+$/);
      assert.notEqual(isIP(c.request.ip), 0);
      assert.ok(['allow', 'deny', 'login'].includes(c.want));
      assert.ok(c.request.time === undefined || Number.isFinite(c.request.time));
    }
  });
});

// Regression: every problem re-parsed the whole file to find its line, so
// a file with n problems took O(n²): 200 bad cases took a minute.
test('policy case file with a thousand bad cases: problems are located without re-parsing the file for each', () => {
  const n = 1000;
  const lines = ['cases:'];
  for (let i = 0; i < n; i++) lines.push(`  - {url: "notaurl${i}", method: "G T", ip: nope, want: maybe, extra${i}: 1}`);
  const t0 = performance.now();
  const { cases, errors } = parseCaseFile(lines.join('\n'));
  const ms = performance.now() - t0;
  assert.equal(cases.length, 0);
  assert.equal(errors.length, n * 5);
  assert.deepEqual(errors.at(-1), { path: `cases[${n - 1}].want`, message: 'expected allow, deny or login, got "maybe"', line: n + 1, column: lines[n]!.indexOf('maybe') + 1 });
  // Quadratic took minutes here; linear takes about a second even on a loaded machine.
  assert.ok(ms < 20_000, `${errors.length} problems took ${Math.round(ms)} ms`);
});
