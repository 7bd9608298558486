/**
 * Stored service accounts (CONTRACT §5): machine identities an administrator
 * creates, scoped to a namespace, optionally expiring, revocable at once.
 * The record lives in the store; its JWT (HS256 over `shared_secret`,
 * `jti` = account id, `sub` = user id) is returned once by `create` and
 * never stored or logged. Every request re-reads the record, so a
 * revocation made by the CLI or another replica applies to the next request.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import type { NamespaceConfig } from '../config/index.js';
import { parseDuration } from '../config/index.js';
import { LimenError } from '../errors/index.js';
import type { Caller, TokenResolver } from '../authn/index.js';
import type { Store, StoredRecord } from '../store/index.js';
import { findDirectoryUserByEmail, getDirectoryUser, USER_TYPE, type DirectoryUser } from './directory.js';
import { namespaceCovers, namespaceExists, ROOT_NAMESPACE } from './namespaces.js';

export const SERVICE_ACCOUNT_TYPE = 'service_account';
/**
 * When an account was last used, kept apart from the account record: the
 * store has no compare-and-swap, so a request writing `accessed_at` into
 * the account record could overwrite a revocation committed a moment
 * earlier by the CLI. Revocations and expiry live only in the account
 * record, which requests never write.
 */
export const SERVICE_ACCOUNT_ACCESS_TYPE = 'service_account_access';

export const SERVICE_ACCOUNT_ROLES = ['admin'] as const;
export type ServiceAccountRole = (typeof SERVICE_ACCOUNT_ROLES)[number];

/** `accessed_at` is written at most about this often per account. */
export const ACCESS_WRITE_INTERVAL_MS = 60_000;
/** Revoked and expired accounts stay listable this long, then the store purges them. */
export const RETENTION_AFTER_END_MS = 30 * 24 * 60 * 60 * 1000;

const MAX_USER_ID = 256;
const MAX_DESCRIPTION = 1024;
// Controls, and lone surrogates (in `u` mode the class matches only an unpaired
// one), which no store can keep: a user id with one was a 500.
const CONTROL = /[\u0000-\u001f\u007f\uD800-\uDFFF]/u;

/** The stored record (store type `service_account`); times are ISO-8601. */
export interface ServiceAccountRecord {
  readonly id: string;
  readonly user_id: string;
  readonly namespace: string;
  readonly description: string;
  readonly expires_at?: string | undefined;
  readonly issued_at: string;
  /** As written at creation (null); the live value is in the access record, merged by the readers below. */
  readonly accessed_at: string | null;
  readonly revoked_at?: string | undefined;
  readonly roles?: readonly ServiceAccountRole[] | undefined;
  /** Acts as the existing directory user `user_id`: email and groups come from the directory at request time. */
  readonly acts_as_user?: boolean | undefined;
  /** Who created / revoked it (email, user id, or `cli:<os user>`). */
  readonly created_by?: string | undefined;
  readonly revoked_by?: string | undefined;
}

export type ServiceAccountStatus = 'active' | 'revoked' | 'expired';

/** A record as shown by the API and CLI: the live `accessed_at` and a status. */
export interface ServiceAccountView extends ServiceAccountRecord {
  readonly status: ServiceAccountStatus;
}

/** Why a service-account operation was refused; `reason` is stable, the message safe to show. */
export class ServiceAccountError extends LimenError {
  readonly reason: string;
  constructor(reason: string, message: string, status = 400) {
    super(status === 404 ? 'ERR_SERVICE_ACCOUNT_NOT_FOUND' : 'ERR_SERVICE_ACCOUNT_INVALID', message, { status, cause: { reason } });
    this.reason = reason;
  }
}

/** What `create` needs: exactly one of `user` (a new id) or `asUser` (an existing directory user's email or id). */
export interface CreateServiceAccountInput {
  readonly user?: string | undefined;
  readonly asUser?: string | undefined;
  readonly namespace?: string | undefined;
  /** A Go-style duration (`30d`, `12h`) or an absolute ISO-8601 time. */
  readonly expiresIn?: string | undefined;
  readonly description?: string | undefined;
  readonly roles?: readonly string[] | undefined;
  readonly createdBy?: string | undefined;
}

export interface ServiceAccountContext {
  readonly store: Store;
  readonly sharedSecret: Uint8Array;
  readonly namespaces: readonly NamespaceConfig[];
  readonly now: number;
}

/**
 * Parses an expiry: a positive duration from `now` (`90m`, `30d`) or an
 * absolute time (`2030-01-31`, `2030-01-31T12:00:00Z`) in the future.
 * Returns ms since epoch, rounded down to a whole second (JWT `exp`).
 */
export function parseExpiry(text: string, now: number): number {
  const t = text.trim();
  const d = parseDuration(t);
  let at: number;
  if (d !== undefined) {
    if (d <= 0) throw new ServiceAccountError('expiry-invalid', `expiry must be a positive duration, got "${t}"`);
    at = now + d;
  } else if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)) {
    at = Date.parse(t);
    if (!Number.isFinite(at)) throw new ServiceAccountError('expiry-invalid', `expiry "${t}" is not a valid date`);
    if (at <= now) throw new ServiceAccountError('expiry-invalid', `expiry "${t}" is in the past`);
  } else {
    throw new ServiceAccountError('expiry-invalid', `expiry must be a duration such as 30d or 12h, or an ISO-8601 time, got "${t.slice(0, 40)}"`);
  }
  if (at > 8.64e15) throw new ServiceAccountError('expiry-invalid', 'expiry is too far in the future');
  return Math.floor(at / 1000) * 1000;
}

function checkText(value: string | undefined, what: string, max: number, reason: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ServiceAccountError(reason, `${what} must be a string`);
  if (value.length > max) throw new ServiceAccountError(reason, `${what} is longer than ${max} characters`);
  if (CONTROL.test(value)) throw new ServiceAccountError(reason, `${what} must not contain control characters or unpaired surrogates`);
  return value;
}

/** Finds a directory user by email (when it has an `@`) or id, falling back to the other. */
export async function findDirectoryUser(store: Store, emailOrId: string): Promise<DirectoryUser | undefined> {
  if (emailOrId.includes('@')) return (await findDirectoryUserByEmail(store, emailOrId)) ?? getDirectoryUser(store, emailOrId);
  return (await getDirectoryUser(store, emailOrId)) ?? findDirectoryUserByEmail(store, emailOrId);
}

/** Signs an account's JWT: HS256 over `shared_secret`, `jti` = id, `sub` = user id, `iat`, `nbf`, `exp` when it expires. */
export async function signServiceAccountToken(rec: ServiceAccountRecord, sharedSecret: Uint8Array): Promise<string> {
  const iat = Math.floor(Date.parse(rec.issued_at) / 1000);
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setJti(rec.id).setSubject(rec.user_id).setIssuedAt(iat).setNotBefore(iat);
  if (rec.expires_at !== undefined) jwt.setExpirationTime(Math.floor(Date.parse(rec.expires_at) / 1000));
  return jwt.sign(sharedSecret);
}

function storeExpiry(rec: ServiceAccountRecord, now: number): number | undefined {
  const ends = [
    rec.expires_at === undefined ? undefined : Date.parse(rec.expires_at),
    rec.revoked_at === undefined ? undefined : Math.max(now, Date.parse(rec.revoked_at)),
  ].filter((x): x is number => x !== undefined);
  return ends.length === 0 ? undefined : Math.min(...ends) + RETENTION_AFTER_END_MS;
}

/**
 * Creates an account and returns it with its JWT, which is the only copy:
 * the caller shows it once. With `asUser` the account acts as that existing
 * directory user; with `user` the id must not belong to a directory user
 * (use `asUser` for that), so policies on `user` never match a person by accident.
 */
export async function createServiceAccount(
  input: CreateServiceAccountInput, c: ServiceAccountContext,
): Promise<{ account: ServiceAccountView; token: string }> {
  const hasUser = input.user !== undefined && input.user !== '';
  const hasAsUser = input.asUser !== undefined && input.asUser !== '';
  if (hasUser === hasAsUser) {
    throw new ServiceAccountError('user-required', 'give exactly one of a new user id (--user) or an existing directory user (--as-user)');
  }
  let userId: string;
  let actsAsUser = false;
  if (hasAsUser) {
    const key = checkText(input.asUser, 'as-user', 320, 'as-user-invalid')!;
    const dir = await findDirectoryUser(c.store, key);
    if (!dir) throw new ServiceAccountError('as-user-unknown', 'no directory user has that email or id; the user must sign in once or be added to the directory first');
    if (dir.active === false) throw new ServiceAccountError('as-user-inactive', 'that directory user is deactivated');
    userId = dir.id;
    actsAsUser = true;
  } else {
    userId = checkText(input.user, 'user id', MAX_USER_ID, 'user-invalid')!.trim();
    if (userId === '') throw new ServiceAccountError('user-invalid', 'user id must not be empty');
    if (await c.store.get(USER_TYPE, userId, c.now) || (userId.includes('@') && await findDirectoryUserByEmail(c.store, userId))) {
      throw new ServiceAccountError('user-exists', 'a directory user already has that id; to act as that user, use --as-user', 409);
    }
  }
  const namespace = input.namespace === undefined || input.namespace === '' ? ROOT_NAMESPACE : input.namespace;
  if (!namespaceExists(c.namespaces, namespace)) {
    throw new ServiceAccountError('namespace-unknown', `namespace "${namespace.slice(0, 64)}" is not declared in the config's namespaces`);
  }
  const description = checkText(input.description, 'description', MAX_DESCRIPTION, 'description-invalid') ?? '';
  const roles = [...new Set(input.roles ?? [])];
  for (const r of roles) {
    if (!(SERVICE_ACCOUNT_ROLES as readonly string[]).includes(r)) {
      throw new ServiceAccountError('role-unknown', `unknown role "${String(r).slice(0, 32)}"; known roles: ${SERVICE_ACCOUNT_ROLES.join(', ')}`);
    }
  }
  const expiresAt = input.expiresIn === undefined || input.expiresIn === '' ? undefined : parseExpiry(input.expiresIn, c.now);
  // iat is a whole second: the record and the token must agree.
  const issued = Math.floor(c.now / 1000) * 1000;
  const rec: ServiceAccountRecord = {
    id: randomUUID(),
    user_id: userId,
    namespace,
    description,
    ...(expiresAt === undefined ? {} : { expires_at: new Date(expiresAt).toISOString() }),
    issued_at: new Date(issued).toISOString(),
    accessed_at: null,
    ...(roles.length > 0 ? { roles: roles as ServiceAccountRole[] } : {}),
    ...(actsAsUser ? { acts_as_user: true } : {}),
    ...(input.createdBy ? { created_by: input.createdBy } : {}),
  };
  await c.store.put(SERVICE_ACCOUNT_TYPE, rec.id, rec, { index: userId, expiresAt: storeExpiry(rec, c.now) }, c.now);
  const token = await signServiceAccountToken(rec, c.sharedSecret);
  return { account: view(rec, undefined, c.now), token };
}

/** The status of a record at `now`. */
export function serviceAccountStatus(rec: ServiceAccountRecord, now: number): ServiceAccountStatus {
  if (rec.revoked_at !== undefined) return 'revoked';
  if (rec.expires_at !== undefined && Date.parse(rec.expires_at) <= now) return 'expired';
  return 'active';
}

function view(rec: ServiceAccountRecord, accessedAt: string | undefined, now: number): ServiceAccountView {
  return { ...rec, accessed_at: accessedAt ?? rec.accessed_at, status: serviceAccountStatus(rec, now) };
}

async function accessedAt(store: Store, id: string, now: number): Promise<string | undefined> {
  const a = await store.get<{ accessed_at?: unknown }>(SERVICE_ACCOUNT_ACCESS_TYPE, id, now);
  return typeof a?.data.accessed_at === 'string' ? a.data.accessed_at : undefined;
}

/** One account with its live `accessed_at`, or undefined. */
export async function getServiceAccount(store: Store, id: string, now: number): Promise<ServiceAccountView | undefined> {
  const rec = await store.get<ServiceAccountRecord>(SERVICE_ACCOUNT_TYPE, id, now);
  if (!rec) return undefined;
  return view(rec.data, await accessedAt(store, id, now), now);
}

/** Every account (optionally of one namespace or user id), ordered by id. */
export async function listServiceAccounts(store: Store, now: number, filter: { namespace?: string; userId?: string } = {}): Promise<ServiceAccountView[]> {
  const [recs, access] = await Promise.all([
    store.list<ServiceAccountRecord>(SERVICE_ACCOUNT_TYPE, filter.userId === undefined ? {} : { index: filter.userId }, now),
    store.list<{ accessed_at?: unknown }>(SERVICE_ACCOUNT_ACCESS_TYPE, {}, now),
  ]);
  const seen = new Map(access.map((a) => [a.id, typeof a.data.accessed_at === 'string' ? a.data.accessed_at : undefined]));
  return recs
    .filter((r) => filter.namespace === undefined || r.data.namespace === filter.namespace)
    .map((r) => view(r.data, seen.get(r.id), now));
}

/**
 * Revokes an account: from the next request on (on every replica and CLI
 * sharing the store) its token is refused with `service-account-revoked`.
 * Revoking twice keeps the first revocation time.
 */
export async function revokeServiceAccount(store: Store, id: string, now: number, by?: string): Promise<{ account: ServiceAccountView; changed: boolean }> {
  const rec = await store.get<ServiceAccountRecord>(SERVICE_ACCOUNT_TYPE, id, now);
  if (!rec) throw new ServiceAccountError('not-found', 'no service account has that id', 404);
  if (rec.data.revoked_at !== undefined) return { account: view(rec.data, await accessedAt(store, id, now), now), changed: false };
  const next: ServiceAccountRecord = { ...rec.data, revoked_at: new Date(now).toISOString(), ...(by ? { revoked_by: by } : {}) };
  await store.put(SERVICE_ACCOUNT_TYPE, id, next, { index: next.user_id, expiresAt: storeExpiry(next, now) }, now);
  return { account: view(next, await accessedAt(store, id, now), now), changed: true };
}

/** True for a service-account caller whose record grants the admin role (never while impersonating). */
export function isServiceAccountAdmin(c: Caller): boolean {
  return c.kind === 'service_account' && c.impersonator === undefined && c.roles?.includes('admin') === true;
}

export interface ServiceAccountResolverDeps {
  readonly store: Store;
  readonly now: () => number;
  /** The namespace tree of the current config. */
  readonly namespaces: () => readonly NamespaceConfig[];
  /** Told when recording `accessed_at` fails (the request goes on). */
  readonly onAccessWriteFailed?: (error: unknown) => void;
}

/**
 * The token resolver for stored service accounts. A token is one of ours
 * when its `jti` names a stored account, or when it has the shape of one
 * (`jti`, `sub`, `nbf`, no `aud`; session handles carry `aud`). Valid while
 * the record exists, is not revoked or expired, `sub` matches, and (acting
 * as a user) that user is still in the directory and active; outside the
 * account's namespace it is `namespace-unauthorized` (403).
 */
export function serviceAccountResolver(deps: ServiceAccountResolverDeps): TokenResolver {
  // When this replica last wrote (or saw) each account's access time: it
  // keeps the per-request cost to nothing for busy accounts. Once a minute
  // the stored value is read first, so replicas sharing a store also write
  // at most about once a minute between them.
  const lastSeen = new Map<string, number>();
  const recordAccess = async (id: string, expiresAt: number | undefined, now: number): Promise<void> => {
    const stored = await accessedAt(deps.store, id, now);
    const storedAt = stored === undefined ? undefined : Date.parse(stored);
    if (storedAt !== undefined && now - storedAt < ACCESS_WRITE_INTERVAL_MS && now >= storedAt) {
      lastSeen.set(id, storedAt);
      return;
    }
    await deps.store.put(SERVICE_ACCOUNT_ACCESS_TYPE, id, { accessed_at: new Date(now).toISOString() }, { expiresAt }, now);
  };
  const touch = (id: string, expiresAt: number | undefined, now: number): void => {
    const last = lastSeen.get(id);
    if (last !== undefined && now - last < ACCESS_WRITE_INTERVAL_MS && now >= last) return;
    if (lastSeen.size >= 10_000) {
      for (const [k, t] of lastSeen) if (now - t >= ACCESS_WRITE_INTERVAL_MS) lastSeen.delete(k);
      if (lastSeen.size >= 10_000) lastSeen.clear();
    }
    lastSeen.set(id, now);
    recordAccess(id, expiresAt, now).catch((e: unknown) => { lastSeen.delete(id); deps.onAccessWriteFailed?.(e); });
  };

  return async (claims: JWTPayload, _host: string, routeNamespace: string) => {
    if (typeof claims.jti !== 'string' || claims.aud !== undefined) return undefined;
    const now = deps.now();
    const stored = await deps.store.get<ServiceAccountRecord>(SERVICE_ACCOUNT_TYPE, claims.jti, now);
    if (!stored) {
      const shaped = typeof claims.sub === 'string' && typeof claims.nbf === 'number';
      return shaped ? { failure: 'service-account-unknown' } : undefined;
    }
    const rec = stored.data;
    if (claims.sub !== rec.user_id) return { failure: 'token-claims-invalid' };
    if (rec.revoked_at !== undefined) return { failure: 'service-account-revoked' };
    if (rec.expires_at !== undefined && Date.parse(rec.expires_at) <= now) return { failure: 'service-account-expired' };
    // A token minted before the account's issue time was not issued by create().
    if (typeof claims.iat === 'number' && claims.iat * 1000 < Date.parse(rec.issued_at)) return { failure: 'token-claims-invalid' };

    let email = '';
    let name = '';
    let groups: readonly string[] = [];
    let dirVersion = 0;
    if (rec.acts_as_user === true) {
      const dir = await deps.store.get<DirectoryUser>(USER_TYPE, rec.user_id, now);
      if (!dir) return { failure: 'service-account-user-unknown' };
      if (dir.data.active === false) return { failure: 'service-account-user-inactive' };
      email = dir.data.email;
      name = dir.data.name;
      groups = [...dir.data.groups];
      dirVersion = dir.version;
    }
    const caller = serviceAccountCaller(stored, { email, name, groups }, dirVersion);
    if (!namespaceCovers(deps.namespaces(), rec.namespace, routeNamespace)) {
      return { caller, outOfScope: 'namespace-unauthorized' };
    }
    touch(rec.id, stored.expiresAt, now);
    return { caller };
  };
}

function serviceAccountCaller(
  stored: StoredRecord<ServiceAccountRecord>, who: { email: string; name: string; groups: readonly string[] }, dirVersion: number,
): Caller {
  const rec = stored.data;
  const claims = { sub: rec.user_id, user: rec.user_id, email: who.email, groups: [...who.groups], name: who.name };
  return {
    kind: 'service_account',
    policy: { user: rec.user_id, email: who.email, groups: who.groups, claims, sessionId: rec.id, serviceAccountId: rec.id },
    assertion: {
      cacheKey: `sa:${rec.id}:${stored.version}:${dirVersion}`,
      user: rec.user_id, email: who.email, name: who.name, groups: who.groups, sid: rec.id, claims,
    },
    roles: rec.roles ?? [],
  };
}
