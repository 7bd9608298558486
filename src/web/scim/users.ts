/** SCIM Users (RFC 7643 §4.1) over the directory: list with `eq` filters, get, create, replace, patch, delete. */
import {
  USER_TYPE, checkEmail, createDirectoryUser, deleteDirectoryUser, listDirectoryUserRecords, listGroupRecords, updateDirectoryUser,
  type DirectoryGroup, type DirectoryUser, type UserChanges,
} from '../../accounts/index.js';
import type { AuditKind } from '../../audit/index.js';
import type { Store, StoredRecord } from '../../store/index.js';
import { bool, listResponse, meta, paging, parseScimFilter, patchOps, readBody, SCHEMA, ScimError, scimSend, str, type PatchOp, type Scope } from './protocol.js';

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

export async function listUsers(s: Scope): Promise<void> {
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

export async function getUser(s: Scope, id: string): Promise<void> {
  await sendUser(s, 200, id);
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

export async function createUser(s: Scope): Promise<void> {
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

export async function replaceUser(s: Scope, id: string): Promise<void> {
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

export async function patchUser(s: Scope, id: string): Promise<void> {
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

export async function removeUser(s: Scope, id: string): Promise<void> {
  const { user, sessionsRevoked } = await deleteDirectoryUser(s.store, id, s.now);
  userAudit(s, 'user.delete', user, { sessions_revoked: sessionsRevoked });
  scimSend(s.ctx, 204, undefined);
}

