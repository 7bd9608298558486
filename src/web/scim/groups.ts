/** SCIM Groups (RFC 7643 §4.2) over the directory: list, get, create, replace, patch (members too), delete. */
import {
  GROUP_TYPE, createGroup, deleteGroup, getDirectoryUser, groupMembers, listGroupRecords, replaceMembers, setMembership, updateGroup,
  type DirectoryGroup,
} from '../../accounts/index.js';
import type { AuditKind } from '../../audit/index.js';
import type { StoredRecord } from '../../store/index.js';
import { listResponse, meta, paging, parseScimFilter, patchOps, readBody, SCHEMA, ScimError, scimSend, str, type Scope } from './protocol.js';

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

export async function listGroupsScim(s: Scope): Promise<void> {
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

export async function getGroupScim(s: Scope, id: string): Promise<void> {
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

export async function createGroupScim(s: Scope): Promise<void> {
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

export async function replaceGroupScim(s: Scope, id: string): Promise<void> {
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

export async function patchGroupScim(s: Scope, id: string): Promise<void> {
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

export async function removeGroupScim(s: Scope, id: string): Promise<void> {
  const { group, membersUpdated } = await deleteGroup(s.store, id, s.now);
  groupAudit(s, 'group.delete', group, { members_updated: membersUpdated });
  scimSend(s.ctx, 204, undefined);
}
