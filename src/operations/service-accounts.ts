/** Creating and revoking service accounts, audited (`service_account.create`, `service_account.revoke`). */
import type { NamespaceConfig } from '../config/index.js';
import {
  createServiceAccount as createAccount, revokeServiceAccount as revokeAccount,
  type CreateServiceAccountInput, type ServiceAccountView,
} from '../accounts/index.js';
import { actorName, type Actor } from './actor.js';
import { recordChange, type OperationContext } from './context.js';

/** The audit fields of an account; never its token. */
function accountDetails(a: ServiceAccountView): Record<string, unknown> {
  return {
    service_account_id: a.id, namespace: a.namespace, expires_at: a.expires_at ?? null,
    roles: a.roles ?? [], acts_as_user: a.acts_as_user === true,
  };
}

/** What creating an account needs from the config: the key its tokens are signed with and the declared namespaces. */
export interface ServiceAccountConfig {
  readonly sharedSecret: Uint8Array;
  readonly namespaces: readonly NamespaceConfig[];
}

/**
 * Creates a service account; the token is returned once and never stored
 * or logged. Throws ServiceAccountError for input the account cannot take.
 */
export async function createServiceAccount(
  ctx: OperationContext, actor: Actor, input: Omit<CreateServiceAccountInput, 'createdBy'>, config: ServiceAccountConfig,
): Promise<{ account: ServiceAccountView; token: string }> {
  const r = await createAccount({ ...input, createdBy: actorName(actor) }, {
    store: ctx.store, sharedSecret: config.sharedSecret, namespaces: config.namespaces, now: ctx.now(),
  });
  recordChange(ctx, actor, 'service_account.create', { id: r.account.user_id }, accountDetails(r.account));
  return r;
}

/** Revokes a service account; revoking one twice changes (and records) nothing. */
export async function revokeServiceAccount(ctx: OperationContext, actor: Actor, id: string): Promise<{ account: ServiceAccountView; changed: boolean }> {
  const r = await revokeAccount(ctx.store, id, ctx.now(), actorName(actor));
  if (r.changed) recordChange(ctx, actor, 'service_account.revoke', { id: r.account.user_id }, accountDetails(r.account));
  return r;
}
