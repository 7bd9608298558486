/**
 * PPL document → compiled policy (CONTRACT §3). The document is what YAML or
 * JSON parsing produced: one rule object or a list of rules; a rule has
 * `allow` and/or `deny`; each holds `and`/`or`/`not`/`nor` lists of
 * single-key criterion objects. Every error is a PolicyError whose path names
 * the bad node, e.g. `routes[2].policy[0].allow.or[1].email`.
 */

import { PolicyError } from '../errors/index.js';
import { compileCriterion, nearestName, type CompiledCriterion } from './criteria.js';
import { isPlainObject } from './matchers.js';
import { OPERATOR_NAMES, PolicyProgram, type Action, type OperatorDraft, type OperatorName } from './program.js';
import type { CompiledPolicy } from './types.js';

const ACTIONS: readonly Action[] = ['allow', 'deny'];

function describeType(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : typeof v;
}

function parseCriterion(path: string, doc: unknown): CompiledCriterion {
  if (!isPlainObject(doc)) {
    const hint = typeof doc === 'string' ? ` (write "${doc}: true" or "${doc}: <value>")` : '';
    throw new PolicyError(path, `expected a criterion object like {email: {is: a@example.com}}, got ${describeType(doc)}${hint}`);
  }
  const keys = Object.keys(doc);
  if (keys.length !== 1) {
    throw new PolicyError(
      path,
      keys.length === 0
        ? 'empty criterion (expected one key, e.g. email)'
        : `a criterion has exactly one key, found ${keys.length} (${keys.join(', ')}); put each in its own list item`,
    );
  }
  const key = keys[0]!;
  return compileCriterion(path, key, doc[key]);
}

function parseOperators(path: string, action: Action, body: unknown): OperatorDraft[] {
  if (!isPlainObject(body) || Object.keys(body).length === 0) {
    throw new PolicyError(path, `expected an object with one or more of ${OPERATOR_NAMES.join(', ')}, got ${isPlainObject(body) ? 'an empty object' : describeType(body)}`);
  }
  const drafts: OperatorDraft[] = [];
  for (const [key, list] of Object.entries(body)) {
    if (!(OPERATOR_NAMES as readonly string[]).includes(key)) {
      throw new PolicyError(
        path,
        `unknown operator "${key}" (expected one of ${OPERATOR_NAMES.join(', ')}; criteria go in a list under one of them)`,
      );
    }
    const opPath = `${path}.${key}`;
    if (!Array.isArray(list)) {
      throw new PolicyError(opPath, `expected a list of criteria, got ${describeType(list)}`);
    }
    drafts.push({
      path: opPath,
      action,
      operator: key as OperatorName,
      criteria: list.map((item, i) => parseCriterion(`${opPath}[${i}]`, item)),
    });
  }
  return drafts;
}

function parseRule(path: string, doc: unknown): OperatorDraft[] {
  if (!isPlainObject(doc)) {
    throw new PolicyError(path, `expected a rule object with "allow" and/or "deny", got ${describeType(doc)}`);
  }
  const keys = Object.keys(doc);
  if (keys.length === 0) throw new PolicyError(path, 'empty rule (expected "allow" and/or "deny")');
  const drafts: OperatorDraft[] = [];
  for (const key of keys) {
    if (!(ACTIONS as readonly string[]).includes(key)) {
      throw new PolicyError(path, `unknown key "${key}" (expected allow or deny; did you mean "${nearestName(key, ACTIONS)}"?)`);
    }
    drafts.push(...parseOperators(`${path}.${key}`, key as Action, doc[key]));
  }
  return drafts;
}

/** Parses a document into operator drafts (exported for route shortcuts). */
export function parseDrafts(doc: unknown, where: string): OperatorDraft[] {
  if (Array.isArray(doc)) return doc.flatMap((rule, i) => parseRule(`${where}[${i}]`, rule));
  if (isPlainObject(doc)) return parseRule(where, doc);
  throw new PolicyError(where, `expected a rule object or a list of rules, got ${describeType(doc)}`);
}

/**
 * Parses and compiles a PPL document once; `where` prefixes every path
 * (e.g. `routes[2].policy`). Throws PolicyError naming the bad node. The
 * result is immutable and safe to share across requests.
 */
export function parsePolicy(doc: unknown, where: string): CompiledPolicy {
  return new PolicyProgram(where, parseDrafts(doc, where));
}
