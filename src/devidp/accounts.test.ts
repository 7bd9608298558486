import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultGroups, normalizeEmail, parseGroups, resolveAccount, subjectForEmail } from './accounts.js';

test('normalizeEmail trims and lower-cases plausible addresses', () => {
  const good: [string, string][] = [
    ['alice@example.com', 'alice@example.com'],
    ['  Bob.Smith+tag@Sub.Example.COM ', 'bob.smith+tag@sub.example.com'],
    ['x@localhost', 'x@localhost'],
    ['user@127.0.0.1', 'user@127.0.0.1'],
  ];
  for (const [input, want] of good) assert.equal(normalizeEmail(input), want, input);
});

test('normalizeEmail refuses anything that could not be an address', () => {
  const bad = [
    '', ' ', 'plain', '@example.com', 'a@', 'a@@b.com', 'a b@c.com', 'a@b c.com', '<a>@b.com', 'a"b@c.com',
    "a'b@c.com", 'a,b@c.com', 'a;b@c.com', 'a@b..com', 'a..b@c.com', 'a@-b.com', 'a@b-.com', 'a@b_c.com',
    `${'a'.repeat(250)}@b.com`, 'a@b.com\r\nX-Injected: 1',
  ];
  for (const input of bad) assert.equal(normalizeEmail(input), undefined, JSON.stringify(input));
});

test('subjectForEmail is stable, distinct per email, and shaped dev-<16 base64url>', () => {
  const a = subjectForEmail('alice@example.com');
  assert.equal(a, subjectForEmail('alice@example.com'));
  assert.notEqual(a, subjectForEmail('alice@example.org'));
  assert.match(a, /^dev-[A-Za-z0-9_-]{16}$/);
});

test('defaultGroups: example.com is staff, nothing else is', () => {
  assert.deepEqual(defaultGroups('a@example.com'), ['everyone', 'staff']);
  for (const email of ['a@example.org', 'a@notexample.com', 'a@sub.example.com', 'example.com@evil.test']) {
    assert.deepEqual(defaultGroups(email), ['everyone'], email);
  }
});

test('parseGroups splits on commas and spaces, de-duplicates, refuses unusable names', () => {
  const cases: [string, string[] | undefined][] = [
    ['', []],
    [' , ', []],
    ['admins', ['admins']],
    ['admins, ops  ops,dev', ['admins', 'ops', 'dev']],
    ['team:platform/sre', ['team:platform/sre']],
    ['a"b', undefined],
    ["a'b", undefined],
    ['<b>', undefined],
    ['back\\slash', undefined],
    ['tab\u0007bell', undefined],
    ['x'.repeat(101), undefined],
    [Array.from({ length: 51 }, (_, i) => `g${i}`).join(','), undefined],
  ];
  for (const [input, want] of cases) assert.deepEqual(parseGroups(input), want, JSON.stringify(input).slice(0, 40));
});

test('resolveAccount: form groups, then configured groups, then the domain default', () => {
  const users = {
    'carol@corp.test': { sub: 'carol-1', name: 'Carol', groups: ['admins'] }, 'dan@example.com': { name: 'Dan' },
    'fay@example.com': { emailVerified: false }, 'gus@example.com': { emailVerified: null },
  };
  const cases = [
    { email: 'carol@corp.test', form: [], want: { sub: 'carol-1', name: 'Carol', groups: ['admins'], emailVerified: true } },
    { email: 'carol@corp.test', form: ['ops'], want: { sub: 'carol-1', name: 'Carol', groups: ['ops'], emailVerified: true } },
    { email: 'dan@example.com', form: [], want: { sub: subjectForEmail('dan@example.com'), name: 'Dan', groups: ['everyone', 'staff'], emailVerified: true } },
    { email: 'eve@else.test', form: [], want: { sub: subjectForEmail('eve@else.test'), name: 'eve', groups: ['everyone'], emailVerified: true } },
    // An unverified address (self-registration), and an IdP that does not send the claim at all.
    { email: 'fay@example.com', form: [], want: { sub: subjectForEmail('fay@example.com'), name: 'fay', groups: ['everyone', 'staff'], emailVerified: false } },
    { email: 'gus@example.com', form: [], want: { sub: subjectForEmail('gus@example.com'), name: 'gus', groups: ['everyone', 'staff'], emailVerified: null } },
  ];
  for (const c of cases) {
    assert.deepEqual(resolveAccount(c.email, users, c.form), { email: c.email, ...c.want }, `${c.email} ${c.form.join()}`);
  }
  const account = resolveAccount('carol@corp.test', users);
  account.groups.push('mutated');
  assert.deepEqual(users['carol@corp.test'].groups, ['admins'], 'the configured list is not shared');
});
