/**
 * Where browsers meet Limen, as configured: the external origin (scheme,
 * host, port) of every route's `from` and of `authenticate_service_url`.
 * Redirect targets, hand-offs and the `Secure` cookie attribute are decided
 * from these, never from the socket a request arrived on, so they stay
 * right behind a TLS-terminating load balancer (`insecure_server`).
 */
import type { CookieOptions } from '../http/index.js';
import { sharedCookieDomain } from '../identity/index.js';
import type { Runtime } from './runtime.js';
import { isConsolePath } from '../decision/index.js';

/** What the origin of a request is decided from: the runtime and the canonical Host (a RequestContext is one). */
export interface SiteRequest {
  readonly rt: Runtime;
  /** Lower-case host without port. */
  readonly host: string;
  readonly port: number | undefined;
  /** Host header as sent (with port). */
  readonly hostHeader: string;
  /** The scheme of the socket, used only for a host Limen has no URL for. */
  readonly proto: Scheme;
}

export type Scheme = 'http' | 'https';

interface ConfiguredOrigin {
  readonly scheme: Scheme;
  /** The port `from` names; undefined means the scheme's default for redirect targets. */
  readonly port: number | undefined;
}

interface OriginIndex {
  readonly exact: ReadonlyMap<string, readonly ConfiguredOrigin[]>;
  /** `*.example.com` under `example.com`. */
  readonly wildcard: ReadonlyMap<string, readonly ConfiguredOrigin[]>;
  readonly auth: { readonly host: string; readonly origin: ConfiguredOrigin } | undefined;
}

const indexes = new WeakMap<Runtime, OriginIndex>();

function defaultPort(scheme: Scheme): number {
  return scheme === 'https' ? 443 : 80;
}

function add(map: Map<string, ConfiguredOrigin[]>, key: string, o: ConfiguredOrigin): void {
  const list = map.get(key);
  if (list) list.push(o);
  else map.set(key, [o]);
}

/** The runtime's configured origins, built once per config load. */
function originIndex(rt: Runtime): OriginIndex {
  let ix = indexes.get(rt);
  if (ix) return ix;
  const exact = new Map<string, ConfiguredOrigin[]>();
  const wildcard = new Map<string, ConfiguredOrigin[]>();
  for (const r of rt.config.routes) {
    const o = { scheme: r.fromScheme, port: r.fromPort };
    if (r.fromHost.startsWith('*.')) add(wildcard, r.fromHost.slice(2), o);
    else add(exact, r.fromHost, o);
  }
  const a = rt.config.authenticateServiceUrl;
  const auth = a ? {
    host: a.hostname.toLowerCase(),
    origin: { scheme: a.protocol === 'https:' ? 'https' as const : 'http' as const, port: a.port === '' ? undefined : Number(a.port) },
  } : undefined;
  ix = { exact, wildcard, auth };
  indexes.set(rt, ix);
  return ix;
}

/** Route origins whose host is `host`, exact ones first, then wildcards from the most specific. */
function routeOrigins(ix: OriginIndex, host: string): ConfiguredOrigin[] {
  const out = [...(ix.exact.get(host) ?? [])];
  for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.', dot + 1)) {
    out.push(...(ix.wildcard.get(host.slice(dot + 1)) ?? []));
  }
  return out;
}

/**
 * A redirect target a browser may be sent to after sign-in or sign-out:
 * an absolute URL without credentials whose exact origin (scheme, host,
 * port; the scheme's default port when `from` names none) is a configured
 * route's. Another port of a route host, or `http:` for an `https` route,
 * is refused: no open redirect, and no hand-off to whoever listens there.
 */
export function allowedRedirect(rt: Runtime, target: string | null | undefined): URL | undefined {
  if (!target || target.length > 4096) return undefined;
  let u: URL;
  try {
    u = new URL(target);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  if (u.username || u.password) return undefined;
  const scheme: Scheme = u.protocol === 'https:' ? 'https' : 'http';
  const port = u.port === '' ? defaultPort(scheme) : Number(u.port);
  const host = u.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const ok = routeOrigins(originIndex(rt), host).some((o) => o.scheme === scheme && (o.port ?? defaultPort(o.scheme)) === port);
  return ok ? u : undefined;
}

/**
 * A page of the admin console to return to after sign-in or sign-out: an
 * absolute URL on exactly `authenticate_service_url`'s origin, under
 * `/.pomerium/admin/`, without credentials. Nothing else on the
 * authenticate host is ever a redirect target.
 */
export function consoleReturn(rt: Runtime, target: string | null | undefined): URL | undefined {
  if (!target || target.length > 4096 || rt.authOrigin === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(target);
  } catch {
    return undefined;
  }
  if (u.username || u.password || u.origin !== rt.authOrigin || !isConsolePath(u.pathname)) return undefined;
  return u;
}

/** A sign-in or sign-out return target: a route's page (allowedRedirect) or a console page (consoleReturn). */
export function returnTarget(rt: Runtime, target: string | null | undefined): URL | undefined {
  return allowedRedirect(rt, target) ?? consoleReturn(rt, target);
}

/**
 * The scheme browsers use for `host` (and `port`, when the Host header has
 * one), from configuration: `authenticate_service_url` on its host, else the
 * routes' `from`. When configured origins disagree, `https` wins (cookies
 * then get `Secure`: failing closed). Only a host Limen has no URL for
 * falls back to the socket.
 */
export function externalScheme(rt: Runtime, host: string, port: number | undefined, socket: Scheme): Scheme {
  const ix = originIndex(rt);
  const candidates = ix.auth?.host === host ? [ix.auth.origin] : routeOrigins(ix, host);
  const fitting = candidates.filter((o) => o.port === undefined || port === undefined || o.port === port);
  if (fitting.length === 0) return socket;
  return fitting.some((o) => o.scheme === 'https') ? 'https' : 'http';
}

/** The origin the browser sees for this request (`https://app.example.com`), from configuration. */
export function requestOrigin(ctx: SiteRequest): string {
  return new URL(`${externalScheme(ctx.rt, ctx.host, ctx.port, ctx.proto)}://${ctx.hostHeader}`).origin;
}

/**
 * Attributes for a cookie Limen sets on this request's host. `Secure` when
 * `cookie_secure` is on and the configured origin is `https` (an `http`
 * origin cannot keep a Secure cookie). `Domain` is `cookie_domain` only
 * for a route host within it, the same rule as the session handle's
 * audience; `hostOnly` cookies (OAuth state, sign-in nonce, and everything
 * on the authenticate host) never get one.
 */
export function cookieOptions(ctx: SiteRequest, maxAgeS: number | undefined, o: { hostOnly?: boolean; path?: string } = {}): CookieOptions {
  const c = ctx.rt.config;
  const secure = c.cookieSecure && externalScheme(ctx.rt, ctx.host, ctx.port, ctx.proto) === 'https';
  const domain = o.hostOnly ? undefined : sharedCookieDomain({ authHost: ctx.rt.authHost, cookieDomain: c.cookieDomain }, ctx.host);
  return {
    ...(maxAgeS === undefined ? {} : { maxAgeS }),
    ...(o.path === undefined ? {} : { path: o.path }),
    domain,
    secure,
    httpOnly: c.cookieHttpOnly,
    sameSite: c.cookieSameSite,
  };
}
