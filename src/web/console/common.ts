/** What every console page shares: rendering with the chrome, notices after a change, errors shown on the page. */
import { escapeHtml, sendRedirect } from '../../http/index.js';
import type { ConsoleCall } from './gate.js';
import { CONSOLE_BASE, consolePage, sendPage, type Section } from './layout.js';

/**
 * What a change tells the page it redirects to (Post/Redirect/Get). The
 * query carries a key of this table and at most a count, never free text,
 * so a link cannot make the console say something it did not do.
 */
const NOTICES: Readonly<Record<string, (n: number) => string>> = {
  'account-revoked': () => 'The service account was revoked. Its token is refused from the next request on.',
  'account-already-revoked': () => 'The service account was already revoked.',
  'user-added': () => 'The user was added to the directory.',
  'user-removed': (n) => `The user was removed from the directory and ${n} ${n === 1 ? 'session was' : 'sessions were'} revoked.`,
  'member-added': () => 'The user was added to the group.',
  'member-removed': () => 'The user was removed from the group.',
  'nothing-changed': () => 'Nothing needed to change.',
  'session-revoked': () => 'The session was revoked. Its next request is refused.',
  'sessions-revoked': (n) => `${n} ${n === 1 ? 'session was' : 'sessions were'} revoked. Their next requests are refused.`,
  'impersonation-stopped': () => 'You stopped impersonating.',
};

/** The notice named by `?notice=` (and `?n=`), if it is one of the console's own. */
export function noticeOf(call: ConsoleCall): string | undefined {
  const key = call.ctx.query.get('notice');
  if (key === null || !Object.hasOwn(NOTICES, key)) return undefined;
  const n = Number(call.ctx.query.get('n') ?? '0');
  return NOTICES[key]!(Number.isSafeInteger(n) && n >= 0 ? n : 0);
}

/** Sends a page of `section` with the console's chrome. */
export function render(call: ConsoleCall, section: Section | undefined, title: string, body: string, o: { status?: number; error?: string; notice?: string; headers?: Record<string, string> } = {}): void {
  const html = consolePage(title, body, { section, admin: call.actor.name, notice: o.notice ?? noticeOf(call), error: o.error });
  sendPage(call.ctx.res, o.status ?? 200, html, call.ctx.requestId, o.headers);
}

/** After a change: 303 to `path` with a notice key (and a count). */
export function redirectWithNotice(call: ConsoleCall, path: string, notice: string, n?: number): void {
  const u = new URL(path, 'http://console.invalid');
  // Only ever a console page (callers pass console paths; this holds whatever they pass).
  if (u.origin !== 'http://console.invalid' || !u.pathname.startsWith(`${CONSOLE_BASE}/`)) throw new TypeError('redirectWithNotice: not a console path');
  u.searchParams.set('notice', notice);
  if (n !== undefined) u.searchParams.set('n', String(n));
  sendRedirect(call.ctx.res, `${u.pathname}${u.search}`, { 'x-request-id': call.ctx.requestId }, 303);
}

/** A change that could not be made: the reason in words on a console page, with the way back. */
export function refuse(call: ConsoleCall, section: Section, status: number, message: string, reason: string, back: { href: string; label: string }): void {
  render(call, section, 'That did not work', `<div class="panel"><p>${escapeHtml(message)} <code class="muted">${escapeHtml(reason)}</code></p>`
    + `<p><a href="${escapeHtml(back.href)}">${escapeHtml(back.label)}</a></p></div>`, { status, error: 'The change was not made.' });
}

/** A form field's trimmed value, or undefined when empty. */
export function field(form: URLSearchParams, name: string): string | undefined {
  const v = form.get(name)?.trim();
  return v === undefined || v === '' ? undefined : v;
}

/** Comma-separated names, trimmed, without empties or repeats. */
export function list(text: string | undefined | null): string[] {
  return [...new Set((text ?? '').split(',').map((s) => s.trim()).filter(Boolean))];
}
