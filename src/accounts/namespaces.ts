/**
 * The namespace tree (CONTRACT §6): declared in config as `namespaces:
 * [{name, parent}]`, rooted at `global`. A service account created in a
 * namespace works on routes of that namespace and of its descendants only.
 */
import { ROOT_NAMESPACE, type NamespaceConfig } from '../config/index.js';

export { ROOT_NAMESPACE };

/** Whether `name` is declared in the tree (`global` always is). */
export function namespaceExists(tree: readonly NamespaceConfig[], name: string): boolean {
  return name === ROOT_NAMESPACE || tree.some((n) => n.name === name);
}

/**
 * The path from `name` up to the root, `name` first and `global` last;
 * empty when `name` is not in the tree. Stops on a cycle rather than loop
 * (config loading already refuses cycles; this is defence in depth).
 */
export function namespaceAncestry(tree: readonly NamespaceConfig[], name: string): string[] {
  if (!namespaceExists(tree, name)) return [];
  const parents = new Map(tree.map((n) => [n.name, n.parent] as const));
  const chain: string[] = [];
  let current: string | undefined = name;
  while (current !== undefined && !chain.includes(current)) {
    chain.push(current);
    if (current === ROOT_NAMESPACE) return chain;
    current = parents.get(current) ?? ROOT_NAMESPACE;
  }
  return chain;
}

/**
 * Whether an account of `accountNamespace` may be used on a route of
 * `routeNamespace`: true when the account's namespace is the route's or one
 * of its ancestors. Fails closed: a namespace missing from the tree (e.g.
 * removed from config after the account was created) covers nothing.
 */
export function namespaceCovers(tree: readonly NamespaceConfig[], accountNamespace: string, routeNamespace: string): boolean {
  if (!namespaceExists(tree, accountNamespace)) return false;
  return namespaceAncestry(tree, routeNamespace).includes(accountNamespace);
}
