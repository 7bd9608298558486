/**
 * `limen service-account create|list|show|revoke`: manage stored service
 * accounts in the store a running server uses (the config's SQLite file or
 * PostgreSQL). The server reads accounts per request, so a change applies
 * to its next request without restart or reload.
 */
import type { Config } from '../config/index.js';
import { getServiceAccount, listServiceAccounts, ServiceAccountError, type ServiceAccountView } from '../accounts/index.js';
import { cliActor, createServiceAccount, revokeServiceAccount } from '../operations/index.js';
import { parseFlags, UsageError, type CliIo, type Command } from './args.js';
import { withConfiguredStore } from './store.js';

/** Account errors that are about one flag's value (the flag, or '' when the message names it). */
const FLAG_OF_REASON: Readonly<Record<string, string>> = {
  'user-required': '', 'user-invalid': '--user', 'expiry-invalid': '--expires-in', 'role-unknown': '--role',
  'namespace-unknown': '--namespace', 'description-invalid': '--description',
};

/** Maps an account error to exit code 1 with its message (2 when it is about a flag's value); anything else propagates. */
async function reportErrors(name: string, io: CliIo, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ServiceAccountError) {
      // A flag's value the account cannot take is a usage error, like any other bad flag value.
      const flag = FLAG_OF_REASON[e.reason];
      if (flag !== undefined) throw new UsageError(flag === '' ? e.message : `${flag}: ${e.message}`);
      io.stderr(`limen service-account ${name}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

/** Refuses a namespace the config does not declare (`also` names ones to accept anyway), listing those it does. */
function checkNamespace(config: Config, namespace: string | undefined, also: readonly string[] = []): void {
  if (namespace === undefined || namespace === '') return;
  const names = config.namespaces.map((n) => n.name);
  if (names.includes(namespace) || also.includes(namespace)) return;
  throw new UsageError(`--namespace: namespace ${JSON.stringify(namespace.slice(0, 64))} is not declared in the config; namespaces: ${names.join(', ')}`);
}

function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1 || positionals[0] === '') throw new UsageError(`expected exactly one ${what}`);
  return positionals[0]!;
}

const COMMON_OPTIONS = `  --config FILE   the config the server runs with (its store and shared_secret)
  --json          print JSON
  -h, --help      this help`;

const createCommand: Command = {
  name: 'service-account create',
  summary: 'Create a service account and print its token (shown once)',
  usage: `Usage: limen service-account create --config FILE (--user ID | --as-user EMAIL|ID)
                                     [--namespace NS] [--expires-in D] [--description T]
                                     [--role admin] [--json]

Creates a service account in the store of FILE and prints its JWT on stdout.
The token is shown only this once and is never stored: keep it somewhere safe.
Use it with any of:
  Authorization: Bearer Pomerium-<jwt>
  X-Pomerium-Authorization: <jwt>
  Authorization: Pomerium <jwt>

Options:
  --user ID          a new, unique user id for the account (what policies match with "user")
  --as-user EMAIL|ID act as an existing directory user: their email and groups
                     apply, read from the directory on every request
  --namespace NS     namespace (default global); the account works on routes of
                     NS and its descendants only
  --expires-in D     a duration (30d, 12h, 90m) or an absolute ISO-8601 time
                     (2030-01-31T00:00:00Z); default: never expires
  --description T    free text shown by list and show
  --role admin       grant the admin role (the admin API under /.pomerium/api/v1/)
${COMMON_OPTIONS}`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values } = parseFlags(argv, {
      config: { type: 'string', short: 'c' },
      user: { type: 'string' },
      'as-user': { type: 'string' },
      namespace: { type: 'string' },
      'expires-in': { type: 'string' },
      description: { type: 'string' },
      role: { type: 'string', multiple: true },
      json: { type: 'boolean' },
    });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    if ((values.user === undefined) === (values['as-user'] === undefined)) throw new UsageError('give exactly one of --user ID or --as-user EMAIL|ID');
    return reportErrors('create', io, () => withConfiguredStore(values.config, io, async ({ config, ops }) => {
      checkNamespace(config, values.namespace);
      const { account, token } = await createServiceAccount(ops, cliActor(), {
        user: values.user, asUser: values['as-user'], namespace: values.namespace, expiresIn: values['expires-in'],
        description: values.description, roles: values.role,
      }, config);
      if (values.json) {
        io.stdout(JSON.stringify({ service_account: account, token }, null, 2) + '\n');
      } else {
        io.stdout(`${token}\n`);
        io.stderr(`Created service account ${account.id} (user ${account.user_id}${account.acts_as_user ? ', acting as that directory user' : ''}, namespace ${account.namespace}, ${account.expires_at ? `expires ${account.expires_at}` : 'never expires'}${account.roles?.length ? `, roles ${account.roles.join(',')}` : ''}).\nThe token above is shown only once; store it securely.\n`);
      }
      return 0;
    }));
  },
};

function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

function oneLine(s: string, max = 40): string {
  const flat = s.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

const listCommand: Command = {
  name: 'service-account list',
  summary: 'List service accounts (status, namespace, expiry, last use)',
  usage: `Usage: limen service-account list --config FILE [--namespace NS] [--json]

Lists the service accounts in the store of FILE, including revoked and
expired ones (kept for 30 days after they end). Never shows tokens.

Options:
  --namespace NS  only accounts of this namespace
${COMMON_OPTIONS}`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values } = parseFlags(argv, {
      config: { type: 'string', short: 'c' },
      namespace: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    return withConfiguredStore(values.config, io, async ({ config, store }) => {
      const now = Date.now();
      // Accounts of a namespace since removed from the config are still listed by it.
      if (values.namespace !== undefined) checkNamespace(config, values.namespace, (await listServiceAccounts(store, now)).map((a) => a.namespace));
      const accounts = await listServiceAccounts(store, now, values.namespace === undefined ? {} : { namespace: values.namespace });
      if (values.json) { io.stdout(JSON.stringify({ service_accounts: accounts }, null, 2) + '\n'); return 0; }
      if (accounts.length === 0) { io.stdout('No service accounts.\n'); return 0; }
      io.stdout(formatTable([
        ['ID', 'USER', 'NAMESPACE', 'STATUS', 'EXPIRES', 'LAST USED', 'DESCRIPTION'],
        ...accounts.map((a) => [
          a.id, a.user_id + (a.acts_as_user ? ' (as user)' : ''), a.namespace, a.status + (a.roles?.length ? ` [${a.roles.join(',')}]` : ''),
          a.expires_at ?? 'never', a.accessed_at ?? 'never', oneLine(a.description),
        ]),
      ]));
      return 0;
    });
  },
};

function describeAccount(a: ServiceAccountView): string {
  const rows: [string, string][] = [
    ['id', a.id], ['user_id', a.user_id], ['acts_as_user', a.acts_as_user ? 'yes' : 'no'], ['namespace', a.namespace],
    ['status', a.status], ['roles', (a.roles ?? []).join(', ') || '(none)'], ['description', a.description],
    ['issued_at', a.issued_at], ['expires_at', a.expires_at ?? 'never'], ['accessed_at', a.accessed_at ?? 'never'],
  ];
  if (a.revoked_at) rows.push(['revoked_at', a.revoked_at]);
  if (a.created_by) rows.push(['created_by', a.created_by]);
  if (a.revoked_by) rows.push(['revoked_by', a.revoked_by]);
  return rows.map(([k, v]) => `${k.padEnd(13)} ${v}`).join('\n') + '\n';
}

const showCommand: Command = {
  name: 'service-account show',
  summary: 'Show one service account',
  usage: `Usage: limen service-account show ID --config FILE [--json]

Shows one service account (never its token). Exits 1 if there is none with ID.

Options:
${COMMON_OPTIONS}`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseFlags(argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } }, true);
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    const id = onePositional(positionals, 'service account ID');
    return withConfiguredStore(values.config, io, async ({ store }) => {
      const account = await getServiceAccount(store, id, Date.now());
      if (!account) { io.stderr(`limen service-account show: no service account has id "${oneLine(id, 80)}"\n`); return 1; }
      io.stdout(values.json ? JSON.stringify({ service_account: account }, null, 2) + '\n' : describeAccount(account));
      return 0;
    });
  },
};

const revokeCommand: Command = {
  name: 'service-account revoke',
  summary: 'Revoke a service account (its token is refused from the next request on)',
  usage: `Usage: limen service-account revoke ID --config FILE [--json]

Revokes the service account ID in the store of FILE. A running server
refuses its token from the next request on (401 service-account-revoked),
without restart or reload. Revoking an account twice changes nothing.

Options:
${COMMON_OPTIONS}`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseFlags(argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } }, true);
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    const id = onePositional(positionals, 'service account ID');
    return reportErrors('revoke', io, () => withConfiguredStore(values.config, io, async ({ ops }) => {
      const { account, changed } = await revokeServiceAccount(ops, cliActor(), id);
      if (values.json) io.stdout(JSON.stringify({ service_account: account }, null, 2) + '\n');
      else io.stdout(changed ? `Revoked service account ${account.id} (user ${account.user_id}).\n` : `Service account ${account.id} was already revoked at ${account.revoked_at ?? ''}.\n`);
      return 0;
    }));
  },
};

/** `limen service-account create|list|show|revoke`. */
export const serviceAccountCommands: readonly Command[] = [createCommand, listCommand, showCommand, revokeCommand];
