/**
 * Authentication: the OIDC relying party, sessions in the store, sealed
 * hand-off values bound to the browser that signed in, and working out
 * who a request comes from (session cookie or Pomerium bearer token).
 */
export { OidcClient, IdpError, idpFailureFields } from './oidc.js';
export type { IdpErrorCounts, IdpTokens } from './oidc.js';
export { SessionStore, SESSION_TYPE, groupsFromClaims } from './sessions.js';
export type { SessionData, Impersonation, IdpTokenSet } from './sessions.js';
export { seal, unseal, deriveKey } from './seal.js';
export { applyEmailVerification, emailUsable, emailVerifiedClaim } from './claims.js';
export { Identifier } from './identify.js';
export { newSignInNonce, signInBinding, isSignInBinding, rememberSignInNonce, consumeSignInBinding, MAX_PENDING_SIGN_INS } from './binding.js';
export type { Caller, Credential, IdentifyResult, TokenResolver, IdentityEnricher, EnrichContext, IdentifyDeps, ImpersonationEndReason } from './identify.js';
export { listSessions, revokeSession, revokeUserSessions, sessionView } from './session-list.js';
export type { SessionSummary, UserRef } from './session-list.js';
export { authenticateSignIn, oauthCallback, routeCallback, routeSignIn, programmaticLogin } from './sign-in.js';
export { authenticateSignOut, signedOut, routeSignOut } from './sign-out.js';
export { BINDING_PARAM, checkSignInBinding, redirectToBoundSignIn, signInNonceCookieName } from './bound-sign-in.js';
export { SWITCH_ACCOUNT_FIELD, signInHref, signOutCsrfToken } from './flow.js';
export type { SignInContext, SignInServices, SignInSite } from './flow.js';
