/**
 * Every kind of audit event Limen records, with what it means. `AuditSink.emit`
 * takes only these, so a new kind is added here (and so becomes a valid
 * `limen audit query --kind` value) or the build fails.
 */
export const AUDIT_KINDS = {
  authorize: 'an access decision on a route (allow, deny or login)',
  websocket_closed: 'a tunnelled websocket closed because its session stopped being allowed',
  sign_in: 'a user signed in',
  sign_in_failed: 'a sign-in was refused (identity provider error, CSRF, hand-off mismatch)',
  sign_out: 'a user signed out',
  refresh_failed: 'a session could not be refreshed with the identity provider',
  impersonate_start: 'an administrator started impersonating a user',
  impersonate_stop: 'an impersonation ended',
  impersonate_denied: 'an impersonation was refused',
  admin_denied: 'a request to the admin API was refused',
  scim_denied: 'a SCIM request was refused (token missing or invalid)',
  'user.create': 'a directory user was added',
  'user.update': 'a directory user was changed',
  'user.activate': 'a directory user was reactivated',
  'user.deactivate': 'a directory user was deactivated',
  'user.delete': 'a directory user was removed',
  'group.create': 'a group was added',
  'group.update': 'a group was changed',
  'group.delete': 'a group was removed',
  'group.member_add': 'a user was added to a group',
  'group.member_remove': 'a user was removed from a group',
  'session.revoke': 'sessions were revoked',
  'service_account.create': 'a service account was created',
  'service_account.revoke': 'a service account was revoked',
  'route_token.revoke': 'a route-scoped token was revoked',
  'scim_token.create': 'a SCIM token was created',
  'scim_token.revoke': 'a SCIM token was revoked',
  'data.load': 'external records were loaded for policies',
  'data.delete': 'external records were deleted',
} as const satisfies Record<string, string>;

/** The kind of an audit event. */
export type AuditKind = keyof typeof AUDIT_KINDS;

/** Whether `text` names a kind of audit event. */
export function isAuditKind(text: string): text is AuditKind {
  return Object.hasOwn(AUDIT_KINDS, text);
}
