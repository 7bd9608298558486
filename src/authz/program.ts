/**
 * The compiled form of a policy: one flat array of criteria in document
 * order, and the operators as index ranges into it. `evaluate` runs every
 * criterion once into a trace array of the same order, then folds each
 * operator's range; nothing is looked up by name at request time.
 */

import type { CompiledCriterion, Outcome } from './criteria.js';
import type { CompiledPolicy, Decision, PolicyOperatorInfo, RecordKey } from './types.js';

export type Action = 'allow' | 'deny';
export type OperatorName = 'and' | 'or' | 'not' | 'nor';
export const OPERATOR_NAMES: readonly OperatorName[] = ['and', 'or', 'not', 'nor'];

/** An operator before assembly: its path and criteria. */
export interface OperatorDraft {
  readonly path: string;
  readonly action: Action;
  readonly operator: OperatorName;
  readonly criteria: readonly CompiledCriterion[];
}

/** An operator after assembly: criteria are `program.criteria[start..end)`. */
export interface CompiledOperator extends PolicyOperatorInfo {
  /** Position in `program.operators` (and in `program.states`). */
  readonly index: number;
  readonly start: number;
  readonly end: number;
  readonly criteria: readonly CompiledCriterion[];
}

export class PolicyProgram implements CompiledPolicy {
  readonly where: string;
  readonly criteria: readonly CompiledCriterion[];
  readonly operators: readonly CompiledOperator[];
  readonly allowOperators: readonly CompiledOperator[];
  readonly denyOperators: readonly CompiledOperator[];
  readonly needsIdentity: boolean;
  /**
   * Scratch space for `evaluate`: each operator's folded state during one
   * call. Safe to share because folding runs no caller code (the `records`
   * lookup happens earlier), so calls cannot interleave inside it.
   */
  readonly states: Uint8Array;
  /**
   * Decisions by outcome signature (see evaluate.ts), or undefined when the
   * policy has too many criteria for an exact base-3 key. Mutable contents
   * in a frozen program: a memo of a pure function.
   */
  readonly decisions: Map<number, Decision> | undefined;
  /** Reused buffer for the criteria pass; `busy` guards re-entry from `records`. */
  readonly scratch: { outcomes: Outcome[]; busy: boolean };
  readonly recordTypes: readonly string[];
  readonly recordLookups: readonly { readonly type: string; readonly key: RecordKey }[];

  constructor(where: string, drafts: readonly OperatorDraft[]) {
    this.where = where;
    const criteria: CompiledCriterion[] = [];
    const operators: CompiledOperator[] = [];
    for (const draft of drafts) {
      const start = criteria.length;
      criteria.push(...draft.criteria);
      operators.push(Object.freeze({
        ...draft,
        criteria: Object.freeze([...draft.criteria]),
        index: operators.length,
        start,
        end: criteria.length,
      }));
    }
    this.criteria = Object.freeze(criteria);
    this.operators = Object.freeze(operators);
    this.allowOperators = Object.freeze(operators.filter((o) => o.action === 'allow'));
    this.denyOperators = Object.freeze(operators.filter((o) => o.action === 'deny'));
    this.needsIdentity = criteria.some((c) => c.needsIdentity);
    this.states = new Uint8Array(operators.length);
    // 3^33 < 2^53: up to 33 criteria the base-3 signature is an exact integer.
    this.decisions = criteria.length <= 33 ? new Map() : undefined;
    this.scratch = { outcomes: new Array<Outcome>(criteria.length), busy: false };
    const lookups = new Map<string, { type: string; key: RecordKey }>();
    for (const c of criteria) {
      if (c.record !== undefined) lookups.set(`${c.record.type}\u0000${c.record.key}`, Object.freeze({ ...c.record }));
    }
    this.recordLookups = Object.freeze([...lookups.values()]);
    this.recordTypes = Object.freeze([...new Set(this.recordLookups.map((l) => l.type))]);
    Object.freeze(this);
  }
}
