import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNodeLines } from './node-lines.js';

test('parseNodeLines: the running line first, then each named line once', () => {
  const cases: [string, number, number[]][] = [
    ['20,24,26', 20, [20, 24, 26]],
    ['24,26', 20, [20, 24, 26]],
    ['26, 24,26', 20, [20, 26, 24]],
    ['20', 20, [20]],
    ['22', 24, [24, 22]],
  ];
  for (const [text, own, want] of cases) assert.deepEqual(parseNodeLines(text, own), want, text);
});

test('parseNodeLines: names the bad part', () => {
  assert.throws(() => parseNodeLines('20,v24', 20), /--node takes major versions .* got "20,v24"/);
  assert.throws(() => parseNodeLines('', 20), /--node takes major versions/);
  assert.throws(() => parseNodeLines('18', 20), /--node: no pinned binary for Node 18 \(scripts\/node-line\.sh knows 22, 24, 26; this process runs 20\)/);
});
