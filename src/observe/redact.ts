/**
 * What the access and authorize logs and the traces may say about a
 * request: credentials never. Headers that carry credentials and query
 * parameters that commonly carry them (OAuth `code` and `state`, PKCE
 * verifiers, SAML messages, CAS tickets, Limen's hand-off and programmatic
 * `pomerium_jwt`, anything named like a token, secret, password or session)
 * are replaced by `[redacted]`, and so are the values of path parameters
 * named so (`;jsessionid=`); a Referer loses its query and fragment, which
 * may hold the same things; a password in a URL (`user:password@`, in a
 * Referer or an absolute-form request target) is never written.
 */

export const REDACTED = '[redacted]';

const CREDENTIAL_HEADERS = new Set([
  'cookie', 'set-cookie', 'authorization', 'proxy-authorization', 'x-pomerium-authorization',
  'x-pomerium-jwt-assertion', 'x-pomerium-jwt-assertion-for',
]);
const CREDENTIAL_NAME = /(token|secret|password|passwd|cookie|auth|session|assertion|jwt|key|signature|sig$|credential|csrf)/i;
const CREDENTIAL_PARAM = /^(code|state|nonce|pomerium_jwt|pomerium_handoff|id_token_hint|pwd|pass|otp|sid|ticket|relaystate)$|token|secret|password|passwd|jwt|assertion|handoff|session|key|sig|credential|auth|code_verifier|saml|hmac|private/i;

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

/** A Referer without its query and fragment, and without a password. */
export function loggableReferer(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const cut = value.search(/[?#]/);
  return withoutUserinfo(cut < 0 ? value : value.slice(0, cut));
}

/**
 * A request target's path as the logs may show it: an absolute-form target
 * (`http://user:password@host/p`) without its userinfo, and the values of
 * credential-like path parameters (`/a;jsessionid=...`) redacted. Most paths
 * have neither and are returned as they are, without a copy.
 */
export function loggablePath(path: string): string {
  const out = path.charCodeAt(0) === 47 /* / */ ? path : withoutUserinfo(path);
  return out.includes(';') ? out.replace(/;([^/;=]*)=([^/;]*)/g, (all, name: string) => (CREDENTIAL_PARAM.test(name) ? `;${name}=${REDACTED}` : all)) : out;
}

/** `scheme://user:password@host...` → `scheme://[redacted]@host...`; anything else as it is. */
function withoutUserinfo(url: string): string {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^/?#]*)@/.exec(url);
  return m === null ? url : `${m[1]}${REDACTED}@${url.slice(m[0].length)}`;
}
