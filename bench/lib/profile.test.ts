import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProfile, ownerOf, summarizeProfile, type CpuProfile, type CpuProfileNode } from './profile.js';

const ROOT = '/work/main/';

function node(id: number, functionName: string, url: string, children: number[] = [], lineNumber = 0): CpuProfileNode {
  return { id, callFrame: { functionName, url, lineNumber }, children };
}

// (root)
// ├─ (idle)                                   2 samples
// ├─ (garbage collector)                      1
// └─ handleRequest  src/server/handler.ts     1
//    └─ verifySignature  node_modules/jose    1
//       └─ importKey  node:internal/crypto    3
//          └─ run  (native)                   2
//    └─ forward  src/proxy/forward.ts         0
//       └─ writev (native)                    4
// └─ onclose  node:internal/streams           0
//    └─ DOMException  node:internal           2
const PROFILE: CpuProfile = {
  startTime: 0,
  endTime: 16_000,
  nodes: [
    node(1, '(root)', '', [2, 3, 4, 10]),
    node(2, '(idle)', ''),
    node(3, '(garbage collector)', ''),
    node(4, 'handleRequest', `file://${ROOT}src/server/handler.ts`, [5, 8]),
    node(5, 'verifySignature', `file://${ROOT}node_modules/jose/dist/webapi/lib/jws_verify.js`, [6], 43),
    node(6, 'importKey', 'node:internal/crypto/webcrypto', [7], 573),
    node(7, 'run', ''),
    node(8, 'forward', `file://${ROOT}src/proxy/forward.ts`, [9]),
    node(9, 'writev', ''),
    node(10, 'onclose', 'node:internal/streams/end-of-stream', [11], 140),
    node(11, 'DOMException', 'node:internal/per_context/domexception', [], 51),
  ],
};
const SAMPLES = [2, 2, 3, 4, 5, 6, 6, 6, 7, 7, 9, 9, 9, 9, 11, 11];

describe('summarizeProfile', () => {
  const s = summarizeProfile({ ...PROFILE, samples: SAMPLES }, { root: ROOT });

  test('counts samples, idle share and duration', () => {
    assert.equal(s.samples, 16);
    assert.equal(s.idle, 2 / 16);
    assert.equal(s.durationMs, 16);
  });

  test('self time per function, idle and root left out, line only when known', () => {
    assert.deepEqual(s.self.map((f) => [f.where, f.share * 16]), [
      ['writev', 4],
      ['importKey (node:internal/crypto/webcrypto:574)', 3],
      ['run', 2],
      ['DOMException (node:internal/per_context/domexception:52)', 2],
      ['(garbage collector)', 1],
      ['handleRequest (src/server/handler.ts)', 1],
      ['verifySignature (node_modules/jose/dist/webapi/lib/jws_verify.js:44)', 1],
    ]);
  });

  test('each sample is charged to the nearest project file or package on its stack', () => {
    assert.deepEqual(s.byOwner.map((f) => [f.where, f.share * 16]), [
      ['node_modules/jose', 6],
      ['src/proxy/forward.ts', 4],
      ['(Node internals and native code only)', 2],
      ['(garbage collector)', 1],
      ['src/server/handler.ts', 1],
    ]);
  });

  test('without `samples`, hitCount is used', () => {
    const withHits: CpuProfile = { ...PROFILE, nodes: PROFILE.nodes.map((n) => ({ ...n, hitCount: SAMPLES.filter((x) => x === n.id).length })) };
    const h = summarizeProfile(withHits, { root: ROOT });
    assert.deepEqual(h.byOwner, s.byOwner);
    assert.deepEqual(h.self, s.self);
  });

  test('top limits both lists', () => {
    const t = summarizeProfile({ ...PROFILE, samples: SAMPLES }, { root: ROOT, top: 2 });
    assert.equal(t.self.length, 2);
    assert.equal(t.byOwner.length, 2);
  });

  test('an empty profile summarises to nothing rather than dividing by zero', () => {
    const e = summarizeProfile({ ...PROFILE, samples: [], nodes: PROFILE.nodes.map((n) => ({ ...n, hitCount: 0 })) });
    assert.equal(e.samples, 0);
    assert.deepEqual(e.self, []);
    assert.deepEqual(e.byOwner, []);
  });

  test('formatProfile prints percentages', () => {
    const text = formatProfile(s);
    assert.match(text, /^16 samples over 0\.0 s; idle 12\.5%/);
    assert.match(text, /^ +37\.5% {2}node_modules\/jose$/m);
    assert.match(text, /^ +25\.0% {2}writev$/m);
  });
});

describe('ownerOf', () => {
  const cases: [string, string | undefined][] = [
    [`file://${ROOT}src/proxy/forward.ts`, 'src/proxy/forward.ts'],
    [`file://${ROOT}bench/lib/limen-child.ts`, 'bench/lib/limen-child.ts'],
    [`file://${ROOT}node_modules/undici/lib/dispatcher/client-h1.js`, 'node_modules/undici'],
    [`file://${ROOT}node_modules/@scope/pkg/index.js`, 'node_modules/@scope/pkg'],
    [`file://${ROOT}packages/verify/node_modules/jose/x.js`, 'node_modules/jose'],
    ['node:internal/streams/pipeline', undefined],
    ['', undefined],
    ['file:///elsewhere/x.js', undefined],
    ['wasm://wasm/00034eea', undefined],
  ];
  for (const [url, want] of cases) test(url || '(empty)', () => assert.equal(ownerOf(url, ROOT), want));
});
