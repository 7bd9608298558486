/**
 * What the directory, session, audit and SCIM token commands share: the
 * store (with the CLI's operation context), the user and group lookups
 * that fail with a message, and terminal output (columns, times, JSON).
 */
import type { Store } from '../store/index.js';
import type { Config } from '../config/index.js';
import { DirectoryError, findGroup, findUserByIdOrEmail, type DirectoryGroup, type DirectoryUser } from '../accounts/index.js';
import type { OperationContext } from '../operations/index.js';
import { UsageError, type CliIo } from './args.js';
import { withConfiguredStore } from './store.js';

/** The options every directory command takes. */
export const COMMON = `  --config FILE   the config the server runs with (its store)
  -h, --help      this help`;

/** Runs `fn` with the configured store and the CLI's operation context; directory errors are exit 1 with the message. */
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

/** The one positional argument a command takes; a usage error otherwise. */
export function one(positionals: string[], what: string): string {
  if (positionals.length !== 1 || positionals[0] === '') throw new UsageError(`expected exactly one ${what}`);
  return positionals[0]!;
}

/** `--groups a,b --groups c` → [a, b, c]. */
export function splitList(values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

/** Left-aligned columns for a terminal. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** A time for a terminal, to the second (`-` when there is none). */
export function when(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Prints a value as indented JSON. */
export function json(io: CliIo, v: unknown): void {
  io.stdout(JSON.stringify(v, null, 2) + '\n');
}

/** The user with this id or email, or a DirectoryError naming the value. */
export async function userOrFail(store: Store, ref: string): Promise<DirectoryUser> {
  const u = await findUserByIdOrEmail(store, ref);
  if (!u) throw new DirectoryError('ERR_USER_NOT_FOUND', `no user with id or email "${ref}"`, 'user');
  return u;
}

/** The group with this id or name, or a DirectoryError naming the value. */
export async function groupOrFail(store: Store, ref: string): Promise<DirectoryGroup> {
  const g = await findGroup(store, ref);
  if (!g) throw new DirectoryError('ERR_GROUP_NOT_FOUND', `no group with id or name "${ref}"`, 'group');
  return g;
}

/** A user's groups by name, comma separated. */
export function groupNames(u: DirectoryUser, groups: ReadonlyMap<string, DirectoryGroup>): string {
  return u.groups.map((e) => groups.get(e)?.name ?? e).join(',');
}
