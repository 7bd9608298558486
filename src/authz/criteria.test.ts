/**
 * One table per criterion: a criterion document, an input, and the reason it
 * must yield (with `matched`). Each case compiles the criterion as the only
 * entry of `allow.or` and reads the criterion's trace.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluate, parsePolicy } from './index.js';
import { MONDAY_10_UTC, certificate, input } from './testkit.js';
import type { CriterionTrace, PolicyInput } from './types.js';

interface Case {
  readonly name: string;
  readonly criterion: Record<string, unknown>;
  readonly input: PolicyInput;
  /** Epoch ms or ISO instant; default Monday 2026-01-05 10:00 UTC. */
  readonly now?: number | string;
  readonly want: string;
}

function run(c: Case): CriterionTrace {
  const policy = parsePolicy({ allow: { or: [c.criterion] } }, 'policy');
  const now = c.now === undefined ? MONDAY_10_UTC : typeof c.now === 'string' ? Date.parse(c.now) : c.now;
  const decision = evaluate(policy, c.input, now);
  assert.equal(decision.trace.length, 1);
  return decision.trace[0]!;
}

const OK_REASONS = new Set([
  'accept', 'user-ok', 'email-ok', 'domain-ok', 'groups-ok', 'claim-ok', 'http-method-ok', 'http-path-ok',
  'source-ip-ok', 'cors-request', 'client-certificate-ok', 'invalid-client-certificate', 'date-ok',
  'day-of-week-ok', 'time-of-day-ok', 'record-ok',
]);

function table(title: string, cases: readonly Case[]): void {
  describe(title, () => {
    for (const c of cases) {
      test(`${c.name} → ${c.want}`, () => {
        const got = run(c);
        assert.equal(got.reason, c.want);
        // invalid_client_certificate also matches with client-certificate-required.
        const matched = OK_REASONS.has(c.want) || (c.want === 'client-certificate-required' && 'invalid_client_certificate' in c.criterion);
        assert.equal(got.matched, matched);
        assert.equal(got.path, 'policy.allow.or[0]');
        assert.equal(got.criterion, Object.keys(c.criterion)[0]);
      });
    }
  });
}

const anon = input({ identity: null });

table('accept / reject / authenticated_user', [
  { name: 'accept, signed in', criterion: { accept: true }, input: input(), want: 'accept' },
  { name: 'accept, anonymous', criterion: { accept: true }, input: anon, want: 'accept' },
  { name: 'accept with an empty value', criterion: { accept: null }, input: anon, want: 'accept' },
  { name: 'reject, signed in', criterion: { reject: true }, input: input(), want: 'reject' },
  { name: 'reject, anonymous', criterion: { reject: true }, input: anon, want: 'reject' },
  { name: 'authenticated_user, signed in', criterion: { authenticated_user: true }, input: input(), want: 'user-ok' },
  { name: 'authenticated_user, anonymous', criterion: { authenticated_user: true }, input: anon, want: 'user-unauthenticated' },
]);

table('email (string matchers, case-insensitive)', [
  { name: 'bare value = is', criterion: { email: 'ada@example.com' }, input: input(), want: 'email-ok' },
  { name: 'is, other case in policy', criterion: { email: { is: 'Ada@Example.COM' } }, input: input(), want: 'email-ok' },
  { name: 'is, other case in identity', criterion: { email: { is: 'ada@example.com' } }, input: input({ identity: { email: 'ADA@EXAMPLE.COM' } }), want: 'email-ok' },
  { name: 'is, different', criterion: { email: { is: 'bob@example.com' } }, input: input(), want: 'email-unauthorized' },
  { name: 'not, different', criterion: { email: { not: 'bob@example.com' } }, input: input(), want: 'email-ok' },
  { name: 'not, same', criterion: { email: { not: 'ADA@example.com' } }, input: input(), want: 'email-unauthorized' },
  { name: 'contains', criterion: { email: { contains: 'da@ex' } }, input: input(), want: 'email-ok' },
  { name: 'contains, no', criterion: { email: { contains: 'bob' } }, input: input(), want: 'email-unauthorized' },
  { name: 'starts_with', criterion: { email: { starts_with: 'ADA@' } }, input: input(), want: 'email-ok' },
  { name: 'starts_with, no', criterion: { email: { starts_with: 'bob@' } }, input: input(), want: 'email-unauthorized' },
  { name: 'ends_with', criterion: { email: { ends_with: '@example.com' } }, input: input(), want: 'email-ok' },
  { name: 'ends_with, look-alike domain', criterion: { email: { ends_with: '@example.com' } }, input: input({ identity: { email: 'ada@evilexample.com' } }), want: 'email-unauthorized' },
  { name: 'in', criterion: { email: { in: ['bob@example.com', 'Ada@example.com'] } }, input: input(), want: 'email-ok' },
  { name: 'in, no', criterion: { email: { in: ['bob@example.com'] } }, input: input(), want: 'email-unauthorized' },
  { name: 'in, empty list', criterion: { email: { in: [] } }, input: input(), want: 'email-unauthorized' },
  { name: 'not_in', criterion: { email: { not_in: ['bob@example.com'] } }, input: input(), want: 'email-ok' },
  { name: 'not_in, listed', criterion: { email: { not_in: ['ada@example.com'] } }, input: input(), want: 'email-unauthorized' },
  { name: 'not_in, empty list', criterion: { email: { not_in: [] } }, input: input(), want: 'email-ok' },
  { name: 'several matchers must all hold', criterion: { email: { starts_with: 'ada', ends_with: '@example.com' } }, input: input(), want: 'email-ok' },
  { name: 'several matchers, one fails', criterion: { email: { starts_with: 'ada', ends_with: '@example.org' } }, input: input(), want: 'email-unauthorized' },
  { name: 'anonymous', criterion: { email: 'ada@example.com' }, input: anon, want: 'user-unauthenticated' },
  { name: 'anonymous, negative matcher', criterion: { email: { not: 'bob@example.com' } }, input: anon, want: 'user-unauthenticated' },
]);

table('user (id, case-sensitive)', [
  { name: 'is', criterion: { user: 'u-123' }, input: input(), want: 'user-ok' },
  { name: 'is, other case', criterion: { user: 'U-123' }, input: input(), want: 'user-unauthorized' },
  { name: 'numeric id written as a number', criterion: { user: 123 }, input: input({ identity: { user: '123' } }), want: 'user-ok' },
  { name: 'starts_with', criterion: { user: { starts_with: 'u-' } }, input: input(), want: 'user-ok' },
  { name: 'not_in', criterion: { user: { not_in: ['u-1', 'u-2'] } }, input: input(), want: 'user-ok' },
  { name: 'anonymous', criterion: { user: 'u-123' }, input: anon, want: 'user-unauthenticated' },
]);

table('domain', [
  { name: 'bare value', criterion: { domain: 'example.com' }, input: input(), want: 'domain-ok' },
  { name: 'case-insensitive', criterion: { domain: { is: 'EXAMPLE.com' } }, input: input({ identity: { email: 'ada@Example.COM' } }), want: 'domain-ok' },
  { name: 'subdomain is not the domain', criterion: { domain: 'example.com' }, input: input({ identity: { email: 'ada@mail.example.com' } }), want: 'domain-unauthorized' },
  { name: 'ends_with for subdomains', criterion: { domain: { ends_with: '.example.com' } }, input: input({ identity: { email: 'ada@mail.example.com' } }), want: 'domain-ok' },
  { name: 'last @ decides', criterion: { domain: 'example.com' }, input: input({ identity: { email: '"a@evil.com"@example.com' } }), want: 'domain-ok' },
  { name: 'no email at all', criterion: { domain: 'example.com' }, input: input({ identity: { email: '' } }), want: 'domain-unauthorized' },
  { name: 'in', criterion: { domain: { in: ['example.org', 'example.com'] } }, input: input(), want: 'domain-ok' },
  { name: 'anonymous', criterion: { domain: 'example.com' }, input: anon, want: 'user-unauthenticated' },
]);

table('groups (list matchers)', [
  { name: 'bare value = has', criterion: { groups: 'admins' }, input: input({ identity: { groups: ['eng', 'admins'] } }), want: 'groups-ok' },
  { name: 'has', criterion: { groups: { has: 'admins' } }, input: input({ identity: { groups: ['admins'] } }), want: 'groups-ok' },
  { name: 'has, missing', criterion: { groups: { has: 'admins' } }, input: input({ identity: { groups: ['eng'] } }), want: 'groups-unauthorized' },
  { name: 'has, case-sensitive', criterion: { groups: { has: 'Admins' } }, input: input({ identity: { groups: ['admins'] } }), want: 'groups-unauthorized' },
  { name: 'has, no groups', criterion: { groups: { has: 'admins' } }, input: input({ identity: { groups: [] } }), want: 'groups-unauthorized' },
  { name: 'is, only that group', criterion: { groups: { is: 'admins' } }, input: input({ identity: { groups: ['admins'] } }), want: 'groups-ok' },
  { name: 'is, more groups', criterion: { groups: { is: 'admins' } }, input: input({ identity: { groups: ['admins', 'eng'] } }), want: 'groups-unauthorized' },
  { name: 'is, no groups', criterion: { groups: { is: 'admins' } }, input: input({ identity: { groups: [] } }), want: 'groups-unauthorized' },
  { name: 'exclude, not a member', criterion: { groups: { exclude: 'contractors' } }, input: input({ identity: { groups: ['eng'] } }), want: 'groups-ok' },
  { name: 'exclude, a member', criterion: { groups: { exclude: 'contractors' } }, input: input({ identity: { groups: ['eng', 'contractors'] } }), want: 'groups-unauthorized' },
  { name: 'exclude, no groups', criterion: { groups: { exclude: 'contractors' } }, input: input({ identity: { groups: [] } }), want: 'groups-ok' },
  { name: 'has and exclude together', criterion: { groups: { has: 'eng', exclude: 'contractors' } }, input: input({ identity: { groups: ['eng'] } }), want: 'groups-ok' },
  { name: 'anonymous', criterion: { groups: 'admins' }, input: anon, want: 'user-unauthenticated' },
  { name: 'anonymous, exclude', criterion: { groups: { exclude: 'contractors' } }, input: anon, want: 'user-unauthenticated' },
]);

const claims = {
  department: 'eng',
  level: 3,
  verified: true,
  roles: ['reader', 'writer'],
  empty: [],
  nothing: null,
  org: { team: 'platform', tags: ['a', 'b'], deep: { er: 'x' } },
  'org.flat': 'literal-key',
  'https://example.com/roles': ['ops'],
};
const withClaims = input({ identity: { claims } });

table('claim/* (nested paths; list matchers on arrays, string matchers on scalars)', [
  { name: 'scalar, bare = has', criterion: { 'claim/department': 'eng' }, input: withClaims, want: 'claim-ok' },
  { name: 'scalar, bare, different', criterion: { 'claim/department': 'sales' }, input: withClaims, want: 'claim-unauthorized' },
  { name: 'scalar, is', criterion: { 'claim/department': { is: 'eng' } }, input: withClaims, want: 'claim-ok' },
  { name: 'scalar, not', criterion: { 'claim/department': { not: 'sales' } }, input: withClaims, want: 'claim-ok' },
  { name: 'scalar, starts_with', criterion: { 'claim/department': { starts_with: 'en' } }, input: withClaims, want: 'claim-ok' },
  { name: 'scalar, in', criterion: { 'claim/department': { in: ['eng', 'ops'] } }, input: withClaims, want: 'claim-ok' },
  { name: 'scalar, not_in', criterion: { 'claim/department': { not_in: ['eng'] } }, input: withClaims, want: 'claim-unauthorized' },
  { name: 'number claim, number value', criterion: { 'claim/level': 3 }, input: withClaims, want: 'claim-ok' },
  { name: 'number claim, string value', criterion: { 'claim/level': '3' }, input: withClaims, want: 'claim-ok' },
  { name: 'boolean claim', criterion: { 'claim/verified': true }, input: withClaims, want: 'claim-ok' },
  { name: 'boolean claim, other value', criterion: { 'claim/verified': false }, input: withClaims, want: 'claim-unauthorized' },
  { name: 'array, has', criterion: { 'claim/roles': { has: 'writer' } }, input: withClaims, want: 'claim-ok' },
  { name: 'array, has, missing', criterion: { 'claim/roles': { has: 'admin' } }, input: withClaims, want: 'claim-unauthorized' },
  { name: 'array, is (two values)', criterion: { 'claim/roles': { is: 'reader' } }, input: withClaims, want: 'claim-unauthorized' },
  { name: 'array, exclude', criterion: { 'claim/roles': { exclude: 'admin' } }, input: withClaims, want: 'claim-ok' },
  { name: 'array, exclude, present', criterion: { 'claim/roles': { exclude: 'reader' } }, input: withClaims, want: 'claim-unauthorized' },
  { name: 'array, starts_with any element', criterion: { 'claim/roles': { starts_with: 'wri' } }, input: withClaims, want: 'claim-ok' },
  { name: 'array, in any element', criterion: { 'claim/roles': { in: ['admin', 'reader'] } }, input: withClaims, want: 'claim-ok' },
  { name: 'array, not_in: no element listed', criterion: { 'claim/roles': { not_in: ['admin'] } }, input: withClaims, want: 'claim-ok' },
  { name: 'array, not_in: one element listed', criterion: { 'claim/roles': { not_in: ['writer'] } }, input: withClaims, want: 'claim-unauthorized' },
  { name: 'empty array, has', criterion: { 'claim/empty': 'x' }, input: withClaims, want: 'claim-unauthorized' },
  { name: 'empty array, exclude', criterion: { 'claim/empty': { exclude: 'x' } }, input: withClaims, want: 'claim-ok' },
  { name: 'nested with dot', criterion: { 'claim/org.team': 'platform' }, input: withClaims, want: 'claim-ok' },
  { name: 'nested with slash', criterion: { 'claim/org/team': 'platform' }, input: withClaims, want: 'claim-ok' },
  { name: 'nested three deep', criterion: { 'claim/org.deep/er': 'x' }, input: withClaims, want: 'claim-ok' },
  { name: 'nested array', criterion: { 'claim/org.tags': { has: 'b' } }, input: withClaims, want: 'claim-ok' },
  { name: 'literal key with a dot wins', criterion: { 'claim/org.flat': 'literal-key' }, input: withClaims, want: 'claim-ok' },
  { name: 'namespaced URL claim', criterion: { 'claim/https://example.com/roles': 'ops' }, input: withClaims, want: 'claim-ok' },
  { name: 'object value never equals', criterion: { 'claim/org': 'platform' }, input: withClaims, want: 'claim-unauthorized' },
  // Missing claim: positive matchers are false, negative ones true (the user does not have the value).
  { name: 'missing, has', criterion: { 'claim/missing': 'x' }, input: withClaims, want: 'claim-unauthorized' },
  { name: 'missing, is', criterion: { 'claim/missing': { is: 'x' } }, input: withClaims, want: 'claim-unauthorized' },
  { name: 'missing, contains', criterion: { 'claim/missing': { contains: 'x' } }, input: withClaims, want: 'claim-unauthorized' },
  { name: 'missing, in', criterion: { 'claim/missing': { in: ['x'] } }, input: withClaims, want: 'claim-unauthorized' },
  { name: 'missing, exclude', criterion: { 'claim/missing': { exclude: 'x' } }, input: withClaims, want: 'claim-ok' },
  { name: 'missing, not', criterion: { 'claim/missing': { not: 'x' } }, input: withClaims, want: 'claim-ok' },
  { name: 'missing, not_in', criterion: { 'claim/missing': { not_in: ['x'] } }, input: withClaims, want: 'claim-ok' },
  { name: 'null is missing', criterion: { 'claim/nothing': 'null' }, input: withClaims, want: 'claim-unauthorized' },
  { name: 'missing nested parent', criterion: { 'claim/nope.team': 'platform' }, input: withClaims, want: 'claim-unauthorized' },
  { name: 'path through a scalar', criterion: { 'claim/department.x': 'eng' }, input: withClaims, want: 'claim-unauthorized' },
  { name: 'prototype keys are not claims', criterion: { 'claim/constructor': { exclude: 'x' } }, input: withClaims, want: 'claim-ok' },
  { name: 'prototype keys are not claims (has)', criterion: { 'claim/toString': { contains: 'function' } }, input: withClaims, want: 'claim-unauthorized' },
  { name: 'anonymous', criterion: { 'claim/department': 'eng' }, input: anon, want: 'user-unauthenticated' },
  { name: 'anonymous, exclude', criterion: { 'claim/department': { exclude: 'eng' } }, input: anon, want: 'user-unauthenticated' },
]);

table('http_method / http_path', [
  { name: 'method is', criterion: { http_method: 'GET' }, input: input(), want: 'http-method-ok' },
  { name: 'method written lower-case', criterion: { http_method: 'get' }, input: input(), want: 'http-method-ok' },
  { name: 'method in', criterion: { http_method: { in: ['GET', 'HEAD'] } }, input: input({ request: { method: 'HEAD' } }), want: 'http-method-ok' },
  { name: 'method not', criterion: { http_method: { not: 'POST' } }, input: input({ request: { method: 'POST' } }), want: 'http-method-unauthorized' },
  { name: 'method, anonymous is fine', criterion: { http_method: 'GET' }, input: anon, want: 'http-method-ok' },
  { name: 'path is', criterion: { http_path: '/admin' }, input: input({ request: { path: '/admin' } }), want: 'http-path-ok' },
  { name: 'path is, with trailing slash', criterion: { http_path: '/admin' }, input: input({ request: { path: '/admin/' } }), want: 'http-path-unauthorized' },
  { name: 'path starts_with', criterion: { http_path: { starts_with: '/api/' } }, input: input({ request: { path: '/api/v1/x' } }), want: 'http-path-ok' },
  { name: 'path is case-sensitive', criterion: { http_path: { starts_with: '/API/' } }, input: input({ request: { path: '/api/v1' } }), want: 'http-path-unauthorized' },
  { name: 'path ends_with', criterion: { http_path: { ends_with: '.json' } }, input: input({ request: { path: '/a/b.json' } }), want: 'http-path-ok' },
  { name: 'path contains', criterion: { http_path: { contains: '/private/' } }, input: input({ request: { path: '/a/private/b' } }), want: 'http-path-ok' },
  { name: 'path not_in', criterion: { http_path: { not_in: ['/health'] } }, input: input({ request: { path: '/x' } }), want: 'http-path-ok' },
  // A path spelt differently must not slip past a rule (RFC 3986 §6.2.2 normalization).
  { name: 'path percent-encoded', criterion: { http_path: { starts_with: '/admin' } }, input: input({ request: { path: '/%61dmin/users' } }), want: 'http-path-ok' },
  { name: 'path with doubled slash', criterion: { http_path: { starts_with: '/admin' } }, input: input({ request: { path: '//admin' } }), want: 'http-path-ok' },
  { name: 'path with dot segments', criterion: { http_path: '/admin' }, input: input({ request: { path: '/public/../admin' } }), want: 'http-path-ok' },
  { name: 'path with encoded dot segments', criterion: { http_path: '/admin' }, input: input({ request: { path: '/public/%2e%2e/admin' } }), want: 'http-path-ok' },
  { name: 'encoded slash is not a separator', criterion: { http_path: { starts_with: '/admin/' } }, input: input({ request: { path: '/admin%2Fusers' } }), want: 'http-path-unauthorized' },
]);

table('source_ip (IPv4, IPv6, CIDR, lists, mapped IPv4)', [
  { name: 'single address', criterion: { source_ip: '10.1.2.3' }, input: input({ request: { ip: '10.1.2.3' } }), want: 'source-ip-ok' },
  { name: 'single address, other', criterion: { source_ip: '10.1.2.3' }, input: input({ request: { ip: '10.1.2.4' } }), want: 'source-ip-unauthorized' },
  { name: 'IPv4 CIDR', criterion: { source_ip: '10.0.0.0/8' }, input: input({ request: { ip: '10.200.0.1' } }), want: 'source-ip-ok' },
  { name: 'IPv4 CIDR, outside', criterion: { source_ip: '10.0.0.0/8' }, input: input({ request: { ip: '192.168.0.1' } }), want: 'source-ip-unauthorized' },
  { name: 'mapped IPv4 client, IPv4 CIDR', criterion: { source_ip: '10.0.0.0/8' }, input: input({ request: { ip: '::ffff:10.9.8.7' } }), want: 'source-ip-ok' },
  { name: 'mapped IPv4 client, outside', criterion: { source_ip: '10.0.0.0/8' }, input: input({ request: { ip: '::ffff:11.9.8.7' } }), want: 'source-ip-unauthorized' },
  { name: 'IPv6 CIDR', criterion: { source_ip: '2001:db8::/32' }, input: input({ request: { ip: '2001:db8:1::5' } }), want: 'source-ip-ok' },
  { name: 'IPv6 CIDR, IPv4 client', criterion: { source_ip: '2001:db8::/32' }, input: input({ request: { ip: '10.0.0.1' } }), want: 'source-ip-unauthorized' },
  { name: 'IPv6 loopback', criterion: { source_ip: '::1' }, input: input({ request: { ip: '::1' } }), want: 'source-ip-ok' },
  { name: 'IPv6 with zone id', criterion: { source_ip: 'fe80::/10' }, input: input({ request: { ip: 'fe80::1%eth0' } }), want: 'source-ip-ok' },
  { name: 'list, second entry', criterion: { source_ip: ['10.0.0.0/8', '2001:db8::/32'] }, input: input({ request: { ip: '2001:db8::1' } }), want: 'source-ip-ok' },
  { name: 'list, no entry', criterion: { source_ip: ['10.0.0.0/8', '172.16.0.0/12'] }, input: input({ request: { ip: '172.32.0.1' } }), want: 'source-ip-unauthorized' },
  { name: 'empty list', criterion: { source_ip: [] }, input: input({ request: { ip: '10.0.0.1' } }), want: 'source-ip-unauthorized' },
  { name: 'unparseable client address', criterion: { source_ip: '0.0.0.0/0' }, input: input({ request: { ip: 'unknown' } }), want: 'source-ip-unauthorized' },
  { name: 'empty client address', criterion: { source_ip: '::/0' }, input: input({ request: { ip: '' } }), want: 'source-ip-unauthorized' },
  { name: 'anonymous is fine', criterion: { source_ip: '127.0.0.0/8' }, input: anon, want: 'source-ip-ok' },
]);

describe('source_ip memo', () => {
  test('alternating client addresses get their own answers', () => {
    const policy = parsePolicy({ allow: { or: [{ source_ip: '10.0.0.0/8' }] } }, 'p');
    for (let i = 0; i < 4; i++) {
      assert.equal(evaluate(policy, input({ request: { ip: '10.0.0.1' } }), 0).result, 'allow');
      assert.equal(evaluate(policy, input({ request: { ip: '11.0.0.1' } }), 0).result, 'deny');
    }
  });
});

table('cors_preflight', [
  { name: 'preflight', criterion: { cors_preflight: true }, input: input({ request: { method: 'OPTIONS', corsPreflight: true } }), want: 'cors-request' },
  { name: 'plain OPTIONS', criterion: { cors_preflight: true }, input: input({ request: { method: 'OPTIONS' } }), want: 'non-cors-request' },
  { name: 'GET', criterion: { cors_preflight: true }, input: input(), want: 'non-cors-request' },
  { name: 'anonymous preflight', criterion: { cors_preflight: true }, input: input({ identity: null, request: { corsPreflight: true } }), want: 'cors-request' },
]);

const fp = 'ab'.repeat(32);
const fpColons = Array.from({ length: 32 }, () => 'AB').join(':');
const spki = Buffer.alloc(32, 7).toString('base64');
const spkiUrl = Buffer.alloc(32, 7).toString('base64url');
const cert = (o: Parameters<typeof certificate>[0] = {}) => input({ request: { clientCertificate: certificate(o) } });

table('client_certificate', [
  { name: 'fingerprint', criterion: { client_certificate: { fingerprint: fp } }, input: cert(), want: 'client-certificate-ok' },
  { name: 'fingerprint, colon form', criterion: { client_certificate: { fingerprint: fpColons } }, input: cert(), want: 'client-certificate-ok' },
  { name: 'fingerprint list', criterion: { client_certificate: { fingerprint: ['cd'.repeat(32), fp] } }, input: cert(), want: 'client-certificate-ok' },
  { name: 'fingerprint, other', criterion: { client_certificate: { fingerprint: 'cd'.repeat(32) } }, input: cert(), want: 'client-certificate-unauthorized' },
  { name: 'spki_hash', criterion: { client_certificate: { spki_hash: spki } }, input: cert(), want: 'client-certificate-ok' },
  { name: 'spki_hash, base64url written', criterion: { client_certificate: { spki_hash: spkiUrl } }, input: cert(), want: 'client-certificate-ok' },
  { name: 'spki_hash, other', criterion: { client_certificate: { spki_hash: Buffer.alloc(32, 8).toString('base64') } }, input: cert(), want: 'client-certificate-unauthorized' },
  { name: 'san_email', criterion: { client_certificate: { san_email: 'ada@example.com' } }, input: cert({ sanEmail: ['x@y.z', 'Ada@Example.com'] }), want: 'client-certificate-ok' },
  { name: 'san_email list', criterion: { client_certificate: { san_email: ['bob@example.com', 'ada@example.com'] } }, input: cert({ sanEmail: ['ada@example.com'] }), want: 'client-certificate-ok' },
  { name: 'san_email, none', criterion: { client_certificate: { san_email: 'ada@example.com' } }, input: cert(), want: 'client-certificate-unauthorized' },
  { name: 'san_dns', criterion: { client_certificate: { san_dns: 'device-1.corp.example' } }, input: cert({ sanDns: ['DEVICE-1.corp.example'] }), want: 'client-certificate-ok' },
  { name: 'san_dns matcher', criterion: { client_certificate: { san_dns: { ends_with: '.corp.example' } } }, input: cert({ sanDns: ['device-1.corp.example'] }), want: 'client-certificate-ok' },
  { name: 'san_uri', criterion: { client_certificate: { san_uri: 'spiffe://example/ns/app' } }, input: cert({ sanUri: ['spiffe://example/ns/app'] }), want: 'client-certificate-ok' },
  { name: 'san_uri is case-sensitive', criterion: { client_certificate: { san_uri: 'spiffe://example/NS/app' } }, input: cert({ sanUri: ['spiffe://example/ns/app'] }), want: 'client-certificate-unauthorized' },
  { name: 'all conditions must hold', criterion: { client_certificate: { fingerprint: fp, san_dns: 'x' } }, input: cert({ sanDns: ['y'] }), want: 'client-certificate-unauthorized' },
  { name: 'not presented', criterion: { client_certificate: { fingerprint: fp } }, input: cert({ presented: false }), want: 'client-certificate-required' },
  { name: 'no mTLS at all', criterion: { client_certificate: { fingerprint: fp } }, input: input(), want: 'client-certificate-required' },
  { name: 'presented but not chained to the CA', criterion: { client_certificate: { fingerprint: fp } }, input: cert({ valid: false }), want: 'client-certificate-unauthorized' },
]);

table('invalid_client_certificate', [
  { name: 'valid certificate', criterion: { invalid_client_certificate: true }, input: cert(), want: 'valid-client-certificate-or-none-required' },
  { name: 'no downstream CA configured', criterion: { invalid_client_certificate: true }, input: input(), want: 'valid-client-certificate-or-none-required' },
  { name: 'none presented', criterion: { invalid_client_certificate: true }, input: cert({ presented: false }), want: 'client-certificate-required' },
  { name: 'invalid certificate', criterion: { invalid_client_certificate: true }, input: cert({ valid: false }), want: 'invalid-client-certificate' },
]);

table('date (after inclusive, before exclusive)', [
  { name: 'after, later', criterion: { date: { after: '2026-01-01T00:00:00Z' } }, input: input(), want: 'date-ok' },
  { name: 'after, at the instant', criterion: { date: { after: '2026-01-05T10:00:00Z' } }, input: input(), want: 'date-ok' },
  { name: 'after, earlier', criterion: { date: { after: '2026-01-05T10:00:01Z' } }, input: input(), want: 'date-unauthorized' },
  { name: 'before, earlier', criterion: { date: { before: '2026-02-01' } }, input: input(), want: 'date-ok' },
  { name: 'before, at the instant', criterion: { date: { before: '2026-01-05T10:00:00Z' } }, input: input(), want: 'date-unauthorized' },
  { name: 'window', criterion: { date: { after: '2026-01-01', before: '2026-01-06' } }, input: input(), want: 'date-ok' },
  { name: 'window, past', criterion: { date: { after: '2025-01-01', before: '2025-12-31' } }, input: input(), want: 'date-unauthorized' },
  { name: 'with offset', criterion: { date: { after: '2026-01-05T11:30:00+01:30' } }, input: input(), want: 'date-ok' },
  { name: 'date-only in a zone', criterion: { date: { after: '2026-01-05', timezone: 'America/New_York' } }, input: input(), now: '2026-01-05T04:59:59Z', want: 'date-unauthorized' },
  { name: 'date-only in a zone, local midnight', criterion: { date: { after: '2026-01-05', timezone: 'America/New_York' } }, input: input(), now: '2026-01-05T05:00:00Z', want: 'date-ok' },
  { name: 'a Date object from a YAML timestamp', criterion: { date: { before: new Date('2026-01-05T10:00:01Z') } }, input: input(), want: 'date-ok' },
]);

table('day_of_week', [
  { name: 'mon on a Monday', criterion: { day_of_week: 'mon' }, input: input(), want: 'day-of-week-ok' },
  { name: 'tue on a Monday', criterion: { day_of_week: 'tue' }, input: input(), want: 'day-of-week-unauthorized' },
  { name: 'mon,wed', criterion: { day_of_week: 'mon,wed' }, input: input(), now: '2026-01-07T12:00:00Z', want: 'day-of-week-ok' },
  { name: 'mon-fri on Saturday', criterion: { day_of_week: 'mon-fri' }, input: input(), now: '2026-01-10T12:00:00Z', want: 'day-of-week-unauthorized' },
  { name: 'mon-fri on Friday', criterion: { day_of_week: 'mon-fri' }, input: input(), now: '2026-01-09T23:59:59Z', want: 'day-of-week-ok' },
  { name: 'sat-sun on Sunday', criterion: { day_of_week: 'sat-sun' }, input: input(), now: '2026-01-11T00:00:00Z', want: 'day-of-week-ok' },
  { name: '*', criterion: { day_of_week: '*' }, input: input(), want: 'day-of-week-ok' },
  { name: 'list with full names', criterion: { day_of_week: ['Tuesday', 'monday'] }, input: input(), want: 'day-of-week-ok' },
  // Monday 23:30 UTC is already Tuesday in Berlin.
  { name: 'zone moves the day', criterion: { day_of_week: { days: 'tue', timezone: 'Europe/Berlin' } }, input: input(), now: '2026-01-05T23:30:00Z', want: 'day-of-week-ok' },
  { name: 'UTC by default', criterion: { day_of_week: 'tue' }, input: input(), now: '2026-01-05T23:30:00Z', want: 'day-of-week-unauthorized' },
  { name: 'zone west of UTC', criterion: { day_of_week: { days: 'sun', timezone: 'America/Los_Angeles' } }, input: input(), now: '2026-01-05T07:59:59Z', want: 'day-of-week-ok' },
]);

const office = { timezone: 'Europe/Berlin', after: '09:00', before: '17:00' };
const night = { timezone: 'Europe/Berlin', after: '22:00', before: '06:00' };
table('time_of_day (zones, DST, midnight)', [
  { name: 'inside, winter (UTC+1)', criterion: { time_of_day: office }, input: input(), now: '2026-01-05T08:00:00Z', want: 'time-of-day-ok' },
  { name: 'before opening, winter', criterion: { time_of_day: office }, input: input(), now: '2026-01-05T07:59:59Z', want: 'time-of-day-unauthorized' },
  { name: 'closing instant is out', criterion: { time_of_day: office }, input: input(), now: '2026-01-05T16:00:00Z', want: 'time-of-day-unauthorized' },
  { name: 'inside, summer (UTC+2)', criterion: { time_of_day: office }, input: input(), now: '2026-07-06T07:00:00Z', want: 'time-of-day-ok' },
  { name: 'summer: 08:00 UTC+1 would be wrong', criterion: { time_of_day: office }, input: input(), now: '2026-07-06T06:30:00Z', want: 'time-of-day-unauthorized' },
  // Spring forward 2026-03-29: 02:00 local jumps to 03:00.
  { name: 'DST day: 09:00 local after spring forward', criterion: { time_of_day: office }, input: input(), now: '2026-03-29T07:00:00Z', want: 'time-of-day-ok' },
  { name: 'DST day: 08:59 local after spring forward', criterion: { time_of_day: office }, input: input(), now: '2026-03-29T06:59:00Z', want: 'time-of-day-unauthorized' },
  { name: 'skipped hour: 01:59:59 UTC+1', criterion: { time_of_day: { timezone: 'Europe/Berlin', after: '02:00', before: '03:00' } }, input: input(), now: '2026-03-29T00:59:59Z', want: 'time-of-day-unauthorized' },
  { name: 'skipped hour never happens: 03:00 UTC+2', criterion: { time_of_day: { timezone: 'Europe/Berlin', after: '02:00', before: '03:00' } }, input: input(), now: '2026-03-29T01:00:00Z', want: 'time-of-day-unauthorized' },
  // Fall back 2026-10-25: 02:00-03:00 local happens twice.
  { name: 'repeated hour, first pass', criterion: { time_of_day: { timezone: 'Europe/Berlin', after: '02:00', before: '03:00' } }, input: input(), now: '2026-10-25T00:30:00Z', want: 'time-of-day-ok' },
  { name: 'repeated hour, second pass', criterion: { time_of_day: { timezone: 'Europe/Berlin', after: '02:00', before: '03:00' } }, input: input(), now: '2026-10-25T01:30:00Z', want: 'time-of-day-ok' },
  { name: 'US zone across its own DST change', criterion: { time_of_day: { timezone: 'America/New_York', after: '09:00', before: '10:00' } }, input: input(), now: '2026-03-09T13:30:00Z', want: 'time-of-day-ok' },
  { name: 'midnight-crossing range, late', criterion: { time_of_day: night }, input: input(), now: '2026-01-05T22:30:00Z', want: 'time-of-day-ok' },
  { name: 'midnight-crossing range, early', criterion: { time_of_day: night }, input: input(), now: '2026-01-06T04:59:00Z', want: 'time-of-day-ok' },
  { name: 'midnight-crossing range, midday', criterion: { time_of_day: night }, input: input(), now: '2026-01-06T11:00:00Z', want: 'time-of-day-unauthorized' },
  { name: 'midnight-crossing, at 22:00 local', criterion: { time_of_day: night }, input: input(), now: '2026-01-05T21:00:00Z', want: 'time-of-day-ok' },
  { name: 'midnight-crossing, at 06:00 local', criterion: { time_of_day: night }, input: input(), now: '2026-01-06T05:00:00Z', want: 'time-of-day-unauthorized' },
  { name: 'after only', criterion: { time_of_day: { after: '18:00' } }, input: input(), now: '2026-01-05T23:59:59Z', want: 'time-of-day-ok' },
  { name: 'before only', criterion: { time_of_day: { before: '06:00' } }, input: input(), now: '2026-01-05T06:00:00Z', want: 'time-of-day-unauthorized' },
  { name: 'before 24:00', criterion: { time_of_day: { after: '20:00', before: '24:00' } }, input: input(), now: '2026-01-05T23:59:59Z', want: 'time-of-day-ok' },
  { name: 'seconds precision', criterion: { time_of_day: { after: '10:00:30' } }, input: input(), now: '2026-01-05T10:00:29Z', want: 'time-of-day-unauthorized' },
  { name: 'half-hour zone', criterion: { time_of_day: { timezone: 'Asia/Kolkata', after: '15:30', before: '15:31' } }, input: input(), now: '2026-01-05T10:00:00Z', want: 'time-of-day-ok' },
]);

const records = {
  device: {
    'u-123': { status: 'healthy', score: 7, scan: { critical: 0, when: '2026-01-04' }, tags: ['managed'] },
    'u-9': { status: 'vulnerable', score: '12', scan: { critical: 3 } },
  },
  network: { '10.1.2.3': { zone: 'office' } },
  tenant: { 'app.example.com': { plan: 'gold' } },
  person: { 'ada@example.com': { trained: true } },
};
const rec = (identity: Parameters<typeof input>[0] extends infer O ? O extends { identity?: infer I } ? I : never : never = {}, request = {}) =>
  input({ identity, request, records });

table('record (external data)', [
  { name: '= on a field', criterion: { record: { type: 'device', field: 'status', '=': 'healthy' } }, input: rec(), want: 'record-ok' },
  { name: '= on a field, other value', criterion: { record: { type: 'device', field: 'status', '=': 'healthy' } }, input: rec({ user: 'u-9' }), want: 'record-unauthorized' },
  { name: '< number', criterion: { record: { type: 'device', field: 'score', '<': 10 } }, input: rec(), want: 'record-ok' },
  { name: '< number, numeric string in record', criterion: { record: { type: 'device', field: 'score', '<': 10 } }, input: rec({ user: 'u-9' }), want: 'record-unauthorized' },
  { name: '<= boundary', criterion: { record: { type: 'device', field: 'score', '<=': 7 } }, input: rec(), want: 'record-ok' },
  { name: '> boundary', criterion: { record: { type: 'device', field: 'score', '>': 7 } }, input: rec(), want: 'record-unauthorized' },
  { name: '>= string vs number compares numerically', criterion: { record: { type: 'device', field: 'score', '>=': '7' } }, input: rec(), want: 'record-ok' },
  { name: 'dotted field', criterion: { record: { type: 'device', field: 'scan.critical', '=': 0 } }, input: rec(), want: 'record-ok' },
  { name: 'dotted field, nonzero', criterion: { record: { type: 'device', field: 'scan.critical', '=': 0 } }, input: rec({ user: 'u-9' }), want: 'record-unauthorized' },
  { name: 'string comparison (ISO dates)', criterion: { record: { type: 'device', field: 'scan.when', '>=': '2026-01-01' } }, input: rec(), want: 'record-ok' },
  { name: 'range: two comparisons', criterion: { record: { type: 'device', field: 'score', '>': 5, '<': 10 } }, input: rec(), want: 'record-ok' },
  { name: '= on an array field: contains', criterion: { record: { type: 'device', field: 'tags', '=': 'managed' } }, input: rec(), want: 'record-ok' },
  { name: 'incomparable types', criterion: { record: { type: 'device', field: 'status', '<': 5 } }, input: rec(), want: 'record-unauthorized' },
  { name: 'record exists', criterion: { record: { type: 'device', exists: true } }, input: rec(), want: 'record-ok' },
  { name: 'record missing, exists: true', criterion: { record: { type: 'device', exists: true } }, input: rec({ user: 'u-nobody' }), want: 'record-unauthorized' },
  { name: 'record missing, exists: false', criterion: { record: { type: 'device', exists: false } }, input: rec({ user: 'u-nobody' }), want: 'record-ok' },
  { name: 'field exists', criterion: { record: { type: 'device', field: 'scan.when', exists: true } }, input: rec(), want: 'record-ok' },
  { name: 'field missing, exists: false', criterion: { record: { type: 'device', field: 'scan.when', exists: false } }, input: rec({ user: 'u-9' }), want: 'record-ok' },
  { name: 'record missing, comparison', criterion: { record: { type: 'device', field: 'score', '<': 10 } }, input: rec({ user: 'u-nobody' }), want: 'record-unauthorized' },
  { name: 'unknown type', criterion: { record: { type: 'nope', exists: true } }, input: rec(), want: 'record-unauthorized' },
  { name: 'no records function in input', criterion: { record: { type: 'device', exists: true } }, input: input(), want: 'record-unauthorized' },
  { name: 'key: ip', criterion: { record: { type: 'network', key: 'ip', field: 'zone', '=': 'office' } }, input: rec({}, { ip: '10.1.2.3' }), want: 'record-ok' },
  { name: 'key: ip, anonymous is fine', criterion: { record: { type: 'network', key: 'ip', field: 'zone', '=': 'office' } }, input: input({ identity: null, request: { ip: '10.1.2.3' }, records }), want: 'record-ok' },
  { name: 'key: host', criterion: { record: { type: 'tenant', key: 'host', field: 'plan', '=': 'gold' } }, input: rec(), want: 'record-ok' },
  { name: 'key: email (lower-cased)', criterion: { record: { type: 'person', key: 'email', field: 'trained', '=': true } }, input: rec({ email: 'ADA@example.com' }), want: 'record-ok' },
  { name: 'key: user, anonymous', criterion: { record: { type: 'device', exists: false } }, input: input({ identity: null, records }), want: 'user-unauthenticated' },
]);

describe('record lookups', () => {
  test('recordTypes and recordLookups list what the adapter must preload', () => {
    const policy = parsePolicy(
      [
        { allow: { and: [{ record: { type: 'device', field: 'ok', '=': true } }, { record: { type: 'device', key: 'user', exists: true } }] } },
        { deny: { or: [{ record: { type: 'network', key: 'ip', field: 'blocked', '=': true } }] } },
      ],
      'p',
    );
    assert.deepEqual(policy.recordTypes, ['device', 'network']);
    assert.deepEqual(policy.recordLookups, [{ type: 'device', key: 'user' }, { type: 'network', key: 'ip' }]);
    assert.deepEqual(parsePolicy({ allow: { or: [{ accept: true }] } }, 'p').recordTypes, []);
  });

  test('the records function is called with the type and the selected key', () => {
    const calls: [string, string][] = [];
    const policy = parsePolicy({ allow: { or: [{ record: { type: 'device', exists: true } }, { record: { type: 'net', key: 'ip', exists: true } }] } }, 'p');
    evaluate(policy, { ...input(), records: (type, id) => { calls.push([type, id]); return undefined; } }, 0);
    assert.deepEqual(calls, [['device', 'u-123'], ['net', '127.0.0.1']]);
  });
});
