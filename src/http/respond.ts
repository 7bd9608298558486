import { randomBytes } from 'node:crypto';
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

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'SAMEORIGIN',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
} as const;

/** HTML-escapes text for element content and quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Wraps page content in Limen's HTML layout. */
export function htmlLayout(title: string, body: string, banner?: string | Banner): string {
  const bannerHtml = banner ? renderBanner(typeof banner === 'string' ? { text: banner } : banner) : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)} · Limen</title><style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}main{max-width:44rem;margin:3rem auto;background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:2rem}
h1{font-size:1.4rem;margin-top:0}dt{font-weight:600;margin-top:.5rem}dd{margin-left:0;font-family:ui-monospace,monospace;word-break:break-all}code{font-family:ui-monospace,monospace}
.banner{background:#b45309;color:#fff;padding:.6rem 1rem;text-align:center}.banner form{display:inline}.reasons li{margin:.3rem 0}.muted{color:#5b6470;font-size:.9rem}
button{font:inherit;padding:.4rem .9rem;border-radius:6px;border:1px solid #8892a0;background:#fff;cursor:pointer}input{font:inherit;padding:.35rem;border:1px solid #b8c0cc;border-radius:6px}
</style></head><body>${bannerHtml}<main>${body}</main></body></html>`;
}

function renderBanner(b: Banner): string {
  const button = b.button
    ? ` <form method="post" action="${escapeHtml(b.button.action)}">${Object.entries(b.button.fields).map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join('')}<button type="submit"${b.button.id ? ` id="${escapeHtml(b.button.id)}"` : ''}>${escapeHtml(b.button.label)}</button></form>`
    : '';
  return `<div class="banner" role="status">${escapeHtml(b.text)}${button}</div>`;
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
      ...(page.details ? { details: page.details } : {}),
    });
  } else {
    const reasons = page.reasons && page.reasons.length > 0
      ? `<h2>Why</h2><ul class="reasons">${page.reasons.map((r, i) => `<li>${escapeHtml(page.explanations?.[i] ?? r)} <code class="muted">${escapeHtml(r)}</code></li>`).join('')}</ul>`
      : '';
    const details = page.details
      ? `<dl>${Object.entries(page.details).map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`
      : '';
    body = htmlLayout(`${page.status} ${page.title}`,
      `<h1>${page.status} ${escapeHtml(page.title)}</h1><p>${escapeHtml(page.message)}</p>${reasons}${details}<p class="muted">Request id: <code>${escapeHtml(page.requestId)}</code></p>`,
      page.banner);
  }
  return {
    body,
    headers: {
      ...SECURITY_HEADERS,
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
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), ...headers });
  res.end(html);
}

/** A redirect that is never cached. */
export function sendRedirect(res: ServerResponse, location: string, headers?: Record<string, string | string[]>, status = 302): void {
  res.writeHead(status, { ...SECURITY_HEADERS, location, 'content-length': 0, ...headers });
  res.end();
}
