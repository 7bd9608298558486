/** The admin API for sessions: list (all or one user's), revoke one, revoke all of a user's. */
import { userRef } from '../../accounts/index.js';
import { listSessions, sessionView } from '../../authn/index.js';
import { sendJson } from '../../http/index.js';
import { revokeSession, revokeUserSessions } from '../../operations/index.js';
import { fail, type Services } from '../context.js';
import { actorOf } from '../admins.js';
import { API, BodyError, endpoint, operationContext, type AdminEndpoint } from './endpoint.js';

/** The session endpoints. */
export function sessionEndpoints(svc: Services): AdminEndpoint[] {
  const store = svc.store;
  return [
    endpoint('GET', `${API}/sessions`, async (ctx) => {
      const who = ctx.query.get('user');
      const sessions = await listSessions(store, svc.now(), who ? await userRef(store, who) : undefined);
      sendJson(ctx.res, 200, { sessions: sessions.map(sessionView) });
    }),
    endpoint('DELETE', `${API}/sessions`, async (ctx, admin) => {
      const who = ctx.query.get('user');
      if (!who) throw new BodyError('give ?user=EMAIL_OR_ID to revoke every session of a user, or DELETE /sessions/ID');
      const n = await revokeUserSessions(operationContext(ctx, svc), actorOf(admin), await userRef(store, who));
      sendJson(ctx.res, 200, { revoked: n });
    }),
    endpoint('DELETE', `${API}/sessions/:id`, async (ctx, admin, p) => {
      const s = await revokeSession(operationContext(ctx, svc), actorOf(admin), p.id!);
      if (!s) { fail(ctx, 404, 'No such session.', { reasons: ['session-not-found'] }); return; }
      sendJson(ctx.res, 200, { revoked: 1, session_id: s.id });
    }),
  ];
}
