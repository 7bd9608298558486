/**
 * The `/.pomerium/` user page (CONTRACT §4, §6): who Limen thinks you are,
 * sign-out, and for administrators the impersonation form. Impersonation is
 * a same-origin POST with the session's CSRF token (csrf.ts); it ends on
 * "stop impersonating", on sign-out (the session is deleted), on refresh
 * (`SessionStore.applyRefresh`) and as soon as the administrator loses their
 * rights (`Identifier`, authn/identify.ts). Every start, stop and refused
 * attempt is an audit event.
 */
import { emailVerifiedClaim, type Caller, type Impersonation, type SessionData } from '../../authn/index.js';
import { escapeHtml, htmlLayout, readUrlEncodedForm, renderActions, sendHtml, sendJson, sendRedirect, shownValue, wantsJson } from '../../http/index.js';
import { fail, impersonationBanner, sessionCsrfToken, siteOrigin, type RequestContext } from '../context.js';
import { backTarget, signOutActions } from './actions.js';
import { requestOrigin } from '../origins.js';
import { CSRF_FORM_FIELD, CSRF_MESSAGES, checkCsrfToken, checkRequestOrigin } from '../csrf.js';
import { findUserByIdOrEmail, isAdministrator } from '../../accounts/index.js';

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

/** The email row: says why it is empty when the IdP did not verify the address (authn/claims.ts). */
function emailShown(c: Caller): string {
  // An email set aside as unverified is kept as '' in the claims; an IdP that sent none leaves it undefined.
  if (c.policy.email !== '' || c.policy.claims.email !== '' || c.impersonator || c.kind !== 'session') return shownValue(c.policy.email);
  const verified = emailVerifiedClaim(c.policy.claims);
  return verified === true ? shownValue('') : verified === false
    ? '<span class="none">none: the identity provider has not verified your address</span>'
    : '<span class="none">none: the identity provider did not say whether your address is verified</span>';
}

/** The `pomerium_redirect_uri` that brings a page back to the user page with its "Back" link. */
function userPageUrl(back: URL | undefined): string {
  return back ? `/.pomerium/?pomerium_redirect_uri=${encodeURIComponent(back.href)}` : '/.pomerium/';
}

/**
 * The user page: who Limen thinks you are (an empty value reads "none"), a
 * link back to the app page you came from (backTarget: same origin only),
 * sign out or sign in as someone else, and for administrators the
 * impersonation form.
 */
export function renderUserPage(ctx: RequestContext, c: Caller): void {
  if (wantsJson(ctx.req)) { sendJson(ctx.res, 200, userJson(c)); return; }
  const back = backTarget(ctx);
  const rows: [string, string][] = [
    ['Sub', shownValue(c.policy.user)], ['Email', emailShown(c)], ['Name', shownValue(c.assertion.name)],
    ['Groups', shownValue(c.policy.groups.join(', '))], ['Session id', shownValue(c.policy.sessionId)],
  ];
  if (c.impersonator) rows.push(['Impersonated by', shownValue(c.impersonator.email || c.impersonator.sub)]);
  const token = c.session ? sessionCsrfToken(ctx, c.session.id) : '';
  const claims = Object.keys(c.policy.claims).length > 0
    ? `<details><summary>Claims</summary><pre>${escapeHtml(JSON.stringify(c.policy.claims, null, 2))}</pre></details>`
    : '<p>Claims: <span class="none">none</span></p>';
  const backLink = back ? `<p class="back"><a href="${escapeHtml(back.href)}"><span aria-hidden="true">← </span>Back to ${escapeHtml(`${back.pathname}${back.search}`)}</a></p>` : '';
  let actions = '';
  if (c.session) {
    actions += renderActions(signOutActions(ctx, c.session.id, back));
    // While impersonating, the banner carries the one "Stop impersonating" button.
    if (!c.impersonator && isAdministrator(ctx.rt.config.administrators, c)) {
      actions += `<h2>Impersonate</h2><p class="muted">See what another user sees. Their policies apply to you until you stop, sign out or your session refreshes; it is recorded in the audit log.</p>
<form method="post" action="/.pomerium/" id="impersonate"><input type="hidden" name="${CSRF_FORM_FIELD}" value="${token}"><input type="hidden" name="action" value="impersonate">${back ? `<input type="hidden" name="pomerium_redirect_uri" value="${escapeHtml(back.href)}">` : ''}
<p><label>Email <input name="email" type="email" autocomplete="off"></label></p><p><label>Groups <input name="groups" placeholder="comma separated"></label></p><p><button type="submit">Impersonate</button></p></form>`;
    }
  }
  const body = `${backLink}<h1>User details</h1><dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${v}</dd>`).join('')}</dl>
${claims}${actions}`;
  sendHtml(ctx.res, 200, htmlLayout('User details', body, impersonationBanner(c, ctx)));
}

const MAX_FORM_BYTES = 16 * 1024;
const MAX_GROUPS = 100;
const MAX_GROUP_LENGTH = 256;


/** Comma-separated group names from the form; undefined when malformed. */
function parseGroups(text: string): string[] | undefined {
  const groups = [...new Set(text.split(',').map((g) => g.trim()).filter(Boolean))];
  if (groups.length > MAX_GROUPS || groups.some((g) => g.length > MAX_GROUP_LENGTH || /\p{Cc}/u.test(g))) return undefined;
  return groups;
}

/** POST /.pomerium/: start or stop impersonating (CSRF-checked, audited). */
export async function handleUserPagePost(ctx: RequestContext, c: Caller): Promise<void> {
  const banner = impersonationBanner(c, ctx);
  const s: SessionData | undefined = c.session;
  const denied = (reason: string): void => {
    ctx.svc.audit.emit({
      kind: 'impersonate_denied', requestId: ctx.requestId, userId: s?.userId ?? c.policy.user, email: s?.email ?? c.policy.email,
      details: { reason, ip: ctx.ip, ...(s ? { session_id: s.id } : {}) },
    });
  };
  if (!s) {
    denied('not-a-session');
    fail(ctx, 403, 'Only a signed-in browser session can impersonate.', { reasons: ['not-a-session'], banner });
    return;
  }
  // CSRF (csrf.ts): the origin before the body is read, then the form's token.
  const origin = siteOrigin(ctx);
  const crossSite = checkRequestOrigin(ctx.req.headers, origin);
  if (crossSite) {
    denied(crossSite);
    fail(ctx, 403, CSRF_MESSAGES[crossSite], { reasons: [crossSite], banner });
    return;
  }
  const form = await readUrlEncodedForm(ctx.req, MAX_FORM_BYTES);
  if (!form) {
    denied('form-invalid');
    fail(ctx, 400, 'Expected a form post from the user page.', { reasons: ['form-invalid'], banner });
    return;
  }
  const badToken = checkCsrfToken(ctx.rt.csrfKey, s.id, origin, form.get(CSRF_FORM_FIELD) ?? undefined);
  if (badToken) {
    denied(badToken);
    fail(ctx, 403, 'The form could not be verified. Reload the user page and try again.', { reasons: [badToken], banner });
    return;
  }
  const action = form.get('action');
  const back = `${requestOrigin(ctx)}${userPageUrl(backTarget(ctx, form.get('pomerium_redirect_uri')))}`;
  if (action === 'stop_impersonating') {
    if (s.impersonation) {
      if (await ctx.svc.sessions.save({ ...s, impersonation: undefined }) !== null) ctx.svc.audit.emit({ kind: 'impersonate_stop', requestId: ctx.requestId, userId: s.impersonation.user, email: s.impersonation.email, actor: s.email || s.userId, details: { session_id: s.id, reason: 'stopped' } });
    }
    sendRedirect(ctx.res, back, { 'x-request-id': ctx.requestId }, 303);
    return;
  }
  if (action !== 'impersonate') {
    denied('form-invalid');
    fail(ctx, 400, 'Unknown action.', { reasons: ['form-invalid'], banner });
    return;
  }
  if (!isAdministrator(ctx.rt.config.administrators, c)) {
    denied(c.impersonator ? 'already-impersonating' : 'not-administrator');
    fail(ctx, 403, c.impersonator ? 'Stop impersonating before impersonating someone else.' : 'Only administrators may impersonate.', {
      reasons: [c.impersonator ? 'already-impersonating' : 'not-administrator'], banner,
    });
    return;
  }
  const email = (form.get('email') ?? '').trim();
  const groups = parseGroups(form.get('groups') ?? '');
  if ((!email && (!groups || groups.length === 0)) || email.length > 320 || !groups || /[\s\p{Cc}]/u.test(email)) {
    denied('form-invalid');
    fail(ctx, 400, 'Give an email, groups (comma separated), or both.', { reasons: ['form-invalid'] });
    return;
  }
  const dir = email ? await findUserByIdOrEmail(ctx.svc.store, email) : undefined;
  if (dir?.active === false) {
    denied('user-deprovisioned');
    fail(ctx, 400, 'That user is deactivated in the directory and has no access to impersonate.', { reasons: ['user-deprovisioned'] });
    return;
  }
  if (email && !dir && !email.includes('@')) {
    denied('user-unknown');
    fail(ctx, 400, 'No directory user has that id; give an email address.', { reasons: ['user-unknown'] });
    return;
  }
  // CONTRACT §6: the directory user's id, email, name and groups when known; given groups override.
  const impersonation: Impersonation = {
    user: dir?.id ?? (email || s.userId),
    email: dir?.email ?? (email || s.email),
    name: dir?.name ?? '',
    groups: groups.length > 0 ? groups : dir?.groups ?? [],
    startedAt: ctx.svc.now(),
  };
  if (await ctx.svc.sessions.save({ ...s, impersonation }) === null) {
    // Signed out or revoked while this request was on its way: nothing to impersonate from.
    fail(ctx, 401, 'Your session has ended. Sign in again.', { reasons: ['session-not-found'] });
    return;
  }
  ctx.svc.audit.emit({
    kind: 'impersonate_start', requestId: ctx.requestId, userId: impersonation.user, email: impersonation.email, actor: s.email || s.userId,
    details: { session_id: s.id, groups: impersonation.groups, groups_given: groups.length > 0, ip: ctx.ip },
  });
  sendRedirect(ctx.res, back, { 'x-request-id': ctx.requestId }, 303);
}
