/**
 * Service accounts and route-scoped tokens as plugged into the server
 * (issue 5): the two token resolvers (stored accounts, then route tokens),
 * the admin API under `/.pomerium/api/v1/service-accounts`, and the admin
 * role check. Every change through the API is an audit event naming the
 * administrator; the token appears only in the create response.
 */
import type { Caller } from '../authn/index.js';
import { fail, readJson, type AdminEndpoint, type RequestContext, type Services, type StartOptions } from '../server/index.js';
import { sendJson } from '../http/index.js';
import {
  createServiceAccount, getServiceAccount, isServiceAccountAdmin, listServiceAccounts, revokeServiceAccount,
  serviceAccountResolver, ServiceAccountError, type ServiceAccountView,
} from './service-accounts.js';
import { routeTokenResolver } from './route-tokens.js';

const BASE = '/.pomerium/api/v1/service-accounts';

/** Who made an admin change, for the audit log. */
function actorOf(c: Caller): string {
  if (c.kind === 'service_account') return `service_account:${c.policy.serviceAccountId ?? c.policy.sessionId}`;
  return c.policy.email || c.policy.user;
}

/** The audit fields of an account; never its token. */
function auditDetails(a: ServiceAccountView): Record<string, unknown> {
  return {
    service_account_id: a.id, namespace: a.namespace, expires_at: a.expires_at ?? null,
    roles: a.roles ?? [], acts_as_user: a.acts_as_user === true, via: 'api',
  };
}

const CREATE_KEYS = new Set(['user_id', 'as_user', 'namespace', 'description', 'expires_in', 'expires_at', 'roles']);

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ServiceAccountError('body-invalid', `"${key}" must be a string`);
  return v;
}

/** Reads the create body: `{user_id | as_user, namespace?, description?, expires_in? | expires_at?, roles?}`. */
function createInput(body: unknown, createdBy: string) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ServiceAccountError('body-invalid', 'expected a JSON object (content-type: application/json)');
  }
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => !CREATE_KEYS.has(k));
  if (unknown.length > 0) throw new ServiceAccountError('body-invalid', `unknown field "${unknown[0]!.slice(0, 40)}"; known: ${[...CREATE_KEYS].join(', ')}`);
  const expiresIn = optionalString(b, 'expires_in');
  const expiresAt = optionalString(b, 'expires_at');
  if (expiresIn !== undefined && expiresAt !== undefined) throw new ServiceAccountError('body-invalid', 'give expires_in or expires_at, not both');
  const roles = b.roles;
  if (roles !== undefined && (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string'))) {
    throw new ServiceAccountError('body-invalid', '"roles" must be a list of strings');
  }
  return {
    user: optionalString(b, 'user_id'),
    asUser: optionalString(b, 'as_user'),
    namespace: optionalString(b, 'namespace'),
    description: optionalString(b, 'description'),
    expiresIn: expiresIn ?? expiresAt,
    roles: roles as string[] | undefined,
    createdBy,
  };
}

async function guarded(ctx: RequestContext, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (e) {
    if (e instanceof ServiceAccountError) {
      fail(ctx, e.status, e.message, { reasons: [e.reason] });
      return;
    }
    throw e;
  }
}

/** The admin API for service accounts (JSON), under `/.pomerium/api/v1/service-accounts`. */
export function serviceAccountEndpoints(svc: Services): AdminEndpoint[] {
  const revoke = async (ctx: RequestContext, admin: Caller, params: Readonly<Record<string, string>>): Promise<void> => guarded(ctx, async () => {
    const now = svc.now();
    const { account, changed } = await revokeServiceAccount(svc.store, params.id ?? '', now, actorOf(admin));
    if (changed) {
      svc.audit.emit({ kind: 'service_account.revoke', requestId: ctx.requestId, userId: account.user_id, actor: actorOf(admin), details: auditDetails(account) });
    }
    sendJson(ctx.res, 200, { service_account: account });
  });
  return [
    {
      method: 'GET', path: BASE,
      handle: async (ctx) => {
        const ns = ctx.query.get('namespace') ?? undefined;
        const accounts = await listServiceAccounts(svc.store, svc.now(), ns === undefined ? {} : { namespace: ns });
        sendJson(ctx.res, 200, { service_accounts: accounts });
      },
    },
    {
      method: 'POST', path: BASE,
      handle: (ctx, admin) => guarded(ctx, async () => {
        const input = createInput(await readJson(ctx), actorOf(admin));
        const cfg = ctx.rt.config;
        const { account, token } = await createServiceAccount(input, { store: svc.store, sharedSecret: cfg.sharedSecret, namespaces: cfg.namespaces, now: svc.now() });
        svc.audit.emit({ kind: 'service_account.create', requestId: ctx.requestId, userId: account.user_id, actor: actorOf(admin), details: auditDetails(account) });
        // The only time the token exists outside the caller: never cached, never logged.
        sendJson(ctx.res, 201, { service_account: account, token }, { 'cache-control': 'no-store', pragma: 'no-cache' });
      }),
    },
    {
      method: 'GET', path: `${BASE}/:id`,
      handle: async (ctx, _admin, params) => {
        const account = await getServiceAccount(svc.store, params.id ?? '', svc.now());
        if (!account) { fail(ctx, 404, 'No service account has that id.', { reasons: ['not-found'] }); return; }
        sendJson(ctx.res, 200, { service_account: account });
      },
    },
    { method: 'DELETE', path: `${BASE}/:id`, handle: revoke },
    { method: 'POST', path: `${BASE}/:id/revoke`, handle: revoke },
  ];
}

/** Service accounts and route-scoped tokens, as plugged into the server (issue 5). */
export const serviceAccountExtension: Pick<StartOptions, 'tokenResolvers' | 'adminEndpoints' | 'isServiceAccountAdmin'> = {
  tokenResolvers: (svc, rt) => [
    serviceAccountResolver({
      store: svc.store,
      now: svc.now,
      namespaces: () => rt().config.namespaces,
      onAccessWriteFailed: (e) => svc.logger.warn('service account access time not recorded', { error: String((e as Error)?.message ?? e) }),
    }),
    routeTokenResolver({ store: svc.store, now: svc.now }),
  ],
  adminEndpoints: (svc) => serviceAccountEndpoints(svc),
  isServiceAccountAdmin,
};
