/**
 * Every PPL criterion (CONTRACT §3), each compiled once into a closure that
 * returns one of a few outcome objects built at compile time, so evaluating a
 * criterion allocates next to nothing (`domain` slices the email; an IPv6
 * client address is parsed). An outcome is the CriterionTrace itself:
 * `matched` plus the reason (`email-ok`, `email-unauthorized`, ...).
 *
 * A criterion that needs an identity returns `user-unauthenticated` when the
 * request has none. That outcome is "unknown" to the evaluator, not "false":
 * signing in could change it either way (see evaluate.ts).
 */

import { editDistance, PolicyError } from '../errors/index.js';
import { compileCidrSet, parseCidr, type Cidr } from './ip.js';
import { normalizePath } from './path.js';
import {
  CLAIM_MATCHERS,
  LIST_MATCHERS,
  STRING_MATCHERS,
  compileMatcher,
  isPlainObject,
  scalarText,
  type CompiledMatcher,
} from './matchers.js';
import {
  ZoneClock,
  localDayOfWeek,
  localSecondOfDay,
  parseDaysOfWeek,
  parseIsoInstant,
  parseTimeOfDay,
} from './time.js';
import type {
  CriterionTrace,
  IdentityInfo,
  PolicyCriterionInfo,
  PolicyInput,
  RecordKey,
} from './types.js';

export const USER_UNAUTHENTICATED = 'user-unauthenticated';

/** A compiled criterion: its facts plus the closure that evaluates it. */
export interface CompiledCriterion extends PolicyCriterionInfo {
  readonly record: { readonly type: string; readonly key: RecordKey } | undefined;
  readonly test: (input: PolicyInput, now: number) => Outcome;
}

/** Every criterion name, for messages and the nearest-name suggestion. */
export const CRITERION_NAMES = [
  'accept', 'reject', 'authenticated_user', 'user', 'email', 'domain', 'groups', 'claim',
  'http_method', 'http_path', 'source_ip', 'cors_preflight', 'client_certificate',
  'invalid_client_certificate', 'date', 'day_of_week', 'time_of_day', 'record',
] as const;

export type CriterionName = (typeof CRITERION_NAMES)[number];

interface Build {
  /** Path of the criterion node, e.g. `routes[0].policy.allow.or[1]`. */
  readonly path: string;
  /** Full key as written, e.g. `claim/org.team`. */
  readonly key: string;
  /** Sub-path after the first `/`, only for `claim`. */
  readonly subPath: string | undefined;
  /** Path of the criterion's value, e.g. `...or[1].email`. */
  readonly valuePath: string;
  readonly value: unknown;
}

/** Three-valued outcome of a criterion: unknown is `user-unauthenticated`. */
export const FALSE = 0;
export const TRUE = 1;
export const UNKNOWN = 2;
export type OutcomeState = typeof FALSE | typeof TRUE | typeof UNKNOWN;

/**
 * A criterion's trace entry, built once at compile time and returned by
 * every evaluation that ends the same way. `state` is non-enumerable: it is
 * for the evaluator and stays out of JSON traces.
 */
export interface Outcome extends CriterionTrace {
  readonly state: OutcomeState;
  /** 0, 1 or 2: which of its criterion's outcomes this is (for the decision cache). */
  readonly code: number;
}

/** Most outcomes one criterion may have; the decision cache encodes them in base 3. */
export const MAX_OUTCOMES = 3;

function outcomes(b: Build) {
  const cache = new Map<string, Outcome>();
  return (matched: boolean, reason: string): Outcome => {
    const id = `${matched}:${reason}`;
    let o = cache.get(id);
    if (o === undefined) {
      if (cache.size === MAX_OUTCOMES) throw new TypeError(`criterion ${b.key} defines more than ${MAX_OUTCOMES} outcomes`);
      const trace = { path: b.path, criterion: b.key, matched, reason };
      const state: OutcomeState = matched ? TRUE : reason === USER_UNAUTHENTICATED ? UNKNOWN : FALSE;
      Object.defineProperty(trace, 'state', { value: state, enumerable: false });
      Object.defineProperty(trace, 'code', { value: cache.size, enumerable: false });
      o = Object.freeze(trace) as Outcome;
      cache.set(id, o);
    }
    return o;
  };
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : typeof v;
}

/** Criteria that take no value: `accept: true` (or an empty value). */
function expectFlag(b: Build): void {
  if (b.value !== true && b.value !== null && b.value !== undefined) {
    throw new PolicyError(b.valuePath, `expected true, got ${describeType(b.value)}`);
  }
}

function criterion(
  b: Build,
  test: (input: PolicyInput, now: number) => Outcome,
  extra: { needsIdentity: boolean; constant?: 'always' | 'never'; record?: { type: string; key: RecordKey } },
): CompiledCriterion {
  return {
    path: b.path,
    criterion: b.key,
    needsIdentity: extra.needsIdentity,
    constant: extra.constant,
    record: extra.record,
    test,
  };
}

const toLower = (s: string) => s.toLowerCase();
const toUpper = (s: string) => s.toUpperCase();

/** True when a compiled `in: []` (or similar) can never hold. */
function matcherNever(m: CompiledMatcher): boolean {
  return m.specs.some((s) => s.name === 'in' && Array.isArray(s.operand) && s.operand.length === 0);
}

// ---------------------------------------------------------------------------
// Identity criteria

/**
 * A string-matcher criterion over one identity string; `derive` normalizes
 * it (lower-case, take the domain) the same way the operands were.
 */
function identityString(
  b: Build,
  name: 'user' | 'email' | 'domain',
  derive: (identity: IdentityInfo) => string,
  caseInsensitive: boolean,
): CompiledCriterion {
  const matcher = compileMatcher(b.valuePath, b.value, {
    allowed: STRING_MATCHERS,
    bare: 'is',
    criterion: name,
    ...(caseInsensitive ? { normalize: toLower } : {}),
  });
  const o = outcomes(b);
  const ok = o(true, `${name}-ok`);
  const no = o(false, `${name}-unauthorized`);
  const unauth = o(false, USER_UNAUTHENTICATED);
  const test = matcher.test;
  return criterion(b, (input) => (input.identity === null ? unauth : test(derive(input.identity)) ? ok : no), {
    needsIdentity: true,
    ...(matcherNever(matcher) ? { constant: 'never' as const } : {}),
  });
}

/** Lower-cases only when needed: most emails already are, and the scan allocates nothing. */
function lowerAscii(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c > 127) return s.toLowerCase();
  }
  return s;
}

/** The lower-cased domain of an email address (after the last `@`), or ''. */
function emailDomain(identity: IdentityInfo): string {
  const email = identity.email;
  const at = email.lastIndexOf('@');
  return at === -1 ? '' : lowerAscii(email.slice(at + 1));
}

/**
 * Looks `path` up in `root`: first as one literal key (so namespaced claims
 * like `https://example.com/roles` work), then split on `.` and `/` into
 * nested keys. Only own properties are read.
 */
export function compilePathLookup(path: string): (root: unknown) => unknown {
  const segments = path.split(/[./]/);
  const nested = segments.length > 1;
  return (root) => {
    if (typeof root !== 'object' || root === null) return undefined;
    if (Object.hasOwn(root, path)) return (root as Record<string, unknown>)[path];
    if (!nested) return undefined;
    let current: unknown = root;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i]!;
      if (typeof current !== 'object' || current === null || !Object.hasOwn(current, segment)) return undefined;
      current = (current as Record<string, unknown>)[segment];
    }
    return current;
  };
}

/** Only an empty path is refused: `https://example.com/roles` is a valid literal claim name. */
function checkDottedPath(at: string, path: string, what: string): void {
  if (path.trim() === '') {
    throw new PolicyError(at, `empty ${what} path (expected a name, or names separated by "." or "/", e.g. org.team)`);
  }
}

function compileClaim(b: Build): CompiledCriterion {
  const sub = b.subPath;
  if (sub === undefined || sub === '') {
    throw new PolicyError(b.path, 'the claim criterion needs a claim name, e.g. "claim/groups" or "claim/org.team"');
  }
  checkDottedPath(b.path, sub, 'claim');
  const matcher = compileMatcher(b.valuePath, b.value, { allowed: CLAIM_MATCHERS, bare: 'has', criterion: b.key });
  const lookup = compilePathLookup(sub);
  const o = outcomes(b);
  const ok = o(true, 'claim-ok');
  const no = o(false, 'claim-unauthorized');
  const unauth = o(false, USER_UNAUTHENTICATED);
  const test = matcher.test;
  return criterion(
    b,
    (input) => {
      const identity = input.identity;
      if (identity === null) return unauth;
      const value = lookup(identity.claims);
      return test(value === null ? undefined : value) ? ok : no;
    },
    { needsIdentity: true, ...(matcherNever(matcher) ? { constant: 'never' as const } : {}) },
  );
}

function compileGroups(b: Build): CompiledCriterion {
  const matcher = compileMatcher(b.valuePath, b.value, { allowed: LIST_MATCHERS, bare: 'has', criterion: 'groups' });
  const o = outcomes(b);
  const ok = o(true, 'groups-ok');
  const no = o(false, 'groups-unauthorized');
  const unauth = o(false, USER_UNAUTHENTICATED);
  const test = matcher.test;
  return criterion(b, (input) => (input.identity === null ? unauth : test(input.identity.groups) ? ok : no), {
    needsIdentity: true,
  });
}

// ---------------------------------------------------------------------------
// Request criteria

function compileRequestString(
  b: Build,
  reasonStem: string,
  read: (input: PolicyInput) => string,
  normalize?: (s: string) => string,
): CompiledCriterion {
  const matcher = compileMatcher(b.valuePath, b.value, {
    allowed: STRING_MATCHERS,
    bare: 'is',
    criterion: b.key,
    ...(normalize ? { normalize } : {}),
  });
  const o = outcomes(b);
  const ok = o(true, `${reasonStem}-ok`);
  const no = o(false, `${reasonStem}-unauthorized`);
  const test = matcher.test;
  return criterion(b, (input) => (test(read(input)) ? ok : no), {
    needsIdentity: false,
    ...(matcherNever(matcher) ? { constant: 'never' as const } : {}),
  });
}

function compileSourceIp(b: Build): CompiledCriterion {
  const items: unknown[] = Array.isArray(b.value) ? b.value : [b.value];
  const cidrs: Cidr[] = items.map((item, i) => {
    const at = Array.isArray(b.value) ? `${b.valuePath}[${i}]` : b.valuePath;
    if (typeof item !== 'string') {
      throw new PolicyError(at, `expected an IP address or CIDR range (or a list of them), got ${describeType(item)}`);
    }
    const cidr = parseCidr(item.trim());
    if (typeof cidr === 'string') throw new PolicyError(at, cidr);
    return cidr;
  });
  const o = outcomes(b);
  const ok = o(true, 'source-ip-ok');
  const no = o(false, 'source-ip-unauthorized');
  const contains = compileCidrSet(cidrs);
  return criterion(b, (input) => (contains(input.request.ip) ? ok : no), {
    needsIdentity: false,
    ...(cidrs.length === 0 ? { constant: 'never' as const } : {}),
  });
}

// ---------------------------------------------------------------------------
// Client certificates

const CERT_CONDITIONS = ['fingerprint', 'spki_hash', 'san_email', 'san_dns', 'san_uri'] as const;

function listOfStrings(at: string, value: unknown, what: string): string[] {
  const items: unknown[] = Array.isArray(value) ? value : [value];
  return items.map((item, i) => {
    const itemAt = Array.isArray(value) ? `${at}[${i}]` : at;
    if (typeof item !== 'string' || item === '') {
      throw new PolicyError(itemAt, `expected ${what} (or a list of them), got ${item === '' ? 'an empty string' : describeType(item)}`);
    }
    return item;
  });
}

function canonicalFingerprint(at: string, text: string): string {
  const hex = text.replaceAll(':', '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new PolicyError(at, `"${text}" is not a SHA-256 certificate fingerprint (64 hex digits, colons allowed)`);
  }
  return hex;
}

function canonicalSpkiHash(at: string, text: string): string {
  const bytes = Buffer.from(text, 'base64');
  const standard = text.replaceAll('-', '+').replaceAll('_', '/').replace(/=+$/, '');
  if (bytes.length !== 32 || bytes.toString('base64').replace(/=+$/, '') !== standard) {
    throw new PolicyError(at, `"${text}" is not a base64 SHA-256 SPKI hash (32 bytes)`);
  }
  return bytes.toString('base64');
}

function compileClientCertificate(b: Build): CompiledCriterion {
  if (!isPlainObject(b.value) || Object.keys(b.value).length === 0) {
    throw new PolicyError(
      b.valuePath,
      `expected an object with one or more of ${CERT_CONDITIONS.join(', ')}, got ${describeType(b.value)}`,
    );
  }
  const checks: ((cert: NonNullable<PolicyInput['request']['clientCertificate']>) => boolean)[] = [];
  for (const [key, value] of Object.entries(b.value)) {
    const at = `${b.valuePath}.${key}`;
    switch (key) {
      case 'fingerprint': {
        const allowed = new Set(listOfStrings(at, value, 'a fingerprint').map((f, i) =>
          canonicalFingerprint(Array.isArray(value) ? `${at}[${i}]` : at, f)));
        checks.push((cert) => allowed.has(cert.fingerprint.replaceAll(':', '').toLowerCase()));
        break;
      }
      case 'spki_hash': {
        const allowed = new Set(listOfStrings(at, value, 'an SPKI hash').map((h, i) =>
          canonicalSpkiHash(Array.isArray(value) ? `${at}[${i}]` : at, h)));
        checks.push((cert) => allowed.has(cert.spkiHash));
        break;
      }
      case 'san_email':
      case 'san_dns':
      case 'san_uri': {
        const caseless = key !== 'san_uri';
        // A list means any of its values; check its items here so errors name `san_email[1]`.
        const doc = Array.isArray(value) ? { in: listOfStrings(at, value, 'a string') } : value;
        const matcher = compileMatcher(at, doc, {
          allowed: STRING_MATCHERS,
          bare: 'is',
          criterion: `client_certificate.${key}`,
          ...(caseless ? { normalize: toLower } : {}),
        });
        const test = matcher.test;
        const read = key === 'san_email'
          ? (c: NonNullable<PolicyInput['request']['clientCertificate']>) => c.sanEmail
          : key === 'san_dns'
            ? (c: NonNullable<PolicyInput['request']['clientCertificate']>) => c.sanDns
            : (c: NonNullable<PolicyInput['request']['clientCertificate']>) => c.sanUri;
        // True when some SAN of the certificate matches.
        checks.push((cert) => {
          const sans = read(cert);
          for (let i = 0; i < sans.length; i++) if (test(caseless ? sans[i]!.toLowerCase() : sans[i]!)) return true;
          return false;
        });
        break;
      }
      default:
        throw new PolicyError(
          b.valuePath,
          `unknown certificate condition "${key}" (expected one of ${CERT_CONDITIONS.join(', ')})`,
        );
    }
  }
  const o = outcomes(b);
  const ok = o(true, 'client-certificate-ok');
  const no = o(false, 'client-certificate-unauthorized');
  const required = o(false, 'client-certificate-required');
  return criterion(
    b,
    (input) => {
      const cert = input.request.clientCertificate;
      if (cert === undefined || !cert.presented) return required;
      if (!cert.valid) return no;
      for (let i = 0; i < checks.length; i++) if (!checks[i]!(cert)) return no;
      return ok;
    },
    { needsIdentity: false },
  );
}

function compileInvalidClientCertificate(b: Build): CompiledCriterion {
  expectFlag(b);
  const o = outcomes(b);
  const fine = o(false, 'valid-client-certificate-or-none-required');
  const missing = o(true, 'client-certificate-required');
  const invalid = o(true, 'invalid-client-certificate');
  // `clientCertificate` is undefined when no downstream CA is configured: none required.
  return criterion(
    b,
    (input) => {
      const cert = input.request.clientCertificate;
      if (cert === undefined) return fine;
      if (!cert.presented) return missing;
      return cert.valid ? fine : invalid;
    },
    { needsIdentity: false },
  );
}

// ---------------------------------------------------------------------------
// Time criteria

function checkKeys(at: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new PolicyError(at, `unknown key "${key}" (expected one of ${allowed.join(', ')})`);
    }
  }
}

function zoneClock(at: string, value: unknown): ZoneClock {
  if (value === undefined) return new ZoneClock('UTC');
  if (typeof value !== 'string' || value === '') {
    throw new PolicyError(at, `expected an IANA time zone name like "Europe/Berlin", got ${describeType(value)}`);
  }
  try {
    return new ZoneClock(value);
  } catch {
    throw new PolicyError(at, `unknown time zone "${value}" (expected an IANA name like "Europe/Berlin" or "UTC")`);
  }
}

function compileDate(b: Build): CompiledCriterion {
  if (!isPlainObject(b.value)) {
    throw new PolicyError(b.valuePath, `expected an object with "after" and/or "before", got ${describeType(b.value)}`);
  }
  const v = b.value;
  checkKeys(b.valuePath, v, ['after', 'before', 'timezone']);
  const clock = zoneClock(`${b.valuePath}.timezone`, v.timezone);
  const instant = (key: 'after' | 'before'): number | undefined => {
    const raw = v[key];
    const at = `${b.valuePath}.${key}`;
    if (raw === undefined) return undefined;
    if (raw instanceof Date) {
      if (Number.isNaN(raw.getTime())) throw new PolicyError(at, 'is not a valid date');
      return raw.getTime();
    }
    if (typeof raw !== 'string') {
      throw new PolicyError(at, `expected an ISO-8601 date or date-time like 2026-01-31T09:00:00Z, got ${describeType(raw)}`);
    }
    const t = parseIsoInstant(raw, clock);
    if (typeof t === 'string') throw new PolicyError(at, t);
    return t;
  };
  const after = instant('after');
  const before = instant('before');
  if (after === undefined && before === undefined) {
    throw new PolicyError(b.valuePath, 'expected "after" and/or "before"');
  }
  if (after !== undefined && before !== undefined && after >= before) {
    throw new PolicyError(b.valuePath, '"after" must be earlier than "before" (the range is empty)');
  }
  const lo = after ?? -Infinity;
  const hi = before ?? Infinity;
  const o = outcomes(b);
  const ok = o(true, 'date-ok');
  const no = o(false, 'date-unauthorized');
  // `after` is inclusive, `before` exclusive: [after, before).
  return criterion(b, (_input, now) => (now >= lo && now < hi ? ok : no), { needsIdentity: false });
}

function compileDayOfWeek(b: Build): CompiledCriterion {
  let daysDoc: unknown = b.value;
  let daysPath = b.valuePath;
  let clock = new ZoneClock('UTC');
  if (isPlainObject(b.value)) {
    checkKeys(b.valuePath, b.value, ['days', 'timezone']);
    clock = zoneClock(`${b.valuePath}.timezone`, b.value.timezone);
    daysDoc = b.value.days;
    daysPath = `${b.valuePath}.days`;
    if (daysDoc === undefined) throw new PolicyError(b.valuePath, 'expected "days", e.g. days: mon-fri');
  }
  const parts: unknown[] = Array.isArray(daysDoc) ? daysDoc : [daysDoc];
  if (parts.length === 0) throw new PolicyError(daysPath, 'expected at least one day (mon, tue, ..., ranges like mon-fri, or *)');
  let mask = 0;
  parts.forEach((part, i) => {
    const at = Array.isArray(daysDoc) ? `${daysPath}[${i}]` : daysPath;
    if (typeof part !== 'string') {
      throw new PolicyError(at, `expected days like "mon-fri" or "mon,wed", got ${describeType(part)}`);
    }
    const m = parseDaysOfWeek(part);
    if (typeof m === 'string') throw new PolicyError(at, m);
    mask |= m;
  });
  const o = outcomes(b);
  const ok = o(true, 'day-of-week-ok');
  const no = o(false, 'day-of-week-unauthorized');
  return criterion(
    b,
    (_input, now) => ((mask >> localDayOfWeek(clock.localMs(now))) & 1 ? ok : no),
    { needsIdentity: false, ...(mask === 0x7f ? { constant: 'always' as const } : {}) },
  );
}

function compileTimeOfDay(b: Build): CompiledCriterion {
  if (!isPlainObject(b.value)) {
    throw new PolicyError(b.valuePath, `expected an object with "after" and/or "before" (and optional "timezone"), got ${describeType(b.value)}`);
  }
  const v = b.value;
  checkKeys(b.valuePath, v, ['timezone', 'after', 'before']);
  const clock = zoneClock(`${b.valuePath}.timezone`, v.timezone);
  const seconds = (key: 'after' | 'before'): number | undefined => {
    const raw = v[key];
    const at = `${b.valuePath}.${key}`;
    if (raw === undefined) return undefined;
    const s = typeof raw === 'string' ? parseTimeOfDay(raw.trim()) : undefined;
    if (s === undefined) {
      throw new PolicyError(
        at,
        `expected a time of day like "09:00" or "17:30:00"${typeof raw === 'number' ? ' (quote it in YAML)' : ''}, got ${typeof raw === 'string' ? `"${raw}"` : describeType(raw)}`,
      );
    }
    return s;
  };
  const after = seconds('after');
  const before = seconds('before');
  if (after === undefined && before === undefined) {
    throw new PolicyError(b.valuePath, 'expected "after" and/or "before"');
  }
  if (after === 86_400) {
    throw new PolicyError(`${b.valuePath}.after`, '"24:00" is the end of the day; use it for "before" only');
  }
  if (after !== undefined && before !== undefined && after % 86_400 === before % 86_400) {
    throw new PolicyError(b.valuePath, '"after" and "before" are equal (the range would be empty)');
  }
  const o = outcomes(b);
  const ok = o(true, 'time-of-day-ok');
  const no = o(false, 'time-of-day-unauthorized');
  const lo = after ?? 0;
  const hi = before ?? 86_400;
  // `after` is inclusive, `before` exclusive; after > before crosses midnight.
  const inRange = lo < hi ? (s: number) => s >= lo && s < hi : (s: number) => s >= lo || s < hi;
  return criterion(b, (_input, now) => (inRange(localSecondOfDay(clock.localMs(now))) ? ok : no), {
    needsIdentity: false,
  });
}

// ---------------------------------------------------------------------------
// External data

const RECORD_KEYS = ['type', 'key', 'field', 'exists', '=', '<', '<=', '>', '>='] as const;
const RECORD_COMPARISONS = ['=', '<', '<=', '>', '>='] as const;
const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function asNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && NUMERIC.test(v.trim())) return Number(v);
  return undefined;
}

/** Orders two record values: numerically when both are numbers, else as strings; undefined if incomparable. */
function compareValues(a: unknown, b: unknown): number | undefined {
  const an = asNumber(a);
  const bn = asNumber(b);
  if (an !== undefined && bn !== undefined) return an - bn;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return undefined;
}

function recordEquals(fieldValue: unknown, operand: unknown): boolean {
  if (Array.isArray(fieldValue)) return fieldValue.some((item) => recordEquals(item, operand));
  const order = compareValues(fieldValue, operand);
  if (order !== undefined) return order === 0;
  const a = scalarText(fieldValue);
  return a !== undefined && a === scalarText(operand);
}

function compileRecord(b: Build): CompiledCriterion {
  if (!isPlainObject(b.value)) {
    throw new PolicyError(b.valuePath, `expected an object with "type" and a condition (exists, =, <, <=, >, >=), got ${describeType(b.value)}`);
  }
  const v = b.value;
  for (const key of Object.keys(v)) {
    if (!(RECORD_KEYS as readonly string[]).includes(key)) {
      throw new PolicyError(b.valuePath, `unknown key "${key}" (expected one of ${RECORD_KEYS.join(', ')})`);
    }
  }
  if (typeof v.type !== 'string' || v.type === '') {
    throw new PolicyError(`${b.valuePath}.type`, `expected a record type name, got ${v.type === undefined ? 'nothing' : describeType(v.type)}`);
  }
  const type = v.type;
  const keyDoc = v.key ?? 'user';
  if (keyDoc !== 'user' && keyDoc !== 'email' && keyDoc !== 'ip' && keyDoc !== 'host') {
    throw new PolicyError(`${b.valuePath}.key`, `expected one of user, email, ip, host, got ${typeof keyDoc === 'string' ? `"${keyDoc}"` : describeType(keyDoc)}`);
  }
  const key: RecordKey = keyDoc;
  let field: ((record: unknown) => unknown) | undefined;
  if (v.field !== undefined) {
    if (typeof v.field !== 'string') throw new PolicyError(`${b.valuePath}.field`, `expected a field name like "status" or "scan.result", got ${describeType(v.field)}`);
    checkDottedPath(`${b.valuePath}.field`, v.field, 'field');
    field = compilePathLookup(v.field);
  }
  if (v.exists !== undefined && typeof v.exists !== 'boolean') {
    throw new PolicyError(`${b.valuePath}.exists`, `expected true or false, got ${describeType(v.exists)}`);
  }
  const exists = v.exists as boolean | undefined;
  const comparisons: ((value: unknown) => boolean)[] = [];
  for (const op of RECORD_COMPARISONS) {
    if (!(op in v)) continue;
    const operand = v[op];
    if (scalarText(operand) === undefined) {
      throw new PolicyError(`${b.valuePath}.${op}`, `expected a string, number or boolean, got ${describeType(operand)}`);
    }
    if (field === undefined) throw new PolicyError(b.valuePath, `"${op}" needs a "field" to compare`);
    switch (op) {
      case '=': comparisons.push((x) => recordEquals(x, operand)); break;
      case '<': comparisons.push((x) => (compareValues(x, operand) ?? Number.NaN) < 0); break;
      case '<=': comparisons.push((x) => (compareValues(x, operand) ?? Number.NaN) <= 0); break;
      case '>': comparisons.push((x) => (compareValues(x, operand) ?? Number.NaN) > 0); break;
      case '>=': comparisons.push((x) => (compareValues(x, operand) ?? Number.NaN) >= 0); break;
    }
  }
  if (exists === undefined && comparisons.length === 0) {
    throw new PolicyError(b.valuePath, 'expected a condition: exists, =, <, <=, >, or >=');
  }
  const o = outcomes(b);
  const ok = o(true, 'record-ok');
  const no = o(false, 'record-unauthorized');
  const unauth = o(false, USER_UNAUTHENTICATED);
  const needsIdentity = key === 'user' || key === 'email';
  const holds = (record: unknown): boolean => {
    const value = record === undefined ? undefined : field === undefined ? record : field(record);
    const present = value !== undefined && value !== null;
    if (exists !== undefined && exists !== present) return false;
    if (!present) return comparisons.length === 0;
    for (let i = 0; i < comparisons.length; i++) if (!comparisons[i]!(value)) return false;
    return true;
  };
  return criterion(
    b,
    (input) => {
      let id: string;
      switch (key) {
        case 'user': if (input.identity === null) return unauth; id = input.identity.user; break;
        case 'email': if (input.identity === null) return unauth; id = lowerAscii(input.identity.email); break;
        case 'ip': id = input.request.ip; break;
        case 'host': id = input.request.host; break;
      }
      const record = input.records === undefined ? undefined : input.records(type, id);
      return holds(record) ? ok : no;
    },
    { needsIdentity, record: { type, key } },
  );
}

// ---------------------------------------------------------------------------

/** Compiles one criterion; `key` may carry a sub-path (`claim/org.team`). */
export function compileCriterion(path: string, key: string, value: unknown): CompiledCriterion {
  const slash = key.indexOf('/');
  const name = slash === -1 ? key : key.slice(0, slash);
  const subPath = slash === -1 ? undefined : key.slice(slash + 1);
  const b: Build = { path, key, subPath, valuePath: `${path}.${key}`, value };
  if (subPath !== undefined && name !== 'claim') {
    throw new PolicyError(path, `criterion "${name}" takes no sub-path (only claim/<name> does)`);
  }
  switch (name as CriterionName) {
    case 'accept': {
      expectFlag(b);
      const ok = outcomes(b)(true, 'accept');
      return criterion(b, () => ok, { needsIdentity: false, constant: 'always' });
    }
    case 'reject': {
      expectFlag(b);
      const no = outcomes(b)(false, 'reject');
      return criterion(b, () => no, { needsIdentity: false, constant: 'never' });
    }
    case 'authenticated_user': {
      expectFlag(b);
      const o = outcomes(b);
      const ok = o(true, 'user-ok');
      const unauth = o(false, USER_UNAUTHENTICATED);
      return criterion(b, (input) => (input.identity === null ? unauth : ok), { needsIdentity: true });
    }
    case 'user':
      return identityString(b, 'user', (identity) => identity.user, false);
    case 'email':
      return identityString(b, 'email', (identity) => lowerAscii(identity.email), true);
    case 'domain':
      return identityString(b, 'domain', emailDomain, true);
    case 'groups':
      return compileGroups(b);
    case 'claim':
      return compileClaim(b);
    case 'http_method':
      return compileRequestString(b, 'http-method', (input) => input.request.method, toUpper);
    case 'http_path':
      return compileRequestString(b, 'http-path', (input) => normalizePath(input.request.path));
    case 'source_ip':
      return compileSourceIp(b);
    case 'cors_preflight': {
      expectFlag(b);
      const o = outcomes(b);
      const yes = o(true, 'cors-request');
      const no = o(false, 'non-cors-request');
      return criterion(b, (input) => (input.request.corsPreflight ? yes : no), { needsIdentity: false });
    }
    case 'client_certificate':
      return compileClientCertificate(b);
    case 'invalid_client_certificate':
      return compileInvalidClientCertificate(b);
    case 'date':
      return compileDate(b);
    case 'day_of_week':
      return compileDayOfWeek(b);
    case 'time_of_day':
      return compileTimeOfDay(b);
    case 'record':
      return compileRecord(b);
    default:
      throw new PolicyError(path, `unknown criterion "${key}" (did you mean "${nearestName(name, CRITERION_NAMES)}"?)`);
  }
}

/** The known name closest to `name` (first on ties). */
export function nearestName(name: string, known: readonly string[]): string {
  let best = known[0]!;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}
