/**
 * Who is an administrator (`administrators`: emails, user ids, `group:NAME`):
 * the admin API, the console, impersonation and the user page ask here.
 */
import type { Caller } from '../authn/index.js';
import type { IdentityInfo } from '../authz/index.js';

/**
 * Whether an identity matches `administrators` (emails, user ids,
 * `group:NAME`), with its directory groups. The email only counts when the
 * IdP has not marked it unverified: the session's email is empty then
 * (`idp_email_verification`, see authn/claims.ts).
 */
export function matchesAdministrators(admins: readonly string[], id: Pick<IdentityInfo, 'user' | 'email' | 'groups'>): boolean {
  const email = id.email.toLowerCase();
  for (const a of admins) {
    if (a.startsWith('group:')) {
      if (id.groups.includes(a.slice(6))) return true;
    } else if ((id.user !== '' && a === id.user) || (email !== '' && a.toLowerCase() === email)) return true;
  }
  return false;
}

/**
 * Whether the caller may use administrator functions: a signed-in person
 * (a session) whose REAL identity matches `administrators`. While
 * impersonating nobody is an administrator, so impersonation never grants or
 * keeps admin rights. A service account is never an administrator through
 * this list, not even one acting as an administrator's directory user: its
 * admin rights come only from the `admin` role on its own record
 * (isServiceAccountAdmin), granted explicitly and audited at creation.
 */
export function isAdministrator(admins: readonly string[], c: Caller): boolean {
  if (c.impersonator || c.kind !== 'session') return false;
  return matchesAdministrators(admins, c.policy);
}
