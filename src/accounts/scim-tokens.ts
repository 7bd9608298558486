/**
 * The bearer tokens SCIM 2.0 clients authenticate with (web/scim serves the
 * protocol): made by `limen scim token create` or the console, shown once;
 * only their SHA-256 is stored (they are 256-bit random, so a fast hash is
 * enough).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/index.js';

export const SCIM_TOKEN_TYPE = 'scim_token';
/**
 * When a SCIM token was last used, kept apart from the token record (as
 * for service accounts): the store has no compare-and-swap, so a request
 * writing `lastUsedAt` into the token record could put back a copy read
 * before a revocation and so undo it. Requests never write the token
 * record; only create and revoke do.
 */
export const SCIM_TOKEN_USE_TYPE = 'scim_token_use';
const TOKEN_PREFIX = 'lscim';

/** A stored SCIM bearer token: never the token itself. */
export interface ScimTokenRecord {
  readonly id: string;
  readonly description: string;
  /** Hex SHA-256 of the whole token. */
  readonly hash: string;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly lastUsedAt?: number | undefined;
  readonly revokedAt?: number | undefined;
}

/** Creates a token; the returned `token` is shown once and never stored. */
export async function createScimToken(store: Store, o: { description: string; createdBy: string }, now: number): Promise<{ token: string; record: ScimTokenRecord }> {
  const id = randomBytes(8).toString('hex');
  const token = `${TOKEN_PREFIX}.${id}.${randomBytes(32).toString('base64url')}`;
  const record: ScimTokenRecord = { id, description: o.description.slice(0, 256), hash: sha256(token), createdAt: now, createdBy: o.createdBy };
  await store.put(SCIM_TOKEN_TYPE, id, record, {}, now);
  return { token, record };
}

/** Every token, with when it was last used. */
export async function listScimTokens(store: Store): Promise<ScimTokenRecord[]> {
  const [tokens, uses] = await Promise.all([store.list<ScimTokenRecord>(SCIM_TOKEN_TYPE), store.list<{ lastUsedAt?: unknown }>(SCIM_TOKEN_USE_TYPE)]);
  const used = new Map(uses.map((u) => [u.id, typeof u.data.lastUsedAt === 'number' ? u.data.lastUsedAt : undefined]));
  return tokens.map((r) => {
    // Records written before uses were kept apart may carry their own lastUsedAt.
    const last = Math.max(used.get(r.id) ?? -Infinity, r.data.lastUsedAt ?? -Infinity);
    return Number.isFinite(last) ? { ...r.data, lastUsedAt: last } : r.data;
  });
}

/** Revokes a token (kept, marked, for the record); undefined when unknown. */
export async function revokeScimToken(store: Store, id: string, now: number): Promise<ScimTokenRecord | undefined> {
  const rec = await store.get<ScimTokenRecord>(SCIM_TOKEN_TYPE, id);
  if (!rec) return undefined;
  if (rec.data.revokedAt !== undefined) return rec.data;
  const revoked = { ...rec.data, revokedAt: now };
  await store.put(SCIM_TOKEN_TYPE, id, revoked, {}, now);
  return revoked;
}

const LAST_USED_GRANULARITY_MS = 60_000;

/**
 * Checks a presented bearer token: well-formed, known, not revoked, hash
 * equal in constant time. Returns the record or undefined. Records the use
 * in its own record, never by rewriting the token record.
 */
export async function verifyScimToken(store: Store, presented: string, now: number): Promise<ScimTokenRecord | undefined> {
  const parts = presented.split('.');
  if (parts.length !== 3 || parts[0] !== TOKEN_PREFIX || !/^[0-9a-f]{16}$/.test(parts[1]!) || presented.length > 200) return undefined;
  const rec = await store.get<ScimTokenRecord>(SCIM_TOKEN_TYPE, parts[1]!);
  if (!rec || rec.data.revokedAt !== undefined) return undefined;
  const want = Buffer.from(rec.data.hash, 'hex');
  const got = Buffer.from(sha256(presented), 'hex');
  if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
  const use = await store.get<{ lastUsedAt?: unknown }>(SCIM_TOKEN_USE_TYPE, rec.id);
  const last = typeof use?.data.lastUsedAt === 'number' ? use.data.lastUsedAt : undefined;
  if (last === undefined || now - last > LAST_USED_GRANULARITY_MS) {
    await store.put(SCIM_TOKEN_USE_TYPE, rec.id, { lastUsedAt: now }, {}, now);
  }
  return rec.data;
}

function sha256(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}
