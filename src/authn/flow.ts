/**
 * What the sign-in, hand-off and sign-out flows (sign-in.ts, sign-out.ts,
 * bound-sign-in.ts) see of a request: a small interface the composition
 * root fills from its request context, so these flows know nothing of the
 * server. Also what both flows share: the session cookie, the sign-out
 * CSRF token, the link that starts a sign-in.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditSink } from '../audit/index.js';
import type { Config } from '../config/index.js';
import { serializeCookie, type CookieOptions, type ErrorPage } from '../http/index.js';
import type { Logger } from '../log/index.js';
import type { Store } from '../store/index.js';
import type { IdentifyResult } from './identify.js';
import type { OidcClient } from './oidc.js';
import type { SessionData, SessionStore } from './sessions.js';

/** What the flows need of the running config (the server's runtime). */
export interface SignInSite {
  readonly config: Pick<Config, 'cookieName' | 'cookieExpireMs' | 'sharedSecret' | 'cookieDomain' | 'programmaticRedirectDomainWhitelist'>;
  readonly oidc: OidcClient | undefined;
  /** Lower-case host (no port) of `authenticate_service_url`. */
  readonly authHost: string | undefined;
  readonly authOrigin: string | undefined;
  /** Seals the hand-off, the carried sign-out and the signed-out state. */
  readonly handoffKey: Uint8Array;
  /** Seals the OAuth state cookie; keys the sign-out CSRF token. */
  readonly csrfKey: Uint8Array;
}

/** The long-lived services the flows use. */
export interface SignInServices {
  readonly store: Pick<Store, 'get' | 'put'>;
  readonly sessions: SessionStore;
  readonly audit: AuditSink;
  readonly logger: Pick<Logger, 'warn'>;
  readonly now: () => number;
  /** Called after every successful sign-in (the directory records the user). */
  readonly onSignIn?: ((s: SessionData) => void) | undefined;
}

/** One request, as the flows see it. */
export interface SignInContext {
  readonly site: SignInSite;
  readonly svc: SignInServices;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  /** Lower-case host without port. */
  readonly host: string;
  readonly query: URLSearchParams;
  readonly ip: string;
  /** The origin the browser sees for this request, from configuration (never the socket). */
  readonly origin: string;
  /** Attributes for a cookie Limen sets on this host. */
  cookieOptions(maxAgeS: number | undefined, o?: { hostOnly?: boolean }): CookieOptions;
  /** `target` when it is a URL on a configured route's exact origin (no open redirect). */
  allowedRedirect(target: string | null | undefined): URL | undefined;
  /**
   * Where a sign-in or sign-out on the authenticate host may return to:
   * `allowedRedirect`'s targets, or a page of the admin console on exactly
   * the authenticate origin (whose own cookie is all it needs).
   */
  returnTarget(target: string | null | undefined): URL | undefined;
  /** Who the request comes from, for the global namespace. */
  identify(): Promise<IdentifyResult>;
  /** Sends Limen's error page; the flow failed, so the request's span is marked an error with the first reason. */
  fail(status: number, message: string, extra?: Partial<ErrorPage>, headers?: Record<string, string>): void;
}

/** The sign-out form field asking to sign in again, as another account, once signed out. */
export const SWITCH_ACCOUNT_FIELD = 'limen_switch';

/** The CSRF token of the sign-out forms: HMAC-SHA256 of the session id under a key from `cookie_secret`. */
export function signOutCsrfToken(csrfKey: Uint8Array, sessionId: string): string {
  return createHmac('sha256', csrfKey).update(`sign-out:${sessionId}`).digest('base64url');
}

/** The route host's own sign-in for `target` (a bound sign-in that returns there). */
export function signInHref(target: URL): string {
  const u = new URL('/.pomerium/sign_in', target.origin);
  u.searchParams.set('pomerium_redirect_uri', target.href);
  return u.href;
}

/** Equal strings, compared in constant time. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The session cookie for this host: the authenticate host's is host-only, a route host's follows `cookie_domain`. */
export function sessionCookie(ctx: SignInContext, value: string, maxAgeS: number): string {
  return serializeCookie(ctx.site.config.cookieName, value, ctx.cookieOptions(maxAgeS, { hostOnly: ctx.host === ctx.site.authHost }));
}

/** The session cookie's lifetime (`cookie_expire`) in seconds. */
export function sessionCookieMaxAge(ctx: SignInContext): number {
  return Math.floor(ctx.site.config.cookieExpireMs / 1000);
}

/**
 * The session behind this request's own session cookie (not a bearer
 * token), if any. `refusedToo` also returns a session whose user the
 * directory refuses (deprovisioned): sign-out must still be able to end it.
 */
export async function cookieSession(ctx: SignInContext, refusedToo = false): Promise<SessionData | undefined> {
  const who = await ctx.identify();
  const caller = who.caller ?? (refusedToo ? who.outOfScope : undefined);
  return who.credential === 'cookie' && caller?.kind === 'session' ? caller.session : undefined;
}
