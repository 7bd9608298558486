import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lintPolicy, parsePolicy } from './index.js';

const ok = { email: 'a@b.c' };

describe('lintPolicy', () => {
  const cases: [name: string, doc: unknown, want: [path: string, message: string][]][] = [
    ['a sound policy', [{ allow: { or: [ok] } }, { deny: { or: [{ groups: 'x' }] } }], []],
    ['a public route is not a warning', { allow: { or: [{ accept: true }] } }, []],
    ['reject in an and', { allow: { and: [ok, { reject: true }] }, deny: { or: [ok] } }, [
      ['p.allow.and', 'this allow rule can never match: "and" holds a criterion that never matches (such as reject or an empty "in" list)'],
      ['p', 'no allow rule can match: every request is denied'],
    ]],
    ['empty and', [{ allow: { and: [] } }, { allow: { or: [ok] } }], [
      ['p[0].allow.and', 'this allow rule can never match: an empty "and" list never matches'],
    ]],
    ['empty deny list', { allow: { or: [ok] }, deny: { or: [] } }, [
      ['p.deny.or', 'this deny rule can never match: an empty "or" list never matches'],
    ]],
    ['accept in a deny', { allow: { or: [ok] }, deny: { or: [{ accept: true }] } }, [
      ['p.deny.or', 'this deny rule always matches: every request is denied'],
    ]],
    ['not reject in a deny', { allow: { or: [ok] }, deny: { not: [{ reject: true }] } }, [
      ['p.deny.not', 'this deny rule always matches: every request is denied'],
    ]],
    ['nor with reject in a deny', { allow: { or: [ok] }, deny: { nor: [ok, { reject: true }] } }, [
      ['p.deny.nor', 'this deny rule always matches: every request is denied'],
    ]],
    ['accept in a not', { allow: { not: [ok, { accept: true }] } }, [
      ['p.allow.not', 'this allow rule can never match: "not" holds a criterion that always matches (such as accept)'],
      ['p', 'no allow rule can match: every request is denied'],
    ]],
    ['nor of accepts', { allow: { nor: [{ accept: true }] } }, [
      ['p.allow.nor', 'this allow rule can never match: every criterion in this "nor" always matches'],
      ['p', 'no allow rule can match: every request is denied'],
    ]],
    ['or of rejects', { allow: { or: [{ reject: true }, { reject: true }] } }, [
      ['p.allow.or', 'this allow rule can never match: every criterion in this "or" never matches'],
      ['p', 'no allow rule can match: every request is denied'],
    ]],
    ['empty in list', { allow: { or: [ok, { email: { in: [] } }] } }, [
      ['p.allow.or[1]', '"email" can never match (an empty list of values)'],
    ]],
    ['empty source_ip list', { allow: { and: [ok, { source_ip: [] }] } }, [
      ['p.allow.and', 'this allow rule can never match: "and" holds a criterion that never matches (such as reject or an empty "in" list)'],
      ['p.allow.and[1]', '"source_ip" can never match (an empty list of values)'],
      ['p', 'no allow rule can match: every request is denied'],
    ]],
    ['day_of_week * in a deny', { allow: { or: [ok] }, deny: { and: [{ day_of_week: '*' }] } }, [
      ['p.deny.and', 'this deny rule always matches: every request is denied'],
    ]],
    ['no allow rule', { deny: { or: [ok] } }, [['p', 'there is no allow rule: every request is denied']]],
    ['empty policy', [], [['p', 'there is no allow rule: every request is denied']]],
  ];
  for (const [name, doc, want] of cases) {
    test(name, () => {
      assert.deepEqual(lintPolicy(parsePolicy(doc, 'p')).map((w) => [w.path, w.message]), want);
    });
  }
  test('a policy that was not compiled is a TypeError', () => {
    assert.throws(() => lintPolicy({} as never), TypeError);
  });
});
