/**
 * Sessions (seed 004): every live session, filtered by user; revoke one,
 * or every session of a user, with one click. A revoked session's next
 * request is refused (the session record is gone from the store).
 */
import { escapeHtml } from '../../http/index.js';
import type { ConsoleCall, ConsoleRoute } from './gate.js';
import { CONSOLE_BASE, postForm, shown, shownTime } from './layout.js';
import { field, redirectWithNotice, refuse, render } from './common.js';
import { revokeOneSession, revokeSessionsOf, sessions, type SessionSummary } from './operations.js';

const BASE = `${CONSOLE_BASE}/sessions`;

/** The sessions as a table with a one-click revoke per row; `back` is where the change returns to. */
export function sessionsTable(call: ConsoleCall, list: readonly SessionSummary[], caption: string, back: string): string {
  if (list.length === 0) return '<p class="muted">No live sessions.</p>';
  const rows = list.map((s) => {
    const who = s.email || s.userId;
    const mine = call.session?.id === s.id;
    return `<tr><th scope="row"><a href="${CONSOLE_BASE}/users/${encodeURIComponent(s.userId)}">${escapeHtml(who)}</a>${mine ? ' <span class="muted">(this session)</span>' : ''}</th>`
      + `<td><code class="id">${escapeHtml(s.id)}</code></td><td>${escapeHtml(s.source)}</td>`
      + `<td>${shownTime(s.issuedAt)}${s.refreshedAt ? `<div class="muted">refreshed ${shownTime(s.refreshedAt)}</div>` : ''}</td><td>${shownTime(s.expiresAt)}</td>`
      + `<td>${s.impersonating ? escapeHtml(s.impersonating.email || s.impersonating.user) : '<span class="none">none</span>'}</td>`
      + `<td class="nowrap">${postForm(`${BASE}/${encodeURIComponent(s.id)}/revoke`, call.csrf, `<input type="hidden" name="back" value="${escapeHtml(back)}"><button type="submit" class="danger" aria-label="Revoke session ${escapeHtml(s.id)} of ${escapeHtml(who)}">Revoke</button>`, { inline: true })}</td></tr>`;
  });
  return `<div class="scroll"><table><caption>${escapeHtml(caption)}</caption><thead><tr><th scope="col">User</th><th scope="col">Session id</th><th scope="col">Kind</th>`
    + '<th scope="col">Signed in</th><th scope="col">Expires</th><th scope="col">Impersonating</th><th scope="col">Actions</th></tr></thead>'
    + `<tbody>${rows.join('')}</tbody></table></div>`;
}

/** A one-click "revoke all of this user's sessions" form. */
export function revokeAllForm(call: ConsoleCall, who: string, back: string): string {
  return postForm(`${BASE}/revoke-user`, call.csrf, `<input type="hidden" name="user" value="${escapeHtml(who)}"><input type="hidden" name="back" value="${escapeHtml(back)}">`
    + `<button type="submit" class="danger">Revoke all sessions of ${escapeHtml(who)}</button>`, { inline: true });
}

/**
 * Where a change goes back to: a console page only, judged after the URL
 * is resolved (dot segments and all), so `back` can never lead elsewhere
 * (`/.pomerium/admin/../../..//evil.example` resolves to `//evil.example`).
 */
export function backPath(form: URLSearchParams, fallback: string): string {
  const b = form.get('back');
  if (b === null || b.length > 2048 || !b.startsWith('/') || /[\\\s]/.test(b)) return fallback;
  let u: URL;
  try { u = new URL(b, 'http://console.invalid'); } catch { return fallback; }
  return u.origin === 'http://console.invalid' && u.pathname.startsWith(`${CONSOLE_BASE}/`) ? `${u.pathname}${u.search}` : fallback;
}

async function listPage(call: ConsoleCall): Promise<void> {
  const who = call.ctx.query.get('user')?.trim() || undefined;
  const list = await sessions(call.svc, who);
  const here = who ? `${BASE}?user=${encodeURIComponent(who)}` : BASE;
  render(call, 'sessions', 'Sessions',
    `<section class="panel" aria-labelledby="filter-heading"><h2 id="filter-heading">Filter</h2><form method="get" action="${BASE}" role="search"><div class="fields">`
    + `<p><label for="session-user">User <span class="hint">(email or id)</span></label><input id="session-user" name="user" value="${escapeHtml(who ?? '')}" autocomplete="off"></p>`
    + `</div><div class="actions"><button type="submit">Show sessions</button>${who ? `<a href="${BASE}">Show everyone's</a>` : ''}</div></form>`
    + (who && list.length > 0 ? `<div class="actions">${revokeAllForm(call, who, here)}</div>` : '')
    + '</section>'
    + `<section class="panel" aria-labelledby="sessions-heading"><h2 id="sessions-heading">${who ? `Sessions of ${escapeHtml(who)}` : 'All live sessions'}</h2>`
    + `<p class="muted">${list.length} live ${list.length === 1 ? 'session' : 'sessions'}${who ? '' : ', oldest first'}.</p>${sessionsTable(call, list, who ? `Sessions of ${who}` : 'Live sessions', here)}</section>`);
}

async function revokeOne(call: ConsoleCall): Promise<void> {
  const back = backPath(call.form, BASE);
  const s = await revokeOneSession(call.svc, call.actor, call.params.id!);
  if (!s) { refuse(call, 'sessions', 404, 'No live session has that id: it may have ended already.', 'session-not-found', { href: back, label: 'Back' }); return; }
  redirectWithNotice(call, back, 'session-revoked');
}

async function revokeAll(call: ConsoleCall): Promise<void> {
  const back = backPath(call.form, BASE);
  const who = field(call.form, 'user');
  if (!who) { refuse(call, 'sessions', 400, 'Say whose sessions to revoke.', 'form-invalid', { href: back, label: 'Back' }); return; }
  const { revoked } = await revokeSessionsOf(call.svc, call.actor, who);
  redirectWithNotice(call, back, 'sessions-revoked', revoked);
}

export const sessionRoutes: readonly ConsoleRoute[] = [
  { method: 'GET', path: BASE, kind: 'page', handle: listPage },
  { method: 'POST', path: `${BASE}/revoke-user`, kind: 'change', handle: revokeAll },
  { method: 'POST', path: `${BASE}/:id/revoke`, kind: 'change', handle: revokeOne },
];

