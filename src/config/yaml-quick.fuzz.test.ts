/**
 * The quick YAML path against the reference: for any text, quickYaml either
 * declines (undefined) or returns exactly what `yaml` (as file.ts calls it)
 * makes of that text, and only for texts `yaml` accepts. Texts are built
 * from YAML's own awkward pieces: core-schema look-alikes (YAML 1.1
 * booleans, octal and hex forms, underscores, timestamps, infinities),
 * quoting and escapes, block scalars, flow collections, merge keys,
 * comments, odd indentation, and the same texts damaged.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseDocument } from 'yaml';
import { fuzzSync, mutatedString } from '../../test/support/fuzz.js';
import { CONFIG_YAML, CONFIG_YAML_VALUES } from './yaml-library.js';
import { quickYaml } from './yaml-quick.js';

/** What file.ts reads a text as: its value, or undefined when it reports an error. */
function reference(text: string): { value: unknown } | undefined {
  const doc = parseDocument(text, CONFIG_YAML);
  if (doc.errors.length > 0) return undefined;
  try {
    return { value: doc.toJS(CONFIG_YAML_VALUES) };
  } catch {
    return undefined;
  }
}

function agrees(text: string): void {
  const quick = quickYaml(text);
  if (quick === undefined) return;
  const ref = reference(text);
  assert.ok(ref !== undefined, `quickYaml accepted a text yaml refuses: ${JSON.stringify(text)}`);
  assert.deepStrictEqual(quick, ref.value, `the two parsers disagree on ${JSON.stringify(text)}`);
}

const SCALARS = [
  '', '~', 'null', 'Null', 'NULL', 'nULL', 'true', 'True', 'TRUE', 'tRUE', 'false', 'FALSE', 'yes', 'No', 'on', 'OFF', 'y', 'n',
  '0', '-0', '+0', '+1', '-1', '007', '08', '0o17', '0O17', '0o8', '0x1F', '0X1f', '0xg', '0b101', '1_000', '1,000', '123456789012345678901234',
  '1e309', '-1e309', '1e-400', '1e99', '9'.repeat(320), '1.5', '.5', '5.', '-.5', '+5.', '1e3', '1E+3', '-1e-3', '1.e3', '.e3', '1e', '.inf', '-.inf', '+.INF', '.Inf', '.iNF', '.nan', '.NaN', '.NAN', 'NaN', 'inf',
  '2024-01-01', '2001-12-14t21:59:43.10-05:00', '12:30:45', '1:20', '190:20:30', '0.1.2', '+', '-', '.', '..', '...', '=', '<<',
  'abc', 'a b', 'a  b', 'a #b', 'a#b', 'http://x:1/p?q=1&r=2#f', 'https://*.example.com', '^/v[0-9]+/', '"d\\n"', '"\\u00e9\\x41"', '"\\q"',
  "'it''s'", "'a\n  b'", '"a\n\n  b"', '"a\\\n  b"', '|\n  block\n  text\n', '>\n  folded\n  text\n\n  more\n', '|-\n  x\n', '>+\n  x\n\n', '|2\n   x\n',
  '[a, b]', '[a, [b, c]]', '{a: 1, b: [2]}', '{a, b}', '[a: 1]', '{}', '[]', '[,]', '{a: 1,}', '"x": y', 'é', '\u2028', '\u00a0x',
  '__proto__', 'constructor', 'toString', '- a', '? a', ': a', '@a', '`a', '%a', 'a: b: c', "'unterminated", '"unterminated',
];

const KEYS = ['a', 'b', 'routes', 'from', '__proto__', 'constructor', '1', '"q"', "'s'", 'true', '~', 'null', '1.0', '<<', 'a b', '"a:b"', '[x]', '{y: 1}', '? c'];

/**
 * Documents from these pieces: a top-level mapping of nested block and flow
 * collections, sometimes with comments or trailing spaces.
 */
function documents(keys: readonly string[], scalars: readonly string[], withRandomStrings: boolean): fc.Arbitrary<string> {
  const scalar = withRandomStrings
    ? fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...scalars) }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }) })
    : fc.constantFrom(...scalars);
  const key = fc.constantFrom(...keys);
  const node: fc.Memo<string> = fc.memo((n) => {
    if (n <= 1) return scalar;
    const child = node(n - 1);
    return fc.oneof(
      { weight: 3, arbitrary: scalar },
      { weight: 2, arbitrary: fc.array(fc.tuple(key, child), { minLength: 1, maxLength: 3 }).map((kv) => `\n${kv.map(([k, v]) => `${k}: ${v}`.split('\n').join('\n  ')).join('\n')}`.split('\n').join('\n  ')) },
      { weight: 2, arbitrary: fc.array(child, { minLength: 1, maxLength: 3 }).map((items) => `\n${items.map((v) => `- ${v.split('\n').join('\n  ')}`).join('\n')}`.split('\n').join('\n  ')) },
      { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }).map((items) => `[${items.join(', ')}]`) },
      { weight: 1, arbitrary: fc.array(fc.tuple(key, scalar), { maxLength: 3 }).map((kv) => `{${kv.map(([k, v]) => `${k}: ${v}`).join(', ')}}`) },
    );
  });
  return fc.tuple(
    fc.uniqueArray(fc.tuple(key, node(4)), { minLength: 1, maxLength: 5, selector: ([k]) => k }),
    fc.constantFrom('', '# comment\n', '\n\n', '  \n'),
    fc.constantFrom('', ' # trailing', '   '),
  ).map(([kv, lead, trail]) => `${lead}${kv.map(([k, v]) => `${k}: ${v}${trail}`).join('\n')}\n`);
}

/** Every piece, awkward or broken ones included: the quick path must decline what it cannot match. */
const documentText = documents(KEYS, SCALARS, true);
/** Only the pieces the quick path answers for on their own: it must still agree once they are combined. */
const tameText = documents(
  KEYS.filter((k) => quickYaml(`${k}: 1\n`) !== undefined),
  SCALARS.filter((s) => quickYaml(`k: ${s}\n`) !== undefined && quickYaml(`k:\n  - ${s}\n`) !== undefined),
  false,
);

describe('quickYaml agrees with yaml or declines', () => {
  test('table: the core schema, quoting, merge keys, and what must decline', () => {
    const cases: readonly [string, 'agrees' | 'declines'][] = [
      ['a: 1\nb: 0o17\nc: 0x1F\nd: 1.5e3\ne: .inf\nf: -.inf\ng: .nan\nh: ~\ni: null\nj: true\nk: False\n', 'agrees'],
      ['a: yes\nb: no\nc: on\nd: 1_000\ne: 0b101\nf: 2024-01-01\ng: 12:30:45\nh: 007\n', 'agrees'],
      ['a: "x\\ty"\nb: \'q\'\'s\'\nc: |\n  line\n  two\nd: >\n  folded\n  text\n', 'agrees'],
      ['a: {b: 1, c: [2, 3]}\nd:\n  - e\n  - f: g\n', 'agrees'],
      ['base: {x: 1}\nr:\n  <<: {x: 2, y: 3}\n  x: 4\n', 'declines'], // merge keys: the fuzz found an override hiding a key yaml refuses
      ['<<: \n  a b: \n      true: NULL\n      {y: 1}: {}\n      a: {}\na b: {}\n', 'declines'], // the fuzz's find (FUZZ_SEED=-608133182)
      ['__proto__: {polluted: true}\nconstructor: 1\n', 'agrees'],
      ['routes:\n  - from: https://*.example.com\n    to: http://10.0.0.1:8080\n    regex: ^/v[0-9]+/.*$\n', 'agrees'],
      ['a: &x 1\nb: *x\n', 'declines'],
      ['base: &b {x: 1}\nr:\n  <<: *b\n', 'declines'],
      ['a: !!str 1\n', 'declines'],
      ['a: !custom x\n', 'declines'],
      ['%YAML 1.1\n---\na: yes\n', 'declines'],
      ['---\na: 1\n', 'declines'],
      ['a: 1\n---\nb: 2\n', 'declines'],
      ['a:\t1\n', 'declines'],
      ['a: 1\r\nb: 2\r\n', 'declines'],
      ['\uFEFFa: 1\n', 'declines'],
      ['a: 1\na: 2\n', 'declines'],
      ['a: [1\n', 'declines'],
      ['', 'declines'],
      ['? [x]\n: 1\n', 'declines'],
      ['1: a\nnull: b\ntrue: c\n', 'declines'],
      ['a: 1e309\nb: 1e-400\n', 'declines'],
      ['a: |2\n   x\n   \nb: 1\n', 'declines'],
      ['a: "x\\\n\n  y"\n', 'declines'],
    ];
    for (const [text, expected] of cases) {
      const quick = quickYaml(text);
      if (expected === 'declines') assert.equal(quick, undefined, `should decline ${JSON.stringify(text)}`);
      else assert.deepStrictEqual(quick, reference(text)?.value, `should agree on ${JSON.stringify(text)}`);
    }
  });

  test('generated documents', () => {
    fuzzSync('quickYaml: generated documents', 3000, [documentText], agrees);
  });

  test('generated documents of pieces it answers for (and it answers for most of them)', () => {
    let answered = 0;
    let cases = 0;
    fuzzSync('quickYaml: tame documents', 3000, [tameText], (text) => {
      cases++;
      if (quickYaml(text) !== undefined) answered++;
      agrees(text);
    });
    assert.ok(answered / cases > 0.3, `the quick path answered only ${answered} of ${cases} documents`);
  });

  test('generated documents, damaged as text', () => {
    fuzzSync('quickYaml: damaged documents', 2000, [fc.oneof(documentText, tameText).chain((t) => mutatedString(t))], agrees);
  });
});
