/**
 * The admin API under `/.pomerium/api/v1/` on the authenticate host: every
 * endpoint behind the admin gate (web/admin-gate.ts). Reads call the domain
 * folders; changes call src/operations, which audits them.
 */
import type { Services } from '../context.js';
import { auditEndpoints } from './audit.js';
import { dataEndpoints } from './data.js';
import { groupEndpoints, userEndpoints } from './directory.js';
import { serviceAccountEndpoints } from './service-accounts.js';
import { sessionEndpoints } from './sessions.js';
import type { AdminEndpoint } from './endpoint.js';

export { API, BodyError, endpoint, jsonObject, operationContext, optBool, optString, optStrings, readJson } from './endpoint.js';
export type { AdminEndpoint } from './endpoint.js';
export { MAX_DATA_BYTES } from './data.js';

const built = new WeakMap<Services, readonly AdminEndpoint[]>();

/** Every admin API endpoint over these services, in match order (the CSRF token endpoint is the gate's own); built once. */
export function adminEndpoints(svc: Services): readonly AdminEndpoint[] {
  let list = built.get(svc);
  if (!list) {
    list = buildEndpoints(svc);
    built.set(svc, list);
  }
  return list;
}

function buildEndpoints(svc: Services): AdminEndpoint[] {
  return [
    ...serviceAccountEndpoints(svc),
    ...userEndpoints(svc), ...groupEndpoints(svc), ...sessionEndpoints(svc), ...auditEndpoints(svc),
    ...dataEndpoints(svc),
  ];
}
