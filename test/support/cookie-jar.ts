/**
 * A small RFC 6265 cookie jar for tests that drive sign-in over plain HTTP:
 * Domain / host-only, Path, Max-Age / Expires, Secure. SameSite is not
 * modelled (every stored cookie is sent, as on a top-level navigation), nor
 * are public suffixes or the cookie-count limits.
 */

export interface StoredCookie {
  name: string;
  value: string;
  /** Lower-case host (host-only) or the Domain attribute without its leading dot. */
  domain: string;
  hostOnly: boolean;
  path: string;
  secure: boolean;
  httpOnly: boolean;
  sameSite: string | undefined;
  /** ms since epoch; `undefined` for a session cookie. */
  expiresAt: number | undefined;
  createdAt: number;
}

export class CookieJar {
  readonly #cookies = new Map<string, StoredCookie>();
  readonly #now: () => number;
  #sequence = 0;

  /** `now` (ms) decides expiry; pass a frozen clock to test it. */
  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** Stores every `Set-Cookie` of a response received from `url`. */
  store(url: string | URL, setCookie: string | readonly string[] | undefined): void {
    if (setCookie === undefined) return;
    for (const line of typeof setCookie === 'string' ? [setCookie] : setCookie) this.set(url, line);
  }

  /** Stores one `Set-Cookie` line as if received from `url`; ignores it when RFC 6265 §5.3 says to. */
  set(url: string | URL, setCookieLine: string): void {
    const target = new URL(url);
    const host = target.hostname.toLowerCase().replace(/^\[|\]$/g, '');
    const parsed = parseSetCookie(setCookieLine, this.#now());
    if (parsed === undefined) return;

    let domain = host;
    let hostOnly = true;
    if (parsed.domain !== undefined && parsed.domain !== '') {
      // §5.3 step 6: the Domain attribute must domain-match the request host.
      if (!domainMatches(host, parsed.domain)) return;
      domain = parsed.domain;
      hostOnly = false;
    }
    // §5.3 step 7: a Path attribute that is missing or not absolute uses the default path.
    const path = parsed.path?.startsWith('/') === true ? parsed.path : defaultPath(target.pathname);
    if (parsed.secure && !isSecureOrigin(target)) return; // RFC 6265bis §5.7 step 9

    const key = `${domain}\u0000${path}\u0000${parsed.name}`;
    const previous = this.#cookies.get(key);
    if (parsed.expiresAt !== undefined && parsed.expiresAt <= this.#now()) {
      this.#cookies.delete(key); // §5.3 step 11: an expired cookie deletes the stored one
      return;
    }
    this.#cookies.set(key, {
      name: parsed.name,
      value: parsed.value,
      domain,
      hostOnly,
      path,
      secure: parsed.secure,
      httpOnly: parsed.httpOnly,
      sameSite: parsed.sameSite,
      expiresAt: parsed.expiresAt,
      createdAt: previous?.createdAt ?? this.#sequence++,
    });
  }

  /** The `Cookie` header value for a request to `url` (RFC 6265 §5.4), or `''` when none apply. */
  header(url: string | URL): string {
    return this.cookiesFor(url)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  /** The cookies that would be sent to `url`, longest path first, then oldest first. */
  cookiesFor(url: string | URL): StoredCookie[] {
    const target = new URL(url);
    const host = target.hostname.toLowerCase().replace(/^\[|\]$/g, '');
    const now = this.#now();
    const out: StoredCookie[] = [];
    for (const [key, c] of this.#cookies) {
      if (c.expiresAt !== undefined && c.expiresAt <= now) {
        this.#cookies.delete(key);
        continue;
      }
      if (c.hostOnly ? host !== c.domain : !domainMatches(host, c.domain)) continue;
      if (!pathMatches(target.pathname || '/', c.path)) continue;
      if (c.secure && !isSecureOrigin(target)) continue;
      out.push(c);
    }
    return out.sort((a, b) => b.path.length - a.path.length || a.createdAt - b.createdAt);
  }

  /** The value of cookie `name` that would be sent to `url` (or any stored one when `url` is omitted). */
  get(name: string, url?: string | URL): string | undefined {
    const candidates = url === undefined ? this.all() : this.cookiesFor(url);
    return candidates.find((c) => c.name === name)?.value;
  }

  /** Every unexpired cookie. */
  all(): StoredCookie[] {
    const now = this.#now();
    return [...this.#cookies.values()].filter((c) => c.expiresAt === undefined || c.expiresAt > now);
  }

  clear(): void {
    this.#cookies.clear();
  }
}

interface ParsedSetCookie {
  name: string;
  value: string;
  domain: string | undefined;
  path: string | undefined;
  secure: boolean;
  httpOnly: boolean;
  sameSite: string | undefined;
  expiresAt: number | undefined;
}

/** RFC 6265 §5.2. Returns `undefined` for a line a user agent must ignore. */
export function parseSetCookie(line: string, now: number): ParsedSetCookie | undefined {
  const [pair = '', ...attributes] = line.split(';');
  const eq = pair.indexOf('=');
  if (eq === -1) return undefined; // §5.2 step 2
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  if (name === '') return undefined; // §5.2 step 5

  const out: ParsedSetCookie = {
    name,
    value,
    domain: undefined,
    path: undefined,
    secure: false,
    httpOnly: false,
    sameSite: undefined,
    expiresAt: undefined,
  };
  let maxAge: number | undefined;
  let expires: number | undefined;
  for (const attribute of attributes) {
    const i = attribute.indexOf('=');
    const key = (i === -1 ? attribute : attribute.slice(0, i)).trim().toLowerCase();
    const val = i === -1 ? '' : attribute.slice(i + 1).trim();
    switch (key) {
      case 'expires': {
        const t = Date.parse(val);
        if (!Number.isNaN(t)) expires = t;
        break;
      }
      case 'max-age': // §5.2.2: a leading digit or '-', then digits; otherwise ignore
        if (/^-?\d+$/.test(val)) {
          const seconds = Number(val);
          maxAge = seconds <= 0 ? -Infinity : now + seconds * 1000;
        }
        break;
      case 'domain':
        out.domain = val.replace(/^\./, '').toLowerCase(); // §5.2.3
        break;
      case 'path':
        out.path = val;
        break;
      case 'secure':
        out.secure = true;
        break;
      case 'httponly':
        out.httpOnly = true;
        break;
      case 'samesite':
        out.sameSite = val.toLowerCase();
        break;
      default:
    }
  }
  // §5.3 step 3: Max-Age wins over Expires.
  out.expiresAt = maxAge ?? expires;
  return out;
}

/** RFC 6265 §5.1.3. */
export function domainMatches(host: string, domain: string): boolean {
  if (host === domain) return true;
  if (/^[\d.]+$/.test(host) || host.includes(':')) return false; // IP addresses match only exactly
  return host.endsWith(`.${domain}`);
}

/** RFC 6265 §5.1.4: the directory of the request path. */
export function defaultPath(pathname: string): string {
  if (!pathname.startsWith('/')) return '/';
  const last = pathname.lastIndexOf('/');
  return last === 0 ? '/' : pathname.slice(0, last);
}

/** RFC 6265 §5.1.4. */
export function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath.charAt(cookiePath.length) === '/';
}

// Browsers treat loopback origins as secure contexts, so Secure cookies set by a
// plain-HTTP test server on 127.0.0.1 or *.localhost still round-trip.
function isSecureOrigin(url: URL): boolean {
  if (url.protocol === 'https:' || url.protocol === 'wss:') return true;
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
