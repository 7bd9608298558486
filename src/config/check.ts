/**
 * Small value checkers shared by the global and route key tables. Each takes
 * the raw value and its path in the document, and either returns the typed
 * value or throws a ConfigError that names the path and what was expected.
 */

import { ConfigError, editDistance } from '../errors/index.js';
import { parseDuration } from './duration.js';
import type { ConfigWarning } from './types.js';

/** A path into the config document: key names and list indexes. */
export type ConfigPath = readonly (string | number)[];

/** Data carried in `ConfigError.cause` by every error from this folder. */
export interface ConfigErrorDetail {
  /** Structured path, so a file loader can find the YAML node. */
  readonly path: ConfigPath;
  /** The message without the `key: ` prefix. */
  readonly detail: string;
  /** True when the error is about the key itself (unknown key), not its value. */
  readonly aboutKey?: boolean;
  /** The environment variable the value came from, if any. */
  readonly env?: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** Set on an aggregate (see `aggregate`): every error it stands for. */
  readonly problems?: readonly ConfigError[];
}

/** `['routes', 1, 'to', 0]` → `routes[1].to[0]`; odd map keys are quoted. */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** Throws the ConfigError for `path`; the message never contains a secret unless the caller put one there. */
export function fail(path: ConfigPath, detail: string, extra?: Partial<ConfigErrorDetail>): never {
  const cause: ConfigErrorDetail = { ...extra, path, detail };
  throw new ConfigError(formatPath(path), detail, cause);
}

/** Reads the structured detail of a ConfigError thrown by this folder, if it has one. */
export function errorDetail(error: ConfigError): ConfigErrorDetail | undefined {
  const cause = error.cause as Partial<ConfigErrorDetail> | undefined;
  if (cause === undefined || !Array.isArray(cause.path) || typeof cause.detail !== 'string') return undefined;
  return cause as ConfigErrorDetail;
}

/** A short, safe description of a non-secret value for "got ..." messages. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'string') {
    if (value === '') return 'an empty string';
    // A URL's password is a secret whatever the key (an exporter endpoint, a connection string).
    const safe = value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*:)[^/?#@]*@/i, '$1[redacted]@');
    const shown = safe.length > 60 ? `${safe.slice(0, 57)}...` : safe;
    return JSON.stringify(shown);
  }
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/** Like describe, but only the kind of value: for secrets, whose text must never be shown. */
export function describeShape(value: unknown): string {
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  if (typeof value === 'number' || typeof value === 'boolean') return `a ${typeof value}`;
  return describe(value);
}

/**
 * The candidate that `name` is plausibly a misspelling of, or undefined:
 * within an edit distance of a quarter of its length (at least 1, and less
 * than half of it), or a prefix of it or extended by it, at least three
 * letters long (`idp_client` → `idp_client_id`, `keyfile` → `key`). Case-insensitive, `-` read as `_`;
 * the closest wins, ties go to the earlier candidate.
 */
export function nearestKey(name: string, candidates: readonly string[]): string | undefined {
  const wanted = name.toLowerCase().replaceAll('-', '_');
  const limit = Math.max(1, Math.floor(wanted.length / 4));
  let best: string | undefined;
  let bestScore = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(wanted, candidate);
    let score = distance <= limit && distance * 2 < wanted.length ? distance : Infinity;
    const [short, long] = wanted.length <= candidate.length ? [wanted, candidate] : [candidate, wanted];
    if (short.length >= 3 && long.startsWith(short)) score = Math.min(score, limit + 1 + (long.length - short.length) / 100);
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

/** The "unknown key" error for `key` under `at`, with a suggestion when one is close. */
export function unknownKeyError(key: string, known: readonly string[], at: ConfigPath): ConfigError {
  const suggestion = nearestKey(key, known);
  const hint = suggestion === undefined ? '' : `; did you mean "${suggestion}"?`;
  return captured(() => fail([...at, key], `unknown key${hint}`, { aboutKey: true }));
}

/** Throws every key of `object` not in `known` at once, each naming a close known key if there is one. */
export function rejectUnknownKeys(object: Record<string, unknown>, known: readonly string[], at: ConfigPath): void {
  const errors = Object.keys(object).filter((key) => !known.includes(key)).map((key) => unknownKeyError(key, known, at));
  if (errors.length > 0) throw aggregate(errors);
}

/** The ConfigError `fn` throws (fn must throw one). */
function captured(fn: () => never): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
}

/** Thrown when a check reads a value that already failed: the first error stands for both. */
export class Skipped extends Error {}

/**
 * One ConfigError standing for several: its key and detail are the first
 * one's, its message lists every one (a line each), and
 * `problemsOf(error)` returns them all.
 */
export function aggregate(problems: readonly ConfigError[]): ConfigError {
  const flat = problems.flatMap(problemsOf);
  const first = flat[0];
  if (first === undefined) throw new TypeError('aggregate of no errors');
  if (flat.length === 1) return first;
  const detail = errorDetail(first);
  const firstDetail = first.message.slice(first.key.length + 2);
  const message = [firstDetail, ...flat.slice(1).map((e) => e.message)].join('\n');
  return new ConfigError(first.key, message, { ...(detail ?? { path: [], detail: firstDetail }), problems: flat });
}

const WARNINGS = new WeakMap<ConfigError, readonly ConfigWarning[]>();

/**
 * Attaches the warnings found before the config was refused (ignored Pomerium
 * keys), so that `limen config check` can list them beside the errors.
 */
export function withWarnings(error: ConfigError, warnings: readonly ConfigWarning[]): ConfigError {
  if (warnings.length > 0) WARNINGS.set(error, warnings);
  return error;
}

/** The warnings attached to a refused config's error (none if there were none). */
export function warningsOf(error: ConfigError): readonly ConfigWarning[] {
  return WARNINGS.get(error) ?? [];
}

/** Every error a ConfigError stands for (itself, unless it is an aggregate). */
export function problemsOf(error: ConfigError): ConfigError[] {
  const problems = (error.cause as { problems?: unknown } | undefined)?.problems;
  return Array.isArray(problems) ? (problems as ConfigError[]) : [error];
}

/** Runs `fn`, adding its ConfigErrors to `problems` instead of throwing; undefined when it failed. */
export function collect<T>(problems: ConfigError[], fn: () => T): T | undefined {
  try {
    return fn();
  } catch (error) {
    if (error instanceof ConfigError) problems.push(...problemsOf(error));
    else if (!(error instanceof Skipped)) throw error;
    return undefined;
  }
}

/** A plain object (YAML mapping), not a list, null or class instance. */
export function isMapping(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A mapping of keys to values (never with a `__proto__` key). */
export function asMapping(value: unknown, at: ConfigPath): Record<string, unknown> {
  if (!isMapping(value)) fail(at, `expected a mapping of keys to values, got ${describe(value)}`);
  // Copying such a key with `out[key] = ...` would set the copy's prototype.
  if (Object.hasOwn(value, '__proto__')) fail([...at, '__proto__'], 'this key name is not allowed', { aboutKey: true });
  return value;
}

/** A string; numbers are read as their text, empty strings only with `allowEmpty`. */
export function asString(value: unknown, at: ConfigPath, opts: { allowEmpty?: boolean } = {}): string {
  // YAML reads `port: 8080` or `name: 2024` as numbers; a string was meant.
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') fail(at, `expected a string, got ${describe(value)}`);
  if (value === '' && opts.allowEmpty !== true) fail(at, 'expected a non-empty string, got an empty string');
  return value;
}

/** Like asString but never echoes the value: for secrets and credentials. */
export function asSecretString(value: unknown, at: ConfigPath): string {
  if (typeof value !== 'string') fail(at, `expected a string, got ${describeShape(value)}`);
  if (value.trim() === '') fail(at, 'expected a non-empty string, got an empty string');
  return value;
}

// Go's strconv.ParseBool, which Pomerium uses for environment values.
const TRUE_WORDS = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/** A boolean; the strings Go's strconv.ParseBool accepts are read too (environment values). */
export function asBool(value: unknown, at: ConfigPath): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    if (TRUE_WORDS.has(value)) return true;
    if (FALSE_WORDS.has(value)) return false;
  }
  fail(at, `expected true or false, got ${describe(value)}`);
}

/** A whole number in [min, max]; digit strings are read too. */
export function asInteger(value: unknown, at: ConfigPath, min: number, max: number): number {
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) {
    fail(at, `expected a whole number from ${min} to ${max}, got ${describe(value)}`);
  }
  return n;
}

/** Durations in Go syntax → ms. A bare number is only accepted as 0 (Go would read it as nanoseconds). */
export function asDuration(value: unknown, at: ConfigPath, opts: { positive?: boolean } = {}): number {
  const expected = 'expected a duration like "14h" or "30m"';
  let ms: number | undefined;
  if (value === 0 || value === '0') ms = 0;
  else if (typeof value === 'string') ms = parseDuration(value);
  if (ms === undefined) fail(at, `${expected}, got ${describe(value)}`);
  if (ms < 0) fail(at, `must not be negative, got ${describe(value)}`);
  if (opts.positive === true && ms === 0) fail(at, `must be longer than 0, got ${describe(value)}`);
  return ms;
}

/** One of `allowed`, optionally matched case-insensitively and returned as listed. */
export function asEnum<T extends string>(value: unknown, at: ConfigPath, allowed: readonly T[], opts: { caseInsensitive?: boolean } = {}): T {
  const candidate = typeof value === 'string' && opts.caseInsensitive === true ? value.toLowerCase() : value;
  const found = allowed.find((a) => a === candidate);
  if (found === undefined) {
    fail(at, `expected one of ${allowed.map((a) => `"${a}"`).join(', ')}, got ${describe(value)}`);
  }
  return found;
}

/** A list of non-empty strings; a single string is read as a comma-separated list. */
export function asStringList(value: unknown, at: ConfigPath, opts: { allowEmptyList?: boolean } = {}): string[] {
  let items: unknown[];
  if (typeof value === 'string') {
    items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  } else if (Array.isArray(value)) {
    items = value;
  } else {
    fail(at, `expected a list of strings, got ${describe(value)}`);
  }
  if (items.length === 0 && opts.allowEmptyList !== true) fail(at, `expected a list of strings, got ${describe(value)}`);
  return items.map((item, i) => asString(item, [...at, i]));
}

/** A mapping of strings to scalar values, read as strings. */
export function asStringMap(value: unknown, at: ConfigPath): Record<string, string> {
  const map = asMapping(value, at);
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(map)) {
    if (typeof item === 'boolean') out[key] = String(item);
    else out[key] = asString(item, [...at, key], { allowEmpty: true });
  }
  return out;
}

// RFC 9110 §5.6.2: field names are tokens.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** An HTTP field name. */
export function asHeaderName(value: unknown, at: ConfigPath): string {
  const name = asString(value, at);
  if (!TOKEN.test(name)) fail(at, `expected an HTTP header name, got ${describe(name)}`);
  return name;
}

/** Header values must not smuggle line breaks or NULs (RFC 9110 §5.5). */
export function asHeaderValue(value: unknown, at: ConfigPath): string {
  const text = typeof value === 'boolean' ? String(value) : asString(value, at, { allowEmpty: true });
  if (/[\r\n\0]/.test(text)) fail(at, 'expected a header value without line breaks or NUL characters');
  return text;
}

/** A header name → value mapping, checked for both. */
export function asHeaderMap(value: unknown, at: ConfigPath): Record<string, string> {
  const map = asMapping(value, at);
  const out: Record<string, string> = {};
  for (const [name, item] of Object.entries(map)) {
    asHeaderName(name, [...at, name]);
    out[name] = asHeaderValue(item, [...at, name]);
  }
  return out;
}

/** Go's http.CanonicalHeaderKey: `x-pomerium-claim-given-name` → `X-Pomerium-Claim-Given-Name`. */
export function canonicalHeaderName(name: string): string {
  return name
    .split('-')
    .map((part) => (part === '' ? part : part[0]?.toUpperCase() + part.slice(1).toLowerCase()))
    .join('-');
}

/**
 * An absolute http(s) URL with a host and no credentials, query or fragment.
 * `allowHttp` false means only https.
 */
export function asHttpUrl(value: unknown, at: ConfigPath, opts: { allowHttp: boolean; httpHint?: string }): URL {
  const text = asString(value, at);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    fail(at, `expected an absolute URL like "https://host.example.com", got ${describe(text)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    fail(at, `expected an http or https URL, got scheme "${url.protocol.slice(0, -1)}"`);
  }
  if (url.protocol === 'http:' && !opts.allowHttp) {
    fail(at, `expected an https URL${opts.httpHint ?? ''}`);
  }
  if (url.hostname === '') fail(at, 'expected a URL with a host');
  if (url.username !== '' || url.password !== '') fail(at, 'expected a URL without user name or password');
  if (url.search !== '' || url.hash !== '') fail(at, 'expected a URL without query or fragment');
  return url;
}

/**
 * A listen address: `:8080`, `127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`.
 * Host '' means all interfaces (Go's `net.Listen` reading of `:8080`).
 */
export function asAddress(value: unknown, at: ConfigPath): { host: string; port: number } {
  const text = asString(value, at);
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text);
  const port = match === null ? Number.NaN : Number(match[3]);
  if (match === null || port > 65535) {
    fail(at, `expected an address like ":8080", "127.0.0.1:8080" or "[::1]:8080", got ${describe(text)}`);
  }
  return { host: match[1] ?? match[2] ?? '', port };
}
