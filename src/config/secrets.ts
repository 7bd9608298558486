/**
 * Secret-valued keys: `shared_secret`, `cookie_secret` (base64 of exactly 32
 * bytes) and `signing_key` (base64 of PEM private keys). Errors name the key
 * and what was wrong with the shape, never the value or any part of it.
 */

import { createPrivateKey } from 'node:crypto';
import { asSecretString, fail, type ConfigPath } from './check.js';

/**
 * Decodes standard or URL-safe base64, padded or not, ignoring whitespace
 * (`base64` wraps its output at 76 columns). Undefined if not base64.
 */
export function decodeBase64(text: string): Buffer | undefined {
  const compact = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) return undefined;
  const body = compact.replace(/=+$/, '');
  if (body.length % 4 === 1) return undefined;
  if (compact.length !== body.length && compact.length % 4 !== 0) return undefined;
  return Buffer.from(body.replaceAll('-', '+').replaceAll('_', '/'), 'base64');
}

/** A base64 secret that must decode to exactly `bytes` bytes. */
export function asBase64Secret(value: unknown, at: ConfigPath, bytes: number): Uint8Array {
  const text = asSecretString(value, at);
  const howTo = `generate one with "head -c${bytes} /dev/urandom | base64"`;
  const decoded = decodeBase64(text);
  if (decoded === undefined) {
    fail(at, `expected base64 of ${bytes} random bytes, but the value is not valid base64; ${howTo}`);
  }
  if (decoded.length !== bytes) {
    fail(at, `expected base64 of ${bytes} random bytes, but it decodes to ${decoded.length} bytes; ${howTo}`);
  }
  return new Uint8Array(decoded);
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const PRIVATE_KEY_LABELS = new Set(['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY']);

/**
 * `signing_key`: base64 of one or more PEM private keys (raw PEM text is also
 * accepted). Each must be EC P-256 (ES256) or RSA of at least 2048 bits
 * (RS256). Returns each key re-encoded as PKCS#8 PEM, in order, so that
 * consumers can hand it straight to `jose.importPKCS8`.
 */
export function asSigningKeys(value: unknown, at: ConfigPath): string[] {
  const text = asSecretString(value, at).trim();
  let pemText: string;
  if (text.startsWith('-----BEGIN')) {
    pemText = text;
  } else {
    const decoded = decodeBase64(text);
    if (decoded === undefined) fail(at, 'expected base64 of one or more PEM private keys, but the value is not valid base64');
    pemText = decoded.toString('utf8');
  }
  // `openssl ecparam -genkey` without -noout writes an EC PARAMETERS block first.
  const blocks = [...pemText.matchAll(PEM_BLOCK)].filter((m) => m[1] !== 'EC PARAMETERS');
  if (blocks.length === 0) fail(at, 'expected base64 of one or more PEM private keys, but it holds no PEM block');
  return blocks.map((block, i) => {
    const which = `PEM block ${i + 1} of ${blocks.length}`;
    const label = block[1] ?? '';
    if (label === 'ENCRYPTED PRIVATE KEY') fail(at, `${which} is encrypted; Limen needs an unencrypted key`);
    if (!PRIVATE_KEY_LABELS.has(label)) fail(at, `${which} is a ${label}; expected a private key`);
    let key;
    try {
      key = createPrivateKey({ key: block[0], format: 'pem' });
    } catch {
      fail(at, `${which} does not parse as a private key`);
    }
    const details = key.asymmetricKeyDetails ?? {};
    const expected = 'expected EC P-256 or RSA of at least 2048 bits';
    if (key.asymmetricKeyType === 'ec') {
      if (details.namedCurve !== 'prime256v1') fail(at, `${which} is an EC key on curve ${details.namedCurve ?? 'unknown'}; ${expected}`);
    } else if (key.asymmetricKeyType === 'rsa') {
      const bits = details.modulusLength ?? 0;
      if (bits < 2048) fail(at, `${which} is an RSA key of ${bits} bits; ${expected}`);
    } else {
      fail(at, `${which} is an ${key.asymmetricKeyType ?? 'unknown'} key; ${expected}`);
    }
    return key.export({ type: 'pkcs8', format: 'pem' }).toString();
  });
}

/**
 * Inline TLS material as Pomerium writes it beside a `_file` key: base64 of
 * PEM (`base64 -w0 cert.pem`). Returns the PEM text; never echoes the value.
 */
export function asBase64Pem(value: unknown, at: ConfigPath): string {
  const text = asSecretString(value, at);
  const decoded = decodeBase64(text);
  if (decoded === undefined) fail(at, 'expected base64 of PEM (e.g. "base64 -w0 cert.pem"), but the value is not valid base64');
  const pem = decoded.toString('utf8');
  if (!pem.includes('-----BEGIN ')) fail(at, 'expected base64 of PEM (e.g. "base64 -w0 cert.pem"), but it does not decode to PEM (-----BEGIN ...)');
  return pem;
}
