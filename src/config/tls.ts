/**
 * TLS settings checked when the config is loaded, as `signing_key_file` is:
 * a listener without a certificate, a certificate file that is missing,
 * unreadable or not PEM, a key that does not belong to its certificate, and
 * settings that plain HTTP would silently ignore are all errors naming the
 * key, so `limen config check` finds them before `limen serve` starts an
 * HTTPS listener that fails every handshake.
 */

import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { Config } from './types.js';
import { fail, type ConfigPath } from './check.js';

/** Reads a file as text; throws with `code` (ENOENT, EACCES, ...) as `fs.readFileSync` does. */
export type ReadText = (path: string) => string;

/** Where a global key's value came from, for "(from the X environment variable)". */
export type EnvSourceOf = (key: string) => string | undefined;

/** PEM material: a file to read, or the text of an inline base64 key (already decoded). */
export type PemSource = { readonly path: string } | { readonly pem: string };

interface CertificatePair {
  readonly cert: { readonly src: PemSource; readonly at: ConfigPath };
  readonly key: { readonly src: PemSource; readonly at: ConfigPath };
}

/** How a message names the material: the file, or the inline key's value (never quoted). */
function nameOf(src: PemSource): string {
  return 'path' in src ? JSON.stringify(src.path) : 'the base64 value';
}

/**
 * Cross-key TLS rules and file checks for a resolved config:
 * - without `insecure_server`, at least one certificate is required (unless
 *   the caller already refused `autocert`, which would have supplied them);
 * - with `insecure_server`, certificates and `downstream_mtls` are refused
 *   (a plain-HTTP listener would never use them);
 * - every certificate/key (file or inline) is read, parsed, and the key must match;
 * - `downstream_mtls` needs a readable `ca_file` or `ca` of PEM certificates.
 */
export function checkListenerTls(c: Omit<Config, 'source' | 'devMode' | 'warnings'>, readText: ReadText, envSource: EnvSourceOf): void {
  const pairs: CertificatePair[] = [];
  if (c.certificateFile !== undefined && c.certificateKeyFile !== undefined) {
    pairs.push({ cert: { src: { path: c.certificateFile }, at: ['certificate_file'] }, key: { src: { path: c.certificateKeyFile }, at: ['certificate_key_file'] } });
  }
  if (c.certificate !== undefined && c.certificateKey !== undefined) {
    pairs.push({ cert: { src: { pem: c.certificate }, at: ['certificate'] }, key: { src: { pem: c.certificateKey }, at: ['certificate_key'] } });
  }
  c.certificates.forEach((p, i) => pairs.push({
    cert: { src: { path: p.certFile }, at: ['certificates', i, 'cert'] },
    key: { src: { path: p.keyFile }, at: ['certificates', i, 'key'] },
  }));

  if (c.insecureServer) {
    if (pairs.length > 0) {
      const at = pairs[0]!.cert.at;
      failKey(at.length === 1 ? at : ['certificates'], 'not used with insecure_server: true (Limen serves plain HTTP); remove it, or set insecure_server: false to serve HTTPS', envSource);
    }
    if (c.downstreamMtls !== undefined) {
      failKey(['downstream_mtls'], 'client certificates need TLS, but insecure_server: true serves plain HTTP; remove it or serve HTTPS', envSource);
    }
    return;
  }
  // Automatic certificates (issue 15): the ACME server's CA file is read now;
  // certificates may all come from ACME.
  if (c.autocertTrustedCaFile !== undefined) readCertificates({ path: c.autocertTrustedCaFile }, ['autocert_trusted_ca_file'], readText, envSource);
  if (pairs.length === 0 && !c.autocert) {
    fail(['certificate_file'], 'required: Limen serves HTTPS unless insecure_server is true; set certificate_file and certificate_key_file (or certificate and certificate_key, or certificates), autocert: true, or insecure_server: true behind a TLS-terminating load balancer');
  }
  for (const pair of pairs) {
    const cert = readCertificates(pair.cert.src, pair.cert.at, readText, envSource)[0]!;
    const key = readPrivateKey(pair.key.src, pair.key.at, readText, envSource);
    if (!cert.checkPrivateKey(key)) {
      failKey(pair.key.at, `the key in ${nameOf(pair.key.src)} does not belong to the certificate in ${nameOf(pair.cert.src)}`, envSource);
    }
  }
  const mtls = c.downstreamMtls;
  if (mtls !== undefined && mtls.caFile === undefined && mtls.ca === undefined) {
    fail(['downstream_mtls', 'ca_file'], 'required: the CA certificates that sign client certificates (ca_file, or ca as base64 PEM); without it no client certificate is asked for and the enforcement has no effect');
  }
  if (mtls?.caFile !== undefined) readCertificates({ path: mtls.caFile }, ['downstream_mtls', 'ca_file'], readText, envSource);
  if (mtls?.ca !== undefined) readCertificates({ pem: mtls.ca }, ['downstream_mtls', 'ca'], readText, envSource);
}

/** Reads PEM of one or more certificates (a chain, or CAs); at least one must parse. */
export function readCertificates(src: PemSource, at: ConfigPath, readText: ReadText, envSource?: EnvSourceOf): X509Certificate[] {
  const text = 'path' in src ? readFile(src.path, at, readText, 'certificate', envSource) : src.pem;
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) failKey(at, `${nameOf(src)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, envSource);
  return blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch {
      failKey(at, `${nameOf(src)} holds a certificate that cannot be read`, envSource);
    }
  });
}

/** Reads one PEM private key (never quoted in an error). */
export function readPrivateKey(src: PemSource, at: ConfigPath, readText: ReadText, envSource?: EnvSourceOf): KeyObject {
  const text = 'path' in src ? readFile(src.path, at, readText, 'private key', envSource) : src.pem;
  try {
    return createPrivateKey(text);
  } catch {
    // Never quote the material: it is a private key.
    failKey(at, `${nameOf(src)} holds no readable PEM private key`, envSource);
  }
}
function readFile(path: string, at: ConfigPath, readText: ReadText, what: string, envSource?: EnvSourceOf): string {
  try {
    return readText(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    failKey(at, `cannot read the ${what} file ${JSON.stringify(path)}${typeof code === 'string' ? ` (${code})` : ''}`, envSource);
  }
}

/** fail(), saying so when the top-level key was set in the environment. */
function failKey(at: ConfigPath, detail: string, envSource: EnvSourceOf | undefined): never {
  const env = at.length === 1 && typeof at[0] === 'string' ? envSource?.(at[0]) : undefined;
  if (env === undefined) fail(at, detail);
  fail(at, `${detail} (from the ${env} environment variable)`, { env });
}
