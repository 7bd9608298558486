/** Who may use the admin surfaces, and how a change they make names them in the audit trail. */
import type { Caller } from '../authn/index.js';
import { isAdministrator, isServiceAccountAdmin } from '../accounts/index.js';
import type { Actor } from '../operations/index.js';

/** The actor of a change an admin caller makes: a service account by id, else the administrator. */
export function actorOf(c: Caller): Actor {
  if (c.kind === 'service_account') {
    return { kind: 'service_account', id: c.policy.serviceAccountId ?? c.policy.sessionId, user: c.policy.user, email: c.policy.email };
  }
  return { kind: 'administrator', user: c.policy.user, email: c.policy.email };
}

/** Whether a caller may use administrator functions: an administrator, or a service account with the admin role. */
export function isAdminCaller(admins: readonly string[], c: Caller): boolean {
  return isAdministrator(admins, c) || isServiceAccountAdmin(c);
}
