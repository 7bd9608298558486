/**
 * What the access and authorize logs may say about a request: credentials
 * never. Headers that carry credentials and query parameters that commonly
 * carry them (OAuth `code` and `state`, Limen's hand-off and programmatic
 * `pomerium_jwt`, anything named like a token or secret) are replaced by
 * `[redacted]`; a Referer loses its query and fragment, which may hold the
 * same things.
 */

export const REDACTED = '[redacted]';

const CREDENTIAL_HEADERS = new Set([
  'cookie', 'set-cookie', 'authorization', 'proxy-authorization', 'x-pomerium-authorization',
  'x-pomerium-jwt-assertion', 'x-pomerium-jwt-assertion-for',
]);
const CREDENTIAL_NAME = /(token|secret|password|passwd|cookie|auth|session|assertion|jwt|key|signature|sig$|credential|csrf)/i;
const CREDENTIAL_PARAM = /^(code|state|nonce|pomerium_jwt|pomerium_handoff|id_token_hint)$|token|secret|password|passwd|jwt|assertion|handoff|session|key|sig|credential|auth/i;

/** A request header's value as the logs may show it. */
export function loggableHeader(name: string, value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (CREDENTIAL_HEADERS.has(name) || CREDENTIAL_NAME.test(name)) return REDACTED;
  const text = Array.isArray(value) ? value.join(', ') : value;
  return name === 'referer' ? loggableReferer(text) : text;
}

/** A query string (without `?`) with the values of credential-like parameters redacted. */
export function loggableQuery(query: string): string {
  if (query === '') return '';
  const parts = query.split('&');
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const eq = p.indexOf('=');
    let name = eq < 0 ? p : p.slice(0, eq);
    try { name = decodeURIComponent(name.replace(/\+/g, ' ')); } catch { /* keep as sent */ }
    if (eq >= 0 && CREDENTIAL_PARAM.test(name)) parts[i] = `${p.slice(0, eq)}=${REDACTED}`;
  }
  return parts.join('&');
}

/** A Referer without its query and fragment. */
export function loggableReferer(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const cut = value.search(/[?#]/);
  return cut < 0 ? value : value.slice(0, cut);
}
