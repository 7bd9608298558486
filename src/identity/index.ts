/**
 * Identity Limen asserts and accepts: signing keys and the JWKS, the
 * `X-Pomerium-Jwt-Assertion` signer, verification of carried assertions,
 * shared-secret tokens (session handles, service accounts, CLI tokens).
 */
export { deriveSigningKeyPem, signingKeyFromPem, loadKeySet, jwksDocument } from './keys.js';
export type { SigningKey, KeySet, JwksDocument } from './keys.js';
export { AssertionSigner, checkCarriedAssertion, verifyCarriedAssertion, ASSERTION_TTL_S } from './assertion.js';
export type { AssertionCarrier, AssertionIdentity, AssertionOptions, CarriedAssertion, CarriedAssertionFailure } from './assertion.js';
export { signSessionHandle, verifySharedSecretToken, extractBearerToken, MAX_TOKEN_BYTES, sessionHandleAudience, handleAudienceAccepts, sharedCookieDomain } from './tokens.js';
export type { SessionHandle, TokenFailure, BearerSource, HandleAudiencePolicy } from './tokens.js';
export { isCompactJwe, isCompactJws } from './compact.js';
