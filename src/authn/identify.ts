import type { IncomingMessage } from 'node:http';
import type { IdentityInfo } from '../authz/index.js';
import type { AssertionIdentity } from '../identity/index.js';
import { extractBearerToken, verifySharedSecretToken } from '../identity/index.js';
import { parseCookies } from '../http/index.js';
import type { JWTPayload } from 'jose';
import type { SessionData, SessionStore } from './sessions.js';
import type { OidcClient } from './oidc.js';

/** A verified caller, ready for policy and the assertion. */
export interface Caller {
  readonly kind: 'session' | 'service_account' | 'route_token';
  /** What policy sees (the impersonated identity while impersonating). */
  readonly policy: IdentityInfo;
  /** What the upstream is told. */
  readonly assertion: AssertionIdentity;
  readonly session?: SessionData | undefined;
  /** The administrator behind an impersonated identity. */
  readonly impersonator?: { readonly sub: string; readonly email: string } | undefined;
}

export type Credential = 'none' | 'cookie' | 'bearer';

export interface IdentifyResult {
  readonly caller: Caller | null;
  readonly credential: Credential;
  /** Why a presented credential was not accepted (`token-expired`, `session-unknown`, ...). */
  readonly failure?: string | undefined;
}

/**
 * Resolves non-session bearer tokens (service accounts, route-scoped CLI
 * tokens). Returns undefined when the token is not of its kind.
 */
export type TokenResolver = (claims: JWTPayload, host: string, routeNamespace: string) => Promise<{ caller: Caller } | { failure: string } | undefined>;

/** Adds directory data (groups, names) to an identity; must not throw. */
export type IdentityEnricher = (id: IdentityInfo) => Promise<IdentityInfo>;

export interface IdentifyDeps {
  readonly sessions: SessionStore;
  readonly sharedSecret: Uint8Array;
  readonly cookieName: string;
  readonly oidc: OidcClient | undefined;
  readonly now: () => number;
  readonly tokenResolvers: readonly TokenResolver[];
  readonly enrich?: IdentityEnricher | undefined;
  /** Called when a session ends on a refused refresh. */
  readonly onRefreshFailed?: (s: SessionData, reason: string) => void;
}

const REFRESH_MARGIN_MS = 60_000;

/**
 * Works out who is asking: a Pomerium bearer token (CONTRACT §5 order) wins
 * over the session cookie. A bad credential yields no caller and a failure
 * reason, never an exception.
 */
export class Identifier {
  private readonly refreshing = new Map<string, Promise<SessionData | null>>();

  constructor(private readonly deps: IdentifyDeps) {}

  async identify(req: IncomingMessage, host: string, routeNamespace: string): Promise<IdentifyResult> {
    const bearer = extractBearerToken(req.headers);
    if (bearer) {
      const r = await this.fromToken(bearer.token, host, routeNamespace);
      return { ...r, credential: 'bearer' };
    }
    const cookie = parseCookies(req.headers.cookie).get(this.deps.cookieName);
    if (cookie) {
      const r = await this.fromToken(cookie, host, routeNamespace);
      return { ...r, credential: 'cookie' };
    }
    return { caller: null, credential: 'none' };
  }

  /** A session handle, a service-account token or a route-scoped token. */
  async fromToken(token: string, host: string, routeNamespace: string): Promise<{ caller: Caller | null; failure?: string }> {
    const now = this.deps.now();
    const v = await verifySharedSecretToken(token, this.deps.sharedSecret, now);
    if (!v.ok) return { caller: null, failure: v.reason };
    const claims = v.claims;
    if (typeof claims.jti === 'string') {
      const rec = await this.deps.sessions.get(claims.jti);
      if (rec) {
        if (claims.sub !== undefined && claims.sub !== rec.data.userId) return { caller: null, failure: 'session-mismatch' };
        const s = await this.maybeRefresh(rec.data);
        if (!s) return { caller: null, failure: 'session-refresh-failed' };
        return { caller: await this.sessionCaller(s, `${s.id}:${rec.version}`) };
      }
    }
    for (const resolve of this.deps.tokenResolvers) {
      const r = await resolve(claims, host, routeNamespace);
      if (r === undefined) continue;
      if ('failure' in r) return { caller: null, failure: r.failure };
      const enriched = this.deps.enrich ? await this.deps.enrich(r.caller.policy) : r.caller.policy;
      return { caller: { ...r.caller, policy: enriched } };
    }
    return { caller: null, failure: typeof claims.jti === 'string' ? 'session-unknown' : 'token-unknown' };
  }

  /** Builds the caller for a session, applying impersonation. */
  async sessionCaller(s: SessionData, cacheKey: string): Promise<Caller> {
    const imp = s.impersonation;
    const base: IdentityInfo = imp
      ? { user: imp.user, email: imp.email, groups: imp.groups, claims: { ...s.claims, sub: imp.user, email: imp.email, groups: imp.groups, name: imp.name }, sessionId: s.id }
      : { user: s.userId, email: s.email, groups: s.groups, claims: s.claims, sessionId: s.id };
    const policy = this.deps.enrich ? await this.deps.enrich(base) : base;
    const name = imp ? imp.name : s.name;
    const impersonator = imp ? { sub: s.userId, email: s.email } : undefined;
    return {
      kind: 'session',
      policy,
      session: s,
      impersonator,
      assertion: {
        cacheKey: `s:${cacheKey}:${policy.groups.join(',')}`,
        user: policy.user, email: policy.email, name, groups: policy.groups, sid: s.id,
        claims: policy.claims, act: impersonator,
      },
    };
  }

  /** Refreshes IdP tokens shortly before they expire; one refresh per session at a time. */
  private async maybeRefresh(s: SessionData): Promise<SessionData | null> {
    const now = this.deps.now();
    if (s.expiresAt <= now) return null;
    if (s.tokenExpiresAt === undefined || s.tokenExpiresAt - REFRESH_MARGIN_MS > now) return s;
    let p = this.refreshing.get(s.id);
    if (!p) {
      p = this.refresh(s).finally(() => this.refreshing.delete(s.id));
      this.refreshing.set(s.id, p);
    }
    return p;
  }

  private async refresh(s: SessionData): Promise<SessionData | null> {
    const tokens = this.deps.sessions.tokens(s);
    if (!tokens?.refreshToken || !this.deps.oidc) {
      if ((s.tokenExpiresAt ?? 0) > this.deps.now()) return s;
      await this.deps.sessions.delete(s.id);
      this.deps.onRefreshFailed?.(s, 'no-refresh-token');
      return null;
    }
    try {
      const t = await this.deps.oidc.refresh(tokens.refreshToken, { ...s.claims });
      const rec = await this.deps.sessions.applyRefresh(s, t);
      return rec.data;
    } catch {
      await this.deps.sessions.delete(s.id);
      this.deps.onRefreshFailed?.(s, 'refresh-refused');
      return null;
    }
  }
}
