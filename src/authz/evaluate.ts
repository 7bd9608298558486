/**
 * Policy evaluation: a pure function of (compiled policy, input, now).
 *
 * Each criterion is true, false, or unknown: unknown is `user-unauthenticated`,
 * an identity criterion on a request without one, whose answer signing in
 * could change. Operators fold with three-valued (Kleene) logic:
 *   and  all true            false if any false, else unknown if any unknown
 *   or   any true            true if any true, else unknown if any unknown
 *   not  none true           false if any true, else unknown if any unknown
 *   nor  not all true        true if any false, else unknown if any unknown
 * An empty list never matches (Pomerium drops it; `policy check` warns).
 *
 * Decision order (CONTRACT §3, Pomerium authorize/evaluator):
 *   1. any deny true                                  → deny
 *   2. no allow can be true (all allow false)         → deny (default)
 *   3. some allow true and no deny unknown            → allow
 *   4. otherwise (allow unknown, or a deny unknown)   → login
 * So a deny rule that needs a missing identity does not match, but neither
 * does it let the request through: the user is asked to sign in and the rule
 * is decided then. Case 4 only arises without an identity.
 */

import { FALSE, TRUE, UNKNOWN, type Outcome, type OutcomeState as State } from './criteria.js';
import { PolicyProgram, type CompiledOperator } from './program.js';
import type { CompiledPolicy, Decision, PolicyInput } from './types.js';

function fold(op: CompiledOperator, trace: readonly Outcome[]): State {
  const { start, end } = op;
  if (start === end) return FALSE;
  let t = 0;
  let f = 0;
  let u = 0;
  for (let i = start; i < end; i++) {
    const s = trace[i]!.state;
    if (s === TRUE) t++;
    else if (s === FALSE) f++;
    else u++;
  }
  switch (op.operator) {
    case 'and': return f > 0 ? FALSE : u > 0 ? UNKNOWN : TRUE;
    case 'or': return t > 0 ? TRUE : u > 0 ? UNKNOWN : FALSE;
    case 'not': return t > 0 ? FALSE : u > 0 ? UNKNOWN : TRUE;
    case 'nor': return f > 0 ? TRUE : u > 0 ? UNKNOWN : FALSE;
  }
}

/**
 * Adds to `out` the reasons of the criteria that made `op` come out `state`:
 * for and/or the criteria in that state, for not/nor the criteria in the
 * opposite one (a true `not` is true because its criteria were false), for
 * unknown the unknown ones.
 */
function addReasons(op: CompiledOperator, state: State, trace: readonly Outcome[], out: string[]): void {
  let want: State = state;
  if (state !== UNKNOWN && (op.operator === 'not' || op.operator === 'nor')) want = state === TRUE ? FALSE : TRUE;
  for (let i = op.start; i < op.end; i++) {
    const c = trace[i]!;
    if (c.state === want && !out.includes(c.reason)) out.push(c.reason);
  }
}

/** Folds a side (all allow or all deny operators) into `states`; the side is their OR. */
function foldSide(ops: readonly CompiledOperator[], trace: readonly Outcome[], states: Uint8Array): State {
  let side: State = FALSE;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const s = fold(op, trace);
    states[op.index] = s;
    if (s === TRUE) side = TRUE;
    else if (s === UNKNOWN && side === FALSE) side = UNKNOWN;
  }
  return side;
}

/** Path of the first operator of a side in state `want`. */
function firstIn(ops: readonly CompiledOperator[], want: State, states: Uint8Array): string | undefined {
  for (let i = 0; i < ops.length; i++) if (states[ops[i]!.index] === want) return ops[i]!.path;
  return undefined;
}

/** Reasons of a side's operators in state `want` (all of them when undefined). */
function reasonsFor(
  ops: readonly CompiledOperator[],
  want: State | undefined,
  trace: readonly Outcome[],
  states: Uint8Array,
  out: string[],
): void {
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const s = states[op.index] as State;
    if (want === undefined || s === want) addReasons(op, s, trace, out);
  }
}

/** At most this many distinct decisions are cached per policy; then the cache starts over. */
const MAX_CACHED_DECISIONS = 4096;

/**
 * Decides a request: `allow`, `deny`, or `login` (no identity, and signing in
 * could change the answer). Pure: no I/O, no clock (`now` is a Date or epoch
 * ms). Fails closed: a policy with no allow rule denies everything. The
 * Decision (and its arrays) is frozen and may be shared between calls.
 */
export function evaluate(policy: CompiledPolicy, input: PolicyInput, now: Date | number): Decision {
  if (!(policy instanceof PolicyProgram)) {
    throw new TypeError('evaluate: policy must come from parsePolicy or compileRoutePolicy');
  }
  const t = typeof now === 'number' ? now : now.getTime();
  if (!Number.isFinite(t)) throw new TypeError('evaluate: now must be a valid Date or epoch milliseconds');

  const criteria = policy.criteria;
  const n = criteria.length;
  const cache = policy.decisions;
  const scratch = policy.scratch;
  if (cache === undefined || scratch.busy) {
    // No cache, or re-entered from a `records` callback: plain evaluation.
    const trace = new Array<Outcome>(n);
    for (let i = 0; i < n; i++) trace[i] = criteria[i]!.test(input, t);
    return decide(policy, trace);
  }
  // Every criterion returns one of at most three outcome objects fixed at
  // compile time, and the decision depends on nothing else; so the outcome
  // codes, read as a base-3 number, key a cache of finished decisions and a
  // repeated pattern allocates nothing.
  const outcomes = scratch.outcomes;
  let signature = 0;
  scratch.busy = true;
  try {
    for (let i = 0; i < n; i++) {
      const o = criteria[i]!.test(input, t);
      outcomes[i] = o;
      signature = signature * 3 + o.code;
    }
  } finally {
    scratch.busy = false;
  }
  const cached = cache.get(signature);
  if (cached !== undefined) return cached;
  const decision = decide(policy, outcomes.slice(0, n));
  if (cache.size >= MAX_CACHED_DECISIONS) cache.clear();
  cache.set(signature, decision);
  return decision;
}

/** Folds a complete trace into a frozen Decision (the decision order above). */
function decide(policy: PolicyProgram, trace: Outcome[]): Decision {
  // No caller code runs here, so the shared scratch `states` is safe.
  const states = policy.states;
  const denyOps = policy.denyOperators;
  const allowOps = policy.allowOperators;
  const deny = foldSide(denyOps, trace, states);
  const reasons: string[] = [];
  Object.freeze(trace);
  if (deny === TRUE) {
    reasonsFor(denyOps, TRUE, trace, states, reasons);
    return Object.freeze({ result: 'deny', reasons: Object.freeze(reasons), rule: firstIn(denyOps, TRUE, states), trace });
  }
  const allow = foldSide(allowOps, trace, states);
  if (allow === FALSE) {
    reasonsFor(allowOps, undefined, trace, states, reasons);
    return Object.freeze({ result: 'deny', reasons: Object.freeze(reasons), rule: undefined, trace });
  }
  if (allow === TRUE && deny === FALSE) {
    reasonsFor(allowOps, TRUE, trace, states, reasons);
    return Object.freeze({ result: 'allow', reasons: Object.freeze(reasons), rule: firstIn(allowOps, TRUE, states), trace });
  }
  // Login: no allow is true but one is unknown, or a deny is unknown.
  if (allow === UNKNOWN) reasonsFor(allowOps, UNKNOWN, trace, states, reasons);
  if (deny === UNKNOWN) reasonsFor(denyOps, UNKNOWN, trace, states, reasons);
  const rule = allow === UNKNOWN ? firstIn(allowOps, UNKNOWN, states) : firstIn(denyOps, UNKNOWN, states);
  return Object.freeze({ result: 'login', reasons: Object.freeze(reasons), rule, trace });
}
