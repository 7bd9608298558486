/**
 * The inputs of `limen policy explain` (flags) and `limen policy test` (a
 * YAML case table), checked into SimulatedRequests. The case file format is
 * fixed by issue 3 (operators write these by hand and keep them in CI):
 *
 *   cases:
 *     - name: admins may read          # optional
 *       url: https://app.example.com/  # picks the route as a request would
 *       method: GET                    # default GET
 *       ip: 10.1.2.3                   # default 127.0.0.1
 *       time: 2026-11-23T10:00:00Z     # default: now
 *       client_certificate: valid      # none (default) | invalid | valid
 *       identity:                      # omit for a request with no session
 *         user: u-123
 *         email: ada@example.com
 *         groups: [admins]
 *         claims: {department: eng, org: {team: platform}}
 *         namespace: eng               # a service account of this namespace
 *       want: allow                    # allow | deny | login
 *
 * `client_certificate` and `identity.namespace` came later, optional, so
 * older files read as before.
 */
import type { DecisionResult } from '../authz/index.js';
import { yamlLibrary, yamlLocator } from '../config/index.js';
import { CERTIFICATE_CHOICES, parseClientIp, type SimulatedCertificate, type SimulatedIdentity, type SimulatedRequest } from './policy-simulate.js';
import { editDistance } from '../errors/index.js';

/** The client address of an imagined request that names none. */
export const DEFAULT_CLIENT_IP = '127.0.0.1';

// ISO-8601 date-time with an explicit offset, so a case means the same
// instant on every machine (a bare local time would depend on TZ).
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:?\d{2})$/;

/** An ISO-8601 date-time with `Z` or an offset → ms since epoch; undefined otherwise. */
export function parseInstant(text: string): number | undefined {
  if (!DATE_TIME.test(text)) return undefined;
  // Date.parse rolls 2026-02-30 over into March and reads 24:00; refuse both.
  const [y, mo, d, h] = [text.slice(0, 4), text.slice(5, 7), text.slice(8, 10), text.slice(11, 13)].map(Number) as [number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(y, mo, 0)).getUTCDate() || h > 23) return undefined;
  const t = Date.parse(text.replace(' ', 'T').replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isFinite(t) ? t : undefined;
}

// RFC 9110 §9.1: a method is a token.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;

/** An HTTP method, upper-cased; undefined if it is not a token. */
export function parseMethod(text: string): string | undefined {
  return TOKEN.test(text) ? text.toUpperCase() : undefined;
}

/** An absolute http(s) URL with a host; undefined otherwise. */
export function parseRequestUrl(text: string): URL | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return undefined;
  }
  return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' ? u : undefined;
}

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Sets `claims[a][b]... = value` for a dotted `name` (`org.team`), making
 * nested objects as needed. Throws TypeError for an empty or unsafe key
 * part, or when a part is already a non-object value.
 */
export function setClaim(claims: Record<string, unknown>, name: string, value: unknown): void {
  const parts = name.split('.');
  if (parts.some((p) => p === '' || UNSAFE_KEYS.has(p))) throw new TypeError(`claim name "${name}" is not usable (empty or reserved part)`);
  let node = claims;
  for (const part of parts.slice(0, -1)) {
    const next = Object.hasOwn(node, part) ? node[part] : undefined;
    if (next === undefined) {
      const created: Record<string, unknown> = {};
      node[part] = created;
      node = created;
    } else if (typeof next === 'object' && next !== null && !Array.isArray(next)) {
      node = next as Record<string, unknown>;
    } else {
      throw new TypeError(`claim "${name}": "${part}" already holds a value`);
    }
  }
  node[parts[parts.length - 1]!] = value;
}

/** `k=v` of `--claim`: the value is JSON when it parses as JSON (`true`, `5`, `["a","b"]`), else the text. */
export function parseClaimArg(arg: string): { name: string; value: unknown } | undefined {
  const eq = arg.indexOf('=');
  if (eq <= 0) return undefined;
  const raw = arg.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  return { name: arg.slice(0, eq), value };
}

/** One row of the case table, checked. */
export interface PolicyCase {
  /** Position in `cases`, from 0. */
  readonly index: number;
  readonly name: string | undefined;
  readonly want: DecisionResult;
  /** Time is undefined when the case leaves it to "now". */
  readonly request: Omit<SimulatedRequest, 'time'> & { readonly time: number | undefined };
}

/** A case-file problem: where it is and what is wrong. */
export interface CaseFileError {
  /** e.g. `cases[2].want`. */
  readonly path: string;
  readonly message: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
}

const CASE_KEYS = ['name', 'url', 'method', 'ip', 'time', 'client_certificate', 'identity', 'want'] as const;
const IDENTITY_KEYS = ['user', 'email', 'groups', 'claims', 'namespace'] as const;
const WANTS: readonly DecisionResult[] = ['allow', 'deny', 'login'];

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return String(v);
}

/** Same edit distance idea as the config loader: the closest known key, if any is close. */
function suggest(key: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k);
    if (d < bestD) { best = k; bestD = d; }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 3)) ? `; did you mean "${best}"?` : `; expected one of ${known.join(', ')}`;
}

/**
 * Reads a case file. Every problem is reported (not only the first), each
 * naming the case index and key with its line and column; a file with any
 * problem yields no cases.
 */
export function parseCaseFile(text: string): { cases: PolicyCase[]; errors: CaseFileError[] } {
  const errors: CaseFileError[] = [];
  const { LineCounter, parseDocument } = yamlLibrary();
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    const { line, col } = lineCounter.linePos(syntax.pos[0]);
    return { cases: [], errors: [{ path: '', message: `YAML syntax error: ${syntax.message.split('\n')[0] ?? ''}`, line, column: col }] };
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return { cases: [], errors: [{ path: '', message: `YAML cannot be read: ${(e as Error).message.split('\n')[0] ?? ''}`, line: undefined, column: undefined }] };
  }
  const rootPosition = (): { line: number; column: number } | undefined => {
    const start = (doc.contents as { range?: [number] } | null)?.range?.[0];
    if (start === undefined) return undefined;
    const { line, col } = lineCounter.linePos(start);
    return { line, column: col };
  };
  const locateIn = yamlLocator(text);
  const fail = (segments: readonly (string | number)[], message: string, aboutKey = false): void => {
    const path = segments.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
    const pos = segments.length > 0 ? locateIn(segments, aboutKey) : rootPosition();
    errors.push({ path, message, line: pos?.line, column: pos?.column });
  };

  if (!isMapping(raw)) {
    fail([], `expected a mapping with a "cases" list, got ${describe(raw)}`);
    return { cases: [], errors };
  }
  for (const key of Object.keys(raw)) {
    if (key !== 'cases') fail([key], `unknown key${suggest(key, ['cases'])}`, true);
  }
  const list = raw.cases;
  if (!Array.isArray(list) || list.length === 0) {
    fail(['cases'], `expected a list of cases, got ${Array.isArray(list) ? 'an empty list' : describe(list)}`);
    return { cases: [], errors };
  }

  const cases: PolicyCase[] = [];
  list.forEach((item: unknown, index) => {
    const at = ['cases', index] as const;
    const before = errors.length;
    if (!isMapping(item)) {
      fail(at, `expected a mapping with at least "url" and "want", got ${describe(item)}`);
      return;
    }
    for (const key of Object.keys(item)) {
      if (!(CASE_KEYS as readonly string[]).includes(key)) fail([...at, key], `unknown key${suggest(key, CASE_KEYS)}`, true);
    }
    const str = (key: string): string | undefined => {
      const v = item[key];
      if (v === undefined) return undefined;
      if (typeof v === 'number' && key === 'name') return String(v);
      if (typeof v !== 'string' || v === '') {
        fail([...at, key], `expected a non-empty string, got ${describe(v)}`);
        return undefined;
      }
      return v;
    };

    const name = str('name');
    const urlText = str('url');
    let url: URL | undefined;
    if (urlText === undefined) {
      if (item.url === undefined) fail(at, 'missing "url" (the request URL, e.g. https://app.example.com/reports)');
    } else {
      url = parseRequestUrl(urlText);
      if (!url) fail([...at, 'url'], `expected an absolute http(s) URL, got ${describe(urlText)}`);
    }

    const methodText = str('method');
    const method = methodText === undefined ? 'GET' : parseMethod(methodText);
    if (method === undefined) fail([...at, 'method'], `expected an HTTP method like GET or POST, got ${describe(methodText)}`);

    const ipText = str('ip');
    const ip = ipText === undefined ? DEFAULT_CLIENT_IP : parseClientIp(ipText);
    if (ip === undefined) fail([...at, 'ip'], `expected an IPv4 or IPv6 address, got ${describe(ipText)}`);

    let time: number | undefined;
    const timeValue = item.time;
    if (timeValue instanceof Date) time = timeValue.getTime();
    else if (timeValue !== undefined) {
      time = typeof timeValue === 'string' ? parseInstant(timeValue) : undefined;
      if (time === undefined) fail([...at, 'time'], `expected an ISO-8601 date-time with a zone, like 2026-11-23T10:00:00Z, got ${describe(timeValue)}`);
    }

    const certText = str('client_certificate');
    if (certText !== undefined && !(CERTIFICATE_CHOICES as readonly string[]).includes(certText)) {
      fail([...at, 'client_certificate'], `expected ${CERTIFICATE_CHOICES.join(', ')}, got ${describe(certText)}`);
    }
    const clientCertificate = certText as SimulatedCertificate | undefined;

    let identity: SimulatedIdentity | null = null;
    if (item.identity !== undefined) identity = readIdentity(item.identity, [...at, 'identity'], fail);

    let want: DecisionResult | undefined;
    if (item.want === undefined) fail(at, 'missing "want" (allow, deny or login)');
    else if (typeof item.want === 'string' && (WANTS as readonly string[]).includes(item.want)) want = item.want as DecisionResult;
    else fail([...at, 'want'], `expected allow, deny or login, got ${describe(item.want)}`);

    if (errors.length > before || !url || !method || !ip || !want) return;
    cases.push({ index, name, want, request: { url, method, ip, time, identity, clientCertificate } });
  });
  return errors.length > 0 ? { cases: [], errors } : { cases, errors };
}

function readIdentity(
  value: unknown,
  at: readonly (string | number)[],
  fail: (segments: readonly (string | number)[], message: string, aboutKey?: boolean) => void,
): SimulatedIdentity | null {
  if (!isMapping(value)) {
    fail(at, `expected a mapping of user, email, groups, claims, namespace (omit "identity" for a request with no session), got ${describe(value)}`);
    return null;
  }
  for (const key of Object.keys(value)) {
    if (!(IDENTITY_KEYS as readonly string[]).includes(key)) fail([...at, key], `unknown key${suggest(key, IDENTITY_KEYS)}`, true);
  }
  const text = (key: 'user' | 'email' | 'namespace'): string | undefined => {
    const v = value[key];
    if (v === undefined) return undefined;
    if (typeof v === 'number') return String(v);
    if (typeof v !== 'string') { fail([...at, key], `expected a string, got ${describe(v)}`); return undefined; }
    return v;
  };
  let groups: string[] | undefined;
  const g = value.groups;
  if (g !== undefined) {
    if (!Array.isArray(g)) fail([...at, 'groups'], `expected a list of group names like [admins, eng], got ${describe(g)}`);
    else {
      groups = [];
      g.forEach((item: unknown, i) => {
        if (typeof item === 'string' || typeof item === 'number') groups!.push(String(item));
        else fail([...at, 'groups', i], `expected a group name, got ${describe(item)}`);
      });
    }
  }
  let claims: Record<string, unknown> | undefined;
  const c = value.claims;
  if (c !== undefined) {
    if (!isMapping(c)) fail([...at, 'claims'], `expected a mapping of claim names to values, got ${describe(c)}`);
    else claims = c;
  }
  const namespace = text('namespace');
  if (namespace !== undefined && (namespace === '' || value.user === undefined)) {
    fail([...at, 'namespace'], 'a service account (namespace) needs its user id in "user" and a namespace name');
  }
  return { user: text('user'), email: text('email'), groups, claims, namespace };
}
