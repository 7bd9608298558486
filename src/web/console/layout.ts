/**
 * The console's page chrome: a skip link, a header with the navigation
 * (the current page marked `aria-current`), a notice region, the page's
 * content, and the one script as a same-origin file. Its Content-Security-
 * Policy is Limen's page policy plus that script (`script-src 'self'`) and
 * its server-sent events (`connect-src 'self'`): no inline script, nothing
 * `unsafe-*`, the stylesheet allowed by hash.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { escapeHtml, FAVICON_HREF } from '../../http/index.js';

/** Where the console lives on the authenticate host. */
export const CONSOLE_BASE = '/.pomerium/admin';
/** The console's one script, served by the console itself. */
export const SCRIPT_PATH = `${CONSOLE_BASE}/console.js`;

const STYLE = `*,*::before,*::after{box-sizing:border-box}
body{font:15px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}
a{color:#1d4ed8}a:hover{color:#1e3a8a}
:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5rem 1rem;z-index:10}.skip:focus{left:1rem}
header{background:#1d232b;color:#fff}
.bar{max-width:72rem;margin:0 auto;padding:.6rem 1rem;display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.5rem}
.brand{font-weight:700;color:#fff;text-decoration:none;display:flex;align-items:center;gap:.5rem}.brand img{width:24px;height:24px}
nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem}
nav a{color:#e5e7eb;text-decoration:none;padding:.35rem .6rem;border-radius:6px;display:inline-block}
nav a:hover{background:#374151;color:#fff}nav a[aria-current="page"]{background:#fff;color:#1d232b;font-weight:600}
.who{margin-left:auto;color:#d1d5db;font-size:.9rem}
main{max-width:72rem;margin:1.5rem auto;padding:0 1rem}
.panel{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:1.25rem 1.5rem;margin-bottom:1.25rem}
h1{font-size:1.5rem;margin:0 0 1rem}h2{font-size:1.15rem;margin:0 0 .75rem}h3{font-size:1rem}
table{border-collapse:collapse;width:100%;font-size:.93rem}caption{text-align:left;font-weight:600;padding:.4rem 0}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid #e5e7eb;vertical-align:top}
thead th{background:#f1f3f6;font-weight:600}tbody tr:hover{background:#fafbfc}
.scroll{overflow-x:auto}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.88em;word-break:break-all}
.muted{color:#5b6470;font-size:.9rem}.none{color:#5b6470;font-style:italic}
.status{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.82rem;font-weight:600;border:1px solid}
.s-active,.s-allow{background:#ecfdf3;color:#166534;border-color:#86efac}
.s-revoked,.s-deny{background:#fef2f2;color:#991b1b;border-color:#fca5a5}
.s-expired,.s-login{background:#fffbeb;color:#92400e;border-color:#fcd34d}
form.inline{display:inline;margin:0}
.fields{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:.75rem 1rem;align-items:end;margin:0 0 .75rem}
label{display:block;font-weight:600;font-size:.9rem}label .hint{font-weight:400}
input,select,textarea{font:inherit;width:100%;padding:.4rem .5rem;border:1px solid #8892a0;border-radius:6px;background:#fff;color:#1d232b;margin-top:.2rem}
textarea{min-height:4rem}
button,.button{font:inherit;padding:.4rem .9rem;border-radius:6px;border:1px solid #8892a0;background:#fff;color:#1d232b;cursor:pointer;text-decoration:none;display:inline-block}
button:hover,.button:hover{background:#eef1f5}
button.primary{background:#1d4ed8;border-color:#1d4ed8;color:#fff}button.primary:hover{background:#1e40af}
button.danger{background:#b91c1c;border-color:#b91c1c;color:#fff}button.danger:hover{background:#991b1b}
.actions{display:flex;flex-wrap:wrap;gap:.6rem;align-items:center;margin-top:.75rem}
.notice{background:#ecfdf3;border:1px solid #86efac;color:#14532d;padding:.6rem 1rem;border-radius:8px;margin-bottom:1rem}
.warning{background:#fffbeb;border:1px solid #f59e0b;color:#78350f;padding:.75rem 1rem;border-radius:8px;margin:.75rem 0}
.error{background:#fef2f2;border:1px solid #fca5a5;color:#7f1d1d;padding:.6rem 1rem;border-radius:8px;margin-bottom:1rem}
.token{display:flex;gap:.5rem;align-items:stretch}.token textarea{font-family:ui-monospace,monospace;font-size:.85rem;min-height:6rem;word-break:break-all}
.banner{background:#b45309;color:#fff;padding:.6rem 1rem;text-align:center}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1.25rem;margin:0}dl.facts dt{font-weight:600}dl.facts dd{margin:0}
.tree,.tree ul{list-style:none;padding-left:1.25rem;margin:.25rem 0}.tree{padding-left:0}
.tree li{margin:.5rem 0}.tree .ns{font-weight:600;font-size:1.05rem}
.tree ul.children{border-left:2px solid #c7cdd6;margin:.5rem 0 0 .3rem;padding-left:1.25rem}.tree ul.accounts{list-style:disc;padding-left:1.75rem}.tree ul.accounts li{margin:.15rem 0}
pre{background:#f6f7f9;border:1px solid #e5e7eb;border-radius:6px;padding:.6rem;overflow-x:auto;font-size:.85rem;margin:.25rem 0}
.pager{display:flex;gap:1rem;align-items:center;margin-top:.75rem}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.hidden{display:none}
.panel>:first-child{margin-top:0}.panel>:last-child{margin-bottom:0}
time{white-space:nowrap}.nowrap{white-space:nowrap}code.id{font-size:.8rem;word-break:normal;overflow-wrap:anywhere}
fieldset{border:1px solid #dde1e6;border-radius:6px;margin:0 0 .75rem;padding:.5rem 1rem}legend{font-weight:600;padding:0 .25rem}
.inline-choice{display:inline-flex;gap:.35rem;align-items:center;margin-right:1.25rem;font-weight:400}.inline-choice input{width:auto;margin:0}
.cards{list-style:none;padding:0;margin:0 0 1.25rem;display:grid;grid-template-columns:repeat(auto-fill,minmax(15rem,1fr));gap:1rem}.cards .panel{margin:0}.count{font-size:2rem;font-weight:700;margin:.25rem 0}
@media (prefers-color-scheme:dark){body{background:#11151a;color:#e5e7eb}.panel{background:#1a1f26;border-color:#2d343d}thead th{background:#222831}
th,td{border-color:#2d343d}tbody tr:hover{background:#1f252d}input,select,textarea,button,.button{background:#11151a;color:#e5e7eb;border-color:#5b6470}
button:hover,.button:hover{background:#222831}a{color:#93b4ff}.muted,.none{color:#a3acb8}pre{background:#11151a;border-color:#2d343d}
.notice{background:#052e16;color:#bbf7d0}.warning{background:#451a03;color:#fde68a}.error{background:#450a0a;color:#fecaca}}
`;

/**
 * The console's Content-Security-Policy: Limen's page policy (http/respond.ts
 * PAGE_CSP) plus the console's one script and its event stream, both from
 * this origin, and no framing at all. No inline script, nothing `unsafe-*`,
 * no other origin. `form-action` stays out for the reason PAGE_CSP gives:
 * impersonating answers a console form with a redirect to a route host.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "script-src 'self'",
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Same-origin, so the browser sends an Origin the CSRF check accepts (see http/respond.ts).
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
  'content-security-policy': CONSOLE_CSP,
} as const;

/** The console's sections, in navigation order. */
export const SECTIONS = [
  ['overview', 'Overview', `${CONSOLE_BASE}/`],
  ['accounts', 'Service accounts', `${CONSOLE_BASE}/service-accounts`],
  ['users', 'Users and groups', `${CONSOLE_BASE}/users`],
  ['sessions', 'Sessions', `${CONSOLE_BASE}/sessions`],
  ['audit', 'Audit', `${CONSOLE_BASE}/audit`],
  ['routes', 'Routes and policies', `${CONSOLE_BASE}/routes`],
  ['namespaces', 'Namespaces', `${CONSOLE_BASE}/namespaces`],
] as const;

export type Section = (typeof SECTIONS)[number][0];

export interface PageOptions {
  readonly section: Section | undefined;
  /** The signed-in administrator, shown in the header. */
  readonly admin: string;
  /** A confirmation of what was just done (shown in a live region). */
  readonly notice?: string | undefined;
  /** What went wrong with the last form (shown in an alert). */
  readonly error?: string | undefined;
}

/** A whole console page. `body` is trusted HTML built with `escapeHtml`. */
export function consolePage(title: string, body: string, o: PageOptions): string {
  const nav = SECTIONS.map(([key, label, href]) => `<li><a href="${href}"${key === o.section ? ' aria-current="page"' : ''}>${escapeHtml(label)}</a></li>`).join('');
  const notice = o.notice ? `<div class="notice" role="status">${escapeHtml(o.notice)}</div>` : '<div role="status" class="sr-only" id="status"></div>';
  const error = o.error ? `<div class="error" role="alert">${escapeHtml(o.error)}</div>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`
    + `<title>${escapeHtml(title)} · Limen console</title><link rel="icon" href="${escapeHtml(FAVICON_HREF)}"><style>${STYLE}</style>`
    + `<script src="${SCRIPT_PATH}" defer></script></head><body>`
    + '<a class="skip" href="#main">Skip to content</a>'
    + `<header><div class="bar"><a class="brand" href="${CONSOLE_BASE}/"><img src="${escapeHtml(FAVICON_HREF)}" alt=""> Limen console</a>`
    + `<nav aria-label="Console"><ul>${nav}</ul></nav><span class="who">Signed in as ${escapeHtml(o.admin)}</span></div></header>`
    + `<main id="main" tabindex="-1"><h1>${escapeHtml(title)}</h1>${notice}${error}${body}</main></body></html>`;
}

/** Sends a console page with the console's security headers. */
export function sendPage(res: ServerResponse, status: number, html: string, requestId: string, headers?: Record<string, string>): void {
  res.writeHead(status, { ...HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'x-request-id': requestId, ...headers });
  res.end(html);
}

/** A value, or a muted "none" when empty. */
export function shown(value: string | undefined | null): string {
  return value ? escapeHtml(value) : '<span class="none">none</span>';
}

/** A time as ISO-8601 in UTC (to the second) inside `<time>`, or "never". */
export function shownTime(ms: number | string | undefined | null, never = 'never'): string {
  if (ms === undefined || ms === null || ms === '') return `<span class="none">${escapeHtml(never)}</span>`;
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return `<span class="none">${escapeHtml(never)}</span>`;
  const iso = d.toISOString();
  return `<time datetime="${iso}">${iso.slice(0, 19).replace('T', ' ')} UTC</time>`;
}

/** A hidden CSRF field and a form posting to `action`. */
export function postForm(action: string, csrf: string, inner: string, o: { inline?: boolean; id?: string; label?: string } = {}): string {
  return `<form method="post" action="${escapeHtml(action)}"${o.inline ? ' class="inline"' : ''}${o.id ? ` id="${escapeHtml(o.id)}"` : ''}${o.label ? ` aria-label="${escapeHtml(o.label)}"` : ''}>`
    + `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">${inner}</form>`;
}

/** A status pill whose text says the status (colour is never the only cue). */
export function pill(status: string): string {
  return `<span class="status s-${escapeHtml(status)}">${escapeHtml(status)}</span>`;
}
