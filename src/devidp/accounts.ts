/**
 * Who a dev IdP sign-in becomes: any email is accepted, its subject is derived
 * from the email so it is stable across restarts, and its groups come from the
 * sign-in form, the configured users, or a default by domain.
 */

import { createHash } from 'node:crypto';

/** Shown on every page the development identity provider renders, and logged at start. */
export const DEV_IDP_NOTICE = 'Development identity provider — not for production use';

/** A user the caller configured ahead of time, keyed by email. */
export interface DevUser {
  name?: string;
  groups?: string[];
  sub?: string;
  /**
   * The `email_verified` claim: true by default; false mints an unverified
   * address (an IdP with self-registration); null leaves the claim out.
   */
  emailVerified?: boolean | null;
}

/** The identity a sign-in resolves to; these are the claims the IdP issues. */
export interface DevAccount {
  sub: string;
  email: string;
  name: string;
  groups: string[];
  /** `email_verified`; null: the claim is left out. */
  emailVerified: boolean | null;
}

const MAX_EMAIL_LENGTH = 254; // RFC 5321 §4.5.3.1.3 path limit minus the angle brackets
const MAX_GROUPS = 50;
const MAX_GROUP_LENGTH = 100;
// Deliberately loose: a dev IdP should accept whatever a tester types, but
// nothing that could break a header, a claim or an HTML attribute.
const LOCAL_PART = /^[^\s@<>"'`\\,;:()[\]\p{Cc}]+$/u;
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/; // RFC 1123 §2.1
const GROUP = /^[^\s,<>"'`\\\p{Cc}]+$/u;

/** Lower-cases and trims an email; `undefined` when it is not a plausible address. */
export function normalizeEmail(input: string): string | undefined {
  const email = input.trim().toLowerCase();
  if (email.length === 0 || email.length > MAX_EMAIL_LENGTH) return undefined;
  const at = email.lastIndexOf('@');
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (at <= 0 || !LOCAL_PART.test(local) || local.includes('..')) return undefined;
  if (!domain.split('.').every((label) => label.length <= 63 && DNS_LABEL.test(label))) return undefined;
  return email;
}

/** `dev-` + the first 16 characters of base64url(sha256(email)): stable per email, not reversible at a glance. */
export function subjectForEmail(email: string): string {
  return `dev-${createHash('sha256').update(email).digest('base64url').slice(0, 16)}`;
}

/** `example.com` addresses are staff in the quickstart; everyone else is just `everyone`. */
export function defaultGroups(email: string): string[] {
  return email.endsWith('@example.com') ? ['everyone', 'staff'] : ['everyone'];
}

/**
 * Parses the form's groups field (comma or whitespace separated). Returns the
 * de-duplicated list, or `undefined` when a name is unusable or there are too many.
 */
export function parseGroups(field: string): string[] | undefined {
  const groups = [...new Set(field.split(/[\s,]+/).filter((g) => g.length > 0))];
  if (groups.length > MAX_GROUPS) return undefined;
  for (const group of groups) {
    if (group.length > MAX_GROUP_LENGTH || !GROUP.test(group)) return undefined;
  }
  return groups;
}

/**
 * Resolves a sign-in to an account. Groups typed in the form win, then the
 * configured user's groups, then the domain default; `sub` and `name` come from
 * the configured user when given.
 */
export function resolveAccount(
  email: string,
  users: Readonly<Record<string, DevUser>>,
  formGroups: string[] = [],
): DevAccount {
  const configured = users[email];
  const groups = formGroups.length > 0 ? formGroups : configured?.groups ?? defaultGroups(email);
  return {
    sub: configured?.sub ?? subjectForEmail(email),
    email,
    name: configured?.name ?? email.slice(0, email.indexOf('@')),
    groups: [...groups],
    emailVerified: configured?.emailVerified === undefined ? true : configured.emailVerified,
  };
}
