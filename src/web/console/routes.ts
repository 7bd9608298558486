/** Every console endpoint in one table: the gate serves exactly these, and the guard test walks them all. */
import type { RequestContext } from '../context.js';
import { sendRedirect } from '../../http/index.js';
import { serveConsole, type ConsoleCall, type ConsoleRoute } from './gate.js';
import { CONSOLE_BASE } from './layout.js';
import { redirectWithNotice, render } from './common.js';
import { serviceAccountRoutes } from './service-accounts.js';
import { scriptRoute } from './script.js';
import { stopImpersonation, serviceAccounts, sessions, users, type ConsoleServices } from './operations.js';
import { userRoutes } from './users.js';
import { sessionRoutes } from './sessions.js';
import { auditRoutes } from './audit.js';
import { policyRoutes } from './policies.js';
import { namespaceRoutes } from './namespaces.js';

async function overview(call: ConsoleCall): Promise<void> {
  const [accounts, people, live] = await Promise.all([serviceAccounts(call.svc), users(call.svc), sessions(call.svc)]);
  const card = (label: string, value: number, href: string, link: string): string => `<li class="panel"><h2>${label}</h2><p class="count">${value}</p><p><a href="${href}">${link}</a></p></li>`;
  render(call, 'overview', 'Overview',
    '<ul class="cards">'
    + card('Active service accounts', accounts.filter((a) => a.status === 'active').length, `${CONSOLE_BASE}/service-accounts`, 'Manage service accounts')
    + card('Directory users', people.length, `${CONSOLE_BASE}/users`, 'Find a user')
    + card('Live sessions', live.length, `${CONSOLE_BASE}/sessions`, 'See sessions')
    + card('Routes', call.ctx.rt.config.routes.length, `${CONSOLE_BASE}/routes`, 'Explain a decision')
    + '</ul>'
    + `<section class="panel"><h2>Recent refusals</h2><p><a href="${CONSOLE_BASE}/audit?decision=deny">See denied requests in the audit trail</a></p></section>`);
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
