/**
 * Store failures with stable codes. Connection strings appear in messages only
 * with their password replaced, and driver errors are carried in `cause` as
 * scrubbed data, never as the original object (which may hold the string).
 */

import { LimenError } from '../errors/index.js';

export type StoreErrorCode =
  /** The database could not be opened or reached. */
  | 'ERR_STORE_UNAVAILABLE'
  /** The database was written by a newer Limen (unknown schema version). */
  | 'ERR_STORE_SCHEMA'
  /** The store was used after `close()`. */
  | 'ERR_STORE_CLOSED';

export class StoreError extends LimenError {
  declare readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, cause?: unknown) {
    super(code, message, { status: 503, cause });
  }
}

/**
 * Replaces the password in a connection string: the `user:password@` of a URL,
 * a `password=` query parameter, or a `password=` keyword of a libpq
 * keyword/value string. Everything else is kept so the message stays useful.
 */
export function redactConnectionString(s: string): string {
  let out = s;
  const schemeEnd = out.indexOf('://');
  if (schemeEnd !== -1) {
    const start = schemeEnd + 3;
    // The password may itself contain '@' or '/', so take the last '@' before
    // any query or fragment.
    const stops = [out.indexOf('?', start), out.indexOf('#', start)].filter((i) => i !== -1);
    const end = stops.length > 0 ? Math.min(...stops) : out.length;
    const at = out.lastIndexOf('@', end);
    if (at >= start) {
      const userinfo = out.slice(start, at);
      const colon = userinfo.indexOf(':');
      if (colon !== -1) out = `${out.slice(0, start)}${userinfo.slice(0, colon)}:***${out.slice(at)}`;
    }
  }
  out = out.replace(/([?&]password=)[^&#]*/gi, '$1***');
  out = out.replace(/(^|\s)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)/gi, '$1$2***');
  return out;
}

/** The password a connection string carries, if any, so it can be scrubbed from other text. */
function passwordOf(connectionString: string): string | undefined {
  try {
    const url = new URL(connectionString);
    const fromUrl = decodeURIComponent(url.password) || url.searchParams.get('password') || undefined;
    if (fromUrl !== undefined) return fromUrl;
  } catch {
    // Not a URL: try the keyword/value form below.
  }
  const m = /(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/i.exec(connectionString);
  if (m?.[1] === undefined) return undefined;
  return m[1].startsWith("'") ? m[1].slice(1, -1) : m[1];
}

/**
 * Turns a driver error into plain data safe to log: name, code and a message
 * with the connection string and its password removed.
 */
export function scrubCause(err: unknown, connectionString: string): { name: string; code?: string; message: string } {
  const e = err as { name?: unknown; code?: unknown; message?: unknown } | null;
  let message = typeof e?.message === 'string' ? e.message : String(err);
  if (connectionString !== '') message = message.split(connectionString).join(redactConnectionString(connectionString));
  const password = passwordOf(connectionString);
  if (password !== undefined && password !== '') message = message.split(password).join('***');
  const out: { name: string; code?: string; message: string } = {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message,
  };
  if (typeof e?.code === 'string') out.code = e.code;
  return out;
}
