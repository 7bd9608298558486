/**
 * What one event, and one anonymous client, can cost the audit store.
 * Without bounds, 4,000 unauthenticated requests with 15 KB paths grew the
 * store by 66 MB in 3 s. Two rules keep that cost fixed:
 * - every string in an event is cut at `MAX_AUDIT_STRING` characters with a
 *   visible marker, lists and mappings at `MAX_AUDIT_ITEMS` entries;
 * - repeated anonymous denials (no user, no credential accepted) with the
 *   same route, decision, reasons and client address prefix are stored once
 *   per interval as they happen, and the rest counted into one summary row
 *   with `repeated: N` when the interval ends.
 * Every allow, and every decision about an identified caller, is stored.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { AuditEvent } from '../store/index.js';

/** Longest string kept in an event (paths, hosts, reasons, ...). */
export const MAX_AUDIT_STRING = 1024;
/** Most entries kept in one list or mapping of an event. */
export const MAX_AUDIT_ITEMS = 64;
const MAX_DEPTH = 4;

function boundValue(v: unknown, depth: number): unknown {
  if (typeof v === 'string') {
    return v.length <= MAX_AUDIT_STRING ? v : `${v.slice(0, MAX_AUDIT_STRING)}…[truncated: ${v.length} characters in all]`;
  }
  if (v === null || typeof v !== 'object') return v;
  if (depth >= MAX_DEPTH) return '[nested too deep: left out]';
  if (Array.isArray(v)) {
    const kept = v.slice(0, MAX_AUDIT_ITEMS).map((x) => boundValue(x, depth + 1));
    if (v.length > MAX_AUDIT_ITEMS) kept.push(`…[${v.length - MAX_AUDIT_ITEMS} more left out]`);
    return kept;
  }
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const [k, x] of Object.entries(v)) {
    if (n++ === MAX_AUDIT_ITEMS) { out['…'] = 'more fields left out'; break; }
    out[k.length <= MAX_AUDIT_STRING ? k : k.slice(0, MAX_AUDIT_STRING)] = boundValue(x, depth + 1);
  }
  return out;
}

function needsBounding(v: unknown): boolean {
  if (typeof v === 'string') return v.length > MAX_AUDIT_STRING;
  return v !== null && typeof v === 'object';
}

/** A list within bounds of strings within bounds (a decision's reasons). */
function shortStrings(v: readonly unknown[]): boolean {
  if (v.length > MAX_AUDIT_ITEMS) return false;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'string' || x.length > MAX_AUDIT_STRING) return false;
  }
  return true;
}

/**
 * The event with every field within bounds. Returns the same object when
 * nothing needs cutting (the common case: flat details of short strings,
 * plus the short `reasons` list, which is checked).
 */
export function boundEvent(e: AuditEvent): AuditEvent {
  let over = needsBounding(e.requestId) || needsBounding(e.route) || needsBounding(e.userId) || needsBounding(e.email) || needsBounding(e.actor);
  if (!over) {
    for (const k in e.details) {
      const v = e.details[k];
      if (Array.isArray(v) && shortStrings(v)) continue;
      if (needsBounding(v)) { over = true; break; }
    }
  }
  if (!over) return e;
  const s = (x: string | undefined): string | undefined => (x === undefined ? undefined : boundValue(x, 0) as string);
  return {
    time: e.time, kind: e.kind,
    ...(e.requestId !== undefined ? { requestId: s(e.requestId) } : {}),
    ...(e.decision !== undefined ? { decision: s(e.decision) } : {}),
    ...(e.route !== undefined ? { route: s(e.route) } : {}),
    ...(e.userId !== undefined ? { userId: s(e.userId) } : {}),
    ...(e.email !== undefined ? { email: s(e.email) } : {}),
    ...(e.actor !== undefined ? { actor: s(e.actor) } : {}),
    details: boundValue(e.details, 0) as Record<string, unknown>,
  };
}

/** The client address prefix denials are grouped by: /24 for IPv4, /64 for IPv6. */
export function addressPrefix(ip: unknown): string {
  if (typeof ip !== 'string') return 'unknown';
  if (isIPv4(ip)) return `${ip.split('.').slice(0, 3).join('.')}.0/24`;
  if (isIPv6(ip)) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    if (mapped) return addressPrefix(mapped[1]);
    const [head = '', tail = ''] = ip.split('::');
    const left = head === '' ? [] : head.split(':');
    const right = tail === '' ? [] : tail.split(':');
    const groups = ip.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
    return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
  }
  return 'unknown';
}

/** A decision about nobody: no user, no service account, no session, no token. */
export function isAnonymousDenial(e: AuditEvent): boolean {
  if (e.kind !== 'authorize' || e.decision === undefined || e.decision === 'allow') return false;
  if (e.userId !== undefined || e.email !== undefined || e.actor !== undefined) return false;
  const d = e.details;
  return d.session_id === undefined && d.service_account_id === undefined && d.token_id === undefined;
}

interface Repeats {
  readonly first: AuditEvent;
  readonly prefix: string;
  count: number;
  lastTime: number;
}

export interface RepeatedDenialOptions {
  /** Length of one interval (ms). */
  readonly intervalMs: number;
  /** Distinct (route, decision, reasons, prefix) groups tracked per interval; beyond, prefixes fold into `*`. */
  readonly maxGroups: number;
}

/**
 * Folds repeated anonymous denials into counters. `absorb` says whether an
 * event was folded (then it is not stored); `drain` ends the interval and
 * returns one summary event per group that repeated. Memory and stored
 * rows per interval are bounded by `maxGroups` (plus one catch-all group
 * per route, decision and reasons).
 */
export class RepeatedDenials {
  private groups = new Map<string, Repeats>();
  private intervalStart: number | undefined;

  constructor(private readonly opts: RepeatedDenialOptions) {}

  /** True when the interval that `now` falls in is not the current one. */
  due(now: number): boolean {
    return this.intervalStart !== undefined && now - this.intervalStart >= this.opts.intervalMs;
  }

  absorb(e: AuditEvent): boolean {
    if (!isAnonymousDenial(e)) return false;
    this.intervalStart ??= e.time;
    const d = e.details;
    const reasons = Array.isArray(d.reasons) ? d.reasons.join(',') : '';
    const base = `${e.route ?? ''}\u0000${e.decision}\u0000${reasons}\u0000${String(d.credential_failure ?? '')}\u0000`;
    let prefix = addressPrefix(d.ip);
    if (!this.groups.has(base + prefix) && this.groups.size >= this.opts.maxGroups) prefix = '*';
    const key = base + prefix;
    const g = this.groups.get(key);
    if (g === undefined) {
      this.groups.set(key, { first: e, prefix, count: 0, lastTime: e.time });
      return false;
    }
    g.count++;
    g.lastTime = e.time;
    return true;
  }

  /** Ends the interval: one summary per group that repeated, oldest group first. */
  drain(now: number): AuditEvent[] {
    const start = this.intervalStart;
    const out: AuditEvent[] = [];
    for (const g of this.groups.values()) {
      if (g.count === 0) continue;
      const d = g.first.details;
      out.push({
        time: g.lastTime,
        kind: 'authorize',
        decision: g.first.decision,
        route: g.first.route,
        details: {
          repeated: g.count,
          reasons: d.reasons,
          ip_prefix: g.prefix,
          ...(d.credential_failure !== undefined ? { credential_failure: d.credential_failure } : {}),
          interval_start: new Date(start ?? g.first.time).toISOString(),
          interval_end: new Date(now).toISOString(),
          first_request_id: g.first.requestId,
        },
      });
    }
    this.groups = new Map();
    this.intervalStart = undefined;
    return out;
  }
}
