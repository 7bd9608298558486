/**
 * Fuzzing PPL: any YAML or JSON document is either compiled or refused with
 * a PolicyError naming the bad node; a compiled policy, evaluated on any
 * request and identity (odd claims, odd addresses, odd records), returns a
 * decision with reasons and never throws; lint and the explanation of the
 * decision never throw either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parse as parseYaml, stringify } from 'yaml';
import { awkwardJson, fuzzSync, mutatedJson, mutatedString } from '../../test/support/fuzz.js';
import { PolicyError } from '../errors/index.js';
import { parsePolicy } from './parse.js';
import { evaluate } from './evaluate.js';
import { lintPolicy } from './lint.js';
import { describeDecision, explainDecision } from './explain.js';
import { compileRoutePolicy } from './route.js';
import type { CompiledPolicy, PolicyInput } from './types.js';

const POLICIES: readonly unknown[] = [
  { allow: { or: [{ email: { is: 'ada@example.com' } }, { domain: { is: 'example.com' } }, { user: 'u1' }] } },
  [{ allow: { and: [{ groups: { has: 'eng' } }, { 'claim/org.team': { in: ['a', 'b'] } }] } }, { deny: { or: [{ source_ip: ['10.0.0.0/8', '::1'] }] } }],
  { allow: { not: [{ http_method: { is: 'DELETE' } }], nor: [{ http_path: { starts_with: '/admin' } }, { reject: true }] } },
  { allow: { or: [{ accept: true }, { authenticated_user: true }, { cors_preflight: true }] } },
  { allow: { and: [{ date: { after: '2026-01-01T00:00:00Z', before: '2027-01-01' } }, { day_of_week: 'mon-fri' }, { time_of_day: { timezone: 'Europe/Berlin', after: '08:00', before: '18:30:00' } }] } },
  { allow: { or: [{ client_certificate: { fingerprint: 'ab'.repeat(32) } }, { invalid_client_certificate: true }] } },
  { allow: { or: [{ record: { type: 'acl', key: 'email', field: 'level', '>=': 3 } }, { record: { type: 'acl', field: 'team', '=': 'eng' } }, { record: { type: 'ip', exists: true } }] } },
  { allow: { or: [{ email: { ends_with: '@example.com' } }, { email: { not_in: ['x@y.z'] } }, { 'claim/groups': { exclude: 'ops' } }, { groups: { is: ['a', 'b'] } }] } },
  { deny: { and: [{ http_path: { contains: '..' } }, { email: { starts_with: 'a' } }] }, allow: { or: [{ day_of_week: '*' }] } },
];

const parsedYaml = (text: string): { ok: true; doc: unknown } | { ok: false } => {
  try {
    return { ok: true, doc: parseYaml(text, { maxAliasCount: 100, logLevel: 'silent' }) as unknown };
  } catch {
    return { ok: false };
  }
};

const IPS = ['127.0.0.1', '10.1.2.3', '::1', '::ffff:10.0.0.1', '2001:db8::1', '', 'not-an-ip', '999.1.1.1', '1.2.3.4%eth0', 'fe80::1%25lo'];

const identity = fc.option(fc.record({
  user: fc.oneof(fc.constantFrom('u1', ''), fc.string({ maxLength: 8 })),
  email: fc.oneof(fc.constantFrom('ada@example.com', 'ADA@EXAMPLE.COM', '', '@', 'a@'), fc.string({ maxLength: 12 })),
  groups: fc.array(fc.oneof(fc.constantFrom('eng', 'ops', ''), fc.string({ maxLength: 5 })), { maxLength: 4 }),
  claims: fc.dictionary(fc.constantFrom('org', 'groups', 'email', 'team', '__proto__', 'constructor', 'a.b'), awkwardJson, { maxKeys: 4 }),
  sessionId: fc.constant('s1'),
}), { nil: null });

const requestInfo = fc.record({
  method: fc.constantFrom('GET', 'POST', 'DELETE', 'OPTIONS', ''),
  host: fc.constantFrom('app.example.com', ''),
  path: fc.oneof(fc.constantFrom('/', '/admin', '/admin/../x', '/%2e%2e/', ''), fc.string({ maxLength: 20 })),
  ip: fc.oneof(fc.constantFrom(...IPS), fc.string({ maxLength: 12 })),
  corsPreflight: fc.boolean(),
  clientCertificate: fc.option(fc.record({
    presented: fc.boolean(), valid: fc.boolean(), fingerprint: fc.constantFrom('ab'.repeat(32), ''), spkiHash: fc.constant(''),
    sanEmail: fc.array(fc.string({ maxLength: 6 }), { maxLength: 2 }), sanDns: fc.constant([]), sanUri: fc.constant([]),
  }), { nil: undefined }),
});

const records = fc.option(fc.dictionary(fc.constantFrom('level', 'team', 'x'), awkwardJson, { maxKeys: 3 }), { nil: undefined });
const now = fc.oneof(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.constantFrom(Date.UTC(2026, 0, 5, 10), -1));

function decideAll(policy: CompiledPolicy, input: PolicyInput, at: number): void {
  const d = evaluate(policy, input, at);
  assert.ok(['allow', 'deny', 'login'].includes(d.result), d.result);
  assert.ok(Array.isArray(d.reasons) && d.reasons.every((r) => typeof r === 'string' && r !== ''), 'reasons are strings');
  assert.equal(typeof explainDecision(d), 'string');
  assert.ok(describeDecision(d).every((l) => typeof l === 'string'));
}

test('PPL: any document compiles or is refused with a PolicyError; a compiled policy decides any request without throwing', () => {
  const doc = fc.oneof(
    { weight: 4, arbitrary: mutatedJson(...POLICIES).map((d) => ({ ok: true as const, doc: d })) },
    { weight: 2, arbitrary: mutatedString(...POLICIES.map((p) => stringify(p)), ...POLICIES.map((p) => JSON.stringify(p))).map(parsedYaml) },
    { weight: 1, arbitrary: awkwardJson.map((d) => ({ ok: true as const, doc: d })) },
  );
  fuzzSync('ppl', 1500, [doc, fc.array(fc.tuple(identity, requestInfo, records, now), { minLength: 1, maxLength: 3 })], (parsed, inputs) => {
    if (!parsed.ok) return;
    let policy: CompiledPolicy;
    try {
      policy = parsePolicy(parsed.doc, 'policy');
    } catch (e) {
      if (!(e instanceof PolicyError)) throw e;
      assert.equal(e.code, 'ERR_POLICY_INVALID');
      assert.ok(e.path.startsWith('policy'), e.path);
      return;
    }
    assert.ok(Array.isArray(lintPolicy(policy)));
    for (const [id, req, rec, at] of inputs) {
      decideAll(policy, { request: req, identity: id, records: () => rec }, at);
    }
  });
});

test('route shortcuts: any allowed_users, allowed_domains and allowed_idp_claims compile or are refused with a PolicyError', () => {
  const list = fc.oneof(fc.array(fc.oneof(fc.constantFrom('ada@example.com', 'example.com', '', '*'), fc.string({ maxLength: 10 })), { maxLength: 3 }));
  const claims = fc.dictionary(fc.oneof(fc.constantFrom('groups', 'org.team', '', '/'), fc.string({ maxLength: 6 })), fc.array(awkwardJson, { maxLength: 3 }), { maxKeys: 3 });
  fuzzSync('ppl-route-shortcuts', 500, [fc.option(mutatedJson(...POLICIES), { nil: undefined }), list, list, claims, fc.boolean(), fc.boolean(), fc.tuple(identity, requestInfo)], (policyDoc, users, domains, idpClaims, pub, any, [id, req]) => {
    let policy: CompiledPolicy;
    try {
      policy = compileRoutePolicy({
        index: 0, name: 'r', policy: policyDoc, allowPublicUnauthenticatedAccess: pub, allowAnyAuthenticatedUser: any, corsAllowPreflight: false,
        allowedUsers: users, allowedDomains: domains, allowedIdpClaims: idpClaims,
      });
    } catch (e) {
      if (!(e instanceof PolicyError)) throw e;
      return;
    }
    decideAll(policy, { request: req, identity: id }, Date.UTC(2026, 0, 5, 10));
  });
});
