/**
 * `limen users|groups|sessions|audit|scim ...`: the directory, sessions, the
 * audit trail and SCIM tokens, in the store a running server uses (the
 * config's SQLite file or PostgreSQL). The server reads users, groups and
 * sessions per request, so a change applies to its next request. Every
 * change is an audit event with the CLI user as actor.
 */
import type { Store } from '../store/index.js';
import type { Config } from '../config/index.js';
import {
  DirectoryError, findGroup, findUserByIdOrEmail, groupLookup, groupMembers, groupView, listDirectoryUsers, listGroups, listScimTokens,
  userRef, userView, type DirectoryGroup, type DirectoryUser,
} from '../accounts/index.js';
import { listSessions, sessionView, type SessionSummary } from '../authn/index.js';
import { AUDIT_KINDS, auditEventJson, formatAuditEvent, isAuditKind, parseTimeBound, readAuditTrail, type AuditKind } from '../audit/index.js';
import {
  cliActor, createGroup, createScimToken, createUser, deleteGroup, deleteUser, revokeScimToken, revokeSession, revokeUserSessions, setMembership,
  type OperationContext,
} from '../operations/index.js';
import { parseFlags, UsageError, type CliIo, type Command } from './args.js';
import { withConfiguredStore } from './store.js';

const COMMON = `  --config FILE   the config the server runs with (its store)
  -h, --help      this help`;

/** Runs `fn` with the configured store, closing it after; directory errors are exit 1 with the message. */
export async function withStore(name: string, path: string | undefined, io: CliIo, fn: (store: Store, config: Config, ops: OperationContext) => Promise<number>): Promise<number> {
  try {
    return await withConfiguredStore(path, io, ({ store, config, ops }) => fn(store, config, ops));
  } catch (e) {
    if (e instanceof DirectoryError) {
      io.stderr(`limen ${name}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

function one(positionals: string[], what: string): string {
  if (positionals.length !== 1 || positionals[0] === '') throw new UsageError(`expected exactly one ${what}`);
  return positionals[0]!;
}

/** `--groups a,b --groups c` → [a, b, c]. */
function splitList(values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

/** Left-aligned columns for a terminal. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

function when(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function json(io: CliIo, v: unknown): void {
  io.stdout(JSON.stringify(v, null, 2) + '\n');
}

async function userOrFail(store: Store, ref: string): Promise<DirectoryUser> {
  const u = await findUserByIdOrEmail(store, ref);
  if (!u) throw new DirectoryError('ERR_USER_NOT_FOUND', `no user with id or email "${ref}"`, 'user');
  return u;
}

async function groupOrFail(store: Store, ref: string): Promise<DirectoryGroup> {
  const g = await findGroup(store, ref);
  if (!g) throw new DirectoryError('ERR_GROUP_NOT_FOUND', `no group with id or name "${ref}"`, 'group');
  return g;
}

function groupNames(u: DirectoryUser, groups: ReadonlyMap<string, DirectoryGroup>): string {
  return u.groups.map((e) => groups.get(e)?.name ?? e).join(',');
}

// ---------------------------------------------------------------- users

const usersAdd: Command = {
  name: 'users add',
  summary: 'Add a user by hand (non-domain users, contractors)',
  usage: `Usage: limen users add --config FILE --email E [--name N] [--groups G[,G...]] [--id ID] [--json]

Adds a user to the directory. Their groups apply from their next request,
whatever the identity provider says; group names the directory does not
know yet become new groups. When they sign in through the identity provider
with this email, the record is matched by email and keeps these groups.

Options:
  --email E       email address (required; the directory key)
  --name N        display name
  --groups G      group names or ids, comma separated or repeated
  --id ID         the user id (the IdP's "sub", if known); default: a new UUID
  --json          print JSON
${COMMON}`,
  async run(argv, io) {
    const { values } = parseFlags(argv, {
      config: { type: 'string', short: 'c' }, email: { type: 'string' }, name: { type: 'string' },
      groups: { type: 'string', multiple: true }, id: { type: 'string' }, json: { type: 'boolean' },
    });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    if (!values.email) throw new UsageError('--email E is required');
    return withStore(this.name, values.config, io, async (store, _config, ops) => {
      const { user, createdGroups } = await createUser(ops, cliActor(), {
        id: values.id, email: values.email!, name: values.name, groups: splitList(values.groups),
      });
      const groups = await groupLookup(store);
      if (values.json) { json(io, { user: userView(user, groups), groups_created: createdGroups.map((g) => groupView(g)) }); return 0; }
      for (const g of createdGroups) io.stdout(`created group ${g.name} (${g.id})\n`);
      io.stdout(`added user ${user.email} (${user.id})${user.groups.length > 0 ? ` in ${groupNames(user, groups)}` : ''}\n`);
      return 0;
    });
  },
};

const usersList: Command = {
  name: 'users list',
  summary: 'List directory users',
  usage: `Usage: limen users list --config FILE [--group G] [--json]

Lists users (from sign-in, added by hand, or provisioned over SCIM).

Options:
  --group G       only members of this group (name or id)
  --json          print JSON
${COMMON}`,
  async run(argv, io) {
    const { values } = parseFlags(argv, { config: { type: 'string', short: 'c' }, group: { type: 'string' }, json: { type: 'boolean' } });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    return withStore(this.name, values.config, io, async (store) => {
      const users = values.group ? await groupMembers(store, await groupOrFail(store, values.group)) : await listDirectoryUsers(store);
      const groups = await groupLookup(store);
      if (values.json) { json(io, { users: users.map((u) => userView(u, groups)) }); return 0; }
      io.stdout(table(['EMAIL', 'NAME', 'GROUPS', 'SOURCE', 'ACTIVE', 'LAST SEEN', 'ID'],
        users.map((u) => [u.email, u.name, groupNames(u, groups), u.source, u.active === false ? 'no' : 'yes', when(u.lastSeen), u.id])));
      return 0;
    });
  },
};

const usersShow: Command = {
  name: 'users show',
  summary: 'Show one user, their groups and sessions',
  usage: `Usage: limen users show --config FILE EMAIL|ID [--json]

Options:
  --json          print JSON
${COMMON}`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } }, true);
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    const ref = one(positionals, 'user (email or id)');
    return withStore(this.name, values.config, io, async (store) => {
      const u = await userOrFail(store, ref);
      const groups = await groupLookup(store);
      const sessions = await listSessions(store, Date.now(), { id: u.id, email: u.email });
      if (values.json) { json(io, { user: userView(u, groups), sessions: sessions.map(sessionView) }); return 0; }
      const rows: [string, string][] = [
        ['id', u.id], ['email', u.email], ['name', u.name], ['groups', groupNames(u, groups) || '-'], ['source', u.source],
        ['active', u.active === false ? 'no (deactivated)' : 'yes'], ['last seen', when(u.lastSeen)], ['created', when(u.createdAt)],
        ['sessions', String(sessions.length)],
      ];
      if (u.externalId !== undefined) rows.push(['external id', u.externalId]);
      io.stdout(rows.map(([k, v]) => `${k.padEnd(12)} ${v}`).join('\n') + '\n');
      return 0;
    });
  },
};

const usersRemove: Command = {
  name: 'users remove',
  summary: 'Remove a user and end their sessions',
  usage: `Usage: limen users remove --config FILE EMAIL|ID

Deletes the user from the directory and revokes every session they hold:
their next request is refused. (If the identity provider still lets them
sign in, they come back as a plain sign-in user without directory groups.)

${COMMON}`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, { config: { type: 'string', short: 'c' } }, true);
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    const ref = one(positionals, 'user (email or id)');
    return withStore(this.name, values.config, io, async (store, _config, ops) => {
      const u = await userOrFail(store, ref);
      const { sessionsRevoked } = await deleteUser(ops, cliActor(), u.id);
      io.stdout(`removed user ${u.email} (${u.id}); ${sessionsRevoked} session${sessionsRevoked === 1 ? '' : 's'} revoked\n`);
      return 0;
    });
  },
};

// ---------------------------------------------------------------- groups

const groupsAdd: Command = {
  name: 'groups add',
  summary: 'Add a group',
  usage: `Usage: limen groups add --config FILE NAME [--id ID] [--json]

Options:
  --id ID         the group id; default: a new UUID
  --json          print JSON
${COMMON}`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, { config: { type: 'string', short: 'c' }, id: { type: 'string' }, json: { type: 'boolean' } }, true);
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    const name = one(positionals, 'group name');
    return withStore(this.name, values.config, io, async (_store, _config, ops) => {
      const g = await createGroup(ops, cliActor(), { id: values.id, name });
      if (values.json) json(io, { group: groupView(g, []) });
      else io.stdout(`added group ${g.name} (${g.id})\n`);
      return 0;
    });
  },
};

const groupsList: Command = {
  name: 'groups list',
  summary: 'List groups',
  usage: `Usage: limen groups list --config FILE [--json]

Options:
  --json          print JSON
${COMMON}`,
  async run(argv, io) {
    const { values } = parseFlags(argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    return withStore(this.name, values.config, io, async (store) => {
      const users = await listDirectoryUsers(store);
      const count = (g: DirectoryGroup) => users.filter((u) => u.groups.includes(g.id) || u.groups.includes(g.name)).length;
      const groups = await listGroups(store);
      if (values.json) { json(io, { groups: groups.map((g) => ({ ...groupView(g), member_count: count(g) })) }); return 0; }
      io.stdout(table(['NAME', 'MEMBERS', 'SOURCE', 'ID'], groups.map((g) => [g.name, String(count(g)), g.source, g.id])));
      return 0;
    });
  },
};

const groupsShow: Command = {
  name: 'groups show',
  summary: 'Show a group and its members',
  usage: `Usage: limen groups show --config FILE NAME|ID [--json]

Options:
  --json          print JSON
${COMMON}`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } }, true);
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    const ref = one(positionals, 'group (name or id)');
    return withStore(this.name, values.config, io, async (store) => {
      const g = await groupOrFail(store, ref);
      const members = await groupMembers(store, g);
      if (values.json) { json(io, { group: groupView(g, members) }); return 0; }
      io.stdout(`name     ${g.name}\nid       ${g.id}\nsource   ${g.source}\nmembers  ${members.length}\n`);
      for (const u of members) io.stdout(`  ${u.email}${u.name ? ` (${u.name})` : ''}\n`);
      return 0;
    });
  },
};

const groupsRemove: Command = {
  name: 'groups remove',
  summary: 'Remove a group (and every membership of it)',
  usage: `Usage: limen groups remove --config FILE NAME|ID

${COMMON}`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, { config: { type: 'string', short: 'c' } }, true);
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    const ref = one(positionals, 'group (name or id)');
    return withStore(this.name, values.config, io, async (store, _config, ops) => {
      const g = await groupOrFail(store, ref);
      const { membersUpdated } = await deleteGroup(ops, cliActor(), g.id);
      io.stdout(`removed group ${g.name} (${g.id}); ${membersUpdated} member${membersUpdated === 1 ? '' : 's'} updated\n`);
      return 0;
    });
  },
};

const groupsMembers: Command = {
  name: 'groups members',
  summary: 'List, add or remove members of a group',
  usage: `Usage: limen groups members --config FILE NAME|ID [--add EMAIL|ID]... [--remove EMAIL|ID]... [--json]

With no --add/--remove, lists the members. Changes apply to the members'
next request.

Options:
  --add U         add this user (email or id); repeatable
  --remove U      remove this user; repeatable
  --json          print JSON
${COMMON}`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, {
      config: { type: 'string', short: 'c' }, add: { type: 'string', multiple: true }, remove: { type: 'string', multiple: true }, json: { type: 'boolean' },
    }, true);
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    const ref = one(positionals, 'group (name or id)');
    const both = (values.add ?? []).find((u) => (values.remove ?? []).some((r) => r.toLowerCase() === u.toLowerCase()));
    if (both !== undefined) throw new UsageError(`"${both.slice(0, 80)}" is given to both --add and --remove`);
    return withStore(this.name, values.config, io, async (store, _config, ops) => {
      const g = await groupOrFail(store, ref);
      for (const [refs, member] of [[values.add ?? [], true], [values.remove ?? [], false]] as const) {
        for (const r of refs) {
          const u = await userOrFail(store, r);
          const changed = await setMembership(ops, cliActor(), g, u, member);
          if (!values.json) io.stdout(`${member ? 'added' : 'removed'} ${u.email} ${member ? 'to' : 'from'} ${g.name}${changed ? '' : ' (no change)'}\n`);
        }
      }
      const changedAny = (values.add?.length ?? 0) + (values.remove?.length ?? 0) > 0;
      const members = await groupMembers(store, g);
      if (values.json) { json(io, { group: groupView(g, members) }); return 0; }
      if (!changedAny) io.stdout(members.length === 0 ? `${g.name} has no members\n` : members.map((u) => `${u.email}${u.name ? ` (${u.name})` : ''}\n`).join(''));
      return 0;
    });
  },
};

// ---------------------------------------------------------------- sessions

function sessionRows(sessions: readonly SessionSummary[]): string {
  return table(['ID', 'EMAIL', 'USER ID', 'ISSUED', 'EXPIRES', 'IMPERSONATING'],
    sessions.map((s) => [s.id, s.email, s.userId, when(s.issuedAt), when(s.expiresAt), s.impersonating ? s.impersonating.email || s.impersonating.user : '-']));
}

const sessionsList: Command = {
  name: 'sessions list',
  summary: 'List live sessions, all or one user\'s',
  usage: `Usage: limen sessions list --config FILE [--user EMAIL|ID] [--json]

Options:
  --user U        only this user's sessions (email or id)
  --json          print JSON
${COMMON}`,
  async run(argv, io) {
    const { values } = parseFlags(argv, { config: { type: 'string', short: 'c' }, user: { type: 'string' }, json: { type: 'boolean' } });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    return withStore(this.name, values.config, io, async (store) => {
      const sessions = await listSessions(store, Date.now(), values.user ? await userRef(store, values.user) : undefined);
      if (values.json) { json(io, { sessions: sessions.map(sessionView) }); return 0; }
      io.stdout(sessionRows(sessions));
      return 0;
    });
  },
};

const sessionsRevoke: Command = {
  name: 'sessions revoke',
  summary: 'Revoke a session, or every session of a user',
  usage: `Usage: limen sessions revoke --config FILE (ID | --user EMAIL|ID)

The next request with a revoked session is refused (sign-in again needed).

Options:
  --user U        revoke every session of this user (email or id)
${COMMON}`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, { config: { type: 'string', short: 'c' }, user: { type: 'string' } }, true);
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    if ((values.user === undefined) === (positionals.length === 0)) throw new UsageError('give a session ID or --user EMAIL|ID (not both)');
    return withStore(this.name, values.config, io, async (store, _config, ops) => {
      if (values.user !== undefined) {
        const n = await revokeUserSessions(ops, cliActor(), await userRef(store, values.user));
        io.stdout(`revoked ${n} session${n === 1 ? '' : 's'} of ${values.user}\n`);
        return 0;
      }
      const id = one(positionals, 'session id');
      const s = await revokeSession(ops, cliActor(), id);
      if (!s) { io.stderr(`limen sessions revoke: no live session with id "${id}"\n`); return 1; }
      io.stdout(`revoked session ${s.id} of ${s.email || s.userId}\n`);
      return 0;
    });
  },
};

// ---------------------------------------------------------------- audit

const DECISIONS = ['allow', 'deny', 'login'] as const;
/** The kinds of event that carry a decision. */
const DECIDED_KINDS: readonly string[] = ['authorize', 'websocket_closed'] satisfies AuditKind[];

/** A value typed by the user, quoted and cut for a one-line message. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

const auditQuery: Command = {
  name: 'audit query',
  summary: 'Read the audit trail (decisions, sign-ins, admin changes)',
  usage: `Usage: limen audit query --config FILE [--user EMAIL|ID] [--route R] [--decision allow|deny|login]
                         [--kind K] [--since T] [--until T] [--limit N] [--json]

Prints matching events oldest first: the newest --limit of them.

Options:
  --user U        events about this user (email or id)
  --route R       decisions on this route (its name, or its from URL when unnamed)
  --decision D    allow, deny or login (sign-in required)
  --kind K        one of the kinds below
  --since T       a duration back from now (1h, 30m, 7d), an ISO-8601 time, or ms
  --until T       same forms; exclusive
  --limit N       at most N events (default 1000)
  --json          print a JSON array
${COMMON}

Kinds:
${Object.entries(AUDIT_KINDS).map(([k, what]) => `  ${k.padEnd(24)}${what}`).join('\n')}`,
  async run(argv, io) {
    const { values } = parseFlags(argv, {
      config: { type: 'string', short: 'c' }, user: { type: 'string' }, route: { type: 'string' }, decision: { type: 'string' },
      kind: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' },
    });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    const now = Date.now();
    const bound = (name: 'since' | 'until'): number | undefined => {
      const v = values[name];
      if (v === undefined) return undefined;
      const t = parseTimeBound(v, now);
      if (t === undefined) throw new UsageError(`--${name}: expected a duration (1h, 7d), an ISO-8601 time or ms since epoch, got "${v}"`);
      return t;
    };
    const since = bound('since');
    const until = bound('until');
    if (since !== undefined && until !== undefined && since >= until) {
      throw new UsageError(`--since ${quoted(values.since!)} is not before --until ${quoted(values.until!)}, so no event can match`);
    }
    const limit = values.limit === undefined ? 1000 : /^\d{1,6}$/.test(values.limit) ? Number(values.limit) : Number.NaN;
    if (!(limit >= 1)) throw new UsageError(`--limit: expected a whole number from 1 to 999999, got ${quoted(values.limit!)}`);
    if (values.decision !== undefined && !(DECISIONS as readonly string[]).includes(values.decision)) {
      throw new UsageError(`--decision: expected ${DECISIONS.join(', ')}, got ${quoted(values.decision)}`);
    }
    if (values.kind !== undefined && !isAuditKind(values.kind)) {
      throw new UsageError(`--kind: expected one of ${Object.keys(AUDIT_KINDS).join(', ')}; got ${quoted(values.kind)}`);
    }
    if (values.decision !== undefined && values.kind !== undefined && !DECIDED_KINDS.includes(values.kind)) {
      throw new UsageError(`--decision applies to ${DECIDED_KINDS.join(' and ')} events; --kind ${values.kind} has none`);
    }
    return withStore(this.name, values.config, io, async (store, config) => {
      if (values.route !== undefined && !config.routes.some((r) => r.name === values.route)) {
        // A route since removed from the config may still have events: only a name neither knows is refused.
        const seen = await store.queryAudit({ route: values.route, limit: 1 });
        if (seen.length === 0) {
          const names = config.routes.map((r) => r.name);
          throw new UsageError(`--route: no route ${quoted(values.route)} in the config or the audit trail; routes: ${names.length > 0 ? names.join(', ') : '(none)'}`);
        }
      }
      const ref = values.user ? await userRef(store, values.user) : undefined;
      const trail = await readAuditTrail(store, {
        userIds: ref?.id !== undefined ? [ref.id] : undefined, email: ref?.email,
        route: values.route, decision: values.decision, kind: values.kind, since, until,
      }, limit);
      if (values.json) json(io, trail.events.map(auditEventJson));
      else io.stdout(trail.events.map((e) => formatAuditEvent(e) + '\n').join(''));
      if (trail.truncated) io.stderr(`(only the newest ${limit} events are shown; narrow with --since/--until or raise --limit)\n`);
      return 0;
    });
  },
};

const auditPrune: Command = {
  name: 'audit prune',
  summary: 'Delete audit events older than audit_retention now',
  usage: `Usage: limen audit prune --config FILE

The server does this at start and hourly; this runs it at once.

${COMMON}`,
  async run(argv, io) {
    const { values } = parseFlags(argv, { config: { type: 'string', short: 'c' } });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    return withStore(this.name, values.config, io, async (store, config) => {
      const n = await store.pruneAudit(Date.now() - config.auditRetentionMs);
      io.stdout(`deleted ${n} event${n === 1 ? '' : 's'} older than the retention period\n`);
      return 0;
    });
  },
};

// ---------------------------------------------------------------- scim tokens

const scimTokenCreate: Command = {
  name: 'scim token create',
  summary: 'Create a SCIM bearer token for an identity provider (shown once)',
  usage: `Usage: limen scim token create --config FILE [--description T] [--json]

Prints a new bearer token for SCIM 2.0 provisioning at
  <authenticate_service_url>/scim/v2/
Give it to your identity provider's SCIM client. Only its hash is stored:
it is shown this once.

Options:
  --description T free text shown by list
  --json          print JSON
${COMMON}`,
  async run(argv, io) {
    const { values } = parseFlags(argv, { config: { type: 'string', short: 'c' }, description: { type: 'string' }, json: { type: 'boolean' } });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    return withStore(this.name, values.config, io, async (_store, config, ops) => {
      const { token, record } = await createScimToken(ops, cliActor(), values.description ?? '');
      const base = config.authenticateServiceUrl ? new URL('/scim/v2/', config.authenticateServiceUrl).href : undefined;
      if (values.json) { json(io, { id: record.id, token, ...(base ? { scim_base_url: base } : {}) }); return 0; }
      io.stdout(`${token}\n`);
      io.stderr(`SCIM token ${record.id} created; it is shown only this once.${base ? ` SCIM base URL: ${base}` : ''}\n`);
      return 0;
    });
  },
};

const scimTokenList: Command = {
  name: 'scim token list',
  summary: 'List SCIM tokens (never their values)',
  usage: `Usage: limen scim token list --config FILE [--json]

Options:
  --json          print JSON
${COMMON}`,
  async run(argv, io) {
    const { values } = parseFlags(argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    return withStore(this.name, values.config, io, async (store) => {
      const tokens = await listScimTokens(store);
      const view = tokens.map((t) => ({
        id: t.id, description: t.description, created_at: when(t.createdAt), created_by: t.createdBy,
        last_used_at: t.lastUsedAt === undefined ? null : when(t.lastUsedAt), revoked_at: t.revokedAt === undefined ? null : when(t.revokedAt),
      }));
      if (values.json) { json(io, { tokens: view }); return 0; }
      io.stdout(table(['ID', 'STATUS', 'CREATED', 'LAST USED', 'DESCRIPTION'],
        view.map((t) => [t.id, t.revoked_at ? 'revoked' : 'active', t.created_at, t.last_used_at ?? '-', t.description])));
      return 0;
    });
  },
};

const scimTokenRevoke: Command = {
  name: 'scim token revoke',
  summary: 'Revoke a SCIM token',
  usage: `Usage: limen scim token revoke --config FILE ID

The next SCIM request with that token is refused (401).

${COMMON}`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, { config: { type: 'string', short: 'c' } }, true);
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    const id = one(positionals, 'token id');
    return withStore(this.name, values.config, io, async (_store, _config, ops) => {
      const t = await revokeScimToken(ops, cliActor(), id);
      if (!t) { io.stderr(`limen scim token revoke: no SCIM token with id "${id}"\n`); return 1; }
      io.stdout(`revoked SCIM token ${t.id}\n`);
      return 0;
    });
  },
};

/** CLI commands for the directory, sessions, the audit trail and SCIM tokens. */
export const directoryCommands: readonly Command[] = [
  usersAdd, usersList, usersShow, usersRemove,
  groupsAdd, groupsList, groupsShow, groupsRemove, groupsMembers,
  sessionsList, sessionsRevoke,
  auditQuery, auditPrune,
  scimTokenCreate, scimTokenList, scimTokenRevoke,
];
