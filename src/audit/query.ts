import { parseDuration } from '../config/index.js';
import type { AuditQuery, Store, StoredAuditEvent } from '../store/index.js';

/** What `limen audit query` and the admin API ask for. */
export interface AuditTrailQuery {
  /** Events about any of these user ids ... */
  readonly userIds?: readonly string[] | undefined;
  /** ... or with this email (case-insensitive). */
  readonly email?: string | undefined;
  readonly route?: string | undefined;
  readonly decision?: string | undefined;
  readonly kind?: string | undefined;
  /** ms since epoch, inclusive. */
  readonly since?: number | undefined;
  /** ms since epoch, exclusive. */
  readonly until?: number | undefined;
}

export interface AuditTrail {
  /** Oldest first: the newest `limit` matching events. */
  readonly events: StoredAuditEvent[];
  /** Older matching events were left out. */
  readonly truncated: boolean;
}

const PAGE = 1000;

/**
 * Reads matching events, oldest first (in the order they were stored),
 * keeping the newest `limit` when more match. The store answers in that
 * order with a limit, so this pages forward by sequence number: paging by
 * time skipped events when several writers (workers, replicas) interleave,
 * since their order of storing is not their order in time. A user is
 * matched by id or by email: each is one store query, merged by sequence.
 */
export async function readAuditTrail(store: Store, q: AuditTrailQuery, limit: number): Promise<AuditTrail> {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new TypeError('limit must be a positive integer');
  const base: AuditQuery = {
    ...(q.route !== undefined ? { route: q.route } : {}),
    ...(q.decision !== undefined ? { decision: q.decision } : {}),
    ...(q.kind !== undefined ? { kind: q.kind } : {}),
    ...(q.until !== undefined ? { until: q.until } : {}),
  };
  const who: AuditQuery[] = [];
  for (const id of new Set(q.userIds ?? [])) who.push({ ...base, userId: id });
  if (q.email !== undefined) who.push({ ...base, email: q.email });
  if (who.length === 0) who.push(base);

  const bySeq = new Map<number, StoredAuditEvent>();
  let truncated = false;
  for (const filter of who) {
    const r = await pageForward(store, filter, q.since, limit);
    truncated ||= r.truncated;
    for (const e of r.events) bySeq.set(e.seq, e);
  }
  const all = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  if (all.length > limit) truncated = true;
  return { events: all.slice(-limit), truncated };
}

async function pageForward(store: Store, filter: AuditQuery, since: number | undefined, limit: number): Promise<AuditTrail> {
  let kept: StoredAuditEvent[] = [];
  let truncated = false;
  let afterSeq: number | undefined;
  for (;;) {
    const page = await store.queryAudit({ ...filter, ...(since !== undefined ? { since } : {}), ...(afterSeq !== undefined ? { afterSeq } : {}), limit: PAGE });
    for (const e of page) kept.push(e);
    if (kept.length > limit) {
      kept = kept.slice(-limit);
      truncated = true;
    }
    if (page.length < PAGE) break;
    afterSeq = page[page.length - 1]!.seq;
  }
  return { events: kept, truncated };
}

/**
 * A time bound from the command line or a query string: a duration back
 * from `now` (`1h`, `30m`, `7d`), an ISO-8601 time, or ms since epoch.
 * Returns undefined when the text is none of these.
 */
export function parseTimeBound(text: string, now: number): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const d = parseDuration(t);
  if (d !== undefined && d >= 0 && /[a-zµμ]$/.test(t)) return now - d;
  if (/^\d{4}-\d{2}-\d{2}/.test(t)) {
    const ms = Date.parse(t);
    return Number.isFinite(ms) ? ms : undefined;
  }
  if (/^\d{1,16}$/.test(t)) return Number(t);
  return undefined;
}

/** An event as JSON for people and scripts: ISO time, snake_case keys. */
export function auditEventJson(e: StoredAuditEvent): Record<string, unknown> {
  return {
    seq: e.seq,
    time: new Date(e.time).toISOString(),
    kind: e.kind,
    ...(e.requestId !== undefined ? { request_id: e.requestId } : {}),
    ...(e.decision !== undefined ? { decision: e.decision } : {}),
    ...(e.route !== undefined ? { route: e.route } : {}),
    ...(e.userId !== undefined ? { user_id: e.userId } : {}),
    ...(e.email !== undefined ? { email: e.email } : {}),
    ...(e.actor !== undefined ? { actor: e.actor } : {}),
    details: e.details,
  };
}

/** One line per event for a terminal: time, kind, decision, route, who, then the details that matter. */
export function formatAuditEvent(e: StoredAuditEvent): string {
  const d = e.details as Record<string, unknown>;
  const who = e.email || e.userId || '-';
  const parts = [
    new Date(e.time).toISOString(),
    e.kind,
    e.decision ?? '',
    e.route !== undefined ? `route=${e.route}` : '',
    `user=${who}`,
    e.actor !== undefined ? `by=${e.actor}` : '',
    typeof d.method === 'string' && typeof d.path === 'string' ? `${d.method} ${d.host ?? ''}${d.path}` : '',
    Array.isArray(d.reasons) && d.reasons.length > 0 ? `reasons=${d.reasons.join(',')}` : '',
    typeof d.reason === 'string' ? `reason=${d.reason}` : '',
    typeof d.repeated === 'number' ? `repeated=${d.repeated} from=${String(d.ip_prefix ?? '?')}` : '',
    e.requestId !== undefined ? `request=${e.requestId}` : '',
  ];
  return parts.filter((p) => p !== '').join('  ');
}
