/**
 * Route shortcuts → PPL, as Pomerium's `Policy.ToPPL` does: each shortcut is
 * one entry of a single `allow.or` rule placed before the route's own
 * `policy`: `allow_public_unauthenticated_access` → `accept`,
 * `cors_allow_preflight` → `cors_preflight`, `allow_any_authenticated_user` →
 * `authenticated_user`, each of `allowed_domains` → `domain: {is: d}`, each
 * value of `allowed_idp_claims` → `claim/<name>: {has: value}`, and each of
 * `allowed_users` → `user: {is: u}` and `email: {is: u}` (an entry may be an
 * id or an email address).
 */

import { PolicyError } from '../errors/index.js';
import { compileCriterion, type CompiledCriterion } from './criteria.js';
import { parseDrafts } from './parse.js';
import { PolicyProgram, type OperatorDraft } from './program.js';
import type { CompiledPolicy } from './types.js';

/**
 * The route fields that make up its policy; config's RouteConfig has them
 * all (authz does not import config, so any route-shaped object will do).
 */
export interface RoutePolicySource {
  /** Index in the routes list, for paths (`routes[3]`). */
  readonly index: number;
  /** Route name (`name`, or `from`), quoted in error messages. */
  readonly name: string;
  readonly policy: unknown;
  readonly allowPublicUnauthenticatedAccess: boolean;
  readonly allowAnyAuthenticatedUser: boolean;
  readonly corsAllowPreflight: boolean;
  readonly allowedUsers: readonly string[];
  readonly allowedDomains: readonly string[];
  readonly allowedIdpClaims: Readonly<Record<string, readonly unknown[]>>;
}

export interface CompileRouteOptions {
  /**
   * Add a `deny: {or: [invalid_client_certificate]}` rule, as Pomerium does for
   * `downstream_mtls.enforcement: policy_with_default_deny`.
   */
  readonly denyInvalidClientCertificate?: boolean;
}

interface ShortcutEntry {
  /** Config path of the shortcut value, e.g. `routes[2].allowed_users[0]`. */
  readonly path: string;
  readonly criterion: Record<string, unknown>;
}

function shortcutEntries(route: RoutePolicySource): ShortcutEntry[] {
  const at = `routes[${route.index}]`;
  const out: ShortcutEntry[] = [];
  if (route.allowPublicUnauthenticatedAccess) {
    out.push({ path: `${at}.allow_public_unauthenticated_access`, criterion: { accept: true } });
  }
  if (route.corsAllowPreflight) out.push({ path: `${at}.cors_allow_preflight`, criterion: { cors_preflight: true } });
  if (route.allowAnyAuthenticatedUser) {
    out.push({ path: `${at}.allow_any_authenticated_user`, criterion: { authenticated_user: true } });
  }
  route.allowedDomains.forEach((domain, i) => {
    out.push({ path: `${at}.allowed_domains[${i}]`, criterion: { domain: { is: domain } } });
  });
  for (const [claim, values] of Object.entries(route.allowedIdpClaims)) {
    values.forEach((value, i) => {
      out.push({ path: `${at}.allowed_idp_claims.${claim}[${i}]`, criterion: { [`claim/${claim}`]: { has: value } } });
    });
  }
  route.allowedUsers.forEach((user, i) => {
    out.push({ path: `${at}.allowed_users[${i}]`, criterion: { user: { is: user } } });
    out.push({ path: `${at}.allowed_users[${i}]`, criterion: { email: { is: user } } });
  });
  return out;
}

/**
 * The route's whole policy as one PPL document: a rule holding the shortcuts
 * (when any are set) followed by the route's own `policy` rules.
 */
export function routePolicyDocument(route: RoutePolicySource): unknown {
  const rules: unknown[] = [];
  const entries = shortcutEntries(route);
  if (entries.length > 0) rules.push({ allow: { or: entries.map((e) => e.criterion) } });
  if (Array.isArray(route.policy)) rules.push(...(route.policy as unknown[]));
  else if (route.policy !== undefined && route.policy !== null) rules.push(route.policy);
  return rules;
}

/**
 * Compiles a route's policy and shortcuts once per config load. Paths in
 * errors and traces are config paths: `routes[i].policy...` for the policy,
 * `routes[i].allowed_users[0]` etc. for shortcuts (whose rule is
 * `routes[i].shortcuts.allow.or`); messages end with the route name.
 */
export function compileRoutePolicy(route: RoutePolicySource, options: CompileRouteOptions = {}): CompiledPolicy {
  const at = `routes[${route.index}]`;
  try {
    const drafts: OperatorDraft[] = [];
    const entries = shortcutEntries(route);
    if (entries.length > 0) {
      const criteria: CompiledCriterion[] = entries.map((e) => {
        const [key, value] = Object.entries(e.criterion)[0]!;
        return compileCriterionAt(e.path, key, value);
      });
      drafts.push({ path: `${at}.shortcuts.allow.or`, action: 'allow', operator: 'or', criteria });
    }
    if (route.policy !== undefined && route.policy !== null) drafts.push(...parseDrafts(route.policy, `${at}.policy`));
    if (options.denyInvalidClientCertificate === true) {
      drafts.push({
        path: 'downstream_mtls.enforcement',
        action: 'deny',
        operator: 'or',
        criteria: [compileCriterion('downstream_mtls.enforcement', 'invalid_client_certificate', true)],
      });
    }
    return new PolicyProgram(`${at}.policy`, drafts);
  } catch (err) {
    if (err instanceof PolicyError) {
      const detail = err.message.startsWith(`${err.path}: `) ? err.message.slice(err.path.length + 2) : err.message;
      throw new PolicyError(err.path, `${detail} in route "${route.name}"`);
    }
    throw err;
  }
}

/**
 * Compiles a shortcut criterion whose value sits directly at `path` (the
 * config key), so a bad value is reported there rather than at a PPL node
 * that does not exist in the file.
 */
function compileCriterionAt(path: string, key: string, value: unknown): CompiledCriterion {
  try {
    return compileCriterion(path, key, value);
  } catch (err) {
    if (err instanceof PolicyError && err.path.startsWith(`${path}.`)) {
      const detail = err.message.slice(err.path.length + 2);
      throw new PolicyError(path, detail);
    }
    throw err;
  }
}
