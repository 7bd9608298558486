import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

// Request ids are unique, not secret: a random per-process prefix and a
// counter cost far less than a CSPRNG call per request.
const ID_PREFIX = randomBytes(6).toString('hex');
let idCounter = 0;

/** A new request id: 24 hex characters, unique per process (never taken from the client). */
export function newRequestId(): string {
  idCounter = (idCounter + 1) % 0x1000000000000;
  return ID_PREFIX + idCounter.toString(16).padStart(12, '0');
}

/**
 * True when the client prefers HTML: `Accept` lists text/html ahead of
 * JSON, or is absent entirely (a plain browser navigation always sends it).
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  let html = -1;
  let json = -1;
  let pos = 0;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    let q = 1;
    for (const p of params) {
      const [k, v] = p.trim().split('=');
      if (k === 'q' && v !== undefined) q = Number.parseFloat(v) || 0;
    }
    // Later position breaks ties, so earlier entries win at equal q.
    const score = q * 1000 - pos++;
    if (type === 'text/html' || type === 'application/xhtml+xml') html = Math.max(html, score);
    else if (type === 'application/json' || type?.endsWith('+json')) json = Math.max(json, score);
  }
  return html > 0 && html > json;
}

/** True when the client asks for JSON. */
export function wantsJson(req: IncomingMessage): boolean {
  const accept = req.headers.accept;
  if (!accept) return false;
  return !prefersHtml(accept) && /json/i.test(accept);
}

/** One error as Limen shows it. */
export interface ErrorPage {
  readonly status: number;
  /** Short title, e.g. "Forbidden". */
  readonly title: string;
  /** One sentence for the user. */
  readonly message: string;
  readonly requestId: string;
  /** Machine reasons, e.g. `email-unauthorized`. */
  readonly reasons?: readonly string[];
  /** Plain-words explanation of each reason, same order. */
  readonly explanations?: readonly string[];
  /** Extra fields shown as a definition list (route, user ...). */
  readonly details?: Readonly<Record<string, string>>;
  /** Banner shown on every page while impersonating. */
  readonly banner?: string | Banner | undefined;
  /** What the user can do next (HTML only): sign out, switch account, sign in. */
  readonly actions?: readonly PageAction[] | undefined;
}

/** A notice across the top of a Limen page, with at most one button (a same-origin form POST). */
export interface Banner {
  readonly text: string;
  readonly button?: {
    readonly label: string;
    /** Form action, a path on the same host. */
    readonly action: string;
    /** Hidden form fields (e.g. a CSRF token). */
    readonly fields: Readonly<Record<string, string>>;
    readonly id?: string | undefined;
  } | undefined;
}

export const STATUS_TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  413: 'Payload Too Large', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/** HTML-escapes text for element content and quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Limen's one stylesheet, inline in every page and allowed by its hash (PAGE_CSP). */
const PAGE_STYLE = `body{font:15px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}main{max-width:44rem;margin:3rem auto;background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:2rem}
h1{font-size:1.4rem;margin-top:0}h2{font-size:1.1rem}dt{font-weight:600;margin-top:.5rem}dd{margin-left:0;font-family:ui-monospace,monospace;word-break:break-all}code{font-family:ui-monospace,monospace}
a{color:#1d4ed8}.banner{background:#b45309;color:#fff;padding:.6rem 1rem;text-align:center}.banner form{display:inline}.reasons li{margin:.3rem 0}.muted{color:#5b6470;font-size:.9rem}
.none{color:#5b6470;font-style:italic;font-family:system-ui,sans-serif}.back{margin:0 0 1rem}
.actions{list-style:none;padding:0;margin:1.5rem 0 0;display:flex;flex-wrap:wrap;gap:.6rem;align-items:center}.actions form{margin:0}
button{font:inherit;padding:.4rem .9rem;border-radius:6px;border:1px solid #8892a0;background:#fff;color:#1d232b;cursor:pointer}button:hover{background:#eef1f5}
input{font:inherit;padding:.35rem;border:1px solid #b8c0cc;border-radius:6px}
`;

/**
 * Limen's icon, declared by every page so a browser showing one never asks
 * the host for `/favicon.ico`: on a route host that path belongs to the
 * upstream's app, and fetching it would put a request (often refused) in
 * the audit trail for every Limen page viewed. A threshold: a doorway over
 * a step.
 */
export const FAVICON_HREF = `data:image/svg+xml,${encodeURIComponent(
  "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'><rect width='32' height='32' rx='7' fill='#1d4ed8'/>"
  + "<path d='M10.5 24V8.5h11V24' fill='none' stroke='#fff' stroke-width='3'/><path d='M6 25.5h20' stroke='#fff' stroke-width='3'/></svg>",
)}`;

/**
 * The Content-Security-Policy of everything Limen itself answers: no
 * script at all, its one stylesheet by hash, images only as `data:` URLs
 * (the icon), no plugins, no `<base>`, framed only by its own origin.
 * `form-action` is left out on purpose: browsers apply it to the redirects
 * after a submission, and sign-out goes on from the route host to the
 * authenticate host and the identity provider's end-session endpoint.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(PAGE_STYLE).digest('base64')}'`,
  'img-src data:',
  "base-uri 'none'",
  "frame-ancestors 'self'",
].join('; ');

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'SAMEORIGIN',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'content-security-policy': PAGE_CSP,
} as const;

/**
 * Pages say `same-origin`, not `no-referrer`: a browser posting a form from
 * a `no-referrer` page sends `Origin: null`, which the CSRF origin check
 * (web/csrf.ts) must refuse, so no form on Limen's pages (impersonation,
 * stop impersonating) would work. Other sites still get no Referer; and
 * redirects keep `no-referrer`, so the URL of a callback (code, state,
 * hand-off) never becomes the Referer of the page it leads to.
 */
const PAGE_HEADERS = { ...SECURITY_HEADERS, 'referrer-policy': 'same-origin' } as const;

/** Wraps page content in Limen's HTML layout. */
export function htmlLayout(title: string, body: string, banner?: string | Banner): string {
  const bannerHtml = banner ? renderBanner(typeof banner === 'string' ? { text: banner } : banner) : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)} · Limen</title>`
    + `<link rel="icon" href="${escapeHtml(FAVICON_HREF)}"><style>${PAGE_STYLE}</style></head><body>${bannerHtml}<main>${body}</main></body></html>`;
}

/** A value shown on a page: the text, or a muted "none" when it is empty (never a blank row). */
export function shownValue(value: string | undefined): string {
  return value ? escapeHtml(value) : '<span class="none">none</span>';
}

/** Something a page offers the user: a link, or a button that POSTs a same-origin form. */
export type PageAction =
  | { readonly label: string; readonly href: string }
  | {
    readonly label: string;
    /** Form action, a path on the same host. */
    readonly action: string;
    /** Hidden form fields (e.g. a CSRF token). */
    readonly fields: Readonly<Record<string, string>>;
    /** The form's id. */
    readonly id?: string | undefined;
  };

/** The actions as a list of real links and buttons (no script). */
export function renderActions(actions: readonly PageAction[]): string {
  if (actions.length === 0) return '';
  const items = actions.map((a) => {
    if ('href' in a) return `<li><a href="${escapeHtml(a.href)}">${escapeHtml(a.label)}</a></li>`;
    const fields = Object.entries(a.fields).map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('');
    return `<li><form method="post" action="${escapeHtml(a.action)}"${a.id ? ` id="${escapeHtml(a.id)}"` : ''}>${fields}<button type="submit">${escapeHtml(a.label)}</button></form></li>`;
  });
  return `<ul class="actions">${items.join('')}</ul>`;
}

function renderBanner(b: Banner): string {
  const button = b.button
    ? ` <form method="post" action="${escapeHtml(b.button.action)}">${Object.entries(b.button.fields).map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('')}<button type="submit"${b.button.id ? ` id="${escapeHtml(b.button.id)}"` : ''}>${escapeHtml(b.button.label)}</button></form>`
    : '';
  return `<div class="banner" role="status">${escapeHtml(b.text)}${button}</div>`;
}

/** `impersonated_by` → "Impersonated by". */
function detailLabel(key: string): string {
  const words = key.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** An error page rendered: JSON or HTML body and its headers. */
function renderError(page: ErrorPage, json: boolean): { body: string; headers: Record<string, string | number> } {
  let body: string;
  if (json) {
    body = JSON.stringify({
      status: page.status,
      error: page.title,
      message: page.message,
      request_id: page.requestId,
      ...(page.reasons ? { reasons: page.reasons } : {}),
      ...(page.explanations ? { explanations: page.explanations } : {}),
      // An empty detail is left out of the JSON; the page shows it as "none".
      ...(page.details ? { details: Object.fromEntries(Object.entries(page.details).filter(([, v]) => v !== '')) } : {}),
    });
  } else {
    const reasons = page.reasons && page.reasons.length > 0
      ? `<h2>Why</h2><ul class="reasons">${page.reasons.map((r, i) => `<li>${escapeHtml(page.explanations?.[i] ?? r)} <code class="muted">${escapeHtml(r)}</code></li>`).join('')}</ul>`
      : '';
    const details = page.details
      ? `<dl>${Object.entries(page.details).map(([k, v]) => `<dt>${escapeHtml(detailLabel(k))}</dt><dd>${shownValue(v)}</dd>`).join('')}</dl>`
      : '';
    body = htmlLayout(`${page.status} ${page.title}`,
      `<h1>${page.status} ${escapeHtml(page.title)}</h1><p>${escapeHtml(page.message)}</p>${reasons}${details}${renderActions(page.actions ?? [])}<p class="muted">Request id: <code>${escapeHtml(page.requestId)}</code></p>`,
      page.banner);
  }
  return {
    body,
    headers: {
      ...(json ? SECURITY_HEADERS : PAGE_HEADERS),
      'content-type': json ? 'application/json' : 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-request-id': page.requestId,
    },
  };
}

/** Sends an error page: JSON when the client asks for it, HTML otherwise. */
export function sendError(req: IncomingMessage, res: ServerResponse, page: ErrorPage, extraHeaders?: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { body, headers } = renderError(page, wantsJson(req));
  res.writeHead(page.status, { ...headers, ...extraHeaders });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * The same error page as a whole HTTP/1.1 response, for a socket on which
 * the HTTP parser refused the request (so there is no response object);
 * `head` is whatever of the request was read, to negotiate JSON or HTML
 * from its Accept header. The connection is closed after it.
 */
export function errorResponseBytes(page: ErrorPage, head: string): string {
  const accept = /(?:^|\r\n)accept[ \t]*:[ \t]*([^\r\n]*)/i.exec(head)?.[1];
  const json = accept !== undefined && !prefersHtml(accept) && /json/i.test(accept);
  const { body, headers } = renderError(page, json);
  let text = `HTTP/1.1 ${page.status} ${page.title}\r\n`;
  for (const [k, v] of Object.entries(headers)) text += `${k}: ${v}\r\n`;
  return `${text}connection: close\r\n\r\n${body}`;
}

/** Sends a JSON body with Limen's security headers. */
export function sendJson(res: ServerResponse, status: number, value: unknown, headers?: Record<string, string>): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Sends an HTML page with Limen's security headers. */
export function sendHtml(res: ServerResponse, status: number, html: string, headers?: Record<string, string>): void {
  res.writeHead(status, { ...PAGE_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), ...headers });
  res.end(html);
}

/** A redirect that is never cached. */
export function sendRedirect(res: ServerResponse, location: string, headers?: Record<string, string | string[]>, status = 302): void {
  res.writeHead(status, { ...SECURITY_HEADERS, location, 'content-length': 0, ...headers });
  res.end();
}
