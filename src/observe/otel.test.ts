import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EXPORT_FAILURE_LOG_INTERVAL_MS, exportTroubleReporter } from './otel.js';
import type { Logger } from '../log/index.js';

/** A logger that keeps its warn lines. */
function capture(): { log: Logger; lines: { msg: string; fields: Record<string, unknown> | undefined }[] } {
  const lines: { msg: string; fields: Record<string, unknown> | undefined }[] = [];
  const none = (): void => undefined;
  return { lines, log: { debug: none, info: none, error: none, record: none, warn: (msg, fields) => { lines.push({ msg, fields }); } } };
}

describe('trace export trouble in the log', () => {
  test('the first failure is logged at once, then at most once an interval with the count since', () => {
    let now = 1_000_000;
    const { log, lines } = capture();
    const report = exportTroubleReporter(log, [], () => now);
    report(new Error('connect ECONNREFUSED 127.0.0.1:1'));
    for (let i = 0; i < 5; i++) { now += 1000; report(new Error('again')); }
    assert.equal(lines.length, 1);
    assert.deepEqual(lines[0], { msg: 'trace export failed; spans are being lost', fields: { error: 'connect ECONNREFUSED 127.0.0.1:1', failures: 1 } });
    now += EXPORT_FAILURE_LOG_INTERVAL_MS;
    report(new Error('Timeout'));
    assert.equal(lines.length, 2);
    assert.deepEqual(lines[1]!.fields, { error: 'Timeout', failures: 6 }, 'five held back, and this one');
  });

  const described: { trouble: unknown; want: string }[] = [
    { trouble: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4318'), { code: 'ECONNREFUSED' }), want: 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:4318' },
    // Node.js's happy-eyeballs refusal for a name with two addresses: no message of its own.
    { trouble: Object.assign(new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:4318'), { code: 'ECONNREFUSED' })], ''), { code: 'ECONNREFUSED' }), want: 'ECONNREFUSED: ECONNREFUSED: connect ECONNREFUSED ::1:4318' },
    { trouble: 'BatchSpanProcessor: dropped 3 spans', want: 'BatchSpanProcessor: dropped 3 spans' },
    { trouble: new Error('Bad Request: header api-key=s3cret-token rejected'), want: 'Bad Request: header api-key=[redacted] rejected' },
  ];
  for (const { trouble, want } of described) {
    test(`described as ${JSON.stringify(want)}`, () => {
      const { log, lines } = capture();
      exportTroubleReporter(log, ['s3cret-token', 'x'], () => 0)(trouble);
      assert.equal(lines[0]?.fields?.error, want);
    });
  }
});
