import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FieldRuns } from './access-log.js';

/**
 * FieldRuns writes a line from pieces it kept from earlier lines; whatever
 * it kept, each line must be exactly its fields' fragments, in order.
 */
describe('FieldRuns: a line from the runs kept of earlier lines', () => {
  // A line: per field, which of a few fragments it writes (few, so runs repeat and break), or a throw.
  const pool = ['', ',"a":1', ',"b":"x"', ',"c":"a longer value than thirteen"'];
  const lines = (fields: number) => fc.array(fc.array(fc.integer({ min: 0, max: pool.length }), { minLength: fields, maxLength: fields }), { minLength: 1, maxLength: 40 });

  test('every line is its fragments joined, across repeats, changes, fields that vary and writers that throw', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 8 }).chain((n) => fc.tuple(lines(n), fc.array(fc.boolean(), { minLength: n, maxLength: n }))),
      ([seq, varies]) => {
        const writers = varies.map((_, i) => (line: readonly number[]): string => {
          const pick = line[i]!;
          if (pick === pool.length) throw new Error('cannot make this field');
          // A fresh string each time (as a writer may build one), equal to the pool's.
          return pick === 3 ? `${pool[3]!.slice(0, 10)}${pool[3]!.slice(10)}` : pool[pick]!;
        });
        const runs = new FieldRuns(writers, new Set(writers.filter((_, i) => varies[i])));
        for (const line of seq) {
          const throws = line.some((p) => p === pool.length);
          if (throws) {
            assert.throws(() => runs.text(line), /cannot make this field/);
            continue;
          }
          assert.equal(runs.text(line), line.map((p) => pool[p]).join(''));
        }
      },
    ), { numRuns: 500 });
  });

  test('no fields: an empty line, and size 0', () => {
    const runs = new FieldRuns<number>([]);
    assert.equal(runs.size, 0);
    assert.equal(runs.text(1), '');
  });

  const table: { name: string; lines: string[][]; varies?: boolean[] }[] = [
    { name: 'all fields repeat', lines: [['a', 'b', 'c'], ['a', 'b', 'c'], ['a', 'b', 'c']] },
    { name: 'the middle field changes each line', lines: [['a', '1', 'c'], ['a', '2', 'c'], ['a', '3', 'c']] },
    { name: 'a field changes and changes back', lines: [['a', 'b', 'c'], ['a', 'B', 'c'], ['a', 'b', 'c'], ['a', 'b', 'c']] },
    { name: 'a run that once ended earlier, then is whole again', lines: [['a', 'b', 'c', 'd'], ['x', 'b', 'C', 'd'], ['y', 'b', 'c', 'd'], ['z', 'b', 'c', 'd']] },
    { name: 'a run whose member changed while it was not written', lines: [['a', 'b', 'c'], ['A', 'B', 'c'], ['a', 'B', 'c'], ['a', 'B', 'c']] },
    { name: 'a varying field, whatever it writes', lines: [['a', 'r1', 'c'], ['a', 'r1', 'c'], ['a', 'r2', 'c']], varies: [false, true, false] },
  ];
  for (const c of table) {
    test(c.name, () => {
      const n = c.lines[0]!.length;
      const writers = Array.from({ length: n }, (_, i) => (line: string[]): string => line[i]!);
      const runs = new FieldRuns(writers, new Set(writers.filter((_, i) => c.varies?.[i] === true)));
      for (const line of c.lines) assert.equal(runs.text(line), line.join(''));
    });
  }
});
