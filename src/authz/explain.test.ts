import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CRITERION_NAMES, describeDecision, describeReason, evaluate, explainDecision, parsePolicy } from './index.js';
import { input } from './testkit.js';

// Every reason any criterion can yield.
const ALL_REASONS = [
  'accept', 'reject', 'user-ok', 'user-unauthenticated', 'user-unauthorized', 'email-ok', 'email-unauthorized',
  'domain-ok', 'domain-unauthorized', 'groups-ok', 'groups-unauthorized', 'claim-ok', 'claim-unauthorized',
  'http-method-ok', 'http-method-unauthorized', 'http-path-ok', 'http-path-unauthorized', 'source-ip-ok',
  'source-ip-unauthorized', 'cors-request', 'non-cors-request', 'client-certificate-ok',
  'client-certificate-unauthorized', 'client-certificate-required', 'invalid-client-certificate',
  'valid-client-certificate-or-none-required', 'date-ok', 'date-unauthorized', 'day-of-week-ok',
  'day-of-week-unauthorized', 'time-of-day-ok', 'time-of-day-unauthorized', 'record-ok', 'record-unauthorized',
];

describe('describeReason', () => {
  const generic = describeReason('no-such-reason');
  test('unknown reasons get a generic sentence', () => {
    assert.equal(generic, 'A requirement of this route was not met.');
    for (const r of ['', 'constructor', '__proto__', 'toString']) assert.equal(describeReason(r), generic);
  });
  for (const reason of ALL_REASONS) {
    test(`${reason} has its own sentence`, () => {
      const text = describeReason(reason);
      assert.notEqual(text, generic);
      assert.match(text, /^[A-Z].*\.$/);
      assert.match(describeReason(reason, true), /^[A-Z].*\.$/);
    });
  }
  test('the example from the brief', () => {
    assert.equal(describeReason('email-unauthorized'), 'Your email address is not on the list allowed for this route.');
  });
  test('a matched deny criterion reads as a refusal', () => {
    assert.equal(describeReason('groups-ok', true), 'This route refuses members of one of your groups.');
    assert.equal(describeReason('groups-unauthorized', true), 'You are not a member of a group allowed on this route.');
  });
});

describe('explanations never reveal the policy', () => {
  // Distinctive values that must not leak into anything a user sees.
  const secrets = ['s3cret-group', 'hidden@corp.example', '198.51.100.0/24', 'Pacific/Chatham', '13:37', 'vault-record', 'classified-field'];
  const policy = parsePolicy(
    [
      { allow: { and: [{ groups: 's3cret-group' }, { email: 'hidden@corp.example' }, { time_of_day: { timezone: 'Pacific/Chatham', after: '13:37' } }] } },
      { deny: { or: [{ source_ip: '198.51.100.0/24' }, { record: { type: 'vault-record', field: 'classified-field', '=': 1 } }] } },
    ],
    'routes[0].policy',
  );
  const inputs = [
    input(), input({ identity: null }), input({ request: { ip: '198.51.100.7' } }),
    input({ identity: { groups: ['s3cret-group'], email: 'hidden@corp.example' } }),
  ];
  for (const [i, inp] of inputs.entries()) {
    test(`input ${i}`, () => {
      const d = evaluate(policy, inp, Date.UTC(2026, 0, 5, 1, 0));
      const shown = [...describeDecision(d), explainDecision(d), ...d.reasons.map((r) => describeReason(r))].join('\n');
      for (const s of secrets) assert.ok(!shown.includes(s), `"${s}" leaked into:\n${shown}`);
    });
  }
});

describe('describeDecision', () => {
  test('default deny lists what was not met', () => {
    const d = evaluate(parsePolicy({ allow: { or: [{ email: 'x@y.z' }, { groups: 'g' }] } }, 'p'), input(), 0);
    assert.deepEqual(describeDecision(d), [
      'Your email address is not on the list allowed for this route.',
      'You are not a member of a group allowed on this route.',
    ]);
  });
  test('a deny rule match is phrased as a refusal', () => {
    const d = evaluate(parsePolicy([{ allow: { or: [{ accept: true }] } }, { deny: { or: [{ http_method: 'GET' }] } }], 'p'), input(), 0);
    assert.deepEqual(describeDecision(d), ['This route refuses this request method.']);
  });
  test('login asks to sign in', () => {
    const d = evaluate(parsePolicy({ allow: { or: [{ authenticated_user: true }] } }, 'p'), input({ identity: null }), 0);
    assert.deepEqual(describeDecision(d), ['You need to sign in to use this route.']);
  });
  test('no rules at all', () => {
    const d = evaluate(parsePolicy([], 'p'), input(), 0);
    assert.deepEqual(describeDecision(d), ['No rule of this route allows this request.']);
  });
});

describe('explainDecision', () => {
  test('shows result, rule, reasons in words, and each criterion', () => {
    const policy = parsePolicy(
      [{ allow: { or: [{ email: 'ada@example.com' }, { groups: 'admins' }] } }, { deny: { or: [{ http_method: 'DELETE' }] } }],
      'routes[1].policy',
    );
    const text = explainDecision(evaluate(policy, input(), 0));
    assert.equal(
      text,
      [
        'result: allow',
        'rule:   routes[1].policy[0].allow.or',
        'reasons:',
        '  email-ok: Your email address is allowed on this route.',
        'criteria:',
        '  routes[1].policy[0].allow.or[0]  email        match     email-ok',
        '  routes[1].policy[0].allow.or[1]  groups       no match  groups-unauthorized',
        '  routes[1].policy[1].deny.or[0]   http_method  no match  http-method-unauthorized',
      ].join('\n'),
    );
  });
  test('default deny and unknown criteria', () => {
    const policy = parsePolicy({ allow: { and: [{ email: 'a@b.c' }, { http_method: 'POST' }] } }, 'p');
    const text = explainDecision(evaluate(policy, input({ identity: null }), 0));
    assert.match(text, /^result: deny\nrule: {3}\(none: no allow rule matched, denied by default\)\n/);
    assert.match(text, /p\.allow\.and\[0\] {2}email {8}unknown {3}user-unauthenticated/);
  });
  test('an empty policy', () => {
    assert.equal(
      explainDecision(evaluate(parsePolicy([], 'p'), input(), 0)),
      'result: deny\nrule:   (none: no allow rule matched, denied by default)\nreasons: (none)\ncriteria: (none: the policy has no criteria)',
    );
  });
});

test('CRITERION_NAMES lists every criterion the parser accepts', () => {
  for (const name of CRITERION_NAMES) {
    // Each name parses as a criterion (claim needs a sub-path), so none is a typo.
    const key = name === 'claim' ? 'claim/x' : name;
    assert.throws(() => parsePolicy({ allow: { or: [{ [key]: { __bogus__: 1 } }] } }, 'p'), (err: Error) => !/unknown criterion/.test(err.message));
  }
});
