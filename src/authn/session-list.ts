/**
 * Sessions as administrators see and end them (the admin API, the console,
 * `limen sessions`): listed without claims or tokens, all or one user's,
 * and revoked one at a time or all of a user's at once. The next request
 * with a revoked session is refused.
 */
import type { Store } from '../store/index.js';
import { SESSION_TYPE, type SessionData } from './sessions.js';

/** A session as administrators see it: no claims, no tokens. */
export interface SessionSummary {
  readonly id: string;
  readonly userId: string;
  readonly email: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly refreshedAt: number | undefined;
  readonly source: string;
  /** Whom the session's administrator is impersonating, if anyone. */
  readonly impersonating: { readonly user: string; readonly email: string; readonly groups: readonly string[] } | undefined;
}

function summarise(s: SessionData): SessionSummary {
  return {
    id: s.id, userId: s.userId, email: s.email, issuedAt: s.issuedAt, expiresAt: s.expiresAt,
    refreshedAt: s.refreshedAt, source: s.source ?? 'session',
    impersonating: s.impersonation ? { user: s.impersonation.user, email: s.impersonation.email, groups: s.impersonation.groups } : undefined,
  };
}

/** Who `--user` means: a user id and/or an email (matched case-insensitively). */
export interface UserRef {
  readonly id?: string | undefined;
  readonly email?: string | undefined;
}

/** Whose sessions: a user id and/or an email (matched case-insensitively). */
export interface UserRef {
  readonly id?: string | undefined;
  readonly email?: string | undefined;
}

function sessionMatches(s: SessionData, who: UserRef): boolean {
  return (who.id !== undefined && s.userId === who.id) || (who.email !== undefined && who.email !== '' && s.email.toLowerCase() === who.email.toLowerCase());
}

/** Live sessions, all or one user's (by id or email), oldest first. */
export async function listSessions(store: Store, now: number, who?: UserRef): Promise<SessionSummary[]> {
  const all = await store.list<SessionData>(SESSION_TYPE, {}, now);
  return all.map((r) => r.data).filter((s) => who === undefined || sessionMatches(s, who)).sort((a, b) => a.issuedAt - b.issuedAt || (a.id < b.id ? -1 : 1)).map(summarise);
}

/** Ends one session; the next request with it is refused. Returns the session if it existed. */
export async function revokeSession(store: Store, id: string, now: number): Promise<SessionSummary | undefined> {
  const rec = await store.get<SessionData>(SESSION_TYPE, id, now);
  if (!rec) return undefined;
  await store.delete(SESSION_TYPE, id);
  return summarise(rec.data);
}

/** Ends every session of a user (by id or email); returns how many. */
export async function revokeUserSessions(store: Store, who: UserRef, now: number): Promise<number> {
  let n = 0;
  for (const s of await listSessions(store, now, who)) {
    if (await store.delete(SESSION_TYPE, s.id)) n++;
  }
  return n;
}

/** A session as the admin API and CLI print it: no claims, no tokens. */
export function sessionView(s: SessionSummary): Record<string, unknown> {
  return {
    id: s.id,
    user_id: s.userId,
    email: s.email,
    source: s.source,
    issued_at: new Date(s.issuedAt).toISOString(),
    expires_at: new Date(s.expiresAt).toISOString(),
    refreshed_at: s.refreshedAt === undefined ? null : new Date(s.refreshedAt).toISOString(),
    impersonating: s.impersonating ?? null,
  };
}
