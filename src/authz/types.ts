/**
 * Plain-data types for policy evaluation. The evaluator never sees an HTTP
 * request, a session store or a clock it did not get passed: the decision
 * core in `decision/` builds a PolicyInput, then calls `evaluate(policy,
 * input, now)`.
 */

// What a TLS client certificate tells policy; read off the socket by src/http.
import type { ClientCertificateInfo } from '../http/index.js';

export type { ClientCertificateInfo };

export interface RequestInfo {
  /** Upper-case. */
  readonly method: string;
  /** Lower-case host without port. */
  readonly host: string;
  /** Path without query, as received (percent-encoded). */
  readonly path: string;
  /** Client address after `xff_num_trusted_hops` (IPv4, or IPv6 without brackets). */
  readonly ip: string;
  /** OPTIONS with Origin and Access-Control-Request-Method. */
  readonly corsPreflight: boolean;
  readonly clientCertificate: ClientCertificateInfo | undefined;
}

export interface IdentityInfo {
  /** User id (`sub`), or a service account's user id. */
  readonly user: string;
  readonly email: string;
  /** Group ids and names. */
  readonly groups: readonly string[];
  /** All claims from the IdP / token, nested objects kept. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Session id or service-account id. */
  readonly sessionId: string;
  /** Set when the identity is a stored service account. */
  readonly serviceAccountId?: string | undefined;
}

/** A record of external data, looked up by (type, key). */
export type DataRecord = Readonly<Record<string, unknown>>;

export interface PolicyInput {
  readonly request: RequestInfo;
  /** null when the request has no valid session or token. */
  readonly identity: IdentityInfo | null;
  /** Lookup of external data preloaded by the adapter; pure. */
  readonly records?: (type: string, id: string) => DataRecord | undefined;
}

export type DecisionResult = 'allow' | 'deny' | 'login';

export interface CriterionTrace {
  /** Path to the node in the policy, e.g. `rules[0].allow.or[2]`. */
  readonly path: string;
  /** Criterion name, e.g. `email`, `claim/groups`. */
  readonly criterion: string;
  readonly matched: boolean;
  /** e.g. `email-ok`, `email-unauthorized`, `user-unauthenticated`. */
  readonly reason: string;
}

export interface Decision {
  readonly result: DecisionResult;
  /** Reasons of the criteria that decided (deduplicated, stable order). */
  readonly reasons: readonly string[];
  /** Path of the deciding rule/operator, e.g. `rules[1].deny`, or undefined for default deny. */
  readonly rule: string | undefined;
  /** Every criterion evaluated, for `policy explain` and the decision log. */
  readonly trace: readonly CriterionTrace[];
}

/** Which request/identity value a `record` criterion uses as the record id. */
export type RecordKey = 'user' | 'email' | 'ip' | 'host';

/** One criterion of a compiled policy, as `policy check`/`explain` see it. */
export interface PolicyCriterionInfo {
  /** Path to the node, e.g. `routes[2].policy[0].allow.or[1]`. */
  readonly path: string;
  /** Criterion name with its sub-path, e.g. `email`, `claim/org.team`. */
  readonly criterion: string;
  /** Evaluates to `user-unauthenticated` when the request has no identity. */
  readonly needsIdentity: boolean;
  /** Known at compile time: `always` matches (accept), `never` matches (reject, `in: []`). */
  readonly constant: 'always' | 'never' | undefined;
}

/** One `and`/`or`/`not`/`nor` list of a rule. */
export interface PolicyOperatorInfo {
  /** e.g. `routes[2].policy[0].allow.or`. */
  readonly path: string;
  readonly action: 'allow' | 'deny';
  readonly operator: 'and' | 'or' | 'not' | 'nor';
  readonly criteria: readonly PolicyCriterionInfo[];
}

/**
 * A policy compiled once per config load (authz `parsePolicy` /
 * `compileRoutePolicy`); pass it to `evaluate`. Opaque apart from these
 * read-only facts.
 */
export interface CompiledPolicy {
  /** Where the policy came from, e.g. `routes[2].policy`. */
  readonly where: string;
  /** Every operator in document order (allow and deny). */
  readonly operators: readonly PolicyOperatorInfo[];
  /** Some criterion needs an identity (the adapter must load the session first). */
  readonly needsIdentity: boolean;
  /** Record types `record` criteria read, for the adapter to preload. */
  readonly recordTypes: readonly string[];
  /** Each distinct (type, key) the policy looks up with `input.records(type, id)`. */
  readonly recordLookups: readonly { readonly type: string; readonly key: RecordKey }[];
}
