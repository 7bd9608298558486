// Test fixtures: real keys, a real JWKS server on loopback, and assertions minted the way Limen mints them.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export const HOST = 'app.example.com';
/** 2025-01-01T00:00:00Z: every test runs at this frozen instant unless it moves the clock. */
export const T0 = Date.UTC(2025, 0, 1);

export interface TestKey {
  readonly alg: 'ES256' | 'RS256';
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

/** A fresh key pair whose kid is the hex SHA-256 JWK thumbprint (CONTRACT §2). */
export async function makeKey(alg: 'ES256' | 'RS256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = Buffer.from(await calculateJwkThumbprint(jwk, 'sha256'), 'base64url').toString('hex');
  return { alg, kid, privateKey, publicJwk: { ...jwk, kid, alg, use: 'sig' } };
}

/** The claims Limen puts in an assertion for `host` at `nowMs`. */
export function limenClaims(nowMs: number, host = HOST): Record<string, unknown> {
  const iat = Math.floor(nowMs / 1000);
  return {
    iss: host,
    aud: host,
    jti: 'f0e1d2c3-0000-4000-8000-000000000001',
    iat,
    exp: iat + 300,
    sub: 'user-123',
    user: 'user-123',
    email: 'ada@example.com',
    groups: ['admins', 'eng'],
    sid: 'session-9',
    name: 'Ada Lovelace',
  };
}

/** Signs `claims` with `key`; `header` overrides the protected header. */
export async function mint(key: TestKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

export interface JwksServer {
  readonly url: string;
  /** The keys served; replace to rotate. */
  keys: JWK[];
  /** When set, the server answers with this status and no JWKS. */
  failWith: number | undefined;
  /** When set, served verbatim instead of the key set. */
  rawBody: string | undefined;
  /** Requests served so far. */
  hits: number;
  close(): Promise<void>;
}

/** A JWKS endpoint at /.well-known/pomerium/jwks.json on 127.0.0.1, ephemeral port. */
export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  const state = { keys, failWith: undefined as number | undefined, rawBody: undefined as string | undefined, hits: 0 };
  const server: Server = createServer((req, res) => {
    if (req.url !== '/.well-known/pomerium/jwks.json') {
      res.statusCode = 404;
      res.end();
      return;
    }
    state.hits += 1;
    if (state.failWith !== undefined) {
      res.statusCode = state.failWith;
      res.end('unavailable');
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.setHeader('cache-control', 'max-age=60');
    res.end(state.rawBody ?? JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/.well-known/pomerium/jwks.json`,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  });
}

/** A clock the test moves by hand. */
export function frozenClock(start = T0): { now: () => number; set(ms: number): void; advance(ms: number): void } {
  let current = start;
  return {
    now: () => current,
    set: (ms) => {
      current = ms;
    },
    advance: (ms) => {
      current += ms;
    },
  };
}

/** Base64url of a JSON value or raw string, for hand-built tokens. */
export function b64(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}
