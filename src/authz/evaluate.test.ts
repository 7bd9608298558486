import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluate, parsePolicy } from './index.js';
import { MONDAY_10_UTC, input } from './testkit.js';
import type { DecisionResult, PolicyInput } from './types.js';

// Criteria with a known outcome, for operator tables.
const T = { accept: true }; // true
const F = { reject: true }; // false
const U = { email: 'ada@example.com' }; // unknown without identity (true with the default identity)
const anon = input({ identity: null });

describe('operators: and = all true, or = any true, not = none true, nor = not all true', () => {
  const cases: [op: 'and' | 'or' | 'not' | 'nor', criteria: object[], want: boolean][] = [
    ['and', [T], true],
    ['and', [T, T], true],
    ['and', [T, F], false],
    ['and', [F, F], false],
    ['or', [T], true],
    ['or', [F, T], true],
    ['or', [F, F], false],
    ['not', [F], true],
    ['not', [F, F], true],
    ['not', [F, T], false],
    ['not', [T, T], false],
    ['nor', [F], true],
    ['nor', [T, F], true],
    ['nor', [F, F], true],
    ['nor', [T, T], false],
    ['nor', [T], false],
  ];
  for (const [op, criteria, want] of cases) {
    const label = criteria.map((c) => (c === T ? 'T' : 'F')).join(',');
    test(`${op}[${label}] is ${want}`, () => {
      const d = evaluate(parsePolicy({ allow: { [op]: criteria } }, 'p'), input(), 0);
      assert.equal(d.result, want ? 'allow' : 'deny');
    });
  }
});

describe('empty lists never match', () => {
  for (const op of ['and', 'or', 'not', 'nor']) {
    test(`allow.${op}: [] does not allow`, () => {
      const d = evaluate(parsePolicy({ allow: { [op]: [] } }, 'p'), input(), 0);
      assert.deepEqual([d.result, d.rule, d.reasons, d.trace], ['deny', undefined, [], []]);
    });
    test(`deny.${op}: [] does not deny`, () => {
      const d = evaluate(parsePolicy({ allow: { or: [T] }, deny: { [op]: [] } }, 'p'), input(), 0);
      assert.equal(d.result, 'allow');
    });
  }
  test('an empty policy denies everything', () => {
    for (const doc of [[], [{ deny: { or: [F] } }]]) {
      const d = evaluate(parsePolicy(doc, 'p'), input(), 0);
      assert.equal(d.result, 'deny');
      assert.equal(d.rule, undefined);
    }
  });
});

describe('three-valued logic without an identity', () => {
  const cases: [doc: unknown, want: DecisionResult][] = [
    [{ allow: { and: [U] } }, 'login'],
    [{ allow: { and: [T, U] } }, 'login'],
    [{ allow: { and: [F, U] } }, 'deny'], // signing in cannot help: and already false
    [{ allow: { or: [U, F] } }, 'login'],
    [{ allow: { or: [U, T] } }, 'allow'],
    [{ allow: { not: [U] } }, 'login'], // not must not let anonymous users through
    [{ allow: { not: [U, T] } }, 'deny'],
    [{ allow: { nor: [U] } }, 'login'],
    [{ allow: { nor: [U, F] } }, 'allow'],
    [{ allow: { or: [{ groups: { exclude: 'contractors' } }] } }, 'login'],
    [{ allow: { or: [{ 'claim/x': { not: 'y' } }] } }, 'login'],
    // Deny rules that need an identity do not match, but they keep an allow from letting an anonymous request through.
    [{ allow: { or: [T] }, deny: { or: [U] } }, 'login'],
    [{ allow: { or: [T] }, deny: { not: [U] } }, 'login'],
    [{ allow: { or: [T] }, deny: { and: [U, F] } }, 'allow'], // the deny is false whoever signs in
    [{ allow: { or: [F] }, deny: { not: [U] } }, 'deny'], // nothing could allow: plain 403
    [{ allow: { or: [U] }, deny: { not: [U] } }, 'login'],
    [{ allow: { or: [T] }, deny: { or: [U, T] } }, 'deny'],
  ];
  for (const [doc, want] of cases) {
    test(`${JSON.stringify(doc)} → ${want}`, () => {
      assert.equal(evaluate(parsePolicy(doc, 'p'), anon, 0).result, want);
    });
  }
  test('with an identity the same policies are two-valued', () => {
    assert.equal(evaluate(parsePolicy({ allow: { not: [U] } }, 'p'), input({ identity: { email: 'bob@example.com' } }), 0).result, 'allow');
    assert.equal(evaluate(parsePolicy({ allow: { not: [U] } }, 'p'), input(), 0).result, 'deny');
    assert.equal(evaluate(parsePolicy({ allow: { or: [T] }, deny: { or: [U] } }, 'p'), input({ identity: { email: 'bob@example.com' } }), 0).result, 'allow');
  });
});

describe('decision order, reasons and deciding rule', () => {
  const admins = { groups: { has: 'admins' } };
  const contractors = { groups: { has: 'contractors' } };
  const policy = parsePolicy(
    [
      { allow: { or: [{ email: { ends_with: '@example.com' } }, admins] } },
      { allow: { and: [{ domain: 'partner.org' }, { http_method: 'GET' }] } },
      { deny: { or: [contractors, { source_ip: '203.0.113.0/24' }] } },
    ],
    'routes[0].policy',
  );
  const cases: [name: string, inp: PolicyInput, want: { result: DecisionResult; reasons: string[]; rule: string | undefined }][] = [
    ['allowed by email', input({ identity: { groups: ['eng'] } }),
      { result: 'allow', reasons: ['email-ok'], rule: 'routes[0].policy[0].allow.or' }],
    ['allowed by email and group: both reasons', input({ identity: { groups: ['admins'] } }),
      { result: 'allow', reasons: ['email-ok', 'groups-ok'], rule: 'routes[0].policy[0].allow.or' }],
    ['allowed by the second rule', input({ identity: { email: 'p@partner.org' } }),
      { result: 'allow', reasons: ['domain-ok', 'http-method-ok'], rule: 'routes[0].policy[1].allow.and' }],
    ['deny beats allow', input({ identity: { groups: ['admins', 'contractors'] } }),
      { result: 'deny', reasons: ['groups-ok'], rule: 'routes[0].policy[2].deny.or' }],
    ['deny by address beats allow', input({ request: { ip: '203.0.113.9' } }),
      { result: 'deny', reasons: ['source-ip-ok'], rule: 'routes[0].policy[2].deny.or' }],
    ['default deny names what failed', input({ identity: { email: 'x@other.org', groups: [] } }),
      { result: 'deny', reasons: ['email-unauthorized', 'groups-unauthorized', 'domain-unauthorized'], rule: undefined }],
    ['default deny: and reports only its failing criteria', input({ identity: { email: 'p@partner.org' }, request: { method: 'POST' } }),
      { result: 'deny', reasons: ['email-unauthorized', 'groups-unauthorized', 'http-method-unauthorized'], rule: undefined }],
    ['anonymous: login', input({ identity: null }),
      { result: 'login', reasons: ['user-unauthenticated'], rule: 'routes[0].policy[0].allow.or' }],
    ['anonymous from a denied network: deny without sign-in', input({ identity: null, request: { ip: '203.0.113.1' } }),
      { result: 'deny', reasons: ['source-ip-ok'], rule: 'routes[0].policy[2].deny.or' }],
  ];
  for (const [name, inp, want] of cases) {
    test(name, () => {
      const d = evaluate(policy, inp, MONDAY_10_UTC);
      assert.deepEqual({ result: d.result, reasons: d.reasons, rule: d.rule }, want);
    });
  }

  test('the trace lists every criterion, in document order', () => {
    const d = evaluate(policy, input({ identity: { groups: ['admins', 'contractors'] } }), MONDAY_10_UTC);
    assert.deepEqual(
      d.trace.map((c) => [c.path, c.criterion, c.matched, c.reason]),
      [
        ['routes[0].policy[0].allow.or[0]', 'email', true, 'email-ok'],
        ['routes[0].policy[0].allow.or[1]', 'groups', true, 'groups-ok'],
        ['routes[0].policy[1].allow.and[0]', 'domain', false, 'domain-unauthorized'],
        ['routes[0].policy[1].allow.and[1]', 'http_method', true, 'http-method-ok'],
        ['routes[0].policy[2].deny.or[0]', 'groups', true, 'groups-ok'],
        ['routes[0].policy[2].deny.or[1]', 'source_ip', false, 'source-ip-unauthorized'],
      ],
    );
  });

  test('not and nor report the criteria that made them true', () => {
    const p = parsePolicy([{ allow: { or: [T] } }, { deny: { not: [admins] } }], 'p');
    const d = evaluate(p, input({ identity: { groups: ['eng'] } }), 0);
    assert.deepEqual([d.result, d.reasons, d.rule], ['deny', ['groups-unauthorized'], 'p[1].deny.not']);
    const q = parsePolicy({ allow: { nor: [admins, { http_method: 'GET' }] } }, 'q');
    const e = evaluate(q, input({ identity: { groups: ['admins'] }, request: { method: 'POST' } }), 0);
    assert.deepEqual([e.result, e.reasons], ['allow', ['http-method-unauthorized']]);
    const f = evaluate(q, input({ identity: { groups: ['admins'] } }), 0);
    assert.deepEqual([f.result, f.reasons], ['deny', ['groups-ok', 'http-method-ok']]);
  });

  test('several true deny operators: union of reasons, first rule', () => {
    const p = parsePolicy([{ allow: { or: [T] } }, { deny: { or: [{ http_method: 'GET' }] } }, { deny: { and: [{ http_path: '/' }] } }], 'p');
    const d = evaluate(p, input(), 0);
    assert.deepEqual([d.result, d.reasons, d.rule], ['deny', ['http-method-ok', 'http-path-ok'], 'p[1].deny.or']);
  });
});

describe('now', () => {
  const policy = parsePolicy({ allow: { and: [{ time_of_day: { after: '09:00', before: '17:00' } }] } }, 'p');
  test('a Date and epoch milliseconds give the same answer', () => {
    assert.equal(evaluate(policy, input(), new Date(MONDAY_10_UTC)).result, 'allow');
    assert.equal(evaluate(policy, input(), MONDAY_10_UTC).result, 'allow');
    assert.equal(evaluate(policy, input(), MONDAY_10_UTC + 8 * 3_600_000).result, 'deny');
  });
  test('an invalid clock is a TypeError, never a decision', () => {
    for (const now of [Number.NaN, Infinity, new Date('nope')]) {
      assert.throws(() => evaluate(policy, input(), now), TypeError);
    }
  });
  test('a policy that was not compiled is a TypeError', () => {
    for (const fake of [{}, { where: 'p', operators: [], needsIdentity: false, recordTypes: [], recordLookups: [] }, null]) {
      assert.throws(() => evaluate(fake as never, input(), 0), TypeError);
    }
  });
});

describe('evaluation is pure', () => {
  test('the same input gives the same decision, and inputs are not mutated', () => {
    const policy = parsePolicy({ allow: { or: [{ groups: 'eng' }, { 'claim/org.team': 'x' }] } }, 'p');
    const inp = input({ identity: { groups: ['eng'], claims: { org: { team: 'x' } } } });
    const snapshot = JSON.stringify(inp);
    const a = evaluate(policy, inp, 0);
    const b = evaluate(policy, inp, 0);
    assert.deepEqual(a, b);
    assert.equal(JSON.stringify(inp), snapshot);
  });
});

describe('decision cache', () => {
  const doc = [
    { allow: { or: [{ email: { ends_with: '@example.com' } }, { groups: 'admins' }] } },
    { allow: { and: [{ source_ip: '10.0.0.0/8' }, { http_method: 'GET' }] } },
    { deny: { or: [{ groups: 'contractors' }, { time_of_day: { after: '22:00', before: '06:00' } }] } },
  ];
  const inputs = [
    input(), input({ identity: null }), input({ identity: { email: 'x@other.org', groups: ['admins'] } }),
    input({ identity: { groups: ['contractors'] } }), input({ identity: null, request: { ip: '10.1.1.1' } }),
    input({ identity: { email: 'x@other.org' }, request: { ip: '10.1.1.1', method: 'POST' } }),
  ];
  const times = [Date.UTC(2026, 0, 5, 12), Date.UTC(2026, 0, 5, 23)];

  test('cached decisions equal freshly computed ones, in any order', () => {
    const shared = parsePolicy(doc, 'p');
    for (let round = 0; round < 3; round++) {
      for (const [i, inp] of (round === 1 ? [...inputs].reverse() : inputs).entries()) {
        for (const t of times) {
          const fresh = evaluate(parsePolicy(doc, 'p'), inp, t);
          assert.deepEqual(evaluate(shared, inp, t), fresh, `round ${round} input ${i} time ${t}`);
        }
      }
    }
  });

  test('decisions are frozen, so a shared one cannot be altered', () => {
    const d = evaluate(parsePolicy(doc, 'p'), input(), times[0]!);
    assert.ok(Object.isFrozen(d) && Object.isFrozen(d.reasons) && Object.isFrozen(d.trace));
    assert.throws(() => (d.reasons as string[]).push('x'), TypeError);
  });

  test('a records callback that evaluates the same policy again is answered correctly', () => {
    const policy = parsePolicy(
      { allow: { and: [{ record: { type: 'device', field: 'ok', '=': true } }, { email: { ends_with: '@example.com' } }] } },
      'p',
    );
    const inner: string[] = [];
    const outer = evaluate(policy, {
      ...input(),
      records: () => {
        // Re-entrant call with a different input while the outer one is mid-flight.
        inner.push(evaluate(policy, { ...input({ identity: { email: 'x@other.org' } }), records: () => ({ ok: false }) }, 0).result);
        return { ok: true };
      },
    }, 0);
    assert.deepEqual(inner, ['deny']);
    assert.deepEqual([outer.result, outer.reasons], ['allow', ['record-ok', 'email-ok']]);
  });

  test('policies with more criteria than the cache key can hold are evaluated uncached', () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ http_path: `/p${i}` }));
    const policy = parsePolicy({ allow: { or: many } }, 'p');
    assert.equal(evaluate(policy, input({ request: { path: '/p39' } }), 0).result, 'allow');
    assert.deepEqual(evaluate(policy, input({ request: { path: '/p39' } }), 0).reasons, ['http-path-ok']);
    assert.equal(evaluate(policy, input({ request: { path: '/p40' } }), 0).result, 'deny');
  });
});
