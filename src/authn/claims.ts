/**
 * From IdP claims to the email Limen uses (issue 17, item 12). With an IdP
 * that lets anyone register an address (self-registration, social logins),
 * `email` alone proves nothing: someone could claim an administrator's
 * address. OpenID Connect Core §5.1 gives `email_verified` for this; an
 * email the IdP marks unverified is treated as absent, so it matches no
 * `email`/`domain` criterion, no `administrators` entry and no directory
 * user, and the upstream is not told it. `idp_email_verification` decides
 * how strict this is.
 */
import type { EmailVerification } from '../config/index.js';

/**
 * The IdP's `email_verified`: true or false, or undefined when it did not
 * say. Some IdPs (AWS Cognito's userinfo) send the strings "true"/"false".
 */
export function emailVerifiedClaim(claims: Readonly<Record<string, unknown>>): boolean | undefined {
  const v = claims.email_verified;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const t = v.trim().toLowerCase();
    if (t === 'true') return true;
    if (t === 'false') return false;
  }
  return undefined;
}

/** Whether the claims' email may be used under `mode`. */
export function emailUsable(claims: Readonly<Record<string, unknown>>, mode: EmailVerification): boolean {
  const verified = emailVerifiedClaim(claims);
  switch (mode) {
    case 'trust_idp': return true;
    case 'require_verified': return verified === true;
    default: return verified !== false;
  }
}

/**
 * The claims as Limen keeps them: when the email may not be used, `email`
 * becomes empty (not deleted, so a refresh without it cannot fall back to an
 * earlier address); `email_verified` stays as the IdP sent it, so the
 * user page and `claim/email_verified` can say why.
 */
export function applyEmailVerification(claims: Record<string, unknown>, mode: EmailVerification): Record<string, unknown> {
  if (claims.email === undefined || claims.email === '' || emailUsable(claims, mode)) return claims;
  return { ...claims, email: '' };
}
