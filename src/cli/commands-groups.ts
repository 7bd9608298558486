/** `limen groups add|list|show|remove|members`: directory groups and memberships; changes go through src/operations */
import { cliActor, createGroup, deleteGroup, setMembership } from '../operations/index.js';
import { groupMembers, groupView, listDirectoryUsers, listGroups, type DirectoryGroup } from '../accounts/index.js';
import { parseFlags, UsageError, type Command } from './args.js';
import { COMMON, groupOrFail, json, one, table, userOrFail, withStore } from './directory-common.js';

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

/** `limen groups add|list|show|remove|members`. */
export const groupCommands: readonly Command[] = [groupsAdd, groupsList, groupsShow, groupsRemove, groupsMembers];
