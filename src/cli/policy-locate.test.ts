import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigLocator, splitConfigPath } from './policy-locate.js';

const YAML = `routes:
  - from: https://a.example.com
    allowed_idp_claims:
      org.team: [platform]
    policy:
      allow:
        or:
          - claim/org.team: {has: platform}
          - email: {is: a@example.com}
`;

describe('config paths back to YAML positions', () => {
  const doc = {
    routes: [{ from: 'x', allowed_idp_claims: { 'org.team': ['platform'] }, policy: { allow: { or: [{ 'claim/org.team': { has: 'platform' } }] } } }],
  };
  const table: { path: string; want: (string | number)[] }[] = [
    { path: 'routes[0].policy.allow.or[0]', want: ['routes', 0, 'policy', 'allow', 'or', 0] },
    { path: 'routes[0].policy.allow.or[0].claim/org.team.has', want: ['routes', 0, 'policy', 'allow', 'or', 0, 'claim/org.team', 'has'] },
    { path: 'routes[0].allowed_idp_claims.org.team[0]', want: ['routes', 0, 'allowed_idp_claims', 'org.team', 0] },
    // Not in the document: split at each dot.
    { path: 'routes[0].shortcuts.allow.or', want: ['routes', 0, 'shortcuts', 'allow', 'or'] },
    { path: 'downstream_mtls.enforcement', want: ['downstream_mtls', 'enforcement'] },
    { path: '', want: [] },
  ];
  for (const { path, want } of table) {
    test(`splits ${path || '(empty)'}`, () => assert.deepEqual(splitConfigPath(path, doc), want));
  }

  test('routes reads as policy when the file uses the older name', () => {
    assert.deepEqual(splitConfigPath('routes[1].policy', { policy: [{}, { policy: {} }] }), ['policy', 1, 'policy']);
    assert.deepEqual(splitConfigPath('routes[1].policy', { routes: [], policy: [] }), ['routes', 1, 'policy']);
  });

  test('positions: a key holding dots, a list item, and the nearest enclosing node for a path not in the file', () => {
    const at = new ConfigLocator(YAML);
    assert.deepEqual(at.position('routes[0].policy.allow.or[0].claim/org.team.has'), { line: 8, column: 30 });
    assert.deepEqual(at.position('routes[0].policy.allow.or[1]'), { line: 9, column: 13 });
    assert.deepEqual(at.position('routes[0].allowed_idp_claims.org.team[0]'), { line: 4, column: 18 });
    assert.deepEqual(at.position('routes[0].shortcuts.allow.or'), { line: 2, column: 5 });
    assert.equal(at.where('f.yaml', 'routes[0].policy'), 'f.yaml:5:5');
    assert.equal(at.position('nothing.here'), undefined);
    assert.equal(new ConfigLocator('a: [unclosed').position('a'), undefined);
  });
});
