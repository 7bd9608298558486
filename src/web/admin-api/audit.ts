/** The admin API for the audit trail: `GET /.pomerium/api/v1/audit` with the filters of `limen audit query`. */
import { userRef } from '../../accounts/index.js';
import { auditEventJson, parseTimeBound, readAuditTrail } from '../../audit/index.js';
import { sendJson } from '../../http/index.js';
import type { Services } from '../context.js';
import { API, BodyError, endpoint, type AdminEndpoint } from './endpoint.js';

/** The audit endpoint. */
export function auditEndpoints(svc: Services): AdminEndpoint[] {
  return [
    endpoint('GET', `${API}/audit`, async (ctx) => {
      const q = ctx.query;
      const now = svc.now();
      const bound = (name: string): number | undefined => {
        const v = q.get(name);
        if (v === null) return undefined;
        const t = parseTimeBound(v, now);
        if (t === undefined) throw new BodyError(`${name}: expected a duration back from now (1h, 7d), an ISO-8601 time or ms since epoch`);
        return t;
      };
      const limitText = q.get('limit') ?? '1000';
      const limit = /^\d{1,6}$/.test(limitText) ? Number(limitText) : Number.NaN;
      if (!(limit >= 1 && limit <= 100_000)) throw new BodyError('limit: expected 1 to 100000');
      const user = q.get('user');
      const ref = user ? await userRef(svc.store, user) : undefined;
      // Events of this very moment may still be queued in the batch.
      await svc.audit.flush();
      const trail = await readAuditTrail(svc.store, {
        userIds: ref?.id !== undefined ? [ref.id] : undefined,
        email: ref?.email,
        route: q.get('route') ?? undefined,
        decision: q.get('decision') ?? undefined,
        kind: q.get('kind') ?? undefined,
        since: bound('since'),
        until: bound('until'),
      }, limit);
      sendJson(ctx.res, 200, { events: trail.events.map(auditEventJson), truncated: trail.truncated });
    }),
  ];
}
