import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PolicyError } from '../errors/index.js';
import { parsePolicy } from './index.js';

const W = 'routes[2].policy';

/** [name, document, exact message (path: detail)]. */
const bad: [string, unknown, string][] = [
  // Document and rules.
  ['not a policy', 'allow everyone', `${W}: expected a rule object or a list of rules, got string`],
  ['null', null, `${W}: expected a rule object or a list of rules, got nothing`],
  ['number', 42, `${W}: expected a rule object or a list of rules, got number`],
  ['rule is a string', ['allow'], `${W}[0]: expected a rule object with "allow" and/or "deny", got string`],
  ['empty rule', [{}], `${W}[0]: empty rule (expected "allow" and/or "deny")`],
  ['misspelt action', { alow: { or: [] } }, `${W}: unknown key "alow" (expected allow or deny; did you mean "allow"?)`],
  ['misspelt action in a list', [{ allow: { or: [{ accept: true }] } }, { dney: {} }], `${W}[1]: unknown key "dney" (expected allow or deny; did you mean "deny"?)`],
  ['action is a list', { allow: [{ email: 'a@b.c' }] }, `${W}.allow: expected an object with one or more of and, or, not, nor, got a list`],
  ['action is empty', { deny: {} }, `${W}.deny: expected an object with one or more of and, or, not, nor, got an empty object`],
  ['action has no value', { allow: null }, `${W}.allow: expected an object with one or more of and, or, not, nor, got nothing`],
  ['unknown operator', { allow: { any: [] } }, `${W}.allow: unknown operator "any" (expected one of and, or, not, nor; criteria go in a list under one of them)`],
  ['criterion in place of an operator', { allow: { email: 'a@b.c' } }, `${W}.allow: unknown operator "email" (expected one of and, or, not, nor; criteria go in a list under one of them)`],
  ['operator is an object', { allow: { or: { email: 'a@b.c' } } }, `${W}.allow.or: expected a list of criteria, got an object`],
  // Criteria.
  ['criterion is a string', { allow: { or: ['accept'] } }, `${W}.allow.or[0]: expected a criterion object like {email: {is: a@example.com}}, got string (write "accept: true" or "accept: <value>")`],
  ['criterion with two keys', { allow: { or: [{ email: 'a@b.c', domain: 'b.c' }] } }, `${W}.allow.or[0]: a criterion has exactly one key, found 2 (email, domain); put each in its own list item`],
  ['empty criterion', { allow: { and: [{ accept: true }, {}] } }, `${W}.allow.and[1]: empty criterion (expected one key, e.g. email)`],
  ['unknown criterion', { allow: { or: [{ emial: 'a@b.c' }] } }, `${W}.allow.or[0]: unknown criterion "emial" (did you mean "email"?)`],
  ['unknown criterion (group)', { allow: { or: [{ group: 'admins' }] } }, `${W}.allow.or[0]: unknown criterion "group" (did you mean "groups"?)`],
  ['unknown criterion (Pomerium enterprise device)', { allow: { or: [{ device: {} }] } }, `${W}.allow.or[0]: unknown criterion "device" (did you mean "reject"?)`],
  ['sub-path on a plain criterion', { allow: { or: [{ 'email/x': 'a' }] } }, `${W}.allow.or[0]: criterion "email" takes no sub-path (only claim/<name> does)`],
  ['claim without a name', { allow: { or: [{ claim: 'x' }] } }, `${W}.allow.or[0]: the claim criterion needs a claim name, e.g. "claim/groups" or "claim/org.team"`],
  ['claim with an empty name', { allow: { or: [{ 'claim/': 'x' }] } }, `${W}.allow.or[0]: the claim criterion needs a claim name, e.g. "claim/groups" or "claim/org.team"`],
  ['accept: false', { allow: { or: [{ accept: false }] } }, `${W}.allow.or[0].accept: expected true, got boolean`],
  ['authenticated_user with a value', { allow: { or: [{ authenticated_user: 'yes' }] } }, `${W}.allow.or[0].authenticated_user: expected true, got string`],
  // Matchers.
  ['unknown string matcher', { allow: { or: [{ email: 'x' }, { email: { startswith: 'ada' } }] } }, `${W}.allow.or[1].email: unknown matcher "startswith" (expected one of is, not, contains, starts_with, ends_with, in, not_in)`],
  ['list matcher on a string criterion', { allow: { or: [{ email: { has: 'x' } }] } }, `${W}.allow.or[0].email: unknown matcher "has" (expected one of is, not, contains, starts_with, ends_with, in, not_in)`],
  ['string matcher on groups', { allow: { or: [{ groups: { starts_with: 'eng' } }] } }, `${W}.allow.or[0].groups: unknown matcher "starts_with" (expected one of has, is, exclude)`],
  ['unknown claim matcher', { allow: { or: [{ 'claim/org.team': { equals: 'x' } }] } }, `${W}.allow.or[0].claim/org.team: unknown matcher "equals" (expected one of has, is, exclude, not, contains, starts_with, ends_with, in, not_in)`],
  ['empty matcher object', { allow: { or: [{ email: {} }] } }, `${W}.allow.or[0].email: expected a value or matchers (one of is, not, contains, starts_with, ends_with, in, not_in), got an empty object`],
  ['bare list for a string criterion', { allow: { or: [{ email: ['a@b.c', 'd@e.f'] }] } }, `${W}.allow.or[0].email: expected a value or an object of matchers (one of is, not, contains, starts_with, ends_with, in, not_in), got a list; to accept any of several values, use "in"`],
  ['bare list for groups', { allow: { or: [{ groups: ['a', 'b'] }] } }, `${W}.allow.or[0].groups: expected a value or an object of matchers (one of has, is, exclude), got a list; to accept any of several values, use several criteria under "or"`],
  ['null value', { allow: { or: [{ user: null }] } }, `${W}.allow.or[0].user: expected a value or an object of matchers (one of is, not, contains, starts_with, ends_with, in, not_in), got null`],
  ['is with a list', { allow: { or: [{ groups: { has: ['a', 'b'] } }] } }, `${W}.allow.or[0].groups.has: expected a string, got a list; to accept any of several values, use several criteria under "or"`],
  ['in with a string', { allow: { or: [{ email: { in: 'a@b.c' } }] } }, `${W}.allow.or[0].email.in: expected a list of values, got string`],
  ['in with an object item', { allow: { or: [{ email: { in: ['a@b.c', { x: 1 }] } }] } }, `${W}.allow.or[0].email.in[1]: expected a string, got an object`],
  ['matcher operand is an object', { allow: { or: [{ user: { is: { id: 1 } } }] } }, `${W}.allow.or[0].user.is: expected a string, got an object`],
  // source_ip.
  ['bad address', { allow: { or: [{ source_ip: '10.0.0.256' }] } }, `${W}.allow.or[0].source_ip: "10.0.0.256" is not an IP address or CIDR range`],
  ['bad prefix in a list', { allow: { or: [{ source_ip: ['10.0.0.0/8', '::/200'] }] } }, `${W}.allow.or[0].source_ip[1]: "::/200" has a bad prefix length (expected 0 to 128)`],
  ['source_ip object', { allow: { or: [{ source_ip: { is: '1.2.3.4' } }] } }, `${W}.allow.or[0].source_ip: expected an IP address or CIDR range (or a list of them), got an object`],
  // Certificates.
  ['client_certificate: empty', { allow: { or: [{ client_certificate: {} }] } }, `${W}.allow.or[0].client_certificate: expected an object with one or more of fingerprint, spki_hash, san_email, san_dns, san_uri, got an object`],
  ['client_certificate: unknown condition', { allow: { or: [{ client_certificate: { subject: 'x' } }] } }, `${W}.allow.or[0].client_certificate: unknown certificate condition "subject" (expected one of fingerprint, spki_hash, san_email, san_dns, san_uri)`],
  ['client_certificate: bad fingerprint', { allow: { or: [{ client_certificate: { fingerprint: ['ab'.repeat(32), 'abc'] } }] } }, `${W}.allow.or[0].client_certificate.fingerprint[1]: "abc" is not a SHA-256 certificate fingerprint (64 hex digits, colons allowed)`],
  ['client_certificate: bad spki hash', { allow: { or: [{ client_certificate: { spki_hash: 'AAAA' } }] } }, `${W}.allow.or[0].client_certificate.spki_hash: "AAAA" is not a base64 SHA-256 SPKI hash (32 bytes)`],
  ['client_certificate: empty fingerprint', { allow: { or: [{ client_certificate: { fingerprint: '' } }] } }, `${W}.allow.or[0].client_certificate.fingerprint: expected a fingerprint (or a list of them), got an empty string`],
  // Time.
  ['date: not an object', { allow: { or: [{ date: '2026-01-01' }] } }, `${W}.allow.or[0].date: expected an object with "after" and/or "before", got string`],
  ['date: neither bound', { allow: { or: [{ date: { timezone: 'UTC' } }] } }, `${W}.allow.or[0].date: expected "after" and/or "before"`],
  ['date: unknown key', { allow: { or: [{ date: { since: '2026-01-01' } }] } }, `${W}.allow.or[0].date: unknown key "since" (expected one of after, before, timezone)`],
  ['date: bad date', { allow: { or: [{ date: { after: '2026-02-30' } }] } }, `${W}.allow.or[0].date.after: "2026-02-30" is not a valid date`],
  ['date: not ISO', { allow: { or: [{ date: { before: 'next week' } }] } }, `${W}.allow.or[0].date.before: "next week" is not an ISO-8601 date or date-time (e.g. 2026-01-31 or 2026-01-31T09:00:00Z)`],
  ['date: number', { allow: { or: [{ date: { before: 20260101 } }] } }, `${W}.allow.or[0].date.before: expected an ISO-8601 date or date-time like 2026-01-31T09:00:00Z, got number`],
  ['date: empty range', { allow: { or: [{ date: { after: '2026-02-01', before: '2026-01-01' } }] } }, `${W}.allow.or[0].date: "after" must be earlier than "before" (the range is empty)`],
  ['date: bad zone', { allow: { or: [{ date: { after: '2026-02-01', timezone: 'Europe/Paris2' } }] } }, `${W}.allow.or[0].date.timezone: unknown time zone "Europe/Paris2" (expected an IANA name like "Europe/Berlin" or "UTC")`],
  ['day_of_week: bad day', { allow: { or: [{ day_of_week: 'mon-fry' }] } }, `${W}.allow.or[0].day_of_week: "mon-fry" is not a day (expected sun, mon, tue, wed, thu, fri, sat, full names, a range like mon-fri, or *)`],
  ['day_of_week: bad list item', { allow: { or: [{ day_of_week: ['mon', 3] }] } }, `${W}.allow.or[0].day_of_week[1]: expected days like "mon-fri" or "mon,wed", got number`],
  ['day_of_week: empty list', { allow: { or: [{ day_of_week: [] }] } }, `${W}.allow.or[0].day_of_week: expected at least one day (mon, tue, ..., ranges like mon-fri, or *)`],
  ['day_of_week: empty string', { allow: { or: [{ day_of_week: '' }] } }, `${W}.allow.or[0].day_of_week: expected at least one day (mon, tue, ..., ranges like mon-fri, or *)`],
  ['day_of_week: object without days', { allow: { or: [{ day_of_week: { timezone: 'UTC' } }] } }, `${W}.allow.or[0].day_of_week: expected "days", e.g. days: mon-fri`],
  ['time_of_day: bad time', { allow: { or: [{ time_of_day: { after: '9am' } }] } }, `${W}.allow.or[0].time_of_day.after: expected a time of day like "09:00" or "17:30:00", got "9am"`],
  ['time_of_day: YAML 1.1 sexagesimal', { allow: { or: [{ time_of_day: { before: 540 } }] } }, `${W}.allow.or[0].time_of_day.before: expected a time of day like "09:00" or "17:30:00" (quote it in YAML), got number`],
  ['time_of_day: equal bounds', { allow: { or: [{ time_of_day: { after: '09:00', before: '09:00' } }] } }, `${W}.allow.or[0].time_of_day: "after" and "before" are equal (the range would be empty)`],
  ['time_of_day: 00:00 and 24:00 are equal', { allow: { or: [{ time_of_day: { after: '00:00', before: '24:00' } }] } }, `${W}.allow.or[0].time_of_day: "after" and "before" are equal (the range would be empty)`],
  ['time_of_day: bad zone', { allow: { or: [{ time_of_day: { timezone: 'CEST', after: '09:00' } }] } }, `${W}.allow.or[0].time_of_day.timezone: unknown time zone "CEST" (expected an IANA name like "Europe/Berlin" or "UTC")`],
  ['time_of_day: after 24:00', { allow: { or: [{ time_of_day: { after: '24:00' } }] } }, `${W}.allow.or[0].time_of_day.after: "24:00" is the end of the day; use it for "before" only`],
  ['client_certificate: bad SAN list item', { allow: { or: [{ client_certificate: { san_email: ['a@b.c', 7] } }] } }, `${W}.allow.or[0].client_certificate.san_email[1]: expected a string (or a list of them), got number`],
  ['time_of_day: unknown key', { allow: { or: [{ time_of_day: { from: '09:00' } }] } }, `${W}.allow.or[0].time_of_day: unknown key "from" (expected one of timezone, after, before)`],
  // Records.
  ['record: no type', { allow: { or: [{ record: { field: 'x', '=': 1 } }] } }, `${W}.allow.or[0].record.type: expected a record type name, got nothing`],
  ['record: no condition', { allow: { or: [{ record: { type: 'device' } }] } }, `${W}.allow.or[0].record: expected a condition: exists, =, <, <=, >, or >=`],
  ['record: comparison without field', { allow: { or: [{ record: { type: 'device', '=': 'x' } }] } }, `${W}.allow.or[0].record: "=" needs a "field" to compare`],
  ['record: bad key', { allow: { or: [{ record: { type: 'device', key: 'session', exists: true } }] } }, `${W}.allow.or[0].record.key: expected one of user, email, ip, host, got "session"`],
  ['record: unknown key', { allow: { or: [{ record: { type: 'device', equals: 1 } }] } }, `${W}.allow.or[0].record: unknown key "equals" (expected one of type, key, field, exists, =, <, <=, >, >=)`],
  ['record: exists not boolean', { allow: { or: [{ record: { type: 'device', exists: 'yes' } }] } }, `${W}.allow.or[0].record.exists: expected true or false, got string`],
  ['record: object operand', { allow: { or: [{ record: { type: 'device', field: 'a', '<': [1] } }] } }, `${W}.allow.or[0].record.<: expected a string, number or boolean, got a list`],
  ['record: empty field', { allow: { or: [{ record: { type: 'device', field: '', exists: true } }] } }, `${W}.allow.or[0].record.field: empty field path (expected a name, or names separated by "." or "/", e.g. org.team)`],
];

describe('parsePolicy refuses malformed policies with the exact path and message', () => {
  for (const [name, doc, want] of bad) {
    test(name, () => {
      assert.throws(
        () => parsePolicy(doc, W),
        (err: unknown) => {
          assert.ok(err instanceof PolicyError, `expected PolicyError, got ${String(err)}`);
          assert.equal(err.message, want);
          assert.equal(err.code, 'ERR_POLICY_INVALID');
          assert.ok(want.startsWith(`${err.path}: `), `path ${err.path} must prefix the message`);
          return true;
        },
      );
    });
  }
});

describe('parsePolicy accepts', () => {
  const good: [string, unknown, number][] = [
    ['one rule object', { allow: { or: [{ accept: true }] } }, 1],
    ['a list of rules', [{ allow: { or: [{ accept: true }] } }, { deny: { and: [{ reject: true }] } }], 2],
    ['an empty list (denies everything)', [], 0],
    ['all four operators in one rule', { allow: { and: [{ accept: true }], or: [], not: [{ reject: true }], nor: [{ reject: true }] } }, 4],
    ['allow and deny in one rule', { allow: { or: [{ accept: true }] }, deny: { or: [{ reject: true }] } }, 2],
    ['accept with an empty value (YAML "- accept:")', { allow: { or: [{ accept: null }] } }, 1],
  ];
  for (const [name, doc, operators] of good) {
    test(name, () => assert.equal(parsePolicy(doc, W).operators.length, operators));
  }

  test('operator and criterion paths follow the document', () => {
    const policy = parsePolicy([{ allow: { or: [{ email: 'a@b.c' }, { groups: 'x' }] } }, { deny: { not: [{ 'claim/org.team': 'y' }] } }], W);
    assert.deepEqual(
      policy.operators.map((o) => [o.path, o.action, o.operator, o.criteria.map((c) => [c.path, c.criterion, c.needsIdentity])]),
      [
        [`${W}[0].allow.or`, 'allow', 'or', [[`${W}[0].allow.or[0]`, 'email', true], [`${W}[0].allow.or[1]`, 'groups', true]]],
        [`${W}[1].deny.not`, 'deny', 'not', [[`${W}[1].deny.not[0]`, 'claim/org.team', true]]],
      ],
    );
    assert.equal(policy.where, W);
    assert.equal(policy.needsIdentity, true);
    assert.equal(parsePolicy({ allow: { or: [{ source_ip: '10.0.0.0/8' }] } }, W).needsIdentity, false);
  });

  test('the compiled policy is frozen', () => {
    const policy = parsePolicy({ allow: { or: [{ accept: true }] } }, W);
    assert.ok(Object.isFrozen(policy));
    assert.ok(Object.isFrozen(policy.operators));
    assert.ok(Object.isFrozen(policy.operators[0]));
  });
});
