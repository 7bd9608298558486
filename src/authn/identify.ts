import type { IncomingMessage } from 'node:http';
import type { IdentityInfo } from '../authz/index.js';
import type { AssertionIdentity } from '../identity/index.js';
import { extractBearerToken, handleAudienceAccepts, verifySharedSecretToken, type HandleAudiencePolicy, type TokenFailure } from '../identity/index.js';
import { cookieValues } from '../http/index.js';
import { IdentityRefusedError } from '../errors/index.js';
import type { JWTPayload } from 'jose';
import type { SessionData, SessionStore } from './sessions.js';
import type { OidcClient } from './oidc.js';
import { approxBytes, BoundedCache } from '../store/bounded-cache.js';

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
  /** Roles a stored service account was granted (`admin`), read from its record on this request. */
  readonly roles?: readonly string[] | undefined;
}

export type Credential = 'none' | 'cookie' | 'bearer';

export interface IdentifyResult {
  readonly caller: Caller | null;
  readonly credential: Credential;
  /** Why a presented credential was not accepted (`token-expired`, `session-unknown`, ...). */
  readonly failure?: string | undefined;
  /**
   * A valid credential used outside its scope (a service account on a route
   * outside its namespace), with `failure` saying why. `caller` stays null,
   * so code that ignores this field fails closed; the request pipeline
   * answers 403 with the reason instead of 401.
   */
  readonly outOfScope?: Caller | undefined;
}

/**
 * Resolves non-session bearer tokens (service accounts, route-scoped CLI
 * tokens). Returns undefined when the token is not of its kind; a caller
 * with `outOfScope` (a reason) when the token is valid but not for this
 * route's namespace.
 */
export type TokenResolver = (claims: JWTPayload, host: string, routeNamespace: string) => Promise<{ caller: Caller; outOfScope?: string | undefined } | { failure: string } | undefined>;

/** How the identity given to an enricher came about. */
export interface EnrichContext {
  /** An administrator's impersonation: its groups are exactly those chosen, not the directory's. */
  readonly impersonated?: boolean | undefined;
}

/**
 * Adds directory data (groups, names) to an identity. Throws only
 * `IdentityRefusedError` (a deactivated or deprovisioned user), which the
 * identify step turns into a failure reason with the caller out of scope.
 */
export type IdentityEnricher = (id: IdentityInfo, how?: EnrichContext) => Promise<IdentityInfo>;

export interface IdentifyDeps {
  readonly sessions: SessionStore;
  readonly sharedSecret: Uint8Array;
  readonly cookieName: string;
  readonly oidc: OidcClient | undefined;
  readonly now: () => number;
  readonly tokenResolvers: readonly TokenResolver[];
  readonly enrich?: IdentityEnricher | undefined;
  /**
   * Called when a refresh fails: `refresh-refused` and `no-refresh-token`
   * end the session; `idp-unavailable` (the IdP not reached) keeps it.
   */
  /** `error`: what the IdP call threw, when there was a call (its cause and OAuth error code, for the log). */
  readonly onRefreshFailed?: (s: SessionData, reason: string, error?: unknown) => void;
  /** Called after a successful refresh (directory update; `before` may have been impersonating). */
  readonly onRefreshed?: (before: SessionData, after: SessionData) => void;
  /**
   * Whether the real person behind an impersonation may still impersonate:
   * their own identity (with directory groups) matched against
   * `administrators` of the current config. Asked on every request of an
   * impersonating session; false ends the impersonation. Absent: nobody
   * may, so every impersonation ends (fails closed).
   */
  readonly mayImpersonate?: ((actor: IdentityInfo) => boolean) | undefined;
  /** Called when a request ended an impersonation because the actor lost their rights (audit). */
  readonly onImpersonationEnded?: (s: SessionData, reason: ImpersonationEndReason) => void;
  /**
   * A number that changes whenever anything in the store changes, this
   * process's writes and (SQLite) other processes' commits alike: the read
   * cache's `changeGeneration`. When given, a session's caller is remembered
   * per token while it is unchanged and no time bound of the token or the
   * session has passed, so a signed-in request skips the session read and
   * the directory. Without it (PostgreSQL) every request reads afresh.
   */
  readonly generation?: (() => number) | undefined;
  /** Which hosts a session handle's `aud` admits; without it, only the very host. */
  readonly handleAudience?: HandleAudiencePolicy | undefined;
  /** Bounds of the verified-token and caller memories (tests); defaults {@link VERIFIED_CACHE_MAX} and the byte constants. */
  readonly cacheBounds?: { readonly maxEntries?: number; readonly verifiedMaxBytes?: number; readonly callersMaxBytes?: number } | undefined;
}

/**
 * Why a request ended an impersonation: the administrator is no longer in
 * `administrators` (config reload, or a `group:` membership gone), or the
 * directory refuses the administrator (deactivated, deprovisioned).
 */
export type ImpersonationEndReason = 'actor-not-administrator' | 'actor-deprovisioned';

const REFRESH_MARGIN_MS = 60_000;
/** After the IdP could not be reached for a refresh, no session asks it again for this long. */
const IDP_RETRY_MS = 5_000;
/** Verified tokens and remembered callers: at most this many each, and at most these bytes (estimated). */
export const VERIFIED_CACHE_MAX = 10_000;
export const VERIFIED_CACHE_MAX_BYTES = 3 * 1024 * 1024;
export const CALLER_CACHE_MAX_BYTES = 8 * 1024 * 1024;
/** Same-name session cookies looked at per request (a browser sends at most two). */
const MAX_SESSION_COOKIES = 4;
/** The skew verifySharedSecretToken allows on exp/nbf. */
const TOKEN_SKEW_S = 60;

/** How much of a token's end keys the caller memory: the signature's last characters, unique to the token. */
const CALLER_KEY_TAIL = 32;

/**
 * The caller memory's key for a token on a host: the host and the token's
 * end, not the whole token. A token arrives as a new string on every
 * request, and a map hashes every character of a new key: for a session
 * handle of several hundred characters that was the largest single cost of
 * a signed-in request's identity (about 4,800 instructions). The entry
 * keeps the whole token, and a hit counts only when it is the same token,
 * so two tokens with the same end (never two valid ones: it is their
 * signature) share a slot rather than a caller.
 */
function callerKey(host: string, token: string): string {
  return `${host}\u0000${token.length > CALLER_KEY_TAIL ? token.slice(-CALLER_KEY_TAIL) : token}`;
}

/**
 * Works out who is asking: a Pomerium bearer token (CONTRACT §5 order) wins
 * over the session cookie. A bad credential yields no caller and a failure
 * reason, never an exception.
 */
export class Identifier {
  private readonly refreshing = new Map<string, Promise<SessionData | null>>();
  /** Until when refreshes wait after the IdP could not be reached (one IdP: one back-off for every session). */
  private idpRetryAt = -Infinity;
  /**
   * Tokens whose HS256 signature already verified (an HMAC costs ~80 µs in
   * jose; a browser sends the same cookie on every request). Only the
   * signature check is cached: `exp`/`nbf` are re-checked on every hit, and
   * whether the session or account still exists is always read afresh.
   */
  private readonly verified: BoundedCache<string, JWTPayload>;
  /**
   * Session callers by host and token (the handle's audience is decided
   * per host), all computed while the store's generation was
   * `callersGeneration`; emptied as soon as it moves. `from`..`until` is the
   * clock span in which nothing time-dependent in `fromToken` changes.
   */
  private readonly callers: BoundedCache<string, { readonly token: string; readonly caller: Caller; readonly from: number; readonly until: number }>;
  private callersGeneration: number | undefined;

  private async verifyCached(token: string, now: number): Promise<JWTPayload | TokenFailure> {
    const hit = this.verified.get(token);
    if (hit) {
      const nowS = now / 1000;
      if (hit.exp !== undefined && hit.exp + TOKEN_SKEW_S <= nowS) return 'token-expired';
      if (hit.nbf !== undefined && hit.nbf - TOKEN_SKEW_S > nowS) return 'token-not-yet-valid';
      return hit;
    }
    const v = await verifySharedSecretToken(token, this.deps.sharedSecret, now);
    if (!v.ok) return v.reason;
    this.verified.set(token, v.claims);
    return v.claims;
  }

  constructor(private readonly deps: IdentifyDeps) {
    const b = deps.cacheBounds ?? {};
    this.verified = new BoundedCache({
      maxEntries: b.maxEntries ?? VERIFIED_CACHE_MAX,
      maxBytes: b.verifiedMaxBytes ?? VERIFIED_CACHE_MAX_BYTES,
      sizeOf: (token, claims) => 64 + token.length + approxBytes(claims),
    });
    // A caller holds its session record (shared with the read cache while that keeps it) and the policy identity.
    this.callers = new BoundedCache({
      maxEntries: b.maxEntries ?? VERIFIED_CACHE_MAX,
      maxBytes: b.callersMaxBytes ?? CALLER_CACHE_MAX_BYTES,
      sizeOf: (key, e) => 256 + key.length + e.token.length + approxBytes(e.caller.session ?? null) + approxBytes(e.caller.policy.groups),
    });
  }

  /** Entries and estimated bytes of the verified-token and caller memories (tests, metrics). */
  get cacheSizes(): { readonly verified: { entries: number; bytes: number }; readonly callers: { entries: number; bytes: number } } {
    return { verified: { entries: this.verified.size, bytes: this.verified.bytes }, callers: { entries: this.callers.size, bytes: this.callers.bytes } };
  }

  /**
   * What `identify` would answer, when that is known without any I/O or
   * signature check: no credential at all, or a session cookie whose caller
   * is remembered for the current store generation and clock span (see
   * `callers`). Undefined otherwise; then `identify` must be asked. Saves
   * the signed-in request path its promises; never a different answer:
   * a revocation moves the generation, which empties the memory first.
   */
  identifyCached(req: IncomingMessage, host: string): IdentifyResult | undefined {
    const headers = req.headers;
    if (headers['x-pomerium-authorization'] !== undefined || headers.authorization !== undefined) return undefined;
    const cookieHeader = headers.cookie;
    if (cookieHeader === undefined) return { caller: null, credential: 'none' };
    // The first non-empty session cookie decides when its caller is known (identify's loop stops there too).
    const first = cookieValues(cookieHeader, this.deps.cookieName).find((c) => c !== '');
    if (first === undefined) return { caller: null, credential: 'none' };
    const generation = this.deps.generation?.();
    if (generation === undefined || generation !== this.callersGeneration) return undefined;
    const known = this.callers.get(callerKey(host, first));
    const now = this.deps.now();
    if (known && known.token === first && known.from <= now && now < known.until) return { caller: known.caller, credential: 'cookie' };
    return undefined;
  }

  async identify(req: IncomingMessage, host: string, routeNamespace: string): Promise<IdentifyResult> {
    const bearer = extractBearerToken(req.headers);
    if (bearer) {
      const r = await this.fromToken(bearer.token, host, routeNamespace);
      return { ...r, credential: 'bearer' };
    }
    // A host-only and a cookie_domain cookie of the same name may both
    // arrive: the one issued for this host wins, whatever their order.
    let first: IdentifyResult | undefined;
    for (const cookie of cookieValues(req.headers.cookie, this.deps.cookieName).slice(0, MAX_SESSION_COOKIES)) {
      if (!cookie) continue;
      const r = await this.fromToken(cookie, host, routeNamespace);
      if (r.caller || first === undefined) first = { ...r, credential: 'cookie' };
      if (r.caller) break;
    }
    return first ?? { caller: null, credential: 'none' };
  }

  /** A session handle, a service-account token or a route-scoped token. */
  async fromToken(token: string, host: string, routeNamespace: string): Promise<{ caller: Caller | null; failure?: string; outOfScope?: Caller }> {
    const now = this.deps.now();
    const generation = this.deps.generation?.();
    if (generation !== undefined) {
      if (generation !== this.callersGeneration) {
        this.callers.clear();
        this.callersGeneration = generation;
      }
      const known = this.callers.get(callerKey(host, token));
      if (known && known.token === token && known.from <= now && now < known.until) return { caller: known.caller };
    }
    const claims = await this.verifyCached(token, now);
    if (typeof claims === 'string') return { caller: null, failure: claims };
    if (typeof claims.jti === 'string') {
      const rec = await this.deps.sessions.get(claims.jti);
      if (rec) {
        if (claims.sub !== undefined && claims.sub !== rec.data.userId) return { caller: null, failure: 'session-mismatch' };
        // CONTRACT §4: a handle works only for the audience it was issued to.
        if (!handleAudienceAccepts(this.deps.handleAudience, claims.aud, host)) return { caller: null, failure: 'session-audience-mismatch' };
        const fresh = await this.maybeRefresh(rec.data);
        if (!fresh) return { caller: null, failure: 'session-refresh-failed' };
        // The real actor is checked on every request, as is the user they act as (sessionCaller).
        const s = fresh.impersonation ? await this.recheckImpersonator(fresh) : fresh;
        const key = `${s.id}:${rec.version}`;
        try {
          const caller = await this.sessionCaller(s, key);
          // Remembered only if nothing changed since the generation was read
          // (a refresh writes, and so does anyone else meanwhile).
          if (generation !== undefined && s === rec.data && this.callersGeneration === generation) {
            this.rememberCaller(host, token, caller, now, Math.min(
              typeof claims.exp === 'number' ? (claims.exp + TOKEN_SKEW_S) * 1000 : Infinity,
              s.expiresAt,
              rec.expiresAt ?? Infinity,
              s.tokenExpiresAt === undefined ? Infinity : s.tokenExpiresAt - REFRESH_MARGIN_MS,
            ));
          }
          return { caller };
        } catch (e) {
          if (!(e instanceof IdentityRefusedError)) throw e;
          // The directory refuses this user (deprovisioned): 403 with the reason, never a sign-in loop.
          return { caller: null, failure: e.reason, outOfScope: sessionCallerFrom(s, key, sessionIdentity(s)) };
        }
      }
    }
    for (const resolve of this.deps.tokenResolvers) {
      const r = await resolve(claims, host, routeNamespace);
      if (r === undefined) continue;
      if ('failure' in r) return { caller: null, failure: r.failure };
      let enriched: IdentityInfo;
      try {
        // A route token acting as someone (impersonate_*) has exactly the groups it names, as with dashboard impersonation.
        enriched = this.deps.enrich ? await this.deps.enrich(r.caller.policy, { impersonated: r.caller.impersonator !== undefined }) : r.caller.policy;
      } catch (e) {
        if (!(e instanceof IdentityRefusedError)) throw e;
        return { caller: null, failure: e.reason, outOfScope: r.caller };
      }
      // The upstream is told the same groups policy saw, as for sessions.
      const assertion = enriched.groups === r.caller.policy.groups ? r.caller.assertion
        : { ...r.caller.assertion, groups: enriched.groups, cacheKey: `${r.caller.assertion.cacheKey}:${enriched.groups.join(',')}` };
      const caller: Caller = { ...r.caller, policy: enriched, assertion };
      if (r.outOfScope !== undefined) return { caller: null, failure: r.outOfScope, outOfScope: caller };
      return { caller };
    }
    return { caller: null, failure: typeof claims.jti === 'string' ? 'session-unknown' : 'token-unknown' };
  }

  private rememberCaller(host: string, token: string, caller: Caller, from: number, until: number): void {
    if (!(until > from)) return;
    this.callers.set(callerKey(host, token), { token, caller, from, until });
  }

  /** Builds the caller for a session, applying impersonation. */
  async sessionCaller(s: SessionData, cacheKey: string): Promise<Caller> {
    const base = sessionIdentity(s);
    const policy = this.deps.enrich ? await this.deps.enrich(base, { impersonated: s.impersonation !== undefined }) : base;
    return sessionCallerFrom(s, cacheKey, policy);
  }

  /**
   * An impersonating session whose administrator lost their rights (no
   * longer in `administrators`, or refused by the directory) stops
   * impersonating on this very request: the stored session drops the
   * impersonation and the request goes on as the administrator's own, with
   * their own rights (none, if the directory refuses them). Never the other
   * way round: an impersonation is never kept for an actor who cannot start one.
   */
  private async recheckImpersonator(s: SessionData): Promise<SessionData> {
    const actor: IdentityInfo = { user: s.userId, email: s.email, groups: s.groups, claims: s.claims, sessionId: s.id };
    let reason: ImpersonationEndReason | undefined;
    try {
      const enriched = this.deps.enrich ? await this.deps.enrich(actor) : actor;
      if (!this.deps.mayImpersonate?.(enriched)) reason = 'actor-not-administrator';
    } catch (e) {
      if (!(e instanceof IdentityRefusedError)) throw e;
      reason = 'actor-deprovisioned';
    }
    if (reason === undefined) return s;
    const ended: SessionData = { ...s, impersonation: undefined };
    // Written over the session as it is now, and only if it still exists, so
    // a sign-out or revocation that raced this request is never undone.
    const current = await this.deps.sessions.get(s.id);
    if (current?.data.impersonation) {
      await this.deps.sessions.save({ ...current.data, impersonation: undefined });
      this.deps.onImpersonationEnded?.(s, reason);
    }
    return ended;
  }

  /** Refreshes IdP tokens shortly before they expire; one refresh per session at a time. */
  private async maybeRefresh(s: SessionData): Promise<SessionData | null> {
    const now = this.deps.now();
    if (s.expiresAt <= now) return null;
    if (s.tokenExpiresAt === undefined || s.tokenExpiresAt - REFRESH_MARGIN_MS > now) return s;
    if (now < this.idpRetryAt) return s.tokenExpiresAt > now ? s : null;
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
      // Revoked or signed out while the IdP was asked: it stays gone.
      if (rec === null) return null;
      this.deps.onRefreshed?.(s, rec.data);
      return rec.data;
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_IDP_UNAVAILABLE') {
        // Not a refusal: the session stays, to be refreshed once the IdP answers
        // (a blip at the IdP must not sign everyone out). It serves meanwhile only
        // while the IdP's tokens are still valid: fail closed after that.
        const now = this.deps.now();
        this.idpRetryAt = now + IDP_RETRY_MS;
        this.deps.onRefreshFailed?.(s, 'idp-unavailable', e);
        return (s.tokenExpiresAt ?? 0) > now ? s : null;
      }
      await this.deps.sessions.delete(s.id);
      this.deps.onRefreshFailed?.(s, 'refresh-refused', e);
      return null;
    }
  }
}

/** What policy sees for a session: the impersonated identity while impersonating. */
function sessionIdentity(s: SessionData): IdentityInfo {
  const imp = s.impersonation;
  return imp
    ? { user: imp.user, email: imp.email, groups: imp.groups, claims: { ...s.claims, sub: imp.user, email: imp.email, groups: imp.groups, name: imp.name }, sessionId: s.id }
    : { user: s.userId, email: s.email, groups: s.groups, claims: s.claims, sessionId: s.id };
}

function sessionCallerFrom(s: SessionData, cacheKey: string, policy: IdentityInfo): Caller {
  const imp = s.impersonation;
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
