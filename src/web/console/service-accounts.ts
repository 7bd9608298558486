/**
 * Service accounts (seed 000): the list (namespace, user, expiry, last
 * used, status), the create form, the token shown once on the result
 * (never cached: `Cache-Control: no-store`, and never logged), and revoke
 * after a confirmation page.
 */
import { escapeHtml } from '../../http/index.js';
import type { ConsoleCall, ConsoleRoute } from './gate.js';
import { CONSOLE_BASE, pill, postForm, shown, shownTime } from './layout.js';
import { field, redirectWithNotice, refuse, render } from './common.js';
import { createServiceAccount, revokeAccount, serviceAccount, serviceAccounts, ServiceAccountError, type ServiceAccountView } from './operations.js';

const BASE = `${CONSOLE_BASE}/service-accounts`;

function accountsTable(call: ConsoleCall, accounts: readonly ServiceAccountView[], caption: string): string {
  if (accounts.length === 0) return '<p class="muted">No service accounts yet.</p>';
  const rows = accounts.map((a) => `<tr><th scope="row"><code>${escapeHtml(a.id)}</code>${a.description ? `<div class="muted">${escapeHtml(a.description)}</div>` : ''}</th>`
    + `<td>${escapeHtml(a.namespace)}</td><td>${escapeHtml(a.user_id)}${a.acts_as_user ? ' <span class="muted">(acts as this directory user)</span>' : ''}${a.roles?.includes('admin') ? ' <span class="muted">(admin role)</span>' : ''}${a.created_by ? `<div class="muted">created by ${escapeHtml(a.created_by)}</div>` : ''}</td>`
    + `<td>${shownTime(a.expires_at, 'never expires')}</td><td>${shownTime(a.accessed_at, 'never used')}</td><td>${pill(a.status)}</td>`
    + `<td>${a.status === 'active' ? `<a href="${BASE}/${encodeURIComponent(a.id)}/revoke" aria-label="Revoke ${escapeHtml(a.user_id)} (${escapeHtml(a.id)})">Revoke</a>` : '<span class="none">none</span>'}</td></tr>`);
  return `<div class="scroll"><table><caption>${escapeHtml(caption)}</caption><thead><tr><th scope="col">Id</th><th scope="col">Namespace</th><th scope="col">User</th>`
    + '<th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">Status</th><th scope="col">Actions</th></tr></thead>'
    + `<tbody>${rows.join('')}</tbody></table></div>`;
}

function createForm(call: ConsoleCall): string {
  const namespaces = call.ctx.rt.config.namespaces.map((n) => `<option value="${escapeHtml(n.name)}">${escapeHtml(n.name)}</option>`).join('');
  return `<section class="panel" aria-labelledby="create-heading"><h2 id="create-heading">Add a service account</h2>`
    + '<p class="muted">Give a new user id for the account, or the email of an existing directory user for it to act as. Policies match it by its user id.</p>'
    + postForm(BASE, call.csrf, '<div class="fields">'
      + '<p><label for="sa-user">User id <span class="hint">(a new id)</span></label><input id="sa-user" name="user_id" autocomplete="off" spellcheck="false"></p>'
      + '<p><label for="sa-as-user">Or act as user <span class="hint">(email or id)</span></label><input id="sa-as-user" name="as_user" autocomplete="off" spellcheck="false"></p>'
      + `<p><label for="sa-namespace">Namespace</label><select id="sa-namespace" name="namespace">${namespaces}</select></p>`
      + '<p><label for="sa-expires">Expires in <span class="hint">(30d, 12h or a date; empty: never)</span></label><input id="sa-expires" name="expires_in" autocomplete="off"></p>'
      + '<p><label for="sa-description">Description</label><input id="sa-description" name="description" autocomplete="off"></p>'
      + '</div><p><label class="inline-choice"><input type="checkbox" name="role_admin" value="1"> Admin role <span class="hint">(may use the admin API; not the console)</span></label></p><button type="submit" class="primary">Create service account</button>', { id: 'create-service-account' })
    + '</section>';
}

async function listPage(call: ConsoleCall): Promise<void> {
  const accounts = await serviceAccounts(call.svc);
  const active = accounts.filter((a) => a.status === 'active').length;
  render(call, 'accounts', 'Service accounts',
    createForm(call)
    + `<section class="panel" aria-labelledby="list-heading"><h2 id="list-heading">All service accounts</h2><p class="muted">${accounts.length} in all, ${active} active.</p>`
    + `${accountsTable(call, accounts, 'Service accounts, by id')}</section>`);
}

async function create(call: ConsoleCall): Promise<void> {
  const f = call.form;
  const cfg = call.ctx.rt.config;
  let result;
  try {
    result = await createServiceAccount(call.svc, call.actor, {
      user: field(f, 'user_id'), asUser: field(f, 'as_user'), namespace: field(f, 'namespace'),
      description: field(f, 'description'), expiresIn: field(f, 'expires_in'), roles: f.get('role_admin') === '1' ? ['admin'] : [],
    }, { sharedSecret: cfg.sharedSecret, namespaces: cfg.namespaces });
  } catch (e) {
    if (e instanceof ServiceAccountError) {
      refuse(call, 'accounts', e.status, e.message.charAt(0).toUpperCase() + e.message.slice(1) + '.', e.reason, { href: BASE, label: 'Back to service accounts' });
      return;
    }
    throw e;
  }
  const { account, token } = result;
  // The only time the token exists outside the caller: shown once, never cached.
  render(call, 'accounts', 'Service account created',
    `<section class="panel" aria-labelledby="token-heading"><h2 id="token-heading">Token for ${escapeHtml(account.user_id)}</h2>`
    + '<div class="warning" role="alert"><strong>Copy this token now.</strong> It will not be shown again: Limen keeps no copy. Anyone holding it can act as this service account until it expires or is revoked.</div>'
    + `<p><label for="token">Service account token</label></p><div class="token"><textarea id="token" readonly spellcheck="false" aria-describedby="token-use">${escapeHtml(token)}</textarea></div>`
    + '<div class="actions"><button type="button" class="primary hidden" data-copy="token" id="copy-token">Copy token</button><span data-copy-status="token" role="status" class="muted"></span></div>'
    + `<p id="token-use" class="muted">Send it as <code>Authorization: Bearer Pomerium-&lt;token&gt;</code>, <code>Authorization: Pomerium &lt;token&gt;</code> or <code>X-Pomerium-Authorization: &lt;token&gt;</code>.</p>`
    + `<dl class="facts"><dt>Id</dt><dd><code>${escapeHtml(account.id)}</code></dd><dt>User id</dt><dd>${escapeHtml(account.user_id)}</dd>`
    + `<dt>Namespace</dt><dd>${escapeHtml(account.namespace)}</dd><dt>Expires</dt><dd>${shownTime(account.expires_at, 'never')}</dd>`
    + `<dt>Description</dt><dd>${shown(account.description)}</dd></dl>`
    + `<p><a href="${BASE}">Done: back to service accounts</a></p></section>`,
    { status: 201, headers: { 'cache-control': 'no-store', pragma: 'no-cache' } });
}

async function confirmRevoke(call: ConsoleCall): Promise<void> {
  const a = await serviceAccount(call.svc, call.params.id!);
  if (!a) { refuse(call, 'accounts', 404, 'No service account has that id.', 'not-found', { href: BASE, label: 'Back to service accounts' }); return; }
  render(call, 'accounts', 'Revoke service account',
    `<section class="panel"><p>Revoke the service account <strong>${escapeHtml(a.user_id)}</strong> (<code>${escapeHtml(a.id)}</code>, namespace ${escapeHtml(a.namespace)})?</p>`
    + '<p>Every request with its token is refused from then on. This cannot be undone: to give access again, create a new account.</p>'
    + `<div class="actions">${postForm(`${BASE}/${encodeURIComponent(a.id)}/revoke`, call.csrf, '<button type="submit" class="danger">Revoke service account</button>', { inline: true })}`
    + `<a href="${BASE}">Cancel</a></div></section>`);
}

async function revoke(call: ConsoleCall): Promise<void> {
  try {
    const { changed } = await revokeAccount(call.svc, call.actor, call.params.id!);
    redirectWithNotice(call, BASE, changed ? 'account-revoked' : 'account-already-revoked');
  } catch (e) {
    if (e instanceof ServiceAccountError) { refuse(call, 'accounts', e.status, 'No service account has that id.', e.reason, { href: BASE, label: 'Back to service accounts' }); return; }
    throw e;
  }
}

export const serviceAccountRoutes: readonly ConsoleRoute[] = [
  { method: 'GET', path: BASE, kind: 'page', handle: listPage },
  { method: 'POST', path: BASE, kind: 'change', handle: create },
  { method: 'GET', path: `${BASE}/:id/revoke`, kind: 'page', handle: confirmRevoke },
  { method: 'POST', path: `${BASE}/:id/revoke`, kind: 'change', handle: revoke },
];
