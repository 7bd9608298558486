/**
 * SCIM 2.0 provisioning (RFC 7643 resources, RFC 7644 protocol) of the
 * directory, served on the authenticate host under `/scim/v2/`: Users and
 * Groups with create, replace, patch, delete, list and `eq` filters, so an
 * identity provider can add, change and deprovision users. A deactivated
 * (`active: false`) or deleted user loses access on the next request: the
 * directory enricher refuses them, and delete also ends their sessions.
 *
 * Clients authenticate with `Authorization: Bearer <token>` (a SCIM token,
 * accounts/scim-tokens.ts). Every change is an audit event with actor
 * `scim:<token id>`.
 */
import { DirectoryError, verifyScimToken } from '../../accounts/index.js';
import type { RequestContext } from '../context.js';
import { fromDirectoryError, listResponse, MAX_COUNT, SCHEMA, ScimError, scimError, scimSend, type Scope } from './protocol.js';
import { createUser, getUser, listUsers, patchUser, removeUser, replaceUser } from './users.js';
import { createGroupScim, getGroupScim, listGroupsScim, patchGroupScim, removeGroupScim, replaceGroupScim } from './groups.js';

export { SCIM_CONTENT_TYPE, parseScimFilter } from './protocol.js';

/**
 * Serves one request under `/scim/v2/` on the authenticate host. Every
 * response is `application/scim+json`; errors use the SCIM error schema.
 */
export async function handleScim(ctx: RequestContext): Promise<void> {
  const now = ctx.svc.now();
  const auth = ctx.req.headers.authorization ?? '';
  const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
  const token = m ? await verifyScimToken(ctx.svc.store, m[1]!, now) : undefined;
  if (!token) {
    ctx.svc.audit.emit({ kind: 'scim_denied', requestId: ctx.requestId, details: { reason: m ? 'token-invalid' : 'token-missing', method: ctx.req.method, path: ctx.pathname, ip: ctx.ip } });
    scimError(ctx, new ScimError(401, undefined, 'A valid SCIM bearer token is required (limen scim token create).'), { 'www-authenticate': 'Bearer realm="limen-scim"' });
    return;
  }
  const scope: Scope = {
    ctx, store: ctx.svc.store, audit: ctx.svc.audit, now, actor: `scim:${token.id}`,
    base: `${ctx.proto}://${ctx.hostHeader}/scim/v2`,
  };
  try {
    await route(scope);
  } catch (e) {
    if (e instanceof ScimError) { scimError(ctx, e); return; }
    if (e instanceof DirectoryError) { scimError(ctx, fromDirectoryError(e)); return; }
    throw e;
  }
}

async function route(s: Scope): Promise<void> {
  const method = s.ctx.req.method ?? 'GET';
  const rest = s.ctx.pathname.slice('/scim/v2'.length).replace(/\/+$/, '');
  const [, resource = '', rawId, extra] = rest.split('/');
  if (extra !== undefined) throw new ScimError(404, undefined, 'No such SCIM endpoint.');
  let id: string | undefined;
  try {
    id = rawId === undefined ? undefined : decodeURIComponent(rawId);
  } catch {
    throw new ScimError(404, undefined, 'No such resource.');
  }
  const allow = (methods: string[]): void => {
    if (!methods.includes(method)) throw new ScimError(405, undefined, `Use ${methods.join(', ')} here.`);
  };
  switch (resource) {
    case 'ServiceProviderConfig':
      allow(['GET']);
      return scimSend(s.ctx, 200, serviceProviderConfig(s));
    case 'ResourceTypes':
      allow(['GET']);
      return scimSend(s.ctx, 200, listResponse(resourceTypes(s), 1, 2));
    case 'Users':
      if (id === undefined) {
        allow(['GET', 'POST']);
        return method === 'GET' ? listUsers(s) : createUser(s);
      }
      allow(['GET', 'PUT', 'PATCH', 'DELETE']);
      if (method === 'GET') return getUser(s, id);
      if (method === 'PUT') return replaceUser(s, id);
      if (method === 'PATCH') return patchUser(s, id);
      return removeUser(s, id);
    case 'Groups':
      if (id === undefined) {
        allow(['GET', 'POST']);
        return method === 'GET' ? listGroupsScim(s) : createGroupScim(s);
      }
      allow(['GET', 'PUT', 'PATCH', 'DELETE']);
      if (method === 'GET') return getGroupScim(s, id);
      if (method === 'PUT') return replaceGroupScim(s, id);
      if (method === 'PATCH') return patchGroupScim(s, id);
      return removeGroupScim(s, id);
    default:
      throw new ScimError(404, undefined, 'No such SCIM endpoint.');
  }
}

function serviceProviderConfig(s: Scope): Record<string, unknown> {
  return {
    schemas: [SCHEMA.spc],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_COUNT },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [{ type: 'oauthbearertoken', name: 'Bearer token', description: 'A token from `limen scim token create`.' }],
    meta: { resourceType: 'ServiceProviderConfig', location: `${s.base}/ServiceProviderConfig` },
  };
}

function resourceTypes(s: Scope): Record<string, unknown>[] {
  return [
    { schemas: [SCHEMA.resourceType], id: 'User', name: 'User', endpoint: '/Users', schema: SCHEMA.user, meta: { resourceType: 'ResourceType', location: `${s.base}/ResourceTypes/User` } },
    { schemas: [SCHEMA.resourceType], id: 'Group', name: 'Group', endpoint: '/Groups', schema: SCHEMA.group, meta: { resourceType: 'ResourceType', location: `${s.base}/ResourceTypes/Group` } },
  ];
}

