/**
 * The `routes:` list (CONTRACT §1, route keys): one table row per route key.
 * Policies are kept as written; authz compiles them.
 */

import type { ConfigError } from '../errors/index.js';
import type { ConfigWarning, NamespaceConfig, PathPattern, RouteConfig, Upstream } from './types.js';
import { compilePathPattern, PatternError } from './pattern.js';
import {
  asBool, asDuration, asHeaderMap, asHeaderName, asHttpUrl, asMapping, asString, asStringList,
  aggregate, collect, describe, fail, formatPath, nearestKey, unknownKeyError, type ConfigPath,
} from './check.js';
import { ignoredMessage, isHarmless, refusalMessage, routeFate } from './fate.js';
import { asBase64Pem } from './secrets.js';
import { readCertificates, readPrivateKey, type ReadText } from './tls.js';
import { ROOT_NAMESPACE } from './namespaces.js';
import { referenceOf, resolveTable, type KeyReference, type KeyTable } from './table.js';

/** Global values a route falls back to or is checked against. */
export interface RouteContext {
  readonly insecureServer: boolean;
  readonly passIdentityHeaders: boolean;
  readonly defaultUpstreamTimeoutMs: number;
  readonly namespaces: readonly NamespaceConfig[];
  /** Reads the files route keys name (`tls_custom_ca_file`). */
  readonly readFile: ReadText;
  /** Receives each ignored key's warning. */
  readonly warn: (warning: ConfigWarning & { readonly path: ConfigPath }) => void;
}

type RouteFields = Omit<RouteConfig, 'index' | 'fromScheme' | 'fromHost' | 'fromPort'>;

const ROUTE_IDLE_TIMEOUT_MS = 5 * 60_000;

const absent = <T>(value: T) => (): T => value;
const required = (at: ConfigPath): never => fail(at, 'required');

const ROUTE_KEYS: KeyTable<RouteFields, RouteContext> = {
  from: {
    key: 'from', type: 'URL', default: '',
    description: 'Public URL the route answers on: `https://host[:port]` (`http://` only with `insecure_server`); `*.example.com` matches any one-or-more-label subdomain. No path: match paths with `prefix`, `path` or `regex`. Required.',
    parse: (v, at, ctx) => { splitFrom(v, at, ctx.insecureServer); return asString(v, at); },
    fallback: required,
  },
  to: {
    key: 'to', type: 'URL or list of URLs', default: '',
    description: 'Upstream(s), http or https. `"url,weight"` sets a relative weight for balancing (default 1). A path in the URL becomes a prefix rewrite. Required.',
    parse: (v, at) => asUpstreams(v, at),
    fallback: required,
  },
  prefix: {
    key: 'prefix', type: 'string', default: '`/`',
    description: 'Match request paths starting with this. Used when neither `regex` nor `path` is set.',
    parse: (v, at) => asUrlPath(v, at),
    fallback: absent(undefined),
  },
  path: {
    key: 'path', type: 'string', default: '',
    description: 'Match exactly this request path. Used when `regex` is not set.',
    parse: (v, at) => asUrlPath(v, at),
    fallback: absent(undefined),
  },
  regex: {
    key: 'regex', type: 'regular expression', default: '',
    description: 'Match request paths against this regular expression, anchored at both ends (the whole path must match, like Envoy `safe_regex`). RE2 syntax, as in Pomerium: matched in time linear in the path length, so backreferences and lookaround are refused at load. Takes precedence over `path` and `prefix`.',
    parse: (v, at) => asAnchoredRegex(v, at),
    fallback: absent(undefined),
  },
  policy: {
    key: 'policy', type: 'PPL', default: '',
    description: 'Policy in PPL: one rule or a list of rules. Compiled at load; errors name the route and the node.',
    parse: (v) => cloneData(v),
    fallback: absent(undefined),
  },
  allowPublicUnauthenticatedAccess: {
    key: 'allow_public_unauthenticated_access', type: 'boolean', default: '`false`',
    description: 'Allow everyone, signed in or not (PPL `accept`).',
    parse: asBool, fallback: absent(false),
  },
  allowAnyAuthenticatedUser: {
    key: 'allow_any_authenticated_user', type: 'boolean', default: '`false`',
    description: 'Allow anyone signed in (PPL `authenticated_user`).',
    parse: asBool, fallback: absent(false),
  },
  corsAllowPreflight: {
    key: 'cors_allow_preflight', type: 'boolean', default: '`false`',
    description: 'Allow unauthenticated CORS preflight requests (PPL `cors_preflight`).',
    parse: asBool, fallback: absent(false),
  },
  allowedUsers: {
    key: 'allowed_users', type: 'list of strings', default: '',
    description: 'Allow these user ids or emails (PPL `user` / `email`).',
    parse: (v, at) => asStringList(v, at, { allowEmptyList: true }),
    fallback: absent([]),
  },
  allowedDomains: {
    key: 'allowed_domains', type: 'list of strings', default: '',
    description: 'Allow users whose email is in one of these domains (PPL `domain`).',
    parse: (v, at) => asStringList(v, at, { allowEmptyList: true }).map((d) => d.toLowerCase()),
    fallback: absent([]),
  },
  allowedIdpClaims: {
    key: 'allowed_idp_claims', type: 'map of claim to list', default: '',
    description: 'Allow users with an IdP claim holding one of the listed values (PPL `claim/NAME`).',
    parse: (v, at) => asClaimValues(v, at),
    fallback: absent({}),
  },
  passIdentityHeaders: {
    key: 'pass_identity_headers', type: 'boolean', default: 'global `pass_identity_headers`',
    description: 'Send `X-Pomerium-Jwt-Assertion` and the `jwt_claims_headers` upstream.',
    parse: asBool,
    fallback: (_at, ctx) => ctx.passIdentityHeaders,
  },
  setRequestHeaders: {
    key: 'set_request_headers', type: 'map of strings', default: '',
    description: 'Headers set on the request to the upstream (set wins over remove). Values are Pomerium\'s header templates: `${pomerium.jwt}`, `${pomerium.id_token}`, `${pomerium.access_token}`, `${pomerium.client_cert_fingerprint}`, `${pomerium.request.headers["X-Name"]}`, `$$` for a `$`; an unknown variable renders empty. `X-Pomerium-*` names may be set (an identity header Limen sends wins); `Host` may not (use `host_rewrite`).',
    parse: asHeaderMap, fallback: absent({}),
  },
  removeRequestHeaders: {
    key: 'remove_request_headers', type: 'list of strings', default: '',
    description: 'Headers removed from the request to the upstream, the `X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Host` and `X-Request-Id` Limen adds too; not `Host`.',
    parse: (v, at) => asStringList(v, at, { allowEmptyList: true }).map((h, i) => asHeaderName(h, [...at, i]).toLowerCase()),
    fallback: absent([]),
  },
  setResponseHeaders: {
    key: 'set_response_headers', type: 'map of strings', default: '',
    description: 'Headers set on the response to the client (not `X-Request-Id`: that is the id Limen logs).',
    parse: (v, at) => {
      const map = asHeaderMap(v, at);
      // The response's x-request-id is the logged request-id (CONTRACT §8): a fixed one would make every request look alike.
      for (const name of Object.keys(map)) if (name.toLowerCase() === 'x-request-id') fail([...at, name], 'X-Request-Id is the request id Limen logs for each request; it cannot be set');
      return map;
    },
    fallback: absent({}),
  },
  preserveHostHeader: {
    key: 'preserve_host_header', type: 'boolean', default: '`false`',
    description: 'Send the client\'s `Host` upstream instead of the `to` host.',
    parse: asBool, fallback: absent(false),
  },
  hostRewrite: {
    key: 'host_rewrite', type: 'string', default: '',
    description: 'Send this `Host` upstream.',
    parse: (v, at) => asHostRewrite(v, at),
    fallback: absent(undefined),
  },
  prefixRewrite: {
    key: 'prefix_rewrite', type: 'string', default: '',
    description: 'Replace the matched `prefix` with this before forwarding (on a `path` or `regex` route the whole matched path, as Envoy does); without it, the path of the first `to` is the rewrite.',
    parse: (v, at) => asUrlPath(v, at),
    fallback: absent(undefined),
  },
  allowWebsockets: {
    key: 'allow_websockets', type: 'boolean', default: '`false`',
    description: 'Allow websocket upgrades; websockets get no route timeout, and (as in Pomerium) the route\'s `timeout` and `idle_timeout` default to `0` (none), for its long-lived responses too.',
    parse: asBool, fallback: absent(false),
  },
  timeoutMs: {
    key: 'timeout', type: 'duration', default: '`default_upstream_timeout` (`0` with `allow_websockets`)',
    description: 'Whole-request upstream timeout, from dispatch to the last byte of the response: 504 when exceeded before the response started, the response cut after; `0` for none.',
    parse: (v, at) => asDuration(v, at),
    fallback: (_at, ctx) => (ctx.value('allowWebsockets') ? 0 : ctx.defaultUpstreamTimeoutMs),
  },
  idleTimeoutMs: {
    key: 'idle_timeout', type: 'duration', default: '`5m` (`0` with `allow_websockets`)',
    description: 'Close an upstream stream idle this long; `0` for none.',
    parse: (v, at) => asDuration(v, at),
    fallback: (_at, ctx) => (ctx.value('allowWebsockets') ? 0 : ROUTE_IDLE_TIMEOUT_MS),
  },
  tlsSkipVerify: {
    key: 'tls_skip_verify', type: 'boolean', default: '`false`',
    description: 'Do not verify the upstream\'s TLS certificate (testing only).',
    parse: asBool, fallback: absent(false),
  },
  tlsCustomCaFile: {
    key: 'tls_custom_ca_file', type: 'path', default: '',
    description: 'PEM file of CA certificates trusted for the upstream (instead of the system\'s).',
    parse: (v, at, ctx) => {
      const path = asString(v, at);
      readCertificates({ path }, at, ctx.readFile);
      return path;
    },
    fallback: absent(undefined),
  },
  tlsCustomCa: {
    key: 'tls_custom_ca', type: 'base64 PEM', default: '',
    description: 'The `tls_custom_ca_file` CAs inline, as base64 of PEM. Set this or `tls_custom_ca_file`, not both.',
    parse: (v, at, ctx) => {
      if (ctx.value('tlsCustomCaFile') !== undefined) fail(at, 'set tls_custom_ca or tls_custom_ca_file, not both', { aboutKey: true });
      const pem = asBase64Pem(v, at);
      readCertificates({ pem }, at, ctx.readFile);
      return pem;
    },
    fallback: absent(undefined),
  },
  tlsClientCertFile: {
    key: 'tls_client_cert_file', type: 'path', default: '',
    description: 'PEM certificate (chain) Limen presents to the upstream when it asks for a client certificate (upstream mTLS). Needs `tls_client_key_file` (or `tls_client_key`).',
    parse: (v, at, ctx) => {
      const path = asString(v, at);
      readCertificates({ path }, at, ctx.readFile);
      return path;
    },
    fallback: absent(undefined),
  },
  tlsClientCert: {
    key: 'tls_client_cert', type: 'base64 PEM', default: '',
    description: 'The `tls_client_cert_file` certificate inline, as base64 of PEM. Set this or `tls_client_cert_file`, not both.',
    parse: (v, at, ctx) => {
      if (ctx.value('tlsClientCertFile') !== undefined) fail(at, 'set tls_client_cert or tls_client_cert_file, not both', { aboutKey: true });
      const pem = asBase64Pem(v, at);
      readCertificates({ pem }, at, ctx.readFile);
      return pem;
    },
    fallback: absent(undefined),
  },
  tlsClientKeyFile: {
    key: 'tls_client_key_file', type: 'path', default: '',
    description: 'PEM private key of `tls_client_cert_file` (or `tls_client_cert`); it must belong to that certificate.',
    parse: (v, at, ctx) => {
      const path = asString(v, at);
      readPrivateKey({ path }, at, ctx.readFile);
      return path;
    },
    fallback: absent(undefined),
  },
  tlsClientKey: {
    key: 'tls_client_key', type: 'base64 PEM', default: '',
    description: 'The `tls_client_key_file` key inline, as base64 of PEM. Set this or `tls_client_key_file`, not both.',
    parse: (v, at, ctx) => {
      if (ctx.value('tlsClientKeyFile') !== undefined) fail(at, 'set tls_client_key or tls_client_key_file, not both', { aboutKey: true });
      const pem = asBase64Pem(v, at);
      readPrivateKey({ pem }, at, ctx.readFile);
      return pem;
    },
    fallback: absent(undefined),
  },
  tlsServerName: {
    key: 'tls_server_name', type: 'string', default: '',
    description: 'SNI and certificate name to expect from the upstream. `tls_upstream_server_name` (Pomerium\'s newer name) is read as this key.',
    parse: (v, at) => asString(v, at), fallback: absent(undefined),
  },
  name: {
    key: 'name', type: 'string', default: 'the `from` URL',
    description: 'Shown in the dashboard, logs and error pages.',
    parse: (v, at) => asString(v, at),
    fallback: (_at, ctx) => ctx.value('from'),
  },
  description: {
    key: 'description', type: 'string', default: '',
    description: 'Shown in the dashboard.',
    parse: (v, at) => asString(v, at, { allowEmpty: true }), fallback: absent(''),
  },
  namespace: {
    key: 'namespace', type: 'string', default: '`global`',
    description: 'Limen: the namespace the route belongs to; must be listed in `namespaces`.',
    parse: (v, at, ctx) => asKnownNamespace(v, at, ctx.namespaces),
    fallback: absent(ROOT_NAMESPACE),
  },
};

const ROUTE_KEY_NAMES: readonly string[] = Object.values(ROUTE_KEYS).map((spec) => (spec as { key: string }).key);
const ROUTE_KEYS_BY_NAME: Readonly<Record<string, true>> = Object.fromEntries(ROUTE_KEY_NAMES.map((k) => [k, true]));

/** The route keys for the configuration reference, in table order. */
export function routeReference(): KeyReference[] {
  return referenceOf(ROUTE_KEYS);
}

/** Pomerium's newer name for `tls_server_name`. */
const SERVER_NAME_ALIAS = 'tls_upstream_server_name';

/**
 * Reads a `routes` list; `at` is `['routes']` (or `['policy']`, Pomerium's
 * older name). Every route is checked and every error thrown at once.
 */
export function asRoutes(value: unknown, at: ConfigPath, ctx: RouteContext): RouteConfig[] {
  if (!Array.isArray(value)) fail(at, `expected a list of routes, got ${describe(value)}`);
  const problems: ConfigError[] = [];
  const routes = value.map((item, index) => collect(problems, () => asRoute(item, index, [...at, index], ctx)));
  if (problems.length > 0) throw aggregate(problems);
  return routes as RouteConfig[];
}

function asRoute(item: unknown, index: number, routeAt: ConfigPath, ctx: RouteContext): RouteConfig {
  const raw = { ...asMapping(item, routeAt) };
  const problems: ConfigError[] = [];
  const tunnel = tunnelRoute(raw, routeAt);
  if (tunnel !== undefined) problems.push(tunnel);
  for (const key of Object.keys(raw)) {
    if (Object.hasOwn(ROUTE_KEYS_BY_NAME, key) || key === SERVER_NAME_ALIAS) continue;
    const rule = routeFate(key);
    if (rule === undefined) {
      problems.push(unknownKeyError(key, [...ROUTE_KEY_NAMES, SERVER_NAME_ALIAS], routeAt));
    } else if (rule.fate === 'ignored' || isHarmless(rule, raw[key])) {
      const path = [...routeAt, key];
      ctx.warn({ key: formatPath(path), path, message: ignoredMessage(rule, rule.fate === 'refused') });
    } else {
      collect(problems, () => fail([...routeAt, key], refusalMessage(rule), { aboutKey: true }));
    }
  }
  if (tunnel !== undefined) throw aggregate(problems);
  if (raw[SERVER_NAME_ALIAS] !== undefined) {
    if (raw.tls_server_name !== undefined) collect(problems, () => fail([...routeAt, SERVER_NAME_ALIAS], `set tls_server_name or ${SERVER_NAME_ALIAS}, not both`, { aboutKey: true }));
  }
  const fields = collect(problems, () => resolveTable(ROUTE_KEYS, ctx, (spec) => {
    if (spec.key === 'tls_server_name' && raw.tls_server_name === undefined && raw[SERVER_NAME_ALIAS] !== undefined) {
      return { value: raw[SERVER_NAME_ALIAS], at: [...routeAt, SERVER_NAME_ALIAS] };
    }
    const found = Object.hasOwn(ROUTE_KEYS_BY_NAME, spec.key) ? raw[spec.key] : undefined;
    return found === undefined ? undefined : { value: found, at: [...routeAt, spec.key] };
  }, routeAt));
  if (fields !== undefined) {
    collect(problems, () => checkClientCertificate(fields, routeAt, ctx.readFile));
    collect(problems, () => refuseIgnoredKeys({ ...raw, tls_server_name: raw.tls_server_name ?? raw[SERVER_NAME_ALIAS] }, fields, routeAt));
  }
  if (problems.length > 0 || fields === undefined) throw aggregate(problems);
  const from = splitFrom(fields.from, [...routeAt, 'from'], ctx.insecureServer);
  return { index, ...fields, fromScheme: from.scheme, fromHost: from.host, fromPort: from.port };
}

/**
 * `tcp+https://` and `udp+...` routes (Pomerium's TCP and UDP tunnels over
 * HTTP CONNECT) are refused by name: Limen does not tunnel TCP or UDP yet.
 */
function tunnelRoute(raw: Record<string, unknown>, at: ConfigPath): ConfigError | undefined {
  const from = raw.from;
  const scheme = typeof from === 'string' ? /^(tcp|udp)\+[a-z]+:\/\//i.exec(from)?.[1]?.toLowerCase() : undefined;
  if (scheme === undefined) return undefined;
  const named = typeof raw.name === 'string' ? ` "${raw.name}"` : '';
  return collectOne(() => fail([...at, 'from'], `route${named} is a ${scheme.toUpperCase()} tunnel (${scheme}+https://), a Pomerium feature Limen does not implement yet: Limen proxies HTTP and websockets only. Reach the service another way (a VPN, an SSH bastion) and remove this route`));
}

function collectOne(fn: () => never): ConfigError {
  const problems: ConfigError[] = [];
  collect(problems, fn);
  return problems[0]!;
}

/**
 * Keys that would be accepted and then have no effect because another key
 * overrides them are refused, naming both (every accepted setting does
 * something).
 */
function refuseIgnoredKeys(raw: Record<string, unknown>, f: RouteFields, at: ConfigPath): void {
  const matchers = (['regex', 'path', 'prefix'] as const).filter((k) => raw[k] !== undefined);
  if (matchers.length > 1) {
    fail([...at, matchers[1]!], `set only one of regex, path and prefix; ${matchers[0]} is set and would win, so ${matchers[1]} would be ignored`, { aboutKey: true });
  }
  // The upstream gets one Host, made by host_rewrite or preserve_host_header; HTTP/1.1 needs one.
  for (const name of Object.keys(f.setRequestHeaders)) {
    if (name.toLowerCase() === 'host') fail([...at, 'set_request_headers', name], 'the upstream\'s Host is set with host_rewrite (or kept with preserve_host_header), not here', { aboutKey: true });
  }
  if (f.removeRequestHeaders.includes('host')) fail([...at, 'remove_request_headers'], 'the upstream needs a Host; set it with host_rewrite or preserve_host_header', { aboutKey: true });
  if (f.preserveHostHeader && f.hostRewrite !== undefined) {
    fail([...at, 'host_rewrite'], 'set host_rewrite or preserve_host_header: true, not both; the upstream can receive only one Host', { aboutKey: true });
  }
  if (!f.to.some((u) => u.url.protocol === 'https:')) {
    for (const key of ['tls_skip_verify', 'tls_custom_ca_file', 'tls_custom_ca', 'tls_server_name', ...CLIENT_CERT_KEYS] as const) {
      if (raw[key] !== undefined && raw[key] !== false) {
        fail([...at, key], 'applies only to https upstreams, and every `to` of this route is http://', { aboutKey: true });
      }
    }
  }
}

const CLIENT_CERT_KEYS = ['tls_client_cert_file', 'tls_client_cert', 'tls_client_key_file', 'tls_client_key'] as const;

/**
 * The upstream client certificate: a certificate needs its key and a key its
 * certificate (each error names the missing key), and the key must belong to
 * the certificate.
 */
function checkClientCertificate(f: RouteFields, at: ConfigPath, readFile: ReadText): void {
  const cert = f.tlsClientCertFile !== undefined ? { src: { path: f.tlsClientCertFile }, key: 'tls_client_cert_file' }
    : f.tlsClientCert !== undefined ? { src: { pem: f.tlsClientCert }, key: 'tls_client_cert' } : undefined;
  const key = f.tlsClientKeyFile !== undefined ? { src: { path: f.tlsClientKeyFile }, key: 'tls_client_key_file' }
    : f.tlsClientKey !== undefined ? { src: { pem: f.tlsClientKey }, key: 'tls_client_key' } : undefined;
  if (cert === undefined && key === undefined) return;
  if (key === undefined) fail([...at, 'tls_client_key_file'], `required when ${cert!.key} is set: the private key of the client certificate (tls_client_key_file, or tls_client_key as base64 PEM)`);
  if (cert === undefined) fail([...at, 'tls_client_cert_file'], `required when ${key.key} is set: the client certificate the key belongs to (tls_client_cert_file, or tls_client_cert as base64 PEM)`);
  const leaf = readCertificates(cert.src, [...at, cert.key], readFile)[0]!;
  const pkey = readPrivateKey(key.src, [...at, key.key], readFile);
  if (!leaf.checkPrivateKey(pkey)) {
    const name = (s: { src: { path: string } | { pem: string }; key: string }): string => ('path' in s.src ? JSON.stringify(s.src.path) : s.key);
    fail([...at, key.key], `the key in ${name(key)} does not belong to the certificate in ${name(cert)}`);
  }
}

/** `https://*.Example.com:8443/` → `{https, *.example.com, 8443}`; IPv6 hosts keep their brackets. */
export function splitFrom(value: unknown, at: ConfigPath, insecureServer: boolean): { scheme: 'http' | 'https'; host: string; port: number | undefined } {
  const text = asString(value, at);
  const expected = 'expected a URL like "https://app.example.com"';
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(text);
  if (match === null) fail(at, `${expected}, got ${describe(text)}`);
  const scheme = (match[1] ?? '').toLowerCase();
  if (scheme !== 'https' && scheme !== 'http') fail(at, `${expected}, got scheme "${scheme}"`);
  if (scheme === 'http' && !insecureServer) fail(at, 'http:// routes need insecure_server: true; use https://');
  const rest = match[2] ?? '';
  const cut = rest.search(/[/?#]/);
  const authority = cut < 0 ? rest : rest.slice(0, cut);
  const tail = cut < 0 ? '' : rest.slice(cut);
  if (tail !== '' && tail !== '/') {
    fail(at, `expected no path, query or fragment, got ${describe(tail)}; match paths with prefix, path or regex`);
  }
  if (authority.includes('@')) fail(at, 'expected no user name or password in the URL');
  const hostPort = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(authority);
  if (hostPort === null || hostPort[1] === undefined || hostPort[1] === '') fail(at, `${expected}, got ${describe(text)}`);
  const port = hostPort[2] === undefined ? undefined : Number(hostPort[2]);
  if (port !== undefined && (port < 1 || port > 65535)) fail(at, `expected a port from 1 to 65535, got ${port}`);
  const wildcard = hostPort[1].startsWith('*.');
  const base = wildcard ? hostPort[1].slice(2) : hostPort[1];
  if (base.includes('*')) fail(at, `a wildcard must be the whole first label, like "*.example.com", got ${describe(text)}`);
  let hostname: string;
  try {
    hostname = new URL(`http://${base}`).hostname;
  } catch {
    fail(at, `expected a host name, got ${describe(hostPort[1])}`);
  }
  if (hostname === '') fail(at, `expected a host name, got ${describe(hostPort[1])}`);
  return { scheme, host: (wildcard ? '*.' : '') + hostname, port };
}

/** `to`: one URL or a list, each optionally `"url,weight"`. */
function asUpstreams(value: unknown, at: ConfigPath): Upstream[] {
  const items: { text: unknown; at: ConfigPath }[] = Array.isArray(value)
    ? value.map((text, i) => ({ text, at: [...at, i] }))
    : [{ text: value, at }];
  if (items.length === 0) fail(at, 'expected at least one upstream URL, got an empty list');
  return items.map(({ text, at: itemAt }) => {
    const raw = asString(text, itemAt);
    const weighted = /^(.*?),\s*([^,]*)$/s.exec(raw);
    let weight = 1;
    let urlText = raw;
    if (weighted !== null) {
      urlText = weighted[1] ?? '';
      const w = weighted[2] ?? '';
      weight = /^\d{1,10}$/.test(w) ? Number(w) : Number.NaN;
      if (!(weight >= 1 && weight <= 0xffffffff)) {
        fail(itemAt, `expected a weight from 1 to 4294967295 after the comma, got ${describe(w)}`);
      }
    }
    const url = asHttpUrl(urlText, itemAt, { allowHttp: true });
    return { url, weight };
  });
}

function asUrlPath(value: unknown, at: ConfigPath): string {
  const text = asString(value, at);
  if (!text.startsWith('/')) fail(at, `expected a path starting with "/", got ${describe(text)}`);
  return text;
}

/**
 * Anchored like Envoy's safe_regex (the whole path must match), on RE2 so
 * that no pattern can make a request's match time grow faster than its
 * length (see pattern.ts).
 */
function asAnchoredRegex(value: unknown, at: ConfigPath): PathPattern {
  const text = asString(value, at);
  try {
    return compilePathPattern(text);
  } catch (error) {
    const reason = error instanceof PatternError ? error.reason : undefined;
    fail(at, `expected a regular expression, got ${describe(text)}${reason === undefined ? '' : ` (${reason})`}`);
  }
}

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?';
const HOST_AND_PORT = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9A-Fa-f:.]+\\])(?::\\d{1,5})?$`);

function asHostRewrite(value: unknown, at: ConfigPath): string {
  const text = asString(value, at);
  if (!HOST_AND_PORT.test(text)) {
    fail(at, `expected a host name with an optional port, got ${describe(text)}`);
  }
  return text;
}

/** `allowed_idp_claims`: claim → list of accepted values; a single value is a list of one. */
function asClaimValues(value: unknown, at: ConfigPath): Record<string, unknown[]> {
  const map = asMapping(value, at);
  const out: Record<string, unknown[]> = {};
  for (const [claim, accepted] of Object.entries(map)) {
    const list = Array.isArray(accepted) ? accepted : [accepted];
    list.forEach((item, i) => {
      const ok = typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean';
      if (!ok) fail(Array.isArray(accepted) ? [...at, claim, i] : [...at, claim], `expected a string, number or boolean, got ${describe(item)}`);
    });
    out[claim] = [...list];
  }
  return out;
}

function asKnownNamespace(value: unknown, at: ConfigPath, namespaces: readonly NamespaceConfig[]): string {
  const name = asString(value, at);
  const known = namespaces.map((n) => n.name);
  if (!known.includes(name)) {
    const hint = nearestKey(name, known);
    fail(at, `unknown namespace "${name}"; add it to namespaces${hint === undefined ? '' : ` or use "${hint}"`}`);
  }
  return name;
}

/** A plain-data copy (lists, mappings, scalars), so freezing it never freezes the caller's objects. */
export function cloneData(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cloneData);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // defineProperty, so that a `__proto__` key stays data instead of setting the prototype.
      Object.defineProperty(out, k, { value: cloneData(v), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}
