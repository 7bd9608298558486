/**
 * Routes and policies, read-only, and the explain form: an identity (given,
 * or a known directory user as the server would see them), a URL, a method,
 * a time → the decision, the rule, the reasons in plain words and every
 * criterion, computed by the server's own decision core (src/decision:
 * `requestTarget`, then `decideRoute` on the route's compiled policy), as
 * `limen policy explain` does. Explaining changes nothing, so it is a GET.
 */
import { isIP } from 'node:net';
import { describeDecision, describeReason, normalizePath, routePolicyDocument, type IdentityInfo } from '../../authz/index.js';
import type { Caller, IdentifyResult } from '../../authn/index.js';
import { decideRoute, policyRequest, requestTarget } from '../../decision/index.js';
import { escapeHtml, normalizeIp, parseHostHeader } from '../../http/index.js';
import type { RouteConfig } from '../../config/index.js';
import type { ConsoleCall, ConsoleRoute } from './gate.js';
import { CONSOLE_BASE, pill, shown, shownTime } from './layout.js';
import { list, render } from './common.js';
import { directoryIdentity, serviceAccount, serviceAccounts, user, type ServiceAccountView } from './operations.js';
import { namespaceCovers } from '../../accounts/index.js';

const BASE = `${CONSOLE_BASE}/routes`;
const EXPLAIN = `${CONSOLE_BASE}/explain`;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const EXPLAIN_SESSION = 'console-explain';

function matching(r: RouteConfig): string {
  if (r.regex) return `regex ${r.regex.source}`;
  if (r.path !== undefined) return `path ${r.path}`;
  return `prefix ${r.prefix ?? '/'}`;
}

function sampleUrl(r: RouteConfig): string {
  const host = r.fromHost.startsWith('*.') ? `app.${r.fromHost.slice(2)}` : r.fromHost;
  const port = r.fromPort === undefined ? '' : `:${r.fromPort}`;
  return `${r.fromScheme}://${host}${port}${r.path ?? r.prefix ?? '/'}`;
}

async function routesPage(call: ConsoleCall): Promise<void> {
  const routes = call.ctx.rt.config.routes;
  const rows = routes.map((r) => `<tr><th scope="row">${escapeHtml(r.name)}${r.description ? `<div class="muted">${escapeHtml(r.description)}</div>` : ''}</th>`
    + `<td><code>${escapeHtml(r.from)}</code></td><td>${escapeHtml(matching(r))}</td><td>${r.to.map((u) => `<code>${escapeHtml(u.url.origin)}</code>`).join('<br>')}</td>`
    + `<td>${escapeHtml(r.namespace)}</td>`
    + `<td><details><summary>Policy of ${escapeHtml(r.name)}</summary><pre>${escapeHtml(JSON.stringify(routePolicyDocument(r), null, 2))}</pre></details></td>`
    + `<td><a href="${EXPLAIN}?url=${encodeURIComponent(sampleUrl(r))}" aria-label="Explain a request to ${escapeHtml(r.name)}">Explain</a></td></tr>`);
  render(call, 'routes', 'Routes and policies',
    `<section class="panel" aria-labelledby="routes-heading"><h2 id="routes-heading">Routes</h2><p class="muted">From the configuration file, in match order; change them there. ${routes.length} ${routes.length === 1 ? 'route' : 'routes'}.</p>`
    + (routes.length === 0 ? '<p class="muted">No routes are configured.</p>'
      : `<div class="scroll"><table><caption>Routes</caption><thead><tr><th scope="col">Name</th><th scope="col">From</th><th scope="col">Matches</th><th scope="col">To</th>`
        + `<th scope="col">Namespace</th><th scope="col">Policy</th><th scope="col">Actions</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`)
    + `<p><a href="${EXPLAIN}">Explain a decision</a></p></section>`);
}

/** Claims from `name=value` lines; dotted names nest, JSON values are read as JSON. Undefined when a line is not one. */
export function parseClaims(text: string): Record<string, unknown> | undefined {
  const claims: Record<string, unknown> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return undefined;
    const name = line.slice(0, eq).trim();
    const text = line.slice(eq + 1).trim();
    let value: unknown = text;
    try { value = JSON.parse(text); } catch { value = text; }
    const path = name.split('.');
    if (path.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype')) return undefined;
    let at: Record<string, unknown> = claims;
    for (const p of path.slice(0, -1)) {
      const next = at[p];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) at[p] = {};
      at = at[p] as Record<string, unknown>;
    }
    at[path[path.length - 1]!] = value;
  }
  return claims;
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

interface ExplainForm {
  readonly who: 'user' | 'account' | 'identity' | 'none';
  readonly known: string;
  readonly account: string;
  readonly email: string;
  readonly userId: string;
  readonly groups: string;
  readonly claims: string;
  readonly url: string;
  readonly method: string;
  readonly time: string;
  readonly ip: string;
}

function formOf(q: URLSearchParams): ExplainForm {
  const get = (k: string, max = 2048): string => (q.get(k) ?? '').trim().slice(0, max);
  const who = get('who');
  return {
    who: who === 'identity' || who === 'none' || who === 'account' ? who : 'user',
    known: get('known', 320), account: get('account', 256), email: get('email', 320), userId: get('user_id', 256), groups: get('groups'), claims: get('claims', 8192),
    url: get('url'), method: get('method', 16).toUpperCase() || 'GET', time: get('time', 64), ip: get('ip', 64) || '203.0.113.10',
  };
}

function explainFormHtml(f: ExplainForm, accounts: readonly ServiceAccountView[]): string {
  const radio = (value: string, label: string): string => `<label class="inline-choice"><input type="radio" name="who" value="${value}"${f.who === value ? ' checked' : ''}> ${label}</label>`;
  const text = (name: string, id: string, label: string, value: string, hint = '', type = 'text'): string => `<p><label for="${id}">${label}${hint ? ` <span class="hint">${hint}</span>` : ''}</label>`
    + `<input id="${id}" name="${name}" type="${type}" value="${escapeHtml(value)}" autocomplete="off" spellcheck="false"></p>`;
  return `<form method="get" action="${EXPLAIN}" id="explain"><fieldset><legend>Who is asking</legend>${radio('user', 'A known user')}${radio('account', 'A service account')}${radio('identity', 'An identity I describe')}${radio('none', 'Nobody signed in')}</fieldset>`
    + `<div class="fields">${text('known', 'x-known', 'Known user', f.known, '(email or id)')}`
    + `<p><label for="x-account">Service account</label><select id="x-account" name="account"><option value="">choose one</option>${accounts.map((a) => `<option value="${escapeHtml(a.id)}"${a.id === f.account ? ' selected' : ''}>${escapeHtml(`${a.user_id} (${a.namespace})`)}</option>`).join('')}</select></p></div>`
    + `<div class="fields">${text('email', 'x-email', 'Email', f.email)}${text('user_id', 'x-user', 'User id', f.userId)}${text('groups', 'x-groups', 'Groups', f.groups, '(comma separated)')}</div>`
    + `<p><label for="x-claims">Claims <span class="hint">(one name=value per line; JSON values allowed)</span></label><textarea id="x-claims" name="claims">${escapeHtml(f.claims)}</textarea></p>`
    + `<div class="fields">${text('url', 'x-url', 'URL', f.url, '', 'url')}`
    + `<p><label for="x-method">Method</label><select id="x-method" name="method">${METHODS.map((m) => `<option${m === f.method ? ' selected' : ''}>${m}</option>`).join('')}</select></p>`
    + `${text('time', 'x-time', 'Time', f.time, '(ISO-8601 with a zone; empty: now)')}${text('ip', 'x-ip', 'Client address', f.ip)}</div>`
    + '<button type="submit" class="primary">Explain</button></form>';
}

/** Decides the imagined request; the result as HTML, or a problem with the form. */
async function explain(call: ConsoleCall, f: ExplainForm): Promise<{ html: string } | { error: string }> {
  let url: URL;
  try { url = new URL(f.url); } catch { return { error: 'URL: give an absolute http or https URL, like https://app.example.com/reports.' }; }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') return { error: 'URL: give an absolute http or https URL.' };
  if (!(METHODS as readonly string[]).includes(f.method)) return { error: 'Method: choose one of those listed.' };
  const time = f.time === '' ? call.svc.now() : DATE_TIME.test(f.time) ? Date.parse(f.time.replace(' ', 'T').replace(/([+-]\d{2})(\d{2})$/, '$1:$2')) : Number.NaN;
  if (!Number.isFinite(time)) return { error: 'Time: give an ISO-8601 date-time with a zone, like 2026-12-05T10:00:00Z, or leave it empty for now.' };
  const ip = normalizeIp(f.ip.replace(/^\[|\]$/g, ''));
  if (isIP(ip) === 0) return { error: 'Client address: give an IPv4 or IPv6 address.' };
  let identity: IdentityInfo | null = null;
  let whoText = 'nobody signed in';
  /** A service account's namespace: it is refused on routes outside it (CONTRACT §6). */
  let accountNamespace: string | undefined;
  if (f.who === 'account') {
    const a = f.account === '' ? undefined : await serviceAccount(call.svc, f.account);
    if (!a) return { error: 'Service account: choose one of the accounts listed.' };
    if (a.status !== 'active') {
      return { html: `<p>${pill('deny')} The service account <strong>${escapeHtml(a.user_id)}</strong> is ${escapeHtml(a.status)}: its token is refused before any policy (401). <code class="muted">service-account-${escapeHtml(a.status)}</code></p>` };
    }
    const dir = a.acts_as_user ? await user(call.svc, a.user_id) : undefined;
    const id = dir ? await directoryIdentity(call.svc, dir) : undefined;
    if (a.acts_as_user && !id) {
      return { html: `<p>${pill('deny')} The directory user this service account acts as is missing or deactivated: its token is refused (401). <code class="muted">service-account-user-inactive</code></p>` };
    }
    identity = id ?? { user: a.user_id, email: '', groups: [], claims: { sub: a.user_id }, sessionId: a.id, serviceAccountId: a.id };
    accountNamespace = a.namespace;
    whoText = `service account ${a.user_id} of namespace ${a.namespace}${dir ? `, acting as ${dir.email || dir.id}` : ''}`;
  } else if (f.who === 'user') {
    if (f.known === '') return { error: 'Known user: give the email or id of a directory user, or choose another kind of identity.' };
    const u = await user(call.svc, f.known);
    if (!u) return { error: 'Known user: no directory user has that email or id.' };
    const id = await directoryIdentity(call.svc, u);
    if (!id) {
      return { html: `<p>${pill('deny')} <strong>${escapeHtml(u.email || u.id)}</strong> is deactivated in the directory: every request with their session is refused before any policy. <code class="muted">user-deprovisioned</code></p>` };
    }
    identity = id;
    whoText = `${u.email || u.id} (from the directory: groups ${identity.groups.length > 0 ? identity.groups.join(', ') : 'none'})`;
  } else if (f.who === 'identity') {
    const claims = parseClaims(f.claims);
    if (!claims) return { error: 'Claims: write one name=value per line.' };
    const groups = list(f.groups);
    if (f.email === '' && f.userId === '' && groups.length === 0 && Object.keys(claims).length === 0) return { error: 'Describe the identity: an email, a user id, groups or claims.' };
    const all: Record<string, unknown> = { ...claims };
    if (f.userId !== '' && all.sub === undefined) all.sub = f.userId;
    if (f.email !== '' && all.email === undefined) all.email = f.email;
    if (groups.length > 0 && all.groups === undefined) all.groups = groups;
    identity = { user: f.userId, email: f.email, groups, claims: all, sessionId: EXPLAIN_SESSION };
    whoText = [f.email, f.userId && `user ${f.userId}`, groups.length > 0 ? `groups ${groups.join(', ')}` : 'no groups'].filter(Boolean).join('; ');
  }
  const rt = call.ctx.rt;
  const parsed = parseHostHeader(url.host);
  const host = parsed?.host ?? url.hostname.toLowerCase();
  const path = normalizePath(url.pathname);
  const target = requestTarget(rt, host, parsed?.port, path);
  const head = `<dl class="facts"><dt>Request</dt><dd><code>${escapeHtml(`${f.method} ${url.href}`)}</code></dd><dt>From</dt><dd>${escapeHtml(ip)} at ${shownTime(time)}</dd><dt>Identity</dt><dd>${escapeHtml(whoText)}</dd>`;
  if (target === 'no-route') return { html: `${head}<dt>Route</dt><dd><span class="none">none matches this host and path</span></dd><dt>Decision</dt><dd>404 Not Found <code class="muted">route-not-found</code></dd></dl>` };
  if (typeof target === 'string') return { html: `${head}<dt>Route</dt><dd><span class="none">none: Limen serves this path itself, and no route policy applies</span></dd></dl>` };
  let who: IdentifyResult = { caller: null, credential: 'none' };
  if (identity) {
    const caller: Caller = {
      kind: accountNamespace === undefined ? 'session' : 'service_account', policy: identity,
      assertion: { cacheKey: EXPLAIN_SESSION, user: identity.user, email: identity.email, name: '', groups: identity.groups, sid: EXPLAIN_SESSION, claims: identity.claims },
    };
    // As the identifier decides it: a service account outside its namespace is a valid credential out of scope.
    who = accountNamespace === undefined ? { caller, credential: 'cookie' }
      : namespaceCovers(rt.config.namespaces, accountNamespace, target.config.namespace) ? { caller, credential: 'bearer' }
        : { caller: null, credential: 'bearer', failure: 'namespace-unauthorized', outOfScope: caller };
  }
  const request = policyRequest(f.method, host, path, ip, {}, rt.config.downstreamMtls ? { presented: false, valid: false, fingerprint: '', spkiHash: '', sanEmail: [], sanDns: [], sanUri: [] } : undefined);
  const { decision, who: decided } = await decideRoute(rt, { store: call.svc.store, now: () => time }, target.compiled.policy, request, who);
  const outcome = decision.result === 'allow' ? 'allowed: the request is passed to the upstream'
    : decision.result === 'deny' ? 'denied: 403 Forbidden' : 'sign-in needed: a browser is sent to sign in, other clients get 401';
  const refused = decision.result === 'deny' && decision.rule !== undefined;
  const reasons = decision.reasons.length === 0 ? `<p>${escapeHtml(describeDecision(decision).join(' '))}</p>`
    : `<ul>${decision.reasons.map((r) => `<li>${escapeHtml(describeReason(r, refused))} <code class="muted">${escapeHtml(r)}</code></li>`).join('')}</ul>`;
  const trace = decision.trace.length === 0 ? '<p class="muted">The policy has no criteria.</p>'
    : `<div class="scroll"><table><caption>Every criterion evaluated</caption><thead><tr><th scope="col">Where</th><th scope="col">Criterion</th><th scope="col">Result</th><th scope="col">Reason</th></tr></thead><tbody>`
      + decision.trace.map((c) => `<tr><th scope="row"><code>${escapeHtml(c.path)}</code></th><td>${escapeHtml(c.criterion)}</td><td>${c.matched ? 'match' : c.reason === 'user-unauthenticated' ? 'unknown (no identity accepted)' : 'no match'}</td><td><code>${escapeHtml(c.reason)}</code></td></tr>`).join('')
      + '</tbody></table></div>';
  return {
    html: `${head}<dt>Route</dt><dd>${escapeHtml(target.config.name)} <code class="muted">${escapeHtml(target.config.from)}</code></dd>`
      + `<dt>Decision</dt><dd>${pill(decision.result)} ${escapeHtml(outcome)}</dd><dt>Deciding rule</dt><dd>${decision.rule ? `<code>${escapeHtml(decision.rule)}</code>` : shown(decision.result !== 'deny' ? '' : decided.outOfScope !== undefined
        ? 'none: the credential is not valid on this route, whatever the policy says' : 'none: no allow rule matched, so it is denied by default')}</dd></dl>`
      + `<h3>Why</h3>${reasons}<h3>Criteria</h3>${trace}`,
  };
}

async function explainPage(call: ConsoleCall): Promise<void> {
  const f = formOf(call.ctx.query);
  const accounts = (await serviceAccounts(call.svc)).filter((a) => a.status === 'active');
  const asked = call.ctx.query.has('url');
  const result = asked ? (f.url === '' ? { error: 'URL: give the URL of the request to explain.' } : await explain(call, f)) : undefined;
  render(call, 'routes', 'Explain a decision',
    `<p><a href="${BASE}">← Routes and policies</a></p><section class="panel" aria-labelledby="form-heading"><h2 id="form-heading">The request</h2>${explainFormHtml(f, accounts)}</section>`
    + (result && 'html' in result ? `<section class="panel" aria-labelledby="result-heading" aria-live="polite"><h2 id="result-heading">Decision</h2>${result.html}</section>` : ''),
    result && 'error' in result ? { status: 400, error: result.error } : {});
}

export const policyRoutes: readonly ConsoleRoute[] = [
  { method: 'GET', path: BASE, kind: 'page', handle: routesPage },
  { method: 'GET', path: EXPLAIN, kind: 'page', handle: explainPage },
];
