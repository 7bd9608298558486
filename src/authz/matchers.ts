/**
 * String and list matchers (CONTRACT §3). Each matcher is compiled to a
 * predicate over a "value set": a string (one value), an array (each scalar
 * element a value), or undefined/null (no values: the claim is missing).
 *
 * Semantics over the value set S (a scalar `s` is S = [s], so on one string
 * these are the plain string matchers):
 *   has x        x ∈ S
 *   is x         S = [x] (for a list: exactly one value, and it is x)
 *   exclude x    x ∉ S
 *   not x        x ∉ S
 *   contains / starts_with / ends_with x    some value in S matches
 *   in [..]      some value in S is in the list
 *   not_in [..]  no value in S is in the list
 * So on a missing claim the positive matchers are false and the negative
 * ones (`exclude`, `not`, `not_in`) are true: the user does not have that
 * value. Numbers and booleans compare by their text (`3` = "3"); objects are
 * never equal to anything.
 */

import { PolicyError } from '../errors/index.js';

export type MatcherName =
  | 'is' | 'not' | 'contains' | 'starts_with' | 'ends_with' | 'in' | 'not_in'
  | 'has' | 'exclude';

export const STRING_MATCHERS: readonly MatcherName[] = ['is', 'not', 'contains', 'starts_with', 'ends_with', 'in', 'not_in'];
export const LIST_MATCHERS: readonly MatcherName[] = ['has', 'is', 'exclude'];
export const CLAIM_MATCHERS: readonly MatcherName[] = ['has', 'is', 'exclude', 'not', 'contains', 'starts_with', 'ends_with', 'in', 'not_in'];

/** A compiled matcher over a value set. */
export type ValueTest = (values: unknown) => boolean;

export interface MatcherOptions {
  /** Matchers accepted, in the order named by error messages. */
  readonly allowed: readonly MatcherName[];
  /** Matcher meant by a bare scalar (`email: a@b.c` = `is`; `groups: x` = `has`). */
  readonly bare: MatcherName;
  /** Applied to every operand at compile time (e.g. lower-case for email). */
  readonly normalize?: (s: string) => string;
  /** Name used in messages, e.g. `email`. */
  readonly criterion: string;
}

/** One `matcher: operand` pair, for lint and explanation. */
export interface MatcherSpec {
  readonly name: MatcherName;
  readonly operand: string | readonly string[];
}

export interface CompiledMatcher {
  readonly test: ValueTest;
  readonly specs: readonly MatcherSpec[];
}

/** Text of a scalar value, or undefined for anything that is not a scalar. */
export function scalarText(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string': return v;
    case 'number': return Number.isFinite(v) ? String(v) : undefined;
    case 'boolean': return v ? 'true' : 'false';
    case 'bigint': return String(v);
    default: return undefined;
  }
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : `${typeof v}`;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function some(values: unknown, pred: (s: string) => boolean): boolean {
  if (typeof values === 'string') return pred(values);
  if (Array.isArray(values)) {
    for (let i = 0; i < values.length; i++) {
      const v: unknown = values[i];
      const text = typeof v === 'string' ? v : scalarText(v);
      if (text !== undefined && pred(text)) return true;
    }
    return false;
  }
  const text = scalarText(values);
  return text !== undefined && pred(text);
}

function hasValue(values: unknown, x: string): boolean {
  if (typeof values === 'string') return values === x;
  if (Array.isArray(values)) {
    for (let i = 0; i < values.length; i++) {
      const v: unknown = values[i];
      if (v === x || (typeof v !== 'string' && scalarText(v) === x)) return true;
    }
    return false;
  }
  return scalarText(values) === x;
}

function countValues(values: unknown): number {
  if (values === undefined || values === null) return 0;
  if (Array.isArray(values)) return values.length;
  return 1;
}

function build(name: MatcherName, operand: string | readonly string[]): ValueTest {
  switch (name) {
    case 'has': {
      const x = operand as string;
      return (v) => hasValue(v, x);
    }
    case 'is': {
      const x = operand as string;
      return (v) => (typeof v === 'string' ? v === x : countValues(v) === 1 && hasValue(v, x));
    }
    case 'exclude':
    case 'not': {
      const x = operand as string;
      return (v) => !hasValue(v, x);
    }
    case 'contains': {
      const x = operand as string;
      return (v) => some(v, (s) => s.includes(x));
    }
    case 'starts_with': {
      const x = operand as string;
      return (v) => some(v, (s) => s.startsWith(x));
    }
    case 'ends_with': {
      const x = operand as string;
      return (v) => some(v, (s) => s.endsWith(x));
    }
    case 'in': {
      const set = new Set(operand as readonly string[]);
      return (v) => some(v, (s) => set.has(s));
    }
    case 'not_in': {
      const set = new Set(operand as readonly string[]);
      return (v) => !some(v, (s) => set.has(s));
    }
  }
}

function listHint(allowed: readonly MatcherName[]): string {
  return allowed.includes('in')
    ? '; to accept any of several values, use "in"'
    : '; to accept any of several values, use several criteria under "or"';
}

/**
 * Compiles a matcher document (`x`, `{is: x}`, `{starts_with: a, ends_with: b}`)
 * at `path`. Several matchers in one object must all hold. Throws PolicyError
 * naming the bad node.
 */
export function compileMatcher(path: string, doc: unknown, options: MatcherOptions): CompiledMatcher {
  const normalize = options.normalize ?? ((s: string) => s);
  const specs: MatcherSpec[] = [];
  const operandOf = (name: MatcherName, value: unknown, at: string): string | readonly string[] => {
    if (name === 'in' || name === 'not_in') {
      if (!Array.isArray(value)) {
        throw new PolicyError(at, `expected a list of values, got ${describeType(value)}`);
      }
      return value.map((item, i) => {
        const text = scalarText(item);
        if (text === undefined) throw new PolicyError(`${at}[${i}]`, `expected a string, got ${describeType(item)}`);
        return normalize(text);
      });
    }
    const text = scalarText(value);
    if (text === undefined) {
      const hint = Array.isArray(value) ? listHint(options.allowed) : '';
      throw new PolicyError(at, `expected a string, got ${describeType(value)}${hint}`);
    }
    return normalize(text);
  };

  if (isPlainObject(doc)) {
    const keys = Object.keys(doc);
    if (keys.length === 0) {
      throw new PolicyError(path, `expected a value or matchers (one of ${options.allowed.join(', ')}), got an empty object`);
    }
    for (const key of keys) {
      if (!(options.allowed as readonly string[]).includes(key)) {
        throw new PolicyError(path, `unknown matcher "${key}" (expected one of ${options.allowed.join(', ')})`);
      }
      const name = key as MatcherName;
      specs.push({ name, operand: operandOf(name, doc[key], `${path}.${key}`) });
    }
  } else if (scalarText(doc) !== undefined) {
    specs.push({ name: options.bare, operand: operandOf(options.bare, doc, path) });
  } else {
    const hint = Array.isArray(doc) ? listHint(options.allowed) : '';
    throw new PolicyError(
      path,
      `expected a value or an object of matchers (one of ${options.allowed.join(', ')}), got ${describeType(doc)}${hint}`,
    );
  }

  const tests = specs.map((s) => build(s.name, s.operand));
  let test: ValueTest;
  if (tests.length === 1) {
    test = tests[0]!;
  } else {
    test = (v) => {
      for (let i = 0; i < tests.length; i++) if (!tests[i]!(v)) return false;
      return true;
    };
  }
  return { test, specs };
}
