/** `limen scim token create|list|revoke`: the bearer tokens SCIM clients use; changes go through src/operations */
import { cliActor, createScimToken, revokeScimToken } from '../operations/index.js';
import { listScimTokens } from '../accounts/index.js';
import { parseFlags, type Command } from './args.js';
import { COMMON, json, one, table, when, withStore } from './directory-common.js';

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

/** `limen scim token create|list|revoke`. */
export const scimCommands: readonly Command[] = [scimTokenCreate, scimTokenList, scimTokenRevoke];
