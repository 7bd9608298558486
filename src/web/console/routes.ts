/** Every console endpoint in one table: the gate serves exactly these, and the guard test walks them all. */
import type { RequestContext } from '../context.js';
import { escapeHtml, sendRedirect } from '../../http/index.js';
import { serveConsole, type ConsoleCall, type ConsoleRoute } from './gate.js';
import { CONSOLE_BASE, shownTime } from './layout.js';
import { redirectWithNotice, render } from './common.js';
import { serviceAccountRoutes } from './service-accounts.js';
import { scriptRoute } from './script.js';
import { auditTrail, stopImpersonation, serviceAccounts, sessions, users, type ConsoleServices, type StoredAuditEvent } from './operations.js';
import { userRoutes } from './users.js';
import { sessionRoutes } from './sessions.js';
import { auditRoutes, decisionSummary } from './audit.js';
import { policyRoutes } from './policies.js';
import { namespaceRoutes } from './namespaces.js';

/** The kinds of event that are administrative changes, for the overview's "recent changes". */
const CHANGE_KINDS = new Set(['service_account.create', 'service_account.revoke', 'user.create', 'user.update', 'user.activate', 'user.deactivate', 'user.delete',
  'group.create', 'group.update', 'group.delete', 'group.member_add', 'group.member_remove', 'session.revoke', 'impersonate_start', 'impersonate_stop',
  'scim_token.create', 'scim_token.revoke', 'route_token.revoke', 'data.load', 'data.delete']);

function eventsTable(caption: string, events: readonly StoredAuditEvent[], empty: string): string {
  if (events.length === 0) return `<p class="muted">${empty}</p>`;
  return `<div class="scroll"><table><caption>${escapeHtml(caption)}</caption><thead><tr><th scope="col">Time</th><th scope="col">Kind</th><th scope="col">User</th><th scope="col">By</th><th scope="col">Details</th></tr></thead><tbody>`
    + events.map((e) => `<tr><th scope="row">${shownTime(e.time)}</th><td>${escapeHtml(e.kind)}</td><td>${escapeHtml(e.email || e.userId || '')}</td><td>${escapeHtml(e.actor ?? '')}</td><td class="mono">${escapeHtml(decisionSummary(e))}</td></tr>`).join('')
    + '</tbody></table></div>';
}

async function overview(call: ConsoleCall): Promise<void> {
  const since = call.svc.now() - 24 * 60 * 60 * 1000;
  const [accounts, people, live, denials, ...byKind] = await Promise.all([
    serviceAccounts(call.svc), users(call.svc), sessions(call.svc),
    auditTrail(call.svc, { decision: 'deny', since }, 10),
    ...[...CHANGE_KINDS].map((kind) => auditTrail(call.svc, { kind, since }, 10)),
  ]);
  const changes = byKind.flatMap((t) => t.events).sort((x, y) => y.seq - x.seq).slice(0, 10);
  const card = (label: string, value: number, href: string, link: string): string => `<li class="panel"><h2>${label}</h2><p class="count">${value}</p><p><a href="${href}">${link}</a></p></li>`;
  render(call, 'overview', 'Overview',
    '<ul class="cards">'
    + card('Active service accounts', accounts.filter((a) => a.status === 'active').length, `${CONSOLE_BASE}/service-accounts`, 'Manage service accounts')
    + card('Directory users', people.length, `${CONSOLE_BASE}/users`, 'Find a user')
    + card('Live sessions', live.length, `${CONSOLE_BASE}/sessions`, 'See sessions')
    + card('Routes', call.ctx.rt.config.routes.length, `${CONSOLE_BASE}/routes`, 'Explain a decision')
    + '</ul>'
    + `<section class="panel" aria-labelledby="denials-heading"><h2 id="denials-heading">Recent denials</h2>${eventsTable('The last 10 denied requests of the past day, newest first', denials.events.slice().reverse(), 'No request was denied in the past day.')}`
    + `<p><a href="${CONSOLE_BASE}/audit?decision=deny">All denied requests</a></p></section>`
    + `<section class="panel" aria-labelledby="changes-heading"><h2 id="changes-heading">Recent administrative changes</h2>${eventsTable('The last 10 changes of the past day, newest first', changes, 'No administrative change in the past day.')}`
    + `<p><a href="${CONSOLE_BASE}/audit">The whole audit trail</a></p></section>`);
}

async function stop(call: ConsoleCall): Promise<void> {
  if (call.session) await stopImpersonation(call.svc, call.actor, call.session);
  redirectWithNotice(call, `${CONSOLE_BASE}/`, 'impersonation-stopped');
}

const ROUTES: readonly ConsoleRoute[] = [
  scriptRoute,
  { method: 'GET', path: `${CONSOLE_BASE}/`, kind: 'page', handle: overview },
  ...serviceAccountRoutes,
  ...userRoutes,
  ...sessionRoutes,
  ...auditRoutes,
  ...policyRoutes,
  ...namespaceRoutes,
  { method: 'POST', path: `${CONSOLE_BASE}/stop-impersonating`, kind: 'change', audience: 'impersonating', handle: stop },
];

/** Every console endpoint, in match order. */
export function consoleRoutes(): readonly ConsoleRoute[] {
  return ROUTES;
}

/** Serves `/.pomerium/admin` and everything under it on the authenticate host. */
export async function handleConsole(ctx: RequestContext): Promise<void> {
  if (ctx.pathname === CONSOLE_BASE && (ctx.req.method === 'GET' || ctx.req.method === 'HEAD')) {
    sendRedirect(ctx.res, `${CONSOLE_BASE}/`, { 'x-request-id': ctx.requestId }, 301);
    return;
  }
  const svc: ConsoleServices = { store: ctx.svc.store, sessions: ctx.svc.sessions, audit: ctx.svc.audit, now: ctx.svc.now };
  await serveConsole(ctx, ROUTES, svc);
}
