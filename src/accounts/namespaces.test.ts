import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NamespaceConfig } from '../config/index.js';
import { namespaceAncestry, namespaceCovers, namespaceExists } from './namespaces.js';

// global ─┬─ eng ─┬─ eng-ci
//         │       └─ eng-prod ── eng-prod-db
//         └─ sales
const TREE: NamespaceConfig[] = [
  { name: 'global', parent: undefined },
  { name: 'eng', parent: 'global' },
  { name: 'sales', parent: 'global' },
  { name: 'eng-ci', parent: 'eng' },
  { name: 'eng-prod', parent: 'eng' },
  { name: 'eng-prod-db', parent: 'eng-prod' },
];

describe('namespaces', () => {
  test('an account covers its own namespace and every descendant, nothing else', () => {
    const cases: { account: string; route: string; want: boolean }[] = [
      { account: 'global', route: 'global', want: true },
      { account: 'global', route: 'eng-prod-db', want: true },
      { account: 'global', route: 'sales', want: true },
      { account: 'eng', route: 'eng', want: true },
      { account: 'eng', route: 'eng-ci', want: true },
      { account: 'eng', route: 'eng-prod-db', want: true },
      { account: 'eng', route: 'global', want: false },
      { account: 'eng', route: 'sales', want: false },
      { account: 'eng-prod', route: 'eng-ci', want: false },
      { account: 'eng-prod', route: 'eng', want: false },
      { account: 'eng-prod-db', route: 'eng-prod', want: false },
      { account: 'sales', route: 'eng', want: false },
      // Fail closed on names the tree does not know (e.g. removed from config).
      { account: 'gone', route: 'gone', want: false },
      { account: 'gone', route: 'eng', want: false },
      { account: 'eng', route: 'gone', want: false },
      { account: '', route: 'global', want: false },
    ];
    for (const c of cases) assert.equal(namespaceCovers(TREE, c.account, c.route), c.want, `${c.account} on ${c.route}`);
  });

  test('ancestry runs from the namespace to global', () => {
    assert.deepEqual(namespaceAncestry(TREE, 'eng-prod-db'), ['eng-prod-db', 'eng-prod', 'eng', 'global']);
    assert.deepEqual(namespaceAncestry(TREE, 'global'), ['global']);
    assert.deepEqual(namespaceAncestry(TREE, 'nope'), []);
  });

  test('global exists even in an empty tree; a cycle does not loop forever', () => {
    assert.equal(namespaceExists([], 'global'), true);
    assert.equal(namespaceCovers([], 'global', 'global'), true);
    const cyclic: NamespaceConfig[] = [{ name: 'a', parent: 'b' }, { name: 'b', parent: 'a' }];
    assert.deepEqual(namespaceAncestry(cyclic, 'a'), ['a', 'b']);
    assert.equal(namespaceCovers(cyclic, 'global', 'a'), false);
  });
});
