/**
 * The admin API for external data (the `record` policy criterion):
 *
 *   PUT    /.pomerium/api/v1/data/:type[?replace=true]   body: JSON array of records
 *   GET    /.pomerium/api/v1/data/:type[?limit=N]
 *   GET    /.pomerium/api/v1/data/:type/:id
 *   DELETE /.pomerium/api/v1/data/:type/:id
 *
 * Changes land in the store the server reads per request, so they apply to
 * the next request; each is an audit event (`data.load`, `data.delete`)
 * with counts, never with the records' contents (src/operations).
 */
import { readJsonBody, sendJson } from '../../http/index.js';
import { deleteRecord, loadRecords } from '../../operations/index.js';
import { getRecord, isRecordType, RECORD_PREFIX } from '../../records/index.js';
import { fail, type RequestContext, type Services } from '../context.js';
import { actorOf } from '../admins.js';
import { API, endpoint, operationContext, type AdminEndpoint } from './endpoint.js';

const BASE = `${API}/data`;

/** Largest body a data load accepts: scanner exports are bigger than other admin bodies. */
export const MAX_DATA_BYTES = 8 * 1024 * 1024;

const NO_STORE = { 'cache-control': 'no-store' };

function checkType(ctx: RequestContext, type: string | undefined): type is string {
  if (isRecordType(type)) return true;
  fail(ctx, 400, 'The record type must be letters, digits and ._:/- (at most 128, starting with a letter or digit).', { reasons: ['record-type-invalid'] });
  return false;
}

/** The data endpoints. */
export function dataEndpoints(svc: Services): AdminEndpoint[] {
  return [
    endpoint('PUT', `${BASE}/:type`, async (ctx, admin, params) => {
      if (!checkType(ctx, params.type)) return;
      const replaceParam = ctx.query.get('replace');
      if (replaceParam !== null && replaceParam !== 'true' && replaceParam !== 'false') {
        fail(ctx, 400, 'The "replace" parameter must be true or false.', { reasons: ['query-invalid'] });
        return;
      }
      const replace = replaceParam === 'true';
      // Requiring JSON also keeps plain cross-site form posts out.
      const body = await readJsonBody(ctx.req, MAX_DATA_BYTES);
      if (!body.ok) {
        if (body.refused === 'unsupported-media-type') fail(ctx, 415, 'Send the records as JSON (content-type: application/json).', { reasons: ['unsupported-media-type'] });
        else if (body.refused === 'body-too-large') fail(ctx, 413, `The body is larger than ${MAX_DATA_BYTES} bytes; load the data in parts.`, { reasons: ['body-too-large'] });
        else fail(ctx, 400, 'The body is not valid JSON.', { reasons: ['body-invalid'] });
        return;
      }
      let result;
      try {
        result = await loadRecords(operationContext(ctx, svc), actorOf(admin), params.type, body.value, replace);
      } catch (e) {
        if (e instanceof TypeError) {
          fail(ctx, 400, `${e.message}; nothing was loaded.`, { reasons: ['body-invalid'] });
          return;
        }
        throw e;
      }
      sendJson(ctx.res, 200, { type: result.type, loaded: result.loaded, removed: result.removed }, { 'x-request-id': ctx.requestId, ...NO_STORE });
    }),
    endpoint('GET', `${BASE}/:type`, async (ctx, _admin, params) => {
      if (!checkType(ctx, params.type)) return;
      const limitParam = ctx.query.get('limit');
      const limit = limitParam === null ? undefined : Number(limitParam);
      if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
        fail(ctx, 400, 'The "limit" parameter must be a positive whole number.', { reasons: ['query-invalid'] });
        return;
      }
      const rows = await svc.store.list(RECORD_PREFIX + params.type, limit === undefined ? {} : { limit });
      sendJson(ctx.res, 200, { type: params.type, records: rows.map((r) => r.data) }, { 'x-request-id': ctx.requestId, ...NO_STORE });
    }),
    endpoint('GET', `${BASE}/:type/:id`, async (ctx, _admin, params) => {
      if (!checkType(ctx, params.type)) return;
      const record = await getRecord(svc.store, params.type, params.id ?? '');
      if (!record) {
        fail(ctx, 404, 'No record of this type has that id.', { reasons: ['record-not-found'] });
        return;
      }
      sendJson(ctx.res, 200, { type: params.type, record }, { 'x-request-id': ctx.requestId, ...NO_STORE });
    }),
    endpoint('DELETE', `${BASE}/:type/:id`, async (ctx, admin, params) => {
      if (!checkType(ctx, params.type)) return;
      const id = params.id ?? '';
      if (!await deleteRecord(operationContext(ctx, svc), actorOf(admin), params.type, id)) {
        fail(ctx, 404, 'No record of this type has that id.', { reasons: ['record-not-found'] });
        return;
      }
      sendJson(ctx.res, 200, { type: params.type, id, removed: 1 }, { 'x-request-id': ctx.requestId, ...NO_STORE });
    }),
  ];
}
