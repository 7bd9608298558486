/**
 * Limen: `namespaces: [{name, parent}]`, a tree rooted at `global`
 * (CONTRACT §6). A service account of a namespace works on routes of that
 * namespace and its descendants, so the tree must be a tree: every parent
 * known, no cycles.
 */

import type { NamespaceConfig } from './types.js';
import { asMapping, asString, describe, fail, nearestKey, rejectUnknownKeys, type ConfigPath } from './check.js';

/** The root of the namespace tree; always present. */
export const ROOT_NAMESPACE = 'global';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Reads the `namespaces` list into parent-before-child order, `global` first. */
export function asNamespaces(value: unknown, at: ConfigPath): NamespaceConfig[] {
  if (!Array.isArray(value)) fail(at, `expected a list of {name, parent} mappings, got ${describe(value)}`);
  const parents = new Map<string, string>();
  const where = new Map<string, number>();
  value.forEach((item, i) => {
    const entry = asMapping(item, [...at, i]);
    rejectUnknownKeys(entry, ['name', 'parent'], [...at, i]);
    const name = asString(entry.name, [...at, i, 'name']);
    if (!NAME.test(name)) {
      fail([...at, i, 'name'], `expected letters, digits, ".", "_" or "-" (at most 63), got ${describe(name)}`);
    }
    const parent = entry.parent === undefined ? ROOT_NAMESPACE : asString(entry.parent, [...at, i, 'parent']);
    if (name === ROOT_NAMESPACE) {
      // Listing the root is harmless; giving it a parent is not.
      if (entry.parent !== undefined) fail([...at, i, 'parent'], `"${ROOT_NAMESPACE}" is the root and has no parent`);
      return;
    }
    if (where.has(name)) fail([...at, i, 'name'], `namespace "${name}" is listed twice (also at index ${String(where.get(name))})`);
    parents.set(name, parent);
    where.set(name, i);
  });

  const known = [ROOT_NAMESPACE, ...parents.keys()];
  const depth = new Map<string, number>([[ROOT_NAMESPACE, 0]]);
  for (const [name, parent] of parents) {
    const i = where.get(name) ?? 0;
    if (parent !== ROOT_NAMESPACE && !parents.has(parent)) {
      const hint = nearestKey(parent, known);
      fail([...at, i, 'parent'], `unknown namespace "${parent}"${hint === undefined ? '' : `; did you mean "${hint}"?`}`);
    }
    // Walk up to the root; meeting a name twice means a cycle.
    const chain = [name];
    let current = parent;
    while (current !== ROOT_NAMESPACE) {
      if (chain.includes(current)) {
        fail([...at, i, 'parent'], `namespaces form a cycle: ${[...chain, current].join(' → ')}`);
      }
      chain.push(current);
      current = parents.get(current) ?? ROOT_NAMESPACE;
    }
    depth.set(name, chain.length);
  }

  const ordered = [...parents.keys()].sort((a, b) => (depth.get(a) ?? 0) - (depth.get(b) ?? 0));
  return [
    { name: ROOT_NAMESPACE, parent: undefined },
    ...ordered.map((name) => ({ name, parent: parents.get(name) })),
  ];
}
