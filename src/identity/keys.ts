import { createECDH, createHash, createPrivateKey, createPublicKey, hkdfSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { ConfigError } from '../errors/index.js';

/** One key that signs (or once signed) identity assertions. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: 'ES256' | 'RS256';
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Public JWK as published in the JWKS (with kid, alg, use). */
  readonly publicJwk: JWK;
}

/** The keys of one config: the first signs, all are published. */
export interface KeySet {
  readonly current: SigningKey;
  readonly all: readonly SigningKey[];
}

// NIST P-256 group order n (FIPS 186-4 D.1.2.3).
const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

/**
 * Derives the ES256 signing key from `shared_secret` with HKDF-SHA256 and
 * info `derived-jwt-signing-key` (CONTRACT §1), so every replica sharing
 * the secret publishes and signs with the same key.
 */
export function deriveSigningKeyPem(sharedSecret: Uint8Array): string {
  const okm = Buffer.from(hkdfSync('sha256', sharedSecret, new Uint8Array(0), 'derived-jwt-signing-key', 32));
  // Map into [1, n-1]; the bias is negligible (n is within 2^-32 of 2^256).
  const scalar = (BigInt('0x' + okm.toString('hex')) % (P256_ORDER - 1n)) + 1n;
  const d = Buffer.from(scalar.toString(16).padStart(64, '0'), 'hex');
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const pub = ecdh.getPublicKey(); // 0x04 || X || Y
  const jwk = {
    kty: 'EC', crv: 'P-256',
    x: pub.subarray(1, 33).toString('base64url'),
    y: pub.subarray(33, 65).toString('base64url'),
    d: d.toString('base64url'),
  };
  return createPrivateKey({ key: jwk, format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Builds a SigningKey from a PEM private key (EC P-256 or RSA). */
export async function signingKeyFromPem(pem: string, keyName = 'signing_key'): Promise<SigningKey> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new ConfigError(keyName, 'not a PEM private key');
  }
  let alg: 'ES256' | 'RS256';
  if (privateKey.asymmetricKeyType === 'ec' && privateKey.asymmetricKeyDetails?.namedCurve === 'prime256v1') alg = 'ES256';
  else if (privateKey.asymmetricKeyType === 'rsa') alg = 'RS256';
  else throw new ConfigError(keyName, 'expected an EC P-256 or RSA private key');
  const publicKey = createPublicKey(privateKey);
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  const kid = Buffer.from(await calculateJwkThumbprint(jwk, 'sha256'), 'base64url').toString('hex');
  return Object.freeze({ kid, alg, privateKey, publicKey, publicJwk: Object.freeze({ ...jwk, kid, alg, use: 'sig' }) });
}

/** Loads `signing_key` blocks, or derives one from `shared_secret`. */
export async function loadKeySet(signingKeys: readonly string[], sharedSecret: Uint8Array): Promise<KeySet> {
  const pems = signingKeys.length > 0 ? signingKeys : [deriveSigningKeyPem(sharedSecret)];
  const all = await Promise.all(pems.map((p, i) => signingKeyFromPem(p, signingKeys.length > 1 ? `signing_key[${i}]` : 'signing_key')));
  return Object.freeze({ current: all[0]!, all: Object.freeze(all) });
}

/** The JWKS document and its validators, computed once per key set. */
export interface JwksDocument {
  readonly body: string;
  readonly etag: string;
}

export function jwksDocument(keys: KeySet): JwksDocument {
  const body = JSON.stringify({ keys: keys.all.map((k) => k.publicJwk) });
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, etag };
}
