/**
 * The SCIM 2.0 protocol (RFC 7644) as Limen speaks it: schemas, errors,
 * responses, paging, the `eq` filter, bounded JSON bodies, resource
 * metadata and PATCH operations. The resources are in users.ts and
 * groups.ts; routing and authentication in index.ts.
 */
import type { RequestContext } from '../context.js';
import type { StoredRecord, Store } from '../../store/index.js';
import type { AuditSink } from '../../audit/index.js';
import { DirectoryError } from '../../accounts/index.js';
import { readJsonBody } from '../../http/index.js';

export const SCHEMA = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  list: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  patch: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  error: 'urn:ietf:params:scim:api:messages:2.0:Error',
  spc: 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
  resourceType: 'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
} as const;

export const SCIM_CONTENT_TYPE = 'application/scim+json';
export const MAX_COUNT = 1000;
const DEFAULT_COUNT = 100;

/** A SCIM protocol error (RFC 7644 §3.12): HTTP status and optional `scimType`. */
export class ScimError extends Error {
  constructor(readonly status: number, readonly scimType: string | undefined, readonly detail: string) {
    super(detail);
  }
}

export function scimSend(ctx: RequestContext, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  ctx.res.writeHead(status, {
    'content-type': SCIM_CONTENT_TYPE,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-request-id': ctx.requestId,
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : text);
}

export function scimError(ctx: RequestContext, e: ScimError, headers?: Record<string, string>): void {
  scimSend(ctx, e.status, {
    schemas: [SCHEMA.error],
    status: String(e.status),
    ...(e.scimType !== undefined ? { scimType: e.scimType } : {}),
    detail: e.detail,
  }, headers);
}

export function fromDirectoryError(e: DirectoryError): ScimError {
  switch (e.code) {
    case 'ERR_USER_EXISTS': case 'ERR_GROUP_EXISTS': return new ScimError(409, 'uniqueness', e.message);
    case 'ERR_USER_NOT_FOUND': case 'ERR_GROUP_NOT_FOUND':
      // A missing member named in a request body is a bad value, not a missing resource.
      return e.field === 'members' || e.field === 'user' ? new ScimError(400, 'invalidValue', e.message) : new ScimError(404, undefined, e.message);
    default: return new ScimError(400, 'invalidValue', e.message);
  }
}

export interface Scope {
  readonly ctx: RequestContext;
  readonly store: Store;
  readonly audit: AuditSink;
  readonly now: number;
  /** `scim:<token id>`, the actor of audit events. */
  readonly actor: string;
  /** `https://auth.example.com/scim/v2` */
  readonly base: string;
}

export function listResponse(resources: readonly unknown[], startIndex: number, total: number): Record<string, unknown> {
  return { schemas: [SCHEMA.list], totalResults: total, startIndex, itemsPerPage: resources.length, Resources: resources };
}

/** `startIndex` (1-based) and `count` (RFC 7644 §3.4.2.4). */
export function paging(s: Scope): { start: number; count: number } {
  const num = (name: string, dflt: number): number => {
    const v = s.ctx.query.get(name);
    if (v === null || v === '') return dflt;
    if (!/^-?\d{1,9}$/.test(v)) throw new ScimError(400, 'invalidValue', `${name} must be an integer`);
    return Number(v);
  };
  return { start: Math.max(1, num('startIndex', 1)), count: Math.min(MAX_COUNT, Math.max(0, num('count', DEFAULT_COUNT))) };
}

/** The one filter form SCIM clients use to find a resource: `attr eq "value"`. */
export function parseScimFilter(text: string, allowed: readonly string[]): { attr: string; value: string } {
  const m = /^\s*([A-Za-z][\w.:]*)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i.exec(text);
  if (!m) throw new ScimError(400, 'invalidFilter', 'Only filters of the form `attribute eq "value"` are supported.');
  const attr = allowed.find((a) => a.toLowerCase() === m[1]!.toLowerCase());
  if (!attr) throw new ScimError(400, 'invalidFilter', `Filtering on ${m[1]} is not supported; use one of ${allowed.join(', ')}.`);
  let value: string;
  try {
    value = JSON.parse(`"${m[2]!}"`) as string;
  } catch {
    throw new ScimError(400, 'invalidFilter', 'The filter value is not a valid string.');
  }
  return { attr, value };
}

const MAX_BODY_BYTES = 1024 * 1024;
const SCIM_JSON = /^application\/(?:scim\+)?json\b/i;

/** The request's JSON object (`application/scim+json` or `application/json`), bounded. */
export async function readBody(s: Scope): Promise<Record<string, unknown>> {
  const r = await readJsonBody(s.ctx.req, MAX_BODY_BYTES, SCIM_JSON);
  if (!r.ok) {
    if (r.refused === 'unsupported-media-type') throw new ScimError(400, 'invalidSyntax', 'Send a JSON body with content type application/scim+json.');
    if (r.refused === 'body-too-large') throw new ScimError(413, 'tooMany', `The body is larger than ${MAX_BODY_BYTES} bytes.`);
    throw new ScimError(400, 'invalidSyntax', 'The body is not valid JSON.');
  }
  const body = r.value;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ScimError(400, 'invalidSyntax', 'Expected a JSON object.');
  }
  return body as Record<string, unknown>;
}

export function meta(s: Scope, type: 'User' | 'Group', id: string, created: number | undefined, rec: Pick<StoredRecord, 'modifiedAt' | 'version'> | undefined): Record<string, unknown> {
  const modified = rec?.modifiedAt ?? s.now;
  return {
    resourceType: type,
    created: new Date(created ?? modified).toISOString(),
    lastModified: new Date(modified).toISOString(),
    location: `${s.base}/${type}s/${encodeURIComponent(id)}`,
    ...(rec ? { version: `W/"${rec.version}"` } : {}),
  };
}

export function str(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ScimError(400, 'invalidValue', `${field} must be a string`);
  return v;
}

export function bool(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  // Azure AD sends "True"/"False" strings in PATCH values.
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw new ScimError(400, 'invalidValue', `${field} must be a boolean`);
}

export interface PatchOp { op: 'add' | 'replace' | 'remove'; path: string | undefined; value: unknown }

export function patchOps(body: Record<string, unknown>): PatchOp[] {
  const schemas = body.schemas;
  if (Array.isArray(schemas) && !schemas.includes(SCHEMA.patch)) throw new ScimError(400, 'invalidSyntax', `A PATCH body has schemas ["${SCHEMA.patch}"].`);
  const ops = body.Operations ?? body.operations;
  if (!Array.isArray(ops) || ops.length === 0) throw new ScimError(400, 'invalidSyntax', 'A PATCH body needs a non-empty Operations list.');
  if (ops.length > 1000) throw new ScimError(400, 'tooMany', 'At most 1000 operations per PATCH.');
  return ops.map((o: unknown) => {
    if (o === null || typeof o !== 'object') throw new ScimError(400, 'invalidSyntax', 'Each operation is an object.');
    const r = o as Record<string, unknown>;
    const op = typeof r.op === 'string' ? r.op.toLowerCase() : '';
    if (op !== 'add' && op !== 'replace' && op !== 'remove') throw new ScimError(400, 'invalidSyntax', 'op must be add, replace or remove.');
    const path = r.path === undefined || r.path === null || r.path === '' ? undefined : str(r.path, 'path');
    if (op === 'remove' && path === undefined) throw new ScimError(400, 'noTarget', 'remove needs a path.');
    return { op, path, value: r.value };
  });
}

