import type * as Oidc from 'openid-client';
import type { Config } from '../config/index.js';
import { LimenError } from '../errors/index.js';
import { applyEmailVerification } from './claims.js';

/** openid-client, loaded with the first discovery rather than on the path to the first answer. */
let loading: Promise<typeof Oidc> | undefined;
function openidClient(): Promise<typeof Oidc> {
  return (loading ??= import('openid-client'));
}

/**
 * Whether a failed code exchange or refresh is the identity provider
 * failing (unreachable, erroring, refusing Limen's client, an ID token that
 * does not check out), counted in `limen_idp_errors_total`, rather than
 * refusing the grant it was brought: `invalid_grant` is a code that was
 * forged, replayed or has expired, or a refresh token that was revoked.
 * Any client can cause that, so it would page whoever alerts on IdP errors;
 * the sign-in failure and refresh counters count it.
 */
function idpFailed(oidc: typeof Oidc, e: unknown): boolean {
  return !(e instanceof oidc.ResponseBodyError && e.error === 'invalid_grant');
}

/**
 * Whether the IdP gave no usable answer at all: not reached, timed out, or
 * a server error (5xx). Anything else is an answer about the grant (refused,
 * or a token that failed its checks).
 */
function idpUnavailable(oidc: typeof Oidc, e: unknown): boolean {
  if (e instanceof oidc.ResponseBodyError) return e.status >= 500;
  const cause = (e as { cause?: unknown })?.cause;
  if (cause instanceof Response) return cause.status >= 500;
  const name = (e as { name?: string })?.name;
  // fetch() rejects with a TypeError when the connection fails; a timeout aborts it.
  return e instanceof TypeError || name === 'AbortError' || name === 'TimeoutError';
}

/**
 * IdP failures by operation, as `limen_idp_errors_total` reports them. One
 * tally for the process, given to every client a reload builds: a reload
 * replaces the client while a sign-in or refresh under way finishes on the
 * old one, so counts kept per client were lost with it.
 */
export interface IdpErrorCounts {
  discovery: number;
  exchange: number;
  refresh: number;
}

/** RFC 6749 §5.2: an `error` code is 1*NQSCHAR; anything else is dropped, and the code is cut to this length. */
const OAUTH_ERROR_CODE_MAX = 64;

/**
 * An OAuth error code as RFC 6749 §5.2 lets it be spelled (characters
 * outside NQSCHAR = %x20-21 / %x23-5B / %x5D-7E dropped), bounded, for the
 * audit event and the log; undefined when nothing is left.
 */
export function oauthErrorCode(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  return value.slice(0, 4 * OAUTH_ERROR_CODE_MAX).replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '').trim().slice(0, OAUTH_ERROR_CODE_MAX) || undefined;
}

/** A URL for the operator: without userinfo, query or fragment, which may carry secrets. */
function withoutSecrets(u: URL): string {
  const c = new URL(u.href);
  c.username = '';
  c.password = '';
  c.search = '';
  c.hash = '';
  return c.href;
}

/** One line of an error message, URLs in it without userinfo, query or fragment, bounded. */
function plainMessage(m: string): string {
  return (m.split('\n', 1)[0] ?? '')
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*@/gi, '$1')
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s?#]*)[?#]\S*/gi, '$1')
    .replace(/[^\x20-\x7e]/g, '')
    .trim()
    .slice(0, 120);
}

/** What failed underneath an IdP call, for the operator's log line and `/readyz`. */
export interface IdpFailure {
  /** `idp_provider_url` without userinfo, query or fragment. */
  readonly issuer: string;
  /** The innermost error code: a system error (`ECONNREFUSED`, `ENOTFOUND`), a TLS one (`DEPTH_ZERO_SELF_SIGNED_CERT`) or openid-client's (`OAUTH_TIMEOUT`). */
  readonly code: string | undefined;
  /** Its message, one line, bounded, with the HTTP status when the IdP answered with an unexpected one. */
  readonly message: string;
}

/**
 * The cause of a failed IdP call, read down the error's `cause` chain to
 * the innermost error that has a code (fetch's `TypeError: fetch failed`
 * holds the socket's error). The walk stops at anything that is not an
 * error: a response body the IdP wrote is never quoted.
 */
export function failureOf(issuer: string, e: unknown): IdpFailure {
  let code: string | undefined;
  let message = '';
  let status: number | undefined;
  let x: unknown = e;
  for (let depth = 0; depth < 5 && x instanceof Error; depth++) {
    const c = (x as { code?: unknown }).code;
    if (typeof c === 'string' || !message) message = x.message;
    if (typeof c === 'string') code = c;
    const s = (x as { status?: unknown }).status;
    if (typeof s === 'number') status = s;
    x = x.cause;
  }
  if (x instanceof Response) status = x.status;
  message = plainMessage(message) || 'unknown error';
  return { issuer, code: code === undefined ? undefined : plainMessage(code).slice(0, 64), message: status === undefined ? message : `${message} (HTTP ${status})` };
}

/**
 * Where and why an IdP call failed, as log fields: the issuer, the
 * underlying error's code and a short message (IdpError.failure: no
 * userinfo, query string, secret or text the IdP wrote).
 */
export function idpFailureFields(e: unknown): Record<string, string> {
  const f = e instanceof IdpError ? e.failure : undefined;
  if (!f) return {};
  return { issuer: f.issuer, ...(f.code === undefined ? {} : { cause_code: f.code }), cause: f.message };
}

/** What the IdP told us at sign-in or refresh, already checked. */
export interface IdpTokens {
  readonly claims: Record<string, unknown>;
  readonly idToken: string | undefined;
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
  /** ms since epoch; undefined when the IdP did not say. */
  readonly expiresAt: number | undefined;
}

export class IdpError extends LimenError {
  /** What failed underneath; undefined only for an error not made by OidcClient. */
  readonly failure: IdpFailure | undefined;
  /** The IdP's OAuth `error` code when it answered with one (`invalid_client`, `invalid_grant`); checked and bounded by oauthErrorCode. */
  readonly idpError: string | undefined;

  constructor(code: string, message: string, cause?: unknown, detail?: { failure?: IdpFailure; idpError?: string | undefined }) {
    super(code, message, { status: 502, cause });
    this.failure = detail?.failure;
    this.idpError = detail?.idpError;
  }
}

/**
 * The OIDC relying party: discovery from `idp_provider_url`, authorization
 * code + PKCE + nonce, refresh, RP-initiated logout. Discovery is retried on
 * demand, so Limen starts even when the IdP is briefly down (sign-in then
 * fails closed with 502 until it answers).
 */
export class OidcClient {
  private discovered: Promise<Oidc.Configuration> | undefined;

  constructor(
    private readonly cfg: Pick<Config, 'idpProviderUrl' | 'idpClientId' | 'idpClientSecret' | 'idpScopes' | 'idpRequestParams' | 'idpEmailVerification'>,
    private readonly redirectUri: string,
    private readonly now: () => number = Date.now,
    /** Where this client counts its failures: the process's tally, shared with the clients reloads build before and after it. */
    readonly errors: IdpErrorCounts = { discovery: 0, exchange: 0, refresh: 0 },
  ) {}

  private configuration(): Promise<Oidc.Configuration> {
    if (!this.discovered) {
      const issuer = new URL(this.cfg.idpProviderUrl ?? '');
      const insecure = issuer.protocol === 'http:';
      this.discovered = openidClient().then((oidc) => oidc.discovery(issuer, this.cfg.idpClientId ?? '', this.cfg.idpClientSecret, undefined, {
        ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
        timeout: 10,
      })).catch((e: unknown) => {
        this.discovered = undefined;
        this.errors.discovery++;
        // Where and why, so "check DNS, egress and TLS trust" has something to check (shown by /readyz and the log).
        const failure = failureOf(withoutSecrets(issuer), e);
        throw new IdpError('ERR_IDP_DISCOVERY', `identity provider discovery failed at ${failure.issuer}: ${failure.code === undefined ? '' : `${failure.code} `}${failure.message}`,
          { message: (e as Error).message }, { failure });
      });
    }
    return this.discovered;
  }

  /** Resolves once discovery has succeeded (the readiness check); rejects with IdpError. */
  async ready(): Promise<void> {
    await this.configuration();
  }

  /** Starts sign-in: the IdP authorization URL for this state, nonce and PKCE verifier. */
  async authorizationUrl(state: string, nonce: string, codeVerifier: string): Promise<string> {
    const c = await this.configuration();
    const oidc = await openidClient();
    const params: Record<string, string> = {
      ...this.cfg.idpRequestParams,
      redirect_uri: this.redirectUri,
      scope: this.cfg.idpScopes.join(' '),
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    };
    return oidc.buildAuthorizationUrl(c, params).href;
  }

  /** Exchanges the code; checks state, nonce, PKCE and the ID token. */
  async exchange(callbackUrl: URL, expected: { state: string; nonce: string; codeVerifier: string }): Promise<IdpTokens> {
    const c = await this.configuration();
    const oidc = await openidClient();
    let tokens: Oidc.TokenEndpointResponse & Oidc.TokenEndpointResponseHelpers;
    try {
      tokens = await oidc.authorizationCodeGrant(c, callbackUrl, {
        pkceCodeVerifier: expected.codeVerifier,
        expectedState: expected.state,
        expectedNonce: expected.nonce,
        idTokenExpected: true,
      });
    } catch (e) {
      if (idpFailed(oidc, e)) this.errors.exchange++;
      const detail = this.detail(oidc, e);
      if (idpUnavailable(oidc, e)) throw new IdpError('ERR_IDP_UNAVAILABLE', 'the identity provider could not be reached to confirm the sign-in', { message: (e as Error).message }, detail);
      throw new IdpError('ERR_IDP_CODE_EXCHANGE', 'the identity provider did not accept the sign-in', { message: (e as Error).message }, detail);
    }
    return this.collect(c, tokens, undefined);
  }

  /** Refreshes; a refusal throws IdpError ERR_IDP_REFRESH (the caller ends the session), no answer ERR_IDP_UNAVAILABLE (it keeps it). */
  async refresh(refreshToken: string, previousClaims: Record<string, unknown>): Promise<IdpTokens> {
    const c = await this.configuration();
    const oidc = await openidClient();
    let tokens: Oidc.TokenEndpointResponse & Oidc.TokenEndpointResponseHelpers;
    try {
      tokens = await oidc.refreshTokenGrant(c, refreshToken);
    } catch (e) {
      if (idpFailed(oidc, e)) this.errors.refresh++;
      const detail = this.detail(oidc, e);
      if (idpUnavailable(oidc, e)) throw new IdpError('ERR_IDP_UNAVAILABLE', 'the identity provider could not be reached to refresh the session', { message: (e as Error).message }, detail);
      throw new IdpError('ERR_IDP_REFRESH', 'the identity provider refused to refresh the session', { message: (e as Error).message }, detail);
    }
    const t = await this.collect(c, tokens, previousClaims);
    return { ...t, refreshToken: t.refreshToken ?? refreshToken };
  }

  private detail(oidc: typeof Oidc, e: unknown): { failure: IdpFailure; idpError: string | undefined } {
    return {
      failure: failureOf(withoutSecrets(new URL(this.cfg.idpProviderUrl ?? '')), e),
      // Only the `error` member of the token endpoint's JSON error response (RFC 6749 §5.2); never its `error_description`, the IdP's free text.
      idpError: e instanceof oidc.ResponseBodyError ? oauthErrorCode(e.error) : undefined,
    };
  }

  private async collect(
    c: Oidc.Configuration, tokens: Oidc.TokenEndpointResponse & Oidc.TokenEndpointResponseHelpers, previous: Record<string, unknown> | undefined,
  ): Promise<IdpTokens> {
    let claims: Record<string, unknown> = { ...(previous ?? {}), ...(tokens.claims() ?? {}) };
    // Providers that leave email/groups out of the ID token put them in userinfo.
    if ((claims.email === undefined || claims.groups === undefined) && typeof claims.sub === 'string' && c.serverMetadata().userinfo_endpoint) {
      try {
        const info = await (await openidClient()).fetchUserInfo(c, tokens.access_token, claims.sub);
        claims = { ...info, ...claims };
      } catch { /* userinfo is optional */ }
    }
    return {
      // An email the IdP has not verified is not used (claims.ts, `idp_email_verification`).
      claims: applyEmailVerification(claims, this.cfg.idpEmailVerification),
      idToken: tokens.id_token,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      expiresAt: typeof tokens.expires_in === 'number' ? this.now() + tokens.expires_in * 1000 : undefined,
    };
  }

  /** The IdP's RP-initiated logout URL, when it supports one. */
  async endSessionUrl(idToken: string | undefined, postLogoutRedirectUri: string, state?: string): Promise<string | undefined> {
    try {
      const c = await this.configuration();
      const oidc = await openidClient();
      if (!c.serverMetadata().end_session_endpoint) return undefined;
      const params: Record<string, string> = { post_logout_redirect_uri: postLogoutRedirectUri, client_id: this.cfg.idpClientId ?? '' };
      if (idToken) params.id_token_hint = idToken;
      // Handed back unchanged with the redirect to post_logout_redirect_uri (RP-Initiated Logout 1.0 §2).
      if (state) params.state = state;
      return oidc.buildEndSessionUrl(c, params).href;
    } catch {
      return undefined;
    }
  }
}
