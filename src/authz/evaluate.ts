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

import { USER_UNAUTHENTICATED } from './criteria.js';
import { PolicyProgram, type CompiledOperator } from './program.js';
import type { CompiledPolicy, CriterionTrace, Decision, PolicyInput } from './types.js';

const FALSE = 0;
const TRUE = 1;
const UNKNOWN = 2;
type State = typeof FALSE | typeof TRUE | typeof UNKNOWN;

function stateOf(c: CriterionTrace): State {
  if (c.matched) return TRUE;
  return c.reason === USER_UNAUTHENTICATED ? UNKNOWN : FALSE;
}

function fold(op: CompiledOperator, trace: readonly CriterionTrace[]): State {
  const { start, end } = op;
  if (start === end) return FALSE;
  let t = 0;
  let f = 0;
  let u = 0;
  for (let i = start; i < end; i++) {
    const s = stateOf(trace[i]!);
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
function addReasons(op: CompiledOperator, state: State, trace: readonly CriterionTrace[], out: string[]): void {
  let want: State = state;
  if (state !== UNKNOWN && (op.operator === 'not' || op.operator === 'nor')) want = state === TRUE ? FALSE : TRUE;
  for (let i = op.start; i < op.end; i++) {
    const c = trace[i]!;
    if (stateOf(c) === want && !out.includes(c.reason)) out.push(c.reason);
  }
}

interface SideResult {
  state: State;
  /** First operator in the winning state, for `rule`. */
  first: CompiledOperator | undefined;
}

function foldSide(ops: readonly CompiledOperator[], trace: readonly CriterionTrace[], states: State[]): SideResult {
  let state: State = FALSE;
  let firstTrue: CompiledOperator | undefined;
  let firstUnknown: CompiledOperator | undefined;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const s = fold(op, trace);
    states[i] = s;
    if (s === TRUE) {
      state = TRUE;
      firstTrue ??= op;
    } else if (s === UNKNOWN) {
      if (state === FALSE) state = UNKNOWN;
      firstUnknown ??= op;
    }
  }
  return { state, first: state === TRUE ? firstTrue : state === UNKNOWN ? firstUnknown : undefined };
}

function reasonsFor(
  ops: readonly CompiledOperator[],
  states: readonly State[],
  want: State | 'all',
  trace: readonly CriterionTrace[],
  out: string[],
): void {
  for (let i = 0; i < ops.length; i++) {
    const s = states[i]!;
    if (want === 'all' || s === want) addReasons(ops[i]!, s, trace, out);
  }
}

/**
 * Decides a request: `allow`, `deny`, or `login` (no identity, and signing in
 * could change the answer). Pure: no I/O, no clock (`now` is a Date or epoch
 * ms). Fails closed: a policy with no allow rule denies everything.
 */
export function evaluate(policy: CompiledPolicy, input: PolicyInput, now: Date | number): Decision {
  if (!(policy instanceof PolicyProgram)) {
    throw new TypeError('evaluate: policy must come from parsePolicy or compileRoutePolicy');
  }
  const t = typeof now === 'number' ? now : now.getTime();
  if (!Number.isFinite(t)) throw new TypeError('evaluate: now must be a valid Date or epoch milliseconds');

  const criteria = policy.criteria;
  const n = criteria.length;
  const trace = new Array<CriterionTrace>(n);
  for (let i = 0; i < n; i++) trace[i] = criteria[i]!.test(input, t);

  const denyOps = policy.denyOperators;
  const allowOps = policy.allowOperators;
  const denyStates: State[] = new Array<State>(denyOps.length);
  const allowStates: State[] = new Array<State>(allowOps.length);
  const deny = foldSide(denyOps, trace, denyStates);
  const allow = foldSide(allowOps, trace, allowStates);
  const reasons: string[] = [];

  if (deny.state === TRUE) {
    reasonsFor(denyOps, denyStates, TRUE, trace, reasons);
    return { result: 'deny', reasons, rule: deny.first!.path, trace };
  }
  if (allow.state === FALSE) {
    reasonsFor(allowOps, allowStates, 'all', trace, reasons);
    return { result: 'deny', reasons, rule: undefined, trace };
  }
  if (allow.state === TRUE && deny.state === FALSE) {
    reasonsFor(allowOps, allowStates, TRUE, trace, reasons);
    return { result: 'allow', reasons, rule: allow.first!.path, trace };
  }
  // Login: a deny is unknown, or no allow is true but one is unknown.
  if (allow.state === UNKNOWN) reasonsFor(allowOps, allowStates, UNKNOWN, trace, reasons);
  if (deny.state === UNKNOWN) reasonsFor(denyOps, denyStates, UNKNOWN, trace, reasons);
  const rule = allow.state === UNKNOWN ? allow.first!.path : deny.first!.path;
  return { result: 'login', reasons, rule, trace };
}
