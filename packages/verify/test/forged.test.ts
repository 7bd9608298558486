// A table of forged and broken assertions, each refused with its own code.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CompactSign, exportSPKI, importJWK, SignJWT, UnsecuredJWT, type CryptoKey } from 'jose';
import { createVerifier, isVerifyError, MAX_TOKEN_LENGTH, type VerifyErrorCode } from '../src/index.js';
import { b64, HOST, limenClaims, makeKey, mint, startJwksServer, T0, type JwksServer, type TestKey } from './fixtures.js';

let es: TestKey;
let rs: TestKey;
let jwks: JwksServer;

before(async () => {
  es = await makeKey('ES256');
  rs = await makeKey('RS256');
  jwks = await startJwksServer([es.publicJwk, rs.publicJwk]);
});
after(() => jwks.close());

const now = T0 / 1000;

function tamperPayload(token: string, change: Record<string, unknown>): string {
  const [h, p, s] = token.split('.') as [string, string, string];
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  return `${h}.${b64({ ...payload, ...change })}.${s}`;
}

function flipSignature(token: string): string {
  const [h, p, s] = token.split('.') as [string, string, string];
  const bytes = Buffer.from(s, 'base64url');
  bytes[5] = (bytes[5] ?? 0) ^ 0x01;
  return `${h}.${p}.${bytes.toString('base64url')}`;
}

async function hmac(secret: string, header: Record<string, unknown>): Promise<string> {
  return new SignJWT(limenClaims(T0)).setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...header }).sign(new TextEncoder().encode(secret));
}

interface Case {
  readonly name: string;
  readonly token: () => Promise<string>;
  readonly want: VerifyErrorCode;
}

function cases(): Case[] {
  const good = () => mint(es, limenClaims(T0));
  const without = (claim: string) => async () => {
    const claims = limenClaims(T0);
    delete claims[claim];
    return mint(es, claims);
  };
  const withClaim = (change: Record<string, unknown>) => () => mint(es, { ...limenClaims(T0), ...change });
  return [
    // Algorithm confusion.
    { name: 'alg none, unsigned', token: async () => new UnsecuredJWT(limenClaims(T0)).encode(), want: 'ERR_ALG_NOT_ALLOWED' },
    { name: 'alg none with a kid and a signature', token: async () => `${b64({ alg: 'none', kid: es.kid })}.${b64(limenClaims(T0))}.AAAA`, want: 'ERR_ALG_NOT_ALLOWED' },
    { name: 'alg None (case)', token: async () => `${b64({ alg: 'None', kid: es.kid })}.${b64(limenClaims(T0))}.`, want: 'ERR_ALG_NOT_ALLOWED' },
    { name: 'alg missing', token: async () => `${b64({ kid: es.kid, typ: 'JWT' })}.${b64(limenClaims(T0))}.AAAA`, want: 'ERR_ALG_NOT_ALLOWED' },
    { name: 'alg not a string', token: async () => `${b64({ alg: ['ES256'], kid: es.kid })}.${b64(limenClaims(T0))}.AAAA`, want: 'ERR_ALG_NOT_ALLOWED' },
    { name: 'HS256 with the EC public key PEM as secret', token: async () => hmac(await exportSPKI(await publicKeyOf(es)), { kid: es.kid }), want: 'ERR_ALG_NOT_ALLOWED' },
    { name: 'HS256 with the RSA public key PEM as secret', token: async () => hmac(await exportSPKI(await publicKeyOf(rs)), { kid: rs.kid }), want: 'ERR_ALG_NOT_ALLOWED' },
    { name: 'HS256 with the public JWK JSON as secret', token: async () => hmac(JSON.stringify(es.publicJwk), { kid: es.kid }), want: 'ERR_ALG_NOT_ALLOWED' },
    { name: 'HS512', token: async () => new SignJWT(limenClaims(T0)).setProtectedHeader({ alg: 'HS512', kid: es.kid }).sign(new Uint8Array(64)), want: 'ERR_ALG_NOT_ALLOWED' },
    { name: 'ES384 (not Limen)', token: async () => `${b64({ alg: 'ES384', kid: es.kid })}.${b64(limenClaims(T0))}.AAAA`, want: 'ERR_ALG_NOT_ALLOWED' },
    { name: 'PS256 (not Limen)', token: async () => `${b64({ alg: 'PS256', kid: rs.kid })}.${b64(limenClaims(T0))}.AAAA`, want: 'ERR_ALG_NOT_ALLOWED' },
    { name: 'RS256 header naming the EC key', token: async () => mint({ ...rs, kid: es.kid }, limenClaims(T0)), want: 'ERR_KID_UNKNOWN' },

    // Keys.
    { name: 'kid not published', token: async () => mint(await makeKey('ES256'), limenClaims(T0)), want: 'ERR_KID_UNKNOWN' },
    { name: 'no kid', token: async () => mint(es, limenClaims(T0), { kid: undefined }), want: 'ERR_KID_UNKNOWN' },
    { name: 'published kid, other key', token: async () => mint({ ...(await makeKey('ES256')), kid: es.kid }, limenClaims(T0)), want: 'ERR_SIGNATURE_INVALID' },
    { name: 'published RSA kid, other key', token: async () => mint({ ...(await makeKey('RS256')), kid: rs.kid }, limenClaims(T0)), want: 'ERR_SIGNATURE_INVALID' },
    { name: 'jwk header carrying the attacker key', token: async () => { const k = await makeKey('ES256'); return mint({ ...k, kid: es.kid }, limenClaims(T0), { jwk: k.publicJwk }); }, want: 'ERR_SIGNATURE_INVALID' },

    // Integrity.
    { name: 'tampered payload (email)', token: async () => tamperPayload(await good(), { email: 'root@example.com' }), want: 'ERR_SIGNATURE_INVALID' },
    { name: 'tampered payload (groups)', token: async () => tamperPayload(await good(), { groups: ['admins', 'root'] }), want: 'ERR_SIGNATURE_INVALID' },
    { name: 'tampered header (typ dropped)', token: async () => { const [, p, s] = (await good()).split('.'); return `${b64({ alg: 'ES256', kid: es.kid })}.${p}.${s}`; }, want: 'ERR_SIGNATURE_INVALID' },
    { name: 'flipped signature bit', token: async () => flipSignature(await good()), want: 'ERR_SIGNATURE_INVALID' },
    { name: 'RS256 flipped signature bit', token: async () => flipSignature(await mint(rs, limenClaims(T0))), want: 'ERR_SIGNATURE_INVALID' },
    { name: 'truncated signature', token: async () => (await good()).slice(0, -20), want: 'ERR_SIGNATURE_INVALID' },
    { name: 'signature removed', token: async () => (await good()).replace(/\.[^.]+$/, '.'), want: 'ERR_SIGNATURE_INVALID' },
    { name: 'truncated inside the payload', token: async () => { const t = await good(); return t.slice(0, t.indexOf('.') + 20); }, want: 'ERR_MALFORMED' },
    { name: 'truncated inside the header', token: async () => (await good()).slice(0, 10), want: 'ERR_MALFORMED' },

    // Shape.
    { name: 'empty string', token: async () => '', want: 'ERR_MALFORMED' },
    { name: 'not a JWT', token: async () => 'hello', want: 'ERR_MALFORMED' },
    { name: 'four parts', token: async () => `${await good()}.AAAA`, want: 'ERR_MALFORMED' },
    { name: 'JWE-like five parts', token: async () => 'a.b.c.d.e', want: 'ERR_MALFORMED' },
    { name: 'Bearer prefix', token: async () => `Bearer ${await good()}`, want: 'ERR_MALFORMED' },
    { name: 'two assertions joined by a proxy', token: async () => `${await good()}, ${await good()}`, want: 'ERR_MALFORMED' },
    { name: 'standard base64 characters', token: async () => (await good()).replace(/-/g, '+').replace(/_/g, '/') + '+/', want: 'ERR_MALFORMED' },
    { name: 'huge token (just over the limit)', token: async () => 'a'.repeat(MAX_TOKEN_LENGTH + 1), want: 'ERR_MALFORMED' },
    { name: 'huge signed token (big claim)', token: async () => mint(es, { ...limenClaims(T0), pad: 'x'.repeat(MAX_TOKEN_LENGTH) }), want: 'ERR_MALFORMED' },
    { name: 'non-JSON header', token: async () => `${b64('not json')}.${b64(limenClaims(T0))}.AAAA`, want: 'ERR_MALFORMED' },
    { name: 'header is a JSON array', token: async () => `${b64(['ES256'])}.${b64(limenClaims(T0))}.AAAA`, want: 'ERR_MALFORMED' },
    { name: 'header is not UTF-8', token: async () => `${Buffer.from([0xff, 0xfe, 0x7b]).toString('base64url')}.${b64(limenClaims(T0))}.AAAA`, want: 'ERR_MALFORMED' },
    { name: 'non-JSON payload, validly signed', token: async () => new CompactSign(new TextEncoder().encode('not json')).setProtectedHeader({ alg: 'ES256', kid: es.kid, typ: 'JWT' }).sign(es.privateKey), want: 'ERR_MALFORMED' },
    { name: 'payload is a JSON string, validly signed', token: async () => new CompactSign(new TextEncoder().encode('"sub"')).setProtectedHeader({ alg: 'ES256', kid: es.kid }).sign(es.privateKey), want: 'ERR_MALFORMED' },
    { name: 'typ is not JWT', token: async () => mint(es, limenClaims(T0), { typ: 'at+jwt' }), want: 'ERR_MALFORMED' },
    { name: 'crit extension', token: async () => `${b64({ alg: 'ES256', kid: es.kid, crit: ['exp'], exp: 1 })}.${b64(limenClaims(T0))}.AAAA`, want: 'ERR_MALFORMED' },
    { name: 'b64 false (RFC 7797)', token: async () => `${b64({ alg: 'ES256', kid: es.kid, b64: false, crit: ['b64'] })}.${b64(limenClaims(T0))}.AAAA`, want: 'ERR_MALFORMED' },
    { name: 'kid not a string', token: async () => mint(es, limenClaims(T0), { kid: 7 }), want: 'ERR_MALFORMED' },

    // Time.
    { name: 'expired', token: withClaim({ iat: now - 400, exp: now - 100 }), want: 'ERR_EXPIRED' },
    { name: 'expired long ago', token: withClaim({ iat: 1, exp: 2 }), want: 'ERR_EXPIRED' },
    { name: 'issued in the future', token: withClaim({ iat: now + 120, exp: now + 420 }), want: 'ERR_ISSUED_IN_FUTURE' },
    { name: 'not valid before the future', token: withClaim({ nbf: now + 120 }), want: 'ERR_ISSUED_IN_FUTURE' },

    // Issuer and audience.
    { name: 'wrong aud', token: withClaim({ aud: 'other.example.com' }), want: 'ERR_AUDIENCE_INVALID' },
    { name: 'aud with a path', token: withClaim({ aud: `${HOST}/x` }), want: 'ERR_AUDIENCE_INVALID' },
    { name: 'aud as URL', token: withClaim({ aud: `https://${HOST}/` }), want: 'ERR_AUDIENCE_INVALID' },
    { name: 'aud suffix trick', token: withClaim({ aud: `${HOST}.evil.com` }), want: 'ERR_AUDIENCE_INVALID' },
    { name: 'wrong iss', token: withClaim({ iss: 'evil.example.com' }), want: 'ERR_ISSUER_INVALID' },
    { name: 'iss uri without trailing slash', token: withClaim({ iss: `https://${HOST}` }), want: 'ERR_ISSUER_INVALID' },
    { name: 'iss uri over http', token: withClaim({ iss: `http://${HOST}/` }), want: 'ERR_ISSUER_INVALID' },
    { name: 'iss uri with a path', token: withClaim({ iss: `https://${HOST}/evil/` }), want: 'ERR_ISSUER_INVALID' },
    { name: 'iss with userinfo', token: withClaim({ iss: `https://evil@${HOST}/` }), want: 'ERR_ISSUER_INVALID' },
    { name: 'iss pomerium-proxy (old Pomerium)', token: withClaim({ iss: 'pomerium-proxy' }), want: 'ERR_ISSUER_INVALID' },

    // Claims.
    ...['iss', 'aud', 'iat', 'exp', 'sub'].map((claim): Case => ({ name: `missing ${claim}`, token: without(claim), want: 'ERR_CLAIMS_INVALID' })),
    ...(
      [
        ['sub empty', { sub: '' }],
        ['sub number', { sub: 123 }],
        ['email number', { email: 42 }],
        ['email null', { email: null }],
        ['user object', { user: {} }],
        ['groups string', { groups: 'admins' }],
        ['groups of numbers', { groups: [1, 2] }],
        ['groups object', { groups: { 0: 'admins' } }],
        ['exp string', { exp: String(now + 300) }],
        ['iat string', { iat: String(now) }],
        ['iat negative', { iat: -1 }],
        ['aud empty list', { aud: [] }],
        ['aud number', { aud: 1 }],
        ['iss empty', { iss: '' }],
        ['act string', { act: 'admin-1' }],
        ['act without sub', { act: { email: 'root@example.com' } }],
        ['sid number', { sid: 9 }],
        ['nbf string', { nbf: 'soon' }],
      ] as Array<[string, Record<string, unknown>]>
    ).map(([name, change]): Case => ({ name, token: withClaim(change), want: 'ERR_CLAIMS_INVALID' })),
  ];
}

async function publicKeyOf(key: TestKey): Promise<CryptoKey> {
  return (await importJWK(key.publicJwk, key.alg)) as CryptoKey;
}

describe('forged and broken assertions', () => {
  for (const c of cases()) {
    test(`${c.name} → ${c.want}`, async () => {
      const verifier = createVerifier({ jwksUrl: jwks.url, issuer: HOST, audience: HOST, now: () => T0 });
      const token = await c.token();
      await assert.rejects(verifier.verify(token), (err: unknown) => {
        assert.ok(isVerifyError(err), `not a VerifyError: ${String(err)}`);
        assert.equal(err.code, c.want, err.message);
        assert.equal(err.message.includes(token) && token.length > 8, false);
        return true;
      });
      // verifyFor applies the same signature, shape and time rules.
      if (!['ERR_AUDIENCE_INVALID', 'ERR_ISSUER_INVALID'].includes(c.want)) {
        await assert.rejects(verifier.verifyFor(token), (err: unknown) => isVerifyError(err) && err.code === c.want);
      }
    });
  }

  test('an oversized token is refused before any key is fetched', async () => {
    const hits = jwks.hits;
    const verifier = createVerifier({ jwksUrl: jwks.url, audience: HOST, now: () => T0 });
    const token = await mint(es, { ...limenClaims(T0), pad: 'x'.repeat(MAX_TOKEN_LENGTH) });
    await assert.rejects(verifier.verify(token), (err: unknown) => isVerifyError(err) && err.code === 'ERR_MALFORMED');
    assert.equal(jwks.hits, hits);
  });

  test('the good token this table is built from does verify', async () => {
    const verifier = createVerifier({ jwksUrl: jwks.url, issuer: HOST, audience: HOST, now: () => T0 });
    assert.equal((await verifier.verify(await mint(es, limenClaims(T0)))).sub, 'user-123');
    assert.equal((await verifier.verify(await mint(rs, limenClaims(T0)))).sub, 'user-123');
  });
});
