/**
 * Who makes an administrative change, as the audit trail names them
 * (CONTRACT §6): an administrator signed in to the admin API or console, a
 * service account holding the `admin` role, or the `limen` CLI run by an
 * operating-system user.
 */
import { userInfo } from 'node:os';

export type Actor =
  /** A signed-in person listed in `administrators`. */
  | { readonly kind: 'administrator'; readonly user: string; readonly email: string }
  /** A service account with the `admin` role, using the admin API. */
  | { readonly kind: 'service_account'; readonly id: string; readonly user: string; readonly email: string }
  /** The `limen` CLI; `osUser` is empty when the OS does not say who runs it. */
  | { readonly kind: 'cli'; readonly osUser: string };

/** The `actor` field of an audit event: the email (else user id), `service_account:<id>` or `cli:<os user>`. */
export function actorName(a: Actor): string {
  switch (a.kind) {
    case 'administrator': return a.email || a.user;
    case 'service_account': return `service_account:${a.id}`;
    case 'cli': return a.osUser === '' ? 'cli' : `cli:${a.osUser}`;
  }
}

/** The CLI as an actor: the operating-system user running it. */
export function cliActor(): Actor {
  try {
    return { kind: 'cli', osUser: userInfo().username };
  } catch {
    return { kind: 'cli', osUser: '' };
  }
}
