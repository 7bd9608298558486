import type { IncomingMessage } from 'node:http';
import type { RouteConfig } from '../config/index.js';
// undici's own lower-casing of a field name (a lookup for known names), as its header parsing does.
import { headerNameToString } from 'undici/lib/core/util.js';
import { addForwardedFor, forwardedForWithPeer, removeCookies, setCookieBaseName } from '../http/index.js';
import { parseHeaderTemplate, renderHeaderTemplate, type HeaderTemplate, type TemplateValues } from './header-template.js';

// RFC 9110 §7.6.1 hop-by-hop fields, plus the legacy Proxy-Connection and
// the proxy credentials meant for this hop only.
// `Expect: 100-continue` is answered by Limen (Node.js sends the 100 and the
// body follows), as Envoy does by default: passed on, undici refuses the
// request and the client got a 502 for any upload curl sends (over 1 MB).
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'proxy-authorization', 'proxy-authenticate', 'expect',
]);

/** Names we set ourselves and therefore never copy from the client. */
const REPLACED = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'x-envoy-external-address']);

/**
 * Headers through which frameworks let a client restate the path, method,
 * host, scheme or address of a request (Symfony and IIS `X-Original-URL`
 * and `X-Rewrite-URL`, Express method-override, Spring
 * `X-Forwarded-Prefix`, RFC 7239 `Forwarded`, ...). Limen authorized the
 * request line it saw; the upstream must not be told another, so a
 * client's copies never reach it.
 */
const RESTATING = new Set([
  'x-original-url', 'x-rewrite-url', 'x-original-uri', 'x-override-url', 'x-original-path', 'x-envoy-original-path',
  'x-http-method-override', 'x-http-method', 'x-method-override',
  'x-forwarded-prefix', 'x-forwarded-path', 'x-forwarded-uri', 'x-forwarded-port', 'x-forwarded-server',
  'x-forwarded-scheme', 'x-forwarded-ssl', 'x-url-scheme', 'front-end-https', 'forwarded',
  'x-real-ip', 'x-client-ip', 'true-client-ip', 'x-cluster-client-ip', 'x-original-forwarded-for',
]);

/** What the request pipeline decided to add to the upstream request. */
export interface UpstreamHeaderPlan {
  readonly requestId: string;
  /** `http` or `https`, how the client reached Limen. */
  readonly proto: string;
  /** The Host header as the client sent it. */
  readonly originalHost: string;
  /** Host to send upstream (after preserve_host_header / host_rewrite). */
  readonly upstreamHost: string;
  /** Cookie names never forwarded (the session cookie, CSRF cookie). */
  readonly dropCookies: ReadonlySet<string>;
  /** Headers Limen sets (identity, claims, carried assertion), lower-case names. */
  readonly identityHeaders: Readonly<Record<string, string>>;
  /** Keep `Upgrade`/`Connection: upgrade` (websocket hand-shake). */
  readonly upgrade?: boolean;
  /** What `set_request_headers` templates render (given when the route has any: headerTemplates). */
  readonly templateValues?: TemplateValues;
}

const templatesOf = new WeakMap<RouteConfig, Readonly<Record<string, HeaderTemplate>> | null>();

/** The route's `set_request_headers` values that are templates (`${pomerium.jwt}`, `$$`), by name; null when none is. Made once per route. */
export function headerTemplates(route: RouteConfig): Readonly<Record<string, HeaderTemplate>> | null {
  let t = templatesOf.get(route);
  if (t === undefined) {
    const found: Record<string, HeaderTemplate> = {};
    for (const [k, v] of Object.entries(route.setRequestHeaders)) { const p = parseHeaderTemplate(v); if (p !== undefined) found[k] = p; }
    t = Object.keys(found).length > 0 ? found : null;
    templatesOf.set(route, t);
  }
  return t;
}

/**
 * Builds the upstream request headers as a flat [name, value, ...] list.
 * Guarantees: no hop-by-hop field; no client `X-Pomerium-*` field (those
 * Limen carries arrive via `identityHeaders`); no Pomerium credential in
 * `Authorization`; no header restating the path, method, host or client
 * address (RESTATING); no underscore (or dot) twin (`X_Pomerium_Claim_Email`)
 * of a header this function drops or sets, which WSGI, CGI, PHP and Rack
 * would read as that header; the session cookie removed; then `remove_request_headers`,
 * then `set_request_headers` (set wins over remove), then identity headers,
 * which nothing a client or route sends can override. `X-Forwarded-For` is
 * the client's list (every field of that name, in order) with the address
 * of the connection's peer appended.
 */
export function buildUpstreamHeaders(req: IncomingMessage, route: RouteConfig, plan: UpstreamHeaderPlan): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  const connectionTokens = connectionListed(req.headers.connection);
  const removed = route.removeRequestHeaders;
  let xff: string | undefined;
  let cookieSeen = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if ((lower.includes('_') || lower.includes('.')) && isManaged(lower.replace(/[_.]/g, '-'), route, plan)) continue;
    if (RESTATING.has(lower) || lower.startsWith('x-envoy-')) continue;
    if (HOP_BY_HOP.has(lower) || REPLACED.has(lower)) {
      if (lower === 'x-forwarded-for') xff = addForwardedFor(xff, value);
      continue;
    }
    if (connectionTokens !== undefined && connectionTokens.has(lower)) continue;
    if (lower.startsWith('x-pomerium-')) continue;
    if (lower === 'authorization' && isPomeriumAuthorization(value)) continue;
    if (lower === 'cookie') {
      // Several Cookie fields are folded into one before filtering.
      if (cookieSeen) continue;
      cookieSeen = true;
      const kept = removeCookies(foldCookies(req), plan.dropCookies);
      if (kept !== undefined && !removed.includes('cookie')) out.push('cookie', kept);
      continue;
    }
    if (removed.length > 0 && removed.includes(lower)) continue;
    // Names Limen sets (claim headers may have any name) are never client-supplied.
    if (plan.identityHeaders[lower] !== undefined) continue;
    if (route.setRequestHeaders[lower] !== undefined || hasKeyCaseInsensitive(route.setRequestHeaders, lower)) continue;
    out.push(name, value);
  }
  out.push('host', plan.upstreamHost);
  // The forwarding headers Limen makes, unless the route removes them (as Pomerium's remove_request_headers does).
  if (removed.length === 0 || !removed.includes('x-forwarded-for')) out.push('x-forwarded-for', forwardedForWithPeer(xff, req.socket?.remoteAddress));
  if (removed.length === 0 || !removed.includes('x-forwarded-proto')) out.push('x-forwarded-proto', plan.proto);
  if (removed.length === 0 || !removed.includes('x-forwarded-host')) out.push('x-forwarded-host', plan.originalHost);
  if (removed.length === 0 || !removed.includes('x-request-id')) out.push('x-request-id', plan.requestId);
  if (plan.upgrade) out.push('connection', 'upgrade', 'upgrade', String(req.headers.upgrade ?? 'websocket'));
  // The route's own (X-Pomerium-* too: the config is trusted, a client is not); an identity header Limen
  // sends wins over one of the same name. Templated values are rendered per request (header-template.ts).
  const set = route.setRequestHeaders;
  if (hasAnyKey(set)) {
    const templated = headerTemplates(route);
    for (const k in set) {
      if (plan.identityHeaders[k.toLowerCase()] !== undefined) continue;
      const t = templated?.[k];
      out.push(k, t === undefined ? set[k]! : renderHeaderTemplate(t, plan.templateValues));
    }
  }
  const ids = plan.identityHeaders;
  for (const k in ids) out.push(k, ids[k]!);
  return out;
}

/** True for a (lower-case) name Limen drops from the client or sets itself. */
function isManaged(lower: string, route: RouteConfig, plan: UpstreamHeaderPlan): boolean {
  return HOP_BY_HOP.has(lower) || REPLACED.has(lower) || RESTATING.has(lower) || lower.startsWith('x-envoy-')
    || lower.startsWith('x-pomerium-') || lower === 'authorization' || lower === 'cookie'
    || route.removeRequestHeaders.includes(lower) || plan.identityHeaders[lower] !== undefined
    || hasKeyCaseInsensitive(route.setRequestHeaders, lower);
}

/**
 * The Pomerium credential forms of CONTRACT §2/§5 that never reach an
 * upstream, in any spelling a server might still read as one: schemes in
 * any case (RFC 9110 §11.1), any whitespace after them.
 */
export function isPomeriumAuthorization(value: string): boolean {
  if (value.startsWith('Pomerium ') || value.startsWith('Bearer Pomerium-')) return true; // the usual forms, at no cost
  return /^\s*(pomerium(\s|$)|bearer\s+pomerium-)/i.test(value);
}

function foldCookies(req: IncomingMessage): string | undefined {
  const c = req.headers.cookie;
  return Array.isArray(c) ? c.join('; ') : c;
}

function connectionListed(v: string | undefined): Set<string> | undefined {
  // The usual values name no header: no list to split.
  if (!v || v === 'keep-alive' || v === 'close' || v === 'Keep-Alive' || v === 'Close') return undefined;
  const s = new Set<string>();
  for (const t of v.split(',')) {
    const n = t.trim().toLowerCase();
    if (n && n !== 'close' && n !== 'keep-alive' && n !== 'upgrade') s.add(n);
  }
  return s.size > 0 ? s : undefined;
}

function hasKeyCaseInsensitive(map: Readonly<Record<string, string>>, lower: string): boolean {
  for (const k in map) if (k.toLowerCase() === lower) return true;
  return false;
}

/**
 * Response headers for the client, from the upstream's fields as received
 * (`rawHeaders`: name, value, ..., in order, as Buffers from undici or
 * strings from node:http): hop-by-hop fields dropped, and the fields its
 * `Connection` names; every `Set-Cookie` for a cookie Limen owns
 * (`ownCookies`, in any case, and their `__Host-`/`__Secure-` variants)
 * dropped, so an upstream can neither plant a session (login CSRF) nor
 * clear or shadow one; then `set_response_headers` applied, and Limen's
 * `x-request-id` (an upstream's own is replaced: the client's id is the
 * one in the access log, CONTRACT §8). Returns a flat [name, value, ...]
 * list, names lower case, values as the bytes came (latin1).
 */
export function buildResponseHeaders(
  raw: readonly (Buffer | string)[],
  route: RouteConfig,
  requestId: string,
  ownCookies: ReadonlySet<string>,
): string[] {
  const out: string[] = [];
  const set = route.setResponseHeaders;
  const anySet = hasAnyKey(set);
  let connection: string | undefined;
  let own: Set<string> | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = headerNameToString(raw[i]!);
    const value = text(raw[i + 1]!);
    if (name === 'connection') connection = connection === undefined ? value : `${connection},${value}`;
    if (HOP_BY_HOP.has(name) || name === 'x-request-id') continue;
    if (anySet && hasKeyCaseInsensitive(set, name)) continue;
    if (name === 'set-cookie') {
      own ??= new Set([...ownCookies].map((c) => c.toLowerCase()));
      if (own.has(setCookieBaseName(value))) continue;
    }
    out.push(name, value);
  }
  const listed = connectionListed(connection);
  const kept = listed === undefined ? out : withoutNames(out, listed);
  for (const k in set) kept.push(k, set[k]!);
  kept.push('x-request-id', requestId);
  return kept;
}

function text(v: Buffer | string): string {
  return typeof v === 'string' ? v : v.toString('latin1');
}

function hasAnyKey(map: Readonly<Record<string, string>>): boolean {
  for (const _ in map) return true;
  return false;
}

/** A flat [name, value, ...] list without the fields whose (lower-case) name is in `names`. */
function withoutNames(list: readonly string[], names: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2) if (!names.has(list[i]!)) out.push(list[i]!, list[i + 1]!);
  return out;
}
