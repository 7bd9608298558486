/**
 * The automatic-certificate keys (issue 15): Pomerium's `autocert_*` keys and
 * `http_redirect_addr`, spread into the global key table after
 * `insecure_server`. Every `autocert_*` key other than `autocert` itself is
 * refused unless `autocert: true`, so none is accepted and then ignored.
 */

import type { Config } from './types.js';
import { asAddress, asBool, asHttpUrl, asSecretString, asString, describe, fail, type ConfigPath } from './check.js';
import type { KeySpec, Resolved } from './table.js';
import type { GlobalContext, GlobalKeyTraits } from './global-key.js';

type Fields = Omit<Config, 'source' | 'devMode'>;
type Row<F extends keyof Fields> = KeySpec<Fields[F], GlobalContext & Resolved<Fields>> & GlobalKeyTraits;
type Ctx = GlobalContext & Resolved<Fields>;
const absent = <T>(value: T) => (): T => value;

/** A key that only means something with `autocert: true`. */
function needsAutocert<T>(read: (v: unknown, at: ConfigPath, ctx: Ctx) => T) {
  return (v: unknown, at: ConfigPath, ctx: Ctx): T => {
    if (!ctx.value('autocert')) fail(at, 'applies only with autocert: true; remove it, or set autocert: true', { aboutKey: true });
    return read(v, at, ctx);
  };
}

/** `autocert_trusted_ca`: base64 of a PEM bundle (Pomerium), returned as the PEM text. */
function asTrustedCa(value: unknown, at: ConfigPath): string {
  const text = asString(value, at).trim();
  const pem = text.includes('-----BEGIN') ? text : Buffer.from(text, 'base64').toString('utf8');
  if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(pem)) {
    fail(at, 'expected base64 of a PEM certificate bundle (-----BEGIN CERTIFICATE-----)');
  }
  return pem;
}

export const AUTOCERT_KEYS: { readonly [F in
  | 'autocert' | 'autocertDir' | 'autocertUseStaging' | 'autocertCa' | 'autocertEmail' | 'autocertEabKeyId'
  | 'autocertEabMacKey' | 'autocertMustStaple' | 'autocertTrustedCa' | 'autocertTrustedCaFile' | 'httpRedirectAddr']: Row<F> } = {
  autocert: {
    key: 'autocert', type: 'boolean', default: '`false`', env: 'text',
    description: 'Obtain and renew TLS certificates over ACME (RFC 8555, HTTP-01) for every route host and the authenticate host, served by SNI next to any `certificate_file`/`certificates` (which win for the names they cover). Needs `http_redirect_addr` (default `:80` with autocert) reachable as port 80 of every host. Wildcard route hosts are skipped with a warning (they need DNS-01). Limen starts at once with the certificates on disk and issues missing ones in the background; `/readyz` fails until every host has one (docs/deploy.md).',
    parse: (v, at, ctx) => {
      const on = asBool(v, at);
      if (on && ctx.value('insecureServer')) fail(at, 'cannot be used with insecure_server: true (there is no HTTPS listener to serve the certificates); remove one of them');
      return on;
    },
    fallback: absent(false),
  },
  autocertDir: {
    key: 'autocert_dir', type: 'path', default: '`$XDG_DATA_HOME/pomerium`, else `$HOME/.local/share/pomerium`', env: 'text',
    description: 'Directory for the ACME account key, the certificates and pending HTTP-01 answers. Replicas may share it (NFS, EFS): files are replaced atomically, one replica issues a certificate at a time (a lock file) and the others pick it up; every replica answers challenges written there. S3 and GCS URLs are refused.',
    parse: needsAutocert((v, at) => {
      const dir = asString(v, at);
      if (/^(s3|gs):\/\//i.test(dir)) fail(at, 'object storage (s3://, gs://) is not supported by Limen; mount shared storage (NFS, EFS) and give its path');
      if (dir.trim() === '') fail(at, 'expected a directory path, got an empty string');
      return dir;
    }),
    fallback: absent(undefined),
  },
  autocertUseStaging: {
    key: 'autocert_use_staging', type: 'boolean', default: '`false`', env: 'text',
    description: 'Use Let\'s Encrypt\'s staging directory (untrusted certificates, lenient rate limits). `autocert_ca` wins over it.',
    parse: needsAutocert(asBool), fallback: absent(false),
  },
  autocertCa: {
    key: 'autocert_ca', type: 'URL', default: 'Let\'s Encrypt', env: 'text',
    description: 'Directory URL of the ACME CA (e.g. `https://acme.zerossl.com/v2/DV90`); must be https (RFC 8555 §6.1).',
    parse: needsAutocert((v, at) => asHttpUrl(v, at, { allowHttp: false, httpHint: ' (RFC 8555 §6.1: ACME runs over HTTPS)' }).href),
    fallback: absent(undefined),
  },
  autocertEmail: {
    key: 'autocert_email', type: 'email', default: '', env: 'text',
    description: 'Contact address given to the ACME CA for the account (expiry notices).',
    parse: needsAutocert((v, at) => {
      const email = asString(v, at).trim();
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) fail(at, `expected an email address, got ${describe(email)}`);
      return email;
    }),
    fallback: absent(undefined),
  },
  autocertEabKeyId: {
    key: 'autocert_eab_key_id', type: 'string', default: '', env: 'text',
    description: 'External Account Binding key id, for CAs that require one (RFC 8555 §7.3.4); needs `autocert_eab_mac_key`.',
    parse: needsAutocert((v, at) => asString(v, at)), fallback: absent(undefined),
  },
  autocertEabMacKey: {
    key: 'autocert_eab_mac_key', type: 'base64url', default: '', env: 'text', secret: true,
    description: 'External Account Binding MAC key (base64url), given with `autocert_eab_key_id`.',
    parse: needsAutocert((v, at, ctx) => {
      const key = asSecretString(v, at).trim();
      if (!/^[A-Za-z0-9_-]+={0,2}$/.test(key) || Buffer.from(key, 'base64url').length < 16) fail(at, 'expected a base64url-encoded MAC key of at least 16 bytes');
      if (ctx.value('autocertEabKeyId') === undefined) fail(at, 'needs autocert_eab_key_id (the key id the CA gave with this key)');
      return key;
    }),
    fallback: (at, ctx) => {
      if (ctx.value('autocertEabKeyId') !== undefined) fail(at, 'required when autocert_eab_key_id is set');
      return undefined;
    },
  },
  autocertMustStaple: {
    key: 'autocert_must_staple', type: 'boolean', default: '`false`', env: 'text',
    description: 'Only `false` is accepted: Limen does not staple OCSP responses, and a must-staple certificate (RFC 7633) served without one is refused by browsers; Let\'s Encrypt no longer issues them.',
    parse: needsAutocert((v, at) => {
      if (asBool(v, at)) fail(at, 'must-staple is not supported: Limen does not staple OCSP responses, so browsers would refuse a must-staple certificate (and Let\'s Encrypt no longer issues them); remove it or set false');
      return false as const;
    }),
    fallback: absent(false as const),
  },
  autocertTrustedCa: {
    key: 'autocert_trusted_ca', type: 'base64 PEM', default: 'the system roots', env: 'text',
    description: 'CA bundle trusted for the ACME server\'s own HTTPS (a private CA, or a test server such as pebble), instead of the system roots.',
    parse: needsAutocert(asTrustedCa), fallback: absent(undefined),
  },
  autocertTrustedCaFile: {
    key: 'autocert_trusted_ca_file', type: 'path', default: '', env: 'text',
    description: 'File form of `autocert_trusted_ca` (PEM); read when the config loads.',
    parse: needsAutocert((v, at, ctx) => {
      if (ctx.value('autocertTrustedCa') !== undefined) fail(at, 'set autocert_trusted_ca or autocert_trusted_ca_file, not both', { aboutKey: true });
      return asString(v, at);
    }),
    fallback: absent(undefined),
  },
  httpRedirectAddr: {
    key: 'http_redirect_addr', type: 'address', default: '`:80` with `autocert`, else off', env: 'text',
    description: 'Plain-HTTP listener that answers ACME HTTP-01 challenges under `/.well-known/acme-challenge/` and redirects every other request to the same host and path over HTTPS (301), at the port of the host\'s route `from` or `authenticate_service_url` (443 when they give none).',
    parse: (v, at, ctx) => {
      const addr = asAddress(v, at);
      if (ctx.value('insecureServer')) fail(at, 'not used with insecure_server: true (there is no HTTPS to redirect to); remove it');
      return addr;
    },
    fallback: (_at, ctx) => (ctx.value('autocert') ? { host: '', port: 80 } : undefined),
  },
};
