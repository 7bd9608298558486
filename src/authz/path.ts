/**
 * Request-path normalization for the `http_path` criterion. A policy about
 * `/admin` must also hold for `/%61dmin`, `//admin` and `/x/../admin`, which
 * many upstreams treat as the same resource; otherwise a deny rule is
 * bypassed by spelling the path differently. Pomerium gets this from Envoy's
 * path normalization; Limen does it here, whatever the adapter passed.
 */

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * RFC 3986 §6.2.2 normalization of an absolute path: percent-encoded
 * unreserved characters decoded (§2.3) and other escapes upper-cased,
 * dot segments removed (§5.2.4), and runs of `/` merged (as Envoy's
 * `merge_slashes`). `%2F` stays encoded: it is data, not a separator.
 */
export function normalizePath(path: string): string {
  if (isNormal(path)) return path;
  let decoded = path.replace(/%([0-9A-Fa-f]{2})/g, (escape: string, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
  });
  if (!decoded.startsWith('/')) decoded = `/${decoded}`;
  const out: string[] = [];
  const segments = decoded.split('/');
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    if (segment === '..') {
      out.pop();
      if (last) out.push('');
    } else if (segment === '.') {
      if (last) out.push('');
    } else if (segment === '') {
      if (last) out.push(''); // keep a trailing slash, drop empty segments inside
    } else {
      out.push(segment);
    }
  }
  return `/${out.join('/')}`;
}

/** Fast path, one scan: starts with `/`, nothing to decode, no `//`, no `/.`. */
function isNormal(path: string): boolean {
  if (path.charCodeAt(0) !== 47 /* / */) return false;
  for (let i = 1; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 37 /* % */) return false;
    if ((c === 47 || c === 46 /* . */) && path.charCodeAt(i - 1) === 47) return false;
  }
  return true;
}
