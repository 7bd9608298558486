import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PolicyError } from '../errors/index.js';
import { compileRoutePolicy, evaluate, parsePolicy, routePolicyDocument, type RoutePolicySource } from './index.js';
import { certificate, input } from './testkit.js';
import type { PolicyInput } from './types.js';

function route(overrides: Partial<RoutePolicySource> = {}): RoutePolicySource {
  return {
    index: 3,
    name: 'reports',
    policy: undefined,
    allowPublicUnauthenticatedAccess: false,
    allowAnyAuthenticatedUser: false,
    corsAllowPreflight: false,
    allowedUsers: [],
    allowedDomains: [],
    allowedIdpClaims: {},
    ...overrides,
  };
}

describe('routePolicyDocument', () => {
  test('each shortcut is one allow.or entry, before the route policy', () => {
    const doc = routePolicyDocument(route({
      allowPublicUnauthenticatedAccess: true,
      corsAllowPreflight: true,
      allowAnyAuthenticatedUser: true,
      allowedDomains: ['example.com'],
      allowedIdpClaims: { groups: ['admins', 'ops'], 'org.team': ['platform'] },
      allowedUsers: ['ada@example.com'],
      policy: { deny: { or: [{ http_method: 'DELETE' }] } },
    }));
    assert.deepEqual(doc, [
      {
        allow: {
          or: [
            { accept: true },
            { cors_preflight: true },
            { authenticated_user: true },
            { domain: { is: 'example.com' } },
            { 'claim/groups': { has: 'admins' } },
            { 'claim/groups': { has: 'ops' } },
            { 'claim/org.team': { has: 'platform' } },
            { user: { is: 'ada@example.com' } },
            { email: { is: 'ada@example.com' } },
          ],
        },
      },
      { deny: { or: [{ http_method: 'DELETE' }] } },
    ]);
  });

  test('no shortcuts and no policy: an empty policy (deny everything)', () => {
    assert.deepEqual(routePolicyDocument(route()), []);
  });

  test('a list policy is spliced in rule by rule', () => {
    const rules = [{ allow: { or: [{ accept: true }] } }, { deny: { or: [{ reject: true }] } }];
    assert.deepEqual(routePolicyDocument(route({ policy: rules })), rules);
  });
});

describe('compileRoutePolicy', () => {
  const cases: [name: string, r: Partial<RoutePolicySource>, inp: PolicyInput, want: string, reasons?: string[]][] = [
    ['public route, anonymous', { allowPublicUnauthenticatedAccess: true }, input({ identity: null }), 'allow', ['accept']],
    ['any authenticated user, anonymous', { allowAnyAuthenticatedUser: true }, input({ identity: null }), 'login'],
    ['any authenticated user, signed in', { allowAnyAuthenticatedUser: true }, input(), 'allow', ['user-ok']],
    ['allowed_domains, match', { allowedDomains: ['example.com'] }, input(), 'allow', ['domain-ok']],
    ['allowed_domains, other', { allowedDomains: ['example.org'] }, input(), 'deny', ['domain-unauthorized']],
    ['allowed_users by email', { allowedUsers: ['ADA@example.com'] }, input(), 'allow', ['email-ok']],
    ['allowed_users by id', { allowedUsers: ['u-123'] }, input(), 'allow', ['user-ok']],
    ['allowed_users, neither', { allowedUsers: ['bob@example.com'] }, input(), 'deny', ['user-unauthorized', 'email-unauthorized']],
    ['allowed_idp_claims, array claim', { allowedIdpClaims: { groups: ['ops', 'admins'] } }, input({ identity: { claims: { groups: ['admins'] } } }), 'allow', ['claim-ok']],
    ['allowed_idp_claims, nested', { allowedIdpClaims: { 'org.team': ['platform'] } }, input({ identity: { claims: { org: { team: 'platform' } } } }), 'allow', ['claim-ok']],
    ['allowed_idp_claims, no match', { allowedIdpClaims: { dept: ['eng'] } }, input({ identity: { claims: { dept: 'sales' } } }), 'deny', ['claim-unauthorized']],
    ['cors preflight, anonymous', { corsAllowPreflight: true, allowedDomains: ['example.com'] }, input({ identity: null, request: { method: 'OPTIONS', corsPreflight: true } }), 'allow', ['cors-request']],
    ['cors_allow_preflight does not open other requests', { corsAllowPreflight: true, allowedDomains: ['example.com'] }, input({ identity: null }), 'login'],
    ['shortcut OR policy', { allowedDomains: ['example.org'], policy: { allow: { or: [{ groups: 'eng' }] } } }, input({ identity: { groups: ['eng'] } }), 'allow', ['groups-ok']],
    ['policy deny beats a shortcut', { allowPublicUnauthenticatedAccess: true, policy: { deny: { or: [{ http_method: 'DELETE' }] } } }, input({ request: { method: 'DELETE' } }), 'deny', ['http-method-ok']],
    ['nothing configured', {}, input(), 'deny', []],
  ];
  for (const [name, r, inp, want, reasons] of cases) {
    test(name, () => {
      const d = evaluate(compileRoutePolicy(route(r)), inp, 0);
      assert.equal(d.result, want);
      if (reasons !== undefined) assert.deepEqual(d.reasons, reasons);
    });
  }

  test('the compiled route and the combined document decide alike', () => {
    const r = route({
      allowedDomains: ['example.com'],
      allowedUsers: ['bob@partner.org'],
      allowedIdpClaims: { groups: ['ops'] },
      policy: [{ allow: { and: [{ http_path: { starts_with: '/public/' } }] } }, { deny: { or: [{ source_ip: '203.0.113.0/24' }] } }],
    });
    const compiled = compileRoutePolicy(r);
    const fromDoc = parsePolicy(routePolicyDocument(r), 'doc');
    const inputs = [
      input(), input({ identity: null }), input({ identity: { email: 'bob@partner.org' } }),
      input({ identity: { email: 'x@y.z', claims: { groups: ['ops'] } } }), input({ identity: null, request: { path: '/public/a' } }),
      input({ request: { ip: '203.0.113.5' } }), input({ identity: { email: 'x@y.z' } }),
    ];
    for (const inp of inputs) {
      const a = evaluate(compiled, inp, 0);
      const b = evaluate(fromDoc, inp, 0);
      assert.deepEqual([a.result, a.reasons], [b.result, b.reasons]);
    }
  });

  test('paths: shortcuts at their config keys, policy under routes[i].policy', () => {
    const compiled = compileRoutePolicy(route({ allowedUsers: ['ada@example.com'], allowedIdpClaims: { dept: ['eng'] }, policy: { allow: { or: [{ accept: true }] } } }));
    assert.equal(compiled.where, 'routes[3].policy');
    assert.deepEqual(
      compiled.operators.map((o) => [o.path, o.criteria.map((c) => `${c.path} ${c.criterion}`)]),
      [
        ['routes[3].shortcuts.allow.or', [
          'routes[3].allowed_idp_claims.dept[0] claim/dept',
          'routes[3].allowed_users[0] user',
          'routes[3].allowed_users[0] email',
        ]],
        ['routes[3].policy.allow.or', ['routes[3].policy.allow.or[0] accept']],
      ],
    );
  });

  test('errors name the config path and the route', () => {
    const bad: [Partial<RoutePolicySource>, string][] = [
      [{ policy: { allow: { or: [{ email: { startswith: 'a' } }] } } },
        'routes[3].policy.allow.or[0].email: unknown matcher "startswith" (expected one of is, not, contains, starts_with, ends_with, in, not_in) in route "reports"'],
      [{ policy: [{ allow: { or: [] } }, { alow: {} }] },
        'routes[3].policy[1]: unknown key "alow" (expected allow or deny; did you mean "allow"?) in route "reports"'],
      [{ policy: 'everyone' },
        'routes[3].policy: expected a rule object or a list of rules, got string in route "reports"'],
      [{ allowedIdpClaims: { groups: ['ok', { nested: true }] } },
        'routes[3].allowed_idp_claims.groups[1]: expected a string, got an object in route "reports"'],
      [{ allowedIdpClaims: { groups: [null] } },
        'routes[3].allowed_idp_claims.groups[0]: expected a string, got null in route "reports"'],
    ];
    for (const [r, want] of bad) {
      assert.throws(() => compileRoutePolicy(route(r)), (err: unknown) => {
        assert.ok(err instanceof PolicyError);
        assert.equal(err.message, want);
        return true;
      });
    }
  });

  test('denyInvalidClientCertificate adds a deny rule (policy_with_default_deny)', () => {
    const compiled = compileRoutePolicy(route({ allowPublicUnauthenticatedAccess: true }), { denyInvalidClientCertificate: true });
    const ok = evaluate(compiled, input({ request: { clientCertificate: certificate() } }), 0);
    assert.equal(ok.result, 'allow');
    const missing = evaluate(compiled, input({ request: { clientCertificate: certificate({ presented: false }) } }), 0);
    assert.deepEqual([missing.result, missing.reasons, missing.rule], ['deny', ['client-certificate-required'], 'downstream_mtls.enforcement']);
    const invalid = evaluate(compiled, input({ request: { clientCertificate: certificate({ valid: false }) } }), 0);
    assert.deepEqual([invalid.result, invalid.reasons], ['deny', ['invalid-client-certificate']]);
  });
});
