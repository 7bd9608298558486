/**
 * The admin API for service accounts (JSON), under
 * `/.pomerium/api/v1/service-accounts`. Changes go through src/operations
 * (audited, naming the administrator); the token appears only in the create
 * response.
 */
import { getServiceAccount, listServiceAccounts } from '../../accounts/index.js';
import { sendJson } from '../../http/index.js';
import { createServiceAccount, revokeServiceAccount } from '../../operations/index.js';
import { fail, type Services } from '../context.js';
import { actorOf } from '../admins.js';
import { API, BodyError, endpoint, jsonObject, operationContext, optString, type AdminEndpoint } from './endpoint.js';

const BASE = `${API}/service-accounts`;
const CREATE_KEYS = ['user_id', 'as_user', 'namespace', 'description', 'expires_in', 'expires_at', 'roles'];

/** Reads the create body: `{user_id | as_user, namespace?, description?, expires_in? | expires_at?, roles?}`. */
function createInput(b: Record<string, unknown>) {
  const expiresIn = optString(b, 'expires_in');
  const expiresAt = optString(b, 'expires_at');
  if (expiresIn !== undefined && expiresAt !== undefined) throw new BodyError('give expires_in or expires_at, not both');
  const roles = b.roles;
  if (roles !== undefined && (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string'))) {
    throw new BodyError('"roles" must be a list of strings');
  }
  return {
    user: optString(b, 'user_id'),
    asUser: optString(b, 'as_user'),
    namespace: optString(b, 'namespace'),
    description: optString(b, 'description'),
    expiresIn: expiresIn ?? expiresAt,
    roles: roles as string[] | undefined,
  };
}

/** The service-account endpoints. */
export function serviceAccountEndpoints(svc: Services): AdminEndpoint[] {
  const revoke: AdminEndpoint['handle'] = async (ctx, admin, params) => {
    const { account } = await revokeServiceAccount(operationContext(ctx, svc), actorOf(admin), params.id ?? '');
    sendJson(ctx.res, 200, { service_account: account });
  };
  return [
    endpoint('GET', BASE, async (ctx) => {
      const ns = ctx.query.get('namespace') ?? undefined;
      const accounts = await listServiceAccounts(svc.store, svc.now(), ns === undefined ? {} : { namespace: ns });
      sendJson(ctx.res, 200, { service_accounts: accounts });
    }),
    endpoint('POST', BASE, async (ctx, admin) => {
      const input = createInput(await jsonObject(ctx, CREATE_KEYS));
      const { account, token } = await createServiceAccount(operationContext(ctx, svc), actorOf(admin), input, ctx.rt.config);
      // The only time the token exists outside the caller: never cached, never logged.
      sendJson(ctx.res, 201, { service_account: account, token }, { 'cache-control': 'no-store', pragma: 'no-cache' });
    }),
    endpoint('GET', `${BASE}/:id`, async (ctx, _admin, params) => {
      const account = await getServiceAccount(svc.store, params.id ?? '', svc.now());
      if (!account) { fail(ctx, 404, 'No service account has that id.', { reasons: ['not-found'] }); return; }
      sendJson(ctx.res, 200, { service_account: account });
    }),
    endpoint('DELETE', `${BASE}/:id`, revoke),
    endpoint('POST', `${BASE}/:id/revoke`, revoke),
  ];
}
