/**
 * Users and groups (seed 004): search the directory; a user's page with
 * their groups, sessions and recent decisions; add and remove users who are
 * not in the identity provider (contractors) and group memberships; and
 * impersonate the user (the user page's feature, CONTRACT §6), which opens
 * the user page of a route as them.
 */
import { escapeHtml, sendRedirect } from '../../http/index.js';
import { allowedRedirect } from '../origins.js';
import type { ConsoleCall, ConsoleRoute } from './gate.js';
import { CONSOLE_BASE, pill, postForm, shown, shownTime } from './layout.js';
import { field, list, redirectWithNotice, refuse, render } from './common.js';
import {
  addMembership, addUser, auditTrail, DirectoryError, groupNames, groups, removeMembership, removeUser, sessionsOf, startImpersonation, user, users,
  type DirectoryGroup, type DirectoryUser,
} from './operations.js';
import { revokeAllForm, sessionsTable } from './sessions.js';
import { decisionSummary } from './audit.js';

const BASE = `${CONSOLE_BASE}/users`;
const MAX_SHOWN = 200;

function userHref(u: Pick<DirectoryUser, 'id'>): string {
  return `${BASE}/${encodeURIComponent(u.id)}`;
}

function groupName(names: ReadonlyMap<string, DirectoryGroup>, entry: string): string {
  return names.get(entry)?.name ?? entry;
}

function matches(u: DirectoryUser, q: string, names: ReadonlyMap<string, DirectoryGroup>): boolean {
  const t = q.toLowerCase();
  return u.email.toLowerCase().includes(t) || u.name.toLowerCase().includes(t) || u.id.toLowerCase() === t
    || u.groups.some((g) => groupName(names, g).toLowerCase() === t);
}

async function searchPage(call: ConsoleCall): Promise<void> {
  const q = call.ctx.query.get('q')?.trim() ?? '';
  const [all, names, allGroups] = await Promise.all([users(call.svc), groupNames(call.svc), groups(call.svc)]);
  const found = q ? all.filter((u) => matches(u, q, names)) : all;
  const rows = found.slice(0, MAX_SHOWN).map((u) => `<tr><th scope="row"><a href="${userHref(u)}">${escapeHtml(u.email || u.id)}</a></th><td>${shown(u.name)}</td>`
    + `<td>${shown(u.groups.map((g) => groupName(names, g)).join(', '))}</td><td>${escapeHtml(u.source === 'idp' ? 'identity provider' : u.source)}</td>`
    + `<td>${pill(u.active === false ? 'deactivated' : 'active')}</td><td>${shownTime(u.lastSeen)}</td></tr>`);
  const table = found.length === 0 ? `<p class="muted">${q ? 'No user matches.' : 'The directory is empty: users appear when they sign in, or add one below.'}</p>`
    : `<div class="scroll"><table><caption>${q ? `Users matching “${escapeHtml(q)}”` : 'All users'}</caption><thead><tr><th scope="col">Email</th><th scope="col">Name</th><th scope="col">Groups</th>`
      + `<th scope="col">Source</th><th scope="col">Status</th><th scope="col">Last seen</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`
      + (found.length > MAX_SHOWN ? `<p class="muted">Showing the first ${MAX_SHOWN} of ${found.length}; narrow the search.</p>` : '');
  const groupRows = allGroups.map((g) => `<tr><th scope="row">${escapeHtml(g.name)}</th><td><code>${escapeHtml(g.id)}</code></td><td>${escapeHtml(g.source)}</td>`
    + `<td>${all.filter((u) => u.groups.includes(g.id) || u.groups.includes(g.name)).length}</td><td><a href="${BASE}?q=${encodeURIComponent(g.name)}">Members</a></td></tr>`);
  render(call, 'users', 'Users and groups',
    `<section class="panel" aria-labelledby="search-heading"><h2 id="search-heading">Search</h2><form method="get" action="${BASE}" role="search"><div class="fields">`
    + `<p><label for="user-q">Email, name, id or group</label><input id="user-q" name="q" type="search" value="${escapeHtml(q)}" autocomplete="off"></p>`
    + `</div><div class="actions"><button type="submit">Search</button>${q ? `<a href="${BASE}">Show all</a>` : ''}</div></form></section>`
    + `<section class="panel" aria-labelledby="users-heading"><h2 id="users-heading">Users</h2>${table}</section>`
    + `<section class="panel" aria-labelledby="add-heading"><h2 id="add-heading">Add a user who is not in the identity provider</h2>`
    + '<p class="muted">For contractors and other people your identity provider does not know. They still sign in through the identity provider; the directory gives them groups here.</p>'
    + postForm(BASE, call.csrf, '<div class="fields">'
      + '<p><label for="new-email">Email</label><input id="new-email" name="email" type="email" required autocomplete="off"></p>'
      + '<p><label for="new-name">Name</label><input id="new-name" name="name" autocomplete="off"></p>'
      + '<p><label for="new-groups">Groups <span class="hint">(comma separated)</span></label><input id="new-groups" name="groups" autocomplete="off"></p>'
      + '</div><button type="submit" class="primary">Add user</button>', { id: 'add-user' })
    + '</section>'
    + `<section class="panel" aria-labelledby="groups-heading"><h2 id="groups-heading">Groups</h2>${allGroups.length === 0 ? '<p class="muted">No groups yet.</p>'
      : `<div class="scroll"><table><caption>Groups, by name</caption><thead><tr><th scope="col">Name</th><th scope="col">Id</th><th scope="col">Source</th><th scope="col">Members</th><th scope="col">Actions</th></tr></thead><tbody>${groupRows.join('')}</tbody></table></div>`}</section>`);
}

async function add(call: ConsoleCall): Promise<void> {
  try {
    const u = await addUser(call.svc, call.actor, { email: field(call.form, 'email') ?? '', name: field(call.form, 'name'), groups: list(call.form.get('groups')) });
    redirectWithNotice(call, userHref(u), 'user-added');
  } catch (e) {
    if (e instanceof DirectoryError) { refuse(call, 'users', e.status, e.message.charAt(0).toUpperCase() + e.message.slice(1) + '.', e.code === 'ERR_USER_EXISTS' ? 'user-exists' : 'form-invalid', { href: BASE, label: 'Back to users' }); return; }
    throw e;
  }
}

/** The routes whose user page can show an impersonation: exact hosts (a wildcard names no one host). */
function impersonationTargets(call: ConsoleCall): string[] {
  const out: string[] = [];
  for (const r of call.ctx.rt.config.routes) {
    if (r.fromHost.startsWith('*.')) continue;
    const origin = new URL(r.from).origin;
    if (!out.includes(origin)) out.push(origin);
  }
  return out;
}

async function userPage(call: ConsoleCall): Promise<void> {
  const u = await user(call.svc, call.params.id!);
  if (!u) { refuse(call, 'users', 404, 'No directory user has that id or email.', 'user-unknown', { href: BASE, label: 'Back to users' }); return; }
  const here = userHref(u);
  const [names, live, trail] = await Promise.all([
    groupNames(call.svc), sessionsOf(call.svc, { id: u.id, email: u.email }),
    auditTrail(call.svc, { userIds: [u.id], email: u.email || undefined, kind: 'authorize' }, 20),
  ]);
  const memberships = u.groups.length === 0 ? '<p class="muted">Member of no group.</p>'
    : `<ul>${u.groups.map((g) => `<li>${escapeHtml(groupName(names, g))} ${postForm(`${here}/groups/remove`, call.csrf,
      `<input type="hidden" name="group" value="${escapeHtml(g)}"><button type="submit" aria-label="Remove from group ${escapeHtml(groupName(names, g))}">Remove</button>`, { inline: true })}</li>`).join('')}</ul>`;
  const decisions = trail.events.length === 0 ? '<p class="muted">No decisions recorded for this user.</p>'
    : `<div class="scroll"><table><caption>Newest first</caption><thead><tr><th scope="col">Time</th><th scope="col">Decision</th><th scope="col">Route</th><th scope="col">Request</th></tr></thead><tbody>`
      + trail.events.slice().reverse().map((e) => `<tr><th scope="row">${shownTime(e.time)}</th><td>${e.decision ? pill(e.decision) : ''}</td><td>${shown(e.route)}</td><td>${escapeHtml(decisionSummary(e))}</td></tr>`).join('')
      + `</tbody></table></div><p><a href="${CONSOLE_BASE}/audit?user=${encodeURIComponent(u.email || u.id)}">All of this user's events in the audit trail</a></p>`;
  const targets = impersonationTargets(call);
  const impersonate = u.active === false ? '<p class="muted">A deactivated user cannot be impersonated.</p>'
    : targets.length === 0 ? '<p class="muted">No route has a single host to open as this user.</p>'
      : postForm(`${here}/impersonate`, call.csrf, '<div class="fields">'
        + `<p><label for="imp-route">Open as ${escapeHtml(u.email || u.id)}</label><select id="imp-route" name="route">${targets.map((t) => `<option value="${escapeHtml(t)}">${escapeHtml(t)}</option>`).join('')}</select></p>`
        + `</div><button type="submit">Impersonate ${escapeHtml(u.email || u.id)}</button>`, { id: 'impersonate' })
        + '<p class="muted">Their policies then apply to you everywhere, until you stop (the banner on every Limen page), sign out, or your session refreshes. It is recorded in the audit trail. The console is closed to you meanwhile.</p>';
  render(call, 'users', u.email || u.id,
    `<p><a href="${BASE}">← All users</a></p>`
    + `<section class="panel" aria-labelledby="details-heading"><h2 id="details-heading">Details</h2><dl class="facts"><dt>Id</dt><dd><code>${escapeHtml(u.id)}</code></dd>`
    + `<dt>Email</dt><dd>${shown(u.email)}</dd><dt>Name</dt><dd>${shown(u.name)}</dd><dt>Source</dt><dd>${escapeHtml(u.source === 'idp' ? 'identity provider (from sign-in)' : u.source)}</dd>`
    + `<dt>Status</dt><dd>${pill(u.active === false ? 'deactivated' : 'active')}</dd><dt>Last seen</dt><dd>${shownTime(u.lastSeen)}</dd></dl></section>`
    + `<section class="panel" aria-labelledby="groups-heading"><h2 id="groups-heading">Groups</h2>${memberships}`
    + postForm(`${here}/groups`, call.csrf, '<div class="fields"><p><label for="add-group">Add to group <span class="hint">(name; a new name creates the group)</span></label>'
      + '<input id="add-group" name="group" required autocomplete="off"></p><p><button type="submit">Add to group</button></p></div>', { id: 'add-membership' })
    + '</section>'
    + `<section class="panel" aria-labelledby="sessions-heading"><h2 id="sessions-heading">Sessions</h2>${sessionsTable(call, live, `Live sessions of ${u.email || u.id}`, here)}`
    + (live.length > 0 ? `<div class="actions">${revokeAllForm(call, u.email || u.id, here)}</div>` : '') + '</section>'
    + `<section class="panel" aria-labelledby="decisions-heading"><h2 id="decisions-heading">Recent decisions</h2>${decisions}</section>`
    + `<section class="panel" aria-labelledby="impersonate-heading"><h2 id="impersonate-heading">Impersonate</h2>${impersonate}</section>`
    + `<section class="panel" aria-labelledby="remove-heading"><h2 id="remove-heading">Remove from the directory</h2>`
    + `<p class="muted">Removes the record and ends every session. ${u.source === 'idp' ? 'A user from the identity provider comes back at their next sign-in.' : 'They keep nothing here.'}</p>`
    + `<p><a class="button" href="${here}/remove">Remove ${escapeHtml(u.email || u.id)}…</a></p></section>`);
}

async function addGroup(call: ConsoleCall): Promise<void> {
  const u = await user(call.svc, call.params.id!);
  const g = field(call.form, 'group');
  if (!u || !g) { refuse(call, 'users', u ? 400 : 404, u ? 'Give a group name.' : 'No directory user has that id.', u ? 'form-invalid' : 'user-unknown', { href: u ? userHref(u) : BASE, label: 'Back' }); return; }
  try {
    const { changed } = await addMembership(call.svc, call.actor, u, g);
    redirectWithNotice(call, userHref(u), changed ? 'member-added' : 'nothing-changed');
  } catch (e) {
    if (e instanceof DirectoryError) { refuse(call, 'users', e.status, `${e.message}.`, 'form-invalid', { href: userHref(u), label: 'Back to the user' }); return; }
    throw e;
  }
}

async function removeGroup(call: ConsoleCall): Promise<void> {
  const u = await user(call.svc, call.params.id!);
  const g = field(call.form, 'group');
  if (!u || !g) { refuse(call, 'users', u ? 400 : 404, u ? 'Give a group.' : 'No directory user has that id.', u ? 'form-invalid' : 'user-unknown', { href: u ? userHref(u) : BASE, label: 'Back' }); return; }
  const { changed } = await removeMembership(call.svc, call.actor, u, g);
  redirectWithNotice(call, userHref(u), changed ? 'member-removed' : 'nothing-changed');
}

async function confirmRemove(call: ConsoleCall): Promise<void> {
  const u = await user(call.svc, call.params.id!);
  if (!u) { refuse(call, 'users', 404, 'No directory user has that id.', 'user-unknown', { href: BASE, label: 'Back to users' }); return; }
  render(call, 'users', `Remove ${u.email || u.id}`,
    `<section class="panel"><p>Remove <strong>${escapeHtml(u.email || u.id)}</strong> from the directory? Their memberships are lost and every session they hold ends now.</p>`
    + `<div class="actions">${postForm(`${userHref(u)}/remove`, call.csrf, '<button type="submit" class="danger">Remove user</button>', { inline: true })}<a href="${userHref(u)}">Cancel</a></div></section>`);
}

async function remove(call: ConsoleCall): Promise<void> {
  const u = await user(call.svc, call.params.id!);
  if (!u) { refuse(call, 'users', 404, 'No directory user has that id.', 'user-unknown', { href: BASE, label: 'Back to users' }); return; }
  const { sessionsRevoked } = await removeUser(call.svc, call.actor, u.id);
  redirectWithNotice(call, BASE, 'user-removed', sessionsRevoked);
}

async function impersonate(call: ConsoleCall): Promise<void> {
  const u = await user(call.svc, call.params.id!);
  const target = allowedRedirect(call.ctx.rt, call.form.get('route'));
  if (!u || u.active === false || !target || !call.session) {
    refuse(call, 'users', 400, !u ? 'No directory user has that id.' : u.active === false ? 'That user is deactivated.' : !call.session ? 'Only a signed-in browser session can impersonate.' : 'Choose one of the routes offered.',
      !u ? 'user-unknown' : u.active === false ? 'user-deprovisioned' : !call.session ? 'not-a-session' : 'form-invalid', { href: u ? userHref(u) : BASE, label: 'Back' });
    return;
  }
  if (!(await startImpersonation(call.svc, call.actor, call.session, u))) {
    refuse(call, 'users', 401, 'Your session has ended. Sign in again.', 'session-not-found', { href: `${CONSOLE_BASE}/`, label: 'Sign in again' });
    return;
  }
  // The route host's user page shows who you now are, with the way to stop.
  sendRedirect(call.ctx.res, new URL('/.pomerium/', target.origin).href, { 'x-request-id': call.ctx.requestId }, 303);
}

export const userRoutes: readonly ConsoleRoute[] = [
  { method: 'GET', path: BASE, kind: 'page', handle: searchPage },
  { method: 'POST', path: BASE, kind: 'change', handle: add },
  { method: 'GET', path: `${BASE}/:id`, kind: 'page', handle: userPage },
  { method: 'POST', path: `${BASE}/:id/groups`, kind: 'change', handle: addGroup },
  { method: 'POST', path: `${BASE}/:id/groups/remove`, kind: 'change', handle: removeGroup },
  { method: 'GET', path: `${BASE}/:id/remove`, kind: 'page', handle: confirmRemove },
  { method: 'POST', path: `${BASE}/:id/remove`, kind: 'change', handle: remove },
  { method: 'POST', path: `${BASE}/:id/impersonate`, kind: 'change', handle: impersonate },
];
