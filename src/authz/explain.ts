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

const UNKNOWN_REASON = 'A requirement of this route was not met.';

/**
 * One sentence for a reason, fit for the 403 page. With `refusedByRule`, a
 * `*-ok` reason is phrased as the cause of a refusal (it made a deny rule
 * match). Never mentions the policy's values; unknown reasons get a generic
 * sentence.
 */
export function describeReason(reason: string, refusedByRule = false): string {
  const entry = Object.hasOwn(REASONS, reason) ? REASONS[reason] : undefined;
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
