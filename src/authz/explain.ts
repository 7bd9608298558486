/**
 * Plain-words explanations of reasons and decisions. These strings are shown
 * to the person who was refused (403 page) and printed by `limen policy
 * explain`, so they name what kind of requirement was or was not met, never
 * the policy's values (which emails, groups, addresses or hours).
 */

import type { Decision } from './types.js';

interface ReasonText {
  /** What the reason means on its own. */
  readonly text: string;
  /** For a `*-ok` reason that made a deny rule match. */
  readonly refused?: string;
}

const REASONS: Readonly<Record<string, ReasonText>> = {
  accept: { text: 'This route is open to everyone.', refused: 'This route refuses all requests.' },
  reject: { text: 'This route refuses all requests.' },
  'user-ok': { text: 'You are signed in with an account this route accepts.', refused: 'This route refuses your account.' },
  'user-unauthenticated': { text: 'You need to sign in to use this route.' },
  'user-unauthorized': { text: 'Your account is not on the list allowed for this route.' },
  'email-ok': { text: 'Your email address is allowed on this route.', refused: 'This route refuses your email address.' },
  'email-unauthorized': { text: 'Your email address is not on the list allowed for this route.' },
  'domain-ok': { text: 'Your email domain is allowed on this route.', refused: 'This route refuses your email domain.' },
  'domain-unauthorized': { text: 'Your email domain is not allowed on this route.' },
  'groups-ok': {
    text: 'You are a member of a group allowed on this route.',
    refused: 'This route refuses members of one of your groups.',
  },
  'groups-unauthorized': { text: 'You are not a member of a group allowed on this route.' },
  'claim-ok': {
    text: 'Your account details from the identity provider meet this route\'s requirements.',
    refused: 'This route refuses your account because of its details from the identity provider.',
  },
  'claim-unauthorized': { text: 'Your account details from the identity provider do not meet this route\'s requirements.' },
  'http-method-ok': { text: 'This request method is allowed on this route.', refused: 'This route refuses this request method.' },
  'http-method-unauthorized': { text: 'This request method is not allowed on this route.' },
  'http-path-ok': { text: 'This path is allowed on this route.', refused: 'This route refuses requests for this path.' },
  'http-path-unauthorized': { text: 'This path is not allowed on this route.' },
  'source-ip-ok': {
    text: 'Your network address is allowed on this route.',
    refused: 'This route refuses requests from your network address.',
  },
  'source-ip-unauthorized': { text: 'Requests from your network address are not allowed on this route.' },
  'cors-request': { text: 'The request is a CORS preflight.', refused: 'This route refuses CORS preflight requests.' },
  'non-cors-request': { text: 'The request is not a CORS preflight.' },
  'client-certificate-ok': {
    text: 'Your client certificate is accepted on this route.',
    refused: 'This route refuses your client certificate.',
  },
  'client-certificate-unauthorized': { text: 'Your client certificate is not accepted on this route.' },
  'client-certificate-required': {
    text: 'This route requires a client certificate, and none was presented.',
    refused: 'This route requires a client certificate, and none was presented.',
  },
  'invalid-client-certificate': {
    text: 'Your client certificate is not valid for this site.',
    refused: 'Your client certificate is not valid for this site.',
  },
  'valid-client-certificate-or-none-required': { text: 'Your client certificate is valid, or none is required.' },
  'date-ok': { text: 'This route is open on this date.', refused: 'This route is closed on this date.' },
  'date-unauthorized': { text: 'This route is not open on this date.' },
  'day-of-week-ok': {
    text: 'This route is open on this day of the week.',
    refused: 'This route is closed on this day of the week.',
  },
  'day-of-week-unauthorized': { text: 'This route is not open on this day of the week.' },
  'time-of-day-ok': { text: 'This route is open at this time of day.', refused: 'This route is closed at this time of day.' },
  'time-of-day-unauthorized': { text: 'This route is not open at this time of day.' },
  'record-ok': {
    text: 'The data on record (for example your device\'s status) meets this route\'s requirements.',
    refused: 'This route refuses access because of data on record (for example your device\'s status).',
  },
  'record-unauthorized': {
    text: 'The data on record (for example your device\'s status) does not meet this route\'s requirements.',
  },
};

/**
 * Reasons outside the policy: the request itself, the credential, sign-in,
 * Limen's own endpoints and the upstream. Each says what was wrong and, where
 * the client can act on it, what to do; a machine client with a bad token is
 * told what is wrong with the token, not to sign in.
 */
const OTHER_REASONS: Readonly<Record<string, ReasonText>> = {
  // One meaning per request (src/http/canonical.ts, docs/security.md).
  'host-missing': { text: 'The request has no Host header, so it is not clear which site it is for.' },
  'host-invalid': { text: 'The Host header is not a valid host name and port.' },
  'host-duplicate': { text: 'The request names its host more than once, and the copies could be read differently.' },
  'host-mismatch': { text: 'The URL in the request line names another host than the Host header.' },
  'target-invalid': { text: 'The request line holds neither a path nor an absolute http(s) URL.' },
  'target-asterisk-form': { text: 'A request for * (the whole server) is not served.' },
  'target-fragment': { text: 'The request line contains a # fragment, which browsers never send to a server.' },
  'path-encoded-slash': { text: 'The path contains an encoded slash or backslash (%2F or %5C), which servers read differently.' },
  'path-backslash': { text: 'The path contains a backslash, which some servers read as a slash.' },
  'path-parameter': { text: 'The path contains a semicolon, which some servers treat as the start of hidden path parameters.' },
  'path-invalid-escape': { text: 'The path contains a percent sign that does not start a valid %-escape.' },
  'path-invalid-utf8': { text: 'The path contains %-escapes that do not spell valid UTF-8 text (such as an overlong encoding).' },
  'path-double-encoded': { text: 'The path contains an encoded %-escape, which a server that decodes twice would read differently.' },
  'path-control-character': { text: 'The path contains a control character (such as a NUL byte or a line break).' },
  'path-confusable-character': { text: 'The path contains a look-alike of a slash, backslash, dot, semicolon or percent sign (such as a fullwidth slash), which some servers convert to the real one.' },
  'path-invalid-character': { text: 'The path contains a character that must be %-encoded.' },
  'header-duplicate': { text: 'A credential header appears more than once, and the copies could be read differently.' },
  'header-name-underscore': { text: 'A header name contains an underscore, which some servers read as a dash, so it could pose as another header.' },
  'transfer-coding-unsupported': { text: 'The request body uses a transfer coding other than chunked (such as gzip), which Limen does not decode, so the application would get the coded bytes as if they were plain.' },
  'request-malformed': { text: 'The request is not valid HTTP/1.1 (for example a broken header line, chunk or body length).' },
  'request-headers-too-large': { text: 'The request headers are larger than this server accepts.' },
  'request-timeout': { text: 'The request did not arrive completely in time.' },
  'query-invalid': { text: 'A parameter in the query string has a value this endpoint does not accept.' },
  // Routing and the upstream.
  'route-not-found': { text: 'No route is configured for this host and path.' },
  'no-route': { text: 'No route is configured for this host and path, and it is not one of Limen\'s own endpoints.' },
  'endpoint-not-found': { text: 'There is no Limen page at this address.' },
  'websockets-not-allowed': { text: 'This route does not accept websocket connections.' },
  'upstream-unreachable': { text: 'The application behind this route could not be reached.' },
  'upstream-reset': { text: 'The application behind this route closed the connection before answering.' },
  'upstream-timeout': { text: 'The application behind this route did not answer in time.' },
  'upstream-bad-switch': { text: 'The application behind this route did not switch to the websocket protocol as asked.' },
  'store-unavailable': { text: 'Limen cannot reach its database right now; try again in a moment.' },
  'upgrade-with-body': { text: 'A request that asks to upgrade the connection carried a body, which could not be told apart from the tunnel.' },
  'connect-not-supported': { text: 'Limen routes requests to upstreams; it does not open CONNECT tunnels.' },
  'upgrade-protocol-not-supported': { text: 'Only the websocket protocol can be tunnelled, and only on its own.' },
  'websocket-handshake-not-get': { text: 'A websocket opening handshake must be a GET request.' },
  'websocket-key-invalid': { text: 'The websocket handshake key is missing or not 16 bytes of base64.' },
  'internal-error': { text: 'Something went wrong inside Limen; quote the request id when reporting it.' },
  // Credentials: session handles, service-account and route-scoped tokens.
  'token-malformed': { text: 'The token presented is not a well-formed signed token.' },
  'token-signature-invalid': { text: 'The token presented has a bad signature: it was not issued by this site or was altered.' },
  'token-expired': { text: 'The token presented has expired; get a new one.' },
  'token-not-yet-valid': { text: 'The token presented is not valid yet; check the clock of whoever issued it.' },
  'token-too-large': { text: 'The token presented is larger than any token this site issues.' },
  'token-claims-invalid': { text: 'The token presented is missing required details or has details that do not fit together.' },
  'token-audience-mismatch': { text: 'The token presented was issued for other hosts than this one.' },
  'token-revoked': { text: 'The token presented has been revoked.' },
  'token-unknown': { text: 'The token presented is signed by this site but names no account or session it knows.' },
  'token-invalid': { text: 'The access token presented is not valid here.' },
  'token-missing': { text: 'No access token was presented.' },
  'session-unknown': { text: 'Your session has ended or was signed out; sign in again.' },
  'session-mismatch': { text: 'The session handle presented does not belong to the session it names.' },
  'session-refresh-failed': { text: 'The identity provider would not renew your session; sign in again.' },
  'session-refreshed': { text: 'The session was renewed with the identity provider, which ends impersonation.' },
  'session-not-found': { text: 'No session has that id.' },
  'signed-out': { text: 'The session was signed out.' },
  'service-account-unknown': { text: 'The service account this token belongs to does not exist (it may have been deleted).' },
  'service-account-revoked': { text: 'The service account this token belongs to has been revoked.' },
  'service-account-expired': { text: 'The service account this token belongs to has expired.' },
  'service-account-user-unknown': { text: 'The directory user this service account acts as no longer exists.' },
  'service-account-user-inactive': { text: 'The directory user this service account acts as is deactivated.' },
  'namespace-unauthorized': { text: 'The credential is valid, but only for routes in another namespace.' },
  'credential-out-of-scope': { text: 'The credential is valid, but not for this route.' },
  'user-deprovisioned': { text: 'This account has been deactivated in the directory.' },
  'user-unknown': { text: 'No directory user has that id.' },
  // Sign-in and the hand-off to the route host.
  'idp-error': { text: 'The identity provider reported an error instead of signing you in.' },
  'idp-exchange-failed': { text: 'The identity provider did not confirm the sign-in when asked.' },
  'idp-not-configured': { text: 'No identity provider is configured, so nobody can sign in here.' },
  'idp-unavailable': { text: 'The identity provider could not be reached; try again shortly.' },
  'state-mismatch': { text: 'The sign-in answer does not belong to the sign-in this browser started; start again.' },
  'csrf-cookie-missing': { text: 'The browser did not send back the cookie of the sign-in it started (cookies blocked, or another browser); start again.' },
  'handoff-invalid': { text: 'The sign-in link is invalid, expired or meant for another site; start again from the page you wanted.' },
  'handoff-browser-mismatch': { text: 'This sign-in was started in another browser, or its cookies were cleared; start again from the page you wanted.' },
  'sign-out-replayed': { text: 'This sign-out link was already used.' },
  'sign-out-invalid': { text: 'The sign-out link is invalid or has expired; sign out again.' },
  'session-audience-mismatch': { text: 'The session handle presented was issued for another site than this one.' },
  'handoff-replayed': { text: 'The sign-in link was already used; start again from the page you wanted.' },
  'redirect-uri-invalid': { text: 'The address to return to after sign-in is missing or not allowed.' },
  // The user page, impersonation and the admin API.
  'form-invalid': { text: 'The form sent is incomplete or not one this page offers.' },
  'csrf-invalid': { text: 'The form could not be verified as coming from this page; reload it and try again.' },
  'csrf-origin-missing': { text: 'A change made with a sign-in cookie must say which page it came from (Origin), and this request did not; send it from Limen\'s own pages or with a bearer token.' },
  'csrf-origin-mismatch': { text: 'This change came from another site than Limen\'s own pages, so it was refused: a page elsewhere cannot act with your sign-in.' },
  'csrf-token-missing': { text: 'A change made with a sign-in cookie needs the page\'s anti-forgery token (the csrf form field or X-CSRF-Token header), and this request had none; reload the page and try again.' },
  'csrf-token-invalid': { text: 'The anti-forgery token does not belong to this session or site; reload the page and try again.' },
  'credential-refused': { text: 'The credential presented is no longer accepted here, although it was once valid.' },
  'actor-not-administrator': { text: 'The administrator who started this impersonation is no longer an administrator, so it has ended.' },
  'actor-deprovisioned': { text: 'The administrator who started this impersonation has been deactivated, so it has ended.' },
  'assertion-audience-unknown': { text: 'The identity assertion passed along was issued for a host that no route here serves, so it was not carried on.' },
  'assertion-carrier-not-service': { text: 'Only a service (a service account or route token) may pass along another request\'s identity assertion; it was not carried on.' },
  'assertion-issuer-mismatch': { text: 'The identity assertion passed along does not name the issuer this site writes for its host, so it was not carried on.' },
  'not-a-session': { text: 'Only a signed-in browser session can do this, not a token.' },
  'not-administrator': { text: 'Only administrators may do this.' },
  'already-impersonating': { text: 'You are already impersonating someone; stop first.' },
  'impersonating': { text: 'You are impersonating another user, so administrator pages are closed to you until you stop.' },
  'method-not-allowed': { text: 'This address does not accept this request method.' },
  'not-found': { text: 'Nothing with that id exists.' },
  'body-invalid': { text: 'The request body is not valid JSON of the expected shape.' },
  'body-too-large': { text: 'The request body is larger than this endpoint accepts.' },
  'unsupported-media-type': { text: 'The request body is not sent as JSON.' },
  'record-not-found': { text: 'No record of this type has that id.' },
  'record-type-invalid': { text: 'The record type is not a valid name.' },
  'as-user-inactive': { text: 'The directory user the service account should act as is deactivated.' },
  'as-user-unknown': { text: 'No directory user matches the one the service account should act as.' },
  'expiry-invalid': { text: 'The expiry given is not a valid time in the future.' },
  'namespace-unknown': { text: 'No namespace has that name.' },
  'role-unknown': { text: 'No role has that name.' },
  'user-exists': { text: 'A user with that id already exists.' },
  'user-invalid': { text: 'The user id given is not valid.' },
  'user-required': { text: 'A user id, or a directory user to act as, is required.' },
  // Carried assertions (X-Pomerium-Jwt-Assertion-For), dropped rather than refused.
  'assertion-expired': { text: 'The carried identity assertion has expired, so it was not passed on.' },
  'assertion-malformed': { text: 'The carried identity assertion is not a well-formed signed token, so it was not passed on.' },
  'assertion-signature-invalid': { text: 'The carried identity assertion has a bad signature, so it was not passed on.' },
  'assertion-too-large': { text: 'The carried identity assertion is too large, so it was not passed on.' },
  'assertion-unknown-key': { text: 'The carried identity assertion was signed with a key this site does not publish, so it was not passed on.' },
};

const UNKNOWN_REASON = 'A requirement of this route was not met.';

/** True when `reason` has its own words (the reason-words table test runs this over every code in the source). */
export function hasReasonWords(reason: string): boolean {
  return Object.hasOwn(REASONS, reason) || Object.hasOwn(OTHER_REASONS, reason);
}

/**
 * One sentence for a reason, fit for the 403 page. With `refusedByRule`, a
 * `*-ok` reason is phrased as the cause of a refusal (it made a deny rule
 * match). Never mentions the policy's values; unknown reasons get a generic
 * sentence.
 */
export function describeReason(reason: string, refusedByRule = false): string {
  const entry = Object.hasOwn(REASONS, reason) ? REASONS[reason] : Object.hasOwn(OTHER_REASONS, reason) ? OTHER_REASONS[reason] : undefined;
  if (entry === undefined) return UNKNOWN_REASON;
  return refusedByRule && entry.refused !== undefined ? entry.refused : entry.text;
}

/**
 * The sentences for a decision's reasons, in order, for the 403/401 page:
 * deny-rule matches are phrased as refusals.
 */
export function describeDecision(decision: Decision): string[] {
  const refused = decision.result === 'deny' && decision.rule !== undefined;
  if (decision.reasons.length === 0) {
    return decision.result === 'allow'
      ? ['Access is allowed.']
      : ['No rule of this route allows this request.'];
  }
  const out: string[] = [];
  for (const reason of decision.reasons) {
    const text = describeReason(reason, refused);
    if (!out.includes(text)) out.push(text);
  }
  return out;
}

/**
 * A multi-line account of a decision for `limen policy explain` and
 * debugging: the result, the deciding rule, each reason in words, and every
 * criterion evaluated with its outcome.
 */
export function explainDecision(decision: Decision): string {
  const lines: string[] = [];
  lines.push(`result: ${decision.result}`);
  lines.push(
    `rule:   ${decision.rule ?? (decision.result === 'deny' ? '(none: no allow rule matched, denied by default)' : '(none)')}`,
  );
  if (decision.reasons.length > 0) {
    lines.push('reasons:');
    const refused = decision.result === 'deny' && decision.rule !== undefined;
    for (const reason of decision.reasons) lines.push(`  ${reason}: ${describeReason(reason, refused)}`);
  } else {
    lines.push('reasons: (none)');
  }
  if (decision.trace.length > 0) {
    lines.push('criteria:');
    const pathWidth = Math.max(...decision.trace.map((c) => c.path.length));
    const nameWidth = Math.max(...decision.trace.map((c) => c.criterion.length));
    for (const c of decision.trace) {
      const mark = c.matched ? 'match' : c.reason === 'user-unauthenticated' ? 'unknown' : 'no match';
      lines.push(`  ${c.path.padEnd(pathWidth)}  ${c.criterion.padEnd(nameWidth)}  ${mark.padEnd(8)}  ${c.reason}`);
    }
  } else {
    lines.push('criteria: (none: the policy has no criteria)');
  }
  return lines.join('\n');
}
