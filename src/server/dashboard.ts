import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Caller, SessionData } from '../authn/index.js';
import { escapeHtml, htmlLayout, sendHtml, sendJson, sendRedirect, wantsJson } from '../http/index.js';
import { fail, impersonationBanner, type RequestContext } from './context.js';
import { findDirectoryUserByEmail } from '../accounts/index.js';

/** The `/.pomerium/user` JSON document. */
export function userJson(c: Caller): Record<string, unknown> {
  return {
    sub: c.policy.user,
    user: c.policy.user,
    email: c.policy.email,
    name: c.assertion.name,
    groups: c.policy.groups,
    claims: c.policy.claims,
    session_id: c.policy.sessionId,
    kind: c.kind,
    ...(c.policy.serviceAccountId ? { service_account_id: c.policy.serviceAccountId } : {}),
    ...(c.impersonator ? { impersonated_by: c.impersonator } : {}),
    ...(c.session?.expiresAt ? { expires_at: new Date(c.session.expiresAt).toISOString() } : {}),
  };
}

/**
 * Whether the caller may use administrator functions. Matched on the REAL
 * identity against `administrators` (emails, user ids, `group:NAME`); while
 * impersonating nobody is an administrator, so impersonation never grants
 * or keeps admin rights.
 */
export function isAdministrator(admins: readonly string[], c: Caller): boolean {
  if (c.impersonator || c.kind !== 'session' && c.kind !== 'service_account') return false;
  const email = c.policy.email.toLowerCase();
  for (const a of admins) {
    if (a.startsWith('group:')) {
      if (c.policy.groups.includes(a.slice(6))) return true;
    } else if (a === c.policy.user || (email !== '' && a.toLowerCase() === email)) return true;
  }
  return false;
}

/** A CSRF token bound to the session (HMAC under the cookie secret). */
export function csrfToken(ctx: RequestContext, sessionId: string): string {
  return createHmac('sha256', ctx.rt.csrfKey).update(`dashboard:${sessionId}`).digest('base64url');
}

function csrfValid(ctx: RequestContext, sessionId: string, presented: string | undefined): boolean {
  if (!presented) return false;
  const want = Buffer.from(csrfToken(ctx, sessionId));
  const got = Buffer.from(presented);
  return want.length === got.length && timingSafeEqual(want, got);
}

export function renderDashboard(ctx: RequestContext, c: Caller): void {
  if (wantsJson(ctx.req)) { sendJson(ctx.res, 200, userJson(c)); return; }
  const rows: [string, string][] = [
    ['Sub', c.policy.user], ['Email', c.policy.email], ['Name', c.assertion.name],
    ['Groups', c.policy.groups.join(', ')], ['Session id', c.policy.sessionId],
  ];
  if (c.impersonator) rows.push(['Impersonated by', c.impersonator.email || c.impersonator.sub]);
  const token = c.session ? csrfToken(ctx, c.session.id) : '';
  const claims = escapeHtml(JSON.stringify(c.policy.claims, null, 2));
  let actions = '';
  if (c.session) {
    actions += `<form method="post" action="/.pomerium/sign_out"><button type="submit">Sign out</button></form>`;
    if (c.impersonator) {
      actions += `<form method="post" action="/.pomerium/"><input type="hidden" name="csrf" value="${token}"><input type="hidden" name="action" value="stop_impersonating"><button type="submit" id="stop-impersonating">Stop impersonating</button></form>`;
    } else if (isAdministrator(ctx.rt.config.administrators, c)) {
      actions += `<h2>Impersonate</h2><p class="muted">See what another user sees. Their policies apply to you until you stop; it is recorded in the audit log.</p>
<form method="post" action="/.pomerium/" id="impersonate"><input type="hidden" name="csrf" value="${token}"><input type="hidden" name="action" value="impersonate">
<p><label>Email <input name="email" type="email" autocomplete="off"></label></p><p><label>Groups <input name="groups" placeholder="comma separated"></label></p><p><button type="submit">Impersonate</button></p></form>`;
    }
  }
  const body = `<h1>User details</h1><dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>
<details><summary>Claims</summary><pre>${claims}</pre></details>${actions}`;
  sendHtml(ctx.res, 200, htmlLayout('User details', body, impersonationBanner(c)));
}

const MAX_FORM_BYTES = 16 * 1024;

async function readForm(ctx: RequestContext): Promise<URLSearchParams | undefined> {
  const type = ctx.req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** POST /.pomerium/: start or stop impersonating (CSRF-checked). */
export async function handleDashboardPost(ctx: RequestContext, c: Caller): Promise<void> {
  const form = await readForm(ctx);
  const s: SessionData | undefined = c.session;
  if (!form || !s) { fail(ctx, 400, 'Expected a form post from the user page.', { reasons: ['form-invalid'] }); return; }
  if (!csrfValid(ctx, s.id, form.get('csrf') ?? undefined)) {
    ctx.svc.audit.emit({ kind: 'impersonate_denied', requestId: ctx.requestId, userId: s.userId, email: s.email, details: { reason: 'csrf-invalid' } });
    fail(ctx, 403, 'The form could not be verified. Reload the user page and try again.', { reasons: ['csrf-invalid'] });
    return;
  }
  const action = form.get('action');
  const back = `${ctx.proto}://${ctx.hostHeader}/.pomerium/`;
  if (action === 'stop_impersonating') {
    if (s.impersonation) {
      await ctx.svc.sessions.save({ ...s, impersonation: undefined });
      ctx.svc.audit.emit({ kind: 'impersonate_stop', requestId: ctx.requestId, userId: s.impersonation.user, email: s.impersonation.email, actor: s.email || s.userId, details: { session_id: s.id } });
    }
    sendRedirect(ctx.res, back, { 'x-request-id': ctx.requestId }, 303);
    return;
  }
  if (action !== 'impersonate') { fail(ctx, 400, 'Unknown action.', { reasons: ['form-invalid'] }); return; }
  if (!isAdministrator(ctx.rt.config.administrators, c)) {
    ctx.svc.audit.emit({ kind: 'impersonate_denied', requestId: ctx.requestId, userId: s.userId, email: s.email, details: { reason: 'not-administrator' } });
    fail(ctx, 403, 'Only administrators may impersonate.', { reasons: ['not-administrator'], banner: impersonationBanner(c) });
    return;
  }
  const email = (form.get('email') ?? '').trim();
  const groupsText = (form.get('groups') ?? '').trim();
  if (!email && !groupsText) { fail(ctx, 400, 'Give an email, groups, or both.', { reasons: ['form-invalid'] }); return; }
  if (email.length > 320 || groupsText.length > 4096) { fail(ctx, 400, 'The form values are too long.', { reasons: ['form-invalid'] }); return; }
  const dir = email ? await findDirectoryUserByEmail(ctx.svc.store, email) : undefined;
  const givenGroups = groupsText ? groupsText.split(',').map((g) => g.trim()).filter(Boolean) : undefined;
  const impersonation = {
    user: dir?.id ?? (email ? email : s.userId),
    email: dir?.email ?? (email || s.email),
    name: dir?.name ?? '',
    groups: givenGroups ?? dir?.groups ?? [],
    startedAt: ctx.svc.now(),
  };
  await ctx.svc.sessions.save({ ...s, impersonation });
  ctx.svc.audit.emit({ kind: 'impersonate_start', requestId: ctx.requestId, userId: impersonation.user, email: impersonation.email, actor: s.email || s.userId, details: { session_id: s.id, groups: impersonation.groups } });
  sendRedirect(ctx.res, back, { 'x-request-id': ctx.requestId }, 303);
}
