import { createHash, X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** What a TLS client certificate tells policy (the `client_certificate` criterion). */
export interface ClientCertificateInfo {
  /** A certificate was presented. */
  readonly presented: boolean;
  /** It chains to the configured downstream CA. */
  readonly valid: boolean;
  /** Lower-case hex SHA-256 of the DER certificate. */
  readonly fingerprint: string;
  /** Base64 SHA-256 of the DER SubjectPublicKeyInfo. */
  readonly spkiHash: string;
  readonly sanEmail: readonly string[];
  readonly sanDns: readonly string[];
  readonly sanUri: readonly string[];
}

const cache = new WeakMap<Socket, ClientCertificateInfo | undefined>();

/**
 * The downstream client certificate of a TLS connection, as policy sees it
 * (`client_certificate`, `invalid_client_certificate`). Computed once per
 * connection. `valid` means it chains to `downstream_mtls.ca_file`.
 */
export function clientCertificate(socket: Socket): ClientCertificateInfo | undefined {
  if (cache.has(socket)) return cache.get(socket);
  let info: ClientCertificateInfo | undefined;
  const tls = socket as TLSSocket;
  if (typeof tls.getPeerCertificate === 'function') {
    const peer = tls.getPeerCertificate(false);
    if (!peer || !peer.raw || peer.raw.length === 0) {
      info = { presented: false, valid: false, fingerprint: '', spkiHash: '', sanEmail: [], sanDns: [], sanUri: [] };
    } else {
      const x = new X509Certificate(peer.raw);
      const spki = x.publicKey.export({ type: 'spki', format: 'der' });
      const sans = parseSubjectAltName(x.subjectAltName ?? '');
      info = {
        presented: true,
        valid: tls.authorized === true,
        fingerprint: createHash('sha256').update(peer.raw).digest('hex'),
        spkiHash: createHash('sha256').update(spki).digest('base64'),
        sanEmail: sans.email, sanDns: sans.dns, sanUri: sans.uri,
      };
    }
  }
  cache.set(socket, info);
  return info;
}

/** Splits node's `subjectAltName` text ("DNS:a, email:b, URI:c"). */
export function parseSubjectAltName(text: string): { email: string[]; dns: string[]; uri: string[] } {
  const out = { email: [] as string[], dns: [] as string[], uri: [] as string[] };
  for (const part of text.split(/,\s*/)) {
    const i = part.indexOf(':');
    if (i < 0) continue;
    const kind = part.slice(0, i);
    let value = part.slice(i + 1);
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (kind === 'email') out.email.push(value);
    else if (kind === 'DNS') out.dns.push(value);
    else if (kind === 'URI') out.uri.push(value);
  }
  return out;
}
