import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import type { Store, StoredRecord } from '../store/index.js';
import type { IdpTokens } from './oidc.js';

export const SESSION_TYPE = 'session';

/** Who an administrator is impersonating (CONTRACT §6). */
export interface Impersonation {
  readonly user: string;
  readonly email: string;
  readonly name: string;
  readonly groups: readonly string[];
  readonly startedAt: number;
}

/** A signed-in user's session as stored (IdP tokens encrypted at rest). */
export interface SessionData {
  readonly id: string;
  readonly userId: string;
  readonly email: string;
  readonly name: string;
  readonly groups: readonly string[];
  readonly claims: Readonly<Record<string, unknown>>;
  readonly issuedAt: number;
  /** `cookie_expire` after issue; the session ends then whatever the IdP says. */
  readonly expiresAt: number;
  /** When the IdP's tokens expire; refresh happens before this. */
  readonly tokenExpiresAt: number | undefined;
  readonly refreshedAt: number | undefined;
  /** AES-256-GCM sealed IdP tokens. */
  readonly sealedTokens: string | undefined;
  readonly impersonation?: Impersonation | undefined;
  /** `session` for browser sign-in, `programmatic` for the login API. */
  readonly source?: string;
}

export interface IdpTokenSet {
  readonly idToken: string | undefined;
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
}

/** The `groups` claim as a string list, whatever shape the IdP used. */
export function groupsFromClaims(claims: Readonly<Record<string, unknown>>): string[] {
  const g = claims.groups;
  if (Array.isArray(g)) return g.filter((x): x is string => typeof x === 'string');
  if (typeof g === 'string' && g.length > 0) return [g];
  return [];
}

/**
 * Sessions over the store. IdP tokens are sealed with a key derived from
 * `shared_secret` so a copy of the database does not hand them out.
 */
export class SessionStore {
  constructor(private readonly store: Store, private readonly tokenKey: Uint8Array, private readonly now: () => number = Date.now) {}

  /** Creates a session from a completed sign-in. */
  async create(t: IdpTokens, lifetimeMs: number, source = 'session'): Promise<SessionData> {
    const now = this.now();
    const claims = t.claims;
    const s: SessionData = {
      id: randomUUID(),
      userId: String(claims.sub ?? ''),
      email: typeof claims.email === 'string' ? claims.email : '',
      name: typeof claims.name === 'string' ? claims.name : '',
      groups: groupsFromClaims(claims),
      claims,
      issuedAt: now,
      expiresAt: now + lifetimeMs,
      tokenExpiresAt: t.expiresAt,
      refreshedAt: undefined,
      sealedTokens: this.sealTokens({ idToken: t.idToken, accessToken: t.accessToken, refreshToken: t.refreshToken }),
      source,
    };
    await this.store.put(SESSION_TYPE, s.id, s, { index: s.userId, expiresAt: s.expiresAt }, now);
    return s;
  }

  async get(id: string): Promise<StoredRecord<SessionData> | null> {
    return this.store.get<SessionData>(SESSION_TYPE, id, this.now());
  }

  /**
   * Writes a change back over a live session; null when the session is gone
   * (signed out, revoked or expired while the change was being made), which
   * is never undone by writing it again.
   */
  async save(s: SessionData): Promise<StoredRecord<SessionData> | null> {
    return this.store.replace(SESSION_TYPE, s.id, s, { index: s.userId, expiresAt: s.expiresAt }, this.now());
  }

  /** Applies a refresh: new tokens and claims, impersonation ended (CONTRACT §4). */
  async applyRefresh(s: SessionData, t: IdpTokens): Promise<StoredRecord<SessionData> | null> {
    const claims = t.claims;
    return this.save({
      ...s,
      claims,
      email: typeof claims.email === 'string' ? claims.email : s.email,
      name: typeof claims.name === 'string' ? claims.name : s.name,
      groups: groupsFromClaims(claims),
      tokenExpiresAt: t.expiresAt,
      refreshedAt: this.now(),
      sealedTokens: this.sealTokens({ idToken: t.idToken, accessToken: t.accessToken, refreshToken: t.refreshToken }),
      impersonation: undefined,
    });
  }

  async delete(id: string): Promise<boolean> {
    return this.store.delete(SESSION_TYPE, id);
  }

  async listByUser(userId?: string): Promise<StoredRecord<SessionData>[]> {
    return this.store.list<SessionData>(SESSION_TYPE, userId === undefined ? {} : { index: userId }, this.now());
  }

  tokens(s: SessionData): IdpTokenSet | undefined {
    if (!s.sealedTokens) return undefined;
    try {
      const buf = Buffer.from(s.sealedTokens, 'base64url');
      const iv = buf.subarray(0, 12);
      const tag = buf.subarray(12, 28);
      const d = createDecipheriv('aes-256-gcm', this.tokenKey, iv);
      d.setAuthTag(tag);
      const plain = Buffer.concat([d.update(buf.subarray(28)), d.final()]).toString('utf8');
      return JSON.parse(plain) as IdpTokenSet;
    } catch {
      return undefined;
    }
  }

  private sealTokens(t: IdpTokenSet): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.tokenKey, iv);
    const ct = Buffer.concat([c.update(JSON.stringify(t), 'utf8'), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64url');
  }
}
