/**
 * The admin API for external data (the `record` policy criterion), on the
 * authenticate host and only for administrators or admin service accounts
 * (server/admin.ts checks that before any handler here runs):
 *
 *   PUT    /.pomerium/api/v1/data/:type[?replace=true]   body: JSON array of records
 *   GET    /.pomerium/api/v1/data/:type[?limit=N]
 *   GET    /.pomerium/api/v1/data/:type/:id
 *   DELETE /.pomerium/api/v1/data/:type/:id
 *
 * Changes land in the store the server reads per request, so they apply to
 * the next request; each is an audit event (`data.load`, `data.delete`)
 * with counts, never with the records' contents.
 */
import type { Caller } from '../authn/index.js';
import { sendJson } from '../http/index.js';
import { fail, type AdminEndpoint, type RequestContext, type Services, type StartOptions } from '../server/index.js';
import { getRecord, isRecordType, loadRecords, RECORD_PREFIX } from './index.js';

const BASE = '/.pomerium/api/v1/data';

/** Largest body a data load accepts: scanner exports are bigger than other admin bodies. */
export const MAX_DATA_BYTES = 8 * 1024 * 1024;

/** Who made a change, for the audit log. */
function actorOf(c: Caller): string {
  if (c.kind === 'service_account') return `service_account:${c.policy.serviceAccountId ?? c.policy.sessionId}`;
  return c.policy.email || c.policy.user;
}

type Body = { value: unknown } | { status: number; reason: string; message: string };

/** Reads a JSON body up to `max` bytes; says why when it cannot (never quoting the body). */
async function readJsonBody(ctx: RequestContext, max: number): Promise<Body> {
  const type = ctx.req.headers['content-type'] ?? '';
  // Requiring JSON also keeps plain cross-site form posts out.
  if (!/^application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i.test(type)) {
    return { status: 415, reason: 'unsupported-media-type', message: 'Send the records as JSON (content-type: application/json).' };
  }
  const declared = Number(ctx.req.headers['content-length'] ?? '0');
  if (declared > max) return { status: 413, reason: 'body-too-large', message: `The body is larger than ${max} bytes; load the data in parts.` };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > max) return { status: 413, reason: 'body-too-large', message: `The body is larger than ${max} bytes; load the data in parts.` };
    chunks.push(chunk as Buffer);
  }
  try {
    return { value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
  } catch {
    return { status: 400, reason: 'body-invalid', message: 'The body is not valid JSON.' };
  }
}

function checkType(ctx: RequestContext, type: string | undefined): type is string {
  if (isRecordType(type)) return true;
  fail(ctx, 400, 'The record type must be letters, digits and ._:/- (at most 128, starting with a letter or digit).', { reasons: ['record-type-invalid'] });
  return false;
}

/** The admin API endpoints for external data records. */
export function dataEndpoints(svc: Services): AdminEndpoint[] {
  return [
    {
      method: 'PUT',
      path: `${BASE}/:type`,
      async handle(ctx, admin, params) {
        if (!checkType(ctx, params.type)) return;
        const replaceParam = ctx.query.get('replace');
        if (replaceParam !== null && replaceParam !== 'true' && replaceParam !== 'false') {
          fail(ctx, 400, 'The "replace" parameter must be true or false.', { reasons: ['query-invalid'] });
          return;
        }
        const replace = replaceParam === 'true';
        const body = await readJsonBody(ctx, MAX_DATA_BYTES);
        if (!('value' in body)) {
          fail(ctx, body.status, body.message, { reasons: [body.reason] });
          return;
        }
        let result;
        try {
          result = await loadRecords(svc.store, params.type, body.value, { replace });
        } catch (e) {
          if (e instanceof TypeError) {
            fail(ctx, 400, `${e.message}; nothing was loaded.`, { reasons: ['body-invalid'] });
            return;
          }
          throw e;
        }
        svc.audit.emit({
          kind: 'data.load', requestId: ctx.requestId, userId: admin.policy.user, email: admin.policy.email || undefined, actor: actorOf(admin),
          details: { type: result.type, loaded: result.loaded, removed: result.removed, replace, via: 'api' },
        });
        sendJson(ctx.res, 200, { type: result.type, loaded: result.loaded, removed: result.removed }, { 'x-request-id': ctx.requestId, 'cache-control': 'no-store' });
      },
    },
    {
      method: 'GET',
      path: `${BASE}/:type`,
      async handle(ctx, _admin, params) {
        if (!checkType(ctx, params.type)) return;
        const limitParam = ctx.query.get('limit');
        const limit = limitParam === null ? undefined : Number(limitParam);
        if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
          fail(ctx, 400, 'The "limit" parameter must be a positive whole number.', { reasons: ['query-invalid'] });
          return;
        }
        const rows = await svc.store.list(RECORD_PREFIX + params.type, limit === undefined ? {} : { limit });
        sendJson(ctx.res, 200, {
          type: params.type,
          records: rows.map((r) => r.data),
        }, { 'x-request-id': ctx.requestId, 'cache-control': 'no-store' });
      },
    },
    {
      method: 'GET',
      path: `${BASE}/:type/:id`,
      async handle(ctx, _admin, params) {
        if (!checkType(ctx, params.type)) return;
        const record = await getRecord(svc.store, params.type, params.id ?? '');
        if (!record) {
          fail(ctx, 404, 'No record of this type has that id.', { reasons: ['record-not-found'] });
          return;
        }
        sendJson(ctx.res, 200, { type: params.type, record }, { 'x-request-id': ctx.requestId, 'cache-control': 'no-store' });
      },
    },
    {
      method: 'DELETE',
      path: `${BASE}/:type/:id`,
      async handle(ctx, admin, params) {
        if (!checkType(ctx, params.type)) return;
        const id = params.id ?? '';
        const removed = await svc.store.delete(RECORD_PREFIX + params.type, id);
        if (!removed) {
          fail(ctx, 404, 'No record of this type has that id.', { reasons: ['record-not-found'] });
          return;
        }
        svc.audit.emit({
          kind: 'data.delete', requestId: ctx.requestId, userId: admin.policy.user, email: admin.policy.email || undefined, actor: actorOf(admin),
          details: { type: params.type, id, removed: 1, via: 'api' },
        });
        sendJson(ctx.res, 200, { type: params.type, id, removed: 1 }, { 'x-request-id': ctx.requestId, 'cache-control': 'no-store' });
      },
    },
  ];
}

/** The server extension that serves the data admin API (see src/cli/extensions.ts). */
export const dataExtension: Pick<StartOptions, 'adminEndpoints'> = {
  adminEndpoints: (svc) => dataEndpoints(svc),
};
