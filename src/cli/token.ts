/**
 * `limen token`: route-scoped tokens from the shared secret, flag for flag
 * the `pomerium-cli` of seed 001 (Go-style single-dash flags, with `--`
 * aliases), and `limen token revoke` to refuse one before it expires.
 */
import { compactVerify, decodeJwt } from 'jose';
import { parseDuration } from '../config/index.js';
import { mintRouteToken, MAX_JTI_LENGTH, RouteTokenSpecError } from '../accounts/index.js';
import { cliActor, revokeRouteToken } from '../operations/index.js';
import { parseFlags, UsageError, type CliIo, type Command } from './args.js';
import { withConfiguredStore } from './store.js';

type FlagKind = 'string' | 'list' | 'bool';
interface FlagSpec { readonly kind: FlagKind; readonly aliases?: readonly string[] }

/** The flags of `pomerium-cli`, plus Limen's own; each also as `--name` and in kebab case. */
const FLAGS: Readonly<Record<string, FlagSpec>> = {
  aud: { kind: 'list', aliases: ['audience'] },
  email: { kind: 'string' },
  expiry: { kind: 'string' },
  groups: { kind: 'list' },
  impersonate_email: { kind: 'string' },
  impersonate_groups: { kind: 'list' },
  iss: { kind: 'string', aliases: ['issuer'] },
  sub: { kind: 'string', aliases: ['subject'] },
  user: { kind: 'string' },
  secret_from_arg: { kind: 'bool' },
  help: { kind: 'bool', aliases: ['h'] },
};

const BY_NAME = new Map<string, string>();
for (const [name, spec] of Object.entries(FLAGS)) {
  for (const n of [name, name.replaceAll('_', '-'), ...(spec.aliases ?? [])]) BY_NAME.set(n, name);
}

/** Parsed `limen token` flags (by canonical name) and the remaining arguments. */
export interface TokenFlags {
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly positionals: readonly string[];
}

/**
 * Parses Go `flag`-style arguments: `-name value`, `-name=value`, and the
 * same with `--`; boolean flags take no value (or `=true`/`=false`). List
 * flags split on commas and may repeat. `--` ends the flags.
 */
export function parseTokenFlags(argv: readonly string[]): TokenFlags {
  const values: Record<string, string | boolean | string[] | undefined> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (!arg.startsWith('-') || arg === '-') { positionals.push(arg); continue; }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const given = eq < 0 ? body : body.slice(0, eq);
    const inline = eq < 0 ? undefined : body.slice(eq + 1);
    const name = BY_NAME.get(given);
    if (name === undefined) throw new UsageError(`flag provided but not defined: -${given.slice(0, 40)}`);
    const spec = FLAGS[name]!;
    if (spec.kind === 'bool') {
      if (inline !== undefined && inline !== 'true' && inline !== 'false') throw new UsageError(`invalid boolean value for -${given}`);
      values[name] = inline !== 'false';
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${given}`);
      value = argv[++i]!;
    }
    if (spec.kind === 'string') {
      values[name] = value;
    } else {
      const list = (values[name] as string[] | undefined) ?? [];
      list.push(...value.split(',').map((s) => s.trim()).filter((s) => s !== ''));
      values[name] = list;
    }
  }
  return { values, positionals };
}

/** Decodes standard or URL-safe base64 (padding optional, whitespace ignored); undefined if it is not base64. */
export function decodeSecret(text: string): Uint8Array | undefined {
  const compact = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) return undefined;
  const body = compact.replace(/=+$/, '');
  if (body.length % 4 === 1) return undefined;
  return new Uint8Array(Buffer.from(body.replaceAll('-', '+').replaceAll('_', '/'), 'base64'));
}

/** Reads one line from the terminal without echoing it. */
function readHiddenLine(): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    const wasRaw = stdin.isRaw;
    let line = '';
    const finish = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(wasRaw);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err); else resolve(line);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') { finish(); return; }
        if (ch === '\u0003') { finish(new Error('interrupted')); return; }
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.on('data', onData);
    stdin.resume();
  });
}

/**
 * The shared secret, in this order: the argument (only with
 * `--secret-from-arg`), `POMERIUM_SHARED_KEY`, `LIMEN_SHARED_SECRET`, stdin
 * (a hidden prompt on a terminal). A secret in argv is refused by default:
 * it would land in shell history and the process list.
 */
async function readSharedSecret(positionals: readonly string[], fromArg: boolean, io: CliIo): Promise<Uint8Array> {
  if (positionals.length > 1) throw new UsageError('expected at most one argument (the shared secret, with --secret-from-arg)');
  let text: string | undefined;
  if (positionals.length === 1) {
    if (!fromArg) {
      throw new UsageError('refusing to take the shared secret from the command line, where shell history and the process list keep it; pipe it on stdin or set POMERIUM_SHARED_KEY (or pass --secret-from-arg if you must)');
    }
    text = positionals[0];
  }
  text ??= io.env.POMERIUM_SHARED_KEY || io.env.LIMEN_SHARED_SECRET || undefined;
  if (text === undefined) {
    if (io.stdinIsTTY) {
      io.stderr('Enter the base64-encoded shared secret: ');
      text = await readHiddenLine();
    } else {
      text = await io.readStdin();
    }
  }
  const secret = decodeSecret(text.trim());
  if (!secret || secret.length !== 32) {
    throw new TokenSecretError('the shared secret must be base64 of 32 bytes, as the config\'s shared_secret');
  }
  return secret;
}

class TokenSecretError extends Error {}

/** `limen token`: mints a route-scoped token (pomerium-cli flags). */
export const tokenCommand: Command = {
  name: 'token',
  summary: 'Mint a route-scoped token from the shared secret (pomerium-cli compatible)',
  usage: `Usage: limen token [flags]   (shared secret on stdin or in POMERIUM_SHARED_KEY)

Prints a route-scoped JWT signed with the shared secret, for scripts and
end-to-end tests (the pomerium-cli of Pomerium). It works only on the hosts
in -aud and only until it expires; use it as a bearer token
(Authorization: Pomerium <jwt>) or as the _pomerium cookie value.
Revoke one early with 'limen token revoke'.

The shared secret (base64, as shared_secret in the config) is read from
POMERIUM_SHARED_KEY or LIMEN_SHARED_SECRET, else from stdin (a hidden prompt
on a terminal). A secret given as an argument is refused unless
--secret-from-arg is passed.

Flags (each also as --name; impersonate_* also as --impersonate-*):
  -aud value                 Audience: hosts, comma separated (e.g. httpbin.int.example.com,prometheus.int.example.com); required
  -email string              Email
  -expiry duration           Expiry (default 1h)
  -groups value              Groups, comma separated (e.g. admins@example.com,users@example.com)
  -impersonate_email string  Impersonation email (optional): the token acts as this user
  -impersonate_groups value  Impersonation groups (optional): the token acts with these groups
  -iss string                Issuing server (e.g. authenticate.int.example.com)
  -sub string                Subject (typically the user's id)
  -user string               User (typically the user's id)
  --secret-from-arg          accept the shared secret as the last argument (unsafe)
  -h, --help                 this help

Example:
  jwt=$(limen token -email bob@example.com -aud httpbin.example.com -sub bob -user bob -expiry 1h < secret.txt)
  curl -H "Authorization: Pomerium $jwt" https://httpbin.example.com/headers`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseTokenFlags(argv);
    if (values.help === true) { io.stdout(this.usage + '\n'); return 0; }
    const aud = (values.aud as string[] | undefined) ?? [];
    if (aud.length === 0) throw new UsageError('-aud is required: the hosts the token is for');
    const expiryText = (values.expiry as string | undefined) ?? '1h';
    const expiryMs = parseDuration(expiryText);
    if (expiryMs === undefined || expiryMs <= 0) throw new UsageError(`-expiry: expected a positive duration such as 1h or 30m, got "${expiryText.slice(0, 40)}"`);
    const spec = {
      audience: aud,
      expiryMs,
      issuer: values.iss as string | undefined,
      subject: values.sub as string | undefined,
      user: values.user as string | undefined,
      email: values.email as string | undefined,
      groups: values.groups as string[] | undefined,
      impersonateEmail: values.impersonate_email as string | undefined,
      impersonateGroups: values.impersonate_groups as string[] | undefined,
    };
    if (!spec.subject && !spec.user && !spec.email) throw new UsageError('the token needs an identity: -sub, -user or -email');
    let secret: Uint8Array;
    try {
      secret = await readSharedSecret(positionals, values.secret_from_arg === true, io);
    } catch (e) {
      if (e instanceof TokenSecretError) { io.stderr(`limen token: ${e.message}\n`); return 1; }
      throw e;
    }
    try {
      const { token } = await mintRouteToken(spec, secret, Date.now());
      io.stdout(`${token}\n`);
      return 0;
    } catch (e) {
      if (e instanceof RouteTokenSpecError) throw new UsageError(e.message);
      throw e;
    }
  },
};

/** Parses `--expires-at`: an ISO-8601 time or Unix seconds. */
function parseInstant(text: string): number | undefined {
  if (/^\d{1,12}$/.test(text)) return Number(text) * 1000;
  const t = Date.parse(text);
  return Number.isFinite(t) ? t : undefined;
}

/** `limen token revoke`: refuses a route-scoped token by `jti` from the next request on. */
export const tokenRevokeCommand: Command = {
  name: 'token revoke',
  summary: 'Revoke a route-scoped token by its jti, before it expires',
  usage: `Usage: limen token revoke JTI --config FILE [--expires-at TIME] [--json]
       limen token revoke - --config FILE      (the token itself on stdin)

Records the token id (the token's "jti" claim, also in the audit log as
details.token_id) as revoked in the store of FILE. A running server refuses
the token from its next request on (401 token-revoked).

With "-" the token is read from stdin and checked against the config's
shared_secret; its jti and exp are taken from it. Otherwise the revocation
is kept until --expires-at (the token's exp, ISO-8601 or Unix seconds), or
forever without it.

Options:
  --config FILE      the config the server runs with
  --expires-at TIME  keep the revocation until then (the token's exp)
  --json             print JSON
  -h, --help         this help`,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseFlags(argv, {
      config: { type: 'string', short: 'c' },
      'expires-at': { type: 'string' },
      json: { type: 'boolean' },
    }, true);
    if (values.help) { io.stdout(this.usage + '\n'); return 0; }
    if (positionals.length !== 1 || positionals[0] === '') throw new UsageError('expected exactly one JTI (or - to read the token from stdin)');
    if (positionals[0] === '-' && values['expires-at'] !== undefined) throw new UsageError('--expires-at is taken from the token\'s exp when it is read from stdin; drop --expires-at or give the JTI');
    return withConfiguredStore(values.config, io, async ({ config, ops }) => {
      let jti = positionals[0]!;
      let expiresAt: number | undefined;
      if (jti === '-') {
        const token = (await io.readStdin()).trim();
        try {
          await compactVerify(token, config.sharedSecret, { algorithms: ['HS256'] });
        } catch {
          io.stderr('limen token revoke: the token on stdin is not a token signed with this config\'s shared_secret\n');
          return 1;
        }
        const claims = decodeJwt(token);
        if (typeof claims.jti !== 'string' || claims.jti === '') {
          io.stderr('limen token revoke: the token has no jti, so it cannot be revoked on its own; rotate shared_secret to end it\n');
          return 1;
        }
        jti = claims.jti;
        expiresAt = typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
      } else if (values['expires-at'] !== undefined) {
        expiresAt = parseInstant(values['expires-at']);
        if (expiresAt === undefined) throw new UsageError('--expires-at: expected an ISO-8601 time or Unix seconds');
      }
      if (jti.length > MAX_JTI_LENGTH) throw new UsageError(`a token id is at most ${MAX_JTI_LENGTH} characters`);
      await revokeRouteToken(ops, cliActor(), jti, expiresAt);
      const expires = expiresAt === undefined ? null : new Date(expiresAt).toISOString();
      if (values.json) io.stdout(JSON.stringify({ revoked_token: { jti, expires_at: expires } }, null, 2) + '\n');
      else io.stdout(`Revoked token ${jti}; it is refused from the next request on.\n`);
      return 0;
    });
  },
};
