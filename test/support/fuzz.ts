/**
 * Shared harness for the property-based fuzz tests (`*.fuzz.test.ts`), on
 * fast-check. `npm test` runs every property with its small default budget;
 * `npm run fuzz` sets `FUZZ_RUNS` to run each one that many times. Any
 * failure reports the seed and shrunk counterexample; `FUZZ_SEED` (and
 * `FUZZ_PATH` from the report) replays it exactly.
 *
 * Environment:
 * - `FUZZ_RUNS`: cases per property (default: the property's own small budget)
 * - `FUZZ_SEED`: fixed seed (default: random, printed on failure)
 * - `FUZZ_PATH`: replay path printed with a failure (needs `FUZZ_SEED`)
 * - `FUZZ_REPORT`: a file to which one JSON line per property is appended
 *   (name, cases, ms, seed), for `scripts/fuzz.sh` to total up.
 */
import { appendFileSync } from 'node:fs';
import fc from 'fast-check';

/** A single case taking longer than this counts as a hang (generous: the test machine is shared). */
export const HANG_MS = 5_000;

/** Cases for a property: `FUZZ_RUNS` when set, else `defaultRuns`. */
export function fuzzRuns(defaultRuns: number): number {
  const n = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(n) && n > 0 ? n : defaultRuns;
}

function parameters<T>(defaultRuns: number): fc.Parameters<T> {
  const seed = Number(process.env.FUZZ_SEED);
  const path = process.env.FUZZ_PATH;
  return {
    numRuns: fuzzRuns(defaultRuns),
    ...(Number.isInteger(seed) ? { seed } : {}),
    ...(Number.isInteger(seed) && path ? { path } : {}),
  };
}

function report(name: string, details: fc.RunDetails<unknown>, ms: number): void {
  const file = process.env.FUZZ_REPORT;
  if (!file) return;
  appendFileSync(file, `${JSON.stringify({ name, cases: details.numRuns, ms: Math.round(ms), seed: details.seed, failed: details.failed })}\n`);
}

function failure(name: string, details: fc.RunDetails<unknown>): Error {
  const replay = `replay: FUZZ_SEED=${details.seed}${details.counterexamplePath ? ` FUZZ_PATH=${details.counterexamplePath}` : ''}`;
  const cause = details.errorInstance instanceof Error ? details.errorInstance : undefined;
  const got = cause ? `\nGot: ${cause.stack ?? cause.message}` : '';
  return new Error(`fuzz property "${name}" failed (${replay})\n${fc.defaultReportMessage(details) ?? ''}${got}`);
}

/** Runs a synchronous property; throws with the seed and counterexample on failure. */
export function fuzzSync<Ts extends [unknown, ...unknown[]]>(
  name: string, defaultRuns: number, arbs: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> }, predicate: (...args: Ts) => void,
): void {
  const timed = (...args: Ts): void => {
    const t0 = performance.now();
    predicate(...args);
    const ms = performance.now() - t0;
    if (ms > HANG_MS) throw new Error(`one case took ${Math.round(ms)} ms (hang)`);
  };
  const prop = fc.property(...(arbs as unknown as [fc.Arbitrary<unknown>]), timed as (...a: unknown[]) => void);
  const t0 = performance.now();
  const details = fc.check(prop, parameters(defaultRuns)) as fc.RunDetails<unknown>;
  report(name, details, performance.now() - t0);
  if (details.failed) throw failure(name, details);
}

/** Runs an asynchronous property; a case that does not settle within HANG_MS fails as a hang. */
export async function fuzzAsync<Ts extends [unknown, ...unknown[]]>(
  name: string, defaultRuns: number, arbs: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> }, predicate: (...args: Ts) => Promise<void>,
): Promise<void> {
  const prop = fc.asyncProperty(...(arbs as unknown as [fc.Arbitrary<unknown>]), predicate as (...a: unknown[]) => Promise<void>);
  const t0 = performance.now();
  const details = await fc.check(prop, { ...parameters(defaultRuns), timeout: HANG_MS }) as fc.RunDetails<unknown>;
  report(name, details, performance.now() - t0);
  if (details.failed) throw failure(name, details);
}

// ------------------------------------------------------------- generators

/** One edit of a string: insert, delete, replace or duplicate a stretch. */
type Edit = { kind: 'insert' | 'replace'; at: number; text: string } | { kind: 'delete' | 'duplicate'; at: number; len: number };

/** Characters that matter to parsers: separators, quotes, escapes, controls, non-ASCII. */
const INTERESTING = [
  '', ' ', '.', ',', ';', ':', '=', '"', "'", '\\', '/', '%', '%00', '%2f', '%zz', '\u0000', '\n', '\r\n', '\t', '[', ']', '{', '}',
  '-', '_', '@', '*', '#', '?', '&', '+', '~', 'é', '\u00b5', '\u2028', '\ud800', '\uffff', '0', '-1', '1e309', 'NaN', 'null', 'true',
  'A'.repeat(300), '__proto__', 'constructor',
];

const insertText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...INTERESTING),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
);

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: insertText }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), text: insertText }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 32 }) }),
);

function applyEdit(s: string, e: Edit): string {
  const at = s.length === 0 ? 0 : e.at % (s.length + 1);
  switch (e.kind) {
    case 'insert': return s.slice(0, at) + e.text + s.slice(at);
    case 'replace': return s.slice(0, at) + e.text + s.slice(at + Math.max(1, e.text.length));
    case 'delete': return s.slice(0, at) + s.slice(at + e.len);
    case 'duplicate': return s.slice(0, at + e.len) + s.slice(at, at + e.len) + s.slice(at + e.len);
  }
}

/** A few random edits of one of `seeds`: close to valid input, so parsers get past their first check. */
export function mutatedString(...seeds: readonly string[]): fc.Arbitrary<string> {
  return fc.tuple(fc.constantFrom(...seeds), fc.array(edit, { minLength: 0, maxLength: 4 }))
    .map(([seed, edits]) => edits.reduce(applyEdit, seed));
}

/** JSON values that trip up code expecting a particular shape. */
export const awkwardJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, 1e308, -0, '', ' ', 'x', '0', 'true', '__proto__', [], {}, [null], [''], { '': '' }, { __proto__: 1 }, 'a'.repeat(5000)) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>('a\u0000b', '\u0000', '\ud800', 'x\udc00y', 'ada@example.com\u0000', '\u2028', 'a\nb', ' padded ', 'É@EXAMPLE.COM', '..', '/', '%2f', '%zz') },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 10 }) },
);

/** A JSON path step: an index into the children of an object or array. */
interface JsonMutation { readonly path: readonly number[]; readonly action: 'replace' | 'delete' | 'add' | 'damage'; readonly key: string; readonly value: unknown }

const jsonMutation: fc.Arbitrary<JsonMutation> = fc.record({
  path: fc.array(fc.nat(), { maxLength: 4 }),
  action: fc.constantFrom('replace' as const, 'delete' as const, 'add' as const, 'damage' as const),
  key: fc.oneof(fc.constantFrom('id', 'name', 'value', 'op', 'path', 'email', 'type', '__proto__', 'constructor', ''), fc.string({ maxLength: 10 }), insertText),
  value: awkwardJson,
});

function applyJsonMutation(doc: unknown, m: JsonMutation, depth = 0): unknown {
  const container = typeof doc === 'object' && doc !== null;
  const keys = container ? Object.keys(doc) : [];
  if (!container || depth >= m.path.length || keys.length === 0) {
    // Damage keeps a string nearly as it was (an email with a NUL, a name with a lone surrogate).
    if (m.action === 'damage' && typeof doc === 'string') return doc + m.key;
    if (m.action === 'replace' || m.action === 'damage' || !container) return m.value;
    if (Array.isArray(doc)) return m.action === 'add' ? [...doc, m.value] : doc.slice(1);
    const copy: Record<string, unknown> = { ...(doc as Record<string, unknown>) };
    if (m.action === 'add') Object.defineProperty(copy, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    else delete copy[keys[(m.path[0] ?? 0) % Math.max(1, keys.length)]!];
    return copy;
  }
  const k = keys[m.path[depth]! % keys.length]!;
  if (Array.isArray(doc)) {
    const copy = [...doc];
    copy[Number(k)] = applyJsonMutation(doc[Number(k)], m, depth + 1);
    return copy;
  }
  const copy: Record<string, unknown> = { ...(doc as Record<string, unknown>) };
  Object.defineProperty(copy, k, { value: applyJsonMutation((doc as Record<string, unknown>)[k], m, depth + 1), enumerable: true, writable: true, configurable: true });
  return copy;
}

/** One of `seeds` with a few structural changes: a node replaced by an awkward value, a key dropped or added. */
export function mutatedJson(...seeds: readonly unknown[]): fc.Arbitrary<unknown> {
  return fc.tuple(fc.constantFrom(...seeds), fc.array(jsonMutation, { minLength: 1, maxLength: 3 }))
    .map(([seed, ms]) => ms.reduce<unknown>((d, m) => applyJsonMutation(d, m), seed));
}

/** JSON text: mostly a structural mutation of a seed, sometimes text-level damage (invalid JSON). */
export function mutatedJsonText(...seeds: readonly unknown[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: mutatedJson(...seeds).map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: mutatedString(...seeds.map((s) => JSON.stringify(s))) },
  );
}
