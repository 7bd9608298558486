/**
 * Request-path normalization for the `http_path` criterion. A policy about
 * `/admin` must also hold for `/%61dmin`, `//admin` and `/x/../admin`, which
 * many upstreams treat as the same resource; otherwise a deny rule is
 * bypassed by spelling the path differently. Pomerium gets this from Envoy's
 * path normalization; Limen does it here, whatever the adapter passed.
 */

import { removeDotSegments } from '../http/index.js';

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * RFC 3986 §6.2.2 normalization of an absolute path: percent-encoded
 * unreserved characters decoded (§2.3) and other escapes upper-cased,
 * dot segments removed (§5.2.4), and runs of `/` merged (as Envoy's
 * `merge_slashes`). `%2F` stays encoded: it is data, not a separator.
 * A path the request canonicalizer produced (src/http/canonical.ts) is a
 * fixed point, so policy sees exactly the path that was routed.
 */
export function normalizePath(path: string): string {
  if (path.charCodeAt(0) === 47 && !path.includes('%')) return removeDotSegments(path);
  const decoded = path.replace(/%([0-9A-Fa-f]{2})/g, (escape: string, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
  });
  return removeDotSegments(decoded);
}
