import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from './duration.js';

describe('parseDuration', () => {
  const good: [string, number][] = [
    ['0', 0],
    ['30s', 30_000],
    ['5m', 300_000],
    ['14h', 50_400_000],
    ['1h30m', 5_400_000],
    ['1m30s', 90_000],
    ['30m1h', 5_400_000], // Go accepts components in any order
    ['500ms', 500],
    ['1.5h', 5_400_000],
    ['.5s', 500],
    ['2.s', 2_000],
    ['1500us', 2], // 1.5 ms rounds to 2
    ['1500µs', 2],
    ['1500μs', 2],
    ['1000000ns', 1],
    ['30d', 2_592_000_000],
    ['+5s', 5_000],
    ['-1s', -1_000],
    ['0s', 0],
  ];
  for (const [input, want] of good) {
    test(`${JSON.stringify(input)} → ${want} ms`, () => {
      assert.equal(parseDuration(input), want);
    });
  }

  const bad = ['', '5', 's', '1x', '1h 30m', ' 1h', '-', '.s', '1.2.3s', '1H', '1hour', '1e3s', '0x10s', 'h1', '1w'];
  for (const input of bad) {
    test(`${JSON.stringify(input)} is rejected`, () => {
      assert.equal(parseDuration(input), undefined);
    });
  }

  test('absurdly long durations are rejected rather than losing precision', () => {
    assert.equal(parseDuration('99999999999999999999h'), undefined);
  });
});
