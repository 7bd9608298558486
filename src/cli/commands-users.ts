/** `limen users add|list|show|remove`: directory users, in the store a running server uses; changes go through src/operations */
import { createUser, deleteUser, cliActor } from '../operations/index.js';
import { groupLookup, groupView, groupMembers, listDirectoryUsers, userView } from '../accounts/index.js';
import { listSessions, sessionView } from '../authn/index.js';
import { parseFlags, UsageError, type Command } from './args.js';
import { COMMON, groupNames, groupOrFail, json, one, splitList, table, userOrFail, when, withStore } from './directory-common.js';

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

/** `limen users add|list|show|remove`. */
export const userCommands: readonly Command[] = [usersAdd, usersList, usersShow, usersRemove];
