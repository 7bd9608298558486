/**
 * The declarative key table both the global keys and the route keys are
 * written in: one row per config key with its documented type, default and
 * description, a reader for a present value and a fallback for an absent one.
 * The same rows produce the README's configuration reference.
 */

import { ConfigError } from '../errors/index.js';
import { aggregate, describe, describeShape, errorDetail, fail, problemsOf, Skipped, type ConfigPath } from './check.js';

/** Read access to the fields resolved so far (rows are resolved in table order). */
export interface Resolved<Fields> {
  value<F extends keyof Fields>(field: F): Fields[F];
}

export interface KeySpec<T, Ctx> {
  /** The snake_case key as written in YAML. */
  readonly key: string;
  /** Human-readable type for the reference, e.g. `duration`, `list of strings`. */
  readonly type: string;
  /** Documented default as Markdown (literal values in backticks, prose plain), '' when there is none. */
  readonly default: string;
  readonly description: string;
  /** Reads a present value; throws ConfigError naming `at`. */
  readonly parse: (value: unknown, at: ConfigPath, ctx: Ctx) => T;
  /** The value when the key is absent; may throw "required". */
  readonly fallback: (at: ConfigPath, ctx: Ctx) => T;
}

export type KeyTable<Fields, Ctx> = { readonly [F in keyof Fields]: KeySpec<Fields[F], Ctx & Resolved<Fields>> };

/** Where a key's value was found. */
export interface Found {
  readonly value: unknown;
  readonly at: ConfigPath;
  /** Set when the value came from this environment variable. */
  readonly env?: string;
  /** How messages name where the value came from when that is not `env` itself (the file a `NAME_FILE` variable names). */
  readonly from?: string;
}

/** One row of a generated configuration reference. */
export interface KeyReference {
  readonly key: string;
  readonly type: string;
  readonly default: string;
  readonly description: string;
}

/**
 * Resolves every row of `table` in order. `find` locates a key's value (in
 * the document or the environment); absent keys take their fallback. Every
 * row is tried: the errors of all rows are thrown together (see
 * `aggregate`), and a row that reads a failed row is skipped rather than
 * reported twice.
 */
export function resolveTable<Fields, Ctx extends object>(
  table: KeyTable<Fields, Ctx>,
  ctx: Ctx,
  find: (spec: KeySpec<unknown, unknown>) => Found | undefined,
  at: ConfigPath,
): Fields {
  const { fields, problems } = resolveTablePartly(table, ctx, find, at);
  if (problems.length > 0) throw aggregate(problems);
  return fields as Fields;
}

/** resolveTable without the throw: the fields that resolved, which failed, and every error. */
export function resolveTablePartly<Fields, Ctx extends object>(
  table: KeyTable<Fields, Ctx>,
  ctx: Ctx,
  find: (spec: KeySpec<unknown, unknown>) => Found | undefined,
  at: ConfigPath,
): { fields: Partial<Fields>; failed: ReadonlySet<keyof Fields>; problems: ConfigError[] } {
  const out: Partial<Fields> = {};
  const failed = new Set<keyof Fields>();
  const problems: ConfigError[] = [];
  const resolved: Resolved<Fields> = {
    value(field) {
      if (failed.has(field)) throw new Skipped();
      if (!(field in out)) throw new TypeError(`config table order: ${String(field)} read before it was resolved`);
      return out[field] as Fields[typeof field];
    },
  };
  const fullCtx = Object.assign(Object.create(null) as object, ctx, resolved) as Ctx & Resolved<Fields>;
  for (const field of Object.keys(table) as (keyof Fields)[]) {
    const spec = table[field];
    let found: Found | undefined;
    try {
      found = find(spec as KeySpec<unknown, unknown>);
      out[field] = found === undefined ? spec.fallback([...at, spec.key], fullCtx) : spec.parse(found.value, found.at, fullCtx);
    } catch (error) {
      failed.add(field);
      if (error instanceof Skipped) continue;
      const hidden = (spec as { secret?: boolean }).secret === true && found !== undefined ? withSecretHidden(error, found.value) : error;
      const located = withEnvironmentSource(hidden, found?.env, found?.from);
      if (!(located instanceof ConfigError)) throw located;
      problems.push(...problemsOf(located));
    }
  }
  return { fields: out, failed, problems };
}

/**
 * An error about a secret's value with the value taken out: a reader's
 * "got ..." quotes it as `describe` does, for the key's shape of value
 * (a header map read from a string, say), so every string in the value is
 * put back as only its kind. The key and what was expected stay.
 */
const MIN_RAW_SECRET = 8;

function withSecretHidden(error: unknown, value: unknown): unknown {
  if (!(error instanceof ConfigError)) return error;
  const detail = errorDetail(error);
  if (detail === undefined) return error;
  const strings: string[] = [];
  const collect = (v: unknown): void => {
    if (typeof v === 'string') { if (v !== '') strings.push(v); } else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) collect(x);
  };
  collect(value);
  let text = detail.detail;
  for (const s of strings.sort((a, b) => b.length - a.length)) {
    text = text.split(describe(s)).join(describeShape(s));
    // Unquoted too, when long enough not to be a word of the message itself ("a", "key").
    if (s.length >= MIN_RAW_SECRET) text = text.split(s).join('[redacted]');
  }
  if (text === detail.detail) return error;
  try {
    fail(detail.path, text, detail);
  } catch (hidden) {
    return hidden;
  }
}

/** Adds "(from NAME)" to an error about a value that came from the environment. */
function withEnvironmentSource(error: unknown, env: string | undefined, from: string | undefined): unknown {
  if (env === undefined || !(error instanceof ConfigError)) return error;
  const detail = errorDetail(error);
  if (detail === undefined || detail.env !== undefined) return error;
  try {
    fail(detail.path, `${detail.detail} (from ${from ?? `the ${env} environment variable`})`, { ...detail, env });
  } catch (wrapped) {
    return wrapped;
  }
}

/** The reference rows of a table, in table order. */
export function referenceOf(table: { readonly [field: string]: KeyReference }): KeyReference[] {
  return Object.values(table).map(({ key, type, default: def, description }) => ({ key, type, default: def, description }));
}
