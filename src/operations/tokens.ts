/** SCIM bearer tokens and route-scoped tokens, audited (`scim_token.create|revoke`, `route_token.revoke`). */
import {
  createScimToken as createScim, revokeRouteToken as revokeRoute, revokeScimToken as revokeScim, type ScimTokenRecord,
} from '../accounts/index.js';
import { actorName, type Actor } from './actor.js';
import { recordChange, type OperationContext } from './context.js';

/** Creates a SCIM token; the token is returned once and only its hash is stored. */
export async function createScimToken(ctx: OperationContext, actor: Actor, description: string): Promise<{ token: string; record: ScimTokenRecord }> {
  const r = await createScim(ctx.store, { description, createdBy: actorName(actor) }, ctx.now());
  recordChange(ctx, actor, 'scim_token.create', {}, { token_id: r.record.id, description: r.record.description });
  return r;
}

/** Revokes a SCIM token; undefined (and nothing recorded) when there is no such token. */
export async function revokeScimToken(ctx: OperationContext, actor: Actor, id: string): Promise<ScimTokenRecord | undefined> {
  const t = await revokeScim(ctx.store, id, ctx.now());
  if (t) recordChange(ctx, actor, 'scim_token.revoke', {}, { token_id: t.id });
  return t;
}

/** Revokes a route-scoped token by id (`jti`), kept until `expiresAt` (or for good). */
export async function revokeRouteToken(ctx: OperationContext, actor: Actor, jti: string, expiresAt: number | undefined): Promise<void> {
  await revokeRoute(ctx.store, jti, ctx.now(), expiresAt, actorName(actor));
  recordChange(ctx, actor, 'route_token.revoke', {}, { token_id: jti, expires_at: expiresAt === undefined ? null : new Date(expiresAt).toISOString() });
}
