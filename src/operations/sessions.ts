/** Ending sessions, audited (`session.revoke`): one session, or every session of a user. */
import { revokeSession as revokeOne, revokeUserSessions as revokeAll, type SessionSummary, type UserRef } from '../authn/index.js';
import type { Actor } from './actor.js';
import { recordChange, type OperationContext } from './context.js';

/** Ends one session; undefined (and nothing recorded) when there is no such live session. */
export async function revokeSession(ctx: OperationContext, actor: Actor, id: string): Promise<SessionSummary | undefined> {
  const s = await revokeOne(ctx.store, id, ctx.now());
  if (s) recordChange(ctx, actor, 'session.revoke', { id: s.userId, email: s.email }, { session_id: s.id, sessions_revoked: 1, scope: 'session' });
  return s;
}

/** Ends every session of a user (by id or email); returns how many. Recorded even when there were none. */
export async function revokeUserSessions(ctx: OperationContext, actor: Actor, who: UserRef): Promise<number> {
  const n = await revokeAll(ctx.store, who, ctx.now());
  recordChange(ctx, actor, 'session.revoke', who, { sessions_revoked: n, scope: 'user' });
  return n;
}
