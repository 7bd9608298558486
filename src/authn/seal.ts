import { hkdfSync } from 'node:crypto';
import { EncryptJWT, jwtDecrypt, type JWTPayload } from 'jose';
import { isCompactJwe } from '../identity/index.js';

/** A 32-byte key for `purpose`, derived from a root secret with HKDF-SHA256. */
export function deriveKey(root: Uint8Array, purpose: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', root, new Uint8Array(0), `limen-${purpose}`, 32));
}

/**
 * Seals claims into a compact JWE (dir + A256GCM): confidential and
 * tamper-evident, valid for `ttlS` seconds, bound to `audience`.
 */
export async function seal(claims: JWTPayload, key: Uint8Array, audience: string, nowMs: number, ttlS: number): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return new EncryptJWT(claims)
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .setIssuedAt(iat).setExpirationTime(iat + ttlS).setAudience(audience)
    .encrypt(key);
}

/** Opens a sealed value; undefined when tampered, expired, for another audience or malformed. Never throws. */
export async function unseal(token: string, key: Uint8Array, audience: string, nowMs: number): Promise<JWTPayload | undefined> {
  if (token.length > 16 * 1024 || !isCompactJwe(token)) return undefined;
  try {
    const { payload } = await jwtDecrypt(token, key, {
      audience, currentDate: new Date(nowMs), keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'],
    });
    return payload;
  } catch {
    return undefined;
  }
}
