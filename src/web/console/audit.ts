/**
 * The audit trail (seed 004, CONTRACT §6): filter by user, route, decision,
 * kind and time; newest first; paginated by a cursor (the oldest event
 * shown), so events arriving meanwhile never shift a page. The newest page
 * follows new events live over server-sent events (`/audit/events`, same
 * filters, administrators only), polled from the store so every replica's
 * events appear; without script the page is the same, reloaded by hand.
 */
import type { Server } from 'node:http';
import { AUDIT_KINDS, parseTimeBound, type AuditTrailQuery } from '../../audit/index.js';
import { escapeHtml } from '../../http/index.js';
import type { ConsoleCall, ConsoleRoute } from './gate.js';
import { CONSOLE_BASE, pill, shown, shownTime } from './layout.js';
import { render } from './common.js';
import { auditTrail, resolveUser, type StoredAuditEvent } from './operations.js';

const BASE = `${CONSOLE_BASE}/audit`;
const EVENTS = `${BASE}/events`;
const PAGE_SIZE = 50;
/** How often a live stream asks the store for new events. */
const POLL_MS = 1000;
/** A stream ends after this long; the browser's EventSource reconnects by itself. */
const STREAM_LIFETIME_MS = 5 * 60_000;
const HEARTBEAT_MS = 15_000;
/** Live streams open at once in this process; more get 503 (each polls the store). */
const MAX_STREAMS = 64;
let openStreams = 0;

const DECISIONS = ['allow', 'deny', 'login'] as const;
const FILTERS = ['user', 'route', 'decision', 'kind', 'since', 'until'] as const;

/** One line saying what an event was about (request, reasons, ids). */
export function decisionSummary(e: StoredAuditEvent): string {
  const d = e.details as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof d.method === 'string' && typeof d.path === 'string') parts.push(`${d.method} ${typeof d.host === 'string' ? d.host : ''}${d.path}`);
  if (Array.isArray(d.reasons) && d.reasons.length > 0) parts.push(`reasons: ${d.reasons.join(', ')}`);
  if (typeof d.reason === 'string') parts.push(`reason: ${d.reason}`);
  for (const k of ['service_account_id', 'session_id', 'group', 'sessions_revoked', 'namespace', 'via'] as const) {
    if (d[k] !== undefined && d[k] !== null && !(k === 'session_id' && e.kind === 'authorize')) parts.push(`${k.replace(/_/g, ' ')}: ${String(d[k])}`);
  }
  if (typeof d.repeated === 'number') parts.push(`repeated ${d.repeated} times from ${String(d.ip_prefix ?? '?')}`);
  return parts.join(' · ');
}

interface Filters {
  readonly values: Readonly<Record<(typeof FILTERS)[number], string>>;
  readonly query: AuditTrailQuery;
  readonly error: string | undefined;
}

/** Reads the filters from the query string; a bad value is reported, never guessed. */
async function filtersOf(call: ConsoleCall): Promise<Filters> {
  const q = call.ctx.query;
  const values = Object.fromEntries(FILTERS.map((k) => [k, (q.get(k) ?? '').trim().slice(0, 320)])) as Record<(typeof FILTERS)[number], string>;
  const now = call.svc.now();
  const errors: string[] = [];
  const bound = (name: 'since' | 'until'): number | undefined => {
    if (values[name] === '') return undefined;
    const t = parseTimeBound(values[name], now);
    if (t === undefined) errors.push(`${name === 'since' ? 'From' : 'Until'}: give a duration back from now (1h, 7d) or a time like 2026-12-05T08:00Z.`);
    return t;
  };
  if (values.decision !== '' && !(DECISIONS as readonly string[]).includes(values.decision)) errors.push('Decision: choose allow, deny or login.');
  if (values.kind !== '' && !Object.hasOwn(AUDIT_KINDS, values.kind)) errors.push('Kind: choose one of the kinds listed.');
  const since = bound('since');
  const until = bound('until');
  const ref = values.user !== '' ? await resolveUser(call.svc, values.user) : undefined;
  return {
    values,
    error: errors.length > 0 ? errors.join(' ') : undefined,
    query: {
      ...(ref?.id !== undefined ? { userIds: [ref.id] } : {}),
      ...(ref?.email !== undefined ? { email: ref.email } : {}),
      ...(values.route !== '' ? { route: values.route } : {}),
      ...(values.decision !== '' ? { decision: values.decision } : {}),
      ...(values.kind !== '' ? { kind: values.kind } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
    },
  };
}

/** `time.seq` of an event: where the next (older) page starts. */
function cursorOf(e: StoredAuditEvent): string {
  return `${e.time}.${e.seq}`;
}

function parseCursor(text: string | null): { time: number; seq: number } | undefined {
  const m = text === null ? null : /^(\d{1,16})\.(\d{1,16})$/.exec(text);
  return m ? { time: Number(m[1]), seq: Number(m[2]) } : undefined;
}

/** The page of events older than `before` (newest first), and whether there are older ones still. */
async function pageOf(call: ConsoleCall, q: AuditTrailQuery, before: { time: number; seq: number } | undefined): Promise<{ events: StoredAuditEvent[]; older: boolean }> {
  const query = before ? { ...q, until: Math.min(q.until ?? Number.POSITIVE_INFINITY, before.time + 1) } : q;
  // Events sharing the cursor's millisecond but at or after it come back too and are dropped: ask for more until a page is full.
  for (let extra = 0; ; extra = extra * 2 + PAGE_SIZE) {
    const trail = await auditTrail(call.svc, query, PAGE_SIZE + 1 + extra);
    const kept = before ? trail.events.filter((e) => e.time < before.time || (e.time === before.time && e.seq < before.seq)) : trail.events;
    if (kept.length > PAGE_SIZE || !trail.truncated || extra > 100_000) {
      const newest = kept.reverse();
      return { events: newest.slice(0, PAGE_SIZE), older: newest.length > PAGE_SIZE };
    }
  }
}

/** An event as the live table shows it. */
function liveJson(e: StoredAuditEvent): Record<string, unknown> {
  return {
    seq: e.seq, time: new Date(e.time).toISOString(), kind: e.kind, decision: e.decision ?? '', route: e.route ?? '',
    who: e.email || e.userId || '', actor: e.actor ?? '', summary: decisionSummary(e),
  };
}

function row(e: StoredAuditEvent): string {
  return `<tr><th scope="row">${shownTime(e.time)}</th><td>${escapeHtml(e.kind)}</td><td>${e.decision ? pill(e.decision) : ''}</td><td>${escapeHtml(e.route ?? '')}</td>`
    + `<td>${e.userId ? `<a href="${CONSOLE_BASE}/users/${encodeURIComponent(e.userId)}">${escapeHtml(e.email || e.userId)}</a>` : escapeHtml(e.email ?? '')}</td><td>${escapeHtml(e.actor ?? '')}</td><td class="mono">${escapeHtml(decisionSummary(e))}</td></tr>`;
}

function search(values: Filters['values'], extra: Record<string, string> = {}): string {
  const p = new URLSearchParams();
  for (const k of FILTERS) if (values[k] !== '') p.set(k, values[k]);
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

async function auditPage(call: ConsoleCall): Promise<void> {
  const f = await filtersOf(call);
  const before = parseCursor(call.ctx.query.get('before'));
  const { events, older } = f.error ? { events: [], older: false } : await pageOf(call, f.query, before);
  const v = f.values;
  const input = (name: string, label: string, hint = ''): string => `<p><label for="f-${name}">${label}${hint ? ` <span class="hint">${hint}</span>` : ''}</label>`
    + `<input id="f-${name}" name="${name}" value="${escapeHtml(v[name as keyof typeof v])}" autocomplete="off"></p>`;
  const select = (name: 'decision' | 'kind', label: string, options: readonly (readonly [string, string])[]): string => `<p><label for="f-${name}">${label}</label><select id="f-${name}" name="${name}">`
    + `<option value="">any</option>${options.map(([o, text]) => `<option value="${escapeHtml(o)}"${o === v[name] ? ' selected' : ''}>${escapeHtml(text)}</option>`).join('')}</select></p>`;
  const live = !before && f.query.until === undefined && !f.error;
  const liveAttrs = live ? ` data-live-src="${escapeHtml(`${EVENTS}${search(v, events[0] ? { after: String(events[0].seq) } : {})}`)}" data-live-status="live-status"` : '';
  const table = `<div class="scroll"><table${liveAttrs} id="audit-table"><caption>Audit events, newest first</caption><thead><tr><th scope="col">Time</th><th scope="col">Kind</th><th scope="col">Decision</th>`
    + '<th scope="col">Route</th><th scope="col">User</th><th scope="col">By</th><th scope="col">Details</th></tr></thead>'
    + `<tbody>${events.length === 0 ? '<tr data-empty><td colspan="7" class="muted">No events match.</td></tr>' : events.map(row).join('')}</tbody></table></div>`;
  const pager = `<nav class="pager" aria-label="Audit pages">${before ? `<a href="${BASE}${escapeHtml(search(v))}">Newest events</a>` : ''}`
    + `${older && events.length > 0 ? `<a href="${BASE}${escapeHtml(search(v, { before: cursorOf(events[events.length - 1]!) }))}">Older events</a>` : ''}</nav>`;
  render(call, 'audit', 'Audit',
    `<section class="panel" aria-labelledby="filter-heading"><h2 id="filter-heading">Filter</h2><form method="get" action="${BASE}" role="search"><div class="fields">`
    + input('user', 'User', '(email or id)') + input('route', 'Route', '(name)')
    + select('decision', 'Decision', DECISIONS.map((d) => [d, d] as const))
    + select('kind', 'Kind', Object.entries(AUDIT_KINDS).map(([k, text]) => [k, `${k}: ${text}`] as const))
    + input('since', 'From', '(1h, 7d or a time)') + input('until', 'Until', '(empty: now)')
    + `</div><div class="actions"><button type="submit" class="primary">Filter</button><a href="${BASE}">Clear filters</a>`
    + `<a href="/.pomerium/api/v1/audit${escapeHtml(search(v, { limit: '1000' }))}">These events as JSON (admin API)</a></div></form></section>`
    + `<section class="panel" aria-labelledby="events-heading"><h2 id="events-heading">Events</h2>`
    + `<p class="muted">${live ? 'New events appear at the top as they happen.' : before ? 'An older page: new events are not added here.' : 'Showing a fixed time range.'}</p>`
    + `<p id="live-status" class="muted" aria-live="polite"></p>${table}${pager}</section>`,
    f.error ? { status: 400, error: f.error } : {});
}

/** `GET /audit/events`: server-sent events of new audit events matching the filters, after `after`. */
async function auditEvents(call: ConsoleCall): Promise<void> {
  const { ctx } = call;
  const f = await filtersOf(call);
  if (f.error) { render(call, 'audit', 'Audit', '', { status: 400, error: f.error }); return; }
  if (openStreams >= MAX_STREAMS) {
    ctx.res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '30', 'cache-control': 'no-store', 'x-request-id': ctx.requestId });
    ctx.res.end('Too many live audit streams are open; try again shortly.');
    return;
  }
  // A reconnecting EventSource says where it got to (Last-Event-ID); a fresh one, where its page ended (`after`).
  const lastId = ctx.req.headers['last-event-id'];
  const afterText = typeof lastId === 'string' && lastId !== '' ? lastId : ctx.query.get('after');
  let lastSeq = afterText !== null && /^\d{1,16}$/.test(afterText) ? Number(afterText) : undefined;
  let lastTime = call.svc.now() - 60_000;
  if (lastSeq === undefined) {
    // From now on: the newest matching event marks where the stream starts.
    const newest = await auditTrail(call.svc, f.query, 1);
    lastSeq = newest.events[0]?.seq ?? 0;
    lastTime = newest.events[0]?.time ?? lastTime;
  }
  const headers = {
    'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff',
    'x-accel-buffering': 'no', 'x-request-id': ctx.requestId,
  };
  if (ctx.req.method === 'HEAD') { ctx.res.writeHead(200, headers); ctx.res.end(); return; }
  openStreams++;
  ctx.res.writeHead(200, headers);
  ctx.res.write('retry: 3000\n\n');
  const started = Date.now();
  let lastWrite = Date.now();
  let busy = false;
  let closed = false;
  const server = (ctx.req.socket as { server?: Server }).server;
  const finish = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    openStreams--;
    if (!ctx.res.writableEnded) ctx.res.end();
  };
  const poll = async (): Promise<void> => {
    if (busy || closed) return;
    // A draining server (listening no more) and an old stream end; the browser reconnects where it can.
    if (server?.listening === false || Date.now() - started > STREAM_LIFETIME_MS) { finish(); return; }
    busy = true;
    try {
      const { events } = await auditTrail(call.svc, { ...f.query, since: Math.max(f.query.since ?? 0, lastTime - 5_000) }, 500);
      for (const e of events) {
        if (e.seq <= lastSeq!) continue;
        ctx.res.write(`event: audit\nid: ${e.seq}\ndata: ${JSON.stringify(liveJson(e))}\n\n`);
        lastSeq = e.seq;
        lastTime = Math.max(lastTime, e.time);
        lastWrite = Date.now();
      }
      if (Date.now() - lastWrite > HEARTBEAT_MS) { ctx.res.write(': still here\n\n'); lastWrite = Date.now(); }
    } catch {
      finish();
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => { void poll(); }, POLL_MS);
  ctx.res.once('close', finish);
  await poll();
}

export const auditRoutes: readonly ConsoleRoute[] = [
  { method: 'GET', path: BASE, kind: 'page', handle: auditPage },
  { method: 'GET', path: EVENTS, kind: 'events', handle: auditEvents },
];
