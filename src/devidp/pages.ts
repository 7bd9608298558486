/**
 * The HTML the development identity provider shows. Every page carries the
 * development-only notice. Forms are plain HTML (no script needed to submit
 * them) so a test can drive sign-in with bare HTTP requests.
 */

import { DEV_IDP_NOTICE } from './accounts.js';

/** `id` of the sign-in form; scripted logins look for it. */
export const LOGIN_FORM_ID = 'devidp-login';

/** Escapes text for HTML element content and double- or single-quoted attributes. */
export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const STYLE = `
body{font-family:system-ui,sans-serif;margin:0;background:#f4f4f5;color:#18181b}
.devidp-notice{background:#b91c1c;color:#fff;font-weight:600;padding:.6em 1em;text-align:center}
main{max-width:26em;margin:2em auto;background:#fff;padding:1.5em 2em;border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.2)}
label{display:block;margin:.8em 0 .2em}
input{width:100%;box-sizing:border-box;padding:.45em;font-size:1em}
button{margin-top:1.2em;padding:.5em 1.2em;font-size:1em}
.error{color:#b91c1c}
pre{white-space:pre-wrap;word-break:break-word}
small{color:#52525b}`;

/** A whole page: title, notice banner, body. `body` must already be escaped. */
export function page(title: string, body: string, head = ''): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)} — ${escapeHtml(DEV_IDP_NOTICE)}</title>
<style>${STYLE}</style>
${head}
</head>
<body>
<div class="devidp-notice" role="alert">${escapeHtml(DEV_IDP_NOTICE)}</div>
<main>
${body}
</main>
</body>
</html>`;
}

/** The sign-in form for one interaction: an email, optional groups, no password. */
export function loginPage(input: {
  uid: string;
  clientId: string;
  email?: string;
  groups?: string;
  error?: string;
}): string {
  const uid = encodeURIComponent(input.uid);
  const error = input.error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(input.error)}</p>`;
  return page(
    'Sign in',
    `<h1>Sign in</h1>
<p>Signing in to <strong>${escapeHtml(input.clientId)}</strong>. Any email address signs in; there is no password.</p>
${error}
<form id="${LOGIN_FORM_ID}" method="post" action="/interaction/${uid}/login">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" required autofocus value="${escapeHtml(input.email ?? '')}">
<label for="groups">Groups <small>(optional, comma separated; default: everyone, plus staff for @example.com)</small></label>
<input id="groups" name="groups" type="text" value="${escapeHtml(input.groups ?? '')}">
<button type="submit">Sign in</button>
</form>
<p><a href="/interaction/${uid}/abort">Cancel</a></p>`,
  );
}

/**
 * The RP-initiated logout confirmation. `form` is oidc-provider's hidden form
 * (it carries the XSRF token); we add `logout=yes` so the whole session ends,
 * submit it on load so no click is needed, and keep a button for no-script use.
 */
export function logoutPage(form: string): string {
  const confirmed = form
    .replace('<form ', '<form data-autosubmit ')
    .replace('</form>', '<input type="hidden" name="logout" value="yes"/><button type="submit">Sign out</button></form>');
  return page(
    'Sign out',
    `<h1>Signing out…</h1>
${confirmed}`,
    `<script>document.addEventListener('DOMContentLoaded',function(){document.forms[0].submit()})</script>`,
  );
}

/** After logout when the client gave no `post_logout_redirect_uri`. */
export function logoutSuccessPage(clientId: string | undefined): string {
  const from = clientId === undefined ? '' : ` from <strong>${escapeHtml(clientId)}</strong>`;
  return page('Signed out', `<h1>Signed out</h1><p>You have been signed out${from}.</p>`);
}

/** Any error: the OAuth error fields, escaped. */
export function errorPage(fields: Readonly<Record<string, unknown>>): string {
  const rows = Object.entries(fields)
    .filter(([, value]) => typeof value === 'string' || typeof value === 'number')
    .map(([key, value]) => `<pre><strong>${escapeHtml(key)}</strong>: ${escapeHtml(String(value))}</pre>`)
    .join('\n');
  return page('Error', `<h1>Something went wrong</h1>\n${rows}`);
}

/** The issuer's root: what this is and where discovery lives. */
export function indexPage(issuer: string): string {
  const discovery = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  return page(
    'Identity provider',
    `<h1>Development identity provider</h1>
<p>An OpenID Connect provider for trying Limen out. Any email address signs in, without a password.</p>
<p>Discovery: <a href="${escapeHtml(discovery)}">${escapeHtml(discovery)}</a></p>`,
  );
}
