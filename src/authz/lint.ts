/**
 * Static checks for `limen policy check`: rules that can never match, deny
 * rules that always match, and policies that deny everything. A criterion is
 * constant when its outcome is known without a request (`accept`, `reject`,
 * `in: []`, an empty `source_ip` list, `day_of_week: "*"`); operators are
 * folded over those constants.
 */

import { PolicyProgram, type CompiledOperator } from './program.js';
import type { CompiledPolicy } from './types.js';

export interface PolicyWarning {
  /** Path of the node the warning is about. */
  readonly path: string;
  readonly message: string;
}

type Constant = 'always' | 'never' | undefined;

function foldOperator(op: CompiledOperator): Constant {
  const cs = op.criteria.map((c) => c.constant);
  if (cs.length === 0) return 'never';
  switch (op.operator) {
    case 'and':
      if (cs.includes('never')) return 'never';
      return cs.every((c) => c === 'always') ? 'always' : undefined;
    case 'or':
      if (cs.includes('always')) return 'always';
      return cs.every((c) => c === 'never') ? 'never' : undefined;
    case 'not':
      if (cs.includes('always')) return 'never';
      return cs.every((c) => c === 'never') ? 'always' : undefined;
    case 'nor':
      if (cs.includes('never')) return 'always';
      return cs.every((c) => c === 'always') ? 'never' : undefined;
  }
}

function neverWhy(op: CompiledOperator): string {
  if (op.criteria.length === 0) return `an empty "${op.operator}" list never matches`;
  switch (op.operator) {
    case 'and': return '"and" holds a criterion that never matches (such as reject or an empty "in" list)';
    case 'or': return 'every criterion in this "or" never matches';
    case 'not': return '"not" holds a criterion that always matches (such as accept)';
    case 'nor': return 'every criterion in this "nor" always matches';
  }
}

/**
 * Warnings about rules that can never match or that always deny; an empty
 * list means nothing was found. Paths are those of the compiled policy.
 */
export function lintPolicy(compiled: CompiledPolicy): PolicyWarning[] {
  if (!(compiled instanceof PolicyProgram)) {
    throw new TypeError('lintPolicy: policy must come from parsePolicy or compileRoutePolicy');
  }
  const warnings: PolicyWarning[] = [];
  let allowCanMatch = false;
  let denyAlways = false;
  for (const op of compiled.operators) {
    const constant = foldOperator(op);
    if (constant === 'never') {
      warnings.push({ path: op.path, message: `this ${op.action} rule can never match: ${neverWhy(op)}` });
    } else if (op.action === 'deny' && constant === 'always') {
      warnings.push({ path: op.path, message: 'this deny rule always matches: every request is denied' });
      denyAlways = true;
    }
    if (op.action === 'allow' && constant !== 'never') allowCanMatch = true;
    for (const c of op.criteria) {
      if (c.constant === 'never' && c.criterion !== 'reject') {
        warnings.push({ path: c.path, message: `"${c.criterion}" can never match (an empty list of values)` });
      }
    }
  }
  if (!allowCanMatch && !denyAlways) {
    warnings.push({
      path: compiled.where,
      message: compiled.operators.some((o) => o.action === 'allow')
        ? 'no allow rule can match: every request is denied'
        : 'there is no allow rule: every request is denied',
    });
  }
  return warnings;
}
