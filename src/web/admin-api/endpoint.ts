/**
 * What every admin API endpoint shares: its shape, the one error wrapper
 * (a refused change becomes Limen's error response with its reason), the
 * bounded JSON body reader and the checks of its fields, and the context
 * the operations (src/operations) run in for this request.
 */
import type { Caller } from '../../authn/index.js';
import { DirectoryError, ServiceAccountError } from '../../accounts/index.js';
import { readJsonBody } from '../../http/index.js';
import type { OperationContext } from '../../operations/index.js';
import { fail, type RequestContext, type Services } from '../context.js';

/** One admin API endpoint under `/.pomerium/api/v1/` on the authenticate host. */
export interface AdminEndpoint {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path pattern with `:name` segments, e.g. `/.pomerium/api/v1/service-accounts/:id`. */
  readonly path: string;
  handle(ctx: RequestContext, admin: Caller, params: Readonly<Record<string, string>>): Promise<void>;
}

/** The admin API's path prefix. */
export const API = '/.pomerium/api/v1';

/** A malformed request body or query: 400 `body-invalid`. */
export class BodyError extends Error {}

function directoryReason(e: DirectoryError): string {
  switch (e.code) {
    case 'ERR_USER_EXISTS': return 'user-exists';
    case 'ERR_USER_NOT_FOUND': return 'user-not-found';
    case 'ERR_GROUP_EXISTS': return 'group-exists';
    case 'ERR_GROUP_NOT_FOUND': return 'group-not-found';
    default: return 'body-invalid';
  }
}

/**
 * An endpoint whose refusals (directory, service-account and body errors)
 * become Limen's error response with a stable reason; anything else is a
 * fault the request pipeline answers with 500.
 */
export function endpoint(method: AdminEndpoint['method'], path: string, handle: AdminEndpoint['handle']): AdminEndpoint {
  return {
    method, path,
    async handle(ctx, admin, params) {
      try {
        await handle(ctx, admin, params);
      } catch (e) {
        if (e instanceof DirectoryError) { fail(ctx, e.status, e.message, { reasons: [directoryReason(e)] }); return; }
        if (e instanceof ServiceAccountError) { fail(ctx, e.status, e.message, { reasons: [e.reason] }); return; }
        if (e instanceof BodyError) { fail(ctx, 400, e.message, { reasons: ['body-invalid'] }); return; }
        throw e;
      }
    },
  };
}

const MAX_JSON_BYTES = 256 * 1024;
/** As before the admin API had its own reader: any JSON media type, parameters or not. */
const ADMIN_JSON = /^application\/(?:[\w.+-]*\+)?json\b/i;

/** Reads a JSON request body (bounded); undefined when absent, too large or malformed. */
export async function readJson(ctx: RequestContext): Promise<unknown> {
  const r = await readJsonBody(ctx.req, MAX_JSON_BYTES, ADMIN_JSON);
  return r.ok ? r.value : undefined;
}

/** The body as a JSON object with only `known` fields; BodyError otherwise. */
export async function jsonObject(ctx: RequestContext, known: readonly string[]): Promise<Record<string, unknown>> {
  const b = await readJson(ctx);
  if (b === null || typeof b !== 'object' || Array.isArray(b)) throw new BodyError('expected a JSON object (content-type: application/json)');
  const extra = Object.keys(b).filter((k) => !known.includes(k));
  if (extra.length > 0) throw new BodyError(`unknown field "${extra[0]!.slice(0, 40)}"; known: ${known.join(', ')}`);
  return b as Record<string, unknown>;
}

export function optString(b: Record<string, unknown>, k: string): string | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new BodyError(`"${k}" must be a string`);
  return v;
}

export function optStrings(b: Record<string, unknown>, k: string): string[] | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new BodyError(`"${k}" must be a list of strings`);
  return v as string[];
}

export function optBool(b: Record<string, unknown>, k: string): boolean | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new BodyError(`"${k}" must be true or false`);
  return v;
}

/** The context the operations run in for one admin API request. */
export function operationContext(ctx: RequestContext, svc: Services = ctx.svc): OperationContext {
  return { store: svc.store, audit: svc.audit, now: svc.now, via: 'api', requestId: ctx.requestId };
}
