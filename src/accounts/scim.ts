/**
 * SCIM 2.0 provisioning (RFC 7643 resources, RFC 7644 protocol) of the
 * directory, served on the authenticate host under `/scim/v2/`: Users and
 * Groups with create, replace, patch, delete, list and `eq` filters, so an
 * identity provider can add, change and deprovision users. A deactivated
 * (`active: false`) or deleted user loses access on the next request: the
 * directory enricher refuses them, and delete also ends their sessions.
 *
 * Clients authenticate with `Authorization: Bearer <token>`; tokens come
 * from `limen scim token create`, are shown once, and only their SHA-256 is
 * stored (they are 256-bit random, so a fast hash is enough).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RequestContext } from '../server/index.js';
import type { Store, StoredRecord } from '../store/index.js';
import type { AuditKind, AuditSink } from '../audit/index.js';
import {
  DirectoryError, GROUP_TYPE, USER_TYPE, checkEmail, createDirectoryUser, createGroup, deleteDirectoryUser, deleteGroup,
  getDirectoryUser, getGroup, groupMembers, listDirectoryUserRecords, listGroupRecords,
  replaceMembers, setMembership, updateDirectoryUser, updateGroup, type DirectoryGroup, type DirectoryUser, type UserChanges,
} from './directory.js';

export const SCIM_TOKEN_TYPE = 'scim_token';
/**
 * When a SCIM token was last used, kept apart from the token record (as
 * for service accounts): the store has no compare-and-swap, so a request
 * writing `lastUsedAt` into the token record could put back a copy read
 * before a revocation and so undo it. Requests never write the token
 * record; only create and revoke do.
 */
export const SCIM_TOKEN_USE_TYPE = 'scim_token_use';
const TOKEN_PREFIX = 'lscim';

/** A stored SCIM bearer token: never the token itself. */
export interface ScimTokenRecord {
  readonly id: string;
  readonly description: string;
  /** Hex SHA-256 of the whole token. */
  readonly hash: string;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly lastUsedAt?: number | undefined;
  readonly revokedAt?: number | undefined;
}

/** Creates a token; the returned `token` is shown once and never stored. */
export async function createScimToken(store: Store, o: { description: string; createdBy: string }, now: number): Promise<{ token: string; record: ScimTokenRecord }> {
  const id = randomBytes(8).toString('hex');
  const token = `${TOKEN_PREFIX}.${id}.${randomBytes(32).toString('base64url')}`;
  const record: ScimTokenRecord = { id, description: o.description.slice(0, 256), hash: sha256(token), createdAt: now, createdBy: o.createdBy };
  await store.put(SCIM_TOKEN_TYPE, id, record, {}, now);
  return { token, record };
}

/** Every token, with when it was last used. */
export async function listScimTokens(store: Store): Promise<ScimTokenRecord[]> {
  const [tokens, uses] = await Promise.all([store.list<ScimTokenRecord>(SCIM_TOKEN_TYPE), store.list<{ lastUsedAt?: unknown }>(SCIM_TOKEN_USE_TYPE)]);
  const used = new Map(uses.map((u) => [u.id, typeof u.data.lastUsedAt === 'number' ? u.data.lastUsedAt : undefined]));
  return tokens.map((r) => {
    // Records written before uses were kept apart may carry their own lastUsedAt.
    const last = Math.max(used.get(r.id) ?? -Infinity, r.data.lastUsedAt ?? -Infinity);
    return Number.isFinite(last) ? { ...r.data, lastUsedAt: last } : r.data;
  });
}

/** Revokes a token (kept, marked, for the record); undefined when unknown. */
export async function revokeScimToken(store: Store, id: string, now: number): Promise<ScimTokenRecord | undefined> {
  const rec = await store.get<ScimTokenRecord>(SCIM_TOKEN_TYPE, id);
  if (!rec) return undefined;
  if (rec.data.revokedAt !== undefined) return rec.data;
  const revoked = { ...rec.data, revokedAt: now };
  await store.put(SCIM_TOKEN_TYPE, id, revoked, {}, now);
  return revoked;
}

const LAST_USED_GRANULARITY_MS = 60_000;

/**
 * Checks a presented bearer token: well-formed, known, not revoked, hash
 * equal in constant time. Returns the record or undefined. Records the use
 * in its own record, never by rewriting the token record.
 */
export async function verifyScimToken(store: Store, presented: string, now: number): Promise<ScimTokenRecord | undefined> {
  const parts = presented.split('.');
  if (parts.length !== 3 || parts[0] !== TOKEN_PREFIX || !/^[0-9a-f]{16}$/.test(parts[1]!) || presented.length > 200) return undefined;
  const rec = await store.get<ScimTokenRecord>(SCIM_TOKEN_TYPE, parts[1]!);
  if (!rec || rec.data.revokedAt !== undefined) return undefined;
  const want = Buffer.from(rec.data.hash, 'hex');
  const got = Buffer.from(sha256(presented), 'hex');
  if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
  const use = await store.get<{ lastUsedAt?: unknown }>(SCIM_TOKEN_USE_TYPE, rec.id);
  const last = typeof use?.data.lastUsedAt === 'number' ? use.data.lastUsedAt : undefined;
  if (last === undefined || now - last > LAST_USED_GRANULARITY_MS) {
    await store.put(SCIM_TOKEN_USE_TYPE, rec.id, { lastUsedAt: now }, {}, now);
  }
  return rec.data;
}

function sha256(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

// ---------------------------------------------------------------- protocol

const SCHEMA = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  list: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  patch: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  error: 'urn:ietf:params:scim:api:messages:2.0:Error',
  spc: 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
  resourceType: 'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
} as const;

export const SCIM_CONTENT_TYPE = 'application/scim+json';
const MAX_COUNT = 1000;
const DEFAULT_COUNT = 100;

/** A SCIM protocol error (RFC 7644 §3.12): HTTP status and optional `scimType`. */
class ScimError extends Error {
  constructor(readonly status: number, readonly scimType: string | undefined, readonly detail: string) {
    super(detail);
  }
}

function scimSend(ctx: RequestContext, status: number, body: unknown, headers: Record<string, string> = {}): void {
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

function scimError(ctx: RequestContext, e: ScimError, headers?: Record<string, string>): void {
  scimSend(ctx, e.status, {
    schemas: [SCHEMA.error],
    status: String(e.status),
    ...(e.scimType !== undefined ? { scimType: e.scimType } : {}),
    detail: e.detail,
  }, headers);
}

function fromDirectoryError(e: DirectoryError): ScimError {
  switch (e.code) {
    case 'ERR_USER_EXISTS': case 'ERR_GROUP_EXISTS': return new ScimError(409, 'uniqueness', e.message);
    case 'ERR_USER_NOT_FOUND': case 'ERR_GROUP_NOT_FOUND':
      // A missing member named in a request body is a bad value, not a missing resource.
      return e.field === 'members' || e.field === 'user' ? new ScimError(400, 'invalidValue', e.message) : new ScimError(404, undefined, e.message);
    default: return new ScimError(400, 'invalidValue', e.message);
  }
}

interface Scope {
  readonly ctx: RequestContext;
  readonly store: Store;
  readonly audit: AuditSink;
  readonly now: number;
  /** `scim:<token id>`, the actor of audit events. */
  readonly actor: string;
  /** `https://auth.example.com/scim/v2` */
  readonly base: string;
}

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

function listResponse(resources: readonly unknown[], startIndex: number, total: number): Record<string, unknown> {
  return { schemas: [SCHEMA.list], totalResults: total, startIndex, itemsPerPage: resources.length, Resources: resources };
}

/** `startIndex` (1-based) and `count` (RFC 7644 §3.4.2.4). */
function paging(s: Scope): { start: number; count: number } {
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

/** The request's JSON object (`application/scim+json` or `application/json`), bounded. */
async function readBody(s: Scope): Promise<Record<string, unknown>> {
  const type = s.ctx.req.headers['content-type'] ?? '';
  if (!/^application\/(?:scim\+)?json\b/i.test(type)) {
    throw new ScimError(400, 'invalidSyntax', 'Send a JSON body with content type application/scim+json.');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of s.ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ScimError(413, 'tooMany', `The body is larger than ${MAX_BODY_BYTES} bytes.`);
    chunks.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ScimError(400, 'invalidSyntax', 'The body is not valid JSON.');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ScimError(400, 'invalidSyntax', 'Expected a JSON object.');
  }
  return body as Record<string, unknown>;
}

// ---------------------------------------------------------------- users

function meta(s: Scope, type: 'User' | 'Group', id: string, created: number | undefined, rec: Pick<StoredRecord, 'modifiedAt' | 'version'> | undefined): Record<string, unknown> {
  const modified = rec?.modifiedAt ?? s.now;
  return {
    resourceType: type,
    created: new Date(created ?? modified).toISOString(),
    lastModified: new Date(modified).toISOString(),
    location: `${s.base}/${type}s/${encodeURIComponent(id)}`,
    ...(rec ? { version: `W/"${rec.version}"` } : {}),
  };
}

function userResource(s: Scope, u: DirectoryUser, rec: Pick<StoredRecord, 'modifiedAt' | 'version'> | undefined, groups: ReadonlyMap<string, DirectoryGroup>): Record<string, unknown> {
  const memberOf: Record<string, unknown>[] = [];
  for (const entry of u.groups) {
    const g = groups.get(entry);
    if (g) memberOf.push({ value: g.id, display: g.name, $ref: `${s.base}/Groups/${encodeURIComponent(g.id)}`, type: 'direct' });
  }
  return {
    schemas: [SCHEMA.user],
    id: u.id,
    ...(u.externalId !== undefined ? { externalId: u.externalId } : {}),
    userName: u.userName ?? u.email,
    name: {
      formatted: u.name,
      ...(u.givenName !== undefined ? { givenName: u.givenName } : {}),
      ...(u.familyName !== undefined ? { familyName: u.familyName } : {}),
    },
    displayName: u.name,
    emails: [{ value: u.email, type: 'work', primary: true }],
    active: u.active !== false,
    groups: memberOf,
    meta: meta(s, 'User', u.id, u.createdAt, rec),
  };
}

/** Group lookup by id and by name, for rendering memberships. */
async function groupMap(store: Store): Promise<Map<string, DirectoryGroup>> {
  const m = new Map<string, DirectoryGroup>();
  for (const r of await listGroupRecords(store)) {
    m.set(r.data.id, r.data);
    if (!m.has(r.data.name)) m.set(r.data.name, r.data);
  }
  return m;
}

async function userRecord(s: Scope, id: string): Promise<StoredRecord<DirectoryUser>> {
  const rec = await s.store.get<DirectoryUser>(USER_TYPE, id);
  if (!rec) throw new ScimError(404, undefined, `User ${id} not found.`);
  return rec;
}

async function sendUser(s: Scope, status: number, id: string): Promise<void> {
  const rec = await userRecord(s, id);
  const body = userResource(s, rec.data, rec, await groupMap(s.store));
  scimSend(s.ctx, status, body, status === 201 ? { location: String((body.meta as Record<string, unknown>).location) } : {});
}

async function listUsers(s: Scope): Promise<void> {
  const { start, count } = paging(s);
  const filterText = s.ctx.query.get('filter');
  let recs: StoredRecord<DirectoryUser>[];
  if (filterText) {
    const f = parseScimFilter(filterText, ['userName', 'externalId', 'id', 'emails.value']);
    const v = f.value;
    if (f.attr === 'id') {
      const r = await s.store.get<DirectoryUser>(USER_TYPE, v);
      recs = r ? [r] : [];
    } else if ((f.attr === 'userName' || f.attr === 'emails.value') && v.includes('@')) {
      // Email-shaped values use the email index (the common case) before any scan.
      const byEmail = await s.store.list<DirectoryUser>(USER_TYPE, { index: v.toLowerCase() });
      recs = f.attr === 'emails.value' ? byEmail : byEmail.filter((r) => (r.data.userName ?? r.data.email).toLowerCase() === v.toLowerCase());
      if (f.attr === 'userName' && recs.length === 0) recs = (await listDirectoryUserRecords(s.store)).filter((r) => r.data.userName?.toLowerCase() === v.toLowerCase());
    } else {
      // RFC 7643: userName is case-insensitive; externalId is case-exact.
      recs = (await listDirectoryUserRecords(s.store)).filter((r) => f.attr === 'externalId'
        ? r.data.externalId === v
        : (r.data.userName ?? r.data.email).toLowerCase() === v.toLowerCase());
    }
  } else {
    recs = await listDirectoryUserRecords(s.store);
  }
  const groups = await groupMap(s.store);
  const page = recs.slice(start - 1, start - 1 + count).map((r) => userResource(s, r.data, r, groups));
  scimSend(s.ctx, 200, listResponse(page, start, recs.length));
}

async function getUser(s: Scope, id: string): Promise<void> {
  await sendUser(s, 200, id);
}

function str(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ScimError(400, 'invalidValue', `${field} must be a string`);
  return v;
}

function bool(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  // Azure AD sends "True"/"False" strings in PATCH values.
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw new ScimError(400, 'invalidValue', `${field} must be a boolean`);
}

/** The primary (else first) email of a SCIM `emails` list. */
function primaryEmail(emails: unknown): string | undefined {
  if (emails === undefined || emails === null) return undefined;
  if (!Array.isArray(emails)) throw new ScimError(400, 'invalidValue', 'emails must be a list');
  const items = emails.filter((e): e is Record<string, unknown> => e !== null && typeof e === 'object');
  const chosen = items.find((e) => e.primary === true || e.primary === 'true') ?? items.find((e) => e.type === 'work') ?? items[0];
  return chosen ? str(chosen.value, 'emails.value') : undefined;
}

interface UserFields {
  userName?: string | undefined;
  email?: string | undefined;
  displayName?: string | undefined;
  formatted?: string | undefined;
  givenName?: string | undefined;
  familyName?: string | undefined;
  active?: boolean | undefined;
  externalId?: string | undefined;
}

/** Reads the User attributes Limen keeps from a SCIM body; other attributes are ignored (RFC 7643 §2). */
function userFields(body: Record<string, unknown>): UserFields {
  const name = body.name;
  if (name !== undefined && name !== null && (typeof name !== 'object' || Array.isArray(name))) throw new ScimError(400, 'invalidValue', 'name must be an object');
  const n = (name ?? {}) as Record<string, unknown>;
  return {
    userName: str(body.userName, 'userName'),
    email: primaryEmail(body.emails),
    displayName: str(body.displayName, 'displayName'),
    formatted: str(n.formatted, 'name.formatted'),
    givenName: str(n.givenName, 'name.givenName'),
    familyName: str(n.familyName, 'name.familyName'),
    active: bool(body.active, 'active'),
    externalId: str(body.externalId, 'externalId'),
  };
}

function displayName(f: UserFields): string {
  return f.displayName ?? f.formatted ?? [f.givenName, f.familyName].filter(Boolean).join(' ');
}

/** The email to key the user on: the primary email, else a userName that is an email. */
function emailOf(f: UserFields): string {
  const candidate = f.email ?? f.userName;
  try {
    return checkEmail(candidate, f.email !== undefined ? 'emails' : 'userName');
  } catch {
    throw new ScimError(400, 'invalidValue', 'A user needs an email: give `emails` with a primary value, or an email as userName.');
  }
}

function userAudit(s: Scope, kind: AuditKind, u: DirectoryUser, details: Record<string, unknown> = {}): void {
  s.audit.emit({ kind, requestId: s.ctx.requestId, userId: u.id, email: u.email, actor: s.actor, details: { via: 'scim', ip: s.ctx.ip, ...details } });
}

async function createUser(s: Scope): Promise<void> {
  const f = userFields(await readBody(s));
  if (!f.userName) throw new ScimError(400, 'invalidValue', 'userName is required.');
  const email = emailOf(f);
  const { user, adopted } = await createDirectoryUser(s.store, {
    email, name: displayName(f), source: 'scim', active: f.active ?? true, externalId: f.externalId,
    userName: f.userName.toLowerCase() === email.toLowerCase() ? undefined : f.userName,
    givenName: f.givenName, familyName: f.familyName,
  }, s.now);
  userAudit(s, 'user.create', user, { active: user.active !== false, ...(adopted ? { adopted_from: 'idp' } : {}) });
  await sendUser(s, 201, user.id);
}

async function replaceUser(s: Scope, id: string): Promise<void> {
  const before = (await userRecord(s, id)).data;
  const f = userFields(await readBody(s));
  if (!f.userName) throw new ScimError(400, 'invalidValue', 'userName is required.');
  const email = emailOf(f);
  const { user } = await updateDirectoryUser(s.store, id, {
    email, name: displayName(f), active: f.active ?? true, source: 'scim',
    externalId: f.externalId ?? null,
    userName: f.userName.toLowerCase() === email.toLowerCase() ? null : f.userName,
    givenName: f.givenName ?? null, familyName: f.familyName ?? null,
  }, s.now, 'scim');
  userAudit(s, 'user.update', user, changeDetails(before, user));
  await sendUser(s, 200, id);
}

interface PatchOp { op: 'add' | 'replace' | 'remove'; path: string | undefined; value: unknown }

function patchOps(body: Record<string, unknown>): PatchOp[] {
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

/** A User PATCH being applied: new values, and attributes removed. */
interface PendingUser {
  readonly fields: UserFields;
  readonly clear: Set<string>;
}

/** Applies one attribute of a User PATCH to the pending changes; unknown attributes are ignored. */
function applyUserAttribute(f: PendingUser, op: PatchOp['op'], path: string, value: unknown): void {
  const p = path.replace(/^urn:ietf:params:scim:schemas:core:2\.0:User:/i, '');
  const lower = p.toLowerCase();
  const set = <K extends keyof UserFields>(k: K, v: UserFields[K]): void => {
    const fields: UserFields = f.fields;
    if (op === 'remove') { f.clear.add(k); fields[k] = undefined; } else { f.clear.delete(k); fields[k] = v; }
  };
  if (lower === 'active') {
    if (op === 'remove') throw new ScimError(400, 'mutability', 'active cannot be removed.');
    set('active', bool(value, 'active'));
  } else if (lower === 'username') {
    if (op === 'remove') throw new ScimError(400, 'mutability', 'userName is required.');
    set('userName', str(value, 'userName'));
  } else if (lower === 'displayname') set('displayName', op === 'remove' ? undefined : str(value, 'displayName'));
  else if (lower === 'externalid') set('externalId', op === 'remove' ? undefined : str(value, 'externalId'));
  else if (lower === 'name.givenname') set('givenName', op === 'remove' ? undefined : str(value, 'name.givenName'));
  else if (lower === 'name.familyname') set('familyName', op === 'remove' ? undefined : str(value, 'name.familyName'));
  else if (lower === 'name.formatted') set('formatted', op === 'remove' ? undefined : str(value, 'name.formatted'));
  else if (lower === 'name') {
    if (op === 'remove') { set('givenName', undefined); set('familyName', undefined); set('formatted', undefined); return; }
    if (value === null || typeof value !== 'object') throw new ScimError(400, 'invalidValue', 'name must be an object');
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) applyUserAttribute(f, op, `name.${k}`, v);
  } else if (lower === 'emails' || /^emails\[.*\]\.value$/.test(lower)) {
    if (op === 'remove') throw new ScimError(400, 'mutability', 'Limen keys users on their email; it cannot be removed.');
    set('email', lower === 'emails' ? primaryEmail(Array.isArray(value) ? value : [value]) : str(value, 'emails.value'));
  }
  // Anything else (title, enterprise extension, ...) is not kept by Limen.
}

async function patchUser(s: Scope, id: string): Promise<void> {
  const before = (await userRecord(s, id)).data;
  const ops = patchOps(await readBody(s));
  const pending: PendingUser = { fields: {}, clear: new Set() };
  for (const o of ops) {
    if (o.path !== undefined) { applyUserAttribute(pending, o.op, o.path, o.value); continue; }
    // No path: the value is an object of attributes (Okta's style).
    if (o.value === null || typeof o.value !== 'object' || Array.isArray(o.value)) throw new ScimError(400, 'invalidValue', 'Without a path, value is an object of attributes.');
    for (const [k, v] of Object.entries(o.value as Record<string, unknown>)) applyUserAttribute(pending, o.op, k, v);
  }
  const f = Object.assign(pending.fields, { clear: pending.clear });
  const nameTouched = ['displayName', 'formatted', 'givenName', 'familyName'].some((k) => f[k as keyof UserFields] !== undefined || f.clear.has(k));
  const givenName = f.clear.has('givenName') ? null : f.givenName;
  const familyName = f.clear.has('familyName') ? null : f.familyName;
  let name: string | undefined;
  if (nameTouched) {
    name = f.displayName ?? f.formatted ?? [givenName === null ? undefined : givenName ?? before.givenName, familyName === null ? undefined : familyName ?? before.familyName].filter(Boolean).join(' ');
  }
  let email: string | undefined;
  if (f.email !== undefined) email = emailOf({ email: f.email });
  let userName: string | null | undefined;
  if (f.userName !== undefined) {
    const effectiveEmail = email ?? before.email;
    userName = f.userName.toLowerCase() === effectiveEmail.toLowerCase() ? null : f.userName;
    // A userName that is an email and no separate email given: the email follows it.
    if (email === undefined && f.userName.includes('@') && (before.userName === undefined)) {
      email = emailOf({ userName: f.userName });
      userName = null;
    }
  }
  const changes: UserChanges = {
    ...(email !== undefined ? { email } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(f.active !== undefined ? { active: f.active } : {}),
    ...(f.externalId !== undefined || f.clear.has('externalId') ? { externalId: f.clear.has('externalId') ? null : f.externalId } : {}),
    ...(userName !== undefined ? { userName } : {}),
    ...(givenName !== undefined ? { givenName } : {}),
    ...(familyName !== undefined ? { familyName } : {}),
    source: 'scim',
  };
  const { user } = await updateDirectoryUser(s.store, id, changes, s.now, 'scim');
  const details = changeDetails(before, user);
  userAudit(s, before.active !== false && user.active === false ? 'user.deactivate' : before.active === false && user.active !== false ? 'user.activate' : 'user.update', user, details);
  await sendUser(s, 200, id);
}

/** Which fields changed, for the audit trail (values only where not personal beyond the email). */
function changeDetails(before: DirectoryUser, after: DirectoryUser): Record<string, unknown> {
  const changed: string[] = [];
  if (before.email !== after.email) changed.push('email');
  if (before.name !== after.name) changed.push('name');
  if ((before.active !== false) !== (after.active !== false)) changed.push('active');
  if (before.externalId !== after.externalId) changed.push('externalId');
  if (before.userName !== after.userName) changed.push('userName');
  return { changed, active: after.active !== false, ...(before.email !== after.email ? { previous_email: before.email } : {}) };
}

async function removeUser(s: Scope, id: string): Promise<void> {
  const { user, sessionsRevoked } = await deleteDirectoryUser(s.store, id, s.now);
  userAudit(s, 'user.delete', user, { sessions_revoked: sessionsRevoked });
  scimSend(s.ctx, 204, undefined);
}

// ---------------------------------------------------------------- groups

async function groupResource(s: Scope, g: DirectoryGroup, rec: Pick<StoredRecord, 'modifiedAt' | 'version'> | undefined, withMembers: boolean): Promise<Record<string, unknown>> {
  const members = withMembers ? await groupMembers(s.store, g) : [];
  return {
    schemas: [SCHEMA.group],
    id: g.id,
    ...(g.externalId !== undefined ? { externalId: g.externalId } : {}),
    displayName: g.name,
    ...(withMembers ? { members: members.map((u) => ({ value: u.id, display: u.email, type: 'User', $ref: `${s.base}/Users/${encodeURIComponent(u.id)}` })) } : {}),
    meta: meta(s, 'Group', g.id, g.createdAt, rec),
  };
}

function wantsMembers(s: Scope): boolean {
  const excluded = (s.ctx.query.get('excludedAttributes') ?? '').split(',').map((a) => a.trim().toLowerCase());
  return !excluded.includes('members');
}

async function groupRecord(s: Scope, id: string): Promise<StoredRecord<DirectoryGroup>> {
  const rec = await s.store.get<DirectoryGroup>(GROUP_TYPE, id);
  if (!rec) throw new ScimError(404, undefined, `Group ${id} not found.`);
  return rec;
}

async function sendGroup(s: Scope, status: number, id: string): Promise<void> {
  const rec = await groupRecord(s, id);
  const body = await groupResource(s, rec.data, rec, wantsMembers(s));
  scimSend(s.ctx, status, body, status === 201 ? { location: String((body.meta as Record<string, unknown>).location) } : {});
}

async function listGroupsScim(s: Scope): Promise<void> {
  const { start, count } = paging(s);
  const filterText = s.ctx.query.get('filter');
  let recs = await listGroupRecords(s.store);
  if (filterText) {
    const f = parseScimFilter(filterText, ['displayName', 'externalId', 'id']);
    recs = recs.filter((r) => f.attr === 'id' ? r.data.id === f.value
      : f.attr === 'externalId' ? r.data.externalId === f.value
      : r.data.name.toLowerCase() === f.value.toLowerCase());
  }
  const withMembers = wantsMembers(s);
  const page: Record<string, unknown>[] = [];
  for (const r of recs.slice(start - 1, start - 1 + count)) page.push(await groupResource(s, r.data, r, withMembers));
  scimSend(s.ctx, 200, listResponse(page, start, recs.length));
}

async function getGroupScim(s: Scope, id: string): Promise<void> {
  await sendGroup(s, 200, id);
}

/** User ids from a SCIM `members` value (`[{value: id}, ...]`). */
function memberIds(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((m) => {
    if (m === null || typeof m !== 'object' || typeof (m as Record<string, unknown>).value !== 'string') {
      throw new ScimError(400, 'invalidValue', 'members are objects with a user id in `value`.');
    }
    return (m as Record<string, string>).value!;
  });
}

function groupAudit(s: Scope, kind: AuditKind, g: DirectoryGroup, details: Record<string, unknown> = {}): void {
  s.audit.emit({ kind, requestId: s.ctx.requestId, actor: s.actor, details: { via: 'scim', ip: s.ctx.ip, group_id: g.id, group: g.name, ...details } });
}

async function membershipAudit(s: Scope, g: DirectoryGroup, added: readonly string[], removed: readonly string[]): Promise<void> {
  for (const [kind, ids] of [['group.member_add', added], ['group.member_remove', removed]] as const) {
    for (const uid of ids) {
      const u = await getDirectoryUser(s.store, uid);
      s.audit.emit({ kind, requestId: s.ctx.requestId, userId: uid, email: u?.email, actor: s.actor, details: { via: 'scim', ip: s.ctx.ip, group_id: g.id, group: g.name } });
    }
  }
}

async function createGroupScim(s: Scope): Promise<void> {
  const body = await readBody(s);
  const name = str(body.displayName, 'displayName');
  if (!name) throw new ScimError(400, 'invalidValue', 'displayName is required.');
  const members = memberIds(body.members);
  for (const id of members) if (!(await getDirectoryUser(s.store, id))) throw new ScimError(400, 'invalidValue', `No user with id ${id}.`);
  const group = await createGroup(s.store, { name, source: 'scim', externalId: str(body.externalId, 'externalId') }, s.now);
  groupAudit(s, 'group.create', group);
  const { added, removed } = await replaceMembers(s.store, group.id, members, s.now);
  await membershipAudit(s, group, added, removed);
  await sendGroup(s, 201, group.id);
}

async function replaceGroupScim(s: Scope, id: string): Promise<void> {
  await groupRecord(s, id);
  const body = await readBody(s);
  const name = str(body.displayName, 'displayName');
  if (!name) throw new ScimError(400, 'invalidValue', 'displayName is required.');
  const members = memberIds(body.members);
  const { group, before } = await updateGroup(s.store, id, { name, externalId: str(body.externalId, 'externalId') ?? null }, s.now);
  if (before.name !== group.name) groupAudit(s, 'group.update', group, { previous_name: before.name });
  const { added, removed } = await replaceMembers(s.store, id, members, s.now);
  await membershipAudit(s, group, added, removed);
  await sendGroup(s, 200, id);
}

/** `members[value eq "id"]`: the one member a remove path can name. */
function memberFilterPath(path: string): string | undefined {
  const m = /^members\[\s*value\s+eq\s+"((?:[^"\\]|\\.)*)"\s*\]$/i.exec(path.trim());
  if (!m) return undefined;
  try {
    return JSON.parse(`"${m[1]!}"`) as string;
  } catch {
    throw new ScimError(400, 'invalidPath', 'The member filter value is not a valid string.');
  }
}

async function patchGroupScim(s: Scope, id: string): Promise<void> {
  const rec = await groupRecord(s, id);
  const ops = patchOps(await readBody(s));
  let group = rec.data;
  const added: string[] = [];
  const removed: string[] = [];
  const note = (uid: string, member: boolean, changed: boolean): void => {
    if (!changed) return;
    const [to, from] = member ? [added, removed] : [removed, added];
    const i = from.indexOf(uid);
    if (i >= 0) from.splice(i, 1); else to.push(uid);
  };
  const setMembers = async (ids: readonly string[], member: boolean): Promise<void> => {
    for (const uid of ids) {
      if (member && !(await getDirectoryUser(s.store, uid))) throw new ScimError(400, 'invalidValue', `No user with id ${uid}.`);
      if (!member && !(await getDirectoryUser(s.store, uid))) continue;
      note(uid, member, await setMembership(s.store, id, uid, member, s.now));
    }
  };
  const rename = async (value: unknown): Promise<void> => {
    const name = str(value, 'displayName');
    if (!name) throw new ScimError(400, 'invalidValue', 'displayName must not be empty.');
    const r = await updateGroup(s.store, id, { name }, s.now);
    if (r.before.name !== r.group.name) groupAudit(s, 'group.update', r.group, { previous_name: r.before.name });
    group = r.group;
  };
  for (const o of ops) {
    const path = o.path?.replace(/^urn:ietf:params:scim:schemas:core:2\.0:Group:/i, '');
    const lower = path?.toLowerCase();
    if (lower === undefined) {
      if (o.value === null || typeof o.value !== 'object' || Array.isArray(o.value)) throw new ScimError(400, 'invalidValue', 'Without a path, value is an object of attributes.');
      const v = o.value as Record<string, unknown>;
      if (v.displayName !== undefined) await rename(v.displayName);
      if (v.externalId !== undefined) group = (await updateGroup(s.store, id, { externalId: str(v.externalId, 'externalId') ?? null }, s.now)).group;
      if (v.members !== undefined) {
        if (o.op === 'replace') {
          const r = await replaceMembers(s.store, id, memberIds(v.members), s.now);
          for (const uid of r.added) note(uid, true, true);
          for (const uid of r.removed) note(uid, false, true);
        } else await setMembers(memberIds(v.members), true);
      }
      continue;
    }
    if (lower === 'displayname') {
      if (o.op === 'remove') throw new ScimError(400, 'mutability', 'displayName is required.');
      await rename(o.value);
    } else if (lower === 'externalid') {
      group = (await updateGroup(s.store, id, { externalId: o.op === 'remove' ? null : str(o.value, 'externalId') ?? null }, s.now)).group;
    } else if (lower === 'members') {
      if (o.op === 'add') await setMembers(memberIds(o.value), true);
      else if (o.op === 'replace') {
        const r = await replaceMembers(s.store, id, memberIds(o.value), s.now);
        for (const uid of r.added) note(uid, true, true);
        for (const uid of r.removed) note(uid, false, true);
      } else if (o.value === undefined || o.value === null) {
        const r = await replaceMembers(s.store, id, [], s.now);
        for (const uid of r.removed) note(uid, false, true);
      } else await setMembers(memberIds(o.value), false);
    } else {
      const uid = path !== undefined ? memberFilterPath(path) : undefined;
      if (uid === undefined || o.op !== 'remove') throw new ScimError(400, 'invalidPath', `Unsupported path ${path ?? ''} for a Group.`);
      await setMembers([uid], false);
    }
  }
  await membershipAudit(s, group, added, removed);
  // RFC 7644 §3.5.2: 200 with the resource, or 204. Azure and Okta accept either; send the resource.
  await sendGroup(s, 200, id);
}

async function removeGroupScim(s: Scope, id: string): Promise<void> {
  const { group, membersUpdated } = await deleteGroup(s.store, id, s.now);
  groupAudit(s, 'group.delete', group, { members_updated: membersUpdated });
  scimSend(s.ctx, 204, undefined);
}
