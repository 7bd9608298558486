/**
 * The HTTPS listener's TLS settings: the configured certificates (files or
 * inline PEM), downstream mTLS, and automatic certificates served by SNI
 * beside the configured ones (which win for the names they cover).
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Config } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { autocertEligibility, type AutocertManager } from '../autocert/index.js';

/** The hosts automatic certificates are kept for: https route hosts and the authenticate host; wildcards and IPs are skipped with a warning. */
export function autocertHosts(c: Config, logger: Logger): string[] {
  const hosts = new Set<string>();
  if (c.authenticateServiceUrl !== undefined) hosts.add(c.authenticateServiceUrl.hostname.toLowerCase());
  for (const r of c.routes) if (r.fromScheme === 'https') hosts.add(r.fromHost);
  return [...hosts].filter((host) => {
    const why = autocertEligibility(host);
    if (why !== undefined) logger.warn('autocert: no certificate can be obtained for this host', { host, why });
    return why === undefined;
  });
}

/** The HTTPS port the configured URLs give for `host` (a route's `from`, the authenticate URL), else 443. */
export function httpsPortOf(c: Config, host: string): number {
  const route = c.routes.find((r) => r.fromHost === host && r.fromScheme === 'https');
  if (route !== undefined) return route.fromPort ?? 443;
  const auth = c.authenticateServiceUrl;
  if (auth !== undefined && auth.hostname.toLowerCase() === host && auth.protocol === 'https:') return auth.port === '' ? 443 : Number(auth.port);
  return 443;
}

export function tlsOptions(c: Config, autocert?: AutocertManager): { cert?: Buffer[]; key?: Buffer[]; requestCert?: boolean; rejectUnauthorized?: boolean; ca?: Buffer; SNICallback?: (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void } {
  // Files are read here; `certificate`/`certificate_key` and `downstream_mtls.ca`
  // arrive as PEM text (decoded from base64 by the config loader).
  const pairs: { cert: Buffer; key: Buffer }[] = [
    ...(c.certificateFile && c.certificateKeyFile ? [{ cert: readFileSync(c.certificateFile), key: readFileSync(c.certificateKeyFile) }] : []),
    ...(c.certificate && c.certificateKey ? [{ cert: Buffer.from(c.certificate), key: Buffer.from(c.certificateKey) }] : []),
    ...c.certificates.map((p) => ({ cert: readFileSync(p.certFile), key: readFileSync(p.keyFile) })),
  ];
  const mtls = c.downstreamMtls;
  const ca = mtls?.caFile ? readFileSync(mtls.caFile) : mtls?.ca ? Buffer.from(mtls.ca) : undefined;
  const certs = pairs.map((p) => p.cert);
  const keys = pairs.map((p) => p.key);
  return {
    ...(pairs.length > 0 ? { cert: certs, key: keys } : {}),
    ...(autocert ? { SNICallback: sniWithAutocert(certs, keys, autocert, ca) } : {}),
    // Downstream mTLS: ask for a client certificate; `reject_connection`
    // refuses the handshake without a valid one, the other modes leave the
    // decision to policy (`client_certificate`, `invalid_client_certificate`).
    ...(mtls && ca ? { requestCert: true, rejectUnauthorized: mtls.enforcement === 'reject_connection', ca } : {}),
  };
}

/**
 * SNI with automatic certificates: a configured certificate that covers the
 * name wins (Pomerium's precedence), else the ACME one; with neither, the
 * default context (the first configured certificate, if any) answers.
 */
function sniWithAutocert(certs: Buffer[], keys: Buffer[], autocert: AutocertManager, ca: Buffer | undefined) {
  const manual = certs.map((cert, i) => ({
    x509: new X509Certificate(cert),
    context: createSecureContext({ cert, key: keys[i]!, ...(ca ? { ca } : {}) }),
  }));
  return (name: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    const configured = manual.find((m) => m.x509.checkHost(name) !== undefined)?.context;
    cb(null, configured ?? autocert.secureContext(name));
  };
}
